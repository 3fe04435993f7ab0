"""The service's store: a SQLite file of metadata (tokens, dataset versions, audit, budget)
and one Parquet file per dataset version.

SQLite, not DuckDB, holds what several processes touch at once: ``cleanroom token issue``
must work while ``serve`` runs on the same directory, and DuckDB lets one process write a
database file at a time. Dataset versions are written to a temporary file, synced, renamed,
and only then made current in one transaction: a failed upload leaves the old version intact.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, collaboration TEXT NOT NULL, party TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dataset_versions (
    collaboration TEXT NOT NULL, dataset TEXT NOT NULL, version INTEGER NOT NULL,
    file TEXT NOT NULL, rows INTEGER NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (collaboration, dataset, version));
CREATE TABLE IF NOT EXISTS current_datasets (
    collaboration TEXT NOT NULL, dataset TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (collaboration, dataset));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, collaboration TEXT NOT NULL,
    party TEXT NOT NULL, action TEXT NOT NULL, decision TEXT NOT NULL, query_id TEXT,
    detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class DatasetVersion:
    dataset: str
    version: int
    path: Path
    rows: int


@dataclass(frozen=True)
class Identity:
    collaboration: str
    party: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    """Metadata and dataset files under one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir)
        (self.root / "datasets").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self.meta_path = self.root / "meta.sqlite"
        with self.connect() as con:
            con.execute("PRAGMA journal_mode=WAL")  # kept in the file: readers never block writers
            con.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # timeout= is SQLite's busy timeout: wait for a writer instead of failing.
        con = sqlite3.connect(self.meta_path, timeout=30, isolation_level=None)
        try:
            yield con
        finally:
            con.close()

    # -- tokens -----------------------------------------------------------------------
    def issue_token(self, collaboration: str, party: str) -> str:
        token = "crt_" + secrets.token_urlsafe(32)
        with self.connect() as con:
            con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)",
                        (_hash_token(token), collaboration, party, time.time()))
        return token

    def identify(self, token: str) -> Identity | None:
        """The party a bearer token belongs to; looked up by hash, compared in constant time."""
        digest = _hash_token(token)
        with self.connect() as con:
            row = con.execute("SELECT token_hash, collaboration, party FROM tokens "
                              "WHERE token_hash = ?", (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        return Identity(row[1], row[2])

    # -- datasets ---------------------------------------------------------------------
    def staging_path(self, suffix: str) -> Path:
        return self.root / "tmp" / f"{uuid.uuid4().hex}{suffix}"

    def publish(self, collaboration: str, dataset: str, staged: Path, rows: int) -> DatasetVersion:
        """Make a fully written Parquet file the dataset's current version, atomically."""
        folder = self.root / "datasets" / collaboration / dataset
        folder.mkdir(parents=True, exist_ok=True)
        _fsync(staged)
        final = folder / f"{uuid.uuid4().hex}.parquet"
        os.replace(staged, final)
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                (last,) = con.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM dataset_versions "
                    "WHERE collaboration = ? AND dataset = ?", (collaboration, dataset)).fetchone()
                version = last + 1
                con.execute("INSERT INTO dataset_versions VALUES (?, ?, ?, ?, ?, ?)",
                            (collaboration, dataset, version, final.name, rows, time.time()))
                con.execute("INSERT OR REPLACE INTO current_datasets VALUES (?, ?, ?)",
                            (collaboration, dataset, version))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                final.unlink(missing_ok=True)
                raise
        self._prune(collaboration, dataset, keep=version - 1)
        return DatasetVersion(dataset, version, final, rows)

    def _prune(self, collaboration: str, dataset: str, *, keep: int) -> None:
        """Drop files older than the previous version (queries may still read that one)."""
        with self.connect() as con:
            old = con.execute("SELECT version, file FROM dataset_versions WHERE collaboration = ? "
                              "AND dataset = ? AND version < ?", (collaboration, dataset, keep)).fetchall()
            for version, name in old:
                (self.root / "datasets" / collaboration / dataset / name).unlink(missing_ok=True)
                con.execute("DELETE FROM dataset_versions WHERE collaboration = ? AND dataset = ? "
                            "AND version = ?", (collaboration, dataset, version))

    def current(self, collaboration: str) -> dict[str, DatasetVersion]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT v.dataset, v.version, v.file, v.rows FROM current_datasets c "
                "JOIN dataset_versions v USING (collaboration, dataset, version) "
                "WHERE c.collaboration = ?", (collaboration,)).fetchall()
        base = self.root / "datasets" / collaboration
        return {d: DatasetVersion(d, v, base / d / f, n) for d, v, f, n in rows}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
