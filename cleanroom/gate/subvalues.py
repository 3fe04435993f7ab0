"""Read a value subquery that aggregates datasets' rows itself as a CTE's value.

``COUNT(DISTINCT user_key) - (SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel
<> 'x')`` is the people only x holds, as ``(SELECT n FROM b)`` over a CTE ``b`` of the same
SELECT is; but only a CTE (or a derived table) is a source whose people ``meet.py`` compares
with the aggregation beside it, so the inline form came back exact (7 for the 7-person
channel, ``tests/gate/test_meet_combined.py``). Such a subquery is moved, unchanged, into a CTE
of its own at the head of the query's WITH and read there: ``(SELECT __cr_val FROM
__cr_val0)``. The gate then checks exactly what it checks for the CTE form.

Only what means the same in a CTE is moved: an uncorrelated SELECT of one value that
aggregates (no window, QUALIFY or WITH of its own, nothing nested in it) over datasets only (no
CTE anywhere in the query by that name, every column resolved in its own FROM). Its ORDER BY,
LIMIT, OFFSET, DISTINCT, HAVING and GROUP BY move with it (the CTE gives the same first row,
or none); where one of them may read the value's alias, the alias is kept and read. Review
round 7: with one of those, or under a nested WITH, it was left as written and answered 7 for
the 7-person channel, exact. Anything else is left as written (open: a nested query in it, a
FROM of a subquery, a WITH of its own, docs/gate.md).

>>> from sqlglot import parse_one
>>> types = {"t": {"user_key": "VARCHAR", "c": "VARCHAR"}}
>>> sql = "SELECT COUNT(*) - (SELECT COUNT(*) FROM t WHERE c <> 'x') AS d FROM t"
>>> hoist_value_subqueries(parse_one(sql, read="duckdb"), types).sql("duckdb")
"WITH __cr_val0 AS (SELECT COUNT(*) AS __cr_val FROM t WHERE c <> 'x') SELECT COUNT(*) - (SELECT __cr_val FROM __cr_val0) AS d FROM t"
>>> sql = "SELECT (SELECT COUNT(*) FROM t AS i WHERE i.c = o.c) AS n FROM t AS o"  # correlated
>>> hoist_value_subqueries(parse_one(sql, read="duckdb"), types).sql("duckdb")
'SELECT (SELECT COUNT(*) FROM t AS i WHERE i.c = o.c) AS n FROM t AS o'
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify

NAME = "__cr_val"
_NOT_IN_VALUE = ("with_", "qualify", "windows", "into", "laterals", "pivots", "sample", "connect",
                 "prewhere", "match")
# Clauses that may read the value's alias (DuckDB binds a name there to an output first): with
# one, the alias is kept and read (renamed, ``ORDER BY n`` would read a column n instead).
_READ_ALIAS = ("group", "having", "order")


def hoist_value_subqueries(tree: exp.Expr, types: Mapping[str, Mapping[str, object]] | None) -> exp.Expr:
    """``tree`` with every qualifying value subquery read from a CTE of its own; ``types``:
    each dataset's columns (the catalog's, by name)."""
    if not types or not isinstance(tree, (exp.Select, exp.SetOperation)):
        return tree
    with_ = tree.args.get("with_")
    if with_ is not None and with_.args.get("recursive"):
        return tree
    # Every CTE name anywhere: a dataset's name that one of them shadows (in a nested WITH
    # the subquery sits under) is not the dataset's at the top.
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    if any(w.args.get("recursive") for w in tree.find_all(exp.With)):
        return tree
    moved: list[exp.CTE] = []
    for node in list(tree.find_all(exp.Subquery)):
        if not _qualifies(node, tree, types, ctes):
            continue
        name = f"{NAME}{len(moved)}"
        inner = node.this
        value = inner.expressions[0]
        read = NAME
        if isinstance(value, exp.Alias) and any(inner.args.get(a) for a in _READ_ALIAS):
            read = value.alias
        else:
            inner.set("expressions", [exp.alias_(value.this if isinstance(value, exp.Alias)
                                                 else value, NAME, copy=False)])
        node.replace(exp.Subquery(this=(exp.select(NAME) if read == NAME else exp.select(
            exp.column(read, quoted=True))).from_(name)))
        moved.append(exp.CTE(this=inner, alias=exp.TableAlias(this=exp.to_identifier(name))))
    if moved:
        if with_ is None:
            tree.set("with_", exp.With(expressions=moved))
        else:
            with_.set("expressions", [*moved, *with_.expressions])
    return tree


def _qualifies(node: exp.Subquery, top: exp.Expr, types: Mapping[str, Mapping[str, object]],
               ctes: set[str]) -> bool:
    inner = node.this
    if not isinstance(inner, exp.Select) or node.args.get("alias") is not None:
        return False
    if node.parent is None or isinstance(node.parent, (exp.From, exp.Join, exp.In, exp.Lateral,
                                                       exp.Any, exp.All, exp.Exists, exp.CTE)):
        return False  # a relation or a list, not a value
    if any(inner.args.get(arg) for arg in _NOT_IN_VALUE if arg != "with_") \
            or len(inner.expressions) != 1:
        return False
    if not inner.find(exp.AggFunc) or inner.find(exp.Window):
        return False
    own = inner.args.get("with_")
    if own is not None and own.args.get("recursive"):
        return False
    if own is not None or any(n is not inner and isinstance(
            n, (exp.Select, exp.Subquery, exp.SetOperation)) for n in inner.walk()):
        return _uncorrelated(inner, types, ctes)
    return _reads_only_its_datasets(inner, types, ctes)


def _uncorrelated(inner: exp.Select, types: Mapping[str, Mapping[str, object]],
                  ctes: set[str]) -> bool:
    """A value subquery with queries of its own (a nested value, a derived table, its own
    WITH) that reads datasets and its own CTEs only, every column resolved inside it: sqlglot
    qualifies a copy of it alone against the datasets' columns, and a name it cannot place (a
    column of the enclosing query) fails (review round 7: these were left inline and answered
    7 beside the aggregation)."""
    own = {c.alias_or_name for c in inner.find_all(exp.CTE)}
    read: set[str] = set()
    for table in inner.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog"):
            return False
        if table.name in own:
            continue
        if table.name in ctes or table.name not in types:
            return False
        read.add(table.name)
    schema: dict[str, object] = {t: {c: "VARCHAR" for c in types[t]} for t in read}
    try:
        qualify(inner.copy(), schema=schema, dialect="duckdb", validate_qualify_columns=True,
                quote_identifiers=False)
    except (SqlglotError, KeyError, ValueError):
        return False
    return True


def _reads_only_its_datasets(inner: exp.Select, types: Mapping[str, Mapping[str, object]],
                             ctes: set[str]) -> bool:
    from_ = inner.args.get("from_")
    sources = [from_.this] if from_ is not None else []
    sources += [j.this for j in inner.args.get("joins") or []]
    if not sources:
        return False
    aliases: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, exp.Table) or source.args.get("db") or source.args.get("catalog"):
            return False
        if source.name in ctes or source.name not in types:
            return False
        aliases[source.alias_or_name] = source.name
    columns = {c for table in aliases.values() for c in types[table]}
    for column in inner.find_all(exp.Column):
        if column.table:
            if column.table not in aliases or column.name not in types[aliases[column.table]]:
                return False
        elif column.name not in columns:
            return False
    return True


__all__ = ["hoist_value_subqueries"]
