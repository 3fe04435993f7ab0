"""Engines behind one interface (``base``); DuckDB, embedded, is the default (``duckdb``).

The names below are what the rest of the clean room imports; only ``cleanroom.engine`` touches
an engine's connection.
"""

from cleanroom.engine.base import (
    USER_KEY_VIEW_TYPE,
    ColumnSpec,
    Engine,
    ExactResult,
    Limits,
    Session,
    TableSpec,
)
from cleanroom.engine.duckdb import DuckDBEngine, guarded, run, run_streaming, sandbox

__all__ = ["ColumnSpec", "DuckDBEngine", "Engine", "ExactResult", "Limits", "Session",
           "TableSpec", "USER_KEY_VIEW_TYPE", "guarded", "run", "run_streaming", "sandbox"]
