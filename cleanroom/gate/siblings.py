"""Rows of aggregations that a ``UNION ALL`` sets beside each other, left as a union because a
SELECT groups it by keys alike in every branch (``sets.sibling_aggregations``), compared with
each other as ``meet.py`` compares aggregations that meet.

Each such aggregation reads once, in its inner SELECT, the records (``meet.records``: its
people and each aggregate's, as counts and sketches) of its siblings' rows:

    (SELECT {u: [<the union of the rows of each subset of siblings, each member giving one of
                  its sets; all rows, and those of this row's keys>, ...],
             e: <every record>, p: [[<joined union>, <other union>], ...], x: FALSE}
     FROM (SELECT 0 AS __cr_si, __cr_meet, <its keys> FROM (<a copy of sibling 0 as
           rewritten>) UNION ALL ...))

and the threshold (``threshold._near``) compares each of this row's sets with every record,
with every union, and, joined to one union, with each disjoint other: two rows anywhere in the
relation (released in two rows of the reader: a branch may group by another column under the
same name), a row against the union of other rows, all of them or those of its own group
(``a.n - b.n - c.n`` in one group, over everyone and two parts that hold all of it but 7
people), and ``a + b - c - d``. Other coefficients (``2a - b - c - d``) are not compared, as
in ``meet.py`` (docs/gate.md).

A sibling may be rewritten after the aggregation that reads it (SELECTs are rewritten
innermost first, and two branches of one union stand side by side), so each read stands as a
marker until the whole tree is rewritten, then is filled with copies of the rewritten
siblings, each taken before any read is placed (a copy taken after holds the reads placed in
it, each with copies of the others: 3.3 MB of SQL for three branches), with its records
appended as ``__cr_meet`` (a sibling itself outputs none: its union's branches must keep one
shape) and its own reads left out (an unread read: only its records are read, which do not
depend on them).

Fail closed: a sibling that was not rewritten, keys or rows that could not be followed into
every aggregation, too many siblings, unions or pairs, or a copy whose table names do not name
what they named where the sibling stands (a CTE named like a table, in scope at the reader
only) make the read an empty one marked unread (``x``), which the threshold reads as close.
"""

from __future__ import annotations

import json
from functools import lru_cache
from itertools import product
from math import prod

import sqlglot
from sqlglot import exp

from cleanroom.gate.lost import _same_target
from cleanroom.gate.meet import MEET
from cleanroom.gate.model import COPY_META, SKETCH_SIZE
from cleanroom.gate.sets import Siblings
from cleanroom.gate.walk import combine, copy_tree, find_all

SIBLING = "__cr_sibling"  # stands for a read of siblings' records until the rewrite is done
KEY = "__cr_sk"  # a sibling's key column in the read (``__cr_sk<keying>_<key>``)
WHO = "__cr_si"  # which sibling a row of the read is
ROW = "__cr_sw"  # the read's own rows: the names that tell them apart
# Up to this many siblings, the union of every subset of them is compared, and this row's
# people joined to some of them with others' (``_read``); past it (3^n pairs), every row
# counts as close: its computed cells are withheld (fail closed).
SIBLINGS = 4
# Past these many unions or pairs of them, every row counts as close (fail closed): each row
# tests every pair, and each union is a filtered aggregate of its read.
UNIONS, PAIRS = 64, 512

# The union of one set (``__cr_at``: its place in each row's records) of the rows that meet
# ``__cr_if``: its size the sum of their counts, its sketch the 4k smallest of all.
_UNION = """struct_pack(n := CAST(SUM(CAST(struct_extract(list_extract(__cr_meet, __cr_at), 'n')
  AS BIGINT)) FILTER (WHERE __cr_if) AS BIGINT), h := list_slice(list_sort(list_distinct(flatten(list(
  struct_extract(list_extract(__cr_meet, __cr_at), 'h')) FILTER (WHERE __cr_if)))), 1, {m}))"""


@lru_cache(maxsize=8)
def _union_template(k: int) -> exp.Expr:
    return sqlglot.parse_one(_UNION.format(m=SKETCH_SIZE * k), read="duckdb")


def sibling_markers(reads: list[Siblings], sel: exp.Select) -> list[exp.Expr]:
    """One marker per set operation that sets ``sel`` beside siblings, for ``fill_siblings``:
    the ids read (its own last, where it has several rows to a group), each keying's names
    and types (null: unread) and its own row names, then this aggregation's key values and
    row values (its projections of those names, read in its inner SELECT, which keeps its
    FROM and GROUP BY; ``sel`` is read before the split renames them)."""
    outputs = {p.alias_or_name.lower(): p.unalias() for p in sel.expressions}
    found: list[exp.Expr] = []
    for read in reads:
        keyings: list[dict[str, object] | None] = []
        values: list[exp.Expr] = []
        for keying in read.keyings:
            mine = [outputs.get(k.lower()) for k in keying.mine]
            if keying.unread or any(m is None for m in mine):
                keyings.append(None)
                continue
            theirs = [*keying.theirs, *([keying.mine] if read.own is not None else [])]
            keyings.append({"theirs": theirs, "types": keying.types})
            values += [copy_tree(m) for m in mine if m is not None]
        rows = [outputs.get(r.lower()) for r in read.rows]
        told = read.own is None or (bool(rows) and all(r is not None for r in rows))
        if read.own is not None:
            values += [copy_tree(r) for r in rows if r is not None]
        ids = [*read.ids, *([read.own] if read.own is not None else [])]
        spec = {"k": keyings, "own": read.own is not None, "rows": list(read.rows),
                "told": told}
        found.append(exp.Anonymous(this=SIBLING, expressions=[
            exp.Literal.string(",".join(str(i) for i in ids)),
            exp.Literal.string(json.dumps(spec)), *values]))
    return found


def fill_siblings(tree: exp.Expr, nodes: dict[int, exp.Expr],
                  records: dict[int, tuple[exp.Expr, int]], k: int, copies: set[int]) -> None:
    """Replace each marker by its read of the rewritten siblings' records (module doc)."""
    markers = [m for m in find_all(tree, exp.Anonymous) if m.name == SIBLING]
    if not markers:
        return
    reads = [([int(i) for i in at.expressions[0].name.split(",")],
              json.loads(at.expressions[1].name)) for at in markers]
    needed: dict[int, set[str]] = {}  # each sibling's key names that some read takes
    uses: dict[int, int] = {}  # reads left of each sibling: the last one takes ``plain``'s copy
    for ids, spec in reads:
        for position, i in enumerate(ids):
            uses[i] = uses.get(i, 0) + 1
            names = needed.setdefault(i, set())
            for keying in spec["k"]:
                if keying is not None and position < len(keying["theirs"]):
                    names.update(n.lower() for n in keying["theirs"][position])
            if spec["own"] and position == len(ids) - 1:
                names.update(n.lower() for n in spec["rows"])
    plain = {i: _with_records(node, records[i][0], needed.get(i, set()))
             for i, node in nodes.items() if i in records}
    sizes = {i: records[i][1] for i in records}  # how many sets each row's records hold
    # Their tables as they are now, before reads placed in them add more.
    tables = {i: list(nodes[i].find_all(exp.Table)) for i in plain}
    for at, (ids, spec) in zip(markers, reads):
        if any(s is None for s in spec["k"]) or not spec["told"] or \
                any(i not in plain for i in ids) or \
                len(ids) - spec["own"] > SIBLINGS:
            at.replace(_unread())
            continue
        read, placed = _read(ids, spec, list(at.expressions[2:]), plain, uses,
                             [sizes[i] for i in ids], k)
        if read is None:
            at.replace(_unread())
            continue
        for sel in read.find_all(exp.Select):
            sel.meta[COPY_META] = True
            copies.add(id(sel))
        at.replace(read)
        if not all(_same_tables(tables[i], list(copied.find_all(exp.Table)), nodes[i])
                   for i, copied in placed):
            read.replace(_unread())


_UNREAD = """struct_pack(u := CAST([] AS STRUCT(n BIGINT, h UBIGINT[])[]), e := CAST([] AS
  STRUCT(n BIGINT, h UBIGINT[])[]), p := CAST([] AS INTEGER[][]), x := TRUE)"""


def _unread() -> exp.Expr:
    """A read that could not be made: no records, and ``x`` true, which the threshold reads as
    close (a typed empty read: a bare NULL has no fields to read)."""
    return sqlglot.parse_one(_UNREAD, read="duckdb")


def _same_tables(mine: list[exp.Table], theirs: list[exp.Table], node: exp.Expr) -> bool:
    """Whether each table of a placed copy names what the sibling's own names."""
    return len(mine) == len(theirs) and all(_same_target(a, b, node)
                                            for a, b in zip(mine, theirs))


def _read(ids: list[int], full: dict, values: list[exp.Expr], plain: dict[int, exp.Expr],
          uses: dict[int, int], sizes: list[int], k: int
          ) -> tuple[exp.Subquery | None, list[tuple[int, exp.Expr]]]:
    """One read of the siblings ``ids`` (module doc), and each copy placed in it (None: too
    many unions or pairs, counted before any is built)."""
    spec: list[dict[str, list]] = full["k"]
    own = len(ids) - 1 if full["own"] else None  # this aggregation's place among ``ids``
    at_rows = sum(len(keying["types"]) for keying in spec)
    mine, row_values = values[:at_rows], values[at_rows:]
    placed: list[tuple[int, exp.Expr]] = []
    rows: exp.Expr | None = None
    for at, i in enumerate(ids):
        uses[i] -= 1
        copied = plain.pop(i) if uses[i] == 0 else copy_tree(plain[i])
        keys = [exp.alias_(exp.column(name, table="__cr_sr", quoted=True), f"{KEY}{g}_{j}",
                           quoted=True)
                for g, keying in enumerate(spec) for j, name in enumerate(keying["theirs"][at])]
        if at == own:
            keys += [exp.alias_(exp.column(name, table="__cr_sr", quoted=True), f"{ROW}{j}",
                                quoted=True) for j, name in enumerate(full["rows"])]
        elif own is not None:
            keys += [exp.alias_(exp.null(), f"{ROW}{j}", quoted=True)
                     for j in range(len(full["rows"]))]
        part = exp.select(exp.alias_(exp.Literal.number(at), WHO, quoted=True),
                          exp.column(MEET, table="__cr_sr", quoted=True), *keys).from_(
            exp.Subquery(this=copied, alias=exp.TableAlias(this=exp.to_identifier("__cr_sr"))),
            copy=False)
        placed.append((i, copied))
        rows = part if rows is None else exp.union(rows, part, distinct=False, copy=False)
    assert rows is not None
    # Which rows each union takes: each subset of the siblings'; each also only of this row's
    # keys, for each keying, where this aggregation's other rows of those keys may be taken
    # too (its rows, this one's left out: review, each branch split by a per-person tag into
    # two rows a campaign gave the campaign's few people).
    whose = [_of(subset) for subset in _subsets(len(ids))]
    keyed: list[exp.Expr] = []
    at_value = 0
    for g, keying in enumerate(spec):
        tests = []
        for j, kind in enumerate(keying["types"]):
            tests.append(_same_key(exp.column(f"{KEY}{g}_{j}", quoted=True),
                                   copy_tree(mine[at_value]), kind))
            at_value += 1
        if own is not None:  # its own rows: only the others of this row's keys
            same = combine(exp.And, *[exp.NullSafeEQ(
                this=exp.column(f"{ROW}{j}", quoted=True), expression=copy_tree(value))
                for j, value in enumerate(row_values)], copy=False)
            tests.append(exp.Or(this=exp.NEQ(this=exp.column(WHO, quoted=True),
                                             expression=exp.Literal.number(own)),
                                expression=exp.Not(this=exp.Paren(this=same))))
        keyed.append(combine(exp.And, *tests, copy=False))
    subsets = _subsets(len(ids))
    if _too_many(subsets, sizes, len(keyed), own):
        return None, placed
    # Each union takes, of each sibling's rows, one of their sets: their people, or one
    # aggregate's narrower people (second review: the parts counted by a CASE inside two
    # siblings, over rows that held more people, against everyone).
    unions: list[exp.Expr] = []
    index: dict[tuple[tuple[int, ...], tuple[int, ...], int], int] = {}  # -> place in unions
    for subset, who in zip(subsets, whose):
        for choice in product(*[range(1, sizes[j] + 1) for j in subset]):
            for g, key in enumerate([None, *keyed]):
                if g == 0 and own in subset:
                    continue  # its own rows are taken only beside this row, of its keys
                parts = [copy_tree(c) for c in (who, key) if c is not None]
                index[(subset, choice, g)] = len(unions) + 1
                unions.append(_union(combine(exp.And, *parts, copy=False) if parts
                                     else exp.true(), k, _position(subset, choice)))
    # This row's people with some siblings' against other siblings' (``a ∪ b`` against ``c ∪
    # d``: two partitions of one campaign's people, one less the 7-person channel): pairs of
    # places in ``unions``, {joined to this row, the others}.
    pairs = [[one, other] for (s1, _, g1), one in index.items()
             for (s2, _, g2), other in index.items() if g1 == g2 and not set(s1) & set(s2)]
    listed_rows: exp.Expr = exp.Anonymous(this="list", expressions=[exp.column(MEET, quoted=True)])
    if own is not None:  # its own rows are not compared one by one (groups of one query)
        listed_rows = exp.Filter(this=listed_rows, expression=exp.Where(this=exp.NEQ(
            this=exp.column(WHO, quoted=True), expression=exp.Literal.number(own))))
    every = exp.Anonymous(this="flatten", expressions=[listed_rows])
    listed = exp.Array(expressions=[exp.Array(expressions=[
        exp.Literal.number(i) for i in pair]) for pair in pairs]) if pairs else \
        sqlglot.parse_one("CAST([] AS INTEGER[][])", read="duckdb")
    probe = exp.select(exp.Anonymous(this="struct_pack", expressions=[
        exp.PropertyEQ(this=exp.to_identifier("u"), expression=exp.Array(expressions=unions)),
        exp.PropertyEQ(this=exp.to_identifier("e"), expression=every),
        exp.PropertyEQ(this=exp.to_identifier("p"), expression=listed),
        exp.PropertyEQ(this=exp.to_identifier("x"), expression=exp.false())])).from_(exp.Subquery(
            this=rows, alias=exp.TableAlias(this=exp.to_identifier("__cr_ml"))), copy=False)
    return exp.Subquery(this=probe), placed


def _too_many(subsets: list[tuple[int, ...]], sizes: list[int], keyings: int,
              own: int | None) -> bool:
    """Whether the unions or their pairs would pass ``UNIONS`` or ``PAIRS``, counted before
    any is built (third review: four siblings of eight narrower counts each took the gate
    7.5 s, of twelve 37 s, of sixteen past five minutes)."""
    counts = {s: prod(sizes[j] for j in s) for s in subsets}
    unions = sum(c * (keyings + (own not in s)) for s, c in counts.items())
    if unions > UNIONS:
        return True
    pairs = sum(counts[a] * counts[b] * (keyings + (own not in a and own not in b))
                for a in subsets for b in subsets if not set(a) & set(b))
    return pairs > PAIRS


def _subsets(n: int) -> list[tuple[int, ...]]:
    """The sets of siblings whose rows are taken together: every non-empty subset of ``n``
    (review: with the union of each one's rows and of all of theirs only, a fourth,
    overlapping decoy branch made the union of all others far, and each campaign's few people
    came out)."""
    return [tuple(i for i in range(n) if mask >> i & 1) for mask in range(1, 1 << n)]


def _of(subset: tuple[int, ...]) -> exp.Expr | None:
    """Rows of these siblings (None: of every sibling)."""
    if not subset:
        return None
    return exp.In(this=exp.column(WHO, quoted=True),
                  expressions=[exp.Literal.number(i) for i in subset])


def _position(subset: tuple[int, ...], choice: tuple[int, ...]) -> exp.Expr:
    """Which set of its records each sibling's rows give (``CASE __cr_si WHEN …``)."""
    if len(set(choice)) == 1:
        return exp.Literal.number(choice[0])
    return exp.Case(this=exp.column(WHO, quoted=True), ifs=[
        exp.If(this=exp.Literal.number(j), true=exp.Literal.number(c))
        for j, c in zip(subset, choice)])


def _union(condition: exp.Expr, k: int, position: exp.Expr) -> exp.Expr:
    found = copy_tree(_union_template(k))
    for col in list(find_all(found, exp.Column)):
        if col.name == "__cr_if" and not col.table:
            col.replace(copy_tree(condition))
        elif col.name == "__cr_at" and not col.table:
            col.replace(copy_tree(position))
    return found


def _with_records(node: exp.Expr, records: exp.Expr, keys: set[str]) -> exp.Expr:
    """A copy of a rewritten sibling that outputs its records and the key columns ``keys``
    only (its cells, their flags and the probes in them are not read: its rows are those it
    keeps, whatever its flags say), its own reads left out."""
    copied = copy_tree(node)
    if isinstance(copied, exp.Select) and not any(copied.args.get(a) for a in (
            "order", "limit", "offset", "qualify", "distinct", "having")):
        copied.set("expressions", [p for p in copied.expressions
                                   if p.alias_or_name.lower() in keys])
    for inner in [m for m in find_all(copied, exp.Anonymous) if m.name == SIBLING]:
        inner.replace(_unread())
    copied.append("expressions", exp.alias_(copy_tree(records), MEET, quoted=True, copy=False))
    _trim_inner(copied)
    return copied


def _trim_inner(outer: exp.Expr) -> None:
    """Leave out the projections of a copy's inner SELECT (``__cr_q``) that nothing reads: its
    cells' flags, patterns and reads of its own siblings (the engine binds every one: the
    AMC templates' SQL was ten times the exact query's, most of the engine's time planning)."""
    from_ = outer.args.get("from_") if isinstance(outer, exp.Select) else None
    inner = from_.this.this if from_ is not None and isinstance(from_.this, exp.Subquery) \
        and from_.this.alias == "__cr_q" else None
    if not isinstance(inner, exp.Select) or inner.args.get("distinct") or any(
            isinstance(g, exp.Literal) for g in (inner.args.get("group") or exp.Group()).expressions):
        return  # DISTINCT reads every column; a GROUP BY position reads its projection
    used = {c.name for c in find_all(outer, exp.Column, stop=exp.Subquery)}
    for clause in ("where", "group", "having", "qualify", "order"):
        if inner.args.get(clause) is not None:
            used |= {c.name for c in find_all(inner.args[clause], exp.Column)}
    inner.set("expressions", [p for p in inner.expressions
                              if not isinstance(p, exp.Alias) or p.alias in used])


def _same_key(theirs: exp.Expr, mine: exp.Expr, kind: str | None) -> exp.Expr:
    """Rows of one group of the reader: the same value once the set operation casts it to
    its column's type (one known type: as they are; else compared as text)."""
    if kind is None:
        theirs = exp.Cast(this=theirs, to=exp.DataType.build("VARCHAR"))
        mine = exp.Cast(this=mine, to=exp.DataType.build("VARCHAR"))
    return exp.NullSafeEQ(this=theirs, expression=mine)
