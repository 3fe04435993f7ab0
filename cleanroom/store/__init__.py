"""The service's store: a SQLite file of metadata (tokens, dataset versions, audit, budget)
and one Parquet file per dataset version.

SQLite, not DuckDB, holds what several processes touch at once: ``cleanroom token issue``
must work while ``serve`` runs on the same directory, and DuckDB lets one process write a
database file at a time. Dataset versions are staged (``staging``), checksummed and synced,
renamed into place and made current in one transaction: a failed upload leaves the old
version intact. Readers take a ``lease`` (``datasets``): the versions they read are verified
and stay on disk until they are done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cleanroom.connections import Connections
from cleanroom.store import datasets, policies, tokens
from cleanroom.store.datasets import DatasetVersion
from cleanroom.store.files import Damaged
from cleanroom.store.leases import LeaseRegistry, registry_for
from cleanroom.store.staging import Staging, sweep

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
CREATE TABLE IF NOT EXISTS salt_fingerprints (
    collaboration TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, recorded_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, collaboration TEXT NOT NULL,
    party TEXT NOT NULL, action TEXT NOT NULL, decision TEXT NOT NULL, query_id TEXT,
    detail TEXT NOT NULL);
"""
# Columns added after the first release; added to an older store when it is opened.
VERSION_COLUMNS = {"sha256": "TEXT", "bytes": "INTEGER", "removed_at": "REAL",
                   "salt_fingerprint": "TEXT"}
AUDIT_COLUMNS = {"policy_version": "INTEGER", "hash": "TEXT"}  # CONTRACT.md §4


@dataclass(frozen=True)
class Identity:
    collaboration: str
    party: str


class Store:
    """Metadata and dataset files under one data directory.

    Opening a store removes what interrupted uploads left behind (staged files of dead
    processes, files renamed into place whose transaction never committed).
    """

    def __init__(self, data_dir: Path | str, *, keep_versions: int = 2) -> None:
        self.root = Path(data_dir)
        self.keep_versions = max(1, keep_versions)
        for sub in ("datasets", "tmp", "locks"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.meta_path = self.root / "meta.sqlite"
        self._connections = Connections(self.meta_path)
        with self.connect() as con:
            con.execute("PRAGMA journal_mode=WAL")  # kept in the file: readers never block writers
            con.executescript(SCHEMA)
            _add_columns(con, "dataset_versions", VERSION_COLUMNS)
            _add_columns(con, "audit", AUDIT_COLUMNS)
            con.executescript(tokens.SCHEMA)
            con.executescript(policies.SCHEMA)
            _add_columns(con, "tokens", tokens.TOKEN_COLUMNS)
        self.leases: LeaseRegistry = registry_for(self.root)
        self.staging = Staging(self.root / "tmp", self.root / "locks")
        self.recovered_bytes = sweep(self.root / "tmp", self.root / "locks")
        with self.connect() as con:
            self.recovered_bytes += datasets.remove_orphans(con, self.root / "datasets")
            datasets.checksum_legacy(con, self.root / "datasets")

    def connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.connect()

    # -- tokens (``tokens.py``) ----------------------------------------------------------
    def issue_token(self, collaboration: str, party: str, *,
                    expires_at: float | None = None) -> str:
        with self.connect() as con:
            return tokens.issue(con, collaboration, party, expires_at=expires_at)

    def identify(self, token: str) -> Identity | None:
        """The party a live bearer token belongs to (looked up by hash, compared in constant
        time); None for an unknown, revoked or expired one."""
        with self.connect() as con:
            found = tokens.identify(con, token)
        return None if found is None else Identity(*found)

    def list_tokens(self) -> list[tokens.TokenInfo]:
        with self.connect() as con:
            return tokens.listed(con)

    def revoke_token(self, token_id: str) -> int:
        with self.connect() as con:
            return tokens.revoke(con, token_id)

    def record_parties(self, parties: dict[str, list[str]]) -> None:
        with self.connect() as con:
            tokens.record_parties(con, parties)

    def known_parties(self) -> dict[str, list[str]]:
        with self.connect() as con:
            return tokens.known_parties(con)

    def adopt_policy(self, collaboration: str, canonical: str) -> tuple[int, bool]:
        """The policy version of ``canonical`` (a new one when it differs from the last)."""
        with self.connect() as con:
            return policies.adopt(con, collaboration, canonical)

    # -- datasets ---------------------------------------------------------------------
    def staging_path(self, suffix: str) -> Path:
        """A fresh name in this process's staging area (removed at start-up if we die)."""
        return self.staging.path(suffix)

    def publish(self, collaboration: str, dataset: str, staged: Path, rows: int, *,
                salt_fingerprint: str | None = None) -> DatasetVersion:
        """Make a fully written Parquet file the dataset's current version, atomically.

        A ``salt_fingerprint`` must match the collaboration's (the first one given is recorded
        with the version): else ``InvalidUpload`` (``salt_mismatch``), the current version kept.
        """
        with self.connect() as con:
            version = datasets.publish(con, self.root / "datasets", collaboration, dataset,
                                       staged, rows, salt_fingerprint=salt_fingerprint)
            if version.checksum is not None:  # hashed at publish: its first reader need not
                with suppress(Damaged):  # (gone already: its reader will say so)
                    self.leases.verifier.remember(version.path, version.checksum)
            self._retain(con, collaboration, dataset)
        return version

    def check_salt(self, collaboration: str, fingerprint: str | None) -> None:
        """Refuse early (before the body is read) a fingerprint that cannot be published."""
        with self.connect() as con:
            datasets.check_salt(con, collaboration, fingerprint)

    def current(self, collaboration: str) -> dict[str, DatasetVersion]:
        """The current versions, neither pinned nor verified (for describing, not reading)."""
        with self.connect() as con:
            return datasets.current(con, self.root / "datasets", collaboration)

    @contextmanager
    def lease(self, collaboration: str) -> Iterator[dict[str, DatasetVersion]]:
        """The current versions, pinned until the block ends and verified against their
        checksums; a missing or damaged file raises ``QueryFailed``."""
        with self.connect() as con:
            with self.leases.lock:  # resolve and pin in one step: retention waits for it
                current = datasets.current(con, self.root / "datasets", collaboration)
                keys = [(collaboration, v.dataset, v.version) for v in current.values()]
                self.leases.pin(keys)
        try:
            for version in current.values():
                datasets.verify(self.leases.verifier, collaboration, version)
            yield current
        finally:
            self.leases.unpin(keys)
            self._release(keys)

    def _retain(self, con: sqlite3.Connection, collaboration: str, dataset: str) -> None:
        with self.leases.lock:
            datasets.retain(con, self.root / "datasets", self.leases, collaboration, dataset,
                            keep=self.keep_versions)

    def _release(self, keys: list[tuple[str, str, int]]) -> None:
        """Retention skipped versions that were held: drop them once the last reader is done."""
        if not any(self.leases.deferred(k) for k in keys):
            return
        with self.connect() as con:
            for collaboration, dataset in {(c, d) for c, d, _ in keys}:
                self._retain(con, collaboration, dataset)


def _add_columns(con: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
    for name, sql_type in columns.items():
        if name not in have:
            try:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


__all__ = ["DatasetVersion", "Identity", "Store"]
