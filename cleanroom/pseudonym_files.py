"""``cleanroom hash`` on a whole file: stream batches, normalize, hash on every core, write.

The main process reads (Arrow's CSV or Parquet reader, itself threaded), normalizes with Arrow
kernels and writes; worker processes (cleanroom.hmac_pool) compute the HMACs of each batch's
distinct values meanwhile. At most ``_DEPTH`` batches per worker are in flight, so memory stays
bounded whatever the file's size, and batches are written in the order they were read: the bytes
out are those of hashing in one thread.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from cleanroom.hmac_pool import DigestPool, cores
from cleanroom.normalize import KINDS, Kind, normalize_array, phone_region, unknown_kind
from cleanroom.pseudonym import Hasher, hex_array, value_buffers

Write = Callable[[pa.RecordBatch], None]
Normalizer = Callable[..., pa.Array]
Digests = Callable[[], pa.Array]  # a batch's digests, waited for when called
# Below this size a file is hashed in this process: starting workers would cost more.
POOL_MIN_BYTES = 8 * 1024**2
_DEPTH = 2  # batches in flight per worker: enough to keep every core busy


@dataclass(frozen=True)
class HashReport:
    """What became of a file's identifiers; counts only, never values."""

    rows: int
    blank: int  # null, empty or only whitespace: left null
    unusable: int  # given, but not an identifier of the kind: left null

    @property
    def given(self) -> int:
        return self.rows - self.blank

    @property
    def unusable_share(self) -> float:
        return self.unusable / self.given if self.given else 0.0


class UnusableValues(ValueError):
    """Too many values did not normalize; nothing was written."""

    def __init__(self, report: HashReport, column: str, kind: str, limit: float) -> None:
        super().__init__(
            f"{report.unusable} of {report.given} non-empty values of column {column!r} "
            f"({report.unusable_share:.1%}) are not usable as {kind}; over the limit of "
            f"{limit:.0%}, so nothing was written (is --kind right for this column?)")
        self.report = report


@dataclass
class _Counts:
    rows: int = 0
    blank: int = 0
    unusable: int = 0

    def add(self, text: pa.Array, normalized: pa.Array) -> None:
        self.rows += len(text)
        if not normalized.null_count:
            return
        # Only the values that came out null are looked at again: few in a good file.
        dropped = pc.filter(text, pc.is_null(normalized))
        blank = dropped.null_count + pc.sum(pc.equal(pc.utf8_trim_whitespace(dropped), ""),
                                            min_count=0).as_py()
        self.blank += blank
        self.unusable += len(dropped) - blank

    def report(self) -> HashReport:
        return HashReport(self.rows, self.blank, self.unusable)


def pseudonymize_file(
    src: Path,
    dst: Path,
    *,
    column: str,
    kind: Kind,
    salt: bytes,
    default_region: str = "US",
    batch_rows: int = 65536,
    output_column: str | None = None,
    max_unusable_share: float | None = None,
    workers: int | None = None,
    normalizer: Normalizer = normalize_array,
) -> HashReport:
    """Pseudonymize ``column`` of ``src`` into ``dst`` (see ``cleanroom.pseudonym.hash_file``).

    ``output_column`` renames the hashed column. With ``max_unusable_share``, a file in which a
    larger share of the non-empty values does not normalize raises ``UnusableValues`` and
    writes nothing. ``workers``: hashing processes; by default every core for a large file.
    """
    src, dst = Path(src), Path(dst)
    out_format = file_format(dst)
    hasher = Hasher(salt)
    _check_kind(kind, default_region)  # before anything is written
    counts = _Counts()

    def hash_column(text: pa.Array, digest: Callable[[pa.Array], Digests]) -> Digests:
        normalized = normalizer(text, kind, default_region=default_region)
        counts.add(text, normalized)
        encoded = pc.dictionary_encode(normalized)  # identifiers repeat in event files
        digests = digest(encoded.dictionary)
        return lambda: pc.take(digests(), encoded.indices)

    with _withhold_arrow_detail(src), _open_batches(src, batch_rows) as (schema, batches):
        index = _column_index(schema, column)
        out_schema = _output_schema(schema, index, output_column or column)
        with _digester(hasher, salt, _workers(src, workers)) as digest, \
                _staged_output(dst) as tmp, _open_writer(tmp, out_format, out_schema) as write:
            for batch in _in_order(batches, index, out_schema, column, hash_column, digest):
                write(batch)
            report = counts.report()
            if max_unusable_share is not None and report.unusable_share > max_unusable_share:
                raise UnusableValues(report, column, kind, max_unusable_share)
    return report


def _workers(src: Path, workers: int | None) -> int:
    if workers is not None:
        return max(0, workers)
    big = src.stat().st_size >= POOL_MIN_BYTES if src.exists() else False
    return cores() if big and cores() > 1 else 0


@contextmanager
def _digester(hasher: Hasher, salt: bytes,
              workers: int) -> Iterator[Callable[[pa.Array], Digests]]:
    """A function from distinct values to their pending digests, in this process or in a pool."""
    if workers == 0:
        def here(values: pa.Array) -> Digests:
            digests = hasher.digest_array(values)
            return lambda: digests
        yield here
        return
    with DigestPool(salt, workers=workers) as pool:
        def pooled(values: pa.Array) -> Digests:
            if len(values) == 0:
                return lambda: pa.array([], pa.string())
            future = pool.submit(*value_buffers(values))
            return lambda: hex_array(future.result(), len(values))
        yield pooled


def _in_order(batches: Iterable[pa.RecordBatch], index: int, schema: pa.Schema, column: str,
              hash_column: Callable[[pa.Array, Callable[[pa.Array], Digests]], Digests],
              digest: Callable[[pa.Array], Digests]) -> Iterator[pa.RecordBatch]:
    """The output batches in input order, with a bounded number waiting for their digests."""
    pending: deque[tuple[list[pa.Array], Digests]] = deque()
    depth = _DEPTH * max(1, cores())

    def finish() -> pa.RecordBatch:
        arrays, digests = pending.popleft()
        arrays[index] = digests()
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    for batch in batches:
        arrays = batch.columns
        pending.append((arrays, hash_column(_as_text(arrays[index], column), digest)))
        if len(pending) > depth:
            yield finish()
    while pending:
        yield finish()


def _check_kind(kind: str, region: str) -> None:
    if kind not in KINDS:
        raise unknown_kind(kind)
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


def file_format(path: Path) -> Literal["csv", "parquet"]:
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
    if file_format(src) == "parquet":
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


def _output_schema(schema: pa.Schema, index: int, name: str) -> pa.Schema:
    if name != schema.field(index).name and name in schema.names:
        raise ValueError(f"the output column {name!r} is already a column of the input")
    # pandas metadata would describe the hashed column's old type.
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != b"pandas"}
    field = pa.field(name, pa.string())
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
