"""Where intermediate aggregations meet (``meet.find_meets``): whether each source's record
is close to another's, or to a union of others' rows (``meet.py``'s docstring), as SQL over
the records, and which conditions of the reader read met values."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp

from cleanroom.gate.meet import MEET, Meets, Source, apart, summed_records
from cleanroom.gate.model import COPY_META, SKETCH_SIZE
from cleanroom.gate.taint import Reader, outer_sides, single_source, using_columns
from cleanroom.gate.walk import combine, copy_tree, find_all

# -- the flags, in the SELECT where sources meet ----------------------------------------------
# Subqueries may not stand inside a lambda: the other source's records (always a subquery) are
# the outer list, and a value subquery's own records are read through a one-row derived table.
_PAIR = """list_bool_or(list_transform({theirs}, lambda __cr_my: list_bool_or(list_transform(
  __cr_mine, lambda __cr_mx: CASE WHEN __cr_mx.n >= {k} AND __cr_my.n >= {k}
    AND abs(__cr_mx.n - __cr_my.n) < {k}
  THEN len(list_intersect(__cr_mx.h, __cr_my.h)) >= least(greatest(__cr_mx.n, __cr_my.n), {m})
    - {k} + 1 AND {smaller}
  ELSE FALSE END))))"""
_CLOSE = _PAIR.replace("{theirs}", "__cr_theirs")
# A relation's probe (``_every``) is ``{e: every record, u: the union of its rows}``, read once
# for both tests (each probe scans the source again).
_CLOSE_BOTH = """list_bool_or(list_transform([__cr_theirs], lambda __cr_p: """ + _PAIR.replace(
    "{theirs}", "__cr_p.e") + """ OR list_bool_or(list_transform(__cr_mine, lambda __cr_mx:
  CASE WHEN __cr_mx.n >= {k} AND __cr_p.u.c > 1 AND abs(__cr_mx.n - __cr_p.u.n) < {k}
  THEN len(list_intersect(__cr_mx.h, __cr_p.u.h)) >= least(__cr_mx.n, {m}) - {k} + 1
  ELSE FALSE END))))"""


# Against a union (``__cr_theirs`` is ``[union]``): close whatever the sizes; a union of one
# row is the pair test's. The shared hashes needed are from |A| alone: two sets that differ
# by fewer than k people on each side share at least that many (a bound on the one above).
_CLOSE_UNION = """list_bool_or(list_transform(__cr_theirs, lambda __cr_my: list_bool_or(
  list_transform(__cr_mine, lambda __cr_mx: CASE WHEN __cr_mx.n >= {k} AND __cr_my.c > 1
    AND abs(__cr_mx.n - __cr_my.n) < {k}
  THEN len(list_intersect(__cr_mx.h, __cr_my.h)) >= least(__cr_mx.n, {m}) - {k} + 1
  ELSE FALSE END))))"""
# The union of the first sets (the rows' people) of the rows read as ``__cr_r``.
_UNION_OF = """SELECT struct_pack(n := CAST(SUM(struct_extract(__cr_r, 'n')) AS BIGINT),
  c := COUNT(*), h := list_slice(list_sort(list_distinct(flatten(list(struct_extract(__cr_r,
  'h'))))), 1, {m}))"""


_SMALLER = {"earlier": "(__cr_mx.n < __cr_my.n OR (__cr_mx.n = __cr_my.n AND FALSE))",
            "later": "(__cr_mx.n < __cr_my.n OR (__cr_mx.n = __cr_my.n AND TRUE))",
            "either": "TRUE"}


@lru_cache(maxsize=32)
def _close_template(k: int, mode: str, both: bool = False) -> exp.Expr:
    text = _CLOSE_UNION if mode == "union" else _CLOSE_BOTH if both else _CLOSE
    return sqlglot.parse_one(text.format(k=k, m=SKETCH_SIZE * k, smaller=_SMALLER.get(mode)),
                             read="duckdb")


def _close(mine: exp.Expr, theirs: exp.Expr, k: int, copies: set[int], *, mode: str,
           both: bool = False) -> exp.Expr:
    """Whether a set of ``mine`` is close to one of ``theirs`` and the smaller (``mode``
    "earlier" / "later": which wins a tie); "either": whichever is smaller; "union":
    ``theirs`` is ``[union]``, and closeness flags ``mine`` whatever the sizes. ``both``:
    ``theirs`` is a relation's probe, tested for its records and for their union."""
    found = copy_tree(_close_template(k, mode, both))
    inside = isinstance(mine, exp.Subquery)
    for col in find_all(found, exp.Column):
        if col.name == "__cr_mine" and not col.table:
            col.replace(exp.column("__cr_m", table="__cr_mv", quoted=True) if inside
                        else copy_tree(mine))
        elif col.name == "__cr_theirs" and not col.table:
            col.replace(copy_tree(theirs))
    if not inside:
        return found
    row = exp.select(exp.alias_(copy_tree(mine), "__cr_m", quoted=True, copy=False))
    probe = exp.select(found).from_(exp.Subquery(this=row, alias=exp.TableAlias(
        this=exp.to_identifier("__cr_mv"))))
    return exp.Subquery(this=_marked(probe, copies))


def meet_flags(sel: exp.Select, meets: Meets, k: int, copies: set[int]) -> dict[str, exp.Expr]:
    """Per source of ``sel`` (alias, or ``str(id)`` of a value subquery): true on a row whose
    record of that source is close to some record of another source (and the smaller)."""
    found = meets.readers.get(id(sel))
    if found is None:
        return {}
    if id(sel) in meets.flags:
        return meets.flags[id(sel)]
    relations = {n.alias_or_name: n for n in _relations(sel)}
    mine = {s.key: _own(s, copies, k) for s in found}
    every = {s.key: _every(s, relations, copies, k) for s in found}
    rows = {s.key: _first_sets(s, relations, copies, k) for s in found}
    flags: dict[str, exp.Expr] = {}
    for i, s in enumerate(found):
        others = [t for t in found if apart(s, t)]
        tests = [_close(mine[s.key], every[t.key], k, copies, mode="later" if i > j
                        else "earlier", both=t.subquery is None)
                 for j, t in enumerate(found) if apart(s, t)]
        if len(others) > 1:
            theirs = exp.Array(expressions=[_union_of([rows[t.key] for t in others], k,
                                                      copies)])
            tests.append(_close(mine[s.key], theirs, k, copies, mode="union"))
        flags[s.key] = exp.Coalesce(this=exp.Paren(this=combine(exp.Or, *tests, copy=False)),
                                    expressions=[exp.false()])
    meets.flags[id(sel)] = flags
    return flags


FLAG = "__cr_mf"  # a met relation's flag, computed once per row beside its columns


def flag_reads(sel: exp.Select, meets: Meets, k: int, copies: set[int], *, wrap: bool
               ) -> dict[str, exp.Expr]:
    """``meet_flags``, each as the expression to place (a fresh copy each call). With ``wrap``
    (a SELECT that is not split), a relation's flag that reads only that relation's own
    columns (outside its subqueries) is read as ``alias.__cr_mf``, a column ``wrap_flags``
    adds to the relation: every cell, condition and key that takes it then reads one value
    per row instead of each computing the comparison again (DuckDB does not share them)."""
    flags = meet_flags(sel, meets, k, copies)
    relations = {n.alias_or_name for n in _relations(sel)}
    found: dict[str, exp.Expr] = {}
    for key, flag in flags.items():
        own = find_all(flag, exp.Column, stop=exp.Subquery)
        if wrap and key in relations and all(c.table == key for c in own):
            meets.wrapped.setdefault(id(sel), {})[key] = flag
            # NULL where an outer join found no row of the relation, as the flag was there
            found[key] = exp.Coalesce(this=exp.column(FLAG, table=key, quoted=True),
                                      expressions=[exp.false()])
        else:
            found[key] = copy_tree(flag)
    return found


def wrap_flags(sel: exp.Select, meets: Meets) -> None:
    """Replace each relation whose flag ``flag_reads`` read as a column by ``(SELECT *,
    <flag> AS __cr_mf FROM <relation>) AS <alias>``: the same rows and columns, and the flag."""
    wrapped = meets.wrapped.pop(id(sel), {})
    for relation in _relations(sel):
        flag = wrapped.get(relation.alias_or_name)
        if flag is None:
            continue
        alias = relation.alias_or_name
        inner = exp.Select(expressions=[exp.Star(), exp.alias_(flag, FLAG, quoted=True,
                                                                 copy=False)])
        inner.meta[COPY_META] = True
        holder = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias)))
        relation.replace(holder)
        inner.set("from_", exp.From(this=relation))


def beside_records(sel: int, meets: Meets, k: int, copies: set[int]) -> list[exp.Expr]:
    """For an aggregation across people that reads value subqueries of intermediate ones
    (``COUNT(DISTINCT user_key) - (SELECT n FROM b)``): each one's records, to be read in its
    inner SELECT (where the CTEs are in scope) and compared by ``close_either``."""
    return [_value_records(s.subquery, copies, k, summed=s.summed)
            for s in meets.besides.get(sel, []) if s.subquery is not None]


# Each set of this row joined to one union (``a``) against another (``b``), both read from the
# unions ``__cr_u`` by place, for ``siblings.py``: sizes are sums of counts (exact for
# disjoint rows, as a partition that decodes needs); the joined sketch is the 4k smallest of
# both.
_JOINED = """list_bool_or(list_transform({pairs}, lambda __cr_q: list_bool_or(list_transform(
  {mine}, lambda __cr_mx: CASE
  WHEN __cr_mx.n + list_extract({u}, __cr_q[1]).n >= {k} AND list_extract({u}, __cr_q[2]).n >= {k}
    AND abs(__cr_mx.n + list_extract({u}, __cr_q[1]).n - list_extract({u}, __cr_q[2]).n) < {k}
  THEN len(list_intersect(list_slice(list_sort(list_distinct(list_concat(__cr_mx.h,
    list_extract({u}, __cr_q[1]).h))), 1, {m}), list_extract({u}, __cr_q[2]).h)) >= least(
    greatest(__cr_mx.n + list_extract({u}, __cr_q[1]).n, list_extract({u}, __cr_q[2]).n),
    {m}) - {k} + 1
  ELSE FALSE END))))"""


@lru_cache(maxsize=8)
def _joined_template(k: int) -> exp.Expr:
    return sqlglot.parse_one(_JOINED.format(k=k, m=SKETCH_SIZE * k, mine="__cr_mine",
                                            pairs="__cr_pairs", u="__cr_unions"), read="duckdb")


def close_joined(mine: exp.Expr, unions: exp.Expr, pairs: exp.Expr, k: int) -> exp.Expr:
    """True when a set of this row joined to one union is close to another (``pairs``: their
    places in ``unions``)."""
    found = copy_tree(_joined_template(k))
    for col in list(find_all(found, exp.Column)):
        if col.table:
            continue
        if col.name == "__cr_mine":
            col.replace(copy_tree(mine))
        elif col.name == "__cr_pairs":
            col.replace(copy_tree(pairs))
        elif col.name == "__cr_unions":
            col.replace(copy_tree(unions))
    return exp.Coalesce(this=found, expressions=[exp.false()])


def close_either(mine: exp.Expr, theirs: exp.Expr, k: int) -> exp.Expr:
    """True when a set of ``mine`` (records, not a subquery) is close to one of ``theirs``,
    whichever is smaller."""
    return exp.Coalesce(this=_close(mine, theirs, k, set(), mode="either"),
                        expressions=[exp.false()])


def met_reader(sel: exp.Select, clean: dict[str, set[str]], keys: set[str], *,
               on: bool = False) -> Callable[[exp.Expr], bool]:
    """Whether a condition of ``sel`` reads a value (not an exact group key) of a source that
    meets another, or one of its value subqueries (``keys``: ``meet_flags``'s). ``on``: a
    join's ON, decided on the rows that stand (before any NULL fill: clean keys are exact)."""
    reader = Reader(clean, set(), set(), keys) if on else Reader(
        clean, outer_sides(sel), using_columns(sel), keys, only=single_source(sel))

    read = met_keys(reader, keys)
    return lambda node: bool(read(node))


def met_keys(reader: Reader, keys: set[str]) -> Callable[[exp.Expr], set[str]]:
    """The met sources (``keys``) a node reads: all of them when the reader cannot tell."""
    def read(node: exp.Expr) -> set[str]:
        found = {str(id(s)) for s in node.find_all(exp.Subquery)} & keys
        hit = reader.reached(node)
        return set(keys) if hit is None else found | (hit & keys)
    return read


def _relations(sel: exp.Select) -> list[exp.Expr]:
    from_ = sel.args.get("from_")
    return ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]


def _own(source: Source, copies: set[int], k: int) -> exp.Expr:
    if source.subquery is None:
        return exp.column(MEET, table=source.key, quoted=True)
    return _value_records(source.subquery, copies, k, summed=source.summed)


def _every(source: Source, relations: dict[str, exp.Expr], copies: set[int], k: int
           ) -> exp.Expr:
    """Every record of the source's relation (all its rows, whatever the reader keeps)."""
    if source.subquery is not None:
        return _value_records(source.subquery, copies, k, summed=source.summed)
    relation = relations[source.key]
    read: exp.Expr
    read = exp.Table(this=copy_tree(relation.this)) if isinstance(relation, exp.Table) \
        else copy_tree(relation)
    read.set("alias", exp.TableAlias(this=exp.to_identifier("__cr_ml")))
    # Qualified: an unqualified name reads as "any source" to ``taint.Reader``.
    probe = copy_tree(_probe_head(k)).from_(read)
    return exp.Subquery(this=_marked(probe, copies))


_PROBE = """SELECT struct_pack(e := flatten(list(__cr_ml.__cr_meet)), u := struct_pack(
  n := CAST(SUM(struct_extract(list_extract(__cr_ml.__cr_meet, 1), 'n')) AS BIGINT),
  c := COUNT(*), h := list_slice(list_sort(list_distinct(flatten(list(struct_extract(
  list_extract(__cr_ml.__cr_meet, 1), 'h'))))), 1, {m})))"""


@lru_cache(maxsize=8)
def _probe_head(k: int) -> exp.Select:
    """``{e: every record, u: the union of the rows' people}`` of a relation ``__cr_ml``."""
    found = sqlglot.parse_one(_PROBE.format(m=SKETCH_SIZE * k), read="duckdb")
    assert isinstance(found, exp.Select)
    return found


def _value_records(sub: exp.Subquery, copies: set[int], k: int, *, summed: bool) -> exp.Expr:
    """``(SELECT <source>.__cr_meet FROM <source> WHERE ...)``: the value subquery's row's
    (``summed``: the union of the rows it aggregates, then theirs)."""
    return exp.Subquery(this=_marked(_value_body(sub, k, summed=summed), copies))


def _value_body(sub: exp.Subquery, k: int, *, summed: bool) -> exp.Select:
    body = copy_tree(sub.this)
    alias = body.args["from_"].this.alias_or_name
    body.set("expressions", [summed_records(alias, k) if summed
                             else exp.column(MEET, table=alias, quoted=True)])
    return body


def _first_sets(source: Source, relations: dict[str, exp.Expr], copies: set[int], k: int
                ) -> exp.Select:
    """``SELECT __cr_meet[1] AS __cr_r FROM <source>``: the people of each of its rows (of a
    summed source, their union), for ``_union_of``."""
    if source.subquery is not None:
        body = _value_body(source.subquery, k, summed=source.summed)
        first = exp.Anonymous(this="list_extract", expressions=[
            body.expressions[0], exp.Literal.number(1)])
        body.set("expressions", [exp.alias_(first, "__cr_r", quoted=True)])
        return _marked(body, copies)  # type: ignore[return-value]
    relation = relations[source.key]
    read = exp.Table(this=copy_tree(relation.this)) if isinstance(relation, exp.Table) \
        else copy_tree(relation)
    read.set("alias", exp.TableAlias(this=exp.to_identifier("__cr_ml")))
    first = exp.Anonymous(this="list_extract", expressions=[
        exp.column(MEET, table="__cr_ml", quoted=True), exp.Literal.number(1)])
    return _marked(exp.select(exp.alias_(first, "__cr_r", quoted=True)).from_(read), copies
                   )  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _union_head(k: int) -> exp.Select:
    found = sqlglot.parse_one(_UNION_OF.format(m=SKETCH_SIZE * k), read="duckdb")
    assert isinstance(found, exp.Select)
    return found


def _union_of(parts: list[exp.Select], k: int, copies: set[int]) -> exp.Expr:
    """``(SELECT {n: sum of counts, c: rows, h: 4k smallest hashes} FROM (rows UNION ALL ...))``."""
    rows: exp.Expr = copy_tree(parts[0])
    for part in parts[1:]:
        rows = exp.union(rows, copy_tree(part), distinct=False)
    probe = copy_tree(_union_head(k)).from_(exp.Subquery(
        this=rows, alias=exp.TableAlias(this=exp.to_identifier("__cr_mu"))))
    return exp.Subquery(this=_marked(probe, copies))


def _marked(node: exp.Expr, copies: set[int]) -> exp.Expr:
    for sel in node.find_all(exp.Select):
        sel.meta[COPY_META] = True
        copies.add(id(sel))
    return node
