"""The audit log: every decision, in the store's SQLite file.

An entry records who asked what and what was decided, with rule codes and counts only; it
never holds a result value or a value from the data. The analyst's SQL is kept, since the
compliance reviewer must read what was asked.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cleanroom.store import Store


@dataclass(frozen=True)
class AuditEvent:
    collaboration: str
    party: str
    action: str  # upload | query | check | attribution | analytics | token
    decision: str  # accepted | rejected | failed | exhausted
    query_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def record(store: Store, event: AuditEvent) -> None:
    with store.connect() as con:
        con.execute("INSERT INTO audit (at, collaboration, party, action, decision, query_id, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (time.time(), event.collaboration, event.party, event.action, event.decision,
                     event.query_id, json.dumps(event.detail, sort_keys=True, default=str)))


@dataclass(frozen=True)
class AuditFilter:
    """What ``GET /audit`` asks for (CONTRACT.md §4): entries at or after ``since`` (epoch
    seconds), of one ``action`` and one ``party``, ``limit`` of them, newest first, older than
    the entry id ``cursor`` (the ``next_cursor`` of the page before)."""

    since: float | None = None
    action: str | None = None
    party: str | None = None
    limit: int = 1000
    cursor: int | None = None


def read(store: Store, collaboration: str, *, where: AuditFilter | None = None
         ) -> list[dict[str, Any]]:
    where = where or AuditFilter()
    clauses: list[str] = ["collaboration = ?"]
    args: list[float | int | str] = [collaboration]
    for clause, value in (("at >= ?", where.since), ("action = ?", where.action),
                          ("party = ?", where.party), ("id < ?", where.cursor)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    with store.connect() as con:
        rows = con.execute("SELECT id, at, party, action, decision, query_id, detail FROM audit "
                           f"WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
                           (*args, where.limit)).fetchall()
    return [{"id": i, "at": at, "party": p, "action": a, "decision": d, "query_id": q,
             "detail": json.loads(detail)} for i, at, p, a, d, q, detail in rows]


__all__ = ["AuditEvent", "AuditFilter", "asdict", "read", "record"]
