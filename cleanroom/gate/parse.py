"""Parse exactly one statement, with limits on size and nesting that hold before sqlglot runs."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from cleanroom.errors import QueryRejected
from cleanroom.gate.rules import violation

MAX_QUERY_BYTES = 100_000
MAX_NESTING = 64
MAX_NODES = 20_000


def parse_query(sql: str) -> exp.Expr:
    """Parse ``sql`` as one DuckDB statement.

    >>> parse_query("SELECT 1; SELECT 2")
    Traceback (most recent call last):
    ...
    cleanroom.errors.QueryRejected: the query breaks the collaboration's rules
    """
    if len(sql.encode("utf-8", "replace")) > MAX_QUERY_BYTES:
        raise QueryRejected([violation("query_too_large", f"over {MAX_QUERY_BYTES} bytes")])
    if _nesting(sql) > MAX_NESTING:
        raise QueryRejected([violation("query_too_large", f"nested deeper than {MAX_NESTING}")])
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise QueryRejected([violation("syntax_error", str(first.get("description", ""))[:200],
                                       line=first.get("line"), col=first.get("col"))]) from None
    except (TokenError, RecursionError, ValueError):
        raise QueryRejected([violation("syntax_error")]) from None
    if len(statements) != 1:
        raise QueryRejected([violation("multiple_statements" if statements else "syntax_error")])
    tree = statements[0]
    if sum(1 for _ in tree.walk()) > MAX_NODES:
        raise QueryRejected([violation("query_too_large", f"over {MAX_NODES} syntax nodes")])
    return tree


def _nesting(sql: str) -> int:
    depth = deepest = 0
    for char in sql:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest
