"""Bearer tokens in the store's SQLite file: only a hash of each is kept, with its party, its
expiry and its revocation; and the parties the service last started with, so that
``cleanroom token issue`` can refuse a collaboration or party no policy names.

A token's public id is the first 12 hex characters of its SHA-256: the token has 256 random
bits, so the id tells nothing that would help guess it, and older stores need no new column.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS known_parties (
    collaboration TEXT PRIMARY KEY, parties TEXT NOT NULL, recorded_at REAL NOT NULL);
"""
# Added to an older store's tokens table when it is opened.
TOKEN_COLUMNS = {"expires_at": "REAL", "revoked_at": "REAL"}
ID_LENGTH = 12


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never the token, nor its full hash."""

    id: str
    collaboration: str
    party: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def status(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(con: sqlite3.Connection, collaboration: str, party: str, *,
          expires_at: float | None = None) -> str:
    token = "crt_" + secrets.token_urlsafe(32)
    con.execute("INSERT INTO tokens (token_hash, collaboration, party, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (hash_token(token), collaboration, party, time.time(), expires_at))
    return token


def identify(con: sqlite3.Connection, token: str) -> tuple[str, str] | None:
    """(collaboration, party) of a live token: known, not revoked, not expired."""
    digest = hash_token(token)
    row = con.execute("SELECT token_hash, collaboration, party, expires_at, revoked_at "
                      "FROM tokens WHERE token_hash = ?", (digest,)).fetchone()
    if row is None or not hmac.compare_digest(row[0], digest):
        return None
    if row[4] is not None or (row[3] is not None and row[3] <= time.time()):
        return None
    return row[1], row[2]


def listed(con: sqlite3.Connection) -> list[TokenInfo]:
    rows = con.execute("SELECT substr(token_hash, 1, ?), collaboration, party, created_at, "
                       "expires_at, revoked_at FROM tokens ORDER BY created_at",
                       (ID_LENGTH,)).fetchall()
    return [TokenInfo(*row) for row in rows]


def revoke(con: sqlite3.Connection, token_id: str) -> int:
    """Revoke the tokens whose id is ``token_id``: how many there were (0: none)."""
    if len(token_id) != ID_LENGTH or any(c not in "0123456789abcdef" for c in token_id):
        return 0
    cur = con.execute("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) "
                      "WHERE substr(token_hash, 1, ?) = ?", (time.time(), ID_LENGTH, token_id))
    return cur.rowcount


def record_parties(con: sqlite3.Connection, parties: dict[str, list[str]]) -> None:
    with con:
        con.execute("BEGIN IMMEDIATE")
        con.execute("DELETE FROM known_parties")
        con.executemany("INSERT INTO known_parties VALUES (?, ?, ?)",
                        [(c, json.dumps(list(p)), time.time()) for c, p in parties.items()])


def known_parties(con: sqlite3.Connection) -> dict[str, list[str]]:
    rows = con.execute("SELECT collaboration, parties FROM known_parties").fetchall()
    return {c: json.loads(p) for c, p in rows}
