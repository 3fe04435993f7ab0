"""The one door. Every answer (an analyst's SQL, each attribution model, each analytic) takes
the same path, in this order, and only this module knows it:

    authorize -> plan -> check -> verify -> charge -> execute -> release -> audit

- **authorize**: the party holds the analyst role in the collaboration; the epsilon is allowed.
- **plan**: a planner (``planners.sql``, ``planners.attribution``, ``analytics``) turns the
  request into a frozen ``Plan``: steps of SQL, each with its one release rule.
- **check**: the gate checks every SQL step (exact, or bounded for DP).
- **verify**: every noised step is re-checked against its noise plan (fail closed).
- **charge**: the request's epsilon is charged once, before anything runs, so that no failure
  is a free signal; a multi-stage plan (RFM) spends within that one charge.
- **execute** and **release**: one engine session runs the steps; exact rows are released by
  ``release.release_thresholded`` (the only threshold), noisy ones by ``privacy.dp_release``
  (the only noise); the plan's ``finish`` shapes the released tables (or plans a next stage).
- **audit**: one entry per request, refused or answered, with no data value.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanroom import audit
from cleanroom.answers import POLICY_VERSION, Answer, BudgetAnswer, CheckAnswer, QueryAnswer
from cleanroom.audit import AuditEvent
from cleanroom.discovery import datasets_read, require_uploaded
from cleanroom.engine import DuckDBEngine, Engine, ExactResult, Limits, Session, TableSpec
from cleanroom.errors import (
    CleanroomError,
    Forbidden,
    InvalidRequest,
    InvalidUpload,
    NotFound,
    QueryRejected,
    Violation,
)
from cleanroom.gate.rules import violation
from cleanroom.planners.base import (
    Checked,
    ExactStep,
    InternalStep,
    NoisedStep,
    Plan,
    Released,
    SqlStep,
    Step,
    Table,
)
from cleanroom.planners.sql import (
    PrivateQuery,
    catalog_for,
    check_sql_step,
    column_spec,
    describe_plan,
    plan_private_query,
    plan_sql,
)
from cleanroom.planners.verify import verify_noised, verify_trusted
from cleanroom.policy import Dataset, Kind, Policy
from cleanroom.privacy.budget import BudgetLedger
from cleanroom.privacy.dp_release import release_dp
from cleanroom.privacy.mechanisms import Rng, make_rng
from cleanroom.release import Gathered, gather, release_thresholded
from cleanroom.settings import Settings
from cleanroom.store import DatasetVersion, Identity, Store
from cleanroom.store.policies import OPERATOR
from cleanroom.upload import validate_upload

# Below this, noise swamps any answer and the mechanisms' arithmetic degenerates.
MIN_EPSILON = 1e-3
_SLACK = 1e-9


@dataclass(frozen=True)
class Service:
    store: Store
    policies: dict[str, Policy]
    settings: Settings
    ledger: BudgetLedger
    rng: Rng | None = None  # None: the OS's secure generator for every draw
    engine: Engine = field(default_factory=DuckDBEngine)
    versions: dict[str, int] = field(default_factory=dict)  # each policy's active version

    @classmethod
    def open(cls, store: Store, policies: dict[str, Policy], settings: Settings) -> Service:
        seed = settings.dp_seed
        return cls(store, policies, settings, BudgetLedger(store.meta_path),
                   None if seed is None else make_rng(seed),
                   versions={c: adopt_policy(store, p) for c, p in policies.items()})

    def version_of(self, collaboration: str) -> int:
        return self.versions.get(collaboration, POLICY_VERSION)

    @property
    def limits(self) -> Limits:
        return self.settings.limits


Planner = Callable[[Policy, float | None], Plan]


def adopt_policy(store: Store, policy: Policy) -> int:
    """The policy's version in the store: the first for a new collaboration, the next (adopted
    by the operator, and audited) when its file changed since the last start-up."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True)
    version, new = store.adopt_policy(policy.collaboration, canonical)
    if new and version > 1:
        audit.record(store, AuditEvent(policy.collaboration, OPERATOR, "policy", "accepted",
                                       detail={"version": version, "source": "start-up"},
                                       policy_version=version))
    return version


@dataclass(frozen=True)
class Request:
    """What every kind of question shares: how it is audited, the epsilon asked for, and the
    planner that turns it into a plan under the policy and the granted epsilon."""

    action: str  # the audit action: query, attribution, analytics
    epsilon: float | None
    detail: dict[str, Any]  # audited as is: names and options, never data
    planner: Planner
    # The route's response model: FastAPI re-validates another class's answer and drops the
    # planner's extra keys (noise, truncated, epsilon_remaining).
    answer: type[Answer] = QueryAnswer


# -- the one door ------------------------------------------------------------------------
def answer(service: Service, who: Identity, collaboration: str, request: Request) -> Answer:
    """Answer any request through every stage, in order."""
    policy = authorize(service, who, collaboration, "analyst")
    query_id = uuid.uuid4().hex
    with audited(service, who, request.action, query_id, request.detail) as detail:
        epsilon = epsilon_for(policy, request.epsilon)
        plan = request.planner(policy, epsilon)
        steps = verify(policy, checked(policy, plan.steps, detail))
        require_uploaded(policy, service.store.current(collaboration), steps)
        remaining = charge(service, who, policy, epsilon, query_id)
        table = execute(service, policy, plan, steps, epsilon)
        detail.update(epsilon=epsilon, rows=len(table.rows),
                      suppressed_rows=table.suppressed_rows)
    return request.answer.model_validate(answer_body(query_id, table, epsilon, remaining,
                                                     service.version_of(collaboration)))


def authorize(service: Service, who: Identity, collaboration: str, *roles: str) -> Policy:
    """The collaboration's policy if ``who`` holds one of ``roles`` in it; another
    collaboration's party learns only that there is nothing for it here."""
    policy = service.policies.get(collaboration)
    if policy is None or who.collaboration != collaboration or policy.party(who.party) is None:
        raise NotFound()
    if not any(policy.has_role(who.party, role) for role in roles):
        raise Forbidden(message=f"this route needs the {' or '.join(roles)} role")
    return policy


def epsilon_for(policy: Policy, epsilon: float | None) -> float | None:
    """The epsilon a request runs with, or None for an exact (thresholded) answer.

    ``required`` mode never answers exactly: a request without epsilon gets the policy's
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


def check(policy: Policy, steps: tuple[Step, ...]) -> tuple[Checked, ...]:
    """Every SQL step through the gate; a trusted planner's steps are already checked SQL."""
    return tuple(check_sql_step(policy, s) if isinstance(s, SqlStep) else s for s in steps)


def checked(policy: Policy, steps: tuple[Step, ...], detail: dict[str, Any]
            ) -> tuple[Checked, ...]:
    """``check``, noting in the audit ``detail`` the datasets the request reads, or would
    have read when the gate refuses it (a provider reads those entries)."""
    try:
        done = check(policy, steps)
    except QueryRejected:
        detail["datasets"] = datasets_read(policy, steps)
        raise
    detail["datasets"] = datasets_read(policy, done)
    return done


def verify(policy: Policy, steps: tuple[Checked, ...]) -> tuple[Checked, ...]:
    """Noised steps re-checked against their noise plans, and a trusted planner's SQL re-read
    for what it may touch (the gate verifies its own exact rewrite)."""
    datasets = {name: {c: col.kind for c, col in d.columns.items()}
                for name, d in policy.datasets.items()}
    for step in steps:
        if isinstance(step, NoisedStep):
            rules = policy.query_rules
            verify_noised(step, policy_bounds=(rules.max_groups_per_user,
                                               rules.max_rows_per_user_group),
                          user_keys={name: d.user_key for name, d in policy.datasets.items()})
            if not step.bounded_by_gate:
                verify_trusted(step.query.sql, datasets, people_column=None)
        elif isinstance(step, InternalStep):
            verify_trusted(step.sql, datasets, people_column=None)
        elif step.trusted:
            verify_trusted(step.sql, datasets, people_column=step.people_column)
    return steps


def charge(service: Service, who: Identity, policy: Policy, epsilon: float | None,
           query_id: str) -> float | None:
    """Charge the request's epsilon once, before anything runs; the budget left, or None."""
    if epsilon is None:
        return None
    return service.ledger.charge(policy.collaboration, who.party, epsilon,
                                 budget=policy.privacy.epsilon_budget, query_id=query_id).remaining


def execute(service: Service, policy: Policy, plan: Plan, steps: tuple[Checked, ...],
            epsilon: float | None) -> Table:
    """Run and release every stage of the plan in one engine session. Later stages spend only
    what the one charge covered: a plan that would spend more fails closed."""
    spent = 0.0
    with pinned_tables(service, policy) as tables, \
            service.engine.session(tables, service.limits) as session:
        while True:
            spent += _spending(steps, epsilon)
            if spent > 0 and (epsilon is None or spent > epsilon * (1 + _SLACK)):
                raise CleanroomError()
            out = plan.finish(tuple(release(service, policy, session, s) for s in steps))
            if isinstance(out, Table):
                return out
            plan, steps = out, verify(policy, check(policy, out.steps))


def _spending(steps: tuple[Checked, ...], epsilon: float | None) -> float:
    """What a stage spends; a request granted an epsilon releases nothing exact (``required``
    mode never answers exactly), whatever its planner planned."""
    if epsilon is not None and any(isinstance(s, ExactStep) for s in steps):
        raise CleanroomError()
    return sum(s.epsilon for s in steps if isinstance(s, NoisedStep))


def release(service: Service, policy: Policy, session: Session, step: Checked) -> Released:
    """Run one step and let out only what its release rule allows."""
    rules = policy.query_rules
    if isinstance(step, InternalStep):
        internal = session.stream(step.sql, list, params=step.params)
        return Released([], [], 0, [], [], internal=ExactResult((), internal))
    if isinstance(step, ExactStep):
        k, cap = rules.min_users_per_row, service.limits.max_rows
        rows = screened(session, step, k, cap) or session.scan(
            step.sql, lambda columns, found: gather(
                columns, found, counted=step.people_column is not None, min_users=k,
                max_rows=cap), params=step.params)
        thresholded = release_thresholded(
            rows.result, people_column=step.people_column, min_users=k, limit=step.limit,
            offset=step.offset, cell_flags=step.cell_flags, compare_rows=step.compare_rows,
            withheld=rows.withheld)
        return Released(_named(session, step, thresholded.columns), thresholded.rows,
                        thresholded.suppressed_rows,
                        list(thresholded.row_status),
                        [list(c) for c in thresholded.withheld_cells])
    q = step.query
    noised = session.stream(q.sql, lambda rows: release_dp(
        rows, q.columns, step.noise, min_users=rules.min_users_per_row,
        max_groups_per_user=rules.max_groups_per_user, rng=service.rng or make_rng(),
        order=q.order, limit=q.limit, offset=q.offset, max_rows=service.limits.max_rows),
        params=step.params)
    # How many groups were held back is itself exact: under DP it is not released.
    return Released(_named(session, step, noised.columns), noised.rows, None,
                    ["noised"] * len(noised.rows), [],
                    noised.intervals, describe_plan(step.noise), noised.truncated)


def screened(session: Session, step: ExactStep, min_users: int, max_rows: int) -> Gathered | None:
    """The step's screen (``gate/screen.py``), when it certifies that every row's people
    counts reach the threshold: then its release is the exact query's. None: run the exact
    query (no screen, a screen this engine cannot bind, or a row it cannot certify). The cap
    counts the certified rows only (``release.gather``)."""
    if step.screen is None or session.names(step.screen) is None:
        return None
    found = session.scan(step.screen, lambda columns, rows: gather(
        columns, rows, counted=True, min_users=min_users, max_rows=max_rows),
        params=step.params)
    if found.dropped:
        return None
    result = found.result
    return Gathered(ExactResult(result.columns[:-1], [row[:-1] for row in result.rows]), 0, 0)


def _named(session: Session, step: ExactStep | NoisedStep, columns: Sequence[str]) -> list[str]:
    return engine_names(session.names(step.named_by) if step.named_by is not None else None,
                        columns)


def engine_names(names: tuple[str, ...] | None, columns: Sequence[str]) -> list[str]:
    """The released columns under the names the engine gives the analyst's own SQL (raw
    DuckDB's header: ``count_star()``, a CTE column as its alias was spelled), where it can
    tell them, one per column and all different; otherwise the gate's.

    >>> engine_names(("channel", "count_star()"), ["channel", "COUNT(*)"])
    ['channel', 'count_star()']
    >>> engine_names(("n", "n"), ["n", "n_1"]), engine_names(None, ["a"])
    (['n', 'n_1'], ['a'])
    """
    if names is None or len(names) != len(columns) or len(set(names)) != len(names):
        return list(columns)
    return list(names)


def answer_body(query_id: str, table: Table, epsilon: float | None,
                remaining: float | None, version: int = POLICY_VERSION) -> dict[str, Any]:
    """The keys every answer has (CONTRACT.md §3), then the planner's own."""
    body: dict[str, Any] = {
        "query_id": query_id, "columns": table.columns, "rows": table.rows,
        "suppressed_rows": table.suppressed_rows,
        "epsilon_spent": 0.0 if epsilon is None else epsilon,
        "row_status": table.row_status, "withheld_cells": table.withheld_cells,
        "confidence_intervals": table.intervals, "policy_version": version}
    if epsilon is not None:
        body["epsilon_remaining"] = remaining
    return {**body, **table.extra}


@contextmanager
def audited(service: Service, who: Identity, action: str, query_id: str,
            detail: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One audit entry for the request: refused (and re-raised) or answered."""
    info = dict(detail)
    try:
        yield info
    except CleanroomError as exc:
        audit_decision(service, who, action, exc, query_id=query_id, detail=info)
        raise
    audit_decision(service, who, action, None, query_id=query_id, detail=info)


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
                                           query_id, info,
                                           service.version_of(who.collaboration)))


# -- SQL queries ---------------------------------------------------------------------------
def run_sql(service: Service, who: Identity, collaboration: str, sql: str,
            epsilon: float | None = None) -> Answer:
    detail = {"sql": sql, "epsilon": epsilon}
    return answer(service, who, collaboration, Request(
        "query", epsilon, detail, lambda _, granted: plan_sql(sql, granted)))


def check_sql(service: Service, who: Identity, collaboration: str, sql: str,
              epsilon: float | None = None) -> CheckAnswer:
    """The gate's decision, the SQL that would run and, under DP, the noise plan: the same
    authorize, plan, check and verify stages as /queries; it runs nothing and spends nothing."""
    policy = authorize(service, who, collaboration, "analyst")
    try:
        epsilon = epsilon_for(policy, epsilon)
        (step,) = verify(policy, check(policy, plan_sql(sql, epsilon).steps))
    except QueryRejected as exc:
        audit_decision(service, who, "check", exc, detail={"sql": sql})
        return CheckAnswer(decision="rejected", violations=[v.as_dict() for v in exc.violations],
                           policy_version=service.version_of(collaboration))
    audit_decision(service, who, "check", None, detail={"sql": sql, "epsilon": epsilon})
    described = _described(step)
    described["columns"] = engine_names(
        service.engine.names(tables_for(policy, {}), sql), described["columns"])
    return CheckAnswer.model_validate({
        "decision": "accepted", "violations": [], "epsilon": epsilon,
        "policy_version": service.version_of(collaboration),
        "min_users_per_row": policy.query_rules.min_users_per_row, **described})


def _described(step: Checked) -> dict[str, Any]:
    if isinstance(step, ExactStep):
        return {"columns": list(step.columns), "mode": step.mode, "sql": step.sql}
    assert isinstance(step, NoisedStep)
    return {"columns": [c.name for c in step.query.columns], "mode": "private",
            "sql": step.query.sql, "noise": describe_plan(step.noise)}


# -- tables, uploads, budget, audit ------------------------------------------------------
@contextmanager
def pinned_tables(service: Service, policy: Policy) -> Iterator[list[TableSpec]]:
    """The sandbox's views over the current versions, pinned and verified for the block's
    duration: no upload or retention removes a file under a running request, and a missing
    or damaged file is ``QueryFailed``, never an empty table."""
    with service.store.lease(policy.collaboration) as current:
        yield tables_for(policy, current)


def tables_for(policy: Policy, current: dict[str, DatasetVersion]) -> list[TableSpec]:
    """The sandbox's views: ``current`` versions, banned columns left out, metrics clamped,
    the user_key as its surrogate (``engine/native.py``)."""
    specs = []
    for name, ds in policy.datasets.items():
        cols = tuple(column_spec(c, col) for c, col in ds.columns.items()
                     if col.kind is not Kind.BANNED)
        version = current.get(name)
        path = version.path if version else Path("/nonexistent")
        specs.append(TableSpec(name, path, cols))
    return specs


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
                   raw: Path, fmt: str, *, salt_fingerprint: str | None = None,
                   longest_line: int | None = None) -> dict[str, Any]:
    spec = upload_target(service, who, collaboration, dataset)
    staged = service.store.staging_path(".parquet")
    try:
        service.store.check_salt(collaboration, salt_fingerprint)  # before the data is read
        valid = validate_upload(raw, fmt, spec, staged, limits=service.settings.upload,
                                longest_line=longest_line)
        version = service.store.publish(collaboration, dataset, staged, valid.rows,
                                        salt_fingerprint=salt_fingerprint)
    except CleanroomError as exc:
        audit_decision(service, who, "upload", exc, detail={"dataset": dataset})
        raise
    finally:
        staged.unlink(missing_ok=True)
    audit_decision(service, who, "upload", None, detail={"dataset": dataset, "rows": version.rows,
                                                 "version": version.version})
    return {"dataset": dataset, "rows": version.rows, "version": version.version}


def budget_of(service: Service, who: Identity, collaboration: str, *,
              party: str | None = None) -> BudgetAnswer:
    """An analyst's budget: its own, or for compliance the analyst ``party`` names (or the only
    analyst party)."""
    target = _budget_party(service, who, collaboration, party)
    policy = service.policies[collaboration]
    spent = service.ledger.spent(collaboration, target)
    budget = policy.privacy.epsilon_budget
    return BudgetAnswer(party=target, epsilon_budget=budget, epsilon_spent=spent,
                        epsilon_remaining=max(0.0, budget - spent),
                        history=service.ledger.history(collaboration, target),
                        policy_version=service.version_of(collaboration))


def _budget_party(service: Service, who: Identity, collaboration: str, party: str | None) -> str:
    policy = authorize(service, who, collaboration, "analyst"
                       if not _holds(service, who, collaboration, "compliance") else "compliance")
    if policy.has_role(who.party, "analyst") and party in (None, who.party):
        return who.party
    if not policy.has_role(who.party, "compliance"):
        raise Forbidden(message="an analyst reads only its own budget")
    analysts = [p.name for p in policy.parties if "analyst" in p.roles]
    if party is None and len(analysts) == 1:
        return analysts[0]
    if party not in analysts:
        raise InvalidRequest([Violation("invalid_field", "query parameter party must name an "
                                        f"analyst party: {', '.join(analysts) or 'none'}")])
    return party


def _holds(service: Service, who: Identity, collaboration: str, role: str) -> bool:
    policy = service.policies.get(collaboration)
    return policy is not None and policy.has_role(who.party, role)


def read_audit(service: Service, who: Identity, collaboration: str,
               where: audit.AuditFilter | None = None) -> list[dict[str, Any]]:
    """Compliance reads every entry; a provider the entries of the requests that read one of
    its datasets (CONTRACT.md §4); any other party nothing."""
    policy = authorize(service, who, collaboration, "compliance", "provider")
    where = where or audit.AuditFilter()
    if not policy.has_role(who.party, "compliance"):
        own = tuple(sorted(n for n, d in policy.datasets.items() if d.provider == who.party))
        where = dataclasses.replace(where, datasets=own)
    return audit.read(service.store, collaboration, where=where)


__all__ = ["InvalidUpload", "PrivateQuery", "Request", "Service", "answer", "authorize",
           "catalog_for", "check_sql", "describe_plan", "plan_private_query", "read_audit",
           "run_sql", "upload_dataset"]
