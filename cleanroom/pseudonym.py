"""Local pseudonymization for data partners: normalize an identifier, then HMAC-SHA256 it.

Every partner of a collaboration holds the same secret salt. Each runs ``cleanroom hash`` on its
own machine, so raw identifiers never leave it; equal identifiers become equal 64-character
lower-case hex pseudonyms, which the clean room joins on.

Normalization, applied before hashing (details and reasons in docs/pseudonymization.md):

- ``email``: surrounding whitespace stripped, lower-cased; nothing provider-specific (dots and
  ``+tags`` are kept). Unusable unless some ``@`` has text on both sides.
- ``phone``: E.164, ``+`` and 6 to 15 digits. ``(0)`` is dropped, then everything but ASCII
  digits. A ``+`` before the first digit or a ``00`` prefix means international; anything else
  is a national number of ``default_region``: trunk prefix (US ``1``, GB ``0``) dropped, length
  checked against the region, calling code put in front. Not a validator.
- ``raw``: the value exactly as given, no trimming.

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
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

Kind = Literal["email", "phone", "raw"]
KINDS: tuple[str, ...] = get_args(Kind)
MIN_SALT_BYTES = 16
_BLOCK = 64  # SHA-256 block size, the HMAC key length
_SLICE = 65536  # values per slice when hashing a long array

# The characters str.strip() removes from ASCII text: the vectorized email path must match it.
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_EMAIL_SHAPE = r"(?s).@."  # some "@" with a character on each side
_TRUNK_IN_BRACKETS = "(0)"  # as in "+44 (0)20 7946 0958"
_NON_DIGITS = r"[^0-9]+"
_LEADING_PLUS = r"^[^0-9+]*\+"
# E.164 allows at most 15 digits; the shortest real numbers (Austria, Germany) have 6.
_E164_DIGITS = r"^[1-9][0-9]{5,14}$"
_NON_DIGITS_RE = re.compile(_NON_DIGITS)
_LEADING_PLUS_RE = re.compile(_LEADING_PLUS)
_E164_DIGITS_RE = re.compile(_E164_DIGITS)
_NULL_TEXT = pa.scalar(None, pa.string())

Write = Callable[[pa.RecordBatch], None]


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


# --- normalization -------------------------------------------------------------------------


def normalize(value: str, kind: Kind, *, default_region: str = "US") -> str | None:
    """Normalize one identifier by kind; None when it is unusable.

    This is the reference definition; ``normalize_array`` is its vectorized twin.

    >>> normalize("  Jane.Doe+news@Example.COM ", "email")
    'jane.doe+news@example.com'
    >>> normalize("1 (415) 555-0123", "phone")
    '+14155550123'
    >>> normalize("07911 123456", "phone", default_region="GB")
    '+447911123456'
    >>> normalize("0044 7911 123456", "phone"), normalize("n/a", "phone")
    ('+447911123456', None)
    """
    if kind == "email":
        return _normalize_email(value)
    if kind == "phone":
        return _normalize_phone(value, default_region)
    if kind == "raw":
        return value or None
    raise _unknown_kind(kind)


def _normalize_email(value: str) -> str | None:
    email = value.strip().lower()
    return email if "@" in email[1:-1] else None


def _normalize_phone(value: str, region: str) -> str | None:
    rules = phone_region(region)
    value = value.replace(_TRUNK_IN_BRACKETS, "")
    digits = _NON_DIGITS_RE.sub("", value)
    if _LEADING_PLUS_RE.match(value):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    else:
        national = digits.removeprefix(rules.trunk)
        if not rules.min_length <= len(national) <= rules.max_length:
            return None
        number = rules.country_code + national
    return "+" + number if _E164_DIGITS_RE.match(number) else None


@dataclass(frozen=True)
class PhoneRegion:
    """What phone normalization needs to know about the default region."""

    country_code: str  # calling code, e.g. "44"
    trunk: str  # national (trunk) prefix, e.g. "0"; "" when the region has none
    min_length: int  # shortest and longest national significant number
    max_length: int


@cache
def phone_region(region: str) -> PhoneRegion:
    """The default region's calling code, trunk prefix and national number lengths.

    Looked up once per region: parsing each value with phonenumbers would be far too slow.

    >>> phone_region("GB")
    PhoneRegion(country_code='44', trunk='0', min_length=7, max_length=10)
    >>> phone_region("IT").trunk
    ''
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None or not metadata.country_code:
        raise ValueError(f"unknown phone region {region!r}: use a two-letter code such as 'US'")
    desc = metadata.general_desc
    lengths = [n for n in (desc.possible_length if desc else ()) if n > 0] or [1, 15]
    return PhoneRegion(
        str(metadata.country_code), metadata.national_prefix or "", min(lengths), max(lengths)
    )


def normalize_array(values: pa.Array, kind: Kind, *, default_region: str = "US") -> pa.Array:
    """Vectorized ``normalize`` over an Arrow string array; nulls stay null.

    >>> values = pa.array(["020 7946 0958", None, "-"])
    >>> normalize_array(values, "phone", default_region="GB").to_pylist()
    ['+442079460958', None, None]
    """
    if kind == "email":
        return _email_array(values)
    if kind == "phone":
        return _phone_array(values, default_region)
    if kind == "raw":
        return _null_unless(values, pc.not_equal(values, ""))
    raise _unknown_kind(kind)


def _email_array(values: pa.Array) -> pa.Array:
    if not pc.all(pc.string_is_ascii(values), min_count=0).as_py():
        # Python's Unicode strip() and lower() are the reference; Arrow's differ at the edges.
        normalized = [None if v is None else _normalize_email(v) for v in values.to_pylist()]
        return pa.array(normalized, pa.string())
    lowered = pc.ascii_lower(pc.utf8_trim(values, characters=_ASCII_SPACE))
    return _null_unless(lowered, pc.match_substring_regex(lowered, _EMAIL_SHAPE))


def _phone_array(values: pa.Array, region: str) -> pa.Array:
    rules = phone_region(region)
    values = pc.replace_substring(values, _TRUNK_IN_BRACKETS, "")
    digits = pc.replace_substring_regex(values, _NON_DIGITS, "")
    cases = pc.make_struct(
        pc.match_substring_regex(values, _LEADING_PLUS), pc.starts_with(digits, "00")
    )
    number = pc.case_when(
        cases, digits, pc.utf8_slice_codeunits(digits, 2), _national_number(digits, rules)
    )
    usable = pc.match_substring_regex(number, _E164_DIGITS)
    return _null_unless(pc.binary_join_element_wise("+", number, ""), usable)


def _national_number(digits: pa.Array, rules: PhoneRegion) -> pa.Array:
    """Calling code + national number, or null when its length does not fit the region."""
    national = digits
    if rules.trunk:
        without_trunk = pc.utf8_slice_codeunits(digits, len(rules.trunk))
        national = pc.if_else(pc.starts_with(digits, rules.trunk), without_trunk, digits)
    length = pc.utf8_length(national)
    fits = pc.and_(
        pc.greater_equal(length, rules.min_length), pc.less_equal(length, rules.max_length)
    )
    return _null_unless(pc.binary_join_element_wise(rules.country_code, national, ""), fits)


def _null_unless(values: pa.Array, usable: pa.Array) -> pa.Array:
    return pc.if_else(usable, values, _NULL_TEXT)


def _unknown_kind(kind: object) -> ValueError:
    return ValueError(f"unknown identifier kind {kind!r}: expected one of {', '.join(KINDS)}")


# --- hashing -------------------------------------------------------------------------------


class Hasher:
    """HMAC-SHA256 keyed with the salt, with the key's inner and outer pads hashed once.

    Each value then costs two ``copy()`` calls instead of re-deriving the key state, which is
    what makes one core reach about a million identifiers a second. The salt itself is not kept.

    >>> import hmac
    >>> Hasher(b"k" * 16).hash("a@b.c") == hmac.new(b"k" * 16, b"a@b.c", "sha256").hexdigest()
    True
    """

    def __init__(self, salt: bytes) -> None:
        if not isinstance(salt, bytes):
            raise TypeError("the salt must be bytes")
        if len(salt) < MIN_SALT_BYTES:
            raise ValueError(f"the salt must be at least {MIN_SALT_BYTES} bytes")
        key = hashlib.sha256(salt).digest() if len(salt) > _BLOCK else salt
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hash(self, normalized: str) -> str:
        """The pseudonym of an already normalized value: 64 lower-case hex characters."""
        return self.hexdigests([normalized.encode()])[0]

    def hexdigests(self, values: list[bytes]) -> list[str]:
        """Pseudonyms of many encoded values; the hot loop, kept free of attribute lookups."""
        new_inner, new_outer = self._inner.copy, self._outer.copy
        out: list[str] = []
        append = out.append
        for value in values:
            inner = new_inner()
            inner.update(value)
            outer = new_outer()
            outer.update(inner.digest())
            append(outer.hexdigest())
        return out

    def hash_array(self, normalized: pa.Array) -> pa.Array:
        """Pseudonyms of an Arrow string array of normalized values; nulls stay null.

        Each distinct value of a slice is hashed once: identifiers repeat in event files.
        """
        return pa.concat_arrays([self._hash_slice(part) for part in _slices(normalized)])

    def _hash_slice(self, normalized: pa.Array) -> pa.Array:
        encoded = pc.dictionary_encode(normalized)
        distinct = encoded.dictionary.cast(pa.binary()).to_pylist()
        digests = pa.array(self.hexdigests(distinct), pa.string())
        return pc.take(digests, encoded.indices)

    def hash_many(
        self, values: Iterable[str | None], kind: Kind, *, default_region: str = "US"
    ) -> list[str | None]:
        """Normalize then hash each value; null and unusable values give None."""
        result: list[str | None] = []
        for part in _slices(pa.array(list(values), pa.string())):
            normalized = normalize_array(part, kind, default_region=default_region)
            result += self.hash_array(normalized).to_pylist()
        return result


def _slices(values: pa.Array, size: int = _SLICE) -> Iterator[pa.Array]:
    """Zero-copy slices of ``size`` values, at least one (possibly empty).

    Arrow's kernels and the dictionary encoding are much faster on arrays that stay in cache.
    """
    for start in range(0, max(len(values), 1), size):
        yield values.slice(start, size)


# --- files ---------------------------------------------------------------------------------


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
    when the whole file has been written.
    """
    src, dst = Path(src), Path(dst)
    out_format = _file_format(dst)
    hasher = Hasher(salt)
    _check_kind(kind, default_region)  # before anything is written
    rows = 0
    with _withhold_arrow_detail(src), _open_batches(src, batch_rows) as (schema, batches):
        index = _column_index(schema, column)
        out_schema = _output_schema(schema, index)
        with _staged_output(dst) as tmp, _open_writer(tmp, out_format, out_schema) as write:
            for batch in batches:
                arrays = batch.columns
                text = _as_text(arrays[index], column)
                normalized = normalize_array(text, kind, default_region=default_region)
                arrays[index] = hasher.hash_array(normalized)
                write(pa.RecordBatch.from_arrays(arrays, schema=out_schema))
                rows += batch.num_rows
    return rows


def _check_kind(kind: str, region: str) -> None:
    if kind not in KINDS:
        raise _unknown_kind(kind)
    if kind == "phone":
        phone_region(region)


@contextmanager
def _withhold_arrow_detail(src: Path) -> Iterator[None]:
    """Arrow's errors can quote a row of the input; ours must not echo data."""
    try:
        yield
    except pa.ArrowInvalid:
        raise ValueError(
            f"{src.name} could not be pseudonymized: malformed or not UTF-8, or a column the "
            "output format cannot hold (Arrow's detail is withheld: it may quote the data)"
        ) from None


def _file_format(path: Path) -> Literal["csv", "parquet"]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".parquet":
        return "parquet"
    raise ValueError(f"{path.name}: the file name must end in .csv or .parquet")


@contextmanager
def _open_batches(
    src: Path, batch_rows: int
) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    if _file_format(src) == "parquet":
        with pq.ParquetFile(src) as parquet:
            yield parquet.schema_arrow, parquet.iter_batches(batch_size=batch_rows)
        return
    # Every CSV column is read as text, so values such as "007" are copied exactly.
    text_types = {name: pa.string() for name in _csv_column_names(src)}
    with pv.open_csv(
        src,
        parse_options=pv.ParseOptions(newlines_in_values=True),
        convert_options=pv.ConvertOptions(column_types=text_types),
    ) as reader:
        yield reader.schema, _rebatch(reader, batch_rows)


def _csv_column_names(src: Path) -> list[str]:
    with pv.open_csv(src, parse_options=pv.ParseOptions(newlines_in_values=True)) as reader:
        names: list[str] = reader.schema.names
    return names


def _rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)


def _column_index(schema: pa.Schema, column: str) -> int:
    indices = schema.get_all_field_indices(column)
    if len(indices) != 1:
        problem = "is not in" if not indices else "appears more than once in"
        raise ValueError(f"column {column!r} {problem} the input (columns: {schema.names})")
    index: int = indices[0]
    return index


def _output_schema(schema: pa.Schema, index: int) -> pa.Schema:
    # pandas metadata would describe the hashed column's old type.
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != b"pandas"}
    field = pa.field(schema.field(index).name, pa.string())
    return schema.set(index, field).with_metadata(metadata)


def _as_text(values: pa.Array, column: str) -> pa.Array:
    if values.type == pa.string():
        return values
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        # Arrow's message may quote a value: keep it out of ours.
        raise ValueError(f"column {column!r} cannot be read as text") from exc


@contextmanager
def _staged_output(dst: Path) -> Iterator[Path]:
    """A temporary file beside ``dst``, renamed onto it only if the block succeeds."""
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _open_writer(path: Path, out_format: str, schema: pa.Schema) -> Iterator[Write]:
    if out_format == "parquet":
        with pq.ParquetWriter(path, schema) as parquet:
            yield parquet.write_batch
    else:
        with pv.CSVWriter(path, schema) as csv:
            yield csv.write_batch
