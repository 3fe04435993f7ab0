"""Local pseudonymization for data partners: normalize an identifier, then HMAC-SHA256 it.

Every partner of a collaboration holds the same secret salt. Each runs ``cleanroom hash`` on its
own machine, so raw identifiers never leave it; equal identifiers become equal 64-character
lower-case hex pseudonyms, which the clean room joins on. Normalization by kind (``email``,
``phone``, ``raw``) is in cleanroom.normalize; docs/pseudonymization.md gives the reasons.

Null stays null; an unusable value (empty, no digits, no ``@``...) becomes null, never a hash,
so junk such as ``"n/a"`` cannot join across parties.

>>> h = Hasher(b"0123456789abcdef")
>>> h.hash_many(["  Jane@Example.com", "jane@example.com", "", None], "email") == (
...     [h.hash("jane@example.com")] * 2 + [None, None])
True
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom.hmac_pool import HEX_DIGEST, digest_buffers, key_states
from cleanroom.normalize import (
    KINDS,
    Kind,
    PhoneRegion,
    normalize,
    normalize_array,
    phone_region,
    unknown_kind,
)

MIN_SALT_BYTES = 16
SALT_BYTES = 32  # what ``cleanroom salt new`` writes
_SLICE = 65536  # values per slice when hashing a long array
# The fingerprint's own salt and cost: a slow, domain-separated hash, so that publishing the
# fingerprint helps no one guess a weak salt and never equals any pseudonym.
_FINGERPRINT_DOMAIN = b"cleanroom salt fingerprint v1"
_FINGERPRINT_ROUNDS = 100_000
FINGERPRINT_HEX = 16


def read_salt(path: str | os.PathLike[str]) -> bytes:
    """Read the shared salt: the file's bytes without surrounding whitespace.

    Refuses a salt shorter than 16 bytes. The message gives its length, never its content.
    """
    salt = Path(path).read_bytes().strip()
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(
            f"salt file {os.fspath(path)!r} holds {len(salt)} bytes after trimming whitespace; "
            f"at least {MIN_SALT_BYTES} are required"
        )
    return salt


def new_salt() -> bytes:
    """32 random bytes that ``read_salt`` gives back unchanged (no whitespace at either end).

    >>> salt = new_salt()
    >>> len(salt), salt.strip() == salt
    (32, True)
    """
    while True:  # about one draw in twenty starts or ends with whitespace: draw again
        salt = secrets.token_bytes(SALT_BYTES)
        if salt.strip() == salt:
            return salt


def write_new_salt(path: str | os.PathLike[str]) -> str:
    """Write a new salt to ``path`` (owner-only, never over an existing file); its fingerprint."""
    salt = new_salt()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(salt)
        out.flush()
        os.fsync(out.fileno())
    return salt_fingerprint(salt)


def salt_fingerprint(salt: bytes) -> str:
    """16 hex characters that tell salts apart without revealing them (CONTRACT.md §7).

    >>> fp = salt_fingerprint(b"0123456789abcdef")
    >>> len(fp), fp == salt_fingerprint(b"0123456789abcdef"), fp == salt_fingerprint(b"x" * 16)
    (16, True, False)
    """
    key = hashlib.pbkdf2_hmac("sha256", salt, _FINGERPRINT_DOMAIN, _FINGERPRINT_ROUNDS)
    return key.hex()[:FINGERPRINT_HEX]


class Hasher:
    """HMAC-SHA256 keyed with the salt, with the key's inner and outer pads hashed once.

    Each value then costs two ``copy()`` calls instead of re-deriving the key state, which is
    what makes one core reach about a million identifiers a second. The salt itself is not kept
    (``hash_file`` hands it to its worker processes).

    >>> import hmac
    >>> Hasher(b"k" * 16).hash("a@b.c") == hmac.new(b"k" * 16, b"a@b.c", "sha256").hexdigest()
    True
    """

    def __init__(self, salt: bytes) -> None:
        if not isinstance(salt, bytes):
            raise TypeError("the salt must be bytes")
        if len(salt) < MIN_SALT_BYTES:
            raise ValueError(f"the salt must be at least {MIN_SALT_BYTES} bytes")
        self._pads = key_states(salt)

    def hash(self, normalized: str) -> str:
        """The pseudonym of an already normalized value: 64 lower-case hex characters."""
        return self.hexdigests([normalized.encode()])[0]

    def hexdigests(self, values: list[bytes]) -> list[str]:
        """Pseudonyms of many encoded values."""
        digests = self.digest_array(pa.array(values, pa.binary()))
        result: list[str] = digests.to_pylist()
        return result

    def digest_array(self, values: pa.Array) -> pa.Array:
        """Pseudonyms of an Arrow string or binary array without nulls, in this thread."""
        offsets, data = value_buffers(values)
        return hex_array(digest_buffers(offsets, data, self._pads), len(values))

    def hash_array(self, normalized: pa.Array) -> pa.Array:
        """Pseudonyms of an Arrow string array of normalized values; nulls stay null.

        Each distinct value of a slice is hashed once: identifiers repeat in event files.
        """
        return pa.concat_arrays([self._hash_slice(part) for part in _slices(normalized)])

    def _hash_slice(self, normalized: pa.Array) -> pa.Array:
        encoded = pc.dictionary_encode(normalized)
        return pc.take(self.digest_array(encoded.dictionary), encoded.indices)

    def hash_many(
        self, values: Iterable[str | None], kind: Kind, *, default_region: str = "US"
    ) -> list[str | None]:
        """Normalize then hash each value; null and unusable values give None."""
        result: list[str | None] = []
        for part in _slices(pa.array(list(values), pa.string())):
            normalized = normalize_array(part, kind, default_region=default_region)
            result += self.hash_array(normalized).to_pylist()
        return result


def value_buffers(values: pa.Array) -> tuple[bytes, bytes]:
    """An array's int32 offsets and the bytes they cover, as ``digest_buffers`` takes them."""
    binary = values.cast(pa.binary())
    count, first = len(binary), binary.offset
    if count == 0:
        return np.zeros(1, np.int32).tobytes(), b""
    offsets = np.frombuffer(binary.buffers()[1], np.int32)[first:first + count + 1]
    data = binary.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    return offsets.tobytes(), b"" if data is None else data[start:end].to_pybytes()


def hex_array(hexes: bytes, count: int) -> pa.Array:
    """A string array over ``count`` concatenated 64-character digests, without copying them."""
    offsets = np.arange(0, HEX_DIGEST * (count + 1), HEX_DIGEST, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(hexes)])


def _slices(values: pa.Array, size: int = _SLICE) -> Iterator[pa.Array]:
    """Zero-copy slices of ``size`` values, at least one (possibly empty).

    Arrow's kernels and the dictionary encoding are much faster on arrays that stay in cache.
    """
    for start in range(0, max(len(values), 1), size):
        yield values.slice(start, size)


def hash_file(
    src: Path,
    dst: Path,
    *,
    column: str,
    kind: Kind,
    salt: bytes,
    default_region: str = "US",
    batch_rows: int = 65536,
) -> int:
    """Pseudonymize ``column`` of a CSV or Parquet file into ``dst``; return the rows written.

    Formats follow the extensions (.csv, .parquet), each side on its own. The file is streamed in
    batches; every other column is copied unchanged (CSV columns as text). ``dst`` appears only
    when the whole file has been written. ``pseudonymize_file`` (cleanroom.pseudonym_files) has
    the options: the output column's name, the share of unusable values to refuse, the workers.
    """
    from cleanroom.pseudonym_files import pseudonymize_file  # it builds on this module

    report = pseudonymize_file(src, dst, column=column, kind=kind, salt=salt,
                               default_region=default_region, batch_rows=batch_rows,
                               normalizer=normalize_array)
    return report.rows


__all__ = ["KINDS", "Hasher", "Kind", "PhoneRegion", "hash_file", "hex_array", "new_salt",
           "normalize", "normalize_array", "phone_region", "read_salt", "salt_fingerprint",
           "unknown_kind", "value_buffers", "write_new_salt"]
