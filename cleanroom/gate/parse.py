"""Parse exactly one statement, with limits on size and nesting that hold before sqlglot runs,
then normalize identifiers the way DuckDB resolves them (case-insensitively)."""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from cleanroom.errors import QueryRejected, Violation
from cleanroom.gate.inline import inline_passed_sets
from cleanroom.gate.lists import union_of_lists
from cleanroom.gate.rules import violation

MAX_QUERY_BYTES = 100_000
MAX_NESTING = 64
MAX_DEPTH = 256
MAX_NODES = 20_000
RESERVED_PREFIX = "__cr"
SYNTAX = "the SQL has a syntax error"
_TOKEN = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: \d+, col: \d+,[^>]*>")


def parse_query(sql: str, types: dict[str, dict[str, str]] | None = None) -> exp.Expr:
    """Parse ``sql`` as one DuckDB statement, identifiers folded to lower case; ``types``:
    the tables' column types, for reading a final SELECT as the set operation it passes on
    (``inline.py``: without them only what no column type changes is pushed into branches).

    >>> parse_query('SELECT "User_Key" FROM Impressions').sql()
    'SELECT "user_key" FROM impressions'
    >>> parse_query("SELECT 1; SELECT 2")
    Traceback (most recent call last):
    ...
    cleanroom.errors.QueryRejected: the query breaks the collaboration's rules
    """
    if len(sql.encode("utf-8", "replace")) > MAX_QUERY_BYTES:
        raise QueryRejected([_whole("query_too_large", f"over {MAX_QUERY_BYTES} bytes")])
    if _nesting(sql) > MAX_NESTING:
        raise QueryRejected([_whole("query_too_large", f"nested deeper than {MAX_NESTING}")])
    tree = _one_statement(sql)
    nodes = _nodes(tree)
    if nodes is None:
        raise QueryRejected([_whole("query_too_large",
                                    f"over {MAX_NODES} syntax nodes or {MAX_DEPTH} levels")])
    # One walk finds what the three passes change: none of them adds or moves a node that
    # another looks for (unwrapping drops parentheses around columns only).
    _normalize_identifiers(tree, [n for n in nodes if isinstance(n, exp.Identifier)])
    _unwrap_projections([n for n in nodes if isinstance(n, exp.Select)])
    _ordered_set_quantiles([n for n in nodes if isinstance(n, exp.WithinGroup)])
    return union_of_lists(inline_passed_sets(tree, types))


def _one_statement(sql: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb")
                      if s is not None and not isinstance(s, exp.Semicolon)]
    except ParseError as exc:
        raise syntax_error(exc.errors[0] if exc.errors else {}) from None
    except TokenError:
        line, col = _unclosed_quote(sql)
        raise QueryRejected([violation("syntax_error", "a quote is not closed", line=line,
                                       col=col)], message=SYNTAX) from None
    except (RecursionError, ValueError):
        raise QueryRejected([_whole("syntax_error")], message=SYNTAX) from None
    if len(statements) != 1:
        if not statements:
            raise QueryRejected([_whole("syntax_error", "no statement")], message=SYNTAX)
        raise QueryRejected([_whole("multiple_statements")])
    return statements[0]


def syntax_error(error: dict[str, Any]) -> QueryRejected:
    """sqlglot's first parse error, at the start of the token it stopped at (sqlglot gives
    the column where that token ends).

    >>> v = syntax_error({"description": "Invalid expression / Unexpected token", "line": 2,
    ...                   "col": 12, "highlight": "ORDER"}).violations[0]
    >>> v.message, v.line, v.col
    ("the SQL does not parse: unexpected 'ORDER'", 2, 8)
    """
    token = str(error.get("highlight") or "")
    line, end = int(error.get("line") or 1), int(error.get("col") or 1)
    col = end if "\n" in token else max(1, end - len(token) + 1)
    description = _TOKEN.sub(r"'\1'", str(error.get("description", "")))
    shown = token if len(token) <= 40 else token[:37] + "..."
    if description.startswith(("Invalid expression", "Unexpected token")):
        detail = f"unexpected '{shown}'"
    elif description.startswith("Required keyword"):
        detail = f"'{shown}' is not followed by what it needs"
    else:
        detail = f"{description[:160]}, near '{shown}'" if shown else description[:200]
    return QueryRejected([violation("syntax_error", detail, line=line, col=col)], message=SYNTAX)


def _unclosed_quote(sql: str) -> tuple[int, int]:
    """Where the quote that is never closed opens (the last of an odd count), else 1:1."""
    for quote in ("'", '"'):
        if sql.count(quote) % 2:
            at = sql.rfind(quote)
            return sql.count("\n", 0, at) + 1, at - (sql.rfind("\n", 0, at) + 1) + 1
    return 1, 1


def _whole(code: str, detail: str | None = None) -> Violation:
    """A violation of the query as a whole: it points at its start."""
    return violation(code, detail, line=1, col=1)


def _nodes(tree: exp.Expr) -> list[exp.Expr] | None:
    """Every node, breadth-first as ``walk.find_all`` lists them; None over MAX_NODES nodes or
    MAX_DEPTH levels. Level by level, without recursion: later stages recurse, so depth is
    bounded here."""
    expr = exp.Expr
    nodes: list[exp.Expr] = []
    level: list[exp.Expr] = [tree]
    depth = 0
    while level:
        nodes += level
        if len(nodes) > MAX_NODES or depth > MAX_DEPTH:
            return None
        below: list[exp.Expr] = []
        for node in level:
            for value in node.args.values():  # ``iter_expressions``, without its generator
                if isinstance(value, expr):
                    below.append(value)
                elif type(value) is list:
                    below += [v for v in value if isinstance(v, expr)]
        level, depth = below, depth + 1
    return nodes


def _normalize_identifiers(tree: exp.Expr, identifiers: list[exp.Identifier]) -> None:
    """Lower-case every identifier (DuckDB ignores case, quoted or not), except the names of
    the final output's columns, which the analyst chose for the result. Names the rewriter
    uses for its hidden columns are refused here, so the analyst cannot shadow them."""
    keep = _output_alias_ids(tree)
    for ident in identifiers:
        name = str(ident.this)
        if name.lower().startswith(RESERVED_PREFIX):
            line, col = ident.meta.get("line"), ident.meta.get("col")
            raise QueryRejected([violation("reserved_identifier", name[:60], line=line, col=col)])
        if id(ident) not in keep:
            ident.set("this", name.lower())


def _unwrap_projections(selects: list[exp.Select]) -> None:
    """``SELECT DISTINCT(user_key)`` is ``SELECT DISTINCT user_key``: a parenthesised column
    in a projection is that column (DuckDB names it the same), not a computed value."""
    for select in selects:
        for proj in select.expressions:
            value = proj.this if isinstance(proj, exp.Alias) else proj
            inner = value
            while isinstance(inner, exp.Paren) and isinstance(inner.this, (exp.Paren, exp.Column)):
                inner = inner.this
            if inner is not value:
                value.replace(inner)


def _ordered_set_quantiles(groups: list[exp.WithinGroup]) -> None:
    """``PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY x)`` (AMC, Redshift, Snowflake) is
    ``QUANTILE_CONT(x, p)`` in DuckDB, and so is ``PERCENTILE_DISC``: rewritten to that form
    the gate's quantile rules check it. Any other ordered-set aggregate, or a descending or
    multi-key order, is left as it is (refused as unsupported syntax).

    >>> t = parse_query("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x) AS m FROM t")
    >>> t.sql("duckdb")
    'SELECT QUANTILE_CONT(x, 0.5) AS m FROM t'
    """
    for node in groups:
        func, order = node.this, node.expression
        keys = order.expressions if isinstance(order, exp.Order) else []
        extra = isinstance(order, exp.Order) and any(
            v for k, v in order.args.items() if k != "expressions")
        if (not isinstance(func, (exp.PercentileCont, exp.PercentileDisc)) or func.expression
                or len(keys) != 1 or keys[0].args.get("desc") or extra):
            continue
        node.replace(type(func)(this=keys[0].this, expression=func.this))


def _output_alias_ids(tree: exp.Expr) -> set[int]:
    if not isinstance(tree, exp.Select):
        return set()
    return {id(p.args["alias"]) for p in tree.expressions
            if isinstance(p, exp.Alias) and isinstance(p.args.get("alias"), exp.Identifier)}


def _nesting(sql: str) -> int:
    depth = deepest = 0
    for char in sql:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest
