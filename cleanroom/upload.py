"""Validate an uploaded CSV or Parquet file against the policy and write it as Parquet.

Validation runs in a private DuckDB connection (never the analysts' sandbox). Refusals say
which columns and which row numbers are wrong, never the values in them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cleanroom.errors import InvalidUpload, Violation
from cleanroom.policy import Dataset, Kind

CSV_TYPES = {"text/csv", "application/csv"}
PARQUET_TYPES = {"application/vnd.apache.parquet", "application/parquet",
                 "application/x-parquet"}
USER_KEY_PATTERN = "^[0-9a-f]{64}$"
MAX_ROWS_NAMED = 5


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


def validate_upload(raw: Path, fmt: str, dataset: Dataset, out: Path) -> ValidUpload:
    """Check ``raw`` against ``dataset`` and write the typed rows to ``out`` (Parquet)."""
    con = duckdb.connect(":memory:")
    try:
        _load(con, raw, fmt)
        _check_columns(con, dataset)
        problems = [p for name in dataset.columns for p in _check_values(con, name, dataset)]
        if problems:
            raise InvalidUpload(problems)
        select = ", ".join(_typed(name, dataset) for name in dataset.columns)
        con.execute(f"COPY (SELECT {select} FROM src) TO '{_sql_path(out)}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
        (rows,) = con.execute("SELECT count(*) FROM src").fetchone()  # type: ignore[misc]
        return ValidUpload(out, int(rows))
    finally:
        con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _csv_header(raw: Path) -> list[str]:
    with raw.open("r", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader([handle.readline()]), [])


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
            f"columns = {{{columns}}})")


def _load(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str) -> None:
    try:
        source = _csv_source(raw) if fmt == "csv" else f"read_parquet('{_sql_path(raw)}')"
        con.execute(f"CREATE TEMP VIEW src AS SELECT *, row_number() OVER () AS __row FROM {source}")
        con.execute("SELECT count(*) FROM src").fetchone()
    except (duckdb.Error, UnicodeDecodeError, OSError):
        # DuckDB's message may quote a line of the file: never pass it on.
        what = "CSV (header row, consistent columns, UTF-8)" if fmt == "csv" else "Parquet file"
        raise InvalidUpload([Violation("unreadable", f"the body is not a readable {what}")]) from None
    con.execute("SET TimeZone = 'UTC'")


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
