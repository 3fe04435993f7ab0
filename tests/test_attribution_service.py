"""Attribution through HTTP: every model answers inside the privacy path, rows stand on enough
people, refusals never echo data, DP noises and charges once, and the CLI client works."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pytest

from cleanroom.attribution import MODELS, AttributionResult, AttributionSpec, run_attribution
from cleanroom.attribution_service import AttributionRequest, compute, plan_request
from cleanroom.release import count_withheld
from tests.canary import RARE_CAMPAIGN, SMALL_CHANNEL, CanaryData, make_canary_data
from tests.conftest import COLLAB, Harness
from tests.test_analytics import reference, server  # noqa: F401 (a fixture)
from tests.test_api_access import assert_error
from tests.test_cli import run_cli
from tests.test_dp_pipeline import REQUIRED, loaded_with

MIN = 50
LOW_THRESHOLD = Path(__file__).parent / "fixtures" / "policies-low-threshold"
HEURISTICS = [m for m in MODELS if m != "markov"]
WINDOW = ("WITH fc AS (SELECT user_key, MIN(ts) AS cts, arg_min(revenue, ts) AS value "
          "FROM conversions GROUP BY user_key), w AS (SELECT i.user_key, i.channel, fc.value "
          "FROM impressions i JOIN fc USING (user_key) WHERE i.ts < fc.cts "
          "AND i.ts >= fc.cts - INTERVAL 30 DAY) ")


def attribute(h: Harness, party: str = "acme", **overrides: Any) -> Any:
    body = {"model": "linear", "touchpoints": "impressions", "conversions": "conversions",
            "lookback_days": 30, "dimension": "channel", **overrides}
    return h.client.post(f"/v1/collaborations/{COLLAB}/attribution", json=body,
                         headers=h.auth(party))


def ok(response: Any, canary: CanaryData) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert canary.leaks(response.text) == []
    body: dict[str, Any] = response.json()
    assert body["columns"][1:] == ["conversions", "revenue"]
    return body


def expected(con: duckdb.DuckDBPyConnection, model: str, dimension: str = "channel", *,
             min_people: int = MIN, order: int = 1) -> AttributionResult:
    """The library's answer; Markov's windows on fewer than ``min_people`` people are (other),
    as the clean room runs it under a threshold of ``min_people``."""
    return run_attribution(con, AttributionSpec(model, "impressions", "conversions", dimension,
                                                30.0, order=order, min_people=min_people))


@pytest.fixture(scope="module")
def ref(canary: CanaryData) -> duckdb.DuckDBPyConnection:
    return reference(canary)


@pytest.mark.parametrize("model", MODELS)
def test_each_model_answers_like_the_library(loaded: Harness, canary: CanaryData,
                                             ref: duckdb.DuckDBPyConnection, model: str) -> None:
    body = ok(attribute(loaded, model=model), canary)
    truth = expected(ref, model)
    kept = {r[0]: (pytest.approx(r[1]), pytest.approx(r[2]))
            for r, users in zip(truth.rows, truth.users) if users >= MIN}
    assert {r[0]: (r[1], r[2]) for r in body["rows"]} == kept and len(kept) >= 4
    assert body["suppressed_rows"] == count_withheld(truth.users, MIN)
    assert SMALL_CHANNEL not in json.dumps(body) and set(body["row_status"]) == {"exact"}
    assert [r[1] for r in body["rows"]] == sorted((r[1] for r in body["rows"]), reverse=True)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> tuple[Harness,
                                                                                   CanaryData]:
    """The canary data without the thin channel, and a threshold of 20 people: every channel
    stands on enough people."""
    imp = canary.impressions
    data = replace(canary, impressions=imp.filter(pc.not_equal(imp["channel"], SMALL_CHANNEL)))
    return loaded_with(tmp_path_factory.mktemp("plain"), data, LOW_THRESHOLD), data


@pytest.mark.parametrize("model", HEURISTICS)
def test_rows_sum_to_converting_people_with_a_path(plain: tuple[Harness, CanaryData],
                                                   model: str) -> None:
    harness, data = plain
    body = ok(attribute(harness, model=model), data)
    people, revenue = reference(data).execute(
        f"{WINDOW} SELECT COUNT(*), SUM(value) FROM (SELECT DISTINCT user_key, value FROM w)"
    ).fetchone()  # type: ignore[misc]
    assert body["suppressed_rows"] == 0
    assert sum(r[1] for r in body["rows"]) == pytest.approx(people)
    assert sum(r[2] for r in body["rows"]) == pytest.approx(revenue)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_on_ordinary_data_is_the_unmerged_model(plain: tuple[Harness, CanaryData],
                                                       order: int) -> None:
    """Where every window of touches stands on the threshold's people (the plain data, k = 20,
    by channel), merging the rare windows changes nothing: the answer is ChannelAttribution's
    model as the library solves it without a threshold, and every row is released."""
    harness, data = plain
    body = ok(attribute(harness, model="markov", options={"order": order}), data)
    truth = expected(reference(data), "markov", min_people=1, order=order)
    assert {r[0]: (r[1], r[2]) for r in body["rows"]} == {
        r[0]: (pytest.approx(r[1]), pytest.approx(r[2])) for r in truth.rows}
    assert len(body["rows"]) >= 4 and body["suppressed_rows"] == 0
    merged = expected(reference(data), "markov", min_people=20, order=order)
    assert [r[0] for r in merged.rows] == [r[0] for r in truth.rows]
    assert [r[1:] for r in merged.rows] == [pytest.approx(r[1:]) for r in truth.rows]


def test_small_campaign_is_suppressed(loaded: Harness, canary: CanaryData) -> None:
    response = attribute(loaded, model="last_touch", dimension="campaign")
    body = ok(response, canary)
    assert RARE_CAMPAIGN not in response.text and body["suppressed_rows"] >= 1
    assert canary.leaks(response.text, "") == []


@pytest.mark.parametrize(("overrides", "code", "rule"), [
    ({"model": "magic"}, "query_rejected", "unknown_model"),
    ({"touchpoints": "visits"}, "query_rejected", "unknown_dataset"),
    ({"conversions": "nope"}, "query_rejected", "unknown_dataset"),
    ({"dimension": "nope"}, "query_rejected", "unknown_column"),
    ({"dimension": "ip_hash"}, "query_rejected", "banned_column"),
    ({"dimension": "user_key"}, "query_rejected", "dimension_not_allowed"),
    ({"dimension": "cost"}, "query_rejected", "dimension_not_allowed"),
    ({"dimension": "ts"}, "query_rejected", "dimension_not_allowed"),
    ({"revenue": "order_id"}, "query_rejected", "banned_column"),
    ({"revenue": "ts"}, "query_rejected", "not_a_metric"),
    ({"lookback_days": 0}, "query_rejected", "bad_lookback"),
    ({"lookback_days": 1e6}, "query_rejected", "bad_lookback"),
    ({"epsilon": 5.0}, "query_rejected", "epsilon_not_allowed"),
    ({"options": {"order": 9}}, "invalid_request", "invalid_field"),
    ({"sql": "SELECT 1"}, "invalid_request", "invalid_field"),
])
def test_refusals(loaded: Harness, canary: CanaryData, overrides: dict[str, Any], code: str,
                  rule: str) -> None:
    response = attribute(loaded, **overrides)
    body = assert_error(response, 422, code)
    assert rule in {v["rule"] for v in body["error"]["violations"]}
    assert canary.leaks(response.text) == []


def test_only_this_collaborations_analysts(loaded: Harness) -> None:
    assert_error(attribute(loaded, party="streamco"), 403, "forbidden")
    assert_error(attribute(loaded, party="globex"), 404, "not_found")
    assert_error(loaded.client.post(f"/v1/collaborations/{COLLAB}/attribution", json={}),
                 401, "unauthorized")


def test_audited_as_attribution_without_data(loaded: Harness, canary: CanaryData) -> None:
    body = ok(attribute(loaded, model="first_touch"), canary)
    entries = loaded.client.get(f"/v1/collaborations/{COLLAB}/audit",
                                headers=loaded.auth("reviewer")).json()["entries"]
    mine = [e for e in entries if e["query_id"] == body["query_id"]]
    assert mine[0]["action"] == "attribution" and mine[0]["decision"] == "accepted"
    assert mine[0]["detail"]["model"] == "first_touch"
    # Other tests share this service and audit their own SQL: check the attribution entries.
    ours = [e for e in entries if e["action"] == "attribution"]
    assert canary.leaks(json.dumps(ours)) == [] and "search" not in json.dumps(mine)


@pytest.fixture(scope="module")
def big() -> CanaryData:
    """Enough people for rows to clear the private selection threshold under DP."""
    return make_canary_data(people=5000, seed=11)


@pytest.fixture
def required(tmp_path: Path, big: CanaryData) -> Harness:
    return loaded_with(tmp_path, big, REQUIRED, dp_seed=5)


def test_dp_rows_are_noised_and_charged_once(required: Harness, big: CanaryData) -> None:
    body = ok(attribute(required, model="position_based"), big)
    assert body["suppressed_rows"] is None and body["epsilon_spent"] == 1.0
    assert len(body["rows"]) == 5 and set(body["row_status"]) == {"noised"}
    assert [a["sensitivity"] for a in body["noise"]["aggregates"]] == [1.0, 1000.0]
    service = required.client.app.state.service  # type: ignore[attr-defined]
    policy = service.policies[COLLAB]
    plan = plan_request(policy, AttributionRequest("position_based", "impressions",
                                                   "conversions", "channel", 30.0))
    exact = {r[0]: r[1:] for r in compute(service, policy, plan, max_groups=2).rows}
    covered = 0
    for row, cells in zip(body["rows"], body["confidence_intervals"]):
        for value, truth, (low, high) in zip(row[1:], exact[row[0]], cells[1:]):
            assert low <= value <= high
            covered += low <= truth <= high
    # 10 cells, each covered with probability >= 95%: at least 8 with probability > 0.98.
    assert covered >= 8
    history = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                  headers=required.auth("acme")).json()["history"]
    assert [(h["query_id"], h["epsilon"]) for h in history] == [(body["query_id"], 1.0)]
    assert SMALL_CHANNEL not in json.dumps(body)


@pytest.mark.parametrize("groups", [1, 2])
def test_dp_admits_only_people_within_the_contribution_bound(required: Harness, big: CanaryData,
                                                             groups: int) -> None:
    service = required.client.app.state.service  # type: ignore[attr-defined]
    policy = service.policies[COLLAB]
    plan = plan_request(policy, AttributionRequest("linear", "impressions", "conversions",
                                                   "channel", 30.0))
    result = compute(service, policy, plan, max_groups=groups)
    (admitted,) = reference(big).execute(
        f"{WINDOW} SELECT COUNT(*) FROM (SELECT user_key FROM w GROUP BY user_key "
        f"HAVING COUNT(DISTINCT channel) <= {groups})").fetchone()  # type: ignore[misc]
    assert sum(r[1] for r in result.rows) == pytest.approx(admitted)
    assert admitted <= sum(result.users) <= groups * admitted


def test_dp_refuses_markov_and_runs_out_of_budget(required: Harness) -> None:
    body = assert_error(attribute(required, model="markov"), 422, "query_rejected")
    assert body["error"]["violations"][0]["rule"] == "dp_unsupported"
    for _ in range(3):
        assert attribute(required, epsilon=1.0).status_code == 200
    assert_error(attribute(required), 429, "budget_exhausted")
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                 headers=required.auth("acme")).json()
    assert len(budget["history"]) == 3 and budget["epsilon_spent"] == 3.0


def test_cli_prints_the_table(server: tuple[str, str], canary: CanaryData) -> None:  # noqa: F811
    url, token = server
    result = run_cli("attribution", "--model", "linear", "--touchpoints", "impressions",
                     "--conversions", "conversions", "--dimension", "channel",
                     "--lookback-days", "30", "--url", url, "--token", token,
                     "--collaboration", COLLAB, "--format", "table")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "channel" in line)
    assert [c.strip() for c in header.split("┃")[1:4]] == ["channel", "conversions", "revenue"]
    assert "5 rows (5 exact)" in result.stdout
    # the 7-person channel is withheld, and below half the threshold not counted
    assert "suppressed rows: 0" in result.stdout and canary.leaks(result.stdout) == []
    piped = run_cli("attribution", "--model", "linear", "--touchpoints", "impressions",
                    "--conversions", "conversions", "--dimension", "channel", "--url", url,
                    "--token", token, "--collaboration", COLLAB)
    assert piped.stdout.splitlines()[0] == "channel,conversions,revenue"
    assert len(piped.stdout.splitlines()) == 6


def test_cli_refusal_exits_with_the_error_body(server: tuple[str, str]) -> None:  # noqa: F811
    url, token = server
    result = run_cli("attribution", "--model", "magic", "--touchpoints", "impressions",
                     "--conversions", "conversions", "--dimension", "channel", "--url", url,
                     "--token", token, "--collaboration", COLLAB)
    assert result.returncode == 1 and result.stdout == ""
    # readable, not the raw body: the message, the code, each violation with its hint
    assert "unknown_model" in result.stderr and "hint:" in result.stderr
    assert "query_rejected" in result.stderr and '{"error"' not in result.stderr


def test_optional_policy_with_epsilon_takes_the_dp_path(plain: tuple[Harness, CanaryData]) -> None:
    harness, data = plain
    body = ok(attribute(harness, model="first_touch", epsilon=0.5), data)
    assert body["epsilon_spent"] == 0.5 and body["suppressed_rows"] is None
    assert body["noise"]["group_selection"]["epsilon"] == pytest.approx(0.5 / 3)
