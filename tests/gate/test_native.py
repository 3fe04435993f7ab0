"""Dataset versions are read from native DuckDB copies: built once from the verified Parquet
file with only the columns the sandbox's views read, attached read-only, and never trusted
unless this process built them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cleanroom.engine import ColumnSpec, Limits, TableSpec, sandbox
from cleanroom.engine.native import NativeCache, native_path

LIMITS = Limits(timeout_s=10.0)


def _parquet(tmp_path: Path) -> Path:
    path = tmp_path / "v1.parquet"
    duckdb.connect().execute(f"COPY (SELECT 'k' || i AS user_key, i * 1.0 AS cost, "
                             f"'SECRET' || i AS ip FROM range(100) t(i)) TO '{path}' (FORMAT parquet)")
    return path


SPEC_COLUMNS = (ColumnSpec("user_key", "VARCHAR"), ColumnSpec("cost", "DOUBLE", (0.0, 10.0)))


def test_sandbox_reads_a_native_copy_of_the_view_columns_only(tmp_path: Path) -> None:
    path = _parquet(tmp_path)
    with sandbox([TableSpec("t", path, SPEC_COLUMNS)], LIMITS) as con:
        assert con.execute("SELECT COUNT(*), MAX(cost) FROM t").fetchall() == [(100, 10.0)]
        sources = con.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL"
                              ).fetchall()
    copy = native_path(path, ("user_key", "cost"), clamps={"cost": (0.0, 10.0)})
    assert [Path(p) for (p,) in sources] == [copy]
    check = duckdb.connect(str(copy), read_only=True)
    columns = [r[0] for r in check.execute("DESCRIBE data").fetchall()]
    assert columns == ["user_key", "cost"]  # the banned column is not in the copy
    assert b"SECRET" not in copy.read_bytes()
    # The metric is stored clamped (cost runs to 99 in the file): no session clamps it again.
    assert check.execute("SELECT MAX(cost), COUNT(*) FILTER (WHERE cost = 10) FROM data"
                         ).fetchall() == [(10.0, 90)]


def test_a_clamped_copy_is_another_copy(tmp_path: Path) -> None:
    """Bounds the policy changes give another copy: one built under the old bounds is never
    read under the new."""
    path = _parquet(tmp_path)
    assert len({native_path(path, ("user_key", "cost")),
                native_path(path, ("user_key", "cost"), clamps={"cost": (0.0, 10.0)}),
                native_path(path, ("user_key", "cost"), clamps={"cost": (0.0, 20.0)})}) == 3
    for hi in (10.0, 20.0):
        spec = (ColumnSpec("user_key", "VARCHAR"), ColumnSpec("cost", "DOUBLE", (0.0, hi)))
        with sandbox([TableSpec("t", path, spec)], LIMITS) as con:
            assert con.execute("SELECT MAX(cost) FROM t").fetchall() == [(hi,)]


def test_a_copy_this_process_did_not_build_is_rebuilt(tmp_path: Path) -> None:
    path = _parquet(tmp_path)
    copy = native_path(path, ("user_key", "cost"))
    planted = duckdb.connect(str(copy))
    planted.execute("CREATE TABLE data AS SELECT 'planted' AS user_key, 999.0 AS cost")
    planted.close()
    cache = NativeCache()
    built = cache.native(path, ("user_key", "cost"), memory_limit="1GB", threads=1)
    assert built == copy
    rows = duckdb.connect(str(copy), read_only=True).execute(
        "SELECT COUNT(*), MIN(user_key) FROM data").fetchall()
    assert rows == [(100, "k0")]


def test_a_damaged_copy_is_rebuilt_on_next_use(tmp_path: Path) -> None:
    path = _parquet(tmp_path)
    cache = NativeCache()
    copy = cache.native(path, ("user_key", "cost"), memory_limit="1GB", threads=1)
    assert copy is not None
    copy.write_bytes(b"garbage")  # changes the file's identity
    again = cache.native(path, ("user_key", "cost"), memory_limit="1GB", threads=1)
    assert again == copy
    assert duckdb.connect(str(copy), read_only=True).execute(
        "SELECT COUNT(*) FROM data").fetchall() == [(100,)]


def test_instances_opened_ahead_are_closed_at_exit() -> None:
    """A DuckDB instance opening (or open) in a daemon thread while Python finalizes aborts the
    process (duckdb/duckdb#13904; a CLI run exited -6 after printing its answer): ``close``,
    registered with atexit, joins the thread that opens one ahead and closes what was not
    taken; no instance is opened ahead after it."""
    import threading

    from cleanroom.engine.native import Instances

    instances = Instances()
    config = {"threads": 1}
    instances.take(config).close()
    instances.close()
    assert not [t for t in threading.enumerate() if t.name != "MainThread" and t.daemon
                and getattr(t, "_target", None) == instances._refill]
    assert all(q.empty() for q in instances._ready.values())
    before = threading.active_count()
    instances.take(config).close()  # after close: served, nothing opened ahead
    assert threading.active_count() == before and all(q.empty() for q in instances._ready.values())


def test_a_process_that_takes_an_instance_exits_cleanly() -> None:
    import subprocess
    import sys

    code = ("from cleanroom.engine.native import INSTANCES\n"
            "INSTANCES.take({'threads': 1}).execute('SELECT 1').fetchall()\n")
    for _ in range(5):  # exit at once, while the instance ahead is opening
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and "terminate" not in done.stderr, done.stderr
