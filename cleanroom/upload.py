"""Validate an uploaded CSV or Parquet file against the policy and write it as Parquet.

Validation runs in a private DuckDB connection (never the analysts' sandbox), in one pass over
the data: a single COPY reads the upload, checks every value as it casts it (a bad one stops the
COPY) and writes the typed Parquet file. The columns are checked from the header or the footer,
and a CSV's longest line is measured while the body is received. Only a refused upload is read
a second time, to say which columns and which row numbers are wrong, never the values in them.
"""

from __future__ import annotations

import csv
import difflib
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleanroom.errors import InvalidUpload, Violation
from cleanroom.policy import Dataset, Kind
from cleanroom.settings import UploadLimits
from cleanroom.store.datasets import storage_refusal

CSV_TYPES = {"text/csv", "application/csv"}
PARQUET_TYPES = {"application/vnd.apache.parquet", "application/parquet",
                 "application/x-parquet"}
USER_KEY_PATTERN = "^[0-9a-f]{64}$"
FINGERPRINT_HEADER = "X-Cleanroom-Salt-Fingerprint"
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
MAX_ROWS_NAMED = 5
_DIAGNOSE_ROWS = 1 << 17  # rows per batch of the second pass over a refused upload
_NEWLINE = 10
DEFAULT_LIMITS = UploadLimits()


@dataclass(frozen=True)
class ValidUpload:
    path: Path  # the typed Parquet file, ready to publish
    rows: int


def upload_format(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        return "csv"
    if kind in PARQUET_TYPES:
        return "parquet"
    raise InvalidUpload([Violation("content_type", "send text/csv or application/vnd.apache.parquet")],
                        http_status=422 if kind else 400)


def salt_fingerprint(header: str | None) -> str | None:
    """The ``X-Cleanroom-Salt-Fingerprint`` an upload carries (16 hex), or None without one.

    >>> salt_fingerprint(" 0123456789ABCDEF "), salt_fingerprint(None)
    ('0123456789abcdef', None)
    """
    if header is None:
        return None
    fingerprint = header.strip().lower()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise InvalidUpload([Violation("bad_fingerprint", f"{FINGERPRINT_HEADER} must be the 16 "
                                       "hex characters that cleanroom hash prints")])
    return fingerprint


def validate_upload(raw: Path, fmt: str, dataset: Dataset, out: Path, *,
                    limits: UploadLimits = DEFAULT_LIMITS,
                    longest_line: int | None = None) -> ValidUpload:
    """Check ``raw`` against ``dataset`` and write the typed rows to ``out`` (Parquet), in a
    DuckDB of its own under ``limits`` (memory, threads, time; rows and expansion).
    ``longest_line``: a CSV's, when a ``LineMeter`` measured it on the way in."""
    _check_size(raw, fmt, limits, longest_line)
    spill = out.with_suffix(".spill")  # named after ``out``: the staging sweep knows its owner
    con = duckdb.connect(":memory:", config={
        "memory_limit": limits.memory_limit, "threads": limits.threads,
        "temp_directory": str(spill), "autoload_known_extensions": False,
        "autoinstall_known_extensions": False, "python_enable_replacements": False})
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        con.interrupt()
    timer = threading.Timer(limits.timeout_s, expire)
    timer.start()
    try:
        return _validate(con, raw, fmt, dataset, out, limits, expired)
    except (duckdb.InterruptException, TimeoutError):
        raise _refuse("too_slow", f"checking the upload took over {limits.timeout_s:g} s") from None
    except duckdb.OutOfMemoryException:
        raise _refuse("too_large", "checking the upload ran out of its memory limit") from None
    except (duckdb.IOException, OSError) as exc:
        out.unlink(missing_ok=True)  # free the space before anything (the audit) writes again
        raise storage_refusal(exc) from None
    finally:
        timer.cancel()
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _validate(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str, dataset: Dataset, out: Path,
              limits: UploadLimits, expired: threading.Event) -> ValidUpload:
    source = _source(con, raw, fmt)
    _check_columns(_columns(con, source, raw, fmt), dataset)
    try:
        rows = _copy_checked(con, source, dataset, out, limits.max_rows)
    except (duckdb.InterruptException, duckdb.OutOfMemoryException, duckdb.IOException):
        raise
    except duckdb.Error:
        if expired.is_set():  # an interrupt that landed between two statements
            raise TimeoutError from None
        out.unlink(missing_ok=True)
        raise InvalidUpload(_diagnose(con, source, dataset, fmt)) from None
    if expired.is_set():
        raise TimeoutError
    if rows > limits.max_rows:
        raise _refuse("too_many_rows", f"the upload has over {limits.max_rows} rows")
    if fmt == "csv" and rows == 0 and _has_data_rows(raw):
        raise _unreadable(fmt)  # rows the CSV reader skipped: never publish them as none
    return ValidUpload(out, rows)


def _copy_checked(con: duckdb.DuckDBPyConnection, source: str, dataset: Dataset, out: Path,
                  max_rows: int) -> int:
    """The one pass: read, check, cast and write. A bad value raises (DuckDB's message, which
    may quote it, is dropped by the caller); LIMIT stops reading one row past the cap."""
    select = ", ".join(_checked(name, dataset) for name in dataset.columns)
    (rows,) = con.execute(  # type: ignore[misc]
        f"COPY (SELECT {select} FROM {source} LIMIT {max_rows + 1}) TO '{_sql_path(out)}' "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)").fetchone()
    return int(rows)


def _checked(name: str, dataset: Dataset) -> str:
    column, ident = dataset.columns[name], f'"{name}"'
    if column.kind is Kind.USER_KEY:
        return (f"CASE WHEN NOT ({_bad(name, dataset)}) THEN CAST({ident} AS VARCHAR) "
                f"ELSE error('bad user_key') END AS {ident}")
    return f"CAST({ident} AS {column.sql_type}) AS {ident}"


def _bad(name: str, dataset: Dataset) -> str:
    """SQL true for a value of column ``name`` that the policy refuses."""
    column, ident = dataset.columns[name], f'"{name}"'
    if column.kind is Kind.USER_KEY:
        return (f"{ident} IS NULL OR NOT coalesce(regexp_full_match(TRY_CAST({ident} AS VARCHAR), "
                f"'{USER_KEY_PATTERN}'), false)")
    return f"{ident} IS NOT NULL AND TRY_CAST({ident} AS {column.sql_type}) IS NULL"


def _diagnose(con: duckdb.DuckDBPyConnection, source: str, dataset: Dataset,
              fmt: str) -> list[Violation]:
    """A refused upload's second pass: the bad rows of each column, counted and numbered as
    they stream by (in file order), or ``unreadable`` when no value is at fault."""
    names = list(dataset.columns)
    flags = ", ".join(f"({_bad(name, dataset)}) AS f{i}" for i, name in enumerate(names))
    found = {name: _BadRows() for name in names}
    try:
        batches = con.sql(f"SELECT {flags} FROM {source}").to_arrow_reader(_DIAGNOSE_ROWS)
        offset = 0
        for batch in batches:
            for name, flag in zip(names, batch.columns, strict=True):
                found[name].add(flag, offset)
            offset += batch.num_rows
    except (duckdb.InterruptException, duckdb.OutOfMemoryException):
        raise
    except (duckdb.Error, pa.ArrowException):
        return [_unreadable(fmt).violations[0]]
    except OSError as exc:
        _reraise_streamed(exc)
        return [_unreadable(fmt).violations[0]]
    problems = [v for name in names if (v := found[name].violation(name, dataset)) is not None]
    return problems or [_unreadable(fmt).violations[0]]


def _reraise_streamed(exc: OSError) -> None:
    """pyarrow hands on an error DuckDB meets while a batch reader streams as a bare OSError
    carrying DuckDB's message (``Invalid Input Error: CSV Error on Line ...``, which quotes the
    line: never shown). Return for the body's own faults; raise what DuckDB would have raised for
    a timeout or the memory limit, and any real I/O fault as it came (507)."""
    message = str(exc)
    if exc.errno is None and message.startswith(("Invalid Input Error", "Conversion Error",
                                                 "Parser Error")):
        return
    if message.startswith("INTERRUPT Error"):
        raise duckdb.InterruptException("interrupted") from None
    if message.startswith("Out of Memory Error"):
        raise duckdb.OutOfMemoryException("out of memory") from None
    raise exc


class _BadRows:
    """How many rows of one column are bad, and the first few (1-based data row numbers)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[int] = []

    def add(self, flag: pa.Array, offset: int) -> None:
        bad = pc.sum(flag).as_py() or 0
        if bad:
            self.count += bad
            missing = MAX_ROWS_NAMED - len(self.first)
            if missing > 0:
                rows = pc.indices_nonzero(pc.fill_null(flag, False))[:missing].to_pylist()
                self.first += [offset + r + 1 for r in rows]

    def violation(self, name: str, dataset: Dataset) -> Violation | None:
        if not self.count:
            return None
        column = dataset.columns[name]
        if column.kind is Kind.USER_KEY:
            rule, what = "bad_user_key", "is not 64 lower-case hex (or is empty)"
        else:
            rule, what = "bad_value", f"does not parse as {column.sql_type}"
        listed = ", ".join(str(r) for r in self.first)
        more = f" and {self.count - len(self.first)} more" if self.count > len(self.first) else ""
        return Violation(rule, f"column {name}: {self.count} row(s) {what} (data rows {listed}"
                         f"{more})")


def _refuse(rule: str, message: str) -> InvalidUpload:
    return InvalidUpload([Violation(rule, message)], http_status=413)


def _check_size(raw: Path, fmt: str, limits: UploadLimits, longest_line: int | None) -> None:
    """Refuse, before reading any data, what would expand past the limits: a Parquet footer
    declaring too many rows or bytes, or a CSV line longer than ``max_csv_line_bytes`` (DuckDB
    would silently read such a file as no rows at all)."""
    if fmt == "parquet":
        rows, size = _parquet_footer(raw)
        if rows > limits.max_rows:
            raise _refuse("too_many_rows", f"the upload has over {limits.max_rows} rows")
        if size > limits.max_uncompressed_bytes:
            raise _refuse("too_large", "the upload expands to over "
                          f"{limits.max_uncompressed_bytes} bytes")
    elif (_longest_line(raw) if longest_line is None else longest_line) > limits.max_csv_line_bytes:
        raise _refuse("line_too_long", f"a line is over {limits.max_csv_line_bytes} bytes")


def _parquet_footer(raw: Path) -> tuple[int, int]:
    """Rows and uncompressed bytes, as the file's footer declares them."""
    try:
        meta = pq.ParquetFile(raw).metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return int(meta.num_rows), int(size)
    except (pa.ArrowException, OSError, ValueError):
        raise InvalidUpload([Violation("unreadable", "the body is not a readable Parquet "
                                       "file")]) from None


class LineMeter:
    r"""The longest run of bytes without a newline, fed chunk by chunk as the body arrives.

    >>> meter = LineMeter()
    >>> for chunk in (b"ab\ncd", b"ef", b"g\nh\n", b"ijklmnop"):
    ...     meter.feed(chunk)
    >>> meter.longest
    8
    """

    def __init__(self) -> None:
        self.longest = 0
        self._run = 0  # bytes since the last newline

    def feed(self, chunk: bytes) -> None:
        ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == _NEWLINE)
        if len(ends) == 0:
            self._run += len(chunk)
        else:  # lines inside the chunk end in it; only its first and last join others
            inner = int(np.diff(ends).max()) - 1 if len(ends) > 1 else 0
            self.longest = max(self.longest, self._run + int(ends[0]), inner)
            self._run = len(chunk) - int(ends[-1]) - 1
        self.longest = max(self.longest, self._run)


def _longest_line(raw: Path, *, block: int = 1 << 23) -> int:
    meter = LineMeter()
    with raw.open("rb") as handle:
        while chunk := handle.read(block):
            meter.feed(chunk)
    return meter.longest


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _csv_header(raw: Path) -> list[str]:
    # The line scan has already bounded every line's length.
    with raw.open("r", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader([handle.readline()]), [])


def _has_data_rows(raw: Path) -> bool:
    """Whether anything but blank space follows the header line."""
    with raw.open("rb") as handle:
        handle.readline()
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return True
    return False


def _csv_source(raw: Path) -> str:
    """read_csv with the header we read ourselves: every row must have exactly its columns."""
    names = _csv_header(raw)
    if not names or not all(names):
        raise InvalidUpload([Violation("empty_header", "the CSV needs a header row naming "
                                       "every column")])
    if len(set(names)) != len(names):
        raise InvalidUpload([Violation("duplicate_column", "a column name appears twice")])
    columns = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for n in names)
    return (f"read_csv('{_sql_path(raw)}', header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
            f"compression = 'none', "
            f"columns = {{{columns}}})")


def _unreadable(fmt: str) -> InvalidUpload:
    what = "CSV (header row, consistent columns, UTF-8)" if fmt == "csv" else "Parquet file"
    return InvalidUpload([Violation("unreadable", f"the body is not a readable {what}")])


def _source(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str) -> str:
    con.execute("SET TimeZone = 'UTC'")  # naive timestamps mean UTC
    try:
        return _csv_source(raw) if fmt == "csv" else f"read_parquet('{_sql_path(raw)}')"
    except UnicodeDecodeError:
        raise _unreadable(fmt) from None


def _columns(con: duckdb.DuckDBPyConnection, source: str, raw: Path, fmt: str) -> list[str]:
    """The upload's column names, from the header we read or the Parquet footer: no data."""
    if fmt == "csv":
        return _csv_header(raw)
    try:
        return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except (duckdb.InterruptException, duckdb.OutOfMemoryException):
        raise
    except duckdb.Error:
        raise _unreadable(fmt) from None


def _check_columns(got: list[str], dataset: Dataset) -> None:
    expected = list(dataset.columns)
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    wanted = f"the policy's columns: {', '.join(expected)}"
    problems = [Violation("missing_column", f"column {c} is missing", hint=wanted)
                for c in missing]
    problems += [Violation("unknown_column", _not_in_policy(c, got, expected), hint=wanted)
                 for c in extra]
    if len(set(got)) != len(got):
        problems.append(Violation("duplicate_column", "a column name appears twice"))
    if problems:
        raise InvalidUpload(problems)


_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _not_in_policy(name: str, got: list[str], expected: list[str]) -> str:
    """An upload's column by its name, with a "did you mean" from the policy's columns. When
    no header is a policy column the "header" may be a data row (a file without its header
    line): it is then named by its position, never echoed."""
    header = _HEADER_NAME.fullmatch(name) and any(c in expected for c in got)
    if not header:
        return (f"column {got.index(name) + 1} is not in the policy, and no header is a policy "
                "column: is the header row missing?")
    close = difflib.get_close_matches(name.lower(), expected, n=1, cutoff=0.6)
    return f"column {name} is not in the policy" + (f"; did you mean {close[0]}?" if close else "")
