"""Agreement with outside references on a seeded synthetic data set (4,000 people, 5 channels).

* Paths: the SQL paths equal those of an independent pure-Python builder (helpers.reference_paths).
* Heuristics: first/last/linear equal ChannelAttribution's heuristic_models to 1e-9 (relative);
  all six equal a pure-Python implementation of the rules to 1e-9.
* Markov: within 2% of ChannelAttribution's markov_model at 10 million simulations. Its result
  is one fold of 1e6 simulated journeys (~2e5 conversions here), so a channel's share has a
  relative standard error near 0.5%; 2% is about four of them. The truncation of simulated
  journeys at the longest observed path changes results far less than that.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import duckdb
import pandas as pd
import pytest

from cleanroom.attribution import AttributionResult, AttributionSpec, markov, run_attribution
from cleanroom.attribution.paths import path_ctes, path_params, path_sql
from cleanroom.attribution.spec import MIN_CREDIT_SHARE

from .helpers import RefPath, locked, reference_paths, synthetic

ChannelAttribution = pytest.importorskip("ChannelAttribution")

LOOKBACK_DAYS = 30.0
HALF_LIFE_DAYS = 7.0
HEURISTICS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "shapley")
Data = tuple[duckdb.DuckDBPyConnection, list[RefPath]]
SPEC = AttributionSpec("linear", "touches", "conversions", "channel", LOOKBACK_DAYS,
                       half_life_days=HALF_LIFE_DAYS)  # fmt: skip


@pytest.fixture(scope="module")
def data() -> Data:
    touches, conversions = synthetic(4000, seed=11)
    con = locked({"touches": touches, "conversions": conversions})
    return con, reference_paths(touches, conversions, LOOKBACK_DAYS)


def credit(model: str, path: RefPath) -> dict[str, float]:
    """The heuristic rules of docs/attribution.md for one path, in plain Python."""
    chans, n = path.channels, len(path.channels)
    if model == "first_touch":
        weights = [1.0] + [0.0] * (n - 1)
    elif model == "last_touch":
        weights = [0.0] * (n - 1) + [1.0]
    elif model == "linear":
        weights = [1.0 / n] * n
    elif model == "time_decay":
        weights = [0.5 ** (h / (24 * HALF_LIFE_DAYS)) for h in path.hours_before]
    elif model == "position_based":
        weights = [1.0] if n == 1 else [0.5, 0.5] if n == 2 else (
            [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4])  # fmt: skip
    else:  # shapley
        return {c: 1.0 / len(set(chans)) for c in set(chans)}
    shares: dict[str, float] = defaultdict(float)
    for c, w in zip(chans, weights):
        shares[c] += w / sum(weights)
    return shares


def reference_result(model: str, paths: list[RefPath]) -> dict[str, tuple[float, float, int]]:
    conv: dict[str, float] = defaultdict(float)
    value: dict[str, float] = defaultdict(float)
    users: Counter[str] = Counter()
    credited: set[str] = set()
    for path in (p for p in paths if p.converted):
        for c, share in credit(model, path).items():
            conv[c] += share
            value[c] += share * path.value
            users[c] += share >= MIN_CREDIT_SHARE  # only a share that matters counts a person
            if share > 0:
                credited.add(c)
    return {c: (conv[c], value[c], users[c]) for c in conv if c in credited}


def journeys(paths: list[RefPath]) -> pd.DataFrame:
    """Paths aggregated the way ChannelAttribution expects them."""
    df = pd.DataFrame({
        "path": [" > ".join(p.channels) for p in paths],
        "conv": [int(p.converted) for p in paths],
        "null": [int(not p.converted) for p in paths],
        "value": [p.value for p in paths],
    })  # fmt: skip
    return df.groupby("path", as_index=False).sum()


def as_dict(result: AttributionResult) -> dict[Any, tuple[float, float, int]]:
    return {r[0]: (r[1], r[2], u) for r, u in zip(result.rows, result.users)}


def test_sql_paths_equal_the_python_paths(data: Data) -> None:
    con, paths = data
    rows = con.execute(path_sql(SPEC), path_params(SPEC)).fetchall()
    assert [(u, tuple(p), c, v) for u, p, c, v in rows] == [
        (p.user, p.channels, p.converted, p.value) for p in paths
    ]
    assert sum(p.converted for p in paths) > 500 and sum(not p.converted for p in paths) > 500
    assert any(len(p.channels) != len(set(p.channels)) for p in paths)  # repeats are exercised


@pytest.mark.parametrize("model", HEURISTICS)
def test_heuristics_equal_the_python_rules(data: Data, model: str) -> None:
    con, paths = data
    got = as_dict(run_attribution(con, replace(SPEC, model=model)))
    want = reference_result(model, paths)
    assert sorted(got) == sorted(want)
    for c in want:
        assert got[c][:2] == pytest.approx(want[c][:2], rel=1e-9) and got[c][2] == want[c][2]


def test_heuristics_equal_channelattribution(data: Data) -> None:
    con, paths = data
    df = journeys([p for p in paths if p.converted])
    ref = ChannelAttribution.heuristic_models(df, "path", "conv", var_value="value", flg_pro=False)
    ref = ref.set_index("channel_name")
    for model, column in (("first_touch", "first"), ("last_touch", "last"), ("linear", "linear")):
        got = as_dict(run_attribution(con, replace(SPEC, model=model)))
        for c, (conv, value, _) in got.items():
            assert conv == pytest.approx(ref.loc[c, f"{column}_touch_conversions"], rel=1e-9)
            assert value == pytest.approx(ref.loc[c, f"{column}_touch_value"], rel=1e-9)
        assert (ref[f"{column}_touch_conversions"] > 0).sum() == len(got)


@pytest.mark.slow
@pytest.mark.parametrize("order", [1, 2])
def test_markov_within_two_percent_of_channelattribution(data: Data, order: int) -> None:
    con, paths = data
    spec = replace(SPEC, model="markov", order=order)
    got = as_dict(run_attribution(con, spec))
    ref = ChannelAttribution.markov_model(
        journeys(paths), "path", "conv", var_value="value", var_null="null", order=order,
        nsim_start=10_000_000, out_more=True, verbose=False, flg_pro=False,
    )  # fmt: skip
    result = ref["result"].set_index("channel_name")
    effects = ref["removal_effects"].set_index("channel_name")
    rows = con.execute(f"WITH {path_ctes(spec)},{markov.markov_sql(order)}",
                       path_params(spec)).fetchall()  # fmt: skip
    ours = dict(zip(got, zip(*markov.removal_effects(markov.build_chain(rows), list(got)))))
    assert sorted(got) == sorted(result.index)
    for c, (conv, value, _) in got.items():
        assert conv == pytest.approx(result.loc[c, "total_conversions"], rel=0.02)
        assert value == pytest.approx(result.loc[c, "total_conversion_value"], rel=0.02)
        assert ours[c][0] == pytest.approx(effects.loc[c, "removal_effects_conversion"], rel=0.02)
        assert ours[c][1] == pytest.approx(
            effects.loc[c, "removal_effects_conversion_value"], rel=0.02
        )
