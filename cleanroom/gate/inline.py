"""A final SELECT that only passes on the rows of a set operation (a CTE's or a subquery's) is
read as that set operation, its projection and filter pushed into every branch:

    WITH u AS (SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM t
               UNION ALL SELECT 'most', COUNT(DISTINCT user_key) FROM t WHERE c <> 'x')
    SELECT who, n FROM u ORDER BY n

becomes ``SELECT who, n FROM (...) AS u(who, n) UNION ALL SELECT who, n FROM (...) AS u(who, n)
ORDER BY n``. Its rows are then the final set operation's, so the release compares them across
branches (``release.close_rows``: two rows whose people differ by 1 to k-1 are not both
released) as it does for a set operation written at the top. Read otherwise, the branches were
intermediate aggregations, each thresholded on its own, and two rows seven people apart both
came out.

The rewrite keeps the answer: a projection commutes with UNION ALL, and a filter with every set
operation; under UNION, INTERSECT or EXCEPT (which compare whole rows) only a projection that
keeps every column, as it is, is pushed. A set operation casts each column to one type for all
its branches, and a branch reads its own: so where an expression or a filter pushed into a
branch reads a column of another type there, it reads it cast to the set operation's type
(``types.branch_types``, ``types.unified``; pushed as is, ``n // 7`` of a BIGINT count beside
a DOUBLE average, or ``k < '5'`` of an INTEGER key beside a VARCHAR one, gave another answer).
Where a branch's type is not known (``types`` does not infer its expression, or the set
operation's type for it: a DECIMAL beside a DOUBLE) the query is refused
(``set_column_type``: cast the column to one type in every branch); left as written, its rows
would be released uncompared, and pushed as is, it may read another type. Anything else (a
join, grouping, DISTINCT, a window, an aggregate, a subquery in the filter, an ORDER BY on a
column not in the output) is left as written. A qualified star of the relation is its star;
an ORDER BY over output columns (ALL, an expression, a name qualified by the relation) is read
over the set operation's output.

>>> import sqlglot
>>> tree = sqlglot.parse_one("WITH u AS (SELECT 1 AS a UNION ALL SELECT 2) "
...                          "SELECT a FROM u WHERE a > 1 ORDER BY a", read="duckdb")
>>> print(inline_passed_sets(tree, {}).sql("duckdb", pretty=True))
SELECT
  a
FROM (
  SELECT
    1 AS a
) AS u(a)
WHERE
  a > 1
UNION ALL
SELECT
  a
FROM (
  SELECT
    2
) AS u(a)
WHERE
  a > 1
ORDER BY
  a
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.rules import violation
from cleanroom.gate.types import branch_types, unified
from cleanroom.gate.walk import copy_tree

_MOVED = ("order", "limit", "offset")
_BLOCKING = ("joins", "group", "having", "distinct", "qualify", "laterals", "pivots", "windows",
             "match", "sample", "prewhere", "connect", "kind", "into", "locks", "cluster",
             "distribute", "sort", "hint", "operation_modifiers", "exclude")
_MAX_STEPS = 8


def inline_passed_sets(tree: exp.Expr, types: dict[str, dict[str, str]] | None = None
                       ) -> exp.Expr:
    """``tree`` with its final SELECT read as the set operation it passes on (module doc),
    maybe through SELECTs that only pass it on too; ``types``: the tables' column types
    (without them, expressions and filters are pushed as they are)."""
    if not isinstance(tree, exp.Select):
        return tree
    with_ = tree.args.get("with_")
    ctes = {c.alias_or_name: c for c in with_.expressions} \
        if with_ is not None and not with_.args.get("recursive") else {}
    used: list[exp.CTE] = []
    found = _inline(tree, ctes, used, depth=0, with_=with_, types=types)
    if found is None:
        return tree
    for arg in _MOVED:
        if tree.args.get(arg) is not None:
            found.set(arg, tree.args[arg])
    order = found.args.get("order")
    if order is not None:  # read over the set operation's output: no relation to name
        name = _source_name(tree)
        for col in list(order.find_all(exp.Column)):
            if col.table == name:
                col.set("table", None)
    if with_ is not None:
        read = {t.name for t in [*found.find_all(exp.Table), *[
            t for c in with_.expressions if c not in used for t in c.find_all(exp.Table)]]
            if not t.db}
        for cte in used:
            if cte.alias_or_name not in read and cte.parent is with_:
                cte.pop()
        if with_.expressions:
            found.set("with_", with_)
    return found


def _source_name(sel: exp.Select) -> str:
    source = sel.args.get("from_")
    return source.this.alias_or_name if source is not None else ""


def _inline(sel: exp.Select, ctes: dict[str, exp.CTE], used: list[exp.CTE], *, depth: int,
            with_: exp.With | None, types: dict[str, dict[str, str]] | None
            ) -> exp.SetOperation | None:
    """A new set operation that gives ``sel``'s rows (the tree is not changed), or None."""
    if depth > _MAX_STEPS or any(sel.args.get(a) for a in _BLOCKING) or (
            depth and any(sel.args.get(a) for a in (*_MOVED, "with_"))):
        return None
    source = sel.args.get("from_")
    found = _relation(source.this, ctes) if source is not None else None
    if source is None or found is None:
        return None
    held, alias, cte = found
    body = _inline(held, ctes, used, depth=depth + 1, with_=with_, types=types) \
        if isinstance(held, exp.Select) else held
    if not isinstance(body, exp.SetOperation) or not _plain_set(body):
        return None
    names = _names(body, alias)
    if names is None:
        return None
    name = source.this.alias_or_name or "__cr_set"  # ``FROM (… UNION ALL …)`` without a name
    projections = _projections(sel, names, name, whole=_all_union_all(body))
    where = sel.args.get("where")
    if projections is None or not _plain_filter(where) or not _orderable(sel, projections, name):
        return None
    casts = _casts(body, names, projections, where, with_, types)
    if cte is not None:
        used.append(cte)
    body = copy_tree(body)
    for at, leaf in enumerate(_leaves(body)):
        inner = leaf.this if isinstance(leaf, exp.Subquery) and not leaf.args.get("alias") \
            else leaf
        wrapped = exp.Select(expressions=[copy_tree(p) for p in projections])
        if where is not None:
            wrapped.set("where", copy_tree(where))
        _cast_columns(wrapped, casts[at])
        leaf.replace(wrapped)
        wrapped.set("from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(
            this=exp.to_identifier(name), columns=[exp.to_identifier(n) for n in names]))))
    return body


def _relation(relation: exp.Expr, ctes: dict[str, exp.CTE]
              ) -> tuple[exp.Expr, exp.TableAlias | None, exp.CTE | None] | None:
    """What ``relation`` holds (a subquery's or a CTE's body), its column list and its CTE."""
    if any(relation.args.get(a) for a in ("sample", "pivots", "joins", "laterals")):
        return None
    if isinstance(relation, exp.Subquery):
        return relation.this, relation.args.get("alias"), None
    if not isinstance(relation, exp.Table) or relation.db or relation.name not in ctes:
        return None
    cte = ctes[relation.name]
    renamed = relation.args.get("alias")
    if cte.args.get("materialized") is not None or (renamed is not None and renamed.columns):
        return None
    return cte.this, cte.args.get("alias"), cte


def _names(body: exp.SetOperation, alias: exp.TableAlias | None) -> list[str] | None:
    """The set operation's column names: its column list, then its first branch's names."""
    names = [c.name for c in alias.columns] if alias is not None and alias.columns else []
    first = _leaves(body)[0]
    first = first.this if isinstance(first, exp.Subquery) else first
    if not isinstance(first, exp.Select) or any(isinstance(p, exp.Star) for p in first.expressions):
        return None
    outputs = [p.alias_or_name for p in first.expressions]
    names = names + outputs[len(names):]
    if not all(names) or len({n.lower() for n in names}) != len(names):
        return None
    return names


def _plain_set(node: exp.SetOperation) -> bool:
    """A set operation of SELECTs with nothing of its own to keep (no ORDER BY, LIMIT, WITH,
    BY NAME) at any level."""
    for op in [node, *[n for n in node.find_all(exp.SetOperation) if n is not node]]:
        if any(op.args.get(a) for a in ("order", "limit", "offset", "with_", "by_name", "side",
                                        "kind", "on")):
            return False
    return all(isinstance(leaf.this if isinstance(leaf, exp.Subquery) else leaf, exp.Query)
               for leaf in _leaves(node))


def _leaves(node: exp.Expr) -> list[exp.Expr]:
    """The branches of a set operation, through parenthesised set operations in it
    (``(a UNION ALL b) UNION ALL c``: review round 6, its rows were not compared)."""
    if isinstance(node, exp.SetOperation):
        return _leaves(node.this) + _leaves(node.expression)
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.SetOperation) and not any(
            v for k, v in node.args.items() if k != "this"):
        return _leaves(node.this)
    return [node]


def _all_union_all(node: exp.SetOperation) -> bool:
    return all(isinstance(op, exp.Union) and not op.args.get("distinct")
               for op in [node, *node.find_all(exp.SetOperation)])


def _projections(sel: exp.Select, names: list[str], name: str, *, whole: bool
                 ) -> list[exp.Expr] | None:
    """The outer projections over the relation ``name``'s columns ``names``; ``whole`` (UNION
    ALL only): any expression without an aggregate, window or subquery, else every column as
    it is. ``*`` and ``name.*`` (no EXCLUDE, REPLACE, ...) are every column."""
    exprs = sel.expressions
    star = exprs[0] if len(exprs) == 1 else None
    if isinstance(star, exp.Column) and isinstance(star.this, exp.Star) and \
            star.table == name and not star.args.get("db"):
        star = star.this
    if isinstance(star, exp.Star) and not any(v for k, v in star.args.items() if k != "except_"):
        excluded = {e.name.lower() for e in star.args.get("except_") or []}
        kept = [n for n in names if n.lower() not in excluded]
        if not kept or len(excluded) != len(names) - len(kept) or any(
                not isinstance(e, exp.Column) or e.table for e in star.args.get("except_") or []):
            return None
        return [exp.column(n, quoted=True) for n in kept]
    known = {n.lower() for n in names}
    for proj in exprs:
        if isinstance(proj, exp.Star) or any(isinstance(n, exp.Star) for n in proj.walk()):
            return None
        if not _per_row(proj):
            return None
        if any(c.name.lower() not in known for c in proj.find_all(exp.Column)):
            return None
    if not whole:
        plain = [p.this if isinstance(p, exp.Alias) else p for p in exprs]
        if not all(isinstance(p, exp.Column) for p in plain) or \
                {p.name.lower() for p in plain} != known:
            return None
    return list(exprs)


def _per_row(node: exp.Expr) -> bool:
    """No aggregate, window or subquery: a value of each row alone, so it can be computed in
    every branch instead of over their rows."""
    return not any(isinstance(n, (exp.AggFunc, exp.Window, exp.Query, exp.Subquery))
                   for n in node.walk())


def _plain_filter(where: exp.Where | None) -> bool:
    return where is None or _per_row(where)


def _orderable(sel: exp.Select, projections: list[exp.Expr], name: str) -> bool:
    """ORDER BY reads only output columns (or their positions, or ALL): a set operation's
    ORDER BY reads its output. A bare name may be any output's; a name inside an expression
    or qualified by the relation reads the relation's column, so it must be an output that
    passes that column on as it is, under its own name."""
    order = sel.args.get("order")
    if order is None:
        return True
    outputs = {p.alias_or_name.lower() for p in projections}
    plain = [(p.alias_or_name.lower(), p.unalias()) for p in projections]
    passed = {out for out, col in plain if isinstance(col, exp.Column)
              and col.name.lower() == out and col.table in ("", name)}
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(projections):
            continue
        if isinstance(key, exp.Var) and key.name.upper() == "ALL" and len(order.expressions) == 1:
            continue
        if isinstance(key, exp.Column) and not key.table and key.name.lower() in outputs:
            continue
        if isinstance(key, (exp.Literal, exp.Var)) or not _per_row(key) or any(
                isinstance(n, exp.Star) for n in key.walk()):
            return False
        columns = list(key.find_all(exp.Column))
        if not all(c.table in ("", name) and not c.args.get("db") and c.name.lower() in passed
                   for c in columns):
            return False
    return True


def _casts(body: exp.SetOperation, names: list[str], projections: list[exp.Expr],
           where: exp.Where | None, with_: exp.With | None,
           types: dict[str, dict[str, str]] | None) -> list[dict[str, str]]:
    """Per branch, the columns an expression or the filter reads (a plain column projection
    is cast by the set operation itself) whose type there is not the set operation's, with
    the set operation's type (module doc)."""
    leaves = _leaves(body)
    read = {c.name.lower() for p in projections if not isinstance(p.unalias(), exp.Column)
            for c in p.find_all(exp.Column)}
    if where is not None:
        read |= {c.name.lower() for c in where.find_all(exp.Column)}
    out: list[dict[str, str]] = [{} for _ in leaves]
    if not read or types is None:
        return out
    typed = branch_types(with_, leaves, types)
    for at, column in enumerate(n.lower() for n in names):
        if column not in read:
            continue
        kinds = [row[at] if at < len(row) else None for row in typed]
        target = unified(kinds)
        if target is None:  # pushed as is, it may read another type than the set operation's
            raise QueryRejected([violation("set_column_type", column, line=1, col=1)])
        for cast, kind in zip(out, kinds):
            if kind != target:
                cast[column] = target
    return out


def _cast_columns(sel: exp.Select, casts: dict[str, str]) -> None:
    """``sel``'s columns named in ``casts`` read as their cast, but for plain projections."""
    if not casts:
        return
    for node in [*[p for p in sel.expressions if not isinstance(p.unalias(), exp.Column)],
                 *([sel.args["where"]] if sel.args.get("where") is not None else [])]:
        for col in list(node.find_all(exp.Column)):
            target = casts.get(col.name.lower())
            if target is not None:
                col.replace(exp.Cast(this=col.copy(), to=exp.DataType.build(target)))
