"""Threshold one aggregation across people, cell by cell (its counts are built in ``cells.py``).

After the split (``hoist.py``) the inner SELECT counts the row's people ``__cr_n`` and each
requirement; the outer SELECT then:

- final: keeps every row (the release stage withholds rows under k and counts them) and adds
  one hidden flag per output column ``__cr_w<j>`` (true: the cell is withheld) before
  ``__cr_n``. A row whose HAVING or ORDER BY reads a withheld aggregate is withheld whole: its
  presence or place would tell the value. The flags come first so that every branch of a
  final set operation has the same hidden columns.
- intermediate: keeps the rows with at least k people, returns each withheld cell as NULL, and
  passes on ``__cr_w``: the row lost a cell, read a tainted row, or its relation lost a row that
  stood on ``ceil(k/2)`` to k-1 people (smaller ones are dropped unflagged, as
  ``suppressed_rows`` leaves them uncounted: else the flag would say whether a handful of people
  match a condition).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cleanroom.gate import cells
from cleanroom.gate.cells import BASE, Counts, both, either
from cleanroom.gate.closeness import close_either, close_joined
from cleanroom.gate.hoist import INNER
from cleanroom.gate.meet import MEET, records
from cleanroom.gate.model import SKETCH_SIZE, SelectPlan
from cleanroom.gate.overlap import GROUP, OVERLAP, Overlap, add_feeds, cell, group_hash
from cleanroom.gate.walk import copy_tree, sql_text
from cleanroom.gate.weights import weight_flags

ROW_TAINT = "__cr_t"
DROPPED = "__cr_d"
RUNNING_LOST = "__cr_rl"
DROP_ROW = "__cr_dk"  # lost.DROP_ROW
OWN_TAINT = "__cr_ow"  # taint.OWN_TAINT (the gate's stages do not import the taint map here)


@dataclass(frozen=True)
class Thresholds:
    min_users: int
    floor: int  # release.counted_floor(min_users)
    keyed: bool = False  # only rows whose group keys are all non-NULL count as dropped
    # a drop taints only the rows of its partition by these output names (taint.partitions)
    partition: frozenset[str] | None = None
    wide_floor: int = 0  # with a partition: the floor of drops that still taint every row
    drops: bool = False  # mark each dropped row (``__cr_dk``): a reader probes its keys (lost.py)


def outer_ref(name: str) -> exp.Expr:
    return exp.column(name, table=INNER, quoted=True)


def columns_in(node: exp.Expr | None) -> set[str]:
    if node is None:
        return set()
    return {c.name for c in node.find_all(exp.Column) if c.table == INNER}


@dataclass
class Layout:
    """Which aggregates (by id) each outer projection and the row's own clauses read."""

    cells: list[list[int]]
    computed: list[bool]  # reads an aggregate or a value subquery (not only group keys)
    row: list[int]
    aggregates: list[int]


def layout(outer: exp.Select, names: dict[str, int]) -> Layout:
    order = sorted(names, key=lambda n: int(n[len("__cr_a"):]))
    aggregates = [names[n] for n in order]
    cells_, computed = [], []
    aliases: dict[str, list[int]] = {}
    for proj in outer.expressions:
        used = columns_in(proj)
        deps = [names[n] for n in order if n in used]
        cells_.append(deps)
        computed.append(any(n in names or n.startswith("__cr_v") for n in used))
        aliases[proj.alias_or_name.lower()] = deps
    row: list[int] = []
    clauses = [outer.args.get("where"), outer.args.get("order")]
    for clause in clauses:
        used = columns_in(clause)
        row += [names[n] for n in order if n in used]
        for col in (clause.find_all(exp.Column) if clause is not None else []):
            if not col.table:
                row += aliases.get(col.name.lower(), [])
    return Layout(cells_, computed, sorted(set(row), key=aggregates.index), aggregates)


def inner_ref(counts: Counts) -> cells.Ref:
    def ref(name: str) -> exp.Expr:
        return counts.count(None) if name == BASE else copy_tree(counts.expressions[name])
    return ref


def threshold(inner: exp.Select, outer: exp.Select, plan: SelectPlan, counts: Counts,
              names: dict[str, int], *, limits: Thresholds, taint: exp.Expr | None,
              branch: int | None, overlap: Overlap | None = None,
              passed: int | None = None, own: bool = False,
              keyed: frozenset[int] = frozenset(), meet: bool = False,
              beside: list[exp.Expr] | None = None,
              siblings: list[exp.Expr] | None = None) -> None:
    """Add the counts to ``inner`` and threshold ``outer`` (see the module's docstring).
    ``taint``: the row-level taint of the sources (None: untainted); ``branch``: the index of
    this SELECT among the branches of a final set operation (it then outputs its cell flags
    even when none can be set, and the people it compares with other branches' rows);
    ``overlap``: the answer's rows may share data rows (``overlap.py``): it outputs its cells;
    ``passed``: the branch that passes on this intermediate aggregation's rows (it then
    outputs the people and sketches that branch compares); ``meet``: this intermediate
    aggregation's rows meet another's in one relation (it outputs their records,
    ``meet.py``); ``beside``: the records of the value subqueries it reads (``meet.beside_records``):
    where this row's are close to one's, its computed cells are withheld; ``siblings``: the
    records of the other aggregations a ``UNION ALL`` sets beside it (``siblings.py``), read
    alike (unread, ``x``, or NULL: the row counts as close; ``own_records`` gives this row's
    records, for those siblings to read in their copies of it)."""
    k = limits.min_users
    shape = layout(outer, names)
    compared = branch if branch is not None else passed
    inner.append("expressions", exp.alias_(counts.count(None), BASE, quoted=True, copy=False))
    for proj in counts.projections():
        inner.append("expressions", proj)
    if taint is not None:
        inner.append("expressions", exp.alias_(_any(taint), ROW_TAINT, quoted=True))
    agg_flags = cells.withheld(counts, outer_ref, k, shape.aggregates)
    own_row = cells.any_of([agg_flags[a] for a in shape.row if a in agg_flags])
    # The release decides which combinations to withhold (``isolation.py``); else the SQL.
    released = plan.final and branch is None
    touched = {} if released else _combinations(inner, counts, shape, k)
    # Two sums whose per-person values agree on all but a few people (``weights.py``): read
    # like the combinations (an intermediate HAVING that reads one keeps and taints its rows).
    for agg, flag in weight_flags(inner, plan, names, shape.aggregates, k, outer_ref).items():
        touched[agg] = either(touched[agg], flag) if agg in touched else flag
    for agg, flag in touched.items():
        agg_flags[agg] = either(agg_flags[agg], flag) if agg in agg_flags else flag
    # ``keyed``: group keys read from a tainted source on the NULL side of an outer join (a
    # row that found nothing there groups under NULL where raw DuckDB has the value).
    cell_flags = [_cell_flag(deps, agg_flags, (computed or i in keyed) and taint is not None)
                  for i, (deps, computed) in enumerate(zip(shape.cells, shape.computed))]
    row_flag = cells.any_of([agg_flags[a] for a in shape.row if a in agg_flags])
    # After the copies above, so that the system may take the flags themselves when no
    # ``_cells`` reads them after it (it adds no projection before theirs: the order stays).
    system = _system(inner, counts, shape, agg_flags, take=overlap is None) if released \
        else None
    if compared is not None or meet or beside or siblings:
        inner.append("expressions", exp.alias_(sketch(counts, k), SKETCH, quoted=True,
                                               copy=False))
    close = _beside(inner, counts, beside or [], k)
    near = _near(inner, counts, siblings or [], k)
    if near is not None:
        close = either(close, near) if close is not None else near
    if close is not None:
        cell_flags = [either(f, copy_tree(close)) if f is not None else copy_tree(close)
                      if computed else f for f, computed in zip(cell_flags, shape.computed)]
    # What HAVING or ORDER BY found beside such a value must not tell.
    read = close if close is not None and any(outer.args.get(c) for c in ("where", "order")) \
        else None
    if read is not None and plan.final:  # the row is withheld whole, and counted
        row_flag = either(row_flag, copy_tree(read)) if row_flag is not None else read
    if plan.final:
        cross = None if overlap is None else _cells(inner, counts, shape, agg_flags, overlap)
        _final(outer, counts, shape, cell_flags, row_flag, k=k, branch=branch, system=system,
               cross=cross)
    else:
        touched_row = cells.any_of([touched[a] for a in shape.row if a in touched])
        if read is not None:  # kept whatever HAVING says, its cells withheld
            touched_row = either(touched_row, copy_tree(read)) if touched_row is not None \
                else copy_tree(read)
        _intermediate(inner, outer, counts, shape, cell_flags, own_row, limits=limits,
                      touched=touched_row, own=own)
        if meet:
            outer.append("expressions", exp.alias_(_records(counts), MEET, quoted=True,
                                                   copy=False))
        if passed is not None:
            outer.append("expressions", exp.alias_(compared_people(counts, passed), COMPARED,
                                                   quoted=True, copy=False))
            outer.append("expressions", outer_ref(SKETCH))
            if overlap is not None:
                outer.append("expressions", exp.alias_(
                    _cells(inner, counts, shape, agg_flags, overlap), OVERLAP, quoted=True,
                    copy=False))


def _beside(inner: exp.Select, counts: Counts, theirs: list[exp.Expr], k: int
            ) -> exp.Expr | None:
    """Whether the row's records are close to those of a value subquery beside it (each read
    in ``inner``, where its CTE is in scope)."""
    tests = []
    for i, records_ in enumerate(theirs):
        name = f"__cr_mb{i}"
        inner.append("expressions", exp.alias_(records_, name, quoted=True, copy=False))
        tests.append(close_either(_records(counts), outer_ref(name), k))
    return cells.any_of(tests) if tests else None


def _near(inner: exp.Select, counts: Counts, reads: list[exp.Expr], k: int
          ) -> exp.Expr | None:
    """Whether the row is close to its siblings' rows (``siblings.py``), each read decided once
    in ``inner`` (``__cr_mn<i>``) over the row's own records there: ``list_transform([{s:
    <the read>, m: <the records>}], lambda z: <every test>)`` binds the read once (a lambda may
    not hold a subquery or an aggregate, its list may); the outer's cells read the flag (each
    had carried the whole test, copied into every cell: ten times the SQL, the engine's time
    too). Unread (``x``) or NULL: close."""
    if not reads:
        return None
    names = _compared_names(counts)
    tests = []
    for i, read in enumerate(reads):
        mine = records([counts.count(None) if n == BASE else copy_tree(counts.expressions[n])
                        for n in names], sketch(counts, k))
        got, own = _field("s"), _field("m")
        every = exp.Anonymous(this="list_concat", expressions=[
            _field("u", got), _field("e", got)])
        body = either(close_either(own, every, k),
                      close_joined(own, _field("u", got), _field("p", got), k),
                      exp.Coalesce(this=_field("x", got), expressions=[exp.true()]))
        packed = exp.Array(expressions=[exp.Anonymous(this="struct_pack", expressions=[
            exp.PropertyEQ(this=exp.to_identifier("s"), expression=read),
            exp.PropertyEQ(this=exp.to_identifier("m"), expression=mine)])])
        test = exp.Anonymous(this="list_bool_or", expressions=[exp.Anonymous(
            this="list_transform", expressions=[packed, exp.Lambda(
                this=body, expressions=[exp.to_identifier("__cr_z")])])])
        column = f"__cr_mn{i}"
        inner.append("expressions", exp.alias_(exp.Coalesce(this=test, expressions=[
            exp.true()]), column, quoted=True, copy=False))
        tests.append(outer_ref(column))
    return cells.any_of(tests)


def _field(name: str, of: exp.Expr | None = None) -> exp.Expr:
    """``struct_extract(of, name)`` of a fresh copy of ``of`` (the lambda's ``__cr_z``)."""
    return exp.Anonymous(this="struct_extract", expressions=[
        copy_tree(of) if of is not None else exp.column("__cr_z"), exp.Literal.string(name)])


def own_records(counts: Counts) -> tuple[exp.Expr, int]:
    """An aggregation's records in its outer SELECT, and how many sets each holds: what its
    siblings read in their copies of it (``siblings.py``; its inner has the sketch)."""
    return _records(counts), len(_compared_names(counts))


def _records(counts: Counts) -> exp.Expr:
    return records([outer_ref(n) for n in _compared_names(counts)], outer_ref(SKETCH))


def _system(inner: exp.Select, counts: Counts, shape: Layout, flags: dict[int, exp.Expr], *,
            take: bool = False) -> exp.Expr | None:
    """The row's patterns and aggregates for ``isolation.RowSystem`` (None: nothing to
    combine), as the hidden ``__cr_x``: ``{m: histograms, f: flags, n: people, v: bits, c:
    each column's aggregates, h: the aggregates HAVING / ORDER BY read}``. ``take``: the
    flags are placed themselves (nothing reads them after), else copies."""
    vectors = cells.vector_names(counts, shape.aggregates)
    if not cells.combines(vectors):
        return None
    names = cells.bits(vectors)
    inner.append("expressions", exp.alias_(cells.pattern_list(counts, names), cells.PATTERNS,
                                           quoted=True, copy=False))
    index = {a: i for i, a in enumerate(shape.aggregates)}
    bits = [[cells.bit_of(names, n) for n in vectors[a]] for a in shape.aggregates]
    fields = {
        "m": cells.histograms(outer_ref(cells.PATTERNS)),  # the list is aggregated once
        "f": _array([exp.Coalesce(this=flags[a] if take else copy_tree(flags[a]),
                                  expressions=[exp.true()])
                     if a in flags else exp.false() for a in shape.aggregates]),
        "n": _array([outer_ref(counts.compared.get(a, counts.people.get(a)) or BASE)
                     for a in shape.aggregates]),
        "v": _array([_array([exp.Literal.number(b if b < cells.MAX_BITS else -2) for b in found])
                     for found in bits]),
        "c": _array([_array([exp.Literal.number(index[a]) for a in deps])
                     for deps in shape.cells]),
        "h": _array([exp.Literal.number(index[a]) for a in shape.row]),
    }
    return exp.Anonymous(this="struct_pack", expressions=[
        exp.PropertyEQ(this=exp.to_identifier(n), expression=v) for n, v in fields.items()])


def _cells(inner: exp.Select, counts: Counts, shape: Layout, flags: dict[int, exp.Expr],
           overlap: Overlap) -> exp.Expr:
    """The row's cells for the answer's check across rows (``overlap.py``), as the hidden
    ``__cr_o``: ``{i: each aggregate's cell, f, n, c, h: as in _system, s: the answer's
    patterns (filled on one row at the end of the rewrite)}``."""
    assert counts.plan.uid_expr is not None
    vectors = cells.vector_names(counts, shape.aggregates)
    names = cells.bits(vectors)
    group = inner.args.get("group")
    keys = list(group.expressions) if group is not None else []
    hashed = group_hash(overlap.next_tag(), keys)
    add_feeds(overlap, inner, counts.plan.uid_expr, hashed,
              [counts.conditions[n] for n in names], keys)
    inner.append("expressions", exp.alias_(hashed, GROUP, quoted=True))
    index = {a: i for i, a in enumerate(shape.aggregates)}
    carrier = exp.Null()
    overlap.carriers.append(carrier)
    fields = {
        "i": _array([_array([cell(outer_ref(GROUP), cells.bit_of(names, n)) for n in vectors[a]])
                     for a in shape.aggregates]),
        "f": _array([exp.Coalesce(this=copy_tree(flags[a]), expressions=[exp.true()])
                     if a in flags else exp.false() for a in shape.aggregates]),
        "n": _array([outer_ref(counts.compared.get(a, counts.people.get(a)) or BASE)
                     for a in shape.aggregates]),
        "c": _array([_array([exp.Literal.number(index[a]) for a in deps])
                     for deps in shape.cells]),
        # ORDER BY over a set operation sorts by any cell: a withheld one withholds its row.
        "h": _array([exp.Literal.number(index[a]) for a in (
            shape.aggregates if overlap.ordered else shape.row)]),
        "s": carrier,
    }
    return exp.Anonymous(this="struct_pack", expressions=[
        exp.PropertyEQ(this=exp.to_identifier(n), expression=v) for n, v in fields.items()])


def _array(items: list[exp.Expr]) -> exp.Expr:
    if not items:
        return exp.Cast(this=exp.Array(expressions=[]), to=exp.DataType.build("INTEGER[]"))
    return exp.Array(expressions=items)


def _combinations(inner: exp.Select, counts: Counts, shape: Layout, k: int
                  ) -> dict[int, exp.Expr]:
    """Flags that withhold every aggregate whose rows meet a small pattern (``cells``): what
    is left cancels on every small pattern, so no combination of it isolates a few people."""
    vectors = cells.vector_names(counts, shape.aggregates)
    if not cells.combines(vectors):
        return {}
    names = cells.bits(vectors)
    code = cells.small_code(cells.pattern_list(counts, names), k)
    inner.append("expressions", exp.alias_(code, cells.PATTERNS, quoted=True, copy=False))
    flags: dict[int, exp.Expr] = {}
    for agg, found in vectors.items():
        found_bits = [None if n is None else names.index(n) for n in found]
        if any(b is not None and b >= cells.MAX_BITS for b in found_bits):
            flags[agg] = exp.true()  # fail closed: no room in the pattern for its condition
        else:
            flags[agg] = cells.either(*[cells.touches_small(outer_ref(cells.PATTERNS), b)
                                        for b in found_bits])
    return flags


def _any(taint: exp.Expr) -> exp.Expr:
    return cells.bool_or(taint)


def _cell_flag(deps: list[int], flags: dict[int, exp.Expr], tainted: bool) -> exp.Expr | None:
    found = [flags[a] for a in deps if a in flags]
    if tainted:
        found.append(outer_ref(ROW_TAINT))
    return cells.any_of(found)


# The flags and counts below are built fresh for the one place they go: ``alias_(...,
# copy=False)`` (copying them again was a tenth of the gate's time).
def _final(outer: exp.Select, counts: Counts, shape: Layout, cell_flags: list[exp.Expr | None],
           row_flag: exp.Expr | None, *, k: int, branch: int | None,
           system: exp.Expr | None, cross: exp.Expr | None) -> None:
    if branch is not None or system is not None or cross is not None or any(
            f is not None for f in cell_flags):
        for j, flag in enumerate(cell_flags):
            outer.append("expressions", exp.alias_(flag if flag is not None else exp.false(),
                                                   f"__cr_w{j}", quoted=True, copy=False))
    if branch is not None:
        outer.append("expressions", exp.alias_(compared_people(counts, branch), COMPARED,
                                               quoted=True, copy=False))
        outer.append("expressions", outer_ref(SKETCH))
    if system is not None:
        outer.append("expressions", exp.alias_(system, cells.PATTERNS, quoted=True, copy=False))
    if cross is not None:
        outer.append("expressions", exp.alias_(cross, OVERLAP, quoted=True, copy=False))
    people: exp.Expr = outer_ref(BASE)
    if row_flag is not None:
        # A row withheld for what its HAVING or ORDER BY read: counted like a small row.
        low: list[exp.Expr] = [outer_ref(BASE)]
        for agg in shape.row:
            if agg in counts.people:
                low.append(outer_ref(counts.people[agg]))
            low += [exp.Nullif(this=outer_ref(p), expression=exp.Literal.number(0))
                    for p in counts.parts.get(agg, [])]
        low.append(exp.Literal.number(k - 1))
        people = exp.Case(ifs=[exp.If(this=row_flag, true=exp.Anonymous(
            this="LEAST", expressions=low))], default=outer_ref(BASE))
    outer.append("expressions", people if row_flag is None else exp.alias_(people, BASE,
                                                                         quoted=True, copy=False))
    where = outer.args.get("where")
    if where is not None:
        # The final rows below the threshold are all kept, to be suppressed and counted.
        below = exp.LT(this=copy_tree(people), expression=exp.Literal.number(k))
        outer.set("where", exp.Where(this=either(exp.Paren(this=where.this), below)))


COMPARED = "__cr_p"
SKETCH = "__cr_h"




def sketch(counts: Counts, k: int) -> exp.Expr:
    """For the row's people and each aggregate's, the ``SKETCH_SIZE * k`` smallest hashes of
    their people, in the order of ``compared_people``: the release proves from them that two
    rows' people differ by k or more (``release.close_rows``)."""
    assert counts.plan.uid_expr is not None
    person = exp.Anonymous(this="hash", expressions=[copy_tree(counts.plan.uid_expr)])
    # DISTINCT: a person's many rows must not fill the smallest.
    smallest = exp.Anonymous(this="min", expressions=[exp.Distinct(expressions=[person]),
                                                      exp.Literal.number(SKETCH_SIZE * k)])
    parts: list[exp.Expr] = [smallest]
    for name in _compared_names(counts)[1:]:
        condition = exp.Where(this=copy_tree(counts.conditions[name]))
        parts.append(exp.Filter(this=copy_tree(smallest), expression=condition))
    return exp.Anonymous(this="list_value", expressions=parts)


def _compared_names(counts: Counts) -> list[str]:
    return [BASE, *dict.fromkeys([*counts.people.values(), *counts.compared.values()])]


def compared_people(counts: Counts, branch: int) -> exp.Expr:
    """``[branch, people of the row, people of each aggregate]``: what the release compares
    between rows of different branches of a final set operation."""
    names = _compared_names(counts)
    return exp.Anonymous(this="list_value", expressions=[
        exp.Literal.number(branch), *[outer_ref(n) for n in names]])


def _intermediate(inner: exp.Select, outer: exp.Select, counts: Counts, shape: Layout,
                  cell_flags: list[exp.Expr | None], row_flag: exp.Expr | None, *,
                  limits: Thresholds, touched: exp.Expr | None, own: bool = False) -> None:
    k = limits.min_users
    for proj, flag in zip(outer.expressions, cell_flags):
        if flag is not None:
            proj.set("this", exp.Case(ifs=[exp.If(this=copy_tree(flag), true=exp.null())],
                                      default=proj.this))
    ref = inner_ref(counts)
    dropped = cells.few_people(ref, limits.floor, k)
    group = inner.args.get("group")
    if limits.keyed and group is not None:
        dropped = both(dropped, *[exp.Not(this=exp.Is(this=copy_tree(key), expression=exp.null()))
                                  for key in group.expressions])
    inner_flags = cells.withheld(counts, ref, k, shape.aggregates)
    inner_row = cells.any_of([inner_flags[a] for a in shape.row if a in inner_flags])
    wide = cells.few_people(ref, limits.wide_floor or limits.floor, k)
    if inner_row is not None:
        enough = exp.GTE(this=ref(BASE), expression=exp.Literal.number(k))
        dropped = either(dropped, both(enough, exp.Paren(this=inner_row)))
        wide = either(wide, both(copy_tree(enough), exp.Paren(this=copy_tree(inner_row))))
    if limits.drops:
        inner.append("expressions", exp.alias_(copy_tree(dropped), DROP_ROW, quoted=True,
                                                copy=False))
    flag = cells.bool_or(dropped, window=True)
    keys = _partition_keys(inner, outer, limits.partition)
    if keys:
        # Readers that combine the rows see a drop of any size in its partition; every
        # other reader keeps the relation-wide flag of the drops it always saw.
        flag.this.set("partition_by", keys)
        flag = either(flag, cells.bool_or(wide, window=True))
    inner.append("expressions", exp.alias_(flag, DROPPED, quoted=True, copy=False))
    taint = [f for f in cell_flags if f is not None] + [outer_ref(DROPPED)]
    running = _running_lost(inner, ref, k, inner_flags, inner_row)
    if running is not None:
        inner.append("expressions", exp.alias_(running, RUNNING_LOST, quoted=True, copy=False))
        taint.append(outer_ref(RUNNING_LOST))
    if ROW_TAINT in {p.alias_or_name for p in inner.expressions}:
        taint.append(outer_ref(ROW_TAINT))
    if touched is not None:
        # HAVING / ORDER BY read an aggregate withheld for its combinations: the row is kept
        # whatever HAVING says, and every row is tainted (which rows are kept, and in what
        # order, would tell the value).
        taint.append(cells.bool_or(copy_tree(touched), window=True))
    # The taints are fresh trees, placed once each, or twice with ``own``: copied only then.
    row_taint = either(*[copy_tree(t) for t in taint]) if own else either(*taint)
    outer.append("expressions", exp.alias_(row_taint, "__cr_w", quoted=True, copy=False))
    if own:  # the row's own taint, for readers of single rows (``taint.TaintMap.rowwise``)
        mine = [t for t in taint if not (isinstance(t, exp.Column) and t.name == DROPPED)]
        value = exp.Coalesce(this=exp.Paren(this=either(*mine)),
                             expressions=[exp.false()]) if mine else exp.false()
        outer.append("expressions", exp.alias_(value, OWN_TAINT, quoted=True, copy=False))
    floor = exp.GTE(this=outer_ref(BASE), expression=exp.Literal.number(k))
    conditions: list[exp.Expr] = [floor]
    if row_flag is not None:
        conditions.append(exp.Not(this=exp.Paren(this=row_flag)))
    where = outer.args.get("where")
    if where is not None:
        kept = where.this if touched is None else either(exp.Paren(this=where.this),
                                                         exp.Paren(this=copy_tree(touched)))
        conditions.append(exp.Paren(this=kept))
    outer.set("where", exp.Where(this=both(*conditions)))


def _partition_keys(inner: exp.Select, outer: exp.Select, names: frozenset[str] | None
                    ) -> list[exp.Expr]:
    """The inner SELECT's group key expressions behind the output columns ``names`` (every
    one an inner key passed on as it is), or [] (the drop flag then spans the relation)."""
    if not names:
        return []
    group = inner.args.get("group")
    keys = {sql_text(g, None) for g in group.expressions} if group is not None else set()
    by_alias = {p.alias_or_name: p for p in inner.expressions if isinstance(p, exp.Alias)}
    found: list[exp.Expr] = []
    for name in sorted(names):
        proj = next((p for p in outer.expressions if p.alias_or_name.lower() == name), None)
        ref = proj.this if isinstance(proj, exp.Alias) else None
        if not (isinstance(ref, exp.Column) and ref.table == INNER and ref.name in by_alias):
            return []
        key = by_alias[ref.name].this
        if sql_text(key, None) not in keys:
            return []
        found.append(copy_tree(key))
    return found


# -- running counts inside the query (running.py) --------------------------------------------
# A running count's window runs over every group, so each row's count also counts the groups
# before it that the threshold withholds: the raw number, but beside the same keys' plain
# counts in one query (a join, a CTE) the first released row minus its own group is the
# withheld group before it. So from the first group that is dropped or withheld on (in its
# partition, in the window's order: peers included, as the count includes them), every row
# of an intermediate running count is tainted, whatever the group's size.
def _running_lost(inner: exp.Select, ref: cells.Ref, k: int, flags: dict[int, exp.Expr],
                  row: exp.Expr | None) -> exp.Expr | None:
    window = next((p.this for p in inner.expressions if isinstance(p, exp.Alias)
                   and isinstance(p.this, exp.Window)), None)
    if window is None:
        return None  # windows over an aggregation's groups are running counts only
    lost: list[exp.Expr] = [exp.LT(this=ref(BASE), expression=exp.Literal.number(k))]
    lost += [copy_tree(f) for f in flags.values()]  # a running SELECT counts one aggregate
    if row is not None:
        lost.append(copy_tree(row))
    call = exp.Anonymous(this="bool_or", expressions=[exp.Paren(this=either(*lost))])
    over = exp.Window(this=call, partition_by=[copy_tree(p) for p in
                                               window.args.get("partition_by") or []])
    if window.args.get("order") is not None:
        over.set("order", copy_tree(window.args["order"]))
    return exp.Coalesce(this=over, expressions=[exp.false()])
