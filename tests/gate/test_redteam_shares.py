"""Red-team round 4: shares that sum to a whole number per person, released per group.

A person's shares of one conversion (``1.0 / COUNT(*) OVER (PARTITION BY user_key)``, linear or
time-decay attribution credit) add up to exactly 1 over all the groups they touch. So the sum of
a share over *every* group is a whole number (the people counted), and the sum over the
released groups is that whole number minus the withheld groups' credit: whatever the released
sum's fractional part is, it is the withheld credit's, modulo 1. The analyst needs no second
query and no total (a whole number is all it knows about it). With a group key that sends one
person's rows of one channel to a group of their own, the withheld credit is that person's
share of their rows on that channel: one person's value.

Each attack is decoded on raw DuckDB (the truth) and through the service; the decoder reads
only the released, exact cells. Open (docs/gate.md, *Shares that sum to a whole number*):
strict xfails until the release stops letting the fractional part through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from cleanroom.attribution import AttributionSpec, run_attribution
from tests.canary import CanaryData, make_canary_data, user_key
from tests.conftest import Harness, make_client
from tests.gate.test_review_attacks import ask

OPEN = ("leak (docs/gate.md: shares that sum to a whole number per person): the released groups' "
        "sum of a per-person share gives the withheld groups' credit modulo 1")
SHARE = "1.0 / COUNT(*) OVER (PARTITION BY {uk}) AS s"
# The 3-person campaign's summed share (3/7 + 2/4 + 3/5 on the canary data).
BY_CAMPAIGN = ("WITH t AS (SELECT campaign, " + SHARE.format(uk="user_key") + " FROM impressions) "
               "SELECT campaign, SUM(s) AS credit FROM t GROUP BY campaign")
# One person (the clamped revenue 1000, person 101) with their search rows in a group of
# their own: the withheld credit is the share of their impressions that were search.
ONE_PERSON = ("WITH t AS (SELECT CASE WHEN c.revenue > 900 AND i.channel = 'search' THEN 'T' "
              "ELSE i.channel END AS g, " + SHARE.format(uk="i.user_key") + " FROM impressions i "
              "JOIN conversions c ON i.user_key = c.user_key) SELECT g, SUM(s) AS credit "
              "FROM t GROUP BY g")
HIDDEN = {BY_CAMPAIGN: "SELECT SUM(s) FROM (SELECT campaign, " + SHARE.format(uk="user_key")
          + " FROM impressions) WHERE campaign = 'CANARYCAMP3'",
          ONE_PERSON: f"SELECT SUM(CASE WHEN channel = 'search' THEN 1.0 ELSE 0 END) / COUNT(*) "
          f"FROM impressions WHERE user_key = '{user_key(101)}'"}


def hidden_mod_one(rows: list[list[Any]], column: int) -> float:
    """What the released sum says about the withheld groups: minus its fractional part."""
    released = sum(r[column] for r in rows if isinstance(r[column], (int, float)))
    return (-released) % 1.0


def _same_mod_one(a: float, b: float) -> bool:
    d = (a - b) % 1.0
    return min(d, 1.0 - d) < 1e-6


def _exact_rows(body: dict[str, Any]) -> list[list[Any]]:
    flagged = {tuple(c) for c in body["withheld_cells"]}
    return [[None if (i, j) in flagged else v for j, v in enumerate(row)]
            for i, row in enumerate(body["rows"])]


@pytest.mark.xfail(strict=True, reason=OPEN)
@pytest.mark.parametrize("sql", [BY_CAMPAIGN, ONE_PERSON], ids=["small_campaign", "one_person"])
def test_a_sum_of_shares_over_released_groups_does_not_give_the_withheld_credit(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = raw.execute(HIDDEN[sql]).fetchone()[0]  # type: ignore[index]
    assert 0.05 < truth % 1.0 < 0.95  # a fractional part worth reading
    # On raw DuckDB every group is there: the shares add up to a whole number.
    assert _same_mod_one(hidden_mod_one([list(r) for r in raw.execute(sql).fetchall()], 1), 0.0)
    body = ask(loaded, canary, sql)
    assert body["rows"], body
    assert not _same_mod_one(hidden_mod_one(_exact_rows(body), 1), truth), body


# -- the attribution route: every converter hands out exactly one conversion -----------------
def _converting_campaign(canary: CanaryData) -> CanaryData:
    """The canary data, where the three people of the 3-person campaign also converted (after
    all their touches): natural data, nothing padded."""
    extra = pa.table({
        "user_key": [user_key(i) for i in (5, 6, 7)],
        "ts": pa.array(np.array(["2026-09-30T12:00:00"] * 3, dtype="datetime64[s]"),
                       pa.timestamp("s")),
        "revenue": [123.45, 234.56, 345.67],
        "order_id": [f"CANARYORDER9{i:05d}" for i in range(3)]})
    conversions = pa.concat_tables([canary.conversions, extra])
    return CanaryData(canary.impressions, conversions, canary.keys)


@pytest.fixture(scope="module")
def converting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, CanaryData]]:
    data = _converting_campaign(make_canary_data())
    root = tmp_path_factory.mktemp("converting")
    files = data.write(root / "files")
    harness = make_client(root / "data")
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        response = harness.upload(name, files[name].read_bytes(), party=party)
        assert response.status_code == 201, response.text
    with harness.client:
        yield harness, data


def _truth(data: CanaryData, model: str) -> float:
    """The 3-person campaign's credit, by the attribution library on raw DuckDB."""
    con = duckdb.connect()
    con.register("touches", data.impressions)
    con.register("conv", data.conversions)
    result = run_attribution(con, AttributionSpec(model, "touches", "conv", "campaign", 30.0))
    return dict((r[0], r[1]) for r in result.rows)["CANARYCAMP3"]


@pytest.mark.xfail(strict=True, reason=OPEN)
@pytest.mark.parametrize("model", ["linear", "time_decay", "position_based"])
def test_attributed_conversions_over_released_rows_do_not_give_a_withheld_row(
        converting: tuple[Harness, CanaryData], model: str) -> None:
    harness, data = converting
    truth = _truth(data, model)
    assert 0.05 < truth % 1.0 < 0.95
    body_in = {"model": model, "touchpoints": "impressions", "conversions": "conversions",
               "lookback_days": 30, "dimension": "campaign"}
    response = harness.client.post("/v1/collaborations/acme-streamco/attribution", json=body_in,
                                   headers=harness.auth("acme"))
    assert response.status_code == 200, response.text
    assert not data.leaks(response.text)
    body = response.json()
    assert "CANARYCAMP3" not in [r[0] for r in body["rows"]]  # the row itself is withheld
    assert not _same_mod_one(hidden_mod_one(_exact_rows(body), 1), truth), body


def test_the_decoders_read_the_truth_on_raw_duckdb(converting: tuple[Harness, CanaryData]) -> None:
    """Without the withheld row the library's conversions add up to N minus its credit."""
    _, data = converting
    con = duckdb.connect()
    con.register("touches", data.impressions)
    con.register("conv", data.conversions)
    rows = run_attribution(con, AttributionSpec("linear", "touches", "conv", "campaign", 30.0)).rows
    kept = [[r[0], r[1]] for r in rows if r[0] != "CANARYCAMP3"]
    assert _same_mod_one(hidden_mod_one(kept, 1), _truth(data, "linear"))


def test_markov_credit_over_released_rows_does_not_give_a_withheld_row(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Markov credits exactly one conversion per converter too, and credits values seen on
    non-converting paths: without a threshold the 3-person campaign (no converter) gets a
    fraction of a conversion, which the released rows gave modulo 1. Under the threshold its
    windows stand on 3 people, so they are the state (other), which holds no value: it has no
    credit to give (docs/attribution.md), and the released rows add up to every conversion."""
    spec = AttributionSpec("markov", "impressions", "conversions", "campaign", 30.0)
    truth = dict((r[0], r[1]) for r in run_attribution(raw, spec).rows)["CANARYCAMP3"]
    assert 0.05 < truth % 1.0 < 0.95
    response = loaded.client.post(
        "/v1/collaborations/acme-streamco/attribution", headers=loaded.auth("acme"),
        json={"model": "markov", "touchpoints": "impressions", "conversions": "conversions",
              "lookback_days": 30, "dimension": "campaign"})
    assert response.status_code == 200 and not canary.leaks(response.text), response.text
    body = response.json()
    assert "CANARYCAMP3" not in [r[0] for r in body["rows"]]
    assert not _same_mod_one(hidden_mod_one(_exact_rows(body), 1), truth), body


def _middling_campaign(canary: CanaryData) -> CanaryData:
    """The canary data where 80 people's first impression is of one more campaign: its window
    stands on 80 people, but fewer than 50 of them are credited converters."""
    keys, seen = {user_key(i) for i in range(200, 280)}, set()
    campaign = canary.impressions["campaign"].to_pylist()
    for i, key in enumerate(canary.impressions["user_key"].to_pylist()):
        if key in keys and key not in seen:
            campaign[i], seen = "MIDCAMP", seen | {key}
    at = canary.impressions.schema.get_field_index("campaign")
    return CanaryData(canary.impressions.set_column(at, "campaign", pa.array(campaign)),
                      canary.conversions, canary.keys)


@pytest.mark.xfail(strict=True, reason=OPEN)
def test_markov_credit_of_a_withheld_row_on_k_people_is_not_given(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The rare-window merge does not close the family: a value whose windows stand on k
    people is a state and is credited; its row is withheld for too few credited converters
    (22 of 50), and the released rows still give its credit modulo 1."""
    data = _middling_campaign(make_canary_data())
    con = duckdb.connect()
    con.register("touches", data.impressions)
    con.register("conv", data.conversions)
    spec = AttributionSpec("markov", "touches", "conv", "campaign", 30.0, min_people=50)
    result = run_attribution(con, spec)
    truth = dict((r[0], r[1]) for r in result.rows)["MIDCAMP"]
    assert 0.05 < truth % 1.0 < 0.95
    assert dict(zip((r[0] for r in result.rows), result.users))["MIDCAMP"] < 50
    root = tmp_path_factory.mktemp("middling")
    files = data.write(root / "files")
    harness = make_client(root / "data")
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        assert harness.upload(name, files[name].read_bytes(), party=party).status_code == 201
    with harness.client:
        response = harness.client.post(
            "/v1/collaborations/acme-streamco/attribution", headers=harness.auth("acme"),
            json={"model": "markov", "touchpoints": "impressions", "conversions": "conversions",
                  "lookback_days": 30, "dimension": "campaign"})
    assert response.status_code == 200 and not data.leaks(response.text), response.text
    body = response.json()
    assert "MIDCAMP" not in [r[0] for r in body["rows"]]
    assert not _same_mod_one(hidden_mod_one(_exact_rows(body), 1), truth), body
