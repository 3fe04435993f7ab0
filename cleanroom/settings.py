"""Service settings: limits that are operations' choice, not the policy's."""

from __future__ import annotations

import gc
import os
import re
from dataclasses import dataclass, field, replace

from cleanroom.engine import Limits

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(text: str) -> int:
    """DuckDB's memory-size spelling as bytes.

    >>> parse_bytes("2GB"), parse_bytes("512 MiB")
    (2000000000, 536870912)
    """
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if match is None or match.group(2).upper() not in _UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass(frozen=True)
class UploadLimits:
    """What checking one upload may use, and what an upload may expand to."""

    memory_limit: str = "1GB"
    threads: int = 1
    timeout_s: float = 300.0
    max_rows: int = 50_000_000
    # Parquet: the uncompressed size its footer declares, read before any data is.
    max_uncompressed_bytes: int = 8 * 1024**3
    max_csv_line_bytes: int = 1024**2


@dataclass(frozen=True)
class AdmissionLimits:
    """How many requests may work at once; the rest wait in a queue, or get 503."""

    # Two running queries per core (one waits on I/O or the GIL while the other computes);
    # more only queue inside DuckDB and starve cheap routes.
    max_queries: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    # Together the running queries may hold this much (each up to ``Limits.memory_limit``).
    max_query_memory: str = "8GB"
    max_queued: int = 64
    queue_timeout_s: float = 15.0
    max_uploads: int = 2
    max_json_bytes: int = 4 * 1024**2

    def query_slots(self, per_query_memory: str) -> int:
        by_memory = parse_bytes(self.max_query_memory) // max(1, parse_bytes(per_query_memory))
        return max(1, min(self.max_queries, by_memory))


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    max_upload_bytes: int = 2 * 1024**3
    upload: UploadLimits = field(default_factory=UploadLimits)
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    dp_seed: int | None = None  # tests only: a fixed seed for the noise source


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """A duration such as ``30d``, ``12h``, ``90m``, ``45s`` or ``2w``, in seconds.

    >>> parse_duration("30d"), parse_duration("12h"), parse_duration("1.5h")
    (2592000.0, 43200.0, 5400.0)
    """
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw])\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (write e.g. 30d, 12h, 90m)")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def configured(*, query_timeout_s: float | None = None, query_memory: str | None = None,
               max_upload: str | None = None, max_rows: int | None = None,
               base: Settings | None = None) -> Settings:
    """``base`` (the defaults) with the limits an operator set by flag or environment; a
    value that makes no sense is a ValueError naming it.

    >>> s = configured(query_timeout_s=5, query_memory="512MB", max_upload="10GB")
    >>> s.limits.timeout_s, s.limits.memory_limit, s.max_upload_bytes
    (5.0, '512MB', 10000000000)
    """
    settings = base or Settings()
    limits = settings.limits
    if query_timeout_s is not None:
        if not query_timeout_s > 0:
            raise ValueError("the query time limit must be a positive number of seconds")
        limits = replace(limits, timeout_s=float(query_timeout_s))
    if query_memory is not None:
        if parse_bytes(query_memory) <= 0:
            raise ValueError(f"not a size: {query_memory!r}")
        limits = replace(limits, memory_limit=query_memory.strip())
    if max_rows is not None:
        if max_rows <= 0:
            raise ValueError("the row limit must be positive")
        limits = replace(limits, max_rows=max_rows)
    upload = settings.max_upload_bytes if max_upload is None else parse_bytes(max_upload)
    if upload <= 0:
        raise ValueError(f"not a size: {max_upload!r}")
    return replace(settings, limits=limits, max_upload_bytes=upload)


# Objects allocated between gen-0 collections. Python's default (700) runs a young collection
# every few hundred nodes and a full one every 100 young ones: a gate check allocates tens of
# thousands of sqlglot nodes, so most of its CPU went to the collector re-walking the modules,
# the policy and sqlglot's tables. 50,000 keeps young garbage to a few MB.
GC_GEN0_THRESHOLD = 50_000


def tune_gc(*, gen0: int = GC_GEN0_THRESHOLD) -> tuple[int, int, int]:
    """What long-lived Python services do once start-up is done: collect, move every object
    that survived (imports, policies, the app) to the permanent generation that collections
    skip (``gc.freeze``), and raise the gen-0 threshold. Cycles made later are still
    collected. Returns the thresholds set. Called by ``cleanroom serve`` and ``demo`` once the
    app is built, and by bench/bench_gate.py so that it measures what the service runs.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 700), gen1, gen2)
    return gc.get_threshold()
