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


def read(store: Store, collaboration: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    with store.connect() as con:
        rows = con.execute("SELECT id, at, party, action, decision, query_id, detail FROM audit "
                           "WHERE collaboration = ? ORDER BY id DESC LIMIT ?",
                           (collaboration, limit)).fetchall()
    return [{"id": i, "at": at, "party": p, "action": a, "decision": d, "query_id": q,
             "detail": json.loads(detail)} for i, at, p, a, d, q, detail in rows]


__all__ = ["AuditEvent", "asdict", "read", "record"]
