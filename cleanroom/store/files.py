"""Dataset files on disk: a checksum written at publish, verified when a version is opened.

SHA-256 of the whole file, with its size. Verification is cached per process by the file's
identity (inode, size, mtime and ctime in nanoseconds): any write to the file, or a utime()
that puts the old mtime back, changes ctime, so a damaged file is hashed again on its next open.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class Checksum:
    sha256: str
    size: int


def checksum_file(path: Path) -> Checksum:
    """Hash ``path`` and fsync it in one read of the file (it is still in the page cache)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
            size += len(block)
        os.fsync(handle.fileno())
    return Checksum(digest.hexdigest(), size)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Damaged(Exception):
    """A stored file is missing, of the wrong size, or does not match its checksum."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_Identity = tuple[int, int, int, int, int]


class Verifier:
    """Checks files against their checksums, remembering files already found intact."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: dict[Path, tuple[_Identity, str]] = {}
        self._hashing: dict[Path, threading.Lock] = {}

    def verify(self, path: Path, expected: Checksum) -> None:
        if self._known(path, expected):
            return
        with self._lock:
            one_at_a_time = self._hashing.setdefault(path, threading.Lock())
        with one_at_a_time:  # many first readers of a new version: one hashes, the rest wait
            if self._known(path, expected):
                return
            ident = _identity(path, expected)
            try:
                got = checksum_file(path)
            except OSError:
                raise Damaged("unreadable") from None
            if got != expected:
                raise Damaged("checksum_mismatch")
            with self._lock:
                self._verified[path] = (ident, expected.sha256)

    def remember(self, path: Path, checksum: Checksum) -> None:
        """A file this process has just hashed and renamed into place."""
        with self._lock:
            self._verified[path] = (_identity(path, checksum), checksum.sha256)

    def forget(self, path: Path) -> None:
        with self._lock:
            self._verified.pop(path, None)
            self._hashing.pop(path, None)

    def _known(self, path: Path, expected: Checksum) -> bool:
        ident = _identity(path, expected)
        with self._lock:
            return self._verified.get(path) == (ident, expected.sha256)


def _identity(path: Path, expected: Checksum) -> _Identity:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise Damaged("missing") from None
    except OSError:
        raise Damaged("unreadable") from None
    if st.st_size != expected.size:
        raise Damaged("wrong_size")
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
