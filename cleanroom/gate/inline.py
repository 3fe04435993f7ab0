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
would be released uncompared, and pushed as is, it may read another type. A qualified star
of the relation is its star; an ORDER BY over output columns (ALL, an expression, a name
qualified by the relation) is read over the set operation's output.

Readers that distribute over the branches are read so too (session 23; each left as written
released two rows seven people apart):

- a value subquery in the filter that reads no column of the relation (``WHERE n > (SELECT
  0)``, ``IN (SELECT …)``, ``EXISTS``): it gives every branch's rows the same value;
- a join of relations of constants (``constant_joins``: ``CROSS JOIN (SELECT 1 AS one) AS o``,
  ``LEFT JOIN (VALUES …) AS v(x) ON …``) under a UNION ALL: each branch joins them. A join of
  a relation that reads a table would distribute as well, but the branch would then join,
  and a joining branch carries no people of the aggregation it reads (``passes``): left;
- a WITH inside the subquery read (``SELECT * FROM (WITH u AS (…) SELECT * FROM u) AS v``):
  moved to the query's WITH when no name clashes (``_hoisted``);
- a final UNION ALL whose branches read a UNION ALL (``SELECT who, n FROM u UNION ALL SELECT
  'z', 0``): each such branch is that UNION ALL, read as above, in parentheses (DuckDB then
  casts its columns to its own branches' types before the outer's; ``_inline_branches``);
- ``SELECT DISTINCT`` or a GROUP BY of exactly its projections over a UNION (ALL or not) of
  which a branch aggregates: the UNION of the branches. Which rows are equal says whether two
  thresholded numbers are, so it is refused as that UNION is (``aggregate_set_comparison``).

Anything else (a join of a table, grouping with aggregates, a window, an ORDER BY on a column
not in the output) is left as written: those readers do not distribute over the branches.
Such a set operation is then compared in place, read as its branches met (``sets.py``), unless
its reader groups it by a key alike in every branch (docs/gate.md, open).

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

from collections.abc import Iterable

from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.gate.nodes import bare_subquery, set_leaves
from cleanroom.gate.rules import violation
from cleanroom.gate.types import branch_types, unified
from cleanroom.gate.walk import copy_tree

_MOVED = ("order", "limit", "offset")
_BLOCKING = ("joins", "group", "having", "distinct", "qualify", "laterals", "pivots", "windows",
             "match", "sample", "prewhere", "connect", "kind", "into", "locks", "cluster",
             "distribute", "sort", "hint", "operation_modifiers", "exclude")
_MAX_STEPS = 8
READ_AS = "cr_read_as"  # a set operation's meta: what the analyst wrote it as (a violation's detail)


def inline_passed_sets(tree: exp.Expr, types: dict[str, dict[str, str]] | None = None
                       ) -> exp.Expr:
    """``tree`` with its final SELECT read as the set operation it passes on (module doc),
    maybe through SELECTs that only pass it on too; ``types``: the tables' column types
    (without them, expressions and filters are pushed as they are)."""
    if isinstance(tree, exp.SetOperation):
        return _inline_branches(tree, types)
    if not isinstance(tree, exp.Select):
        return tree
    hoisted = _hoisted(tree)
    found = _inline_final(hoisted, types) if hoisted is not None else None
    return found if found is not None else _inline_final(tree, types) or tree


def _inline_final(tree: exp.Select, types: dict[str, dict[str, str]] | None
                  ) -> exp.SetOperation | None:
    """The set operation a final SELECT ``tree`` passes on, with its ORDER BY, LIMIT and WITH
    (what it still reads of it), or None."""
    with_ = tree.args.get("with_")
    ctes = _ctes(with_)
    used: list[exp.CTE] = []
    found = _inline(tree, ctes, used, depth=0, with_=with_, types=types)
    if found is None:
        return None
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
        _drop_used(with_, used, found.find_all(exp.Table))
        if with_.expressions:
            found.set("with_", with_)
    return found


def _ctes(with_: exp.With | None) -> dict[str, exp.CTE]:
    return {c.alias_or_name: c for c in with_.expressions} \
        if with_ is not None and not with_.args.get("recursive") else {}


def _drop_used(with_: exp.With, used: list[exp.CTE], tables: Iterable[exp.Table]) -> None:
    """Drop the inlined CTEs ``used`` that nothing reads any more (``tables``: the tables the
    query reads outside its WITH)."""
    read = {t.name for t in [*tables, *[
        t for c in with_.expressions if c not in used for t in c.find_all(exp.Table)]]
        if not t.db}
    for cte in used:
        if cte.alias_or_name not in read and cte.parent is with_:
            cte.pop()


def _inline_branches(tree: exp.SetOperation, types: dict[str, dict[str, str]] | None
                     ) -> exp.SetOperation:
    """A final UNION ALL whose branches pass on a UNION ALL (``SELECT who, n FROM u UNION ALL
    SELECT 'z', 0``): each such branch is replaced by that UNION ALL, parenthesised, the reader
    pushed into its branches. In parentheses DuckDB casts its columns to its own branches'
    types first, then to the outer's (``a UNION ALL v / 2 UNION ALL 'x'`` gives 3 as '3', but
    '3.0' nested). UNION ALL into UNION ALL only (module doc)."""
    chain = _chain(tree)
    if not all(isinstance(op, exp.Union) and not op.args.get("distinct") for op in chain) or any(
            op.args.get(a) for op in chain for a in ("by_name", "side", "kind", "on")):
        return tree
    with_ = tree.args.get("with_")
    ctes = _ctes(with_)
    used: list[exp.CTE] = []
    replaced = False
    for leaf in set_leaves(tree):
        if not isinstance(leaf, exp.Select):
            continue
        found = _inline(leaf, ctes, used, depth=1, with_=with_, types=types, flat=True)
        if found is not None:
            leaf.replace(exp.Subquery(this=found))
            replaced = True
    if replaced and with_ is not None:
        _drop_used(with_, used, [t for t in tree.find_all(exp.Table)
                                 if t.find_ancestor(exp.With) is not with_])
        if not with_.expressions:
            tree.set("with_", None)
    return tree


def _source_name(sel: exp.Select) -> str:
    source = sel.args.get("from_")
    return source.this.alias_or_name if source is not None else ""


def _inline(sel: exp.Select, ctes: dict[str, exp.CTE], used: list[exp.CTE], *, depth: int,
            with_: exp.With | None, types: dict[str, dict[str, str]] | None,
            flat: bool = False) -> exp.SetOperation | None:
    """A new set operation that gives ``sel``'s rows (the tree is not changed), or None;
    ``flat``: a UNION ALL only (a branch of an outer UNION ALL, ``_inline_branches``)."""
    distinct = depth == 0 and not flat and _distinct_rows(sel)
    joined = constant_joins(sel)  # the columns of relations of constants it joins, or None
    blocking = [a for a in _BLOCKING if not (distinct and a in ("distinct", "group"))
                and not (joined is not None and a == "joins")]
    if depth > _MAX_STEPS or any(sel.args.get(a) for a in blocking) or (
            depth and any(sel.args.get(a) for a in (*_MOVED, "with_"))):
        return None
    source = sel.args.get("from_")
    found = _relation(source.this, ctes) if source is not None else None
    if source is None or found is None:
        return None
    held, alias, cte = found
    body = _inline(held, ctes, used, depth=depth + 1, with_=with_, types=types) \
        if isinstance(held, exp.Select) else held
    joins = sel.args.get("joins") or []
    if not isinstance(body, exp.SetOperation) or not _plain_set(body) or (
            (flat or joins) and not _all_union_all(body)) or (
            distinct and (joins or not _aggregating_union(body))):
        return None
    names = _names(body, alias)
    if names is None or (joins and (joined is None or {n.lower() for n in names} & joined)):
        return None  # a name of both sides: which columns the rewrite must cast is not known
    name = source.this.alias_or_name or "__cr_set"  # ``FROM (… UNION ALL …)`` without a name
    projections = _projections(sel, names, name, whole=_all_union_all(body) or distinct,
                               joined=joined or set())
    where = sel.args.get("where")
    ons = [j.args["on"] for j in joins if j.args.get("on") is not None]
    if projections is None or not _plain_filter(where, names, name) or not all(
            _per_row(on) for on in ons) or not _orderable(sel, projections, name) or (
            distinct and not _groups_all(sel, projections)):
        return None
    casts = _casts(body, names, projections, [where, *ons], with_, types)
    if cte is not None:
        used.append(cte)
    body = copy_tree(body)
    if distinct:  # DISTINCT over a UNION (ALL or not) of rows: the UNION of their rows
        for op in _chain(body):
            op.set("distinct", True)
            op.meta[READ_AS] = "UNION (a SELECT DISTINCT or GROUP BY over the UNION ALL)"
    for at, leaf in enumerate(set_leaves(body)):
        inner = leaf.this if bare_subquery(leaf) else leaf
        wrapped = exp.Select(expressions=[copy_tree(p) for p in projections])
        if where is not None:
            wrapped.set("where", copy_tree(where))
        _cast_columns(wrapped, casts[at])
        leaf.replace(wrapped)
        wrapped.set("from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(
            this=exp.to_identifier(name), columns=[exp.to_identifier(n) for n in names]))))
        if joins:
            wrapped.set("joins", [copy_tree(j) for j in joins])
            _cast_columns(wrapped, casts[at], joins_only=True)
    return body


def constant_joins(sel: exp.Select) -> set[str] | None:
    """The output column names of the relations ``sel`` joins, when each is a relation of
    constants (a subquery or VALUES that reads no table and no column: ``CROSS JOIN (SELECT 1
    AS one) AS o``) joined by an inner, cross or LEFT join (``sel``'s FROM on the kept side),
    without USING; else None. Such a join distributes over a UNION ALL in the FROM (each of
    its rows meets the same rows of constants), and a branch that so joins an aggregation
    still outputs only that aggregation's rows, maybe repeated or dropped
    (``passes.pass_through``)."""
    joins = sel.args.get("joins")
    if not joins or sel.args.get("laterals"):
        return None
    names: set[str] = set()
    for join in joins:
        relation = join.this
        if join.args.get("side") not in (None, "LEFT") or join.args.get("kind") not in (
                None, "CROSS", "INNER") or any(
                v for k, v in join.args.items() if k not in ("this", "on", "side", "kind")):
            return None
        if not isinstance(relation, (exp.Subquery, exp.Values)) or any(
                relation.args.get(a) for a in ("sample", "pivots", "joins", "laterals")):
            return None
        if any(isinstance(n, (exp.Table, exp.Column, exp.Star, exp.Unnest, exp.Lateral))
               for n in relation.walk()):
            return None
        alias = relation.args.get("alias")
        if alias is None or not alias.name:
            return None
        columns = [c.name for c in alias.columns]
        body = relation.this if isinstance(relation, exp.Subquery) else None
        if isinstance(body, exp.Select):
            columns += [p.alias_or_name for p in body.expressions[len(columns):]]
        elif not columns or isinstance(body, exp.Expr) and not isinstance(body, exp.Values):
            return None
        if not all(columns):
            return None
        names |= {c.lower() for c in columns}
    return names


def _distinct_rows(sel: exp.Select) -> bool:
    """A ``SELECT DISTINCT`` (not DISTINCT ON) or a GROUP BY without aggregates, HAVING,
    ROLLUP, CUBE or GROUPING SETS: its rows may be the distinct rows of its projections
    (``_groups_all`` checks the GROUP BY's keys)."""
    distinct, group = sel.args.get("distinct"), sel.args.get("group")
    if distinct is not None and distinct.args.get("on") is not None:
        return False
    if group is not None and any(v for k, v in group.args.items()
                                 if k not in ("expressions", "all")):
        return False
    return distinct is not None or group is not None


def _groups_all(sel: exp.Select, projections: list[exp.Expr]) -> bool:
    """Without a GROUP BY, or grouped by exactly its projections (``GROUP BY ALL``, their
    positions, their expressions): its rows are then its projections' distinct rows."""
    group = sel.args.get("group")
    if group is None:
        return True
    if group.args.get("all"):
        return not group.expressions
    keys = [p.unalias().sql() for p in projections]
    grouped = []
    for key in group.expressions:
        if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(keys):
            grouped.append(keys[int(key.name) - 1])
        elif key.sql() in keys:
            grouped.append(key.sql())
        else:  # an output name that no input column of that name hides is not known here
            return False
    return set(grouped) == set(keys)


def _aggregating_union(body: exp.SetOperation) -> bool:
    """A chain of UNIONs (ALL or not) of which some branch outputs an aggregate: the UNION of
    its rows is refused (``aggregate_set_comparison``: which rows are equal says whether two
    thresholded numbers differ by a chosen few people)."""
    if not all(isinstance(op, exp.Union) for op in _chain(body)):
        return False
    for leaf in set_leaves(body):
        node = leaf.this if isinstance(leaf, exp.Subquery) else leaf
        if isinstance(node, exp.Select) and any(
                isinstance(n, exp.AggFunc) for p in node.expressions
                for n in _outside_subqueries(p)):
            return True
    return False


def _hoisted(tree: exp.Select) -> exp.Select | None:
    """A copy of ``tree`` with the WITH of each subquery it reads through (``SELECT * FROM
    (WITH u AS (…) SELECT * FROM u) AS v``) moved to its own, when no name clashes: the
    hoisted CTEs' names are neither ``tree``'s CTEs' nor read anywhere outside the subquery
    that held them. None: nothing to move, or a clash."""
    chain = _withs_through(tree)
    if not chain:
        return None
    with_ = tree.args.get("with_")
    if with_ is not None and with_.args.get("recursive"):
        return None
    taken = {c.alias_or_name.lower() for c in with_.expressions} if with_ is not None else set()
    tables = list(tree.find_all(exp.Table))
    for body in chain:
        inner = body.args["with_"]
        names = {c.alias_or_name.lower() for c in inner.expressions}
        if inner.args.get("recursive") or names & taken or any(
                t.name.lower() in names and not t.db and not _inside(t, body) for t in tables):
            return None
        taken |= names
    copied = copy_tree(tree)
    top = copied.args.get("with_")
    if top is None:
        top = exp.With(expressions=[])
        copied.set("with_", top)
    for body in _withs_through(copied):
        inner = body.args["with_"]
        for cte in list(inner.expressions):
            top.append("expressions", cte.pop())
        inner.pop()
    return copied


def _withs_through(tree: exp.Select) -> list[exp.Query]:
    """The subqueries with a WITH that ``tree`` reads through (each the FROM, without a
    join, of the one before), outermost first."""
    chain: list[exp.Query] = []
    node: exp.Expr = tree
    for _ in range(_MAX_STEPS):
        if not isinstance(node, exp.Select) or node.args.get("joins"):
            break
        source = node.args.get("from_")
        if source is None or not isinstance(source.this, exp.Subquery):
            break
        node = source.this.this
        if isinstance(node, exp.Query) and node.args.get("with_") is not None:
            chain.append(node)
    return chain


def _inside(node: exp.Expr, holder: exp.Expr) -> bool:
    at: exp.Expr | None = node
    while at is not None:
        if at is holder:
            return True
        at = at.parent
    return False


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
    first = set_leaves(body)[0]
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
               for leaf in set_leaves(node))


def _chain(node: exp.Expr) -> list[exp.SetOperation]:
    """The set operations ``set_leaves`` goes through."""
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.SetOperation) and not any(
            v for k, v in node.args.items() if k != "this"):
        return _chain(node.this)
    if isinstance(node, exp.SetOperation):
        return [node, *_chain(node.this), *_chain(node.expression)]
    return []


def _all_union_all(node: exp.SetOperation) -> bool:
    return all(isinstance(op, exp.Union) and not op.args.get("distinct")
               for op in [node, *node.find_all(exp.SetOperation)])


def _projections(sel: exp.Select, names: list[str], name: str, *, whole: bool,
                 joined: set[str]) -> list[exp.Expr] | None:
    """The outer projections over the relation ``name``'s columns ``names`` (and ``joined``,
    those of relations of constants it joins); ``whole`` (UNION ALL only): any expression
    without an aggregate, window or subquery, else every column as it is. ``*`` (without a
    join) and ``name.*`` (no EXCLUDE, REPLACE, ...) are every column of the relation."""
    exprs = sel.expressions
    star = exprs[0] if len(exprs) == 1 else None
    if joined and isinstance(star, exp.Star):
        return None
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
        if any(c.name.lower() not in known | joined for c in proj.find_all(exp.Column)):
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


def _plain_filter(where: exp.Where | None, names: list[str], name: str) -> bool:
    """A filter of each row alone: no aggregate or window, and value subqueries (``n > (SELECT
    0)``, ``who IN (SELECT …)``) that read no column of the relation ``name`` (its columns
    ``names``), so they give every branch's rows the same value. A column inside one that
    might be the relation's (qualified by its name, or unqualified under one of its column
    names) is taken as correlated: the filter is not pushed (its type in each branch would
    be another)."""
    if where is None:
        return True
    known = {n.lower() for n in names}
    for node in _outside_subqueries(where):
        if isinstance(node, (exp.AggFunc, exp.Window)):
            return False
        if isinstance(node, (exp.Query, exp.Subquery)) and node is not where:
            for col in node.find_all(exp.Column):
                if col.table == name or (not col.table and col.name.lower() in known):
                    return False
    return True


def _outside_subqueries(node: exp.Expr) -> list[exp.Expr]:
    """``node``'s nodes, each subquery in it listed but not its own nodes."""
    out: list[exp.Expr] = []
    queue = [node]
    for item in queue:
        out.append(item)
        if item is not node and isinstance(item, (exp.Query, exp.Subquery)):
            continue
        queue += list(item.iter_expressions())
    return out


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
           filters: list[exp.Expr | None], with_: exp.With | None,
           types: dict[str, dict[str, str]] | None) -> list[dict[str, str]]:
    """Per branch, the columns an expression or a filter (WHERE, a join's ON) reads (a plain
    column projection is cast by the set operation itself) whose type there is not the set
    operation's, with the set operation's type (module doc)."""
    leaves = set_leaves(body)
    read = {c.name.lower() for p in projections if not isinstance(p.unalias(), exp.Column)
            for c in _columns(p)}
    for where in filters:
        if where is not None:
            read |= {c.name.lower() for c in _columns(where)}
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


def _cast_columns(sel: exp.Select, casts: dict[str, str], *, joins_only: bool = False) -> None:
    """``sel``'s columns named in ``casts`` read as their cast (not inside a subquery, which
    reads none of them: ``_plain_filter``), but for plain projections; ``joins_only``: in its
    joins' ON conditions (a joined relation of constants has none of those names)."""
    if not casts:
        return
    nodes = [j.args["on"] for j in sel.args.get("joins") or [] if j.args.get("on") is not None] \
        if joins_only else \
        [*[p for p in sel.expressions if not isinstance(p.unalias(), exp.Column)],
         *([sel.args["where"]] if sel.args.get("where") is not None else [])]
    for node in nodes:
        for col in _columns(node):
            target = casts.get(col.name.lower())
            if target is not None:
                col.replace(exp.Cast(this=col.copy(), to=exp.DataType.build(target)))


def _columns(node: exp.Expr) -> list[exp.Column]:
    """The columns of ``node`` outside its subqueries."""
    return [n for n in _outside_subqueries(node) if isinstance(n, exp.Column)]
