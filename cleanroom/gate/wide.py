"""No SUM or AVG may overflow on people's data: an aggregate runs outside any TRY.

DuckDB adds exact numbers in a 128-bit accumulator and raises ``Overflow in HUGEINT
addition`` past 1.7e38. A sum of values that fit in 64 bits (integers up to BIGINT, DECIMALs
of at most 18 digits) cannot get there (it would take 1.7e20 rows of the largest BIGINT), nor
can a sum of doubles (it becomes infinite). But a value that is itself 128 bits wide can hold
up to 1e38 in one row: a CAST to ``DECIMAL(38, 0)``, an integer literal past BIGINT (a
HUGEINT), a per-person ``SUM`` (HUGEINT or ``DECIMAL(38, s)``) multiplied by a constant, or a
sum of DECIMALs (its width grows by one) multiplied again. Two such rows overflow, so the
query failed only when a condition on one person held (``WHERE revenue BETWEEN 777 AND 778``
with the target's two impressions): an existence oracle, a bit a query.

So every SUM and AVG whose argument is not provably 64 bits wide (or a double) reads it as
``CASE WHEN TRY(abs(x) < 1e20) THEN x END``: the same value and type wherever it is below
1e20 in magnitude, NULL (nothing added) above, and then it would take 1.7e18 rows to
overflow. The width is worked out from the view's column types, casts, literals and the
arithmetic between them (DuckDB's rules: a product of DECIMALs of at most 18 digits stays 18
digits and raises on overflow, inside its TRY; a sum of DECIMALs widens by one); anything
else is unknown and bounded (fail closed).

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT SUM(cost), SUM(cost * 1.5), SUM(CAST(cost AS DECIMAL(38, 0)))"
...                          " FROM t", read="duckdb")
>>> bound_wide_sums(tree, {"t": {"cost": "DOUBLE"}})
>>> for s in tree.find_all(exp.Sum):
...     print(s.this.sql())
cost
cost * 1.5
CASE WHEN TRY(ABS(CAST(cost AS DECIMAL(38, 0))) < 1e20) THEN CAST(cost AS DECIMAL(38, 0)) END
"""

from __future__ import annotations

import re

from sqlglot import exp

from cleanroom.gate.types import column_fact, relation_facts, with_env
from cleanroom.gate.walk import copy_tree, find_all, sql_text

Cat = tuple[str, int] | None  # ("I", 18) a 64-bit integer, ("F", 0) a double, ("D", p)
_INT: Cat = ("I", 18)
_DOUBLE: Cat = ("F", 0)
BOUND = "1e20"  # past it, a summed value is read as NULL (1.7e18 rows to reach 1.7e38)

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "BOOLEAN", "INT1", "INT2", "INT4", "INT8", "LONG", "SHORT"}
_DOUBLES = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8", "DOUBLE PRECISION"}
_SCOPES = (exp.Subquery, exp.Select)
_SAME = (exp.Paren, exp.Neg, exp.Abs, exp.Try, exp.Round, exp.Floor, exp.Ceil, exp.Sign,
         exp.Window, exp.Filter, exp.Min, exp.Max, exp.AnyValue, exp.First, exp.Last,
         exp.ArgMin, exp.ArgMax, exp.FirstValue, exp.LastValue, exp.Nullif, exp.IgnoreNulls,
         exp.RespectNulls)
_DOUBLE_NODES = (exp.Div, exp.Avg, exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance,
                 exp.VariancePop, exp.Skewness, exp.Kurtosis, exp.Log, exp.Ln, exp.Sqrt,
                 exp.Exp, exp.Pow)
_INT_NODES = (exp.Count, exp.RowNumber, exp.Rank, exp.DenseRank, exp.DateDiff, exp.Length,
              exp.ArraySize, exp.StrPosition)


def _of_type(name: str | None) -> Cat:
    if name is None:
        return None
    text = name.upper().strip()
    if text in _INTEGERS:
        return _INT
    if text in _DOUBLES:
        return _DOUBLE
    found = re.fullmatch(r"(?:DECIMAL|NUMERIC)\s*(?:\((\d+)\s*(?:,\s*\d+)?\))?", text)
    if found:
        return ("D", int(found.group(1) or 18))
    return None


def _literal(node: exp.Literal) -> Cat:
    if node.is_string:
        return None
    text = node.name.lstrip("-+")
    if "e" in text.lower():
        return _DOUBLE
    if node.is_int:
        return _INT if abs(int(text)) < 2 ** 63 else None
    return ("D", len(text.replace(".", "")))


def _combine(cats: list[Cat], how: str) -> Cat:
    if not cats or any(c is None for c in cats):
        return None
    kinds = {c[0] for c in cats if c is not None}
    if "F" in kinds:
        return _DOUBLE
    if kinds == {"I"}:
        return _INT
    widest = max(c[1] for c in cats if c is not None)
    if how == "add":
        return ("D", widest + 1)
    if how == "mul":
        return ("D", 18) if widest <= 18 else None
    return ("D", widest)


def _branches(node: exp.Expr) -> list[exp.Expr] | None:
    if isinstance(node, exp.Case):
        return [i.args["true"] for i in node.args.get("ifs") or []] + (
            [node.args["default"]] if node.args.get("default") is not None else [])
    if isinstance(node, exp.If):
        return [v for v in (node.args.get("true"), node.args.get("false")) if v is not None]
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
        return [node.this, *node.expressions]
    return None


def _expr(node: exp.Expr, sources: dict[str, dict[str, Cat] | None]) -> Cat:
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, (exp.Null, exp.Boolean)):
        return _INT
    if isinstance(node, exp.Column):
        return column_fact(node, sources)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _of_type(sql_text(node.args["to"]))
    if isinstance(node, _DOUBLE_NODES):
        return _DOUBLE
    if isinstance(node, _INT_NODES):
        return _INT
    if isinstance(node, exp.Sum):
        return _DOUBLE if _expr(node.this, sources) == _DOUBLE else None  # HUGEINT, D(38)
    if isinstance(node, _SAME):
        return _expr(node.this, sources)
    if isinstance(node, (exp.Add, exp.Sub)):
        return _combine([_expr(node.this, sources), _expr(node.expression, sources)], "add")
    if isinstance(node, exp.Mul):
        return _combine([_expr(node.this, sources), _expr(node.expression, sources)], "mul")
    if isinstance(node, (exp.Mod, exp.IntDiv)):
        return _combine([_expr(node.this, sources), _expr(node.expression, sources)], "pick")
    branches = _branches(node)
    if branches is not None:
        return _combine([_expr(b, sources) for b in branches], "pick")
    return None


def _narrow(cat: Cat) -> bool:
    return cat is not None and (cat[0] in ("I", "F") or cat[1] <= 18)


def _query(node: exp.Expr, env: dict[str, dict[str, Cat]], catalog: dict[str, dict[str, Cat]],
           narrow: set[int]) -> list[tuple[str, Cat]]:
    """The output columns (name, width) of a query; records its provably narrow sums."""
    if isinstance(node, exp.Subquery):
        return _query(node.this, env, catalog, narrow)
    if isinstance(node, (exp.Select, exp.SetOperation)):
        env = _with(node, env, catalog, narrow)
    if isinstance(node, exp.SetOperation):
        left = _query(node.left, env, catalog, narrow)
        right = _query(node.right, env, catalog, narrow)
        if len(left) != len(right):
            return [(n, None) for n, _ in left]
        return [(n, _combine([a, b], "pick")) for (n, a), (_, b) in zip(left, right)]
    if not isinstance(node, exp.Select):
        return []
    sources = relation_facts(node, env, catalog,
                             lambda body, inner: _query(body, inner, catalog, narrow))
    for clause in [node.args.get(k) for k in ("where", "qualify", "having", "order")] + [
            j.args.get("on") for j in node.args.get("joins") or []] + list(node.expressions):
        if clause is None:
            continue
        for sub in find_all(clause, exp.Sum, exp.Avg, *_SCOPES, stop=_SCOPES):
            if isinstance(sub, _SCOPES):
                if sub is not clause or isinstance(clause, _SCOPES):
                    _query(sub, env, catalog, narrow)
            elif _narrow(_expr(_argument(sub), sources)):
                narrow.add(id(sub))
    return [(p.alias_or_name, _expr(p.unalias(), sources)) for p in node.expressions]


def _with(node: exp.Expr, env: dict[str, dict[str, Cat]], catalog: dict[str, dict[str, Cat]],
          narrow: set[int]) -> dict[str, dict[str, Cat]]:
    """``env`` with the widths of the CTEs of ``node``'s WITH (their sums are recorded too)."""
    return with_env(node.args.get("with_"), env,
                    lambda body, inner: _query(body, inner, catalog, narrow))


def _argument(agg: exp.Expr) -> exp.Expr:
    arg = agg.this
    if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
        return arg.expressions[0]
    return arg


def _bounded(value: exp.Expr) -> exp.Expr:
    below = exp.LT(this=exp.Abs(this=copy_tree(value)), expression=exp.Literal.number(BOUND))
    # DuckDB allows no aggregate inside TRY (``SUM(SUM(n)) OVER ()`` failed in the engine,
    # review of siblings): there the test stands bare (an abs that overflows fails the query).
    aggregated = bool(find_all(value, exp.AggFunc, stop=exp.Subquery))
    return exp.Case(ifs=[exp.If(this=below if aggregated else exp.Try(this=below), true=value)])


def bound_wide_sums(tree: exp.Expr, tables: dict[str, dict[str, str]], *,
                    inner_only: bool = False) -> None:
    """Bound, in place, every SUM and AVG of ``tree`` whose argument is not provably 64 bits
    wide or a double (``inner_only``: those of its subqueries and CTEs, not its own)."""
    catalog = {t.lower(): {c.lower(): _of_type(v) for c, v in cols.items()}
               for t, cols in tables.items()}
    narrow: set[int] = set()
    _query(tree, {}, catalog, narrow)
    if inner_only:
        narrow |= {id(a) for a in find_all(tree, exp.Sum, exp.Avg, stop=_SCOPES)}
    for agg in find_all(tree, exp.Sum, exp.Avg):
        if id(agg) in narrow:
            continue
        arg = agg.this
        if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
            arg.set("expressions", [_bounded(arg.expressions[0])])
        elif isinstance(arg, exp.Expr):
            agg.set("this", _bounded(arg))
