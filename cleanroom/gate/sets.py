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
open, docs/gate.md). Grouped by a key a branch sets to a constant, or aggregated whole, it is
read so.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.model import Mode, QueryShape
from cleanroom.gate.passes import pass_through
from cleanroom.gate.rules import violation
from cleanroom.gate.types import branch_types, unified
from cleanroom.gate.walk import copy_tree, find_all

_NAME = "__cr_u"


def sets_to_meet(shape: QueryShape) -> list[int]:
    """The places (in a walk of the tree) of the set operations to read as met branches."""
    return [at for at, node in enumerate(find_all(shape.tree, exp.SetOperation))
            if _takes(shape, node)]


def meet_sets(fresh: exp.Expr, places: list[int], types: dict[str, dict[str, str]] | None
              ) -> bool:
    """Read, in ``fresh`` (the query parsed again, not analysed), the set operations at
    ``places`` as their branches met (module doc); whether the tree matched."""
    found = find_all(fresh, exp.SetOperation)
    if not places or places[-1] >= len(found):
        return False
    for at in places:
        _meet_branches(found[at], fresh, types)
    return True


def _takes(shape: QueryShape, node: exp.SetOperation) -> bool:
    if _in_final(node, shape.tree) or not _all_union_all(node):
        return False
    leaves = _leaves(node)
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


def _aggregated(node: exp.Expr, root: exp.Expr, depth: int) -> bool:
    """Whether a SELECT that aggregates or groups reads ``node``'s rows (maybe through SELECTs
    that only pass them on): there each group may add rows of several branches, and the
    groups over a UNION ALL input are the release's (``overlap.py``; open: docs/gate.md)."""
    if depth > 16:
        return True
    for reader in _readers(node, root):
        grouped = reader.args.get("group") is not None
        if grouped or any(isinstance(a, exp.AggFunc) and not isinstance(a.parent, exp.Window)
                          for p in reader.expressions for a in p.find_all(exp.AggFunc)):
            # Ungrouped, or grouped by a key each branch sets to a constant of its own, the
            # groups are the branches' rows: compared as they are.
            if depth or (grouped and not _keyed_by_branch(reader, node)):
                return True
        passed = reader.parent if isinstance(reader.parent, (exp.CTE, exp.Subquery)) else None
        if passed is not None and _aggregated(reader, root, depth + 1):
            return True
    return False


def _keyed_by_branch(reader: exp.Select, node: exp.Expr) -> bool:
    """Whether a group key of ``reader`` is a column of the set operation that some branch
    sets to a constant (``SELECT 'all' AS who, … UNION ALL SELECT 'most', …``, grouped by who;
    a NULL filler is not one)."""
    assert isinstance(node, exp.SetOperation)
    leaves = _leaves(node)
    names = _names(node, leaves[0])
    if names is None:
        return False
    at = {n.lower(): i for i, n in enumerate(names)}
    group = reader.args["group"]
    keys = [k.unalias() for k in group.expressions]
    for key in keys:
        if isinstance(key, exp.Literal) and key.is_int:  # GROUP BY 1: the first projection
            index = int(key.name) - 1
            key = reader.expressions[index].unalias() if 0 <= index < len(reader.expressions) \
                else key
        if not isinstance(key, exp.Column) or key.name.lower() not in at:
            continue
        for leaf in leaves:
            sel = leaf.this if isinstance(leaf, exp.Subquery) else leaf
            if isinstance(sel, exp.Select) and at[key.name.lower()] < len(sel.expressions):
                value = sel.expressions[at[key.name.lower()]].unalias()
                if isinstance(value, exp.Literal):
                    return True
    return False


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
                isinstance(table.parent.parent, exp.Select):
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
    if isinstance(node, exp.Subquery) and not node.args.get("alias"):
        return _all_union_all(node.this)
    if not isinstance(node, exp.SetOperation):
        return True
    return isinstance(node, exp.Union) and not node.args.get("distinct") and \
        _all_union_all(node.left) and _all_union_all(node.right)


def _leaves(node: exp.Expr) -> list[exp.Expr]:
    """The branches of a UNION ALL, nested ones flattened (each a SELECT, VALUES or a
    subquery)."""
    if isinstance(node, exp.Subquery) and not node.args.get("alias") and \
            isinstance(node.this, exp.SetOperation):
        return _leaves(node.this)
    if isinstance(node, exp.SetOperation):
        return _leaves(node.left) + _leaves(node.right)
    return [node]


def _meet_branches(node: exp.SetOperation, root: exp.Expr,
                   types: dict[str, dict[str, str]] | None) -> None:
    leaves = _leaves(node)
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
        body = leaf.this if isinstance(leaf, exp.Subquery) and not leaf.args.get("alias") \
            else leaf
        source = exp.Subquery(this=copy_tree(body), alias=exp.TableAlias(
            this=exp.to_identifier(f"{_NAME}{at}"),
            columns=[exp.to_identifier(n, quoted=True) for n in names]))
        if at == 0:
            joined.set("from_", exp.From(this=source))
        else:
            joined.append("joins", exp.Join(this=source, side="FULL", on=exp.false()))
    for arg in ("with_", "order", "limit", "offset"):
        if node.args.get(arg) is not None:
            joined.set(arg, node.args[arg])
    node.replace(joined)


def _names(node: exp.SetOperation, first: exp.Expr) -> list[str] | None:
    """The set operation's column names: its CTE's column list, or its first branch's names
    (None where they are not plain and distinct)."""
    cte = node.parent
    alias = cte.args.get("alias") if isinstance(cte, (exp.CTE, exp.Subquery)) else None
    if alias is not None and alias.columns:
        return [c.name for c in alias.columns]
    sel = first.this if isinstance(first, exp.Subquery) else first
    if not isinstance(sel, exp.Select):
        return None
    names = []
    for p in sel.expressions:
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)) \
                or not isinstance(p, (exp.Alias, exp.Column)):
            return None
        names.append(p.alias_or_name)
    return names if len({n.lower() for n in names}) == len(names) else None


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


def _with_of(node: exp.Expr, root: exp.Expr) -> exp.With | None:
    """The nearest WITH whose CTEs ``node`` may read (its own first)."""
    found: exp.Expr | None = node
    while found is not None:
        with_ = found.args.get("with_")
        if isinstance(with_, exp.With):
            return with_
        if found is root:
            return None
        found = found.parent
    return None


def _column(at: int, position: int, name: str, casts: list[dict[int, str]]) -> exp.Expr:
    col = exp.column(name, table=f"{_NAME}{at}", quoted=True)
    target = casts[at].get(position)
    return exp.Cast(this=col, to=exp.DataType.build(target)) if target else col
