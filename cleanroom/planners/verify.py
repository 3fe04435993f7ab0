"""Verify a noised step before it is charged or run, like ``gate.rewrite.verify_rewrite``
re-checks the exact rewrite: the bounded SQL is parsed again and every aggregate it releases
must be bounded as its noise plan assumes. Anything unexpected refuses (fail closed).

- the noise plan has one entry per released aggregate, by name, and spends no more than the
  step's epsilon;
- the outer SELECT reads only ``__cr_bounded`` (each person in at most G groups and R rows per
  group) and projects the group keys, one people count, then a (SUM, COUNT) pair per row
  count, sum or average;
- each summed value is, in ``__cr_clamped``, exactly ``dp_sql.quantized_sql`` of the column's
  range (a metric's bounds or an expression's public range: clamped to it, in quanta of its
  fixed-point grid), and the plan noises it on that range with at least
  the sensitivity it gives (range times R rows, in G groups);
- the SQL keeps at most the plan's R rows per person and group and G groups per person.

A trusted planner's step (``bounded_by_gate=False``: attribution, whose bound is one credit per
person by construction) gets the plan and shape checks, and each entry must noise its column's
range with at least that range's magnitude (G = R = 1: a person's credits sum to one).

A trusted planner's SQL (attribution's window functions, ANTI JOIN and parameters are not
free SQL's) does not meet the gate's rules, but ``verify_trusted`` re-reads it: one query that
reads nothing but the policy's datasets and its own CTEs (no file, no table function), reads from
each dataset only columns the policy has and does not ban (never ``*``), and, when thresholded,
has the people count as its last column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.functions import SCALAR_FUNCTIONS, function_key
from cleanroom.gate.rules import violation
from cleanroom.hidden import person_most, person_values, stats_view
from cleanroom.planners.base import NoisedStep
from cleanroom.policy import Kind
from cleanroom.privacy.dp_release import SHARED_COUNT
from cleanroom.privacy.dp_sql import (
    PEOPLE,
    DPColumn,
    quantized_sql,
    row_keys,
    within_bounds,
    within_ctes,
)
from cleanroom.privacy.mechanisms import ContributionBounds

_SLACK = 1e-9
_PAIRED = ("count", "sum", "avg")  # released as a (total, count) pair
_ROWS = "__cr_n"  # a person's bounded rows in a group, in ``__cr_bounded``
_KIND = {"people": "count", "count": "count", "sum": "sum", "avg": "avg"}


def _unverified(detail: str) -> QueryRejected:
    return QueryRejected([violation("dp_unsupported", f"the bounded query did not verify: "
                                    f"{detail}")])


def verify_noised(step: NoisedStep, *, policy_bounds: tuple[int, int] | None = None,
                  user_keys: Mapping[str, str] | None = None) -> None:
    """Raise QueryRejected (``dp_unsupported``) unless ``step`` is bounded as its plan says.
    ``policy_bounds``: the policy's (max_groups_per_user, max_rows_per_user_group), which a
    gate-bounded step's plan must state; ``user_keys``: each dataset's user_key column, which
    the form that skips the ranking must take as the person (else any column of its view)."""
    columns = step.query.columns
    aggregates = [c for c in columns if c.function != "group_key"]
    _verify_plan(step, aggregates)
    select = _outer(step.query.sql)
    values = [c for c in aggregates if c.function in _PAIRED]
    if len(select.expressions) != step.query.key_count + 1 + 2 * len(values):
        raise _unverified("the released columns do not match the noise plan")
    if step.bounded_by_gate:
        bounds = _verify_sensitivities(step, aggregates, policy_bounds)
        within = _verify_bounding(select, columns)
        if within is not None:
            _verify_within(select, columns, bounds, cap=within, tables=step.tables,
                           user_keys=user_keys)
        _verify_limits(select, bounds, rows=bool(values), groups=step.query.key_count > 0,
                       ranking="__cr_bounded" if within is None else "__cr_slow")
    else:  # a trusted planner's bound: one person's credits add up to one, in the whole answer
        _verify_entries(step, aggregates, groups=1, rows=1)


def verify_trusted(sql: str, datasets: Mapping[str, Mapping[str, Kind]], *,
                   people_column: str | None) -> None:
    """Raise QueryRejected unless trusted SQL reads only ``datasets`` and its CTEs, and every
    column it reads from a dataset is one of its columns and not banned (the policy's column
    rule; a trusted planner picks its other names from checked options)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        raise QueryRejected([violation("unsupported_syntax", "a planner's SQL does not parse")]) \
            from None
    if not isinstance(tree, exp.Query):
        raise QueryRejected([violation("not_a_select", "a planner's SQL")])
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.args.get("db") or \
                table.name not in ctes | set(datasets):
            raise QueryRejected([violation("unknown_table", "a planner's SQL reads "
                                           "something other than the collaboration's datasets")])
    for select in tree.find_all(exp.Select):
        _verify_dataset_columns(select, datasets, ctes)
    last = tree.selects[-1] if tree.selects else None
    if people_column is not None and (last is None or last.alias_or_name != people_column):
        raise QueryRejected([violation("unsupported_syntax", "a planner's SQL has no people "
                                       "count to threshold its rows by")])


def _verify_dataset_columns(select: exp.Select, datasets: Mapping[str, Mapping[str, Kind]],
                            ctes: set[str]) -> None:
    """A SELECT that reads a dataset directly names only its allowed columns, never ``*``."""
    sources = [t for t in _own(select, exp.Table) if t.name not in ctes]
    if not sources:
        return
    read = {t.alias_or_name: datasets[t.name] for t in sources}
    only = next(iter(read.values())) if len(read) == 1 and len(sources) == len(
        list(_own(select, exp.Table))) else None
    for column in _own(select, exp.Column):
        if isinstance(column.this, exp.Star):
            raise _bad_column()
        kinds = read.get(column.table) if column.table else only
        if kinds is None:
            continue  # a CTE's column, checked where that CTE read the dataset
        if kinds.get(column.name, Kind.BANNED) is Kind.BANNED:
            raise _bad_column()
    if any(isinstance(e, exp.Star) for e in select.expressions):
        raise _bad_column()


def _own(select: exp.Select, kind: type[exp.Expr]) -> Iterator[Any]:
    """The nodes of ``kind`` in ``select`` itself, not in the queries nested in it."""
    for node in select.find_all(kind):
        if node.find_ancestor(exp.Select) is select:
            yield node


def _bad_column() -> QueryRejected:
    return QueryRejected([violation("banned_column", "a planner's SQL reads a column the "
                                    "policy does not let out of its dataset")])


def _verify_plan(step: NoisedStep, aggregates: list[DPColumn]) -> None:
    plan = step.noise
    if [e.name for e in plan.entries] != [c.name for c in aggregates]:
        raise _unverified("the noise plan does not name the released aggregates")
    spent = sum(e.epsilon for e in plan.entries if e.mechanism != SHARED_COUNT)
    spent += plan.selection.epsilon if plan.selection is not None else 0.0
    if spent > step.epsilon * (1 + _SLACK) or plan.epsilon > step.epsilon * (1 + _SLACK):
        raise _unverified("the noise plan spends more than the step's epsilon")
    if any(not e.sensitivity > 0 or not e.epsilon > 0 for e in plan.entries):
        raise _unverified("an aggregate without noise")
    if step.query.key_count and plan.selection is None:
        raise _unverified("groups without private selection")


def _verify_sensitivities(step: NoisedStep, aggregates: list[DPColumn],
                          policy_bounds: tuple[int, int] | None) -> ContributionBounds:
    """Each entry noises its column's kind, on the column's range, with at least the
    sensitivity that range and the bounds give: one person moves a cell by at most 1 (people),
    R (rows, and an average's count), or R * max(|lo|, |hi|) (a sum), in at most G cells."""
    bounds = step.noise.bounds
    if bounds is None:
        raise _unverified("the noise plan states no contribution bounds")
    if policy_bounds is not None and (bounds.max_groups_per_user,
                                      bounds.max_rows_per_user_group) != policy_bounds:
        raise _unverified("the noise plan's contribution bounds are not the policy's")
    ranged = tuple((c.name, c.lower, c.upper) for c in aggregates if c.function in ("sum", "avg"))
    if bounds.metric_bounds != ranged:
        raise _unverified("the noise plan's value ranges are not the columns' ranges")
    groups = bounds.max_groups_per_user if step.query.key_count else 1
    _verify_entries(step, aggregates, groups=groups, rows=bounds.max_rows_per_user_group)
    return bounds


def _verify_entries(step: NoisedStep, aggregates: list[DPColumn], *, groups: int,
                    rows: int) -> None:
    """Per entry: its column's kind and range, and at least ``groups`` times the per-cell move."""
    for col, entry in zip(aggregates, step.noise.entries, strict=True):
        spec = entry.spec
        if spec.kind != _KIND[col.function]:
            raise _unverified(f"column {col.name} is noised as another kind of aggregate")
        if spec.kind != "count" and (spec.lower, spec.upper) != (col.lower, col.upper):
            raise _unverified(f"column {col.name} is noised on another range than its clamp")
        per_cell = {"people": 1.0, "count": rows, "avg": rows,
                    "sum": rows * max(abs(col.lower), abs(col.upper))}[col.function]
        if spec.sensitivity < groups * per_cell * (1 - _SLACK):
            raise _unverified(f"column {col.name} is noised below its sensitivity")


def _verify_limits(select: exp.Select, bounds: ContributionBounds, *, rows: bool,
                   groups: bool, ranking: str = "__cr_bounded") -> None:
    """The row and group bounds in the SQL are the plan's: ``__cr_crowded`` takes everyone over
    either bound (``COUNT(*) > G OR MAX(__cr_n) > R``, nothing else), and every ranking keeps at
    most that many (rows in ``__cr_kept``, groups in ``__cr_bounded``)."""
    ctes = {cte.alias: cte.this for cte in (select.args["with_"].expressions
                                            if select.args.get("with_") else [])}
    if not rows and not groups:
        return
    crowded = ctes.get("__cr_crowded")
    having = crowded.args.get("having") if isinstance(crowded, exp.Select) else None
    if having is None:
        raise _unverified("no __cr_crowded")
    over = list(having.this.flatten()) if isinstance(having.this, exp.Or) else [having.this]
    found: dict[str, list[int | None]] = {}
    for node in over:
        if not isinstance(node, exp.GT) or _integer(node.expression) is None:
            raise _unverified("__cr_crowded takes other people than those over a bound")
        if isinstance(node.this, exp.Count) and isinstance(node.this.this, exp.Star):
            found.setdefault("groups", []).append(_integer(node.expression))
        elif _aggregates(node.this, exp.Max, _ROWS):
            found.setdefault("rows", []).append(_integer(node.expression))
        else:
            raise _unverified("__cr_crowded takes other people than those over a bound")
    wanted = ([("rows", "__cr_kept", bounds.max_rows_per_user_group)] if rows else [])
    wanted += [("groups", ranking, bounds.max_groups_per_user)] if groups else []
    if set(found) != {name for name, _, _ in wanted}:
        raise _unverified("__cr_crowded does not test the plan's bounds")
    for name, kept, limit in wanted:
        if kept not in ctes:
            raise _unverified(f"no {kept}")
        ranked = [n for n in ctes[kept].find_all(exp.LTE) if isinstance(n.this, exp.Window)]
        if not ranked or {_integer(n.expression) for n in ranked} | set(found[name]) != {limit}:
            raise _unverified(f"{kept} keeps another number than the plan's bound")


def _integer(node: exp.Expr) -> int | None:
    return int(node.name) if isinstance(node, exp.Literal) and node.is_int else None


def _outer(sql: str) -> exp.Select:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        raise _unverified("it does not parse") from None
    if not isinstance(tree, exp.Select):
        raise _unverified("it is not a SELECT")
    return tree


def _verify_bounding(select: exp.Select, columns: tuple[DPColumn, ...]) -> int | None:
    """The outer SELECT's reads; the people cap of ``dp_sql._within``'s form (None: every
    person ranked, the people counted with ``COUNT(*)``)."""
    source = select.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or \
            source.this.name != "__cr_bounded" or select.args.get("joins"):
        raise _unverified("the aggregates do not read the bounded rows")
    keys = sum(1 for c in columns if c.function == "group_key")
    people = select.expressions[keys]
    cap = _people_cap(people.unalias())
    if people.alias_or_name != PEOPLE or not (isinstance(people.unalias(), exp.Count)
                                              or cap is not None):
        raise _unverified("no people count")
    quantized = _quantized(select)
    pairs = iter(select.expressions[keys + 1:])
    for i, col in enumerate(columns):
        if col.function not in _PAIRED:
            continue
        total, count = next(pairs), next(pairs)
        if col.function == "count":  # rows: the bounded per-person row counts, summed
            if not (_aggregates(total, exp.Sum, _ROWS) and _aggregates(count, exp.Sum, _ROWS)):
                raise _unverified(f"column {col.name} is not counted from the bounded rows")
            continue
        if not (_aggregates(total, exp.Sum, f"__cr_s{i}")
                and _aggregates(count, exp.Sum, f"__cr_c{i}")):
            raise _unverified(f"column {col.name} is not summed from its bounded value")
        # each row must be exactly its value clamped to the column's range, in quanta of the
        # plan's grid (a clamp alone bounds nothing once a row is scaled or shifted after it)
        ref = f"__cr_v{i}"
        if quantized.get(ref) != _sql(sqlglot.parse_one(quantized_sql(ref, col), read="duckdb")):
            raise _unverified(f"column {col.name} is not in quanta of its bounds")
    return cap


def _quantized(select: exp.Select) -> dict[str, str]:
    """``__cr_clamped``'s projections, by alias, as comparable text."""
    with_ = select.args.get("with_")
    return {p.alias: _sql(p.unalias()) for cte in (with_.expressions if with_ else [])
            if cte.alias == "__cr_clamped" and isinstance(cte.this, exp.Select)
            for p in cte.this.expressions if isinstance(p, exp.Alias)}


def _people_cap(node: exp.Expr) -> int | None:
    """``cap`` of ``LEAST(SUM(__cr_p), cap)``, else None."""
    if not isinstance(node, exp.Least) or len(node.expressions) != 1:
        return None
    cap = _integer(node.expressions[0])
    return cap if cap is not None and cap >= 1 and _aggregates(node.this, exp.Sum, "__cr_p") \
        else None


def _verify_within(select: exp.Select, columns: tuple[DPColumn, ...],
                   bounds: ContributionBounds, *, cap: int, tables: tuple[str, ...],
                   user_keys: Mapping[str, str] | None = None) -> None:
    """``dp_sql._within``'s form: the rows of the people whom ``__cr_safe`` (a function of their
    stored counts) puts within the plan's bounds are summed per group, everyone else is
    ranked in ``__cr_slow``. The safe test is the one ``within_bounds`` writes for these keys
    and bounds (whichever stored counts it reads: a count the view lacks fails to bind), each
    branch reads only its people, and ``__cr_within``, ``__cr_few`` and ``__cr_bounded`` are
    exactly as ``within_ctes`` writes them for this cap and the plan's R."""
    ctes = {cte.alias: cte.this for cte in (select.args["with_"].expressions
                                            if select.args.get("with_") else [])}
    rows_cte, clamped, groups_cte = (ctes.get(n) for n in ("__cr_rows", "__cr_clamped",
                                                           "__cr_user_groups"))
    if not all(isinstance(c, exp.Select) for c in (rows_cte, clamped, groups_cte)):
        raise _unverified("the bounded query's parts are missing")
    assert isinstance(rows_cte, exp.Select) and isinstance(clamped, exp.Select)
    assert isinstance(groups_cte, exp.Select)
    source = rows_cte.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or rows_cte.args.get("joins") or table.args.get("db") \
            or table.name.lower() not in {stats_view(t).lower() for t in tables}:
        # (the stats view of a dataset the gate saw the query read, not any dataset's)
        raise _unverified("the rows of people within the bounds do not read one stats view")
    _verify_one_row_each(rows_cte)
    safe = [p for p in rows_cte.expressions if p.alias_or_name == "__cr_safe"]
    alias = table.alias_or_name
    # The person is the one the stored counts are counted for: the dataset's user_key (a
    # constant or another column would merge or split people, and __cr_few counts them).
    uid = [p.unalias() for p in rows_cte.expressions if p.alias_or_name == "__cr_uid"]
    dataset = next((t for t in tables if stats_view(t).lower() == table.name.lower()), "")
    key = (user_keys or {}).get(dataset)
    if len(uid) != 1 or not isinstance(uid[0], exp.Column) or uid[0].table != alias or (
            user_keys is not None and uid[0].name != key):
        raise _unverified("__cr_uid is not the user_key of the rows read")
    read = {c.name for c in (safe[0].find_all(exp.Column) if safe else ())}
    counted = {n[len(prefix):] for n in read for prefix in (person_values(""), person_most(""))
               if n.startswith(prefix)}
    keyed = any(c.function == "group_key" for c in columns)
    expected = within_bounds(alias, row_keys(rows_cte), counted,
                             rows=bounds.max_rows_per_user_group,
                             groups=bounds.max_groups_per_user if keyed else None)
    if len(safe) != 1 or _sql(safe[0].unalias()) != _text(expected):
        raise _unverified("__cr_safe is not the test of the plan's bounds")
    passed = [p for p in clamped.expressions if p.alias_or_name == "__cr_safe"]
    if len(passed) != 1 or not isinstance(passed[0], exp.Column) or passed[0].table:
        raise _unverified("__cr_clamped does not carry __cr_safe as it is")
    outside = ctes.get("__cr_outside")
    source_of = groups_cte.args.get("from_")
    if not isinstance(outside, exp.Select) or _sql(outside) != _sql(sqlglot.parse_one(
            "SELECT * FROM __cr_clamped WHERE NOT __cr_safe")) or source_of is None or \
            _sql(source_of.this) != "__cr_outside" or groups_cte.args.get("where") or \
            groups_cte.args.get("joins"):
        raise _unverified("the ranked people are not those outside the bounds")
    for name, body in within_ctes(columns, rows=bounds.max_rows_per_user_group, cap=cap):
        if name not in ctes or _sql(ctes[name]) != _text(body):
            raise _unverified(f"{name} is not the sum of the people within the bounds")


def _verify_one_row_each(rows: exp.Select) -> None:
    """``__cr_rows`` gives one row per row of the stats view that its WHERE keeps: a person's
    stored counts bound their rows only so (the ranking would cut rows that a set-returning
    projection multiplied, ``__cr_within`` sums them as they come). Nothing groups, merges
    or repeats rows, and each function of a projection is a scalar one of the gate's
    allow-list or a class sqlglot knows that makes no rows (a scalar subquery gives one)."""
    if any(rows.args.get(a) for a in ("group", "having", "qualify", "distinct", "limit",
                                      "offset", "laterals", "joins")):
        raise _unverified("__cr_rows does not give one row per row read")
    for projection in rows.expressions:
        for node in projection.walk(prune=lambda n: isinstance(n, exp.Subquery)):
            if isinstance(node, (exp.UDTF, exp.AggFunc, exp.Window)) or (
                    isinstance(node, exp.Anonymous) and function_key(node) not in SCALAR_FUNCTIONS):
                raise _unverified("__cr_rows does not give one row per row read")


def _sql(node: exp.Expr) -> str:
    """A parsed node as comparable text."""
    return node.sql(dialect="duckdb")


def _text(node: exp.Expr) -> str:
    """A built node as the text its parse gives (as ``_sql`` of the parsed query shows it)."""
    return _sql(sqlglot.parse_one(_sql(node), read="duckdb"))


def _aggregates(node: exp.Expr, kind: type[exp.Expr], column: str) -> bool:
    inner = node.unalias()
    return isinstance(inner, kind) and isinstance(inner.this, exp.Column) and \
        inner.this.name == column

