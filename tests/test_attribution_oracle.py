"""Red-team round 4: the Markov model's state cap was an error oracle on one person.

``markov.build_chain`` refuses a chain of more than ``MAX_STATES`` states, and the attribution
route answers 422 ``query_failed``. The states were every window of ``order`` touches that some
path holds, one person's included, so two data sets that differ by one person (whose path holds
a window nobody else's does) answered 200 and 422: whether the model ran told whether that
person's window exists (``lookback_days`` moves the windows, so the analyst could search for the
lookback where the answer flips). Closed (docs/gate.md, *Existence oracles*): a window that
fewer than ``min_users_per_row`` people's paths hold is part of the one state (other), and the
cap counts only the states that stand on k people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from cleanroom.attribution import AttributionSpec, markov
from cleanroom.attribution.markov import MAX_STATES, chain_sql
from cleanroom.attribution.paths import path_params
from tests.canary import user_key
from tests.conftest import COLLAB, make_client

ORDER, LOOKBACK, VALUES, PEOPLE = 4, 30.0, 14, 4000
BASE = np.datetime64("2026-09-01T00:00:00")


def _tables(people: int, seed: int = 5) -> tuple[pa.Table, pa.Table]:
    """``people`` people, each with 5 touches on random campaigns within 20 days; every fifth
    converts on day 25. Person 0's last touch is the latest, whoever else is in, so the null
    paths' window does not move as people are added."""
    rng = np.random.default_rng(seed)
    who = np.repeat(np.arange(PEOPLE), 5)
    ts = BASE + rng.integers(0, 20 * 86400, who.size).astype("timedelta64[s]")
    ts[4] = BASE + np.timedelta64(21 * 86400, "s")
    campaign = np.char.add("c", rng.integers(0, VALUES, who.size).astype(str))
    keep = who < people
    impressions = pa.table({
        "user_key": [user_key(int(i)) for i in who[keep]],
        "ts": pa.array(ts[keep], pa.timestamp("s")), "channel": ["search"] * int(keep.sum()),
        "campaign": campaign[keep].tolist(), "cost": [1.0] * int(keep.sum()),
        "ip_hash": ["x"] * int(keep.sum())})
    buyers = np.arange(0, people, 5)
    conversions = pa.table({
        "user_key": [user_key(int(i)) for i in buyers],
        "ts": pa.array(np.full(buyers.size, BASE + np.timedelta64(25 * 86400, "s")),
                       pa.timestamp("s")),
        "revenue": [10.0] * buyers.size, "order_id": ["o"] * buyers.size})
    return impressions, conversions


def _state_set(people: int, min_people: int = 1) -> set[tuple[object, ...]]:
    """The chain's states on raw DuckDB, by the library's own SQL (``min_people`` 1: every
    window is a state, as before the fix)."""
    impressions, conversions = _tables(people)
    con = duckdb.connect()
    con.register("impressions", impressions)
    con.register("conversions", conversions)
    spec = AttributionSpec("markov", "impressions", "conversions", "campaign", LOOKBACK,
                           order=ORDER, min_people=min_people)
    rows = con.execute(chain_sql(spec), path_params(spec)).fetchall()
    return {tuple(r[2]) for r in rows if r[0] == 0}


def _states(people: int) -> int:
    return len(_state_set(people))


def _last_under_the_cap() -> int:
    """The most people whose chain has at most MAX_STATES states (states grow with people)."""
    low, high = 1, PEOPLE
    assert _states(low) <= MAX_STATES < _states(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _states(middle) <= MAX_STATES else (low, middle)
    return low


def _answer(root: Path, people: int) -> int:
    return _post(root, *_tables(people), order=ORDER).status_code


def _post(root: Path, impressions: pa.Table, conversions: pa.Table, *, order: int) -> Any:
    harness = make_client(root / "data")
    for name, table, party in (("impressions", impressions, "streamco"),
                               ("conversions", conversions, "acme")):
        pacsv.write_csv(table, root / f"{name}.csv")
        response = harness.upload(name, (root / f"{name}.csv").read_bytes(), party=party)
        assert response.status_code == 201, response.text
    with harness.client:
        response = harness.client.post(
            f"/v1/collaborations/{COLLAB}/attribution", headers=harness.auth("acme"),
            json={"model": "markov", "touchpoints": "impressions", "conversions": "conversions",
                  "lookback_days": LOOKBACK, "dimension": "campaign", "options": {"order": order}})
    assert "c1" not in response.text or response.status_code == 200  # no value in an error
    return response


def test_whether_markov_runs_does_not_depend_on_one_person(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    n = _last_under_the_cap()
    assert _states(n + 1) > MAX_STATES  # person n alone adds the state past the cap
    def answers(people: int) -> int:
        return _answer(tmp_path_factory.mktemp(f"markov{people}"), people)

    without, with_target = answers(n), answers(n + 1)
    assert without == 200  # the model runs on everyone else
    assert with_target == without, (without, with_target)


def test_one_persons_window_is_no_state_of_its_own() -> None:
    """Under the threshold the states are the same with and without the person whose window
    nobody else's path holds (here every window is rare: the one state is (other))."""
    n = _last_under_the_cap()
    assert _state_set(n + 1) != _state_set(n)  # every window a state: theirs is new
    assert _state_set(n + 1, 50) == _state_set(n, 50) == {()}


def _ordinary(target: bool) -> tuple[pa.Table, pa.Table]:
    """300 people on four campaigns (three touches each, every third converts); the target
    adds one touch on a campaign nobody else saw, and converts."""
    rng = np.random.default_rng(3)
    who = np.repeat(np.arange(300), 3)
    ts = BASE + rng.integers(0, 20 * 86400, who.size).astype("timedelta64[s]")
    campaign = np.char.add("c", rng.integers(0, 4, who.size).astype(str)).tolist()
    keys = [user_key(int(i)) for i in who]
    buyers = [user_key(int(i)) for i in range(0, 300, 3)]
    if target:
        keys, campaign = keys + [user_key(300)], campaign + ["only-theirs"]
        ts = np.append(ts, BASE + np.timedelta64(86400, "s"))
        buyers.append(user_key(300))
    impressions = pa.table({
        "user_key": keys, "ts": pa.array(ts, pa.timestamp("s")),
        "channel": ["search"] * len(keys), "campaign": campaign, "cost": [1.0] * len(keys),
        "ip_hash": ["x"] * len(keys)})
    conversions = pa.table({
        "user_key": buyers,
        "ts": pa.array(np.full(len(buyers), BASE + np.timedelta64(25 * 86400, "s")),
                       pa.timestamp("s")),
        "revenue": [10.0] * len(buyers), "order_id": ["o"] * len(buyers)})
    return impressions, conversions


def test_the_cap_counts_only_states_on_k_people(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the cap at the four campaigns that everyone shares, the target's own campaign
    (one more window, on one person) no longer fails the request: the same rows come back
    but for the numbers the target's path moves, and their campaign is not one of them."""
    monkeypatch.setattr(markov, "MAX_STATES", 4)
    bodies = []
    for target in (False, True):
        response = _post(tmp_path_factory.mktemp(f"ordinary{target}"), *_ordinary(target), order=1)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    without, with_target = ([r[0] for r in b["rows"]] for b in bodies)
    assert sorted(without) == sorted(with_target) == ["c0", "c1", "c2", "c3"]
    assert "only-theirs" not in str(bodies)
