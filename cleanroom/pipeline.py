"""The order of things. Only this module knows it:

    parse -> analyse -> check -> rewrite -> render   (gate)
    -> charge budget (under DP) -> execute (engine) -> release (threshold, noise) -> audit

The budget is charged before the engine runs so that no failure is a free signal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection

from cleanroom import audit
from cleanroom.audit import AuditEvent
from cleanroom.engine import (
    ColumnSpec,
    ExactResult,
    Limits,
    TableSpec,
    run,
    run_streaming,
    sandbox,
)
from cleanroom.errors import (
    CleanroomError,
    Forbidden,
    InvalidUpload,
    NotFound,
    QueryFailed,
    QueryRejected,
    Violation,
)
from cleanroom.gate import Catalog, CheckedQuery, K, check_query
from cleanroom.gate.analyse import analyse_query
from cleanroom.gate.parse import parse_query
from cleanroom.gate.rewrite import rewrite_inner
from cleanroom.gate.rules import violation
from cleanroom.policy import Dataset, Kind, Policy
from cleanroom.privacy.budget import BudgetLedger
from cleanroom.privacy.dp_release import noise_plan, release_dp
from cleanroom.privacy.dp_sql import DPQuery, bound_contributions, dp_columns, dp_order
from cleanroom.privacy.mechanisms import NoisePlan, Rng, make_rng
from cleanroom.release import release_thresholded
from cleanroom.settings import Settings
from cleanroom.store import DatasetVersion, Identity, Store
from cleanroom.upload import validate_upload

# Below this, noise swamps any answer and the mechanisms' arithmetic degenerates.
MIN_EPSILON = 1e-3
_KINDS = {Kind.USER_KEY: K.UID, Kind.DIMENSION: K.DIM, Kind.METRIC: K.MET, Kind.BANNED: K.BANNED}


@dataclass(frozen=True)
class Service:
    store: Store
    policies: dict[str, Policy]
    settings: Settings
    ledger: BudgetLedger
    rng: Rng | None = None  # None: the OS's secure generator for every draw

    @classmethod
    def open(cls, store: Store, policies: dict[str, Policy], settings: Settings) -> Service:
        seed = settings.dp_seed
        return cls(store, policies, settings, BudgetLedger(store.meta_path),
                   None if seed is None else make_rng(seed))

    @property
    def limits(self) -> Limits:
        return self.settings.limits


# -- access ------------------------------------------------------------------------------
def authorize(service: Service, who: Identity, collaboration: str, role: str) -> Policy:
    """The collaboration's policy if ``who`` holds ``role`` in it; another collaboration's party
    learns only that there is nothing for it here."""
    policy = service.policies.get(collaboration)
    if policy is None or who.collaboration != collaboration or policy.party(who.party) is None:
        raise NotFound()
    if not policy.has_role(who.party, role):
        raise Forbidden(message=f"this route needs the {role} role")
    return policy


def catalog_for(policy: Policy) -> Catalog:
    return Catalog.of({name: {c: _KINDS[col.kind] for c, col in ds.columns.items()}
                       for name, ds in policy.datasets.items()})


@contextmanager
def pinned_tables(service: Service, policy: Policy) -> Iterator[list[TableSpec]]:
    """The sandbox's views over the current versions, pinned and verified for the block's
    duration: no upload or retention removes a file under a running request, and a missing
    or damaged file is ``QueryFailed``, never an empty table."""
    with service.store.lease(policy.collaboration) as current:
        try:
            yield tables_for(policy, current)
        except duckdb.Error:
            # Raised outside the engine's guard (creating the views over a file damaged since
            # it was verified): the same fixed refusal, audited by the caller, never a 500.
            raise QueryFailed([Violation("runtime", "the query failed in the engine")]) from None


def tables_for(policy: Policy, current: dict[str, DatasetVersion]) -> list[TableSpec]:
    """The sandbox's views: ``current`` versions, banned columns left out, metrics clamped."""
    specs = []
    for name, ds in policy.datasets.items():
        cols = tuple(ColumnSpec(c, col.sql_type, col.bounds) for c, col in ds.columns.items()
                     if col.kind is not Kind.BANNED)
        version = current.get(name)
        path = version.path if version else Path("/nonexistent")
        specs.append(TableSpec(name, path, cols))
    return specs


# -- uploads -----------------------------------------------------------------------------
def upload_target(service: Service, who: Identity, collaboration: str, dataset: str) -> Dataset:
    """The dataset ``who`` may upload, checked before any of the body is received."""
    policy = authorize(service, who, collaboration, "provider")
    spec = policy.datasets.get(dataset)
    if spec is None:
        raise NotFound()
    if spec.provider != who.party:
        raise Forbidden(message="only the dataset's provider may upload it")
    return spec


def upload_dataset(service: Service, who: Identity, collaboration: str, dataset: str,
                   raw: Path, fmt: str) -> dict[str, Any]:
    spec = upload_target(service, who, collaboration, dataset)
    staged = service.store.staging_path(".parquet")
    try:
        valid = validate_upload(raw, fmt, spec, staged, limits=service.settings.upload)
        version = service.store.publish(collaboration, dataset, staged, valid.rows)
    except CleanroomError as exc:
        audit_decision(service, who, "upload", exc, detail={"dataset": dataset})
        raise
    finally:
        staged.unlink(missing_ok=True)
    audit_decision(service, who, "upload", None, detail={"dataset": dataset, "rows": version.rows,
                                                 "version": version.version})
    return {"dataset": dataset, "rows": version.rows, "version": version.version}


# -- queries -----------------------------------------------------------------------------
def check_sql(service: Service, who: Identity, collaboration: str, sql: str,
              epsilon: float | None = None) -> dict[str, Any]:
    """The gate's decision, the SQL that would run and, under DP, the noise plan; it runs
    nothing and spends no budget."""
    policy = authorize(service, who, collaboration, "analyst")
    try:
        # The same path /queries would take: the exact gate, or the DP planner.
        epsilon = epsilon_for(policy, epsilon)
        if epsilon is None:
            checked = _check(policy, sql)
            plan: dict[str, Any] = {"columns": list(checked.columns), "mode": checked.mode.value,
                    "sql": checked.sql}
        else:
            private = plan_private_query(policy, sql, epsilon)
            plan = {"columns": [c.name for c in private.query.columns], "mode": "private",
                    "sql": private.query.sql, "noise": describe_plan(private.plan)}
    except QueryRejected as exc:
        audit_decision(service, who, "check", exc, detail={"sql": sql})
        return {"decision": "rejected", "violations": [v.as_dict() for v in exc.violations]}
    audit_decision(service, who, "check", None, detail={"sql": sql, "epsilon": epsilon})
    return {"decision": "accepted", "violations": [], "epsilon": epsilon,
            "min_users_per_row": policy.query_rules.min_users_per_row, **plan}


def _check(policy: Policy, sql: str) -> CheckedQuery:
    return check_query(sql, catalog_for(policy), min_users=policy.query_rules.min_users_per_row)


def run_sql(service: Service, who: Identity, collaboration: str, sql: str,
            epsilon: float | None = None) -> dict[str, Any]:
    policy = authorize(service, who, collaboration, "analyst")
    query_id = uuid.uuid4().hex
    detail: dict[str, Any] = {"sql": sql, "epsilon": epsilon}
    try:
        epsilon = epsilon_for(policy, epsilon)
        (answer,) = run_batch(service, who, policy, [sql], epsilon, query_id)
    except CleanroomError as exc:
        audit_decision(service, who, "query", exc, query_id=query_id, detail=detail)
        raise
    detail.update(epsilon=epsilon, rows=len(answer["rows"]), suppressed_rows=answer["suppressed_rows"])
    audit_decision(service, who, "query", None, query_id=query_id, detail=detail)
    return {"query_id": query_id, **answer}


def epsilon_for(policy: Policy, epsilon: float | None) -> float | None:
    """The epsilon a query runs with, or None for an exact (thresholded) answer.

    ``required`` mode never answers exactly: a query without epsilon gets the policy's
    ``max_epsilon_per_query``.
    """
    privacy = policy.privacy
    if privacy.differential_privacy == "off":
        if epsilon is not None:
            raise QueryRejected([violation("epsilon_not_allowed", "differential privacy is off")])
        return None
    if epsilon is None:
        return privacy.max_epsilon_per_query if privacy.differential_privacy == "required" else None
    if epsilon < MIN_EPSILON:
        raise QueryRejected([violation("epsilon_not_allowed", f"at least {MIN_EPSILON:g}")])
    if epsilon > privacy.max_epsilon_per_query:
        raise QueryRejected([violation(
            "epsilon_not_allowed", f"at most {privacy.max_epsilon_per_query:g} per query")])
    return epsilon


def run_batch(service: Service, who: Identity, policy: Policy, sqls: list[str],
              epsilon: float | None, query_id: str) -> list[dict[str, Any]]:
    """Run gated queries as one request, in one sandbox. Under DP, ``epsilon`` is split equally
    between them and charged once, before anything runs: a query that then fails (time or
    memory limit) has spent its epsilon, so no failure is a free signal, and a party without
    budget gets 429 without making the engine work."""
    if epsilon is None:
        checked = [_check(policy, sql) for sql in sqls]
        with pinned_tables(service, policy) as tables, sandbox(tables, service.limits) as con:
            results = [run(con, c.sql, service.limits) for c in checked]
        return [_exact_answer(policy, c, r) for c, r in zip(checked, results)]
    share = epsilon / len(sqls)
    private = [plan_private_query(policy, sql, share) for sql in sqls]
    charge = service.ledger.charge(policy.collaboration, who.party, epsilon,
                                   budget=policy.privacy.epsilon_budget, query_id=query_id)
    with pinned_tables(service, policy) as tables, sandbox(tables, service.limits) as con:
        return [_private_answer(service, policy, con, p, share, charge.remaining)
                for p in private]


def _exact_answer(policy: Policy, checked: CheckedQuery, exact: ExactResult) -> dict[str, Any]:
    release = release_thresholded(exact, people_column=checked.people_column,
                                  min_users=policy.query_rules.min_users_per_row,
                                  limit=checked.limit, offset=checked.offset)
    return {"columns": list(release.columns), "rows": release.rows,
            "suppressed_rows": release.suppressed_rows, "epsilon_spent": 0.0,
            "row_status": ["exact"] * len(release.rows), "confidence_intervals": None}


def _private_answer(service: Service, policy: Policy, con: DuckDBPyConnection,
                    private: PrivateQuery, epsilon: float, remaining: float) -> dict[str, Any]:
    q = private.query
    release = run_streaming(con, q.sql, service.limits, lambda rows: release_dp(
        rows, q.columns, private.plan, min_users=policy.query_rules.min_users_per_row,
        max_groups_per_user=policy.query_rules.max_groups_per_user,
        rng=service.rng or make_rng(), order=q.order, limit=q.limit, offset=q.offset,
        max_rows=service.limits.max_rows))
    return {"columns": list(release.columns), "rows": release.rows, "truncated": release.truncated,
            # How many groups were held back is itself exact: under DP it is not released.
            "suppressed_rows": None, "epsilon_spent": epsilon, "epsilon_remaining": remaining,
            "row_status": ["noised"] * len(release.rows),
            "confidence_intervals": release.intervals, "noise": describe_plan(private.plan)}


@dataclass(frozen=True)
class PrivateQuery:
    query: DPQuery
    plan: NoisePlan


def plan_private_query(policy: Policy, sql: str, epsilon: float) -> PrivateQuery:
    """The bounded SQL and the noise plan of a query, without running it."""
    tree = parse_query(sql)
    shape = analyse_query(tree, catalog_for(policy))
    columns = dp_columns(shape, _metric_bounds(policy), _user_keys(policy))
    order, limit, offset = dp_order(shape, columns)
    rewrite_inner(shape, min_users=policy.query_rules.min_users_per_row)
    groups = policy.query_rules.max_groups_per_user
    bounded = bound_contributions(shape, columns, max_groups_per_user=groups)
    plan = noise_plan(columns, epsilon=epsilon, max_groups_per_user=groups,
                      delta=policy.privacy.delta)
    query = DPQuery(bounded.sql(dialect="duckdb"), columns, sum(
        1 for c in columns if c.function == "group_key"), order, limit, offset)
    return PrivateQuery(query, plan)


def describe_plan(plan: NoisePlan) -> dict[str, Any]:
    entries = [{"column": e.name, "mechanism": e.mechanism, "sensitivity": e.sensitivity,
                "epsilon": e.epsilon, "expected_abs_error": e.expected_abs_error,
                "ci95_half_width": e.ci_half_width} for e in plan.entries]
    selection = None if plan.selection is None else {
        "epsilon": plan.selection.epsilon, "delta": plan.selection.delta,
        "noisy_people_threshold": plan.selection.threshold}
    return {"epsilon": plan.epsilon, "aggregates": entries, "group_selection": selection}


def _metric_bounds(policy: Policy) -> dict[str, tuple[float, float]]:
    bounds: dict[str, set[tuple[float, float]]] = {}
    for ds in policy.datasets.values():
        for name, col in ds.columns.items():
            if col.kind is Kind.METRIC and col.bounds is not None:
                bounds.setdefault(name, set()).add(col.bounds)
    # A name with different bounds in two datasets is ambiguous: take the widest range.
    return {n: (min(b[0] for b in bs), max(b[1] for b in bs)) for n, bs in bounds.items()}


def _user_keys(policy: Policy) -> frozenset[str]:
    return frozenset(ds.user_key for ds in policy.datasets.values())


def budget_of(service: Service, who: Identity, collaboration: str) -> dict[str, Any]:
    policy = authorize(service, who, collaboration, "analyst")
    spent = service.ledger.spent(collaboration, who.party)
    budget = policy.privacy.epsilon_budget
    return {"party": who.party, "epsilon_budget": budget, "epsilon_spent": spent,
            "epsilon_remaining": max(0.0, budget - spent),
            "history": service.ledger.history(collaboration, who.party)}


def audit_decision(service: Service, who: Identity, action: str, error: CleanroomError | None, *,
           query_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    info = dict(detail or {})
    if error is not None:
        info["error"] = error.code
        info["rules"] = sorted({v.rule for v in error.violations})
    decision = "accepted" if error is None else {"query_rejected": "rejected",
                                                 "budget_exhausted": "exhausted"}.get(
        error.code, "failed" if error.code == "query_failed" else "refused")
    audit.record(service.store, AuditEvent(who.collaboration, who.party, action, decision,
                                           query_id, info))


def read_audit(service: Service, who: Identity, collaboration: str) -> list[dict[str, Any]]:
    authorize(service, who, collaboration, "compliance")
    return audit.read(service.store, collaboration)


__all__ = ["InvalidUpload", "Service", "authorize", "check_sql", "read_audit", "run_sql",
           "upload_dataset"]
