"""Review round 3, the contract side: answers in every format for values the engine can
return, and no response or audit entry that echoes a data value the SQL did not contain."""

from __future__ import annotations

import pytest

from cleanroom import formats
from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness

HUGE = "SELECT CAST(COUNT(*) AS HUGEINT) * 100000000000000000000000 AS x FROM impressions"


@pytest.mark.parametrize("media", [formats.ARROW, formats.PARQUET, formats.CSV])
def test_a_whole_number_beyond_64_bits_is_answered_in_every_format(
        loaded: Harness, media: str) -> None:
    """pyarrow raised OverflowError on a HUGEINT beyond int64: the Arrow answer was a 500."""
    response = loaded.client.post(f"/v1/collaborations/{COLLAB}/queries", json={"sql": HUGE},
                                  headers={**loaded.auth("acme"), "Accept": media})
    assert response.status_code == 200, response.text
    if media == formats.CSV:  # the client reads CSV numbers as floats: check the text
        assert str(4753 * 10 ** 23) in response.text, response.text
        return
    back = formats.decode(response.content, media, dict(response.headers))
    assert [str(v) for v in back["rows"][0]] == [str(4753 * 10 ** 23)], back["rows"]


# Runtime errors whose DuckDB message would echo a data value (a cast of a campaign, of the
# 7-person channel, a comparison with a subquery's count), a refused query naming a column.
ECHOING = [
    "SELECT COUNT(*) AS n FROM impressions WHERE campaign = (SELECT COUNT(*) FROM impressions)",
    "SELECT COUNT(*) AS n FROM impressions WHERE channel = (SELECT COUNT(*) FROM conversions)",
    "WITH u AS (SELECT user_key, channel AS x FROM impressions) SELECT COUNT(*) AS n FROM u "
    "WHERE x",
    "SELECT COUNT(*) AS n FROM impressions WHERE campaign IS TRUE",
    "SELECT COUNT(*) AS n FROM impressions WHERE CAST(campaign AS INTEGER) > 0",
    "SELECT SKEWNESS(CASE WHEN campaign = channel THEN 1e120 ELSE 1 END) AS s FROM impressions",
]


@pytest.mark.parametrize("sql", ECHOING)
def test_errors_and_the_audit_echo_no_data_value(loaded: Harness, canary: CanaryData,
                                                 sql: str) -> None:
    for media in ("application/json", formats.CSV, formats.ARROW):
        response = loaded.client.post(f"/v1/collaborations/{COLLAB}/queries", json={"sql": sql},
                                      headers={**loaded.auth("acme"), "Accept": media})
        assert response.status_code in (200, 422), response.text
        assert canary.leaks(response.text, sql) == [], response.text
        assert "Error:" not in response.text and "convert" not in response.text.lower()
    audit = loaded.client.get(f"/v1/collaborations/{COLLAB}/audit",
                              headers=loaded.auth("reviewer"))
    assert audit.status_code == 200, audit.text
    for entry in audit.json()["entries"]:
        detail = entry.get("detail") or {}
        own = detail.get("sql", "") if isinstance(detail, dict) else ""
        assert canary.entry_leaks(entry, own) == [], entry
