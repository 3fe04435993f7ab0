"""An answer (CONTRACT.md §3) as CSV, an Arrow IPC stream or Parquet, and back.

The rows are what the JSON answer holds; what says how far each row can be trusted travels
beside them, so that a withheld or noised cell is never read as an exact number:

- **Arrow and Parquet** keep every key of the JSON answer but ``columns`` and ``rows``
  (``row_status``, ``withheld_cells``, ``confidence_intervals``, ``query_id``, ...) as JSON under
  the schema metadata key ``cleanroom``.
- **CSV** is the header row and the rows (a withheld cell is empty); the HTTP headers carry
  ``X-Cleanroom-Row-Status`` (run-length: ``exact*40,partial*1,exact*9``) and
  ``X-Cleanroom-Withheld-Cells`` (``row:column`` pairs, 0-based), with the query id, policy
  version, epsilon spent and suppressed rows. An answer whose statuses would not fit in a header
  is refused as CSV (406): ask for Arrow or JSON.

>>> body = {"columns": ["channel", "people"], "rows": [["search", 120], ["tv", None]],
...         "row_status": ["exact", "partial"], "withheld_cells": [[1, 1]], "query_id": "q1"}
>>> text, headers = encode_csv(body)
>>> text.decode().splitlines(), headers["X-Cleanroom-Row-Status"]
(['channel,people', 'search,120', 'tv,'], 'exact*1,partial*1')
>>> decode(encode_arrow(body), ARROW)["rows"] == body["rows"]
True
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

JSON = "application/json"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
MEDIA_TYPES = (JSON, CSV, ARROW, PARQUET)
META_KEY = b"cleanroom"
MAX_STATUS_HEADER = 8 * 1024  # httpx (h11) refuses response heads over 16 KiB
HEADER_PREFIX = "x-cleanroom-"


class StatusTooLong(ValueError):
    """The row statuses do not fit in a header: this answer cannot go out as CSV."""


def choose(accept: str | None) -> str:
    """The media type to answer with: the first of ours that ``Accept`` prefers, else JSON.

    >>> choose("text/csv"), choose("application/vnd.apache.arrow.stream;q=0.9, text/csv;q=0.5")
    ('text/csv', 'application/vnd.apache.arrow.stream')
    >>> choose(None), choose("*/*"), choose("text/html")
    ('application/json', 'application/json', 'application/json')
    """
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept or "").split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in MEDIA_TYPES and quality > 0:
            ranked.append((-quality, i, media.lower()))
    return min(ranked)[2] if ranked else JSON


def metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("columns", "rows")}


# -- encoding (the service) ----------------------------------------------------------------
def encode_csv(body: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(body["columns"])
    for row in body["rows"]:
        writer.writerow([_csv_cell(v) for v in row])
    headers = summary_headers(body)
    status = run_length(body.get("row_status") or [])
    cells = ",".join(f"{r}:{c}" for r, c in body.get("withheld_cells") or [])
    if len(status) + len(cells) > MAX_STATUS_HEADER:
        raise StatusTooLong()
    headers["X-Cleanroom-Row-Status"] = status
    headers["X-Cleanroom-Withheld-Cells"] = cells
    return out.getvalue().encode("utf-8"), headers


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def summary_headers(body: Mapping[str, Any]) -> dict[str, str]:
    """The answer's small facts, as headers of every format."""
    headers = {"X-Cleanroom-Query-Id": str(body.get("query_id", "")),
               "X-Cleanroom-Policy-Version": str(body.get("policy_version", "")),
               "X-Cleanroom-Epsilon-Spent": repr(float(body.get("epsilon_spent") or 0.0))}
    suppressed = body.get("suppressed_rows")
    headers["X-Cleanroom-Suppressed-Rows"] = "not released" if suppressed is None else str(suppressed)
    return headers


def run_length(statuses: list[str]) -> str:
    """>>> run_length(["exact", "exact", "partial", "exact"])
    'exact*2,partial*1,exact*1'
    """
    runs: list[list[Any]] = []
    for status in statuses:
        if runs and runs[-1][0] == status:
            runs[-1][1] += 1
        else:
            runs.append([status, 1])
    return ",".join(f"{s}*{n}" for s, n in runs)


def expand_runs(text: str) -> list[str]:
    """>>> expand_runs("exact*2,partial*1")
    ['exact', 'exact', 'partial']
    """
    out: list[str] = []
    for run in filter(None, text.split(",")):
        status, _, count = run.partition("*")
        out += [status.strip()] * int(count or 1)
    return out


def to_table(body: Mapping[str, Any]) -> pa.Table:
    """The answer as an Arrow table, its trust in the schema metadata."""
    columns, rows = list(body["columns"]), body["rows"]
    arrays = [_array([row[j] for row in rows]) for j in range(len(columns))]
    schema = pa.schema([pa.field(name, a.type) for name, a in zip(columns, arrays)],
                       metadata={META_KEY: json.dumps(metadata(body), default=str).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    # Mixed kinds in one column, or a whole number beyond 64 bits (a HUGEINT sum): keep them
    # as text rather than fail the answer with a 500.
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else json.dumps(v) if isinstance(v, list | dict)
                         else str(v) for v in values], type=pa.string())


def encode_arrow(body: Mapping[str, Any]) -> bytes:
    table = to_table(body)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def encode_parquet(body: Mapping[str, Any]) -> bytes:
    return parquet_bytes(to_table(body))


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


# -- decoding (the client) -----------------------------------------------------------------
def decode(content: bytes, media_type: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON answer's keys back from any of the formats."""
    if media_type == JSON:
        answer: dict[str, Any] = json.loads(content)
        return answer
    if media_type == CSV:
        return _decode_csv(content, headers or {})
    table = (pa.ipc.open_stream(content).read_all() if media_type == ARROW
             else pq.read_table(pa.BufferReader(content), use_threads=False))
    return from_table(table)


def from_table(table: pa.Table) -> dict[str, Any]:
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    columns = [c.to_pylist() for c in table.columns]
    rows = [list(r) for r in zip(*columns)] if columns else []
    return {**meta, "columns": list(table.column_names), "rows": rows}


def _decode_csv(content: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    lower = {k.lower(): v for k, v in headers.items()}
    # One thread: an answer is small, and pyarrow's thread pool, once started, can abort a
    # one-shot client at interpreter exit ("terminate called without an active exception",
    # 1 in about 30 `cleanroom query` runs piped to CSV).
    table = pacsv.read_csv(pa.BufferReader(content),
                           read_options=pacsv.ReadOptions(use_threads=False),
                           convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    body = from_table(table)
    body["row_status"] = expand_runs(lower.get("x-cleanroom-row-status", ""))
    body["withheld_cells"] = [[int(x) for x in pair.split(":")]
                              for pair in filter(None, lower.get("x-cleanroom-withheld-cells",
                                                                 "").split(","))]
    body["query_id"] = lower.get("x-cleanroom-query-id")
    version = lower.get("x-cleanroom-policy-version", "")
    body["policy_version"] = int(version) if version.isdigit() else None
    body["epsilon_spent"] = float(lower.get("x-cleanroom-epsilon-spent") or 0.0)
    suppressed = lower.get("x-cleanroom-suppressed-rows", "")
    body["suppressed_rows"] = int(suppressed) if suppressed.isdigit() else None
    return body
