"""Which comparisons cannot raise, from the types of what they compare.

DuckDB raises inside a comparison only when it casts one side to the other's type at run time
(a VARCHAR read as a number, a DATE out of TIMESTAMP's range, an integer too wide for a
DECIMAL). Two sides of one type, or two of the integer and floating-point types, are compared
without any cast that can fail. Such a comparison needs no ``TRY`` around it, only around its
operands that can raise themselves (``guard.py``), so DuckDB can still use it as a join
condition, push it into a scan, or turn ``ROW_NUMBER() ... = 1`` into a per-group top-N.

Types are known for the sandbox's views (the policy's type; a clamped metric is DOUBLE), for
what CTEs and subqueries project of them, for counts and row numbers, and for casts. Anything
else is unknown, and a comparison with an unknown side keeps its ``TRY``: fail closed.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT 1 FROM a JOIN b ON a.ts <= b.ts AND a.ts < b.name",
...                          read="duckdb")
>>> found = safe_comparisons(tree, {"a": {"ts": "TIMESTAMP"}, "b": {"ts": "TIMESTAMP",
...                                                               "name": "VARCHAR"}})
>>> sorted(n.sql() for n in tree.find_all(exp.LTE, exp.LT) if id(n) in found)
['a.ts <= b.ts']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlglot import exp

from cleanroom.gate.walk import find_all, sql_text

T = TypeVar("T")

Types = dict[str, str | None]  # column name (lower case) -> type, None when unknown

# Compared with each other, these never raise (measured on DuckDB 2.0: only DECIMAL, and
# every pair of distinct temporal types, has a cast that can fail).
_NUMBERS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UBIGINT",
                      "DOUBLE", "FLOAT", "REAL", "INTEGER LITERAL"})
_SAME = frozenset({"TIMESTAMP", "DATE", "VARCHAR", "BOOLEAN"})
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Between)
_SCOPES = (exp.Subquery, exp.Select)
_COUNTS = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Count)
_PICKS = (exp.Min, exp.Max, exp.ArgMin, exp.ArgMax, exp.FirstValue, exp.LastValue, exp.AnyValue)
_WIDE = {"INT": "INTEGER", "DATETIME": "TIMESTAMP", "TEXT": "VARCHAR", "STRING": "VARCHAR"}


class Found(set[int]):
    """Comparison ids found; ``strict``: only sides of one and the same known type. ``sets``:
    each set operation's output types (by its id): a column's type is known only where every
    branch has that one type."""

    def __init__(self, *, strict: bool) -> None:
        super().__init__()
        self.strict = strict
        self.sets: dict[int, list[str | None]] = {}

    def accepts(self, operands: list[exp.Expr], sources: dict[str, Types | None]) -> bool:
        if not self.strict:
            return _compatible(operands, sources)
        types = {_type(o, sources) for o in operands}
        return len(types) == 1 and None not in types and "INTEGER LITERAL" not in types



def safe_comparisons(tree: exp.Expr, tables: dict[str, dict[str, str]]) -> Found:
    """The ids of the comparisons in ``tree`` whose sides have compatible known types (and,
    in ``sets``, each set operation's output types)."""
    return _found(tree, tables, Found(strict=False))


def same_type_comparisons(tree: exp.Expr, tables: dict[str, dict[str, str]]) -> set[int]:
    """The ids of the comparisons in ``tree`` whose sides have one and the same known type:
    an equality then casts neither side, so it is transitive (a BIGINT and a DOUBLE are not:
    two BIGINT keys can equal one DOUBLE).

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT 1 FROM a JOIN b ON a.k = b.k AND a.k = b.d",
    ...                          read="duckdb")
    >>> found = same_type_comparisons(tree, {"a": {"k": "BIGINT"}, "b": {"k": "BIGINT",
    ...                                                                 "d": "DOUBLE"}})
    >>> sorted(n.sql() for n in tree.find_all(exp.EQ) if id(n) in found)
    ['a.k = b.k']
    """
    return set(_found(tree, tables, Found(strict=True)))


def branch_types(with_: exp.With | list[tuple[exp.With, int]] | None, leaves: list[exp.Expr],
                 tables: dict[str, dict[str, str]]) -> list[list[str | None]]:
    """The output column types of each branch ``leaves`` of a set operation whose CTEs are
    ``with_``'s, by position (None: unknown), as the branch itself gives them: before the set
    operation casts each column to one type for every branch (``unified``). Beside what
    ``_type`` knows: a text or small integer literal, and a SUM or AVG of known numbers.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT a.k, COUNT(*) FROM a UNION ALL SELECT 'x', AVG(b.d) "
    ...                          "FROM b", read="duckdb")
    >>> branch_types(None, [tree.left, tree.right], {"a": {"k": "VARCHAR"}, "b": {"d": "INT"}})
    [['VARCHAR', 'BIGINT'], ['VARCHAR', 'DOUBLE']]
    """
    catalog = _catalog(tables)
    found = Found(strict=False)

    def read(body: exp.Expr, inner: dict[str, Types]) -> list[tuple[str, str | None]]:
        return _query(body, inner, catalog, found, _output_type)

    # A list: the WITHs in scope, outermost first, each with how many of its CTEs are (the
    # set operation inside its i-th CTE sees those before it); a name an inner one defines
    # hides an outer one's, and a dataset's.
    scopes = [(with_, len(with_.expressions))] if isinstance(with_, exp.With) else with_ or []
    env: dict[str, Types] = {}
    for scope, seen in scopes:
        env = with_env(exp.With(expressions=scope.expressions[:seen]), env, read) \
            if seen < len(scope.expressions) else with_env(scope, env, read)
    return [[t for _, t in _query(leaf, env, catalog, found, _output_type)] for leaf in leaves]


_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_ADAPTING = ("INTEGER", "BIGINT", "HUGEINT")  # an integer literal that fits takes this type
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.IntDiv)
_BOOLEANS = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Xor)
_DOUBLES = (exp.Ln, exp.Log, exp.Sqrt, exp.Pow, exp.Exp, exp.Median, exp.PercentileCont,
            exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop,
            exp.PercentRank, exp.CumeDist)
_SAME_NUMBER = (exp.Abs, exp.Neg, exp.Round, exp.Trunc)  # of an INTEGER: an INTEGER
_ROUNDED = (exp.Floor, exp.Ceil)  # always a DOUBLE (of an integer too)
_TEXTS = (exp.Lower, exp.Upper, exp.Concat, exp.DPipe, exp.TimeToStr, exp.Trim, exp.Substring)
_PARTS = (exp.Year, exp.Month, exp.Day, exp.DayOfWeek, exp.DayOfMonth, exp.DayOfYear,
          exp.Quarter, exp.Week)  # of a date or a timestamp: a BIGINT
_BIGINTS = (exp.DateDiff, exp.Length, exp.ApproxDistinct, *_COUNTS, exp.Ntile)
_UNIFIED = (exp.Coalesce, exp.Greatest, exp.Least)
_LITERAL = "INTEGER LITERAL"
_DECIMAL_LITERAL = "DECIMAL LITERAL"


def _output_type(node: exp.Expr, sources: dict[str, Types | None]) -> str | None:
    """The type DuckDB gives ``node`` (None: not known here): ``_type``'s, and beside it
    literals, arithmetic, the numeric and text functions and aggregates a branch computes
    (measured on DuckDB 2.0; ``tests/gate/test_types.py`` checks it against ``typeof``)."""
    found = _typed(node, sources)
    if found == _LITERAL:
        return _literal_type(node)
    return None if found == _DECIMAL_LITERAL else found


def _literal_type(node: exp.Expr) -> str | None:
    value = node.unnest()
    if isinstance(value, exp.Neg):
        value = value.this
    if not isinstance(value, exp.Literal) or not value.is_int:
        return None
    size = abs(int(value.name))
    return "INTEGER" if size < 2 ** 31 else "BIGINT" if size < 2 ** 63 else None


def _typed(node: exp.Expr, sources: dict[str, Types | None]) -> str | None:
    """``_output_type``, an integer literal as ``_LITERAL``, a decimal one as
    ``_DECIMAL_LITERAL`` (each takes the type of what it meets)."""
    if isinstance(node, exp.Paren):
        return _typed(node.this, sources)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "VARCHAR"
        if node.is_int:  # a literal past INTEGER's range is a BIGINT of its own
            kind = _literal_type(node)
            return _LITERAL if kind == "INTEGER" else kind
        return "DOUBLE" if "e" in node.name.lower() else _DECIMAL_LITERAL
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Window):
        return _typed(node.this, sources)
    if isinstance(node, _BOOLEANS):
        return "BOOLEAN"
    if isinstance(node, (exp.Sum, exp.Avg)) and not node.args.get("distinct"):
        arg = _typed(node.this, sources)
        if arg in _INTEGERS or arg == _LITERAL:
            return "DOUBLE" if isinstance(node, exp.Avg) else "HUGEINT"
        return "DOUBLE" if arg == "DOUBLE" else None
    if isinstance(node, _PICKS) and node.args.get("count") is not None:
        return None  # MAX(x, n), ARG_MAX(x, y, n): a list of n values (review round 7)
    if isinstance(node, _PICKS) or isinstance(node, (exp.Lag, exp.Lead)):
        arg = _typed(node.this, sources)
        return _literal_type(node.this) if arg == _LITERAL else (
            None if arg == _DECIMAL_LITERAL else arg)
    if isinstance(node, _BIGINTS):
        return "BIGINT"
    if isinstance(node, (*_PARTS, exp.Extract)):
        moment = node.expression if isinstance(node, exp.Extract) else node.this
        whole = not isinstance(node, exp.Extract) or node.this.name.lower() in _WHOLE_PARTS
        return "BIGINT" if whole and _typed(moment, sources) in ("TIMESTAMP", "DATE") else None
    if isinstance(node, exp.CountIf):
        return "HUGEINT"
    if isinstance(node, _TEXTS):  # ``NULL || x`` is a NULL
        kinds = [_typed(a, sources) for a in _arguments(node)]
        return "VARCHAR" if all(k not in (None, "NULL") for k in kinds) else None
    if isinstance(node, exp.TimestampTrunc):
        return "TIMESTAMP" if _typed(node.this, sources) in ("TIMESTAMP", "DATE") else None
    if isinstance(node, (exp.Column, exp.Cast, exp.TryCast)):
        return _type(node, sources)
    numbers = [_typed(a, sources) for a in _arguments(node)]
    if isinstance(node, (*_DOUBLES, exp.Div)):
        return "DOUBLE" if numbers and all(_numeric(t) for t in numbers) else None
    if isinstance(node, _ROUNDED):  # of a decimal: a decimal
        return "DOUBLE" if numbers and numbers[0] in (*_INTEGERS, "DOUBLE", _LITERAL) else None
    if isinstance(node, exp.Nullif):
        return _output_type(node.this, sources)
    if isinstance(node, _SAME_NUMBER):
        kept = ("INTEGER", "BIGINT", "HUGEINT", "DOUBLE", *(
            (_LITERAL, _DECIMAL_LITERAL) if isinstance(node, exp.Neg) else ()))
        return numbers[0] if numbers and numbers[0] in kept else None
    if isinstance(node, _ARITHMETIC) and not isinstance(node.expression, exp.Interval):
        return _meet(numbers)
    if isinstance(node, (*_UNIFIED, exp.Case, exp.If)):
        return _meet(numbers, values=True)
    found = _type(node, sources)
    return None if found == _LITERAL else found


_WHOLE_PARTS = frozenset({"year", "month", "day", "hour", "minute", "second", "dow", "doy",
                          "week", "quarter", "isodow", "dayofweek", "dayofyear"})


def _arguments(node: exp.Expr) -> list[exp.Expr]:
    """The value arguments of a function or operator (a CASE's and an IF's results only)."""
    if isinstance(node, exp.Case):
        return [*(i.args["true"] for i in node.args.get("ifs") or []),
                *([node.args["default"]] if node.args.get("default") is not None else [])]
    if isinstance(node, exp.If):
        return [node.args["true"], *([node.args["false"]] if node.args.get("false") else [])]
    if isinstance(node, (exp.Round, exp.Log)):
        return [node.this] if isinstance(node, exp.Round) else [
            a for a in (node.this, node.expression) if a is not None]
    if isinstance(node, (exp.PercentileCont,)):
        return [node.this]
    return [a for a in (node.this, node.args.get("expression"), *node.expressions)
            if isinstance(a, exp.Expr)]


def _numeric(kind: str | None) -> bool:
    return kind in _INTEGERS or kind in ("DOUBLE", _LITERAL, _DECIMAL_LITERAL)


def _meet(kinds: list[str | None], *, values: bool = False) -> str | None:
    """The type of an operator's (or, ``values``, a CASE's or COALESCE's) result from its
    operands': integers the widest (a literal takes the other side's type), any DOUBLE a
    DOUBLE; with a NULL (``values``) the others'; else None (decimals, text beside numbers,
    small integers beside a literal)."""
    if values:
        kinds = [k for k in kinds if k != "NULL"]
    if not kinds or any(k is None for k in kinds):
        return None
    if values and len(set(kinds)) == 1 and kinds[0] not in (_LITERAL, _DECIMAL_LITERAL):
        return kinds[0]
    if not all(_numeric(k) for k in kinds):
        return None
    if "DOUBLE" in kinds:
        return "DOUBLE"
    if _DECIMAL_LITERAL in kinds:
        return None
    wide = [k for k in kinds if k != _LITERAL]
    if not wide:
        return _LITERAL
    widest = max(wide, key=_INTEGERS.index)
    return widest if widest in _ADAPTING else None


def unified(types: list[str | None]) -> str | None:
    """The one type a set operation casts a column of these branch types to (DuckDB 1.x,
    measured), or None when not known here.

    >>> unified(["BIGINT", "DOUBLE"]), unified(["INTEGER", "VARCHAR"]), unified(["BIGINT", None])
    ('DOUBLE', 'VARCHAR', None)
    >>> unified(["BOOLEAN", "INTEGER"]), unified(["BOOLEAN", "VARCHAR"])
    ('INTEGER', None)
    """
    kinds = set(types) - {"NULL"} if set(types) != {"NULL"} else set(types)
    if None in kinds or kinds == {"NULL"}:
        return None
    if len(kinds) == 1:
        return next(iter(kinds))
    if "BOOLEAN" in kinds and kinds - {"BOOLEAN"} <= {*_INTEGERS, "DOUBLE"}:
        kinds -= {"BOOLEAN"}  # a BOOLEAN beside numbers is read as one (TRUE is 1)
        if len(kinds) == 1:
            return next(iter(kinds))
    if kinds <= set(_INTEGERS):
        return max(kinds, key=_INTEGERS.index)  # type: ignore[arg-type]
    if kinds <= {*_INTEGERS, "DOUBLE"}:
        return "DOUBLE"
    if kinds == {"DATE", "TIMESTAMP"}:
        return "TIMESTAMP"
    if "VARCHAR" in kinds and kinds <= {*_INTEGERS, "DOUBLE", "DATE", "TIMESTAMP", "VARCHAR"}:
        return "VARCHAR"
    return None


def _catalog(tables: dict[str, dict[str, str]]) -> dict[str, Types]:
    return {t.lower(): {c.lower(): _norm(v) for c, v in cols.items()} for t, cols in tables.items()}


def _found(tree: exp.Expr, tables: dict[str, dict[str, str]], found: Found) -> Found:
    catalog = _catalog(tables)
    _query(tree, {}, catalog, found)
    return found


Typer = Callable[[exp.Expr, dict[str, "Types | None"]], "str | None"]


def _query(node: exp.Expr, env: dict[str, Types], catalog: dict[str, Types],
           found: Found, typer: Typer | None = None) -> list[tuple[str, str | None]]:
    """The output columns (name, type) of a query, each typed by ``typer`` (``_type``);
    records its safe comparisons."""
    typer = typer or _type
    if isinstance(node, exp.Subquery):
        return _query(node.this, env, catalog, found, typer)
    if isinstance(node, (exp.Select, exp.SetOperation)):
        env = _with(node, env, catalog, found, typer)
    if isinstance(node, exp.SetOperation):
        left = _query(node.left, env, catalog, found, typer)
        right = _query(node.right, env, catalog, found, typer)
        columns = [(n, t if len(left) == len(right) and t == r else None)
                   for (n, t), (_, r) in zip(left, right)]
        found.sets[id(node)] = [t for _, t in columns]
        return columns
    if not isinstance(node, exp.Select):
        return []
    sources = _sources(node, env, catalog, found, typer)
    _record(node, sources, env, catalog, found)
    source = node.args["from_"].this if node.args.get("from_") else None
    if len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Star) and \
            len(sources) == 1 and not node.args.get("joins") and (
                isinstance(source, exp.Subquery) or (isinstance(source, exp.Table)
                                                     and source.name.lower() in env)):
        # ``SELECT *`` of one CTE or subquery: its columns, in the order it projects them
        only = next(iter(sources.values()))
        return list(only.items()) if only is not None else []
    return [(p.alias_or_name, typer(p.unalias(), sources)) for p in node.expressions]


def _with(node: exp.Expr, env: dict[str, Types], catalog: dict[str, Types], found: Found,
          typer: Typer) -> dict[str, Types]:
    """``env`` with the column types of the CTEs of ``node``'s WITH."""
    return with_env(node.args.get("with_"), env,
                    lambda body, inner: _query(body, inner, catalog, found, typer))


Facts = dict[str, dict[str, T | None]]  # relation -> column -> fact (a type, a width)
Read = Callable[[exp.Expr, dict[str, dict[str, T | None]]], list[tuple[str, T | None]]]


def with_env(with_: exp.With | None, env: Facts[T], read: Read[T]) -> Facts[T]:
    """``env`` with the column facts ``read`` finds for each CTE of ``with_`` (a SELECT's or a
    set operation's), each CTE read in the scope of those before it."""
    if with_ is None:
        return env
    env = dict(env)
    for cte in with_.expressions:
        columns = renamed(read(cte.this, env), cte.args.get("alias"))
        env[cte.alias_or_name.lower()] = _by_name(columns)
    return env


def _by_name(columns: list[tuple[str, T | None]]) -> dict[str, T | None]:
    """Facts by column name; none where two columns share a name (which one a name or a
    position reads is not known here)."""
    facts = {n.lower(): t for n, t in columns}
    return facts if len(facts) == len(columns) else {}


def relation_facts(sel: exp.Select, env: Facts[T], catalog: Facts[T], read: Read[T]
                   ) -> dict[str, dict[str, T | None] | None]:
    """Each source of ``sel`` by alias, with its columns' facts: a CTE's (``env``) or a
    table's (``catalog``), a subquery's as ``read`` finds them, renamed by its column list
    (``(SELECT x AS b, y AS a) AS u(a, b)``: by position); None for columns not known."""
    nodes = [sel.args["from_"].this] if sel.args.get("from_") else []
    nodes += [j.this for j in sel.args.get("joins") or []]
    sources: dict[str, dict[str, T | None] | None] = {}
    for source in nodes:
        alias = source.alias_or_name.lower()
        if isinstance(source, exp.Table) and not source.args.get("db"):
            name = source.name.lower()
            listed = source.args.get("alias") is not None and source.args["alias"].columns
            sources[alias] = None if listed else env.get(name, catalog.get(name))
        elif isinstance(source, exp.Subquery):
            columns = renamed(read(source.this, env), source.args.get("alias"))
            sources[alias] = _by_name(columns)
        else:
            sources[alias] = None
    return sources


def _sources(sel: exp.Select, env: dict[str, Types], catalog: dict[str, Types],
             found: Found, typer: Typer | None = None) -> dict[str, Types | None]:
    """Each source's alias and column types (None: a source whose columns are unknown)."""
    return relation_facts(sel, env, catalog,
                          lambda body, inner: _query(body, inner, catalog, found, typer))


def _record(sel: exp.Select, sources: dict[str, Types | None], env: dict[str, Types],
            catalog: dict[str, Types], found: Found) -> None:
    clauses = [sel.args.get(k) for k in ("where", "qualify", "having")]
    clauses += [j.args.get("on") for j in sel.args.get("joins") or []]
    clauses += list(sel.expressions)
    for clause in clauses:
        # A clause that is itself a subquery is not looked into (sqlglot's pruned walk was not).
        if clause is None or isinstance(clause, _SCOPES):
            continue
        for sub in find_all(clause, *_SCOPES, *_COMPARISONS, stop=_SCOPES):
            if isinstance(sub, _SCOPES):
                _query(sub, env, catalog, found)  # a value or IN subquery: its own scope
            elif found.accepts(_operands(sub), sources):
                found.add(id(sub))


def _operands(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Between):
        return [node.this, node.args["low"], node.args["high"]]
    return [node.this, node.expression]


def _compatible(operands: list[exp.Expr], sources: dict[str, Types | None]) -> bool:
    types = [_type(o, sources) for o in operands]
    if any(t is None for t in types):
        return False
    if all(t in _NUMBERS for t in types):
        return any(t != "INTEGER LITERAL" for t in types)
    return types[0] in _SAME and all(t == types[0] for t in types)


def _type(node: exp.Expr, sources: dict[str, Types | None]) -> str | None:
    if isinstance(node, exp.Paren):
        return _type(node.this, sources)
    if isinstance(node, exp.Column):
        return column_fact(node, sources)
    if isinstance(node, exp.Literal):
        return "INTEGER LITERAL" if node.is_int else None
    if isinstance(node, exp.Window):
        return _type(node.this, sources)
    if isinstance(node, _COUNTS):
        return "BIGINT"
    if isinstance(node, _PICKS):  # one of the argument's own values (or NULL); MAX(x, n): a list
        return _type(node.this, sources) if node.args.get("count") is None else None
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _norm(sql_text(node.args["to"]))
    if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval):
        # A timestamp moved by an interval is a timestamp (the move may raise: it is guarded).
        return "TIMESTAMP" if _type(node.this, sources) == "TIMESTAMP" else None
    return None


def renamed(columns: list[tuple[str, T | None]], alias: exp.TableAlias | None
            ) -> list[tuple[str, T | None]]:
    """A relation's columns under its column list (``AS u(a, b)``: renamed by position; a
    list of another length leaves every fact unknown)."""
    names = [c.name for c in alias.columns] if alias is not None and alias.columns else []
    if not names:
        return columns
    return [(n, c if len(names) == len(columns) else None) for n, (_, c) in zip(names, columns)]


def column_fact(col: exp.Column, sources: Mapping[str, Mapping[str, T] | None]) -> T | None:
    """What ``sources`` (alias -> column -> fact, None: unknown columns) know of ``col``: its
    table's, or the one source's that holds the name (None: unknown or ambiguous)."""
    if col.args.get("db") or col.args.get("catalog") or isinstance(col.this, exp.Star):
        return None
    name = col.name.lower()
    if col.table:
        known = sources.get(col.table.lower())
        return known.get(name) if known is not None else None
    if any(known is None for known in sources.values()):
        return None  # a source of unknown columns might hold the name
    hits = [known[name] for known in sources.values() if known is not None and name in known]
    return hits[0] if len(hits) == 1 else None


def _norm(name: str | None) -> str | None:
    if name is None:
        return None
    upper = name.upper().strip()
    return _WIDE.get(upper, upper)


__all__ = ["Found", "branch_types", "safe_comparisons", "unified"]
