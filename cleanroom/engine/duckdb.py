"""The locked-down DuckDB that runs checked SQL.

Each session holds an in-memory DuckDB of its own (built once per set of versions, kept
for the next session: ``Sandboxes``): read-only views over the collaboration's current
Parquet files (banned columns left out, metrics clamped to their bounds, a user_key as its
124-bit surrogate: ``native.py``), then external access off and the configuration locked, with
a memory limit, a thread cap, a time limit enforced by interrupting the connection, and a row
cap. The engine never sees a policy: the pipeline hands
it plain table specs.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.engine import native
from cleanroom.engine.base import ExactResult, Limits, Params, Rows, T, TableSpec
from cleanroom.errors import QueryFailed, Violation
from cleanroom.hidden import (
    BUCKET,
    PERSON_ROWS,
    has_person_counts,
    person_most,
    person_values,
    screen_view,
    stats_view,
)

DIALECT = "duckdb"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _view_sql(table: TableSpec, source: str | None = None) -> list[str]:
    """The views over one dataset version: ``source`` names its attached native copy, or the
    views read its Parquet file. A dataset with a user_key also gets its screen view, the same
    columns and each row's bucket (``hidden.py``)."""
    cols = []
    bucket = None
    for col in table.columns:
        ref = _quote(col.name)
        if col.user_key:  # the copy holds the surrogate; the Parquet file, the 64-hex string
            cols.append(ref if source is not None else f"{native.surrogate_sql(ref)} AS {ref}")
            bucket = _quote(BUCKET) if source is not None else native.bucket_sql(
                native.surrogate_sql(ref))
            continue
        if col.clamp is not None:  # the native copy holds it clamped (and DOUBLE) already
            ref = ref if source is not None else f"{native.clamp_sql(ref, *col.clamp)} AS {ref}"
        else:  # the gate relies on the declared type (gate/types.py); a no-op when it is so
            ref = f"CAST({ref} AS {col.sql_type}) AS {ref}"
        cols.append(ref)
    origin = (f"{_quote(source)}.{native.TABLE}" if source is not None
              else f"read_parquet({_literal_path(table.path)})")
    views = [f"CREATE VIEW {_quote(table.name)} AS SELECT {', '.join(cols)} FROM {origin}"]
    if bucket is not None:
        views.append(f"CREATE VIEW {_quote(screen_view(table.name))} AS SELECT "
                     f"{', '.join(cols)}, {bucket} AS {_quote(BUCKET)} FROM {origin}")
        views.append(_stats_view_sql(table, cols, origin, stored=source is not None))
    return views


def counted_columns(table: TableSpec) -> tuple[str, ...]:
    """The columns with per-person counts in ``table``'s stats view (``hidden.py``)."""
    return tuple(name for name, _ in _counted(table))


def _counted(table: TableSpec) -> native.Counted:
    """Those columns, each with the type its view casts it to (the copy counts it so)."""
    return tuple((c.name, c.sql_type) for c in table.columns
                 if not c.user_key and has_person_counts(c.view_type))


def _stats_names(table: TableSpec) -> list[str]:
    return [PERSON_ROWS] + [n for c in counted_columns(table)
                            for n in (person_values(c), person_most(c))]


def _stats_view_sql(table: TableSpec, cols: list[str], origin: str, *, stored: bool) -> str:
    """The stats view: the view's columns and each row's person's counts, as the native copy
    stores them or, over the Parquet file, counted by window functions (the same numbers)."""
    if stored:
        stats = ", ".join(_quote(n) for n in _stats_names(table))
        return (f"CREATE VIEW {_quote(stats_view(table.name))} AS SELECT {', '.join(cols)}, "
                f"{stats} FROM {origin}")
    key = next(c.name for c in table.columns if c.user_key)
    names = [c.name for c in table.columns]
    return counted_view_sql(stats_view(table.name), f"SELECT {', '.join(cols)} FROM {origin}",
                            names, key, counted_columns(table))


def counted_view_sql(name: str, rows: str, columns: list[str], key: str,
                     counted: tuple[str, ...]) -> str:
    """``CREATE VIEW name`` of the ``columns`` of the query ``rows`` and each row's person's
    counts (``hidden.py``) by window functions: the numbers the native copy stores."""
    person = _quote(key)
    inner = [f"COUNT(*) OVER (PARTITION BY {person}, {_quote(c)}) AS {_quote('__cr_w_' + c)}"
             for c in counted]
    cap = native.CAPPED_COUNT
    outer = [cap.format(f"CASE WHEN {person} IS NOT NULL THEN COUNT(*) OVER (PARTITION BY "
                        f"{person}) END", _quote(PERSON_ROWS))]
    for c in counted:
        w = _quote("__cr_w_" + c)
        first = (f"CASE WHEN {person} IS NOT NULL THEN SUM(1.0 / {w}) OVER (PARTITION BY "
                 f"{person}) END")  # each value's rows add up to one
        outer += [cap.format(f"CAST(ROUND({first}) AS BIGINT)", _quote(person_values(c))),
                  cap.format(f"CASE WHEN {person} IS NOT NULL THEN MAX({w}) OVER (PARTITION BY "
                             f"{person}) END", _quote(person_most(c)))]
    listed = ", ".join(_quote(c) for c in columns)
    return (f"CREATE VIEW {_quote(name)} AS SELECT {listed}, {', '.join(outer)} "
            f"FROM (SELECT *, {', '.join(inner) or '1 AS __cr_w'} FROM ({rows}))")


def _empty_view_sql(table: TableSpec) -> list[str]:
    """Views of no rows with the shapes ``_view_sql`` gives (no file yet, or only binding)."""
    cols = ", ".join(f"CAST(NULL AS {c.view_type}) AS {_quote(c.name)}" for c in table.columns)
    views = [f"CREATE VIEW {_quote(table.name)} AS SELECT {cols} WHERE false"]
    if any(c.user_key for c in table.columns):
        views.append(f"CREATE VIEW {_quote(screen_view(table.name))} AS SELECT {cols}, "
                     f"CAST(NULL AS UTINYINT) AS {_quote(BUCKET)} WHERE false")
        stats = ", ".join(f"CAST(NULL AS USMALLINT) AS {_quote(n)}" for n in _stats_names(table))
        views.append(f"CREATE VIEW {_quote(stats_view(table.name))} AS SELECT {cols}, {stats} "
                     f"WHERE false")
    return views


@contextmanager
def sandbox(tables: Sequence[TableSpec], limits: Limits) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to an in-memory DuckDB exposing only ``tables``, locked before any analyst
    SQL runs, held by this block alone.

    Each version is read from its native copy (``native.py``), attached read-only under an
    unguessable name, or from its Parquet file when no copy can be made. Building the
    database costs about 20 ms of CPU (DuckDB 2.0's ``connect`` alone 17 ms), more than a
    small query takes, so a block that ends without an error gives it back to ``SANDBOXES``
    for the next block over the same versions and limits; each block gets a fresh connection
    (``cursor()``: its own transaction, interrupt and temporary objects, gone with it)."""
    sources = {t.name: _native(t, limits) for t in tables if t.path.exists()}
    key = _sandbox_key(tables, limits, sources)
    database = SANDBOXES.take(key) or _locked(tables, limits, sources)
    con = database.cursor()
    kept = False
    try:
        yield con
        kept = True
    finally:
        con.close()
        if kept:
            SANDBOXES.give(key, database)
        else:
            database.close()


def _locked(tables: Sequence[TableSpec], limits: Limits,
            sources: dict[str, Path | None]) -> duckdb.DuckDBPyConnection:
    """A new database with one view per table, external access off, configuration locked."""
    con = native.INSTANCES.take({
        "memory_limit": limits.memory_limit, "threads": limits.threads,
        "autoload_known_extensions": False, "autoinstall_known_extensions": False,
        "python_enable_replacements": False})
    try:
        paths = [str(t.path) for t in tables if t.path.exists() and sources[t.name] is None]
        if paths:
            con.execute("SET allowed_paths = " + "[" + ", ".join(_literal_path(Path(p)) for p in paths) + "]")
        try:
            for table in tables:
                for view in (_view_sql(table, _attach(con, sources[table.name]))
                             if table.path.exists() else _empty_view_sql(table)):
                    con.execute(view)
        except duckdb.Error:
            # A file damaged since it was verified: the fixed refusal, never a 500 or DuckDB's
            # message (it can quote paths and data).
            raise QueryFailed([Violation("runtime", "the query failed in the engine")]) from None
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


SandboxKey = tuple[Any, ...]


def _sandbox_key(tables: Sequence[TableSpec], limits: Limits,
                 sources: dict[str, Path | None]) -> SandboxKey:
    """What a database was built from: the specs (each version's own path), the limits, and
    each file it reads as it is on disk now (a copy rebuilt in place is another file)."""
    files = tuple((t.name, _file_identity(sources.get(t.name) or t.path)) for t in tables)
    return (tuple(tables), limits, files)


def _file_identity(path: Path) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_ino, st.st_mtime_ns)


class Sandboxes:
    """Locked databases kept between sessions, at most ``PER_KEY`` idle for one key and
    ``LIMIT`` in all (the least recently given back closed first). One is used by one session
    at a time, so each query still has the database's memory limit and threads to itself. A
    database over a version that retention has removed is closed when next seen, so that its
    attached file's disk space is freed; all are closed at exit."""

    PER_KEY = 2
    LIMIT = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: OrderedDict[SandboxKey, list[duckdb.DuckDBPyConnection]] = OrderedDict()
        self._closed = False

    def take(self, key: SandboxKey) -> duckdb.DuckDBPyConnection | None:
        with self._lock:
            stale = self._pop_stale()
            idle = self._idle.get(key)
            database = idle.pop() if idle else None
            if idle == []:
                del self._idle[key]
        for con in stale:
            con.close()
        return database

    def give(self, key: SandboxKey, database: duckdb.DuckDBPyConnection) -> None:
        closing = [database]
        with self._lock:
            if not self._closed and len(self._idle.get(key, ())) < self.PER_KEY:
                self._idle.setdefault(key, []).append(database)
                self._idle.move_to_end(key)
                closing = self._over_limit()
        for con in closing:
            con.close()

    def _pop_stale(self) -> list[duckdb.DuckDBPyConnection]:
        stale = [k for k in self._idle if any(f is not None and not os.path.exists(f[0])
                                              for _, f in k[2])]
        return [con for k in stale for con in self._idle.pop(k)]

    def _over_limit(self) -> list[duckdb.DuckDBPyConnection]:
        out = []
        while sum(len(v) for v in self._idle.values()) > self.LIMIT:
            oldest = next(iter(self._idle))
            out.append(self._idle[oldest].pop(0))
            if not self._idle[oldest]:
                del self._idle[oldest]
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [con for cons in self._idle.values() for con in cons]
            self._idle.clear()
        for con in idle:
            con.close()


SANDBOXES = Sandboxes()
atexit.register(SANDBOXES.close)


def _native(table: TableSpec, limits: Limits) -> Path | None:
    key = next((c.name for c in table.columns if c.user_key), None)
    clamps = {c.name: c.clamp for c in table.columns if c.clamp is not None}
    return native.CACHE.native(table.path, tuple(c.name for c in table.columns), key=key,
                               clamps=clamps, counted=_counted(table),
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
    return run_scanning(con, sql, limits, lambda _, rows: consume(rows), params=params)


def run_scanning(con: duckdb.DuckDBPyConnection, sql: str, limits: Limits,
                 consume: Callable[[tuple[str, ...], Rows], T], *,
                 params: Params | None = None) -> T:
    """``run_streaming``, with the result's column names handed to ``consume`` first."""
    with guarded(con, limits):
        cursor = con.execute(sql, dict(params) if params else None)
        columns = tuple(d[0] for d in cursor.description or ())

        def rows() -> Iterator[tuple[Any, ...]]:
            while chunk := cursor.fetchmany(10_000):
                yield from chunk
        return consume(columns, rows())


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
    # Binding a query costs DuckDB 2.0 about 1.5 ms of CPU (``sql()`` parses and plans it),
    # twice per screened answer; its names depend only on the shapes and the text.
    KNOWN = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cons: dict[tuple[Any, ...], duckdb.DuckDBPyConnection] = {}
        self._known: OrderedDict[tuple[Any, ...], tuple[str, ...]] = OrderedDict()
        atexit.register(self.close)

    def names(self, tables: Sequence[TableSpec], sql: str) -> tuple[str, ...] | None:
        key = tuple((t.name, tuple((c.name, c.view_type) for c in t.columns)) for t in tables)
        with self._lock:
            if (key, sql) in self._known:
                self._known.move_to_end((key, sql))
                return self._known[key, sql]
        names = self._bind(key, tables, sql)
        if names is None:  # not kept: a failure may be the moment's (memory), not the query's
            return None
        with self._lock:
            self._known[key, sql] = names
            if len(self._known) > self.KNOWN:
                self._known.popitem(last=False)
        return names

    def _bind(self, key: tuple[Any, ...], tables: Sequence[TableSpec],
              sql: str) -> tuple[str, ...] | None:
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
        for view in _empty_view_sql(table):
            con.execute(view)
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

    def scan(self, sql: str, consume: Callable[[tuple[str, ...], Rows], T], *,
             params: Params | None = None) -> T:
        return run_scanning(self.con, sql, self.limits, consume, params=params)


@dataclass(frozen=True)
class DuckDBEngine:
    """``base.Engine``: a locked in-memory sandbox per session (``sandbox``)."""

    dialect: str = DIALECT

    @contextmanager
    def session(self, tables: Sequence[TableSpec], limits: Limits) -> Iterator[DuckDBSession]:
        with sandbox(tables, limits) as con:
            yield DuckDBSession(con, limits, tuple(tables))

    def names(self, tables: Sequence[TableSpec], sql: str) -> tuple[str, ...] | None:
        return SHAPES.names(tables, sql)
