"""The locked-down DuckDB that runs checked SQL.

Each query gets its own in-memory DuckDB: read-only views over the collaboration's current
Parquet files (banned columns left out, metrics clamped to their bounds, a user_key as its
124-bit surrogate: ``native.py``), then external access off and the configuration locked, with
a memory limit, a thread cap, a time limit enforced by interrupting the connection, and a row
cap. The engine never sees a policy: the pipeline hands
it plain table specs.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.engine import native
from cleanroom.engine.base import ExactResult, Limits, Params, Rows, T, TableSpec
from cleanroom.errors import QueryFailed, Violation

DIALECT = "duckdb"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _view_sql(table: TableSpec, source: str | None = None) -> str:
    """The view over one dataset version: ``source`` names its attached native copy, or the
    view reads its Parquet file."""
    cols = []
    for col in table.columns:
        ref = _quote(col.name)
        if col.user_key:  # the copy holds the surrogate; the Parquet file, the 64-hex string
            cols.append(ref if source is not None else f"{native.surrogate_sql(ref)} AS {ref}")
            continue
        if col.clamp is not None:  # the native copy holds it clamped (and DOUBLE) already
            ref = ref if source is not None else f"{native.clamp_sql(ref, *col.clamp)} AS {ref}"
        else:  # the gate relies on the declared type (gate/types.py); a no-op when it is so
            ref = f"CAST({ref} AS {col.sql_type}) AS {ref}"
        cols.append(ref)
    origin = (f"{_quote(source)}.{native.TABLE}" if source is not None
              else f"read_parquet({_literal_path(table.path)})")
    return f"CREATE VIEW {_quote(table.name)} AS SELECT {', '.join(cols)} FROM {origin}"


def _empty_view_sql(table: TableSpec) -> str:
    cols = ", ".join(f"CAST(NULL AS {c.view_type}) AS {_quote(c.name)}" for c in table.columns)
    return f"CREATE VIEW {_quote(table.name)} AS SELECT {cols} WHERE false"


@contextmanager
def sandbox(tables: Sequence[TableSpec], limits: Limits) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB exposing only ``tables``, locked before any analyst SQL runs.

    Each version is read from its native copy (``native.py``), attached read-only under an
    unguessable name, or from its Parquet file when no copy can be made."""
    con = native.INSTANCES.take({
        "memory_limit": limits.memory_limit, "threads": limits.threads,
        "autoload_known_extensions": False, "autoinstall_known_extensions": False,
        "python_enable_replacements": False})
    try:
        sources = {t.name: _native(t, limits) for t in tables if t.path.exists()}
        paths = [str(t.path) for t in tables if t.path.exists() and sources[t.name] is None]
        if paths:
            con.execute("SET allowed_paths = " + "[" + ", ".join(_literal_path(Path(p)) for p in paths) + "]")
        try:
            for table in tables:
                con.execute(_view_sql(table, _attach(con, sources[table.name]))
                            if table.path.exists() else _empty_view_sql(table))
        except duckdb.Error:
            # A file damaged since it was verified: the fixed refusal, never a 500 or DuckDB's
            # message (it can quote paths and data).
            raise QueryFailed([Violation("runtime", "the query failed in the engine")]) from None
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def _native(table: TableSpec, limits: Limits) -> Path | None:
    key = next((c.name for c in table.columns if c.user_key), None)
    clamps = {c.name: c.clamp for c in table.columns if c.clamp is not None}
    return native.CACHE.native(table.path, tuple(c.name for c in table.columns), key=key,
                               clamps=clamps,
                               memory_limit=limits.memory_limit, threads=limits.threads)


def _attach(con: duckdb.DuckDBPyConnection, path: Path | None) -> str | None:
    if path is None:
        return None
    name = native.attach_name()
    con.execute(f"ATTACH {_literal_path(path)} AS {_quote(name)} (READ_ONLY)")
    return name


@contextmanager
def guarded(con: duckdb.DuckDBPyConnection, limits: Limits) -> Iterator[None]:
    """Interrupt the work inside after the time limit; turn any engine failure into
    QueryFailed with no detail from DuckDB or the data (DuckDB's messages can quote values)."""
    timer = threading.Timer(limits.timeout_s, con.interrupt)
    timer.start()
    try:
        yield
    except duckdb.InterruptException:
        raise QueryFailed([Violation("timeout", f"the query ran over {limits.timeout_s:g} s")]) from None
    except duckdb.OutOfMemoryException:
        raise QueryFailed([Violation("memory", "the query ran out of its memory limit")]) from None
    except duckdb.Error:
        raise QueryFailed([Violation("runtime", "the query failed in the engine")]) from None
    finally:
        timer.cancel()


def run_streaming(con: duckdb.DuckDBPyConnection, sql: str, limits: Limits,
                  consume: Callable[[Rows], T], *, params: Params | None = None) -> T:
    """Run ``sql`` under ``guarded`` and hand every result row, fetched in chunks, to
    ``consume``: no row cap, for results whose size must not decide success (DP candidates)."""
    with guarded(con, limits):
        cursor = con.execute(sql, dict(params) if params else None)

        def rows() -> Iterator[tuple[Any, ...]]:
            while chunk := cursor.fetchmany(10_000):
                yield from chunk
        return consume(rows())


def run(con: duckdb.DuckDBPyConnection, sql: str, limits: Limits, *,
        params: Params | None = None) -> ExactResult:
    """Run ``sql`` under ``guarded``, fetching at most the row cap."""
    with guarded(con, limits):
        cursor = con.execute(sql, dict(params) if params else None)
        columns = tuple(d[0] for d in cursor.description or ())
        rows = cursor.fetchmany(limits.max_rows + 1)
    if len(rows) > limits.max_rows:
        raise QueryFailed([Violation("too_many_rows", f"the result has over {limits.max_rows} rows")])
    return ExactResult(columns, rows)


class Shapes:
    """Empty in-memory databases, one per set of table shapes, that name a query's columns as
    DuckDB does (``count_star()``, ``(sum(cost) / 100)``, a CTE column as its alias was
    spelled), so that an answer's header is raw DuckDB's, and tell whether a query binds
    there (the types are the sandbox views': a user_key is its surrogate, a clamped metric
    DOUBLE). Each holds views of no rows, has no
    external access and a locked configuration; a query is only bound there (``sql()`` is
    lazy: nothing runs), never executed."""

    LIMIT = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cons: dict[tuple[Any, ...], duckdb.DuckDBPyConnection] = {}
        atexit.register(self.close)

    def names(self, tables: Sequence[TableSpec], sql: str) -> tuple[str, ...] | None:
        key = tuple((t.name, tuple((c.name, c.view_type) for c in t.columns)) for t in tables)
        with self._lock:
            con = self._cons.get(key)
            if con is None:
                if len(self._cons) >= self.LIMIT:
                    self._cons.pop(next(iter(self._cons))).close()
                con = self._cons[key] = _shapes(tables)
            cursor = con.cursor()
        try:
            relation = cursor.sql(sql)
            return None if relation is None else tuple(relation.columns)
        except duckdb.Error:
            return None
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            for con in self._cons.values():
                con.close()
            self._cons.clear()


def _shapes(tables: Sequence[TableSpec]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={
        "threads": 1, "memory_limit": "64MB", "autoload_known_extensions": False,
        "autoinstall_known_extensions": False, "python_enable_replacements": False})
    for table in tables:
        cols = ", ".join(f"CAST(NULL AS {c.view_type}) AS {_quote(c.name)}" for c in table.columns)
        con.execute(f"CREATE VIEW {_quote(table.name)} AS SELECT {cols} WHERE false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


SHAPES = Shapes()


@dataclass(frozen=True)
class DuckDBSession:
    """``base.Session`` over one sandboxed connection."""

    con: duckdb.DuckDBPyConnection
    limits: Limits
    tables: tuple[TableSpec, ...] = ()
    dialect: str = DIALECT

    def names(self, sql: str) -> tuple[str, ...] | None:
        return SHAPES.names(self.tables, sql)

    def run(self, sql: str, *, params: Params | None = None) -> ExactResult:
        return run(self.con, sql, self.limits, params=params)

    def stream(self, sql: str, consume: Callable[[Rows], T], *,
               params: Params | None = None) -> T:
        return run_streaming(self.con, sql, self.limits, consume, params=params)


@dataclass(frozen=True)
class DuckDBEngine:
    """``base.Engine``: a fresh in-memory sandbox per session."""

    dialect: str = DIALECT

    @contextmanager
    def session(self, tables: Sequence[TableSpec], limits: Limits) -> Iterator[DuckDBSession]:
        with sandbox(tables, limits) as con:
            yield DuckDBSession(con, limits, tuple(tables))

    def names(self, tables: Sequence[TableSpec], sql: str) -> tuple[str, ...] | None:
        return SHAPES.names(tables, sql)
