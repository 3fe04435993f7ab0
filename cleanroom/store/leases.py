"""Which dataset versions running requests read.

A request pins the versions it resolved; retention removes a version's file only when no
request holds it. One registry per data directory per process, shared by every ``Store`` on
that directory, since only the serving process reads dataset files. The registry's lock is
held while current versions are resolved and pinned, and while retention decides what to
delete, so a version can never be removed between being resolved and being pinned.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from cleanroom.store.files import Verifier

VersionKey = tuple[str, str, int]  # collaboration, dataset, version


class LeaseRegistry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._held: Counter[VersionKey] = Counter()
        self._deferred: set[VersionKey] = set()  # retention skipped them: held at the time
        self.verifier = Verifier()

    def pin(self, keys: list[VersionKey]) -> None:
        """Call with ``lock`` held, in the same critical section that resolved ``keys``."""
        self._held.update(keys)

    def unpin(self, keys: list[VersionKey]) -> None:
        with self.lock:
            self._held.subtract(keys)
            for key in keys:
                if self._held[key] <= 0:
                    del self._held[key]

    def held(self, key: VersionKey) -> bool:
        """Call with ``lock`` held. A held key retention skips is remembered as deferred."""
        return key in self._held

    def defer(self, key: VersionKey) -> None:
        self._deferred.add(key)

    def settle(self, key: VersionKey) -> None:
        self._deferred.discard(key)

    def deferred(self, key: VersionKey) -> bool:
        """Whether ``key`` waits for removal and no request holds it any more."""
        with self.lock:
            return key in self._deferred and key not in self._held

    def count(self) -> int:
        with self.lock:
            return sum(self._held.values())


_REGISTRIES: dict[Path, LeaseRegistry] = {}
_GUARD = threading.Lock()


def registry_for(root: Path) -> LeaseRegistry:
    key = root.resolve()
    with _GUARD:
        return _REGISTRIES.setdefault(key, LeaseRegistry())
