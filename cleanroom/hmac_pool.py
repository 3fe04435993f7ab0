"""HMAC-SHA256 of many short values on every core: hashlib's precomputed pads in worker processes.

Why processes: hashlib holds the GIL for inputs this short, so threads would take turns; and
DuckDB's ``sha256(opad || unhex(sha256(ipad || v)))`` compresses four blocks per value where a
copy of the pads' precomputed state compresses two, so it costs about twice the CPU (measured in
bench/bench_hash.py). Values travel as one Arrow buffer pair (offsets, bytes) each way, never as
Python objects, and this module imports only the standard library: a worker starts in a few
hundredths of a second. The key reaches each worker once, at start, through its pipe.
"""

from __future__ import annotations

import hashlib
import os
import queue
import struct
import subprocess
import sys
from array import array
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import BinaryIO

HEX_DIGEST = 64  # characters of one lower-case hex SHA-256 digest
_BLOCK = 64  # SHA-256 block size, the HMAC key length

_HEADER = struct.Struct("<II")  # a frame's values and bytes


def digest_buffers(offsets: bytes, data: bytes, pads: tuple[object, object]) -> bytes:
    """The hex HMACs of the values ``data[offsets[i]:offsets[i + 1]]``, concatenated.

    ``offsets`` are native int32s, as in an Arrow binary array; they may start above zero, and
    ``data`` holds the bytes from the first offset on. Runs in a worker (pads set at its start)
    or, given ``pads``, anywhere.

    >>> import hmac
    >>> pads = key_states(b"k" * 16)
    >>> out = digest_buffers(array("i", [3, 4, 6]).tobytes(), b"abc", pads)
    >>> out.decode() == "".join(hmac.new(b"k" * 16, v, "sha256").hexdigest() for v in (b"a", b"bc"))
    True
    """
    inner0, outer0 = pads
    new_inner, new_outer = inner0.copy, outer0.copy  # type: ignore[attr-defined]
    ends = array("i")
    ends.frombytes(offsets)
    base = ends[0]
    view = memoryview(data)
    out: list[str] = []
    append = out.append
    start = 0
    for end in ends[1:]:  # the hot loop: no attribute lookups
        end -= base
        inner = new_inner()
        inner.update(view[start:end])
        outer = new_outer()
        outer.update(inner.digest())
        append(outer.hexdigest())
        start = end
    return "".join(out).encode("ascii")


def key_states(key: bytes) -> tuple[object, object]:
    """SHA-256 states after the inner and outer pads of an HMAC key (RFC 2104)."""
    key = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    key = key.ljust(_BLOCK, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)),
            hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def cores() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """A worker's loop: a key frame, then value frames until end of input, each answered.

    A frame is a little header (``_HEADER``: values, bytes) then the offsets and the bytes.
    """
    (size,) = struct.unpack("<I", _read(source, 4))
    pads = key_states(_read(source, size))
    while header := source.read(_HEADER.size):
        count, size = _HEADER.unpack(header)
        offsets = _read(source, 4 * (count + 1))
        sink.write(digest_buffers(offsets, _read(source, size), pads))
        sink.flush()


def _read(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise EOFError("a hashing worker's pipe closed mid-frame")
    return data


class DigestPool:
    """Worker processes that each hold the key's pad states.

    Each worker is this file run as a script by the same interpreter (``-I -S``: stdlib only, no
    site, no environment), not ``multiprocessing``: spawning would re-run the caller's main
    module, and forking a parent that runs Arrow's and DuckDB's threads can inherit a held lock.
    One thread per worker writes a frame and reads its answer (the pipes release the GIL).
    """

    def __init__(self, key: bytes, *, workers: int) -> None:
        self.workers = workers
        self._idle: queue.SimpleQueue[subprocess.Popen[bytes]] = queue.SimpleQueue()
        self._procs = [_start(key) for _ in range(workers)]
        for proc in self._procs:
            self._idle.put(proc)
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="hmac")

    def submit(self, offsets: bytes, data: bytes) -> Future[bytes]:
        return self._threads.submit(self._exchange, offsets, data)

    def _exchange(self, offsets: bytes, data: bytes) -> bytes:
        proc = self._idle.get()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            count = len(offsets) // 4 - 1
            proc.stdin.write(_HEADER.pack(count, len(data)) + offsets + data)
            proc.stdin.flush()
            answer = proc.stdout.read(HEX_DIGEST * count)
            if len(answer) != HEX_DIGEST * count:
                raise RuntimeError("a hashing worker stopped")
            return answer
        finally:
            self._idle.put(proc)

    def close(self, *, failed: bool = False) -> None:
        """Stop the workers; ``failed``: at once, dropping the work still queued."""
        self._threads.shutdown(wait=not failed, cancel_futures=True)
        for proc in self._procs:
            if failed:
                proc.kill()
            with suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
        for proc in self._procs:
            proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]

    def __enter__(self) -> DigestPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(failed=exc_type is not None)


def _start(key: bytes) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(struct.pack("<I", len(key)) + key)  # the key by pipe, never on argv
    proc.stdin.flush()
    return proc


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
