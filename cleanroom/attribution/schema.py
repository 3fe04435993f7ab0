"""Check that the spec's tables and columns exist with usable types before any SQL runs.

Checking first means no cast can fail later: DuckDB's cast errors echo the offending value.
"""

from __future__ import annotations

import duckdb

from cleanroom.attribution.paths import quote
from cleanroom.attribution.spec import AttributionSpec

TIME_TYPES = frozenset({"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns", "date"})
NUMERIC_TYPES = frozenset(
    {
        "tinyint", "smallint", "integer", "bigint", "hugeint",
        "utinyint", "usmallint", "uinteger", "ubigint", "uhugeint",
        "float", "double", "decimal",
    }
)  # fmt: skip


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Lower-cased column name -> DuckDB type id of a table or view.

    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE t (User_Key VARCHAR, ts TIMESTAMP)")
    >>> column_types(con, "t")
    {'user_key': 'varchar', 'ts': 'timestamp'}
    """
    try:
        rel = con.sql(f"SELECT * FROM {quote(table)} LIMIT 0")
    except duckdb.Error:
        raise ValueError("attribution table not found") from None
    return {name.lower(): str(t.id) for name, t in zip(rel.columns, rel.types)}


def check_columns(con: duckdb.DuckDBPyConnection, spec: AttributionSpec) -> None:
    """Raise ValueError unless both tables have the columns the spec names, with usable types."""
    touches = column_types(con, spec.touchpoints)
    convs = column_types(con, spec.conversions)
    key = _require(touches, spec.user_key, "touchpoints")
    if _require(convs, spec.user_key, "conversions") != key:
        raise ValueError("user_key has different types in touchpoints and conversions")
    for table, cols in (("touchpoints", touches), ("conversions", convs)):
        if _require(cols, spec.ts, table) not in TIME_TYPES:
            raise ValueError(f"ts of {table} must be a TIMESTAMP or DATE")
    _require(touches, spec.dimension, "touchpoints")
    if (
        spec.revenue is not None
        and _require(convs, spec.revenue, "conversions") not in NUMERIC_TYPES
    ):
        raise ValueError("revenue must be numeric")


def _require(cols: dict[str, str], column: str, table: str) -> str:
    try:
        return cols[column.lower()]
    except KeyError:
        raise ValueError(f"a column named in the spec is missing from {table}") from None
