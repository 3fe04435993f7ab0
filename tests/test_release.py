"""What the release says about withheld rows: counted only from half the threshold up, so the
count never tells whether a handful of people match a condition (the reviewer's oracle:
GROUP BY a constant with a WHERE clause, 0 vs 1 withheld row)."""

from __future__ import annotations

from tests.canary import user_key
from tests.conftest import Harness

HEADER = "user_key,ts,channel,campaign,cost,ip_hash\n"


def impressions(groups: dict[str, int]) -> bytes:
    """One impression per person; ``groups`` maps a campaign to how many people saw it."""
    lines, person = [], 0
    for campaign, people in groups.items():
        for _ in range(people):
            lines.append(f"{user_key(person)},2026-09-01 10:00:00,search,{campaign},1.0,x")
            person += 1
    return (HEADER + "\n".join(lines) + "\n").encode()


def load(h: Harness, groups: dict[str, int]) -> None:
    assert h.upload("impressions", impressions(groups), party="streamco").status_code == 201


def test_rows_below_half_the_threshold_are_withheld_uncounted(fresh: Harness) -> None:
    load(fresh, {"big": 60, "mid": 30, "tiny": 3})
    body = fresh.query("SELECT campaign, COUNT(DISTINCT user_key) AS people "
                       "FROM impressions GROUP BY campaign").json()
    assert body["rows"] == [["big", 60]]
    assert body["suppressed_rows"] == 1  # "mid" (30 >= 25) is counted, "tiny" (3) is not


def test_whether_a_few_people_match_a_condition_is_not_told(fresh: Harness) -> None:
    load(fresh, {"big": 60, "RARE": 3})
    probe = ("SELECT 1 AS k, COUNT(*) AS n FROM impressions WHERE campaign LIKE '{}%' GROUP BY k")
    matches, none = (fresh.query(probe.format(p)).json() for p in ("R", "Z"))
    for body in (matches, none):
        body.pop("query_id")
    assert matches == none == {"columns": ["k", "n"], "rows": [], "suppressed_rows": 0,
                               "epsilon_spent": 0.0, "row_status": [],
                               "withheld_cells": [], "confidence_intervals": None}


def test_a_group_of_at_least_half_the_threshold_is_counted(fresh: Harness) -> None:
    load(fresh, {"big": 60, "mid": 30})
    probe = "SELECT 1 AS k, COUNT(*) AS n FROM impressions WHERE campaign = 'mid' GROUP BY k"
    assert fresh.query(probe).json()["suppressed_rows"] == 1
