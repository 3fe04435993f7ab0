"""Contribution bounding in SQL, for differentially private answers.

A query the gate accepted is rewritten so that, before anything is aggregated across people,
named subqueries bound what one person can move, keeping what the SQL means (``COUNT(*)``
counts rows, ``SUM`` adds every row):

- ``__cr_rows``: the final SELECT's own FROM, JOIN and WHERE, projecting the person, the group
  keys and the aggregated values;
- ``__cr_clamped``: each row's aggregated value clamped to its public range (a metric's bounds,
  or the range of an expression such as ``revenue * 0.01``) and rounded to the fixed-point grid
  (integer quanta, ``discrete.fixed_point_quantum``);
- ``__cr_user_groups``: one row per person and group: their row count and summed quanta;
- ``__cr_crowded``: the people over a bound (more than ``max_groups_per_user`` groups, or more
  than ``max_rows_per_user_group`` rows in one), found by one aggregate per person;
- ``__cr_kept``: their rows, at most ``max_rows_per_user_group`` per person and group, chosen by
  a hash of the person's own rows (so the choice never depends on anyone else), and
  ``__cr_capped`` the same per person and group;
- ``__cr_bounded``: everyone else as they are, and the crowded people each in at most
  ``max_groups_per_user`` groups, chosen at random.

The outer SELECT then sums per group; sensitivities follow from these bounds, never from the
data. Only plain ``COUNT(*)``, ``COUNT(DISTINCT user_key)``, and ``SUM`` and ``AVG`` of values
with a finite public range, over one per-person FROM, grouped by dimensions, are supported;
anything else is refused.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.guard import guard
from cleanroom.gate.model import Aggregate, Mode, QueryShape
from cleanroom.gate.ranges import Range
from cleanroom.gate.rules import violation
from cleanroom.hidden import PERSON_ROWS, person_most, person_values, stats_view
from cleanroom.privacy.discrete import fixed_point_quantum

PEOPLE = "__cr_people"


@dataclass(frozen=True)
class DPColumn:
    """One output column of a DP query and where its exact value sits in the bounded result."""

    name: str
    function: str  # group_key | people (COUNT(DISTINCT user_key)) | count (COUNT(*)) | sum | avg
    lower: float = 0.0
    upper: float = 0.0


@dataclass(frozen=True)
class DPQuery:
    sql: str
    columns: tuple[DPColumn, ...]
    key_count: int  # the first ``key_count`` result columns are group keys
    order: tuple[tuple[int, bool], ...]  # (output column index, descending)
    limit: int | None
    offset: int


# How far above the selection's threshold a group's people are counted (``_within``), in units
# of the selection noise's scale (G / epsilon): a group of more people is kept with a
# probability below exp(-40) less than its exact count would give.
CAP_SCALES = 40


def people_cap(threshold: float, epsilon: float, groups: int) -> int:
    """The count of people above which ``_within`` counts no further: ``threshold`` (the least
    noisy count a group needs) plus ``CAP_SCALES`` scales of the selection's noise.

    >>> people_cap(245.0, 0.5, 8)
    885
    """
    return math.ceil(threshold + CAP_SCALES * groups / epsilon)


def unsupported(detail: str) -> QueryRejected:
    return QueryRejected([violation("dp_unsupported", detail)])


def dp_columns(shape: QueryShape, user_keys: frozenset[str]) -> tuple[DPColumn, ...]:
    """What each output column is under DP, or why the query cannot be answered with noise.

    ``user_keys`` names the policy's user_key columns. A sum or average takes the public range
    the gate found for its argument (``ranges.py``: a metric's bounds, or what an expression of
    metrics, constants and functions can compute); the release clamps each row to it.
    """
    select = shape.tree
    if not isinstance(select, exp.Select) or shape.final_mode is not Mode.ANONYMIZING:
        raise unsupported("the query must aggregate people's rows in its final SELECT")
    inner = [p for key, p in shape.plans.items() if key != id(select)]
    if any(p.mode in (Mode.ANONYMIZING, Mode.ANON) for p in inner):
        raise unsupported("aggregates inside subqueries or CTEs")
    for clause in ("having", "qualify", "distinct"):
        if select.args.get(clause):
            raise unsupported(clause.upper())
    ranges = shape.plans[id(select)].argument_ranges
    # Output names are the gate's, as in exact answers and in queries/check.
    columns = tuple(_dp_column(agg, proj.unalias(), name, ranges, user_keys) for agg, proj, name
                    in zip(shape.final_aggregates, select.expressions, shape.columns, strict=True))
    group = select.args.get("group")
    keys = sum(1 for c in columns if c.function == "group_key")
    if group is not None and not group.args.get("all") and len(group.expressions) != keys:
        raise unsupported("every GROUP BY key must be an output column")
    if group is None and keys:
        raise unsupported("output columns that are not aggregates")
    return columns


def _dp_column(agg: Aggregate, node: exp.Expr, name: str, ranges: dict[int, Range],
               user_keys: frozenset[str]) -> DPColumn:
    if agg.function == "group_key":
        return DPColumn(name, "group_key")
    if agg.function == "count" and agg.argument is not None:
        # The bounding counts rows (``__cr_n``): COUNT(x) would be released as COUNT(*), its
        # noise and interval about a number it does not estimate (NULL x counted).
        raise unsupported(f"column {name}: COUNT of a column; under differential privacy "
                          "count rows with COUNT(*), keeping the rows you mean with a WHERE "
                          "(... WHERE x IS NOT NULL)")
    if agg.function == "count":
        return DPColumn(name, "count")
    if agg.function == "count_distinct" and agg.argument in user_keys:
        return DPColumn(name, "people")
    if agg.function in ("sum", "avg"):
        lower, upper = value_bounds(ranges.get(id(node)), name, agg.function)
        return DPColumn(name, agg.function, lower, upper)
    raise unsupported(f"column {name}")


def value_bounds(found: Range | None, name: str, function: str) -> tuple[float, float]:
    """The clamp of a summed value: its public range, widened to hold 0 when it is one
    number (a sum of a constant moves by that constant per row)."""
    if found is None or not found.bounded or found.empty:
        raise unsupported(f"column {name}: {function.upper()} of a value without a finite "
                          "public range (metric bounds, constants and functions give one); "
                          "clamp it where it is aggregated or where it is made (a per-person total), "
                          "e.g. LEAST(GREATEST(<value>, 0), 30)")
    lower, upper = found.lo, found.hi
    if lower == upper:
        lower, upper = min(lower, 0.0), max(upper, 0.0)
    if lower == upper:
        raise unsupported(f"column {name}: {function.upper()} of 0")
    # A row is summed as a whole number of quanta, times 1 / quantum (``quantized_sql``): a
    # quantum below the smallest normal double has no finite reciprocal, or is 0.
    quantum = fixed_point_quantum(float(lower), float(upper), centred=function == "avg")
    if not quantum >= sys.float_info.min or not math.isfinite(1 / quantum):
        raise unsupported(f"column {name}: {function.upper()} of values too close to 0 for the "
                          "fixed-point grid; scale them up")
    # A cell adds many rows: a bound whose sum over 2**64 rows is past the largest double
    # would overflow to infinity in the engine or in the noise (an internal error, not an answer).
    if not math.isfinite(max(abs(lower), abs(upper)) * 2.0 ** 64):
        raise unsupported(f"column {name}: {function.upper()} of values too large for the "
                          "fixed-point grid; scale them down")
    return float(lower), float(upper)


def bound_contributions(shape: QueryShape, columns: tuple[DPColumn, ...], *,
                        max_groups_per_user: int, max_rows_per_user_group: int,
                        counted: frozenset[tuple[str, str]] = frozenset(),
                        people_cap: int | None = None) -> exp.Select:
    """The bounded query: per group, exact people and row counts and sums of quanta.

    With ``people_cap`` (a query of row counts, sums and averages over one dataset, no people
    column), the people whom their stored counts (``counted``: the (dataset, column) pairs with
    per-person counts, ``hidden.py``) put within the bounds skip the ranking: ``_within``."""
    select = shape.tree
    assert isinstance(select, exp.Select)
    plan = shape.plans[id(select)]
    if plan.uid_expr is None:
        raise unsupported("no person to bound")
    keys = _names(columns, ("group_key",), "__cr_k")
    person = ["__cr_uid", *keys, "__cr_n", *_names(columns, VALUED, "__cr_s"),
              *_names(columns, VALUED, "__cr_c")]
    # A query of people counts only needs each person once per group: no row to bound.
    rows_matter = any(c.function in ("count", *VALUED) for c in columns)
    rows, groups = int(max_rows_per_user_group), int(max_groups_per_user)
    over = ([f"COUNT(*) > {groups}"] if keys else []) + (
        [f"MAX(__cr_n) > {rows}"] if rows_matter else [])
    with_ = select.args.get("with_")
    analyst = [c.copy() for c in (with_.expressions if with_ else [])]
    source = select.args["from_"].this if select.args.get("from_") else None
    simple = (rows_matter and isinstance(source, exp.Table) and not select.args.get("joins")
              and source.name not in {c.alias for c in analyst})
    within = (simple and isinstance(source, exp.Table) and not source.args.get("db")
              and people_cap is not None and not any(c.function == "people" for c in columns))
    if within:
        assert isinstance(source, exp.Table) and people_cap is not None
        ctes = _within(select, source, plan.uid_expr, columns, counted, person, over,
                       rows=rows, groups=groups if keys else None, cap=people_cap)
    else:
        ctes = [("__cr_rows", _rows_cte(select, plan.uid_expr, columns)),
                ("__cr_clamped", _clamped_cte(columns)),
                ("__cr_user_groups", _user_groups_cte(columns, "__cr_clamped"))]
        if over:
            ctes += _bounding_ctes(columns, person, over, rows=rows if rows_matter else None,
                                   groups=groups if keys else None)
        else:  # people counts without group keys: one row per person already
            ctes.append(("__cr_bounded", exp.select(*person).from_("__cr_user_groups")))
    outer = _outer_select(columns, people_cap if within else None)
    # __cr_user_groups is read twice (who is crowded, who is not): computed once. The rows of
    # one dataset are read again for the crowded people (a scan, which DuckDB narrows to their
    # keys) rather than materialised (2M rows: 0.38 s of CPU against 0.05 s); a join or an
    # analyst's CTE is left to DuckDB, which materialises what is read twice.
    materialized = {"__cr_user_groups": True, "__cr_outside": True} | (
        {"__cr_rows": False, "__cr_clamped": False} if simple else {})
    outer.set("with_", exp.With(expressions=analyst + [
        exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(name)),
                materialized=materialized.get(name))
        for name, body in ctes]))
    return outer


VALUED = ("sum", "avg")


def _names(columns: tuple[DPColumn, ...], functions: tuple[str, ...], prefix: str) -> list[str]:
    return [f"{prefix}{i}" for i, c in enumerate(columns) if c.function in functions]


def _clamped_cte(columns: tuple[DPColumn, ...]) -> exp.Select:
    """Each row's value clamped to the bounds, then (centred, for an average) rounded to an
    integer number of quanta: the exact sums are integers and one row moves them by at most
    ``2**FIXED_POINT_BITS``."""
    keys = _names(columns, ("group_key",), "__cr_k")
    values = []
    for i, col in enumerate(columns):
        if col.function in VALUED:
            values.append(f"{quantized_sql(f'__cr_v{i}', col)} AS __cr_v{i}")
    return (exp.select("__cr_uid", *keys, *values).from_("__cr_rows")
            .where("__cr_uid IS NOT NULL"))


def quantized_sql(ref: str, col: DPColumn) -> str:
    """A row's value ``ref`` clamped to ``col``'s range, centred (an average's) and as an integer
    number of quanta: ``CAST((CASE WHEN v < lo THEN lo WHEN v > hi THEN hi ELSE v END - centre)
    * (1 / quantum) AS INTEGER)``. A NULL stays NULL (the CASE's ELSE; DuckDB's LEAST and
    GREATEST skip NULLs, and a missing value is no bound). The CAST rounds half away from zero,
    as ROUND does, and a multiplication by the reciprocal costs less than a division: at 10M
    rows this form sums in 42 ms against 73 ms for ``ROUND((LEAST(GREATEST(v, lo), hi) - c) /
    q)`` (a clamped row is then within one quantum of ``hi / q = 2**FIXED_POINT_BITS``, so it
    never exceeds it after rounding). At most ``2**FIXED_POINT_BITS`` quanta either way: it fits
    an INTEGER, which DuckDB sums with 6% less CPU than a BIGINT; the sums stay HUGEINT.

    >>> quantized_sql("v", DPColumn("s", "sum", 0.0, 100.0))
    'CAST((CASE WHEN v < 0.0 THEN 0.0 WHEN v > 100.0 THEN 100.0 ELSE v END - 0.0) * 10485.76 AS INTEGER)'
    """
    centred = col.function == "avg"
    centre = (col.lower + col.upper) / 2 if centred else 0.0
    scale = 1 / fixed_point_quantum(col.lower, col.upper, centred=centred)
    return (f"CAST((CASE WHEN {ref} < {col.lower!r} THEN {col.lower!r} WHEN {ref} > {col.upper!r}"
            f" THEN {col.upper!r} ELSE {ref} END - {centre!r}) * {scale!r} AS INTEGER)")


def _bounding_ctes(columns: tuple[DPColumn, ...], person: list[str], over: list[str], *,
                   rows: int | None, groups: int | None,
                   source: str = "__cr_clamped") -> list[tuple[str, exp.Query]]:
    """Keep at most ``rows`` rows per person and group and each person in at most ``groups``
    groups, ranking only the people who need it.

    ``__cr_user_groups`` already holds every person's exact rows per group. One aggregate of
    it per person finds who is over a bound (``__cr_crowded``: more than ``groups`` groups, or
    more than ``rows`` rows in one); everyone else keeps all they have, as they are. The
    crowded people's rows are read again and ranked exactly, per person and group by a hash of
    the row's own values (``__cr_kept``: a fixed order that depends on nothing but that
    person's rows; ties are identical rows, so which one is kept makes no difference), then
    summed per person and group and ranked per person at random (``__cr_bounded``), which
    keeps everything of anyone within a bound. Ranking every person's rows or groups (a window
    over all of them) took three times as long; the per-person aggregate is exact (by the
    person, no hash bucket), and both branches always run."""
    keys = _names(columns, ("group_key",), "__cr_k")
    values = _names(columns, VALUED, "__cr_v")
    crowded = (exp.select("__cr_uid").from_("__cr_user_groups").group_by("__cr_uid")
               .having(" OR ".join(over)))
    ctes: list[tuple[str, exp.Query]] = [("__cr_crowded", crowded)]
    if rows is not None:
        order = f"HASH({', '.join(['__cr_uid', *values])})"
        kept = (exp.select("__cr_uid", *keys, *values).from_(source)
                .where("__cr_uid IN (SELECT __cr_uid FROM __cr_crowded)")
                .qualify(f"ROW_NUMBER() OVER (PARTITION BY {', '.join(['__cr_uid', *keys])} "
                         f"ORDER BY {order}) <= {rows}"))
        ctes += [("__cr_kept", kept), ("__cr_capped", _user_groups_cte(columns, "__cr_kept"))]
        capped = exp.select("*").from_("__cr_capped")
    else:  # no row bound: the crowded people's groups as they are
        capped = (exp.select("*").from_("__cr_user_groups")
                  .where("__cr_uid IN (SELECT __cr_uid FROM __cr_crowded)"))
    sparse = (exp.select(*person).from_("__cr_user_groups")
              .where("NOT __cr_uid IN (SELECT __cr_uid FROM __cr_crowded)"))
    if groups is None:
        ranked = exp.select(*person).from_(capped.subquery("__cr_picked"))
    else:
        # DuckDB refuses a volatile window ORDER BY: draw the random pick as a column first.
        picked = capped.select("RANDOM() AS __cr_pick")
        ranked = exp.select(*person).from_(picked.subquery("__cr_picked")).qualify(
            f"ROW_NUMBER() OVER (PARTITION BY __cr_uid ORDER BY __cr_pick) <= {groups}")
    return [*ctes, ("__cr_bounded", exp.union(sparse, ranked, distinct=False))]


def _within(select: exp.Select, source: exp.Table, uid: exp.Expr, columns: tuple[DPColumn, ...],
            counted: frozenset[tuple[str, str]], person: list[str], over: list[str], *,
            rows: int, groups: int | None, cap: int) -> list[tuple[str, exp.Query]]:
    """The bounding of a query over one dataset when most people are within the bounds.

    Ranking needs each person's rows per group (``__cr_user_groups``: a hash aggregate of
    every person and group, 1.4 s at 10M rows where the analyst's SUM by channel takes 0.08 s).
    Yet a person's stored counts (``hidden.py``, counted over the whole dataset version, so
    at least what any WHERE keeps) often prove them within the bounds: at most R rows in all,
    or at most R with one value of a column the query groups by; and at most G rows in all,
    or at most G combinations of the values of the columns its keys read. Such a person
    (``__cr_safe``, a function of their own rows only) keeps every row, as the ranking would
    keep it, so their rows are summed per group directly (``__cr_within``); everyone else is
    bounded as before (``__cr_slow``). The answer is the same as ranking everyone's.

    Group selection reads each group's people: counting them is a distinct count as costly
    as the ranking. It needs them only up to ``cap``, far above its threshold (``people_cap``):
    ``min(people, cap)`` moves by at most one when one person comes or goes, as the count
    does, and selects as the count does. A group with at least R x cap rows of people within
    the bounds has at least cap of them (each has at most R rows there); only the groups
    with fewer rows count their people exactly (``__cr_few``)."""
    alias = source.alias_or_name
    table = source.copy()
    if not table.alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(source.name, quoted=True)))
    table.set("this", exp.to_identifier(stats_view(source.name), quoted=True))
    rows_cte = _rows_cte(select, uid, columns)
    rows_cte.set("from_", exp.From(this=table))
    safe = within_bounds(alias, row_keys(rows_cte), {c for d, c in counted
                                                     if d == source.name.lower()},
                         rows=rows, groups=groups)
    rows_cte.append("expressions", exp.alias_(safe, "__cr_safe", copy=False))
    clamped = _clamped_cte(columns)
    clamped.append("expressions", exp.column("__cr_safe"))
    # Their rows are read twice (per person and group, then ranked): usually few, kept once.
    outside = exp.select("*").from_("__cr_clamped").where("NOT __cr_safe")
    user_groups = _user_groups_cte(columns, "__cr_outside")
    bounding = _bounding_ctes(columns, person, over, rows=rows, groups=groups,
                              source="__cr_outside")
    slow = [("__cr_slow" if name == "__cr_bounded" else name, body) for name, body in bounding]
    return [("__cr_rows", rows_cte), ("__cr_clamped", clamped), ("__cr_outside", outside),
            ("__cr_user_groups", user_groups), *slow, *within_ctes(columns, rows=rows, cap=cap)]


def within_ctes(columns: tuple[DPColumn, ...], *, rows: int,
                cap: int) -> list[tuple[str, exp.Query]]:
    """``__cr_within`` (the rows of people within the bounds, summed per group), ``__cr_few``
    (the people of the groups with fewer than ``rows * cap`` such rows) and ``__cr_bounded``
    (``__cr_slow``'s people, each counted once, and those groups, counted up to ``cap``), as
    ``_within`` writes them and ``planners/verify.py`` expects them."""
    names = _names(columns, ("group_key",), "__cr_k")
    values = _names(columns, VALUED, "__cr_v")
    sums = [f"SUM({v}) AS __cr_s{v[6:]}" for v in values] + [
        f"COUNT({v}) AS __cr_c{v[6:]}" for v in values]
    totals = exp.select(*names, "COUNT(*) AS __cr_n", *sums).from_("__cr_clamped").where(
        "__cr_safe")
    if names:
        totals = totals.group_by(*names)
    carried = [*names, "__cr_n", *_names(columns, VALUED, "__cr_s"),
               *_names(columns, VALUED, "__cr_c")]
    slow_rows = exp.select(*carried, "1 AS __cr_p").from_("__cr_slow")
    extra: list[tuple[str, exp.Query]] = []
    if names:
        same = " AND ".join(f"r.{k} IS NOT DISTINCT FROM f.{k}" for k in names)
        few = sqlglot.parse_one(
            f"SELECT {', '.join('r.' + k for k in names)}, COUNT(DISTINCT r.__cr_uid) AS __cr_p "
            f"FROM __cr_clamped AS r SEMI JOIN (SELECT {', '.join(names)} FROM __cr_within WHERE "
            f"__cr_n < {int(rows) * int(cap)}) AS f ON {same} WHERE r.__cr_safe GROUP BY "
            f"{', '.join('r.' + k for k in names)}", read="duckdb")
        same_w = " AND ".join(f"w.{k} IS NOT DISTINCT FROM f.{k}" for k in names)
        within_rows = sqlglot.parse_one(
            f"SELECT {', '.join('w.' + c for c in carried)}, COALESCE(f.__cr_p, {int(cap)}) AS "
            f"__cr_p FROM __cr_within AS w LEFT JOIN __cr_few AS f ON {same_w}", read="duckdb")
        assert isinstance(few, exp.Select)
        extra.append(("__cr_few", few))
    else:  # one group, whose existence is public: its people are never read
        within_rows = exp.select(*carried, f"{int(cap)} AS __cr_p").from_("__cr_within")
    assert isinstance(within_rows, exp.Select)
    bounded = exp.union(slow_rows, within_rows, distinct=False)
    return [("__cr_within", totals), *extra, ("__cr_bounded", bounded)]


def row_keys(rows: exp.Select) -> list[exp.Expr]:
    """The group keys as ``__cr_rows`` computes them (``__cr_k{i}``)."""
    return [p.this for p in rows.expressions
            if isinstance(p, exp.Alias) and p.alias.startswith("__cr_k")]


def within_bounds(alias: str, keys: list[exp.Expr], counted: set[str], *, rows: int,
                  groups: int | None) -> exp.Expr:
    """Whether a row's person is within the bounds, from their stored counts (``_within``):
    at most G combinations of the values of the columns the keys read (``d_c``, distinct
    values of c, when every such column has counts and no key holds a subquery; else ``n``,
    their rows) and at most R rows with one value of a key that is a plain column (``m_c``;
    else ``n``). A count is at most ``n``, so ``d_c <= G`` alone implies the groups' bound
    for one column. Without keys: ``n <= R``. A row without a person (NULL counts) is in
    neither branch: DP drops it.

    >>> within_bounds("t", [exp.column("channel")], {"channel"}, rows=10, groups=8).sql()
    't.__cr_pd_channel <= 8 AND t.__cr_pm_channel <= 10'
    >>> two = within_bounds("t", [exp.column("a"), exp.column("b")], {"a", "b"}, rows=10,
    ...                     groups=8)
    >>> for term in two.sql().split(" AND "): print(term)
    (t.__cr_pn <= 8 OR CAST(t.__cr_pd_a AS DOUBLE) * CAST(t.__cr_pd_b AS DOUBLE) <= 8)
    (t.__cr_pm_a <= 10 OR t.__cr_pm_b <= 10)
    """
    def stat(name: str) -> exp.Column:
        return exp.column(name, table=alias)

    def at_most(node: exp.Expr, limit: int) -> exp.Expr:
        return exp.LTE(this=node, expression=exp.Literal.number(limit))
    n = stat(PERSON_ROWS)
    terms: list[exp.Expr] = []
    nested = any(key.find(exp.Query, exp.Subquery) for key in keys)
    read = {c.name for key in keys for c in key.find_all(exp.Column)}
    literal = all(isinstance(key, exp.Literal) for key in keys)
    if groups is not None and not literal:  # literal keys make one group
        if nested or not read or not read <= counted:
            terms.append(at_most(n.copy(), groups))
        elif len(read) == 1:
            terms.append(at_most(stat(person_values(next(iter(read)))), groups))
        else:
            # As DOUBLEs: a product of BIGINTs overflows (an error on one person's counts,
            # e.g. 1500 values in each of six columns); a DOUBLE never fails, is exact up to
            # 2**53 and compares correctly with G beyond (G <= 1000).
            factors = [exp.Cast(this=stat(person_values(c)), to=exp.DataType.build("DOUBLE"))
                       for c in sorted(read)]
            product: exp.Expr = factors[0]
            for factor in factors[1:]:
                product = exp.Mul(this=product, expression=factor)
            terms.append(_any([at_most(n.copy(), groups), at_most(product, groups)]))
    plain = [k.name for k in keys if isinstance(k, exp.Column) and k.name in counted]
    terms.append(_any([at_most(stat(person_most(c)), rows) for c in dict.fromkeys(plain)]
                      or [at_most(n.copy(), rows)]))
    found = terms[0]
    for term in terms[1:]:
        found = exp.And(this=found, expression=term)
    return found


def _any(options: list[exp.Expr]) -> exp.Expr:
    found = options[0]
    for option in options[1:]:
        found = exp.Or(this=found, expression=option)
    return exp.paren(found) if len(options) > 1 else found


def _rows_cte(select: exp.Select, uid: exp.Expr, columns: tuple[DPColumn, ...]) -> exp.Select:
    projections = [exp.alias_(uid.copy(), "__cr_uid")]
    for i, col in enumerate(columns):
        node = select.expressions[i].unalias()  # columns follow the projections' order
        # Row-level values run inside TRY: no error may depend on one person's data.
        if col.function == "group_key":
            projections.append(exp.alias_(guard(node.copy()), f"__cr_k{i}"))
        elif col.function in ("sum", "avg"):
            projections.append(exp.alias_(guard(node.this.copy()), f"__cr_v{i}"))
    rows = exp.Select(expressions=projections)
    for arg in ("from_", "joins", "where"):
        if select.args.get(arg):
            rows.set(arg, select.args[arg].copy() if arg != "joins"
                     else [j.copy() for j in select.args[arg]])
    return rows


def _user_groups_cte(columns: tuple[DPColumn, ...], source: str) -> exp.Select:
    keys = ["__cr_uid", *_names(columns, ("group_key",), "__cr_k")]
    values = [f"SUM(__cr_v{i}) AS __cr_s{i}" for i, c in enumerate(columns) if c.function in VALUED]
    counts = [f"COUNT(__cr_v{i}) AS __cr_c{i}" for i, c in enumerate(columns)
              if c.function in VALUED]
    return exp.select(*keys, "COUNT(*) AS __cr_n", *values, *counts).from_(source).group_by(*keys)


def _outer_select(columns: tuple[DPColumn, ...], cap: int | None = None) -> exp.Select:
    """Keys, the people count (with ``cap``, ``_within``'s people counted up to it), then a
    (total, count) pair per row count, sum or average."""
    keys = _names(columns, ("group_key",), "__cr_k")
    values = [f"COUNT(*) AS {PEOPLE}" if cap is None else f"LEAST(SUM(__cr_p), {int(cap)}) AS {PEOPLE}"]
    for i, col in enumerate(columns):
        if col.function == "count":
            values += [f"SUM(__cr_n) AS __cr_sum{i}", f"SUM(__cr_n) AS __cr_cnt{i}"]
        elif col.function in VALUED:
            values += [f"SUM(__cr_s{i}) AS __cr_sum{i}", f"SUM(__cr_c{i}) AS __cr_cnt{i}"]
    select = exp.select(*keys, *values).from_("__cr_bounded")
    return select.group_by(*keys) if keys else select


def dp_order(shape: QueryShape, columns: tuple[DPColumn, ...]) -> tuple[
        tuple[tuple[int, bool], ...], int | None, int]:
    """ORDER BY output columns (by name or position), LIMIT and OFFSET, applied to noisy rows."""
    select = shape.tree
    names = [c.name for c in columns]
    order: list[tuple[int, bool]] = []
    clause = select.args.get("order")
    for ordered in (clause.expressions if clause else []):
        target = ordered.this
        if isinstance(target, exp.Literal) and target.is_int and 1 <= int(target.name) <= len(names):
            order.append((int(target.name) - 1, bool(ordered.args.get("desc"))))
        elif isinstance(target, exp.Column) and not target.table and target.name in names:
            order.append((names.index(target.name), bool(ordered.args.get("desc"))))
        else:
            raise unsupported("ORDER BY must name output columns under differential privacy")
    limit, offset = (select.args.get(a) for a in ("limit", "offset"))
    return (tuple(order), int(limit.expression.name) if limit else None,
            int(offset.expression.name) if offset else 0)
