"""The SQL planner: an analyst's query (or an analytic's) as a plan of one ``SqlStep``, and the
check that turns such a step into checked SQL, through the gate (exact) or the gate and the
contribution bounding of ``privacy`` (DP). ``plan_private_query`` and ``describe_plan`` are thin
wrappers over ``privacy``; nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cleanroom.engine import ColumnSpec
from cleanroom.gate import Catalog, K, check_query
from cleanroom.gate.analyse import analyse_query
from cleanroom.gate.parse import parse_query
from cleanroom.gate.rewrite import rewrite_inner
from cleanroom.hidden import has_person_counts
from cleanroom.planners.base import ExactStep, NoisedStep, Plan, SqlStep, only
from cleanroom.policy import WHOLE_TYPES, Column, Kind, Policy
from cleanroom.privacy.dp_release import describe_noise, noise_plan
from cleanroom.privacy.dp_sql import (
    DPQuery,
    bound_contributions,
    dp_columns,
    dp_order,
    people_cap,
)
from cleanroom.privacy.mechanisms import NoisePlan

_KINDS = {Kind.USER_KEY: K.UID, Kind.DIMENSION: K.DIM, Kind.METRIC: K.MET, Kind.BANNED: K.BANNED}


def plan_sql(sql: str, epsilon: float | None) -> Plan:
    """An analyst's query: one step, its answer as released."""
    return Plan((SqlStep(sql, epsilon),), only)


def column_spec(name: str, column: Column) -> ColumnSpec:
    """What the engine's view of a policy column is built from (``pipeline.tables_for``)."""
    return ColumnSpec(name, column.sql_type, column.bounds, column.kind is Kind.USER_KEY)


def view_type(name: str, column: Column) -> str:
    """A column's type in the sandbox's view: a clamped metric is DOUBLE, a user_key its
    124-bit surrogate (engine/duckdb.py). The gate types comparisons by it (gate/types.py)."""
    return column_spec(name, column).view_type


def catalog_for(policy: Policy) -> Catalog:
    return Catalog.of({name: {c: _KINDS[col.kind] for c, col in ds.columns.items()}
                       for name, ds in policy.datasets.items()},
                      {name: {c: col.bounds for c, col in ds.columns.items() if col.bounds}
                       for name, ds in policy.datasets.items()},
                      types={name: {c: view_type(c, col)
                                    for c, col in ds.columns.items()}
                             for name, ds in policy.datasets.items()},
                      whole={name: {c for c, col in ds.columns.items()
                                    if col.kind is Kind.METRIC and col.sql_type in WHOLE_TYPES}
                             for name, ds in policy.datasets.items()})


def check_sql_step(policy: Policy, step: SqlStep) -> ExactStep | NoisedStep:
    """The gate's decision on one step (QueryRejected listing every violation)."""
    if step.epsilon is None:
        checked = check_query(step.sql, catalog_for(policy),
                              min_users=policy.query_rules.min_users_per_row)
        return ExactStep(checked.sql, checked.columns, checked.people_column, checked.limit,
                         checked.offset, mode=checked.mode.value, cell_flags=checked.cell_flags,
                         compare_rows=checked.compare_rows, named_by=step.sql,
                         screen=checked.screen, tables=checked.tables)
    private = plan_private_query(policy, step.sql, step.epsilon)
    return NoisedStep(private.query, private.plan, step.epsilon, named_by=step.sql,
                      tables=private.tables)


@dataclass(frozen=True)
class PrivateQuery:
    query: DPQuery
    plan: NoisePlan
    tables: tuple[str, ...] = ()


def plan_private_query(policy: Policy, sql: str, epsilon: float) -> PrivateQuery:
    """The bounded SQL and the noise plan of a query, without running it."""
    catalog = catalog_for(policy)
    tree = parse_query(sql, catalog.types)
    counts_of_values(tree)
    shape = analyse_query(tree, catalog, private=True)
    columns = dp_columns(shape, _user_keys(policy))
    order, limit, offset = dp_order(shape, columns)
    rewrite_inner(shape, min_users=policy.query_rules.min_users_per_row)
    rules = policy.query_rules
    groups, rows = rules.max_groups_per_user, rules.max_rows_per_user_group
    plan = noise_plan(columns, epsilon=epsilon, max_groups_per_user=groups,
                      delta=policy.privacy.delta, max_rows_per_user_group=rows,
                      min_users=rules.min_users_per_row)
    # Groups are selected on their people up to a cap (dp_sql._within); without groups the
    # one row is public and its people are not read.
    cap = rules.min_users_per_row if plan.selection is None else people_cap(
        max(plan.selection.threshold, rules.min_users_per_row), plan.selection.epsilon, groups)
    bounded = bound_contributions(shape, columns, max_groups_per_user=groups,
                                  max_rows_per_user_group=rows, counted=_counted(policy),
                                  people_cap=cap)
    query = DPQuery(bounded.sql(dialect="duckdb"), columns, sum(
        1 for c in columns if c.function == "group_key"), order, limit, offset)
    return PrivateQuery(query, plan, shape.tables)


def counts_of_values(tree: exp.Expr) -> None:
    """The final SELECT's ``COUNT(x)`` of a column as ``SUM(CASE WHEN x IS NULL THEN 0 ELSE 1
    END)``, in place, named as before: the DP rewrite bounds and counts rows, and released
    ``COUNT(x)`` as ``COUNT(*)`` (NULL ``x`` counted). The sum of that indicator is the count
    the SQL means, a value in [0, 1] per row (sensitivity G x R, as a row count's), noised on
    the fixed-point grid.

    >>> import sqlglot
    >>> t = sqlglot.parse_one("SELECT k, COUNT(x), COUNT(y) AS n, COUNT(*) AS m FROM t GROUP BY k")
    >>> counts_of_values(t)
    >>> for p in t.expressions: print(p.sql())
    k
    SUM(CASE WHEN x IS NULL THEN 0 ELSE 1 END) AS "COUNT(x)"
    SUM(CASE WHEN y IS NULL THEN 0 ELSE 1 END) AS n
    COUNT(*) AS m
    """
    if not isinstance(tree, exp.Select):
        return
    for projection in list(tree.expressions):
        node = projection.unalias()
        if not (isinstance(node, exp.Count) and isinstance(node.this, exp.Column)):
            continue
        indicator = exp.Case(ifs=[exp.If(this=exp.Is(this=node.this.copy(), expression=exp.Null()),
                                         true=exp.Literal.number(0))],
                             default=exp.Literal.number(1))
        counted = exp.Sum(this=indicator)
        if projection is node:
            projection.replace(exp.alias_(counted, node.sql(dialect="duckdb"), quoted=True))
        else:
            node.replace(counted)


def describe_plan(plan: NoisePlan) -> dict[str, Any]:
    return describe_noise(plan)


def _counted(policy: Policy) -> frozenset[tuple[str, str]]:
    """The (dataset, column) pairs whose stats view holds per-person counts (``hidden.py``):
    dimensions, as the engine's ``counted_columns`` finds them from the same view types."""
    return frozenset((name, c) for name, ds in policy.datasets.items()
                     for c, col in ds.columns.items()
                     if col.kind is Kind.DIMENSION and has_person_counts(view_type(c, col)))


def _user_keys(policy: Policy) -> frozenset[str]:
    return frozenset(ds.user_key for ds in policy.datasets.values())
