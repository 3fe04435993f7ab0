"""Open SQLite connections to the store's metadata file, kept for the next block.

Opening a connection is cheap, but closing the last one of a WAL database checkpoints it
(copies the log into the file and syncs it): a request that opened and closed three
connections paid two to three milliseconds for that alone. A connection is used by one block
at a time (so ``BEGIN IMMEDIATE`` inside one block never meets another's transaction); one
that a block left in a transaction or with an error is closed, never kept.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Connections a forked child inherited: never used there, never closed there either (closing
# one can drop the parent's POSIX locks on the file).
_INHERITED: list[sqlite3.Connection] = []


class Connections:
    KEEP = 4

    def __init__(self, path: Path, *, timeout: float = 30.0, setup: tuple[str, ...] = ()) -> None:
        self._path = path
        self._timeout = timeout
        self._setup = setup
        self._lock = threading.Lock()
        self._free: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = self._take()
        try:
            yield con
        except BaseException:
            con.close()
            raise
        self._give(con)

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are not its own
                _INHERITED.extend(self._free)
                self._free, self._pid = [], os.getpid()
            if self._free:
                return self._free.pop()
        # timeout= is SQLite's busy timeout: wait for a writer instead of failing. A kept
        # connection moves between threads, one block at a time.
        con = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None,
                              check_same_thread=False)
        for statement in self._setup:
            con.execute(statement)
        return con

    def _give(self, con: sqlite3.Connection) -> None:
        with self._lock:
            if not con.in_transaction and len(self._free) < self.KEEP:
                self._free.append(con)
                return
        con.close()
