"""Attacks on what issue 8's outside SQL made the gate accept, over the published corpus's data
(tests/published_data.py: campaign ``stv_pilot`` has 3 people, k = 50). Each new acceptance is
asked to decode the small campaign; the answer must not, and must release no more than the
construct it is equivalent to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gate.test_published import ANALYST, Published, published  # noqa: F401 (fixture)
from tests.published_data import COLLAB

SMALL = "stv_pilot"


def _ask(published: Published, sql: str) -> Any:  # noqa: F811
    return published.harness.query(sql, party=ANALYST, collab=COLLAB)


def _released(body: dict[str, Any]) -> list[list[Any]]:
    withheld = {(int(r), int(c)) for r, c in body.get("withheld_cells") or []}
    return [[None if (r, c) in withheld else v for c, v in enumerate(row)]
            for r, row in enumerate(body["rows"])]


def test_a_per_user_sum_of_a_0_1_metric_buckets_as_its_count_does(published: Published) -> None:  # noqa: F811
    """SUM(impressions) per person (impressions: INTEGER in [0, 1]) is now a count, so it may be
    a frequency bucket (AMC's frequency): it must release exactly what COUNT(*) FILTER (WHERE
    impressions = 1) releases, the small campaign's 3 people in no bucket of their own."""
    inner = {"sum": "SUM(impressions) FILTER (WHERE campaign = '{c}')",
             "count": "COUNT(*) FILTER (WHERE campaign = '{c}' AND impressions = 1)"}
    answers = {}
    for name, per_user in inner.items():
        sql = (f"SELECT f, COUNT(DISTINCT user_key) AS n FROM (SELECT user_key, "
               f"{per_user.format(c=SMALL)} AS f FROM impressions GROUP BY user_key) GROUP BY f")
        response = _ask(published, sql)
        assert response.status_code == 200, response.text
        # Without a row of the campaign a person's SUM is NULL where the count is 0.
        answers[name] = sorted(str([0 if f is None else f, n]) for f, n in _released(response.json()))
    truth = published.raw_rows(f"SELECT COUNT(DISTINCT user_key) FROM impressions WHERE campaign = '{SMALL}'")
    assert answers["sum"] == answers["count"]
    assert all(str(row).find(f", {truth[0][0]}]") < 0 for row in answers["sum"]), answers
    only = (f"SELECT f, COUNT(DISTINCT user_key) AS n FROM (SELECT user_key, SUM(impressions) AS f "
            f"FROM impressions WHERE campaign = '{SMALL}' GROUP BY user_key) GROUP BY f")
    response = _ask(published, only)
    assert response.status_code == 200, response.text
    assert all(n is None for _, n in _released(response.json()))


@pytest.mark.parametrize("metric", ["units", "revenue"])
def test_a_per_user_sum_of_a_wider_metric_stays_no_group_key(published: Published,  # noqa: F811
                                                             metric: str) -> None:
    """units (INTEGER in [0, 10]) and revenue (DOUBLE) summed per person are totals, not counts:
    a bucket of each total would output one person's revenue."""
    sql = (f"SELECT f, COUNT(DISTINCT user_key) AS n FROM (SELECT user_key, SUM({metric}) AS f "
           "FROM conversions GROUP BY user_key) GROUP BY f")
    response = _ask(published, sql)
    assert response.status_code == 422, response.text
    rules = {v["rule"] for v in response.json()["error"]["violations"]}
    assert "metric_group_key" in rules


def test_a_rounded_metric_key_names_the_bucket_rewrite(published: Published) -> None:  # noqa: F811
    response = _ask(published, "SELECT ROUND(cost, 0) AS c, COUNT(*) AS n FROM impressions GROUP BY 1")
    assert response.status_code == 422, response.text
    [violation] = [v for v in response.json()["error"]["violations"] if v["rule"] == "metric_group_key"]
    assert "CASE" in violation["hint"]


def test_a_labelled_constant_lookup_releases_no_small_campaign(published: Published) -> None:  # noqa: F811
    """A campaign list tagged with literal labels (SELECT c, 'pilot' FROM list) is a lookup like
    VALUES: the small campaign's label stands on its 3 people and is suppressed."""
    sql = (f"WITH v(c) AS (VALUES ('{SMALL}')), l AS (SELECT c, 'pilot' AS tag FROM v) "
           "SELECT l.tag, COUNT(DISTINCT i.user_key) AS n, COUNT(*) AS rows_seen "
           "FROM impressions i JOIN l ON i.campaign = l.c GROUP BY 1")
    response = _ask(published, sql)
    assert response.status_code == 200, response.text
    assert all(n is None for _, n, _ in _released(response.json()))


def test_a_labelled_lookup_with_a_repeated_key_is_refused(published: Published) -> None:  # noqa: F811
    """Two labels for one campaign would make each of its rows meet two entries (counted twice
    in raw DuckDB, once by the gate's CASE): the keys must differ, as for VALUES."""
    sql = ("WITH v(c) AS (VALUES ('sb_video')), l AS (SELECT c, 'a' AS tag FROM v UNION ALL "
           "SELECT c, 'b' AS tag FROM v) SELECT l.tag, COUNT(DISTINCT i.user_key) AS n "
           "FROM impressions i JOIN l ON i.campaign = l.c GROUP BY 1")
    response = _ask(published, sql)
    assert response.status_code == 422, response.text
    assert "mixed_join" in {v["rule"] for v in response.json()["error"]["violations"]}


def test_an_or_of_user_key_matches_joins_as_one_equality(published: Published) -> None:  # noqa: F811
    """Snowflake's waterfall template joins ON (email match OR phone match): every arm equates
    the same two user_keys, so it is a user_key join. Its answer equals the plain equality's,
    and the small campaign's 3 people stay suppressed."""
    def overlap(on: str) -> list[list[Any]]:
        sql = (f"SELECT i.campaign, COUNT(DISTINCT c.user_key) AS n FROM impressions i JOIN conversions c "
               f"ON {on} GROUP BY 1")
        response = _ask(published, sql)
        assert response.status_code == 200, response.text
        return sorted(map(str, _released(response.json())))
    plain = overlap("c.user_key = i.user_key")
    assert overlap("(c.user_key = i.user_key OR i.user_key = c.user_key)") == plain
    assert overlap("(c.user_key = i.user_key AND c.event_type = 'purchase') OR "
                   "(c.user_key = i.user_key AND c.event_type <> 'purchase')") == plain
    assert not any(SMALL in row and "None" not in row for row in plain), plain


@pytest.mark.parametrize("on", [
    "c.user_key = i.user_key OR c.product_category = i.campaign",   # one arm joins any two people
    "c.user_key = i.user_key OR c.user_key <> i.user_key",
    "(c.user_key = i.user_key OR TRUE)",
])
def test_an_or_with_an_arm_off_user_key_stays_refused(published: Published, on: str) -> None:  # noqa: F811
    sql = (f"SELECT i.campaign, COUNT(DISTINCT c.user_key) AS n FROM impressions i JOIN conversions c "
           f"ON {on} GROUP BY 1")
    response = _ask(published, sql)
    assert response.status_code == 422, response.text
    assert "join_not_on_user_key" in {v["rule"] for v in response.json()["error"]["violations"]}


def test_an_or_linking_different_pairs_in_each_arm_is_refused(published: Published) -> None:  # noqa: F811
    """``s.user_key = i.user_key OR s.user_key = c.user_key`` ties s to one of two sources but not
    both: the third source is not linked, so the join is refused."""
    sql = ("SELECT s.region, COUNT(DISTINCT s.user_key) AS n FROM segments s, impressions i, conversions c "
           "WHERE (s.user_key = i.user_key OR s.user_key = c.user_key) GROUP BY 1")
    response = _ask(published, sql)
    assert response.status_code == 422, response.text
    assert "join_not_on_user_key" in {v["rule"] for v in response.json()["error"]["violations"]}
