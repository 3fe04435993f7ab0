"""A set operation inside the query whose branches aggregate people is read as its branches
*met* (``meet.py``), so that its rows are compared across branches wherever they go.

    WITH u AS (SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM t
               UNION ALL SELECT 'most', COUNT(DISTINCT user_key) FROM t WHERE c <> 'x')
    SELECT who, MAX(n) FROM u GROUP BY who

gave both counts, seven people apart: a final set operation's rows are compared by the release
(``release.close_rows``) and a final SELECT that only passes one on is read as it
(``inline.py``, with the readers that distribute over its branches), but rows read otherwise
(beside a window over them, joined to a table, read in another CTE) were intermediate
aggregations, each thresholded on its own. Such a UNION ALL is read as

    SELECT COALESCE(__cr_u0.who, __cr_u1.who) AS who, COALESCE(__cr_u0.n, __cr_u1.n) AS n
    FROM (...) AS __cr_u0(who, n) FULL JOIN (...) AS __cr_u1(who, n) ON FALSE

which has the same rows: each branch's row beside the other branches' NULLs. Its branches are
then aggregations that meet in one relation, and ``meet.py`` compares every set of each row
with every set of every row of the other branches (and with the union of their rows): a row
whose people may differ from another's by 1 to k-1 is flagged, a taint, and every cell
computed from it is withheld, whatever reads it.

Where a column's branches have different types, each is cast to the set operation's
(``types.unified``; COALESCE unifies text and booleans otherwise); where one is not known the
query is refused (``set_column_type``). Only UNION ALL is read so (UNION, INTERSECT and EXCEPT
of aggregates are refused, ``aggregate_set_comparison``); a final set operation and the branches
of one are the release's; branches of people's rows, or of keys only, are left alone; and so is
a UNION ALL that a SELECT groups by a key that is a column in every branch (the AMC union
templates: each group sums several branches' rows, which per-row flags would withhold whole;
open, docs/gate.md). Grouped by anything else (a key a branch sets to a constant, a cast or a
function, an expression of the key, ``GROUP BY ALL``), or aggregated whole, directly or through
SELECTs that pass its rows on, it is read so.

Which set operations to read so is decided on the analysed tree and applied to a copy of the
tree taken before the analysis, matched by identity (``places_of``; the analysis drops a
lookup's set operation, so their count in a walk differed), innermost first (``meet_sets``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.model import Mode, QueryShape
from cleanroom.gate.nodes import bare_subquery, set_leaves
from cleanroom.gate.passes import links, pass_through
from cleanroom.gate.rules import violation
from cleanroom.gate.taint import cte_body, cte_of
from cleanroom.gate.types import branch_types, unified
from cleanroom.gate.walk import copy_tree, find_all

_NAME = "__cr_u"


def sets_to_meet(shape: QueryShape) -> list[exp.SetOperation]:
    """The set operations of the analysed tree to read as met branches."""
    return [node for node in find_all(shape.tree, exp.SetOperation) if _takes(shape, node)]


def places_of(taken: list[exp.SetOperation], before: list[exp.SetOperation]) -> list[int]:
    """The places of ``taken`` among ``before``, the set operations of the tree as it was
    before analysis (a walk of a copy of it finds its own at the same places). Analysis
    normalizes the tree in place, so counting the analysed tree's set operations is not
    counting the copy's: a lookup ``JOIN (SELECT 'video' AS c UNION ALL SELECT 'email') AS v``
    is read as CASEs and its set operation is gone, and the copy's next one was read as met
    instead of the one taken (review round 7: two rows seven people apart, both released).
    Matched by identity; one analysis made (a copy of a HAVING's alias) is the same as the
    one it copies, which must be taken too; else the query is refused."""
    where = {id(node): at for at, node in enumerate(before)}
    places = sorted({where[id(node)] for node in taken if id(node) in where})
    matched = {before[at].sql("duckdb") for at in places}
    for node in taken:
        if id(node) not in where and node.sql("duckdb") not in matched:
            raise QueryRejected([violation("unsupported_syntax", "a set operation the gate "
                                           "could not place", line=1, col=1)])
    return places


def meet_sets(fresh: exp.Expr, places: list[int], types: dict[str, dict[str, str]] | None
              ) -> None:
    """Read, in ``fresh`` (the tree as it was before analysis), the set operations at
    ``places`` as their branches met (module doc). The last first: a walk finds a set
    operation before those inside it, and reading it as met copies its branches, so one inside
    a branch (``SELECT 'd', MAX(n) - MIN(n) FROM (… UNION ALL …) AS p`` as a branch) is read
    first, in place, or never (review round 7: the 7 came out). One that is a nested part of
    another's branches (``(a UNION ALL b) UNION ALL c``) is read with it."""
    found = find_all(fresh, exp.SetOperation)
    taken = {id(found[at]) for at in places}
    for at in reversed(places):
        if _chain_top(found[at]) is not found[at] and id(_chain_top(found[at])) in taken:
            continue
        _meet_branches(found[at], fresh, types)


def _chain_top(node: exp.Expr) -> exp.Expr:
    """The outermost set operation whose branches ``set_leaves`` flattens ``node`` into."""
    while True:
        parent = node.parent
        step = parent if parent is not None and bare_subquery(parent) else node
        if not isinstance(step.parent, exp.SetOperation) or \
                step.arg_key not in ("this", "expression"):
            return node
        node = step.parent


def _takes(shape: QueryShape, node: exp.SetOperation) -> bool:
    if _chain_top(node) is not node:
        # A part of a longer chain (``(a UNION ALL b) UNION ALL c``) is read with it: read on
        # its own, its first two branches became a join beside the third, and a grouped
        # reader lost its keys (every cell withheld).
        return False
    if _in_final(node, shape.tree) or not _all_union_all(node):
        return False
    leaves = set_leaves(node)
    aggregating = 0
    for leaf in leaves:
        sel = leaf.this if isinstance(leaf, exp.Subquery) else leaf
        if not isinstance(sel, exp.Select):
            continue
        plan = shape.plans.get(id(sel))
        source = sel if plan is not None and plan.mode is Mode.ANONYMIZING \
            else pass_through(shape, sel) if plan is not None else None
        if source is not None and _counts(source):
            aggregating += 1
    return aggregating >= 2 and not _aggregated(node, shape.tree, 0)


def _counts(sel: exp.Select) -> bool:
    """An aggregation that outputs numbers (a list of keys on k people each gives none)."""
    return any(isinstance(a, exp.AggFunc) for p in sel.expressions for a in p.find_all(exp.AggFunc))


def _aggregated(node: exp.Expr, root: exp.Expr, depth: int,
                top: exp.SetOperation | None = None, renamed: bool = False) -> bool:
    """Whether a SELECT that groups ``node``'s rows (maybe through SELECTs that only pass them
    on) by a key alike in every branch reads them: there each group may add rows of several
    branches (the AMC union templates), and the groups over a UNION ALL input are the
    release's (``overlap.py``); the set operation is left as it is, and its aggregations'
    rows are compared as siblings (``sibling_aggregations``). Any other reader that
    aggregates (whole, or grouped by anything else: a key a branch sets to a constant or an
    expression, an expression of the key, ``GROUP BY ALL``) reads rows that are compared in
    place.

    Review round 7: this took only readers grouped by a key some branch sets to a literal,
    and none through a SELECT that passes the rows on: ``'all'::VARCHAR AS who`` grouped by
    who, ``GROUP BY who || ''``, ``GROUP BY ALL``, and ``MAX(n) - MIN(n)`` over ``(SELECT n
    FROM u)`` released both counts, or their 7."""
    found = _groupings(node, root, depth, top, renamed)
    return bool(found) and _FILTERED not in found


_FILTERED = [-1]  # a reader on the way filters the rows: read as met (``_groupings``)


def _groupings(node: exp.Expr, root: exp.Expr, depth: int,
               top: exp.SetOperation | None = None, renamed: bool = False) -> list[list[int]]:
    """For each SELECT that groups ``node``'s rows (``_aggregated``) by keys alike in every
    branch, the positions of those keys among the set operation's columns; ``[[]]`` past the
    depth (fail closed: left as it is, and compared by no key); ``[_FILTERED]`` where a
    reader on the way has WHERE, HAVING or QUALIFY."""
    if top is None:
        assert isinstance(node, exp.SetOperation)
        top = node
    if depth > 16:
        return [[]]
    found: list[list[int]] = []
    for reader in _readers(node, root):
        if any(reader.args.get(a) for a in ("where", "having", "qualify")):
            # A condition over the rows drops a sibling's withheld (NULL) row, and its group
            # with it, where nothing flags the loss (review: ``WHERE n > 0`` answered no row,
            # exact): such a set operation is read as met, its conditions keeping flagged rows.
            return [_FILTERED]
        grouped = reader.args.get("group") is not None
        if grouped or any(isinstance(a, exp.AggFunc) and not isinstance(a.parent, exp.Window)
                          for p in reader.expressions for a in p.find_all(exp.AggFunc)):
            keys = _alike_keys(reader, top) if grouped and not renamed else []
            if keys:
                found.append(keys)
            continue  # what reads this reader's rows reads aggregates of compared rows
        passed = reader.parent if isinstance(reader.parent, (exp.CTE, exp.Subquery)) else None
        if passed is not None:
            found += _groupings(reader, root, depth + 1, top,
                                renamed or not _same_names(reader))
    return found


def _same_names(reader: exp.Select) -> bool:
    """Each projection a star or a column under its own name (what reads it reads the set
    operation's columns by their names)."""
    for p in reader.expressions:
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)):
            if any(v for k, v in p.args.items() if k not in ("this", "table")) or (
                    isinstance(p, exp.Column) and any(p.this.args.values())):
                return False
            continue
        if not isinstance(p.unalias(), exp.Column) or \
                p.unalias().name.lower() != p.alias_or_name.lower():
            return False
    return True


def _alike_keys(reader: exp.Select, node: exp.SetOperation) -> list[int]:
    """The positions of the group keys of ``reader`` that are columns of the set operation
    that every branch sets to a column of its own (``SELECT campaign, … GROUP BY campaign UNION ALL SELECT
    campaign, …``): read by its name, its position, ``GROUP BY ALL`` or the alias of a
    projection that is that name. A key a branch sets to a constant, a NULL or an expression,
    and an expression of a key, are not."""
    leaves = set_leaves(node)
    names = _names(node, leaves[0])
    if names is None:
        return []
    at = {n.lower(): i for i, n in enumerate(names)}
    aliases = {p.alias.lower(): p.this for p in reader.expressions if isinstance(p, exp.Alias)}
    group = reader.args["group"]
    keys = [k.unalias() for k in group.expressions]
    found: list[int] = []
    if group.args.get("all"):
        keys += [p.unalias() for p in reader.expressions if not p.find(exp.AggFunc)]
    for key in keys:
        if isinstance(key, exp.Literal) and key.is_int:  # GROUP BY 1: the first projection
            index = int(key.name) - 1
            key = reader.expressions[index].unalias() if 0 <= index < len(reader.expressions) \
                else key
        if isinstance(key, exp.Column) and not key.table and key.name.lower() not in at:
            key = aliases.get(key.name.lower(), key)  # an output name: DuckDB's second choice
        if not isinstance(key, exp.Column) or key.name.lower() not in at:
            continue
        index = at[key.name.lower()]
        if index not in found and all(
                isinstance(sel, exp.Select) and index < len(sel.expressions) and
                _plain_column(sel, sel.expressions[index].unalias(), 0)
                for sel in (leaf.this if isinstance(leaf, exp.Subquery) else leaf
                            for leaf in leaves)):
            found.append(index)
    return found


def _plain_column(sel: exp.Select, value: exp.Expr, depth: int) -> bool:
    """Whether ``value``, projected by ``sel``, is a column of a dataset: traced through the
    CTEs and subqueries it reads (review round 7: ``SELECT k AS who … FROM (SELECT 'all' AS
    k, …)`` is the branch's constant, not a column)."""
    if not isinstance(value, exp.Column) or depth > 16:
        return False
    sources = {s.alias_or_name.lower(): s for s in
               [*([sel.args["from_"].this] if sel.args.get("from_") else []),
                *(j.this for j in sel.args.get("joins") or [])]}
    source = sources.get(value.table.lower()) if value.table else (
        next(iter(sources.values())) if len(sources) == 1 else None)
    if source is None:
        return False
    body: exp.Expr | None = source.this if isinstance(source, exp.Subquery) else \
        cte_body(source) if isinstance(source, exp.Table) else None
    if isinstance(source, exp.Table) and body is None:
        return not source.args.get("db")  # a dataset's own column
    if isinstance(body, exp.Subquery):
        body = body.this
    if isinstance(body, exp.SetOperation):  # a column in every branch, by position
        leaves = set_leaves(body)
        names = _names(body, leaves[0])
        at = [i for i, n in enumerate(names or []) if n.lower() == value.name.lower()]
        selects = [leaf.this if isinstance(leaf, exp.Subquery) else leaf for leaf in leaves]
        return len(at) == 1 and all(
            isinstance(b, exp.Select) and at[0] < len(b.expressions)
            and _plain_column(b, b.expressions[at[0]].unalias(), depth + 1) for b in selects)
    if not isinstance(body, exp.Select):
        return False
    inner = [p for p in body.expressions if p.alias_or_name.lower() == value.name.lower()]
    return len(inner) == 1 and _plain_column(body, inner[0].unalias(), depth + 1)


def _readers(node: exp.Expr, root: exp.Expr) -> list[exp.Select]:
    """The SELECTs whose FROM or JOIN reads ``node`` (a CTE's body by the CTE's name, a
    subquery in place)."""
    holder = node.parent
    if isinstance(holder, exp.Subquery):
        reader = holder.parent.parent if isinstance(holder.parent, (exp.From, exp.Join)) \
            else None
        return [reader] if isinstance(reader, exp.Select) else []
    if not isinstance(holder, exp.CTE):
        return []
    name = holder.alias_or_name
    found = []
    for table in find_all(root, exp.Table):
        if table.name == name and not table.args.get("db") and \
                isinstance(table.parent, (exp.From, exp.Join)) and \
                isinstance(table.parent.parent, exp.Select) and cte_of(table) is holder:
            found.append(table.parent.parent)
    return found


def _in_final(node: exp.Expr, root: exp.Expr) -> bool:
    """``node`` is the final set operation or a nested branch of it."""
    while node is not root:
        parent = node.parent
        if not isinstance(parent, (exp.SetOperation, exp.Subquery)) or parent is None:
            return False
        node = parent
    return True


def _all_union_all(node: exp.Expr) -> bool:
    if bare_subquery(node):
        return _all_union_all(node.this)
    if not isinstance(node, exp.SetOperation):
        return True
    return isinstance(node, exp.Union) and not node.args.get("distinct") and \
        _all_union_all(node.left) and _all_union_all(node.right)


def _meet_branches(node: exp.SetOperation, root: exp.Expr,
                   types: dict[str, dict[str, str]] | None) -> None:
    leaves = set_leaves(node)
    names = _names(node, leaves[0])
    if names is None:
        raise QueryRejected([violation("set_column_type", "a branch's column names",
                                       line=1, col=1)])
    casts = _casts(node, names, leaves, root, types or {})
    joined = exp.Select(expressions=[exp.alias_(
        exp.Coalesce(this=_column(0, p, n, casts), expressions=[
            _column(i, p, n, casts) for i in range(1, len(leaves))]), n, quoted=True)
        for p, n in enumerate(names)])
    for at, leaf in enumerate(leaves):
        body = leaf.this if bare_subquery(leaf) else leaf
        body = copy_tree(body)
        if isinstance(body, exp.Select) and len(body.expressions) == len(names):
            # An unnamed projection takes the set operation's name: ``SELECT NULL, NULL`` has
            # two columns named NULL, which the column list renames but the analysis reads as
            # one name output twice (refused, ambiguous_column). A named one is left as it is
            # (its GROUP BY or ORDER BY may read its alias).
            body.set("expressions", [
                p if isinstance(p, (exp.Alias, exp.Column, exp.Star)) else
                exp.alias_(p, n, quoted=True) for p, n in zip(body.expressions, names)])
        source = exp.Subquery(this=body, alias=exp.TableAlias(
            this=exp.to_identifier(f"{_NAME}{at}"),
            columns=[exp.to_identifier(n, quoted=True) for n in names]))
        if at == 0:
            joined.set("from_", exp.From(this=source))
        else:
            joined.append("joins", exp.Join(this=source, side="FULL", on=exp.false()))
    for arg in ("with_", "order", "limit", "offset"):
        if node.args.get(arg) is not None:
            joined.set(arg, node.args[arg])
    order = joined.args.get("order")
    if order is not None:
        # A set operation's ORDER BY reads its output; in an expression of the met SELECT a
        # bare name would read both branches' columns of that name (review round 7: ``ORDER
        # BY n + 1`` failed in the engine, ambiguous): each reads its COALESCE.
        outputs = {n.lower(): p.unalias() for p, n in zip(joined.expressions, names)}
        for col in list(order.find_all(exp.Column)):
            if not col.table and col.name.lower() in outputs and col.parent is not None and \
                    not isinstance(col.parent, exp.Ordered):
                col.replace(copy_tree(outputs[col.name.lower()]))
    node.replace(joined)


def _names(node: exp.SetOperation, first: exp.Expr) -> list[str] | None:
    """The set operation's column names: its CTE's or subquery's column list, then its first
    branch's names past the list (None where they are not plain and distinct). Review round
    7: a list shorter than the columns (``WITH u(w) AS (…)``) gave the met relation only the
    listed ones, and ``SELECT * FROM u`` lost the rest."""
    cte = node.parent
    alias = cte.args.get("alias") if isinstance(cte, (exp.CTE, exp.Subquery)) else None
    listed = [c.name for c in alias.columns] if alias is not None and alias.columns else []
    sel = first.this if isinstance(first, exp.Subquery) else first
    if not isinstance(sel, exp.Select):
        rows = sel.expressions if isinstance(sel, exp.Values) else []
        width = len(rows[0].expressions) if rows and isinstance(rows[0], exp.Tuple) else None
        return listed if listed and len(listed) == width else None
    names = _star_names(sel, 0) if len(sel.expressions) == 1 and isinstance(
        sel.expressions[0], exp.Star) and not listed else []
    for p in sel.expressions[len(listed):] if not names else []:
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)) \
                or not isinstance(p, (exp.Alias, exp.Column)):
            return None
        names.append(p.alias_or_name)
    names = listed + names
    return names if names and len({n.lower() for n in names}) == len(names) else None


def _star_names(sel: exp.Select, depth: int) -> list[str]:
    """The names ``SELECT *`` gives over one CTE or subquery (no join) whose own names are
    plain: review round 7, a first branch ``SELECT * FROM a`` was refused (``[]``: not
    known)."""
    source = sel.args["from_"].this if sel.args.get("from_") else None
    if source is None or sel.args.get("joins") or depth > 16:
        return []
    alias = source.args.get("alias")
    if alias is not None and alias.columns:
        return []  # renamed (maybe in part): left to the plain case
    body = source.this if isinstance(source, exp.Subquery) else \
        cte_body(source) if isinstance(source, exp.Table) else None
    if isinstance(body, exp.Subquery):
        body = body.this
    if not isinstance(body, exp.Select) or body.args.get("with_") is not None:
        return []
    if len(body.expressions) == 1 and isinstance(body.expressions[0], exp.Star):
        return _star_names(body, depth + 1)
    if not all(isinstance(p, (exp.Alias, exp.Column)) and not isinstance(p.this, exp.Star)
               for p in body.expressions):
        return []
    return [p.alias_or_name for p in body.expressions]


def _casts(node: exp.SetOperation, names: list[str], leaves: list[exp.Expr], root: exp.Expr,
           types: dict[str, dict[str, str]]) -> list[dict[int, str]]:
    """Per branch, the columns (by position) to cast to the set operation's type."""
    with_ = _with_of(node, root)
    typed = branch_types(with_, leaves, types)
    out: list[dict[int, str]] = [{} for _ in leaves]
    for at, name in enumerate(names):
        kinds = [row[at] if at < len(row) else None for row in typed]
        if len(set(kinds)) == 1 and kinds[0] is not None:
            continue
        target = unified(kinds)
        if target is None:
            raise QueryRejected([violation("set_column_type", name, line=1, col=1)])
        for cast, kind in zip(out, kinds):
            if kind != target:
                cast[at] = target
    return out


def _with_of(node: exp.Expr, root: exp.Expr) -> list[tuple[exp.With, int]]:
    """The WITHs whose CTEs ``node`` may read, outermost first, each with how many of its CTEs
    it sees (inside the i-th, those before it). Review round 7: only the nearest was read, so a
    branch reading an outer CTE named like a dataset was typed by the dataset's column (a
    VARCHAR taken for a DOUBLE: the met query failed in the engine)."""
    found: list[tuple[exp.With, int]] = []
    at: exp.Expr | None = node
    below: exp.Expr | None = None
    while at is not None:
        with_ = at.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            inside = next((i for i, c in enumerate(ctes) if c is below), None)
            found.append((with_, len(ctes) if inside is None else inside))
        if at is root:
            break
        below, at = at, at.parent
        if isinstance(at, exp.With):  # the CTE ``below`` is in: step over the WITH itself
            below, at = below, at.parent
    return found[::-1]


def _column(at: int, position: int, name: str, casts: list[dict[int, str]]) -> exp.Expr:
    col = exp.column(name, table=f"{_NAME}{at}", quoted=True)
    target = casts[at].get(position)
    return exp.Cast(this=col, to=exp.DataType.build(target)) if target else col


# -- a set operation a SELECT groups by a key alike in every branch: its siblings ---------------
@dataclass(frozen=True)
class Keying:
    """A reader's group keys alike in every branch: this aggregation's output names of them
    (``mine``), each sibling's (``theirs``, in the order of ``Siblings.ids``), and the set
    operation's type of each (None: compared as text); ``unread``: they could not be
    followed into some aggregation (its rows then count as close: fail closed)."""

    mine: tuple[str, ...] = ()
    theirs: tuple[tuple[str, ...], ...] = ()
    types: tuple[str | None, ...] = ()
    unread: bool = False


@dataclass(frozen=True)
class Siblings:
    """The other aggregations a ``UNION ALL`` sets beside an aggregation (``siblings.py``),
    and the keys by which readers group their rows together."""

    ids: tuple[int, ...]
    keyings: tuple[Keying, ...] = ()
    # Where this aggregation has several rows to a reader's group (it groups by more than its
    # keys): its own id and the output names that tell its rows apart (empty: not told, its
    # rows count as close), so that its other rows of a group are taken with the row.
    own: int | None = None
    rows: tuple[str, ...] = ()


def sibling_aggregations(shape: QueryShape, sets: dict[int, list[str | None]]
                         ) -> dict[int, list[Siblings]]:
    """For each intermediate aggregation across people whose rows a ``UNION ALL`` left as it
    is (read by a SELECT that groups it by keys alike in every branch, ``_groupings``) sets
    beside the rows of its other aggregating branches, whose rows its own are compared with:
    each other one's and all others' together, every row (``a.n - b.n`` released in two
    rows: a branch may group by another column under the same name, ``SELECT ad_product AS
    campaign … WHERE campaign = 'c1'``), and the rows of the same group keys, each other
    one's and all others' together (``a.n - b.n - c.n`` in one group, over everyone and two
    parts that hold all of it but 7 people: as unions, they are close).

    ``SELECT campaign, SUM(s * n) … FROM (SELECT campaign, 1 AS s, COUNT(DISTINCT user_key)
    AS n … GROUP BY campaign UNION ALL SELECT campaign, -1, … WHERE channel <> 'x' GROUP BY
    campaign) GROUP BY campaign`` gave each campaign's people on channel x, and the AMC
    shape, each count in its own zero-filled column, gave both. A row close to one it is
    compared with is withheld in its computed cells and tainted (``threshold``'s
    ``siblings``), so the group that reads it is withheld but for its exact keys."""
    found: dict[int, list[Siblings]] = {}
    for node in find_all(shape.tree, exp.SetOperation):
        if _chain_top(node) is not node or _in_final(node, shape.tree) or \
                not _all_union_all(node):
            continue
        # Each branch's aggregation (its own, or the one it passes on), in branch order: one
        # read twice is two members (third review: a CTE read by two branches beside three
        # others gave 2a - b - c - d, which no comparison of distinct aggregations saw).
        members: list[tuple[exp.Select, exp.Select]] = []  # (aggregation, its branch)
        for leaf in set_leaves(node):
            sel = leaf.this if isinstance(leaf, exp.Subquery) else leaf
            plan = shape.plans.get(id(sel)) if isinstance(sel, exp.Select) else None
            if plan is None:
                continue
            assert isinstance(sel, exp.Select)
            source = sel if plan.mode is Mode.ANONYMIZING and not plan.final \
                else pass_through(shape, sel)
            if source is not None and _counts(source):
                members.append((source, sel))
        if len(members) < 2:
            continue
        groupings = sorted({tuple(sorted(g)) for g in _groupings(node, shape.tree, 0)
                            if g and g != _FILTERED})
        types = sets.get(id(node)) or []
        for at, (aggregation, head) in enumerate(members):
            mine = id(aggregation)
            if any(id(m) == mine for m, _ in members[:at]):
                continue  # one read per aggregation (its other reads are its siblings)
            others = [(m, h) for j, (m, h) in enumerate(members) if j != at]
            keyings = []
            for positions in groupings:
                own = _names_at(head, aggregation, positions, shape)
                theirs = [_names_at(h, m, positions, shape) for m, h in others]
                if own is None or any(t is None for t in theirs):
                    keyings.append(Keying(unread=True))
                    continue
                keyings.append(Keying(own, tuple(t for t in theirs if t is not None), tuple(
                    types[p] if p < len(types) else None for p in positions)))
            rows = _row_names(aggregation)
            several = rows is None or any(
                not k.unread and set(r.lower() for r in rows) - set(n.lower() for n in k.mine)
                for k in keyings)
            found.setdefault(mine, []).append(Siblings(
                tuple(id(m) for m, _ in others), tuple(keyings),
                own=mine if several and keyings else None, rows=tuple(rows or ())))
    return found


def _row_names(sel: exp.Select) -> list[str] | None:
    """The output names of an aggregation's group keys, which tell its rows apart (none: one
    row); None where some key is not output as it is, or grouping sets."""
    group = sel.args.get("group")
    if group is None:
        return []
    if group.args.get("all") or any(group.args.get(a) for a in ("grouping_sets", "cube",
                                                                 "rollup")):
        return None
    names = []
    for item in group.expressions:
        if isinstance(item, exp.Literal) and item.is_int:
            at = int(item.name) - 1
            if not 0 <= at < len(sel.expressions):
                return None
            names.append(sel.expressions[at].alias_or_name)
            continue
        match = [p for p in sel.expressions if p.unalias() == item or (
            isinstance(item, exp.Column) and not item.table and isinstance(p, exp.Alias)
            and p.alias.lower() == item.name.lower())]
        if not match:
            return None
        names.append(match[0].alias_or_name)
    return names


def _names_at(head: exp.Select, aggregation: exp.Select, positions: tuple[int, ...],
              shape: QueryShape) -> tuple[str, ...] | None:
    """The aggregation's output names of the set operation's columns at ``positions``: the
    branch's own, or followed through the SELECTs that pass it on (each a plain column)."""
    chain = [head] + (links(shape, head) if head is not aggregation else [])
    found = []
    for position in positions:
        if position >= len(head.expressions):
            return None
        name = head.expressions[position].alias_or_name
        value = head.expressions[position].unalias()
        for link in chain[1:]:
            if not isinstance(value, exp.Column):
                return None
            matches = [p for p in link.expressions if p.alias_or_name.lower() == value.name.lower()]
            if len(matches) != 1:
                return None
            name, value = matches[0].alias_or_name, matches[0].unalias()
        found.append(name)
    return tuple(found)
