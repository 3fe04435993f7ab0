"""The audit log: every decision, in the store's SQLite file, hash-chained.

An entry records who asked what and what was decided, with rule codes and counts only; it
never holds a result value or a value from the data. The analyst's SQL is kept, since the
compliance reviewer must read what was asked. Each entry names the policy version it was
decided under and carries ``hash``: SHA-256 over the entry before's hash and its own fields
(CONTRACT.md §4), so an entry edited or removed afterwards breaks the chain (``verify``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cleanroom.answers import POLICY_VERSION
from cleanroom.store import Store

GENESIS = "0" * 64  # the "hash before" the first entry
_FIELDS = "id, at, collaboration, party, action, decision, policy_version, query_id, detail"


@dataclass(frozen=True)
class AuditEvent:
    collaboration: str
    party: str
    action: str  # upload | query | check | attribution | analytics | token
    decision: str  # accepted | rejected | failed | exhausted
    query_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    policy_version: int = POLICY_VERSION


def entry_hash(before: str, row: tuple[Any, ...]) -> str:
    """The chain link of one stored row (``_FIELDS`` in order) after the hash ``before``."""
    canonical = json.dumps([before, *row], separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(store: Store, event: AuditEvent) -> None:
    # BEGIN IMMEDIATE: the entry before cannot change between reading its hash and linking
    # to it, even when another process (``cleanroom token``) writes the log too.
    with store.connect() as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            _append(con, event)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _append(con: sqlite3.Connection, event: AuditEvent) -> None:
    last = con.execute("SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC "
                       "LIMIT 1").fetchone()
    values = (time.time(), event.collaboration, event.party, event.action, event.decision,
              event.policy_version, event.query_id,
              json.dumps(event.detail, sort_keys=True, default=str))
    cursor = con.execute("INSERT INTO audit (at, collaboration, party, action, decision, "
                         "policy_version, query_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         values)
    link = entry_hash(last[0] if last else GENESIS, (cursor.lastrowid, *values))
    con.execute("UPDATE audit SET hash = ? WHERE id = ?", (link, cursor.lastrowid))


@dataclass(frozen=True)
class AuditFilter:
    """What ``GET /audit`` asks for (CONTRACT.md §4): entries at or after ``since`` (epoch
    seconds), of one ``action`` and one ``party``, ``limit`` of them, newest first, older than
    the entry id ``cursor`` (the ``next_cursor`` of the page before). ``datasets``: only the
    entries of requests that read one of these (a provider's view); None: every entry."""

    since: float | None = None
    action: str | None = None
    party: str | None = None
    limit: int = 1000
    cursor: int | None = None
    datasets: tuple[str, ...] | None = None


def _where(collaboration: str, where: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["collaboration = ?"]
    args: list[Any] = [collaboration]
    for clause, value in (("at >= ?", where.since), ("action = ?", where.action),
                          ("party = ?", where.party), ("id < ?", where.cursor)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if where.datasets is not None:
        marks = ", ".join("?" * len(where.datasets)) or "NULL"
        clauses.append("EXISTS (SELECT 1 FROM json_each(audit.detail, '$.datasets') "
                       f"WHERE json_each.value IN ({marks}))")
        args.extend(where.datasets)
    return " AND ".join(clauses), args


def read(store: Store, collaboration: str, *, where: AuditFilter | None = None
         ) -> list[dict[str, Any]]:
    where = where or AuditFilter()
    clauses, args = _where(collaboration, where)
    with store.connect() as con:
        rows = con.execute(f"SELECT id, at, party, action, decision, policy_version, query_id, "
                           f"detail, hash FROM audit WHERE {clauses} ORDER BY id DESC LIMIT ?",
                           (*args, where.limit)).fetchall()
    return [{"id": i, "at": _iso(at), "party": p, "action": a, "decision": d,
             "policy_version": v if v is not None else POLICY_VERSION, "query_id": q,
             "detail": json.loads(detail), "hash": h}
            for i, at, p, a, d, v, q, detail, h in rows]


def _iso(at: float) -> str:
    """ISO 8601 in UTC, as ``?since=`` takes it and the budget's history gives it; rounded
    down to the microsecond, so that an entry's own ``at`` as ``since`` keeps it."""
    whole = int(at)
    return (datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=int((at - whole) * 1e6))
            ).isoformat(timespec="microseconds")


def verify(store: Store) -> int | None:
    """The id of the first entry whose hash does not follow from the one before (edited,
    inserted or following a removed entry), or None when the chain is intact. Entries from
    before the chain existed (no hash) come first and are skipped. The newest entries removed
    leave every remaining link intact, so the ids the log handed out are counted too (SQLite's
    AUTOINCREMENT sequence): the first id past the last entry left is named."""
    before, last = GENESIS, 0
    with store.connect() as con:
        rows = con.execute(f"SELECT {_FIELDS}, hash FROM audit ORDER BY id")
        for *row, link in rows:
            last = int(row[0])
            if link is None and before == GENESIS:
                continue
            if link != entry_hash(before, tuple(row)):
                return last
            before = link
        issued = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    if issued is not None and int(issued[0]) > last:
        return last + 1
    return None


__all__ = ["AuditEvent", "AuditFilter", "asdict", "read", "record", "verify"]
