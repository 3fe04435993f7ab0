"""What a party may learn about its collaboration without asking for data: the parties, the
datasets with their columns, kinds, current versions and row counts, and the rules
(``GET /v1/collaborations/{c}``, CONTRACT.md §4); and the refusal of a request that reads a
dataset nobody has uploaded yet, which would otherwise answer with no rows as if the data
held nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from cleanroom.answers import POLICY_VERSION, Typed
from cleanroom.errors import CleanroomError, QueryRejected
from cleanroom.gate.parse import parse_query
from cleanroom.gate.rules import violation
from cleanroom.planners.base import Checked, ExactStep, InternalStep, NoisedStep, SqlStep, Step
from cleanroom.policy import Dataset, Kind, Policy
from cleanroom.store import DatasetVersion


class CollaborationAnswer(Typed):
    """``GET /v1/collaborations/{c}``: the policy as every party may read it, with each dataset's
    current version and rows (``null`` until it is uploaded)."""

    collaboration: str
    policy_version: int
    party: str  # who asked
    parties: list[dict[str, Any]]
    datasets: dict[str, dict[str, Any]]
    query_rules: dict[str, Any]
    privacy: dict[str, Any]


def describe_collaboration(policy: Policy, current: dict[str, DatasetVersion], *,
                           party: str, version: int = POLICY_VERSION) -> CollaborationAnswer:
    return CollaborationAnswer(
        collaboration=policy.collaboration, policy_version=version, party=party,
        parties=[{"name": p.name, "roles": list(p.roles)} for p in policy.parties],
        datasets={name: _dataset(ds, current.get(name)) for name, ds in policy.datasets.items()},
        query_rules=policy.query_rules.model_dump(), privacy=policy.privacy.model_dump())


def _dataset(spec: Dataset, version: DatasetVersion | None) -> dict[str, Any]:
    columns: dict[str, dict[str, Any]] = {}
    for name, col in spec.columns.items():
        columns[name] = {"kind": col.kind.value, "type": col.sql_type}
        if col.kind is Kind.METRIC and col.bounds is not None:
            columns[name]["bounds"] = list(col.bounds)
    return {"provider": spec.provider, "columns": columns, "uploaded": version is not None,
            "version": None if version is None else version.version,
            "rows": None if version is None else version.rows}


def require_uploaded(policy: Policy, uploaded: Iterable[str], steps: tuple[Checked, ...]) -> None:
    """Refuse (422 ``query_rejected``, rule ``not_uploaded``) a plan that reads a dataset with no
    current version. The SQL is parsed only when some dataset is missing: the usual case costs
    nothing. Dataset names are the policy's, never data."""
    missing = set(policy.datasets) - set(uploaded)
    if not missing:
        return
    read = set().union(*(_tables_read(_sql_of(s)) for s in steps)) if steps else set()
    absent = sorted(read & missing)
    if absent:
        names = ", ".join(absent)
        raise QueryRejected([violation("not_uploaded", names)],
                            message=f"the request reads a dataset that has not been uploaded "
                                    f"yet: {names}")


def _sql_of(step: Checked) -> str:
    if isinstance(step, NoisedStep):
        return step.query.sql
    assert isinstance(step, ExactStep | InternalStep)
    return step.sql


def _tables_read(sql: str) -> set[str]:
    """Names of the tables the SQL reads that are not its own CTEs."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError:  # checked SQL always parses: nothing to say here
        return set()
    return set().union(*(_tables_of(tree) for tree in trees))


def _tables_of(tree: exp.Expr) -> set[str]:
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}


def datasets_read(policy: Policy, steps: Sequence[Step | Checked]) -> list[str]:
    """The policy's datasets that a plan's steps read, for the audit: a provider reads the
    entries of the requests on its datasets (CONTRACT.md §4). A checked step says what the
    gate saw it read; a trusted planner's SQL is parsed; an analyst's SQL that the gate
    refused goes through the gate's own parser and limits (what it refuses names nothing)."""
    read: set[str] = set()
    for step in steps:
        if isinstance(step, ExactStep | NoisedStep) and step.tables:
            read |= set(step.tables)
        elif isinstance(step, SqlStep):
            try:
                read |= _tables_of(parse_query(step.sql))
            except CleanroomError:
                continue
        else:
            read |= _tables_read(_sql_of(step))
    return sorted(read & set(policy.datasets))
