"""POST /v1/collaborations/{c}/queries/check: the gate's decision and explanation, without
running anything."""

from __future__ import annotations

from tests.canary import CanaryData
from tests.conftest import Harness

LAST_TOUCH = """
WITH touches AS (
    SELECT i.channel, ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts DESC) AS rn
    FROM impressions i JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts)
SELECT channel, COUNT(*) AS conversions FROM touches WHERE rn = 1 GROUP BY channel
"""


def test_check_accepts_and_shows_the_rewritten_sql(loaded: Harness, canary: CanaryData) -> None:
    response = loaded.check(LAST_TOUCH)
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "accepted" and body["violations"] == []
    assert body["columns"] == ["channel", "conversions"]
    assert body["mode"] == "anonymizing"
    assert "__cr_n" in body["sql"] and "COUNT(DISTINCT" in body["sql"]
    assert canary.leaks(response.text) == []


def test_check_lists_every_violation_with_position_and_hint(loaded: Harness) -> None:
    sql = "SELECT user_key,\n       ANY_VALUE(revenue)\nFROM conversions WHERE order_id > 'x'"
    response = loaded.check(sql)
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "rejected"
    found = {(v["rule"], v["line"], v["col"]) for v in body["violations"]}
    # A function is located by its first argument (sqlglot keeps positions on names only).
    assert found == {("not_grouped", 1, 8), ("member_aggregate", 2, 18),
                     ("banned_column", 3, 24)}
    for v in body["violations"]:
        assert set(v) == {"rule", "message", "line", "col", "hint"}
        assert v["message"] and v["hint"]


def test_check_echoes_no_data(loaded: Harness, canary: CanaryData) -> None:
    sql = "SELECT campaign, COUNT(*) FROM impressions WHERE CAST(campaign AS INTEGER) > 0 GROUP BY 1"
    response = loaded.check(sql)
    assert response.status_code == 200 and response.json()["decision"] == "accepted"
    assert canary.leaks(response.text, sql) == []


def test_check_does_not_run_the_query(loaded: Harness) -> None:
    explode = ("SELECT COUNT(*) AS n FROM impressions a "
               + " ".join(f"JOIN impressions t{i} ON a.user_key = t{i}.user_key" for i in range(12)))
    response = loaded.check(explode)
    assert response.status_code == 200 and response.json()["decision"] == "accepted"


def test_check_is_for_analysts_only(loaded: Harness) -> None:
    response = loaded.check("SELECT 1 AS x", party="reviewer")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
