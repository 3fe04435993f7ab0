"""A durable privacy-budget ledger in the service's SQLite metadata database.

Each released noisy answer is one row: who paid, how much epsilon, when, and the running total.
Charges are atomic (``BEGIN IMMEDIATE`` takes the write lock before reading the total), so
concurrent threads and processes can never spend past the budget. There is no refund: once a
noisy answer has been released, its epsilon is spent.

>>> import tempfile
>>> ledger = BudgetLedger(Path(tempfile.mkdtemp()) / "meta.db")
>>> ledger.charge("acme", "brand", 0.5, budget=1.0, query_id="q1")
Charge(spent_total=0.5, remaining=0.5)
>>> ledger.charge("acme", "brand", 0.75, budget=1.0, query_id="q2")
Traceback (most recent call last):
...
cleanroom.errors.BudgetExhausted: the privacy budget cannot cover this query
>>> ledger.spent("acme", "brand"), [h["query_id"] for h in ledger.history("acme", "brand")]
(0.5, ['q1'])
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cleanroom.connections import Connections
from cleanroom.errors import BudgetExhausted

# Float sums of shares like 0.1 drift by a few ulps; never refuse a charge over that.
TOLERANCE = 1e-12

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS privacy_budget_charges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collaboration TEXT NOT NULL,
        party TEXT NOT NULL,
        query_id TEXT NOT NULL,
        epsilon REAL NOT NULL CHECK (epsilon > 0),
        running_total REAL NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS privacy_budget_charges_payer
        ON privacy_budget_charges (collaboration, party, id)""",
)

_LAST_TOTAL = """SELECT running_total FROM privacy_budget_charges
    WHERE collaboration = ? AND party = ? ORDER BY id DESC LIMIT 1"""


@dataclass(frozen=True)
class Charge:
    spent_total: float
    remaining: float


class BudgetLedger:
    """Epsilon spent per (collaboration, party), under basic composition (shares add up)."""

    def __init__(self, db_path: Path, *, timeout: float = 30.0) -> None:
        self._path = Path(db_path)
        self._timeout = timeout
        # A charge lost to a power cut would under-count spent budget: sync every commit.
        self._connections = Connections(self._path, timeout=timeout,
                                        setup=("PRAGMA synchronous=FULL",))
        with self._connect() as conn:
            with _transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
            _enable_wal(conn, timeout)

    def charge(
        self, collaboration: str, party: str, epsilon: float, *, budget: float, query_id: str
    ) -> Charge:
        """Record ``epsilon`` against the party's ``budget``, or raise BudgetExhausted."""
        if not (math.isfinite(epsilon) and epsilon > 0 and math.isfinite(budget) and budget > 0):
            raise ValueError("epsilon and budget must be positive and finite")
        with self._connect() as conn, _transaction(conn):
            spent = _last_total(conn, collaboration, party)
            if spent + epsilon > budget + TOLERANCE:
                raise BudgetExhausted()
            total = spent + epsilon
            conn.execute(
                "INSERT INTO privacy_budget_charges"
                " (collaboration, party, query_id, epsilon, running_total, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (collaboration, party, query_id, epsilon, total, _now()),
            )
        return Charge(spent_total=total, remaining=max(0.0, budget - total))

    def can_cover(self, collaboration: str, party: str, epsilon: float, *, budget: float) -> bool:
        """Whether ``epsilon`` fits in what is left (a hint: only ``charge`` is atomic)."""
        return self.spent(collaboration, party) + epsilon <= budget + TOLERANCE

    def spent(self, collaboration: str, party: str) -> float:
        """Total epsilon charged so far (0.0 for a party that never ran a noisy query)."""
        with self._connect() as conn:
            return _last_total(conn, collaboration, party)

    def history(self, collaboration: str, party: str) -> list[dict[str, Any]]:
        """Charges oldest first: query_id, epsilon, at (ISO 8601, UTC) and running_total."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT query_id, epsilon, at, running_total FROM privacy_budget_charges"
                " WHERE collaboration = ? AND party = ? ORDER BY id",
                (collaboration, party),
            ).fetchall()
        keys = ("query_id", "epsilon", "at", "running_total")
        return [dict(zip(keys, row)) for row in rows]

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        # Connections kept for the next call, one call at a time each (``connections.py``).
        return self._connections.connect()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE takes the write lock before anything is read, so check-then-insert is
    atomic across connections."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """WAL lets readers (spent, history) run while one writer charges; it persists in the file.
    Switching modes fails at once, without the busy handler, while another connection holds the
    file (several processes starting together), so retry until the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("could not switch the ledger to WAL mode")
        time.sleep(0.01)


def _last_total(conn: sqlite3.Connection, collaboration: str, party: str) -> float:
    row = conn.execute(_LAST_TOTAL, (collaboration, party)).fetchone()
    return 0.0 if row is None else float(row[0])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
