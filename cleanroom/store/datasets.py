"""Dataset versions: publish, resolve, verify, retain, and clean up after crashes.

Functions over an open SQLite connection and the ``datasets/`` folder; ``Store`` holds the
locks. A version's file is renamed into place inside the transaction that records it, so a
sweep that holds the write lock sees every file either recorded or orphaned.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cleanroom.errors import InvalidUpload, QueryFailed, Violation
from cleanroom.store.files import Checksum, Damaged, Verifier, checksum_file, fsync_dir
from cleanroom.store.leases import LeaseRegistry

log = logging.getLogger("cleanroom.store")

DAMAGED = Violation("stored_data_damaged", "a stored dataset version is missing or damaged; "
                    "its provider should upload it again")



def salt_mismatch() -> InvalidUpload:
    return InvalidUpload([Violation(
        "salt_mismatch", "the upload's salt fingerprint is not the one recorded for this "
        "collaboration: its pseudonyms would join no one's; the current version is kept")])


@dataclass(frozen=True)
class DatasetVersion:
    dataset: str
    version: int
    path: Path
    rows: int
    checksum: Checksum | None = None


# The engine's native copies of a version's file, ``<file>.<columns>.duckdb``
# (engine/native.py): removed with the version.
DERIVED = ".duckdb"


def _version_file(name: str) -> str:
    """The version file a stored file belongs to: itself, or the file a native copy is of."""
    if name.endswith(DERIVED) and name.count(".") >= 3:
        return name.rsplit(".", 2)[0]
    return name


def storage_refusal(exc: BaseException) -> InvalidUpload:
    """A write that failed for want of space (or any other storage fault): 507, old version kept."""
    full = isinstance(exc, OSError) and exc.errno in (28, 122, 27)  # ENOSPC, EDQUOT, EFBIG
    # SQLite says "database or disk is full", DuckDB "No space left on device" (only read here).
    full = full or any(word in str(exc).lower() for word in ("full", "no space"))
    rule = "storage_full" if full else "storage_error"
    return InvalidUpload([Violation(rule, "the server could not store the upload; the current "
                                    "version is kept")], http_status=507,
                         message="the upload could not be stored")


def _is_storage(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("full", "disk I/O"))
    return isinstance(exc, OSError)


def check_salt(con: sqlite3.Connection, collaboration: str, fingerprint: str | None, *,
               record: bool = False) -> None:
    """Raise ``InvalidUpload`` (``salt_mismatch``) unless ``fingerprint`` is absent or the
    collaboration's recorded one. ``record``: record it when none is, inside the publishing
    transaction, so that two first uploads cannot record two salts."""
    if fingerprint is None:
        return
    row = con.execute("SELECT fingerprint FROM salt_fingerprints WHERE collaboration = ?",
                      (collaboration,)).fetchone()
    if row is not None and row[0] != fingerprint:
        raise salt_mismatch()
    if row is None and record:
        con.execute("INSERT INTO salt_fingerprints VALUES (?, ?, ?)",
                    (collaboration, fingerprint, time.time()))


def publish(con: sqlite3.Connection, base: Path, collaboration: str, dataset: str, staged: Path,
            rows: int, *, salt_fingerprint: str | None = None) -> DatasetVersion:
    folder = base / collaboration / dataset
    final = folder / f"{uuid.uuid4().hex}.parquet"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        checksum = checksum_file(staged)  # also syncs the file: one read while it is cached
        con.execute("BEGIN IMMEDIATE")
    except (OSError, sqlite3.OperationalError) as exc:
        if not _is_storage(exc):
            raise
        staged.unlink(missing_ok=True)  # free the space before the refusal is audited
        raise storage_refusal(exc) from None
    try:
        check_salt(con, collaboration, salt_fingerprint, record=True)
        (last,) = con.execute("SELECT COALESCE(MAX(version), 0) FROM dataset_versions "
                              "WHERE collaboration = ? AND dataset = ?",
                              (collaboration, dataset)).fetchone()
        os.replace(staged, final)
        fsync_dir(folder)
        con.execute("INSERT INTO dataset_versions (collaboration, dataset, version, file, rows, "
                    "created_at, sha256, bytes, salt_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (collaboration, dataset, last + 1, final.name, rows, time.time(),
                     checksum.sha256, checksum.size, salt_fingerprint))
        con.execute("INSERT OR REPLACE INTO current_datasets VALUES (?, ?, ?)",
                    (collaboration, dataset, last + 1))
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        final.unlink(missing_ok=True)
        if _is_storage(exc):
            staged.unlink(missing_ok=True)
            raise storage_refusal(exc) from None
        raise
    return DatasetVersion(dataset, last + 1, final, rows, checksum)


def current(con: sqlite3.Connection, base: Path, collaboration: str) -> dict[str, DatasetVersion]:
    rows = con.execute(
        "SELECT v.dataset, v.version, v.file, v.rows, v.sha256, v.bytes FROM current_datasets c "
        "JOIN dataset_versions v USING (collaboration, dataset, version) "
        "WHERE c.collaboration = ?", (collaboration,)).fetchall()
    return {d: DatasetVersion(d, v, base / collaboration / d / f, n,
                              None if h is None else Checksum(h, size))
            for d, v, f, n, h, size in rows}


def verify(verifier: Verifier, collaboration: str, version: DatasetVersion) -> None:
    """Raise ``QueryFailed`` (fixed message) unless the file matches its checksum. The log
    names the version and the kind of damage, never a path, a value or an engine message."""
    try:
        if version.checksum is None:
            raise Damaged("no_checksum")
        verifier.verify(version.path, version.checksum)
    except Damaged as damage:
        log.error("stored dataset damaged: collaboration=%s dataset=%s version=%d reason=%s",
                  collaboration, version.dataset, version.version, damage.reason)
        raise QueryFailed([DAMAGED]) from None


def retain(con: sqlite3.Connection, base: Path, leases: LeaseRegistry, collaboration: str,
           dataset: str, *, keep: int) -> None:
    """Remove the files of versions older than the newest ``keep`` (never the current one),
    except those a request holds: those wait for ``Store._release``. Call with the lease lock."""
    rows = con.execute(
        "SELECT version, file FROM dataset_versions WHERE collaboration = ? AND dataset = ? "
        "AND removed_at IS NULL AND version NOT IN (SELECT version FROM current_datasets "
        "WHERE collaboration = ? AND dataset = ?) ORDER BY version DESC",
        (collaboration, dataset, collaboration, dataset)).fetchall()
    for version, name in rows[max(0, keep - 1):]:
        key = (collaboration, dataset, version)
        if leases.held(key):
            leases.defer(key)
            continue
        con.execute("UPDATE dataset_versions SET removed_at = ? WHERE collaboration = ? AND "
                    "dataset = ? AND version = ?", (time.time(), collaboration, dataset, version))
        path = base / collaboration / dataset / name
        path.unlink(missing_ok=True)  # after the row says so: a crash between leaves an orphan
        for copy in path.parent.glob(path.name + ".*" + DERIVED):
            copy.unlink(missing_ok=True)
        leases.verifier.forget(path)
        leases.settle(key)


def remove_orphans(con: sqlite3.Connection, base: Path) -> int:
    """Delete dataset files no live version records (a publish or removal cut short)."""
    freed = 0
    con.execute("BEGIN IMMEDIATE")  # publishers rename inside this lock: no file is half-recorded
    try:
        live = {(c, d, f) for c, d, f in con.execute(
            "SELECT collaboration, dataset, file FROM dataset_versions WHERE removed_at IS NULL")}
        for path in base.glob("*/*/*"):
            name = _version_file(path.name)  # a live version's native copy is live
            if path.is_file() and (path.parent.parent.name, path.parent.name, name) not in live:
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
    finally:
        con.execute("COMMIT")
    return freed


def checksum_legacy(con: sqlite3.Connection, base: Path) -> None:
    """Versions published before checksums existed get one from their file as it is now."""
    rows = con.execute("SELECT collaboration, dataset, version, file FROM dataset_versions "
                       "WHERE sha256 IS NULL AND removed_at IS NULL").fetchall()
    for collaboration, dataset, version, name in rows:
        path = base / collaboration / dataset / name
        if not path.is_file():
            continue
        checksum = checksum_file(path)
        con.execute("UPDATE dataset_versions SET sha256 = ?, bytes = ? WHERE collaboration = ? "
                    "AND dataset = ? AND version = ? AND sha256 IS NULL",
                    (checksum.sha256, checksum.size, collaboration, dataset, version))
