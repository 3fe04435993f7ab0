"""The row cap was an existence oracle on one person.

An exact step's result was fetched up to ``max_rows`` rows *before* the threshold, and past it
the request failed with 422 ``too_many_rows``. A group of one person is a row of that result
(withheld later, but counted by the cap), so two requests, or two data sets, that differ only
by one person's group answered 200 and 422 with the same released rows: whether the answer
failed told whether that person's group exists. Now the cap counts only the rows a release
could let out (on ``min_users_per_row`` people, or every row of a step without a people count);
the rest are reduced to what the release reads as they stream (``release.gather``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest

from cleanroom.engine import Limits
from cleanroom.release import gather
from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness, make_client
from tests.test_attribution_oracle import _ordinary
from tests.test_dp_pipeline import loaded_with

POLICIES = Path(__file__).parent / "fixtures" / "policies"
# One group per channel, and one of its own for whoever has a clamped revenue over the bound
# (only person 101 has one over 900): their group stands on one person and is withheld.
BY_TARGET = ("SELECT CASE WHEN c.revenue > {bound} THEN 'T' ELSE i.channel END AS g, "
             "COUNT(DISTINCT i.user_key) AS people FROM impressions i JOIN conversions c "
             "ON i.user_key = c.user_key GROUP BY g")


def _released(h: Harness, sql: str) -> tuple[int, list[list[Any]]]:
    response = h.query(sql)
    return response.status_code, response.json().get("rows", [])


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> Harness:
    """The canary data under a row cap of the five channels' rows and the withheld one's
    (7 people; counted by the old cap): the target's group is the one row more."""
    return loaded_with(tmp_path_factory.mktemp("capped"), canary, POLICIES,
                       limits=Limits(max_rows=6))


def test_whether_a_query_fails_does_not_tell_one_persons_group(capped: Harness) -> None:
    with capped.client:
        nobody = _released(capped, BY_TARGET.format(bound=5000))
        target = _released(capped, BY_TARGET.format(bound=900))
    assert nobody[0] == 200 and len(nobody[1]) == 5  # five channels; the 7-person one withheld
    assert target[0] == 200 and sorted(r[0] for r in target[1]) == sorted(r[0] for r in nobody[1])


def test_the_cap_still_counts_the_released_rows(tmp_path: Path, canary: CanaryData) -> None:
    """At a cap of four, under the five channels' released rows, the query fails."""
    small = loaded_with(tmp_path, canary, POLICIES, limits=Limits(max_rows=4))
    with small.client:
        response = small.query(BY_TARGET.format(bound=5000))
    assert response.status_code == 422
    assert response.json()["error"]["violations"][0]["rule"] == "too_many_rows"


def _attribute(root: Path, target: bool, **body: Any) -> Any:
    harness = make_client(root / "data", limits=Limits(max_rows=4))
    impressions, conversions = _ordinary(target)
    for name, table, party in (("impressions", impressions, "streamco"),
                               ("conversions", conversions, "acme")):
        pacsv.write_csv(table, root / f"{name}.csv")
        assert harness.upload(name, (root / f"{name}.csv").read_bytes(),
                              party=party).status_code == 201
    with harness.client:
        return harness.client.post(
            f"/v1/collaborations/{COLLAB}/attribution", headers=harness.auth("acme"),
            json={"touchpoints": "impressions", "conversions": "conversions",
                  "lookback_days": 30, "dimension": "campaign", **body})


@pytest.mark.parametrize("model", ["linear", "shapley"])
def test_whether_attribution_fails_does_not_tell_one_persons_value(
        tmp_path_factory: pytest.TempPathFactory, model: str) -> None:
    """Four campaigns everyone shares, at a cap of four rows; the target converts after a
    touch on a campaign of their own (its row: one person, withheld)."""
    answers = [_attribute(tmp_path_factory.mktemp(f"{model}{t}"), t, model=model)
               for t in (False, True)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert [len(a.json()["rows"]) for a in answers] == [4, 4]
    assert "only-theirs" not in answers[1].text


def test_gather_keeps_what_the_release_reads() -> None:
    """Rows under the threshold are counted as suppressed_rows counts them (on half of k or
    more) and dropped; the cap counts only the rest; the first row carrying the answer's
    patterns is kept whatever its people."""
    rows = [("a", 60), ("b", 30), ("c", 3), ("d", 51)]
    out = gather(("c", "__cr_n"), iter(rows), counted=True, min_users=50, max_rows=2)
    assert out.result.rows == [("a", 60), ("d", 51)] and (out.withheld, out.dropped) == (1, 2)
    with pytest.raises(Exception, match="query failed"):
        gather(("c", "__cr_n"), iter(rows), counted=True, min_users=50, max_rows=1)
    assert gather(("c",), iter([("a",), ("b",)]), counted=False, min_users=50,
                  max_rows=2).result.rows == [("a",), ("b",)]
    carried = [("a", {"s": None}, 60), ("b", {"s": [1]}, 3), ("c", {"s": [2]}, 2)]
    out = gather(("c", "__cr_o", "__cr_n"), iter(carried), counted=True, min_users=50,
                 max_rows=1)
    assert out.result.rows == carried[:2] and out.dropped == 2 and out.withheld == 0
