"""Each collaboration's policy versions (CONTRACT.md §4): the file in ``--policies DIR`` is the
first; a file whose content changed is taken at the next start-up as the next version.

A version is stored as the policy's canonical JSON (keys sorted), so that an edit to a comment
or to the order of keys is no new version.
"""

from __future__ import annotations

import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_versions (
    collaboration TEXT NOT NULL, version INTEGER NOT NULL, policy TEXT NOT NULL,
    author TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (collaboration, version));
"""
OPERATOR = "operator"  # who adopts a file at start-up


def adopt(con: sqlite3.Connection, collaboration: str, canonical: str) -> tuple[int, bool]:
    """The version ``canonical`` is for the collaboration, and whether it is new."""
    con.execute("BEGIN IMMEDIATE")  # two services starting at once number versions once
    try:
        last = con.execute("SELECT version, policy FROM policy_versions WHERE collaboration = ? "
                           "ORDER BY version DESC LIMIT 1", (collaboration,)).fetchone()
        if last is not None and last[1] == canonical:
            con.execute("COMMIT")
            return int(last[0]), False
        version = 1 if last is None else int(last[0]) + 1
        con.execute("INSERT INTO policy_versions VALUES (?, ?, ?, ?, ?)",
                    (collaboration, version, canonical, OPERATOR, time.time()))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return version, True
