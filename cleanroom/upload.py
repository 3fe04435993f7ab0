"""Validate an uploaded CSV or Parquet file against the policy and write it as Parquet.

Validation runs in a private DuckDB connection (never the analysts' sandbox). Refusals say
which columns and which row numbers are wrong, never the values in them.
"""

from __future__ import annotations

import csv
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
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
                    limits: UploadLimits = DEFAULT_LIMITS) -> ValidUpload:
    """Check ``raw`` against ``dataset`` and write the typed rows to ``out`` (Parquet), in a
    DuckDB of its own under ``limits`` (memory, threads, time; rows and expansion)."""
    _check_size(raw, fmt, limits)
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
    def in_time() -> None:  # an interrupt between two statements is lost: look for it too
        if expired.is_set():
            raise TimeoutError
    rows = _load(con, raw, fmt)
    if rows > limits.max_rows:
        raise _refuse("too_many_rows", f"the upload has over {limits.max_rows} rows")
    in_time()
    _check_columns(con, dataset)
    problems = []
    for name in dataset.columns:
        in_time()
        problems += _check_values(con, name, dataset)
    if problems:
        raise InvalidUpload(problems)
    select = ", ".join(_typed(name, dataset) for name in dataset.columns)
    in_time()
    con.execute(f"COPY (SELECT {select} FROM src) TO '{_sql_path(out)}' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
    in_time()
    return ValidUpload(out, rows)


def _refuse(rule: str, message: str) -> InvalidUpload:
    return InvalidUpload([Violation(rule, message)], http_status=413)


def _check_size(raw: Path, fmt: str, limits: UploadLimits) -> None:
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
    elif _longest_line(raw) > limits.max_csv_line_bytes:
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


def _longest_line(raw: Path, *, block: int = 1 << 20) -> int:
    """The longest run of bytes without a newline, in one pass over the file."""
    longest = run = 0
    with raw.open("rb") as handle:
        while chunk := handle.read(block):
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
                longest = max(longest, run)
                continue
            # Lines inside the chunk are shorter than the chunk; only the ends join others.
            longest = max(longest, run + first, _inner_longest(chunk, first))
            run = len(chunk) - chunk.rfind(b"\n") - 1
    return max(longest, run)


def _inner_longest(chunk: bytes, first: int) -> int:
    last = chunk.rfind(b"\n")
    if last == first:
        return 0
    return max(len(line) for line in chunk[first + 1:last].split(b"\n"))


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


def _load(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str) -> int:
    """Bind the upload as ``src`` and count its rows."""
    try:
        source = _csv_source(raw) if fmt == "csv" else f"read_parquet('{_sql_path(raw)}')"
        con.execute(f"CREATE TEMP VIEW src AS SELECT *, row_number() OVER () AS __row FROM {source}")
        (rows,) = con.execute("SELECT count(*) FROM src").fetchone()  # type: ignore[misc]
        if fmt == "csv" and rows == 0 and _has_data_rows(raw):
            raise OSError("rows the CSV reader skipped")  # never publish them as no rows
    except (duckdb.InterruptException, duckdb.OutOfMemoryException):
        raise
    except (duckdb.Error, UnicodeDecodeError, OSError):
        # DuckDB's message may quote a line of the file: never pass it on.
        what = "CSV (header row, consistent columns, UTF-8)" if fmt == "csv" else "Parquet file"
        raise InvalidUpload([Violation("unreadable", f"the body is not a readable {what}")]) from None
    con.execute("SET TimeZone = 'UTC'")
    return int(rows)


def _check_columns(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> None:
    got = [r[0] for r in con.execute("DESCRIBE src").fetchall() if r[0] != "__row"]
    expected = list(dataset.columns)
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    problems = [Violation("missing_column", f"column {c} is missing") for c in missing]
    problems += [Violation("unknown_column", f"column number {got.index(c) + 1} is not in the "
                           "policy") for c in extra]
    if len(set(got)) != len(got):
        problems.append(Violation("duplicate_column", "a column name appears twice"))
    if problems:
        raise InvalidUpload(problems)


def _check_values(con: duckdb.DuckDBPyConnection, name: str, dataset: Dataset) -> list[Violation]:
    column = dataset.columns[name]
    ident = f'"{name}"'
    if column.kind is Kind.USER_KEY:
        bad = (f"{ident} IS NULL OR NOT regexp_full_match(TRY_CAST({ident} AS VARCHAR), "
               f"'{USER_KEY_PATTERN}')")
        rule, what = "bad_user_key", "is not 64 lower-case hex (or is empty)"
    else:
        bad = f"{ident} IS NOT NULL AND TRY_CAST({ident} AS {column.sql_type}) IS NULL"
        rule, what = "bad_value", f"does not parse as {column.sql_type}"
    count, rows = con.execute(
        f"SELECT count(*), list(__row ORDER BY __row)[1:{MAX_ROWS_NAMED}] FROM src WHERE {bad}"
    ).fetchone()  # type: ignore[misc]
    if not count:
        return []
    listed = ", ".join(str(r) for r in rows)
    more = f" and {count - len(rows)} more" if count > len(rows) else ""
    return [Violation(rule, f"column {name}: {count} row(s) {what} (data rows {listed}{more})")]


def _typed(name: str, dataset: Dataset) -> str:
    return f'CAST("{name}" AS {dataset.columns[name].sql_type}) AS "{name}"'
