"""The cells of one answer that may share data rows across its released rows: the patterns the
release needs to check every combination of them (``cleanroom/isolation.py``, ``across``).

The per-row check (``cells.py``) sees the aggregates of one row. Rows of one answer can share
data rows too: the branches of a final set operation (``SUM(revenue)`` over everyone beside
the same sum over two partitions of everyone but one person), and the groups of an aggregation
whose input is a ``UNION ALL`` that repeats data rows under two keys. Each released aggregate
is a *cell* ``hash(hash(tag, keys), bit)``: the aggregation (``tag``), its row's group keys,
and the condition its support adds (bit -1: every row of the group). A hidden side computation
scans the data rows each aggregation reads and lists, per data row, the cells it falls in (its
*pattern*), and per pattern how many people hold a row of it. Rows are identified by the scan
itself: aggregations that read the same source (the same FROM and joins) are one scan, each
row's pattern the cells of every aggregation it passes; a ``UNION ALL`` input is looked
through to its row-level branches, whose rows are the data rows. Sources that differ must read
disjoint tables (their rows are different data); otherwise the rows cannot be matched, and the
answer's cells are withheld (fail closed), as they are when there are more than
``MAX_PATTERNS`` patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from cleanroom.gate.cells import COPY_META, either
from cleanroom.gate.walk import combine, copy_tree, sql_text

OVERLAP = "__cr_o"  # release.OVERLAP: a row's cells (and, on one row, the answer's patterns)
GROUP = "__cr_g"  # an aggregation's hash of its tag and group keys, in its inner SELECT
MAX_PATTERNS = 4096
_FILL = "__cr_fill"


@dataclass(frozen=True)
class Feed:
    """The data rows one aggregation (or one branch of its UNION ALL input) reads."""

    source: tuple[exp.Expr, ...]  # FROM, then joins (copies)
    where: exp.Expr | None
    person: exp.Expr
    group: exp.Expr  # hash(tag, keys): equal to the released row's ``GROUP``
    conditions: tuple[exp.Expr, ...]  # bit i: condition i (``cells.bits``)


@dataclass
class Overlap:
    """What one rewrite collects for the side computation."""

    ctes: dict[str, exp.CTE]
    feeds: list[Feed] = field(default_factory=list)
    carriers: list[exp.Expr] = field(default_factory=list)  # placeholders for the patterns
    broken: bool = False  # some aggregation's rows could not be identified
    strict: bool = False  # a final set operation: unmatched rows withhold every cell
    # A final aggregation over a UNION ALL input whose group keys are, in every branch, the
    # same column of the same table: its groups hold different data rows (``keyed_alike``).
    keyed: bool = False
    ordered: bool = False  # the set operation's ORDER BY reads every released cell
    tags: int = 0

    def next_tag(self) -> int:
        self.tags += 1
        return self.tags - 1


def group_hash(tag: int, keys: list[exp.Expr]) -> exp.Expr:
    """``hash(tag, CAST(key AS VARCHAR), ...)``: text, so that a UNION ALL's coerced column and
    its branch's own value hash alike (a mismatch leaves a cell in no pattern: withheld)."""
    texts = [exp.Cast(this=exp.Paren(this=k), to=exp.DataType.build("VARCHAR")) for k in keys]
    return exp.Anonymous(this="hash", expressions=[exp.Literal.number(tag), *texts])


def cell(group: exp.Expr, bit: int) -> exp.Expr:
    return exp.Anonymous(this="hash", expressions=[group, exp.Literal.number(bit)])


def add_feeds(overlap: Overlap, inner: exp.Select, person: exp.Expr, group: exp.Expr,
              conditions: list[exp.Expr], keys: list[exp.Expr] | None = None) -> None:
    """The feeds of one aggregation (its inner SELECT, already rewritten), grouped by
    ``keys``."""
    source = (inner.args["from_"], *(inner.args.get("joins") or []))
    where = inner.args.get("where")
    base = Feed(tuple(copy_tree(s) for s in source), copy_tree(where.this) if where else None,
                copy_tree(person), copy_tree(group), tuple(copy_tree(c) for c in conditions))
    union = None if inner.args.get("joins") else union_input(overlap, inner.args["from_"].this)
    if union is None:
        overlap.feeds.append(base)
        return
    alias, branches = union
    read = {c.name.lower() for c in inner.find_all(exp.Column) if c.table in ("", alias)}
    overlap.keyed = keyed_alike(overlap, keys or [], alias, branches, read)
    for branch in branches:
        looked = _through(base, alias, branches[0], branch)
        if looked is None:
            overlap.broken = True
            return
        overlap.feeds.append(looked)


def union_input(overlap: Overlap, source: exp.Expr) -> tuple[str, list[exp.Select]] | None:
    """A UNION ALL read as the aggregation's only source (subquery or CTE): its alias and
    branches."""
    body: exp.Expr | None = None
    if isinstance(source, exp.Subquery):
        body = source.this
    elif isinstance(source, exp.Table) and not source.db and source.name in overlap.ctes:
        body = overlap.ctes[source.name].this
    branches = _union_branches(body) if isinstance(body, exp.Union) else None
    return None if branches is None else (source.alias_or_name, branches)


def _union_branches(node: exp.Expr) -> list[exp.Select] | None:
    """The SELECTs of a UNION [ALL] (a UNION keeps rows that differ in their key, so it
    repeats data rows as UNION ALL does); None when an INTERSECT or EXCEPT is inside."""
    if isinstance(node, exp.Subquery):
        return _union_branches(node.this)
    if isinstance(node, exp.Select):
        return [node]
    if not isinstance(node, exp.Union):
        return None
    left, right = _union_branches(node.left), _union_branches(node.right)
    return None if left is None or right is None else left + right


def keyed_alike(overlap: Overlap, keys: list[exp.Expr], alias: str,
                branches: list[exp.Select], read: set[str] | None = None) -> bool:
    """Whether each group key over the UNION ALL is, in every branch, one and the same column
    of one and the same table, passed on as it is (through CTEs, subqueries and groupings; a
    join only in the branch itself, whose every column the aggregation reads, ``read`` (None:
    all), then comes from the key's relation): a
    data row then falls in the group of its own value whichever branch it comes through, so two
    groups never share one, as the groups of a plain GROUP BY do not. A key set per branch
    (``SELECT 1 AS g, … UNION ALL SELECT 2, …``) puts one data row in two groups: then the
    groups are checked across, or withheld (``fill_patterns``). So does a key read from another
    relation of a join than the values: a conversion joined to two impressions of its person is
    in the group of either's channel (``i.channel`` in one branch, ``j.channel`` of another
    alias in the other: review round 6 decoded one revenue from two such groups)."""
    names = [p.alias_or_name.lower() for p in branches[0].expressions]
    for key in keys:
        column = key.unalias().unnest()
        if not isinstance(column, exp.Column) or column.table not in ("", alias) or \
                column.name.lower() not in names:
            return False
        at = names.index(column.name.lower())
        origins = {_origin(b.expressions[at], b, overlap.ctes, 0) if at < len(b.expressions)
                   else None for b in branches}
        if None in origins or len(origins) != 1:
            return False
        used = [i for i, n in enumerate(names) if read is None or n in read or i == at]
        if not all(_one_relation(b, b.expressions[at], used) for b in branches):
            return False
    return True


def _one_relation(sel: exp.Select, key: exp.Expr, used: list[int]) -> bool:
    """Without a join, or with every column ``sel`` outputs at ``used`` read from the relation
    of its key ``key`` (a column: ``_origin``), so the values it groups are of the key's own
    rows."""
    if sel.args.get("laterals"):
        return False
    if not sel.args.get("joins"):
        return True
    key = key.unalias().unnest()
    if not isinstance(key, exp.Column) or not key.table:
        return False
    if len(sel.expressions) < len(used) or max(used, default=0) >= len(sel.expressions):
        return False
    outputs = [sel.expressions[i] for i in used]
    return all(c.table == key.table for p in outputs for c in p.find_all(exp.Column)) \
        and not any(isinstance(n, (exp.Star, exp.Query)) for p in outputs for n in p.walk())


def _origin(node: exp.Expr, sel: exp.Select, ctes: dict[str, exp.CTE], depth: int
            ) -> tuple[str, str] | None:
    """The (table, column) that ``node``, an expression of ``sel``, passes on as it is."""
    node = node.unalias().unnest()
    source = sel.args.get("from_")
    if not isinstance(node, exp.Column) or source is None or depth > 16:
        return None
    if depth and (sel.args.get("joins") or sel.args.get("laterals")):
        return None  # a join inside: its rows' values may be another relation's (keyed_alike)
    relations = [source.this, *[j.this for j in sel.args.get("joins") or []]]
    found = [r for r in relations if r.alias_or_name == node.table] if node.table \
        else relations[:1] if len(relations) == 1 else []
    if len(found) != 1:
        return None
    relation = found[0]
    body: exp.Expr | None = None
    renamed: list[str] = []
    if isinstance(relation, exp.Subquery):
        body = relation.this
    elif isinstance(relation, exp.Table) and not relation.db:
        if relation.name not in ctes:
            return relation.name.lower(), node.name.lower()
        body = ctes[relation.name].this
        renamed = [c.name.lower() for c in ctes[relation.name].args["alias"].columns] \
            if ctes[relation.name].args.get("alias") else []
    alias = relation.args.get("alias")
    if alias is not None and alias.columns:
        renamed = [c.name.lower() for c in alias.columns]
    if not isinstance(body, exp.Select):
        return None
    names = [p.alias_or_name.lower() for p in body.expressions]
    names[:len(renamed)] = renamed
    if names.count(node.name.lower()) != 1:
        return None
    return _origin(body.expressions[names.index(node.name.lower())], body, ctes, depth + 1)


def _row_level(sel: exp.Select) -> bool:
    if any(sel.args.get(a) for a in ("group", "having", "distinct", "qualify", "limit")):
        return False
    own = [n for p in sel.expressions for n in p.walk(prune=lambda n: isinstance(n, exp.Subquery))]
    return not any(isinstance(n, (exp.AggFunc, exp.Window)) for n in own)


def _through(feed: Feed, alias: str, first: exp.Select, branch: exp.Select) -> Feed | None:
    """The feed read through one row-level UNION ALL branch: the union's columns become the
    branch's own expressions, over the branch's FROM and WHERE (None: not row-level)."""
    if not _row_level(branch) or not branch.args.get("from_"):
        return None
    names = [p.alias_or_name.lower() for p in first.expressions]
    values = {n: p.unalias() for n, p in zip(names, branch.expressions)}
    if len(values) != len(branch.expressions):
        return None
    try:
        subst = _substitute(values, alias)
        where = [w for w in (branch.args.get("where"), ) if w is not None]
        own = [subst(feed.where)] if feed.where is not None else []
        conditions = [exp.Paren(this=copy_tree(w.this)) for w in where] + own
        source = (branch.args["from_"], *(branch.args.get("joins") or []))
        return Feed(tuple(copy_tree(s) for s in source),
                    combine(exp.And, *conditions, copy=False) if conditions else None,
                    subst(feed.person), subst(feed.group),
                    tuple(subst(c) for c in feed.conditions))
    except KeyError:
        return None


Swap = Callable[[exp.Expr], exp.Expr]


def _substitute(values: dict[str, exp.Expr], alias: str) -> Swap:
    """A copy of a node with each column of the union (``alias``) replaced by the branch's
    expression; KeyError for a column the branch does not output."""
    def swap(column: exp.Column) -> exp.Expr:
        if column.name.lower() not in values:
            raise KeyError(column.name)
        return exp.Paren(this=copy_tree(values[column.name.lower()]))

    def subst(node: exp.Expr) -> exp.Expr:
        node = copy_tree(node)
        # Nested SELECTs have scopes of their own: their columns are not the union's.
        found = node.walk(prune=lambda n: isinstance(n, (exp.Select, exp.Subquery)))
        for column in [n for n in found if isinstance(n, exp.Column) and n.table in ("", alias)]:
            if column is node:
                return swap(column)
            column.replace(swap(column))
        return node
    return subst


# -- the side computation ------------------------------------------------------------------
_PATTERNS = """(SELECT CASE WHEN COUNT(*) <= {most} THEN LIST(STRUCT_PACK(p := __cr_pat,
  n := __cr_np)) END FROM (SELECT __cr_pat, COUNT(DISTINCT __cr_who) AS __cr_np
  FROM __cr_fill AS __cr_rows GROUP BY __cr_pat) AS __cr_hist)"""


def matched(overlap: Overlap) -> bool:
    """Whether every data row the answer's aggregations read can be told apart (``_pools``)."""
    pools = _pools(overlap)
    return not overlap.broken and bool(pools) and _disjoint(overlap, [f[0] for f in pools.values()])


def _pools(overlap: Overlap) -> dict[str, list[Feed]]:
    pools: dict[str, list[Feed]] = {}
    for feed in overlap.feeds:
        pools.setdefault(" ".join(sql_text(s) for s in feed.source), []).append(feed)
    return pools


def patterns(overlap: Overlap) -> exp.Expr:
    """The answer's patterns ``[{p: sorted cells, n: people}]`` (NULL: cannot be checked, and
    the release withholds every cell)."""
    pools = _pools(overlap)
    if not matched(overlap):
        return exp.Null()
    scans = [_scan(feeds) for feeds in pools.values()]
    union: exp.Expr = scans[0]
    for scan in scans[1:]:
        union = exp.Union(this=union, expression=scan, distinct=False)
    query = sqlglot.parse_one(_PATTERNS.format(most=MAX_PATTERNS), read="duckdb")
    for table in list(query.find_all(exp.Table)):
        if table.name == _FILL:
            table.replace(exp.Subquery(this=union, alias=exp.TableAlias(
                this=exp.to_identifier("__cr_rows"))))
    for sel in query.find_all(exp.Select):
        sel.meta[COPY_META] = True
    return query


def _scan(feeds: list[Feed]) -> exp.Select:
    """One pass over a shared source: each row's person and the cells of every feed it passes."""
    lists = [_cells(f) for f in feeds]
    joined = lists[0] if len(lists) == 1 else exp.Anonymous(this="flatten", expressions=[
        exp.Array(expressions=lists)])
    kept = sqlglot.parse_one("list_sort(list_filter(__cr_all, lambda __cr_e: __cr_e IS NOT NULL))",
                             read="duckdb")
    next(c for c in kept.find_all(exp.Column) if c.name == "__cr_all").replace(joined)
    person = copy_tree(feeds[0].person)
    who = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=copy_tree(person), expression=exp.Null())),
                               true=exp.Anonymous(this="hash", expressions=[person]))])
    scan = exp.select(exp.alias_(who, "__cr_who", copy=False),
                      exp.alias_(kept, "__cr_pat", copy=False))
    scan.set("from_", copy_tree(feeds[0].source[0]))
    if len(feeds[0].source) > 1:
        scan.set("joins", [copy_tree(j) for j in feeds[0].source[1:]])
    wheres = [f.where for f in feeds]
    if all(w is not None for w in wheres):
        scan.set("where", exp.Where(this=either(*[exp.Paren(this=copy_tree(w)) for w in wheres
                                                  if w is not None])))
    outer = exp.select("__cr_who", "__cr_pat").from_(exp.Subquery(
        this=scan, alias=exp.TableAlias(this=exp.to_identifier("__cr_scan")))).where(
        "len(__cr_pat) > 0", dialect="duckdb")
    return outer


def _cells(feed: Feed) -> exp.Expr:
    items: list[exp.Expr] = [cell(copy_tree(feed.group), -1)]
    for bit, condition in enumerate(feed.conditions):
        items.append(exp.Case(ifs=[exp.If(this=exp.Paren(this=copy_tree(condition)),
                                          true=cell(copy_tree(feed.group), bit))]))
    found: exp.Expr = exp.Array(expressions=items)
    if feed.where is None:
        return found
    return exp.Case(ifs=[exp.If(this=exp.Paren(this=copy_tree(feed.where)), true=found)],
                    default=exp.Cast(this=exp.Array(expressions=[]),
                                     to=exp.DataType.build("UBIGINT[]", dialect="duckdb")))


def _disjoint(overlap: Overlap, pools: list[Feed]) -> bool:
    """Different sources must read different tables (else their rows may be the same data)."""
    seen: set[str] = set()
    for feed in pools:
        tables = _tables(overlap, list(feed.source), set())
        if tables & seen:
            return False
        seen |= tables
    return True


def _tables(overlap: Overlap, nodes: list[exp.Expr], visiting: set[str]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        for table in node.find_all(exp.Table):
            name = table.name
            if not table.db and name in overlap.ctes and name not in visiting:
                found |= _tables(overlap, [overlap.ctes[name].this], visiting | {name})
            else:
                found.add(name.lower())
    return found
