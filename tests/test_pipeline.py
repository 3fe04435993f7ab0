"""The one door (issue 8, point 1): every kind of question goes through the same stages, is
released by the one threshold or the one noise, charged once, verified and typed."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cleanroom import pipeline
from cleanroom.errors import CleanroomError, QueryRejected
from cleanroom.planners.attribution import AttributionRequest, plan_attribution
from cleanroom.planners.base import NoisedStep, Plan, Released, SqlStep, Table, only
from cleanroom.planners.sql import plan_private_query
from cleanroom.planners.verify import verify_noised, verify_trusted
from cleanroom.policy import Kind, Policy
from cleanroom.store import Identity
from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness
from tests.test_dp_pipeline import BY_CHANNEL, REQUIRED, loaded_with

PACKAGE = Path(__file__).resolve().parents[1] / "cleanroom"
ABOVE_THE_ENGINE = ["pipeline.py", "attribution_service.py", "api.py", "api_routes.py",
                    "answers.py", "planners", "analytics"]
ATTRIBUTION = {"model": "linear", "touchpoints": "impressions", "conversions": "conversions",
               "lookback_days": 30, "dimension": "channel"}
ANSWER_KEYS = {"query_id", "columns", "rows", "suppressed_rows", "epsilon_spent", "row_status",
               "withheld_cells", "confidence_intervals", "policy_version"}


def _service(h: Harness) -> pipeline.Service:
    service: pipeline.Service = h.client.app.state.service  # type: ignore[attr-defined]
    return service


def _policy(h: Harness) -> Policy:
    return _service(h).policies[COLLAB]


@pytest.fixture
def required(tmp_path: Path, canary: CanaryData) -> Harness:
    return loaded_with(tmp_path, canary, REQUIRED, dp_seed=3)


def _bounded(h: Harness) -> NoisedStep:
    private = plan_private_query(_policy(h), BY_CHANNEL, 1.0)
    return NoisedStep(private.query, private.plan, 1.0, tables=private.tables)


def test_the_bounded_plan_verifies(required: Harness) -> None:
    verify_noised(_bounded(required))  # raises if not


@pytest.mark.parametrize("tamper", ["clamp", "names", "epsilon", "unbounded", "columns"])
def test_a_noised_step_that_is_not_bounded_as_planned_is_refused(required: Harness,
                                                                 tamper: str) -> None:
    step = _bounded(required)
    q = step.query
    if tamper == "clamp":  # cost is clamped to [0, 100] by the policy
        assert "> 100.0 THEN 100.0" in q.sql
        step = replace(step, query=replace(q, sql=q.sql.replace("> 100.0 THEN 100.0",
                                                                "> 1000.0 THEN 1000.0")))
    elif tamper == "names":
        step = replace(step, noise=replace(step.noise, entries=step.noise.entries[:1]))
    elif tamper == "epsilon":
        step = replace(step, epsilon=0.5)
    elif tamper == "unbounded":  # the outer SELECT reads the people's rows, not the bounded ones
        step = replace(step, query=replace(q, sql=q.sql.replace("FROM __cr_bounded",
                                                                "FROM __cr_user_groups")))
    else:
        step = replace(step, query=replace(q, columns=q.columns[:-1]))
    with pytest.raises(QueryRejected) as caught:
        verify_noised(step)
    assert {v.rule for v in caught.value.violations} == {"dp_unsupported"}


def test_a_later_stage_never_spends_more_than_was_charged(required: Harness) -> None:
    """A plan whose second stage would spend beyond the one charge fails closed, after the
    charge (so the failure is no free signal), with nothing released."""
    def planner(_: Policy, epsilon: float | None) -> Plan:
        assert epsilon is not None
        again = Plan((SqlStep(BY_CHANNEL, epsilon),), only)
        return Plan((SqlStep(BY_CHANNEL, epsilon),), lambda _released: again)
    request = pipeline.Request("query", None, {"sql": "test"}, planner)
    with pytest.raises(CleanroomError) as caught:
        pipeline.answer(_service(required), Identity(COLLAB, "acme"), COLLAB, request)
    assert caught.value.code == "internal_error"
    assert _service(required).ledger.spent(COLLAB, "acme") == 1.0


def test_a_request_granted_epsilon_never_releases_exact_rows(required: Harness) -> None:
    """Under ``required`` DP a planner that planned an exact step fails closed, not exactly."""
    def planner(policy: Policy, _: float | None) -> Plan:
        return Plan((pipeline.check(policy, (SqlStep(BY_CHANNEL),))[0],), only)
    request = pipeline.Request("query", None, {"sql": "test"}, planner)
    with pytest.raises(CleanroomError) as caught:
        pipeline.answer(_service(required), Identity(COLLAB, "acme"), COLLAB, request)
    assert caught.value.code == "internal_error"


def test_every_release_goes_through_the_one_threshold(loaded: Harness,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SQL, each attribution model (Markov included) and each analytic are released by
    ``release.release_thresholded``, once per released step."""
    calls: list[int] = []
    real = pipeline.release_thresholded

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(pipeline, "release_thresholded", counted)
    post = loaded.client.post
    auth = loaded.auth("acme")
    assert loaded.query(BY_CHANNEL).status_code == 200
    for model in ("linear", "markov", "time_decay"):
        assert post(f"/v1/collaborations/{COLLAB}/attribution", headers=auth,
                    json={**ATTRIBUTION, "model": model}).status_code == 200
    assert post(f"/v1/collaborations/{COLLAB}/analytics/overlap", headers=auth,
                json={"a": "impressions", "b": "conversions"}).status_code == 200
    assert len(calls) == 1 + 3 + 1  # exact overlap: one step, its three counts in one row


def test_every_answer_is_typed_with_policy_version_and_withheld_cells(
        loaded: Harness, required: Harness) -> None:
    partial = 0
    for h in (loaded, required):
        auth = h.auth("acme")
        answers = [
            h.query(BY_CHANNEL),
            h.client.post(f"/v1/collaborations/{COLLAB}/attribution", headers=auth,
                          json=ATTRIBUTION),
            h.client.post(f"/v1/collaborations/{COLLAB}/analytics/reach-frequency",
                          headers=auth, json={"dataset": "impressions", "dimension": "channel"}),
        ]
        for response in answers:
            assert response.status_code == 200, response.text
            body = response.json()
            assert ANSWER_KEYS <= set(body) and body["policy_version"] == 1
            assert len(body["row_status"]) == len(body["rows"])
            for row, column in body["withheld_cells"]:
                assert body["rows"][row][column] is None
                assert body["row_status"][row] == "partial"
                partial += 1
    assert partial > 0  # the canary's thin frequency buckets are withheld cells of kept rows


def test_the_routes_declare_their_answer_models(loaded: Harness) -> None:
    spec = loaded.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for model in ("QueryAnswer", "AttributionAnswer", "AnalyticsAnswer", "CheckAnswer",
                  "BudgetAnswer", "AuditAnswer"):
        assert model in schemas
    assert {"policy_version", "withheld_cells", "row_status"} <= set(
        schemas["QueryAnswer"]["properties"])
    route = spec["paths"]["/v1/collaborations/{c}/attribution"]["post"]
    assert route["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AttributionAnswer"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_no_duckdb_connection_above_the_engine() -> None:
    files = [f for name in ABOVE_THE_ENGINE for f in
             ((PACKAGE / name).rglob("*.py") if (PACKAGE / name).is_dir() else [PACKAGE / name])]
    assert len(files) > 10
    assert {str(f.relative_to(PACKAGE)) for f in files
            if any(m.split(".")[0] == "duckdb" for m in _imports(f))} == set()


def test_a_released_table_is_the_planners_finish(required: Harness) -> None:
    """``only`` keeps the released step's noise description and truncation flag."""
    released = Released(["k"], [["a"]], None, ["noised"], [], [[None]], {"epsilon": 1.0}, False)
    table = only((released,))
    assert isinstance(table, Table)
    assert table.extra == {"noise": {"epsilon": 1.0}, "truncated": False}


@pytest.mark.parametrize("sql", [
    "SELECT d, COUNT(*) AS __cr_n FROM read_parquet('/etc/x.parquet') GROUP BY d",
    "SELECT d, COUNT(*) AS __cr_n FROM 'file.csv' GROUP BY d",
    "WITH t AS (SELECT * FROM secrets) SELECT COUNT(*) AS __cr_n FROM t",
    "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel",  # no people count
    "COPY impressions TO 'out.csv'",
    # the policy's column rule: nothing banned, nothing unknown, no star over a dataset
    "WITH t AS (SELECT user_key, ip_hash AS d FROM impressions) "
    "SELECT d, COUNT(*) AS __cr_n FROM t GROUP BY d",
    "WITH t AS (SELECT i.user_key, i.ip_hash AS d FROM impressions AS i) "
    "SELECT d, COUNT(*) AS __cr_n FROM t GROUP BY d",
    "WITH t AS (SELECT * FROM impressions) SELECT channel, COUNT(*) AS __cr_n FROM t GROUP BY 1",
    "WITH t AS (SELECT i.* FROM impressions AS i) SELECT channel, COUNT(*) AS __cr_n FROM t "
    "GROUP BY 1",
    "SELECT secret AS d, COUNT(*) AS __cr_n FROM impressions GROUP BY 1",
    "SELECT d, COUNT(*) AS __cr_n FROM (SELECT order_id AS d FROM conversions) GROUP BY d",
])
def test_a_trusted_planners_sql_reads_only_the_datasets(sql: str) -> None:
    with pytest.raises(QueryRejected):
        verify_trusted(sql, _KINDS, people_column="__cr_n")


def test_a_trusted_planners_sql_may_read_allowed_columns() -> None:
    """The same checks pass the planners' renaming CTEs (so the refusals above are the rule's)."""
    verify_trusted("WITH t AS (SELECT user_key, CAST(ts AS TIMESTAMP) AS ts, channel AS d "
                   "FROM impressions) SELECT d, COUNT(DISTINCT user_key) AS __cr_n FROM t "
                   "GROUP BY d", _KINDS, people_column="__cr_n")


_KINDS = {
    "impressions": {"user_key": Kind.USER_KEY, "ts": Kind.DIMENSION, "channel": Kind.DIMENSION,
                    "ip_hash": Kind.BANNED},
    "conversions": {"user_key": Kind.USER_KEY, "revenue": Kind.METRIC, "order_id": Kind.BANNED},
}


@pytest.mark.parametrize("model", ["linear", "time_decay", "markov"])
def test_attribution_plans_verify(loaded: Harness, model: str) -> None:
    ask = AttributionRequest(model, "impressions", "conversions", "channel", 30.0)
    plan = plan_attribution(_policy(loaded), ask, None)
    assert pipeline.verify(_policy(loaded), pipeline.check(_policy(loaded), plan.steps))
