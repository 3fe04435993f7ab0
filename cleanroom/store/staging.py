"""The staging area: where uploads are received and checked before they are published.

Every staged name starts with its owner, ``<pid>-<random>.``, and the owner holds an exclusive
``flock`` on ``locks/<owner>.lock`` for as long as it lives. The kernel drops the lock when the
process dies, kill -9 included, so a sweep removes exactly what dead processes left and never
a file that a live process (a second ``serve``, ``token issue``) is using.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import threading
import time
from pathlib import Path

# A claim file this young may be being renamed to its lock right now.
CLAIM_GRACE_S = 60.0


class Staging:
    def __init__(self, tmp: Path, locks: Path) -> None:
        self.tmp, self.locks = tmp, locks
        self._owner: str | None = None
        self._fd: int | None = None
        self._pid = 0
        self._mutex = threading.Lock()

    def owner(self) -> str:
        """This process's owner name, claimed (and locked) on first use."""
        with self._mutex:
            if self._owner is None or self._pid != os.getpid():
                self._owner, self._fd = _claim(self.locks)
                self._pid = os.getpid()
            return self._owner

    def path(self, suffix: str) -> Path:
        return self.tmp / f"{self.owner()}.{secrets.token_hex(16)}{suffix}"


def _claim(locks: Path) -> tuple[str, int]:
    """Lock under a temporary name, then rename: a ``.lock`` file is locked from the moment it
    appears, so a sweep may take any unlocked one for a dead owner's."""
    owner = f"{os.getpid()}-{secrets.token_hex(6)}"
    claiming = locks / f"{owner}.claim"
    fd = os.open(claiming, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.replace(claiming, locks / f"{owner}.lock")
    return owner, fd


def sweep(tmp: Path, locks: Path) -> int:
    """Remove what dead processes left in ``tmp``; answers how many bytes were freed."""
    live = _live_owners(locks)
    freed = 0
    for entry in list(tmp.iterdir()):
        if entry.name.split(".", 1)[0] in live:
            continue
        freed += _size(entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return freed


def _live_owners(locks: Path) -> set[str]:
    live = set()
    for lock in list(locks.glob("*.lock")):
        if _locked(lock):
            live.add(lock.stem)
        else:
            lock.unlink(missing_ok=True)
    for claim in list(locks.glob("*.claim")):  # a claim interrupted before its rename
        if time.time() - _mtime(claim) > CLAIM_GRACE_S:
            claim.unlink(missing_ok=True)
    return live


def _locked(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # its owner is alive
    finally:
        os.close(fd)  # closing drops a lock we took
    return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(entry: Path) -> int:
    try:
        if entry.is_dir():
            return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
        return entry.stat().st_size
    except OSError:
        return 0
