"""Dataset versions as native DuckDB files, and DuckDB instances made ahead of time.

DuckDB reads its own storage faster than Parquet: its columns need no Parquet page decoding
(and are stored uncompressed, as in memory), so a join or a ``COUNT(DISTINCT user_key)`` over
a native table cost 15-30% less CPU than over the same Parquet file (bench/bench_queries.py,
with user_keys as strings). Each stored version (an immutable Parquet file, named
once) gets a native copy beside it, ``<file>.<columns>.duckdb``, built on its first read from
the Parquet file the store has just verified, and attached read-only by every sandbox after.
A copy holds only the columns the sandbox's view reads (``<columns>`` is a digest of their
names): banned columns never reach a sandbox, and a policy that changes them gets a new copy.

A user_key is stored as a surrogate, ``surrogate_sql``: the first 124 bits of its 64-hex HMAC
as a ``HUGEINT``. Every join, ``COUNT(DISTINCT user_key)``, per-person window and bounding
pass then hashes and compares one 16-byte integer instead of a 64-byte string (measured at 10M
rows: bench/README.md). The analyst cannot tell: the gate lets a user_key only be counted,
grouped on, or compared with ``=`` to another user_key, never shown, cast or transformed, and
every view of a session exposes the same type (the Parquet fallback converts in its view). Two
people share a surrogate only if their keys share 124 bits (about n^2/2^125 for n people); a
provider who forges such a key must already hold the other's prefix, that is know the key. A
merge can only lower a count of people, never split one person into two. The integer's order is
the hex string's order, so rows ordered by user_key keep their order. A value that is not 64
lower-case hex (the upload refuses it: ``bad_user_key``) fails the copy and the query, closed.

A copy is trusted only by the process that built it (by file identity, as ``store.files``
does for checksums); any other file at that name is rebuilt. The store's start-up sweep
removes copies as files no version records, and retention removes a version's copy with it.

Opening a DuckDB instance costs tens of milliseconds (catalog and buffer set-up): ``take``
hands out one opened in the background while the previous one was built. A built sandbox is
kept for the next session over the same versions (``duckdb.Sandboxes``), one at a time.

A copy of a dataset with a user_key also stores each row's *bucket* (``hidden.BUCKET``, the
surrogate's low 8 bits as one byte), which the gate's screen counts instead of reading the
16-byte surrogate.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import queue
import secrets
import threading
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.hidden import BUCKET, BUCKET_BITS, PERSON_ROWS, person_most, person_values

log = logging.getLogger("cleanroom.engine")

SUFFIX = ".duckdb"  # store/datasets.py removes ``<file>.*.duckdb`` with its version
TABLE = "data"
_Identity = tuple[int, int, int, int]


def surrogate_sql(ref: str) -> str:
    """SQL for the surrogate of the user_key ``ref`` (a quoted column): its first 31 hex digits
    as a non-negative 124-bit HUGEINT; NULL stays NULL, anything but 64 lower-case hex raises
    (DuckDB's own error, which the engine never passes on). Not a UHUGEINT of 32 digits:
    DuckDB 2.0 casts a UHUGEINT to text pathologically slowly, and the gate accepts sub-keys
    built from a user_key (``concat_ws('-', user_key, day)``)."""
    return (f"CASE WHEN {ref} IS NULL THEN NULL WHEN regexp_full_match({ref}, '[0-9a-f]{{64}}') "
            f"THEN CAST('0x' || left({ref}, 31) AS HUGEINT) ELSE error('not a user_key') END")


Clamps = dict[str, tuple[float, float]]
Counted = tuple[tuple[str, str], ...]  # (column, the type its view casts it to)


def native_path(parquet: Path, columns: tuple[str, ...], key: str | None = None,
                clamps: Clamps | None = None, counted: Counted = ()) -> Path:
    """Where the copy of ``columns`` (``key``: the one stored as its surrogate; ``clamps``:
    metrics stored clamped to their bounds; ``counted``: columns with per-person counts) is
    kept."""
    names = "\0".join(columns) + ("" if key is None else f"\0\0surrogate:{key}\0\0bucket") + "".join(
        f"\0\0clamp:{c}:{float(lo)!r}:{float(hi)!r}" for c, (lo, hi) in sorted((clamps or {}).items()))
    if key is not None:
        names += "\0\0person-counts" + "".join(f"\0{c}:{t}" for c, t in counted)
    digest = hashlib.sha256(names.encode()).hexdigest()[:12]
    return parquet.with_name(f"{parquet.name}.{digest}{SUFFIX}")


class NativeCache:
    """Native copies of Parquet files, built once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building: dict[Path, threading.Lock] = {}
        self._built: dict[Path, _Identity] = {}

    def native(self, parquet: Path, columns: tuple[str, ...], *, key: str | None = None,
               clamps: Clamps | None = None, counted: Counted = (), memory_limit: str,
               threads: int) -> Path | None:
        """The native copy of ``columns`` of ``parquet`` (a verified, immutable file), the user_key
        column ``key`` as its surrogate, or None if it cannot be made (the sandbox then reads the
        Parquet file itself). A metric in ``clamps`` is stored clamped (``clamp_sql``), so
        that no session clamps it again row by row; with a ``key``, each row also stores its
        person's counts (``person_counts_sql``) of the columns ``counted``."""
        target = native_path(parquet, columns, key, clamps, counted)
        if self._trusted(target):
            return target
        with self._lock:
            one_at_a_time = self._building.setdefault(target, threading.Lock())
        with one_at_a_time:
            if self._trusted(target):
                return target
            try:
                _build(parquet, columns, key, clamps or {}, counted, target,
                       memory_limit=memory_limit, threads=threads)
            except (OSError, duckdb.Error) as exc:
                log.warning("native copy not built: %s", type(exc).__name__)
                return None
            with self._lock:
                self._built[target] = _identity(target)
        return target

    def _trusted(self, target: Path) -> bool:
        with self._lock:
            known = self._built.get(target)
        try:
            return known is not None and _identity(target) == known
        except OSError:
            return False


def _build(parquet: Path, columns: tuple[str, ...], key: str | None, clamps: Clamps,
           counted: Counted, target: Path, *, memory_limit: str, threads: int) -> None:
    staged = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    con = duckdb.connect(str(staged), config={
        "memory_limit": memory_limit, "threads": threads,
        "autoload_known_extensions": False, "autoinstall_known_extensions": False,
        "python_enable_replacements": False})
    try:
        path = "'" + str(parquet).replace("'", "''") + "'"
        select = f"SELECT {', '.join(_stored(c, key, clamps) for c in columns)} FROM read_parquet({path})"
        if key is not None:  # each row's bucket (``hidden.py``), one byte, for the screen
            # and its person's counts, from the rows read once into a temporary table
            con.execute(f"CREATE TEMP TABLE __cr_read AS SELECT *, {bucket_sql(_quoted(key))} "
                        f"AS {_quoted(BUCKET)} FROM ({select})")
            select = person_counts_sql("temp.__cr_read", key, counted)
        # DuckDB's own compression (dictionary strings, bit-packed and ALP numbers): every
        # session attaches the copy afresh and reads its blocks again, and a small copy reads
        # faster; a dictionary-encoded group key is grouped without hashing its strings. At 10M
        # rows (bench/bench_queries.py, each side beside raw DuckDB in one run) the exact
        # SUM(cost) by channel took 1.57x raw's CPU against 2.96x uncompressed, reach and
        # frequency 0.52x against 0.71x, last-touch 0.87x against 0.94x; the overlap of two
        # providers 0.93x against 0.80x. (Uncompressed storage was chosen when user_keys were
        # 64-hex strings, whose FSST decompression cost that overlap a fifth of its CPU.)
        con.execute(f"CREATE TABLE {TABLE} AS {select}")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        staged.unlink(missing_ok=True)
        raise
    con.close()
    for leftover in (staged.with_name(staged.name + ".wal"),):
        leftover.unlink(missing_ok=True)
    os.replace(staged, target)


# A stored per-person count ({0}) as the column {1}: capped at 65535 (USMALLINT; the bounds it
# is compared with are at most 1000), NULL kept (LEAST would make it the cap).
CAPPED_COUNT = "CAST(CASE WHEN {0} > 65535 THEN 65535 ELSE {0} END AS USMALLINT) AS {1}"


def person_counts_sql(source: str, key: str, counted: Counted) -> str:
    """The rows of ``source`` and, per row, its person's counts (``hidden.py``): rows in all
    (``PERSON_ROWS``) and, per column of ``counted``, distinct values of it as its view casts it
    (a cast can merge values; a NULL is one) and the
    most rows with one value, each capped at 65535 (USMALLINT; the contribution bounds they are
    compared with are at most 1000). One aggregate per person and column, joined back: at 10M
    rows and two columns 4 s, against 4.8 s for the same counts as window functions. A row
    whose user_key is NULL has NULL counts (no person: DP queries drop such rows)."""
    ref = _quoted(key)
    parts = [f"__cr_c{i} AS (SELECT {ref}, COUNT(*) AS d, MAX(n) AS m FROM (SELECT {ref}, "
             f"CAST({_quoted(c)} AS {t}), COUNT(*) AS n FROM {source} WHERE {ref} IS NOT NULL "
             f"GROUP BY ALL) GROUP BY {ref})" for i, (c, t) in enumerate(counted)]
    parts.append(f"__cr_p AS (SELECT {ref}, COUNT(*) AS n FROM {source} WHERE {ref} IS NOT NULL "
                 f"GROUP BY {ref})")
    cap = CAPPED_COUNT
    stats = [cap.format("__cr_p.n", _quoted(PERSON_ROWS))]
    joins = [f"LEFT JOIN __cr_p ON __cr_p.{ref} = s.{ref}"]
    for i, (c, _) in enumerate(counted):
        stats += [cap.format(f"__cr_c{i}.d", _quoted(person_values(c))),
                  cap.format(f"__cr_c{i}.m", _quoted(person_most(c)))]
        joins.append(f"LEFT JOIN __cr_c{i} ON __cr_c{i}.{ref} = s.{ref}")
    # In the rows' own order: a scan of the copy reads them as the Parquet file holds them.
    return (f"WITH {', '.join(parts)} SELECT s.*, {', '.join(stats)} FROM {source} AS s "
            + " ".join(joins) + " ORDER BY s.rowid")


def bucket_sql(surrogate: str) -> str:
    """SQL for a person's bucket from the surrogate ``surrogate``: its low ``BUCKET_BITS``."""
    return f"CAST(({surrogate}) & {2 ** BUCKET_BITS - 1} AS UTINYINT)"


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _stored(column: str, key: str | None, clamps: Clamps) -> str:
    ref = _quoted(column)
    if column == key:
        return f"{surrogate_sql(ref)} AS {ref}"
    if column in clamps:
        return f"{clamp_sql(ref, *clamps[column])} AS {ref}"
    return ref


def clamp_sql(ref: str, lo: float, hi: float) -> str:
    """A metric clamped to its bounds, as DOUBLE; NULL stays NULL (not LEAST/GREATEST: DuckDB's
    skip NULLs, and a missing value is no lower bound)."""
    return (f"CAST(CASE WHEN {ref} < {float(lo)!r} THEN {float(lo)!r} WHEN {ref} > "
            f"{float(hi)!r} THEN {float(hi)!r} ELSE {ref} END AS DOUBLE)")


def _identity(path: Path) -> _Identity:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Instances:
    """Fresh in-memory DuckDB instances, one opened ahead for each configuration in use.

    The one opened ahead is opened in a thread of its own. At interpreter exit (``close``, an
    ``atexit`` hook) that thread is joined and every instance not taken is closed: a DuckDB
    instance still opening, or still open, in a daemon thread while Python finalizes aborts the
    process ("terminate called without an active exception", exit -6, duckdb/duckdb#13904),
    which a one-shot CLI command hit after printing its answer."""

    def __init__(self) -> None:
        self._ready: dict[tuple[tuple[str, Any], ...], queue.SimpleQueue[
            duckdb.DuckDBPyConnection]] = {}
        self._lock = threading.Lock()
        self._refills: set[threading.Thread] = set()
        self._closed = False

    def take(self, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        key = tuple(sorted(config.items()))
        with self._lock:
            ready = self._ready.setdefault(key, queue.SimpleQueue())
        try:
            con = ready.get_nowait()
        except queue.Empty:
            con = duckdb.connect(":memory:", config=dict(config))
        with self._lock:
            if not self._closed:
                refill = threading.Thread(target=self._refill, args=(ready, config), daemon=True)
                self._refills.add(refill)
                refill.start()
        return con

    def _refill(self, ready: queue.SimpleQueue[duckdb.DuckDBPyConnection],
                config: dict[str, Any]) -> None:
        try:
            if ready.qsize() < 1:
                ready.put(duckdb.connect(":memory:", config=dict(config)))
        except duckdb.Error:
            pass  # the next session opens its own
        finally:
            with self._lock:
                self._refills.discard(threading.current_thread())

    def close(self) -> None:
        """No more instances opened ahead; those not taken are closed."""
        with self._lock:
            self._closed = True
            refills = list(self._refills)
        for refill in refills:
            refill.join()
        for ready in self._ready.values():
            while True:
                try:
                    ready.get_nowait().close()
                except queue.Empty:
                    break


def attach_name() -> str:
    """An unguessable name for an attached copy: analyst SQL names only the views (the gate
    refuses qualified table names), and cannot guess this one either."""
    return "__cr_src_" + secrets.token_hex(8)


CACHE = NativeCache()
INSTANCES = Instances()
atexit.register(INSTANCES.close)
