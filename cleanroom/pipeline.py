"""The order of things. Only this module knows it:

    parse -> analyse -> check -> rewrite -> render   (gate)
    -> execute (engine) -> release (threshold, noise) -> charge budget -> audit
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanroom import audit
from cleanroom.audit import AuditEvent
from cleanroom.engine import ColumnSpec, Limits, TableSpec, run, sandbox
from cleanroom.errors import CleanroomError, Forbidden, InvalidUpload, NotFound, QueryRejected
from cleanroom.gate import Catalog, CheckedQuery, K, check_query
from cleanroom.gate.rules import violation
from cleanroom.policy import Kind, Policy
from cleanroom.release import Release, release_thresholded
from cleanroom.settings import Settings
from cleanroom.store import Identity, Store
from cleanroom.upload import validate_upload

_KINDS = {Kind.USER_KEY: K.UID, Kind.DIMENSION: K.DIM, Kind.METRIC: K.MET, Kind.BANNED: K.BANNED}


@dataclass(frozen=True)
class Service:
    store: Store
    policies: dict[str, Policy]
    settings: Settings

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


def tables_for(service: Service, policy: Policy) -> list[TableSpec]:
    """The sandbox's views: current versions, banned columns left out, metrics clamped."""
    current = service.store.current(policy.collaboration)
    specs = []
    for name, ds in policy.datasets.items():
        cols = tuple(ColumnSpec(c, col.sql_type, col.bounds) for c, col in ds.columns.items()
                     if col.kind is not Kind.BANNED)
        version = current.get(name)
        path = version.path if version else Path("/nonexistent")
        specs.append(TableSpec(name, path, cols))
    return specs


# -- uploads -----------------------------------------------------------------------------
def upload_dataset(service: Service, who: Identity, collaboration: str, dataset: str,
                   raw: Path, fmt: str) -> dict[str, Any]:
    policy = authorize(service, who, collaboration, "provider")
    spec = policy.datasets.get(dataset)
    if spec is None:
        raise NotFound()
    if spec.provider != who.party:
        raise Forbidden(message="only the dataset's provider may upload it")
    staged = service.store.staging_path(".parquet")
    try:
        valid = validate_upload(raw, fmt, spec, staged)
        version = service.store.publish(collaboration, dataset, staged, valid.rows)
    except CleanroomError as exc:
        _audit(service, who, "upload", exc, detail={"dataset": dataset})
        raise
    finally:
        staged.unlink(missing_ok=True)
    _audit(service, who, "upload", None, detail={"dataset": dataset, "rows": version.rows,
                                                 "version": version.version})
    return {"dataset": dataset, "rows": version.rows, "version": version.version}


# -- queries -----------------------------------------------------------------------------
def check_sql(service: Service, who: Identity, collaboration: str, sql: str) -> dict[str, Any]:
    """The gate's decision without running anything."""
    policy = authorize(service, who, collaboration, "analyst")
    try:
        checked = _check(policy, sql)
    except QueryRejected as exc:
        _audit(service, who, "check", exc, detail={"sql": sql})
        return {"decision": "rejected", "violations": [v.as_dict() for v in exc.violations]}
    _audit(service, who, "check", None, detail={"sql": sql})
    return {"decision": "accepted", "violations": [], "sql": checked.sql,
            "columns": list(checked.columns), "mode": checked.mode.value,
            "min_users_per_row": policy.query_rules.min_users_per_row}


def _check(policy: Policy, sql: str) -> CheckedQuery:
    return check_query(sql, catalog_for(policy), min_users=policy.query_rules.min_users_per_row)


def run_sql(service: Service, who: Identity, collaboration: str, sql: str,
            epsilon: float | None = None) -> dict[str, Any]:
    policy = authorize(service, who, collaboration, "analyst")
    query_id = uuid.uuid4().hex
    detail: dict[str, Any] = {"sql": sql, "epsilon": epsilon}
    try:
        _refuse_epsilon(policy, epsilon)
        checked = _check(policy, sql)
        with sandbox(tables_for(service, policy), service.limits) as con:
            exact = run(con, checked.sql, service.limits)
        release = release_thresholded(exact, people_column=checked.people_column,
                                      min_users=policy.query_rules.min_users_per_row,
                                      limit=checked.limit, offset=checked.offset)
    except CleanroomError as exc:
        _audit(service, who, "query", exc, query_id=query_id, detail=detail)
        raise
    detail.update(rows=len(release.rows), suppressed_rows=release.suppressed_rows,
                  tables=list(checked.tables))
    _audit(service, who, "query", None, query_id=query_id, detail=detail)
    return _answer(query_id, release, epsilon_spent=0.0)


def _refuse_epsilon(policy: Policy, epsilon: float | None) -> None:
    mode = policy.privacy.differential_privacy
    if epsilon is not None or mode == "required":
        # Differential privacy has its own stage; until a query can be noised it is refused
        # rather than answered exactly.
        raise QueryRejected([violation("dp_unsupported", "differentially private answers")])


def _answer(query_id: str, release: Release, *, epsilon_spent: float) -> dict[str, Any]:
    return {"query_id": query_id, "columns": list(release.columns), "rows": release.rows,
            "suppressed_rows": release.suppressed_rows, "epsilon_spent": epsilon_spent}


def _audit(service: Service, who: Identity, action: str, error: CleanroomError | None, *,
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
