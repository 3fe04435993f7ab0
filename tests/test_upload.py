"""Uploads (CONTRACT.md §3): CSV and Parquet validated against the policy, refusals that name
rows and columns but never values, and atomic replacement."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.store import Store
from cleanroom.upload import validate_upload
from tests.canary import user_key
from tests.conftest import COLLAB, Harness
from tests.test_api_access import assert_error

HEADER = "user_key,ts,revenue,order_id\n"
COUNT = "SELECT COUNT(*) AS n, COUNT(DISTINCT user_key) AS people FROM conversions"


def conversions_csv(people: int, *, start: int = 0, revenue: float = 10.0) -> bytes:
    lines = [f"{user_key(i)},2026-09-0{1 + i % 9} 12:00:00,{revenue},ORD{i}"
             for i in range(start, start + people)]
    return (HEADER + "\n".join(lines) + "\n").encode()


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def count(h: Harness) -> list:
    response = h.query(COUNT)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_csv_upload_then_query(fresh: Harness) -> None:
    response = fresh.upload("conversions", conversions_csv(120), party="acme")
    assert response.status_code == 201
    assert response.json() == {"dataset": "conversions", "rows": 120, "version": 1}
    assert count(fresh) == [[120, 120]]


def test_timestamps_with_t_and_parquet_upload(fresh: Harness) -> None:
    table = pa.table({"user_key": [user_key(i) for i in range(60)],
                      "ts": pa.array(["2026-09-01T13:45:00"] * 60),
                      "revenue": [1.5] * 60, "order_id": [f"o{i}" for i in range(60)]})
    response = fresh.upload("conversions", parquet_bytes(table), party="acme",
                            content_type="application/vnd.apache.parquet")
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 60


def test_a_new_upload_replaces_the_old_one(fresh: Harness) -> None:
    fresh.upload("conversions", conversions_csv(100), party="acme")
    second = fresh.upload("conversions", conversions_csv(70, start=500), party="acme")
    assert second.json()["version"] == 2
    assert count(fresh) == [[70, 70]]


BAD_BODIES = [
    ("missing column", HEADER.replace(",order_id", "") + f"{user_key(1)},2026-09-01,1\n",
     "missing_column", "order_id"),
    ("extra column", HEADER.strip() + ",email\n" + f"{user_key(1)},2026-09-01,1,o,SECRET@x.com\n",
     "unknown_column", "column email is not in the policy"),
    ("bad user_key", HEADER + "SECRETKEY,2026-09-01,1,o\n" + f"{user_key(2)},2026-09-01,1,o\n",
     "bad_user_key", "data rows 1"),
    ("upper-case user_key", HEADER + f"{user_key(1).upper()},2026-09-01,1,o\n", "bad_user_key", "rows 1"),
    ("null user_key", HEADER + ",2026-09-01,1,o\n", "bad_user_key", "data rows 1"),
    ("bad timestamp", HEADER + f"{user_key(1)},2026-09-01,1,o\n{user_key(2)},SECRETDATE,1,o\n",
     "bad_value", "column ts: 1 row(s) does not parse as TIMESTAMP (data rows 2)"),
    ("bad number", HEADER + f"{user_key(1)},2026-09-01,SECRET12x,o\n", "bad_value", "column revenue"),
    ("duplicate header", "user_key,ts,ts,order_id\n" + f"{user_key(1)},2026-09-01,1,o\n",
     "duplicate_column", "twice"),
    ("ragged rows", HEADER + f"{user_key(1)},2026-09-01,1,o,SECRETEXTRA,more\n", "unreadable", "CSV"),
]


@pytest.mark.parametrize(("label", "body", "rule", "says"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_upload_is_refused_without_echoing_values(fresh: Harness, label: str, body: str,
                                                      rule: str, says: str) -> None:
    fresh.upload("conversions", conversions_csv(80), party="acme")
    response = fresh.upload("conversions", body.encode(), party="acme")
    error = assert_error(response, 422, "invalid_upload")
    violations = error["error"]["violations"]
    assert any(v["rule"] == rule and says in v["message"] for v in violations), violations
    assert "SECRET" not in response.text
    assert count(fresh) == [[80, 80]]  # the previous version is untouched


def test_wrong_content_type_and_empty_body(fresh: Harness) -> None:
    assert_error(fresh.upload("conversions", b"{}", party="acme", content_type="application/json"),
                 422, "invalid_upload")
    assert_error(fresh.upload("conversions", b"", party="acme"), 400, "invalid_upload")


def test_too_large_body_is_413(tmp_path: Path) -> None:
    from tests.conftest import make_client

    small = make_client(tmp_path / "d", max_upload_bytes=1000)
    assert_error(small.upload("conversions", conversions_csv(50), party="acme"), 413, "invalid_upload")


def test_a_body_for_a_dataset_the_party_does_not_provide_is_not_stored(fresh: Harness) -> None:
    response = fresh.upload("conversions", conversions_csv(50), party="streamco")
    assert_error(response, 403, "forbidden")
    assert list((fresh.data_dir / "tmp").iterdir()) == []


def test_not_parquet_is_refused(fresh: Harness) -> None:
    response = fresh.upload("conversions", b"PAR1 this is not parquet", party="acme",
                            content_type="application/vnd.apache.parquet")
    assert_error(response, 422, "invalid_upload")


def test_interrupted_publish_leaves_previous_version(fresh: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh.upload("conversions", conversions_csv(90), party="acme")
    import cleanroom.store.datasets as datasets

    def crash(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datasets.os, "replace", crash)
    response = fresh.upload("conversions", conversions_csv(55, start=900), party="acme")
    error = assert_error(response, 507, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["storage_full"]
    monkeypatch.undo()
    assert count(fresh) == [[90, 90]]
    assert list((fresh.data_dir / "tmp").iterdir()) == []


def test_queries_during_uploads_see_one_whole_version(fresh: Harness) -> None:
    fresh.upload("conversions", conversions_csv(100), party="acme")
    seen: list = []

    def reader() -> None:
        for _ in range(15):
            seen.append(count(fresh)[0][0])

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(5):
        fresh.upload("conversions", conversions_csv(100 if i % 2 else 200), party="acme")
    thread.join()
    assert set(seen) <= {100, 200}


def test_validate_upload_writes_typed_parquet(tmp_path: Path) -> None:
    from cleanroom.policy import load_policies
    from tests.conftest import POLICIES

    raw = tmp_path / "c.csv"
    raw.write_bytes(conversions_csv(3))
    spec = load_policies(POLICIES)["acme-streamco"].datasets["conversions"]
    valid = validate_upload(raw, "csv", spec, tmp_path / "out.parquet")
    schema = pq.read_schema(valid.path)
    assert valid.rows == 3
    assert str(schema.field("ts").type).startswith("timestamp")
    assert str(schema.field("revenue").type) == "double"


# --- salt fingerprints (CONTRACT.md §7) ------------------------------------------------------

FP_A, FP_B = "0123456789abcdef", "fedcba9876543210"


def upload_with(h: Harness, dataset: str, body: bytes, party: str, fingerprint: str) -> Any:
    return h.client.put(f"/v1/collaborations/{COLLAB}/datasets/{dataset}", content=body,
                        headers={**h.auth(party), "Content-Type": "text/csv",
                                 "X-Cleanroom-Salt-Fingerprint": fingerprint})


def impressions_csv(people: int) -> bytes:
    lines = [f"{user_key(i)},2026-09-01 10:00:00,search,c1,1.0,ip{i}" for i in range(people)]
    return ("user_key,ts,channel,campaign,cost,ip_hash\n" + "\n".join(lines) + "\n").encode()


def test_the_first_fingerprint_is_recorded_and_another_refused(fresh: Harness) -> None:
    first = upload_with(fresh, "conversions", conversions_csv(80), "acme", FP_A)
    assert first.status_code == 201, first.text
    # Another dataset of the same collaboration, by another party: same salt required.
    other = upload_with(fresh, "impressions", impressions_csv(60), "streamco", FP_B)
    error = assert_error(other, 422, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["salt_mismatch"]
    again = upload_with(fresh, "conversions", conversions_csv(90, start=300), "acme", FP_B)
    assert [v["rule"] for v in assert_error(again, 422, "invalid_upload")["error"]["violations"]] \
        == ["salt_mismatch"]
    assert count(fresh) == [[80, 80]]  # the current version is kept
    same = upload_with(fresh, "impressions", impressions_csv(60), "streamco", FP_A.upper())
    assert same.status_code == 201, same.text
    assert fresh.upload("conversions", conversions_csv(70), party="acme").status_code == 201


def test_a_refused_salt_is_audited_and_records_nothing(fresh: Harness) -> None:
    assert upload_with(fresh, "conversions", conversions_csv(80), "acme", FP_A).status_code == 201
    upload_with(fresh, "conversions", conversions_csv(80), "acme", FP_B)
    with fresh_store(fresh).connect() as con:
        recorded = con.execute("SELECT collaboration, fingerprint FROM salt_fingerprints").fetchall()
        versions = con.execute("SELECT version, salt_fingerprint FROM dataset_versions").fetchall()
    assert recorded == [(COLLAB, FP_A)] and versions == [(1, FP_A)]
    audit = fresh.client.get(f"/v1/collaborations/{COLLAB}/audit", headers=fresh.auth("reviewer"))
    decisions = [(e["action"], e["decision"]) for e in audit.json()["entries"]]
    assert decisions.count(("upload", "refused")) == 1, decisions


@pytest.mark.parametrize("header", ["", "0123", "0123456789abcdeg", "0123456789abcdef0"])
def test_a_malformed_fingerprint_is_refused(fresh: Harness, header: str) -> None:
    response = upload_with(fresh, "conversions", conversions_csv(60), "acme", header)
    error = assert_error(response, 422, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["bad_fingerprint"]


def test_the_fingerprint_of_cleanroom_hash_is_accepted(fresh: Harness, tmp_path: Path) -> None:
    from cleanroom.pseudonym import salt_fingerprint

    fingerprint = salt_fingerprint(b"a-shared-salt-of-enough-length")
    response = upload_with(fresh, "conversions", conversions_csv(60), "acme", fingerprint)
    assert response.status_code == 201, response.text


def fresh_store(h: Harness) -> Store:
    return Store(h.data_dir)


# --- one pass over the data ----------------------------------------------------------------


class RecordingConnection:
    """A DuckDB connection that remembers every statement it is given."""

    def __init__(self, con: Any, seen: list[str]) -> None:
        self._con, self._seen = con, seen

    def execute(self, sql: str, *args: Any) -> Any:
        self._seen.append(sql)
        return self._con.execute(sql, *args)

    def sql(self, sql: str, *args: Any) -> Any:
        self._seen.append(sql)
        return self._con.sql(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def record_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import duckdb

    from cleanroom import upload

    seen: list[str] = []
    real = duckdb.connect
    monkeypatch.setattr(upload.duckdb, "connect",
                        lambda *a, **k: RecordingConnection(real(*a, **k), seen))
    return seen


def reads_of_the_upload(seen: list[str]) -> list[str]:
    return [s for s in seen if "read_csv(" in s or "read_parquet(" in s]


def test_a_valid_csv_upload_is_read_once(fresh: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanroom import upload

    seen = record_statements(monkeypatch)

    def no_second_scan(*_: object, **__: object) -> int:
        raise AssertionError("the line length is measured while the body is received")

    monkeypatch.setattr(upload, "_longest_line", no_second_scan)
    response = fresh.upload("conversions", conversions_csv(150), party="acme")
    assert response.status_code == 201, response.text
    reads = reads_of_the_upload(seen)
    assert len(reads) == 1 and reads[0].startswith("COPY"), seen
    assert count(fresh) == [[150, 150]]


def test_a_valid_parquet_upload_is_read_once(fresh: Harness,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_statements(monkeypatch)
    table = pa.table({"user_key": [user_key(i) for i in range(60)],
                      "ts": pa.array(["2026-09-01 13:45:00"] * 60),
                      "revenue": [1.5] * 60, "order_id": [f"o{i}" for i in range(60)]})
    response = fresh.upload("conversions", parquet_bytes(table), party="acme",
                            content_type="application/vnd.apache.parquet")
    assert response.status_code == 201, response.text
    data_reads = [s for s in reads_of_the_upload(seen) if not s.startswith("DESCRIBE")]
    assert len(data_reads) == 1 and data_reads[0].startswith("COPY"), seen


def test_a_refused_upload_names_rows_across_batches(tmp_path: Path) -> None:
    from cleanroom.errors import InvalidUpload
    from cleanroom.policy import load_policies
    from cleanroom.upload import validate_upload
    from tests.conftest import POLICIES

    lines = [f"{user_key(i)},2026-09-01 12:00:00,{'x' if i in (3, 200_000) else 1},o"
             for i in range(200_010)]
    raw = tmp_path / "c.csv"
    raw.write_text(HEADER + "\n".join(lines) + "\n")
    spec = load_policies(POLICIES)["acme-streamco"].datasets["conversions"]
    with pytest.raises(InvalidUpload) as caught:
        validate_upload(raw, "csv", spec, tmp_path / "out.parquet")
    assert [v.message for v in caught.value.violations] == [
        "column revenue: 2 row(s) does not parse as DOUBLE (data rows 4, 200001)"]
    assert not (tmp_path / "out.parquet").exists()


def test_the_line_meter_matches_a_plain_scan() -> None:
    from cleanroom.upload import LineMeter

    body = b"a\nbbbb\n\ncc" + b"d" * 10 + b"\nlast"
    for size in (1, 2, 3, 7, 64):
        meter = LineMeter()
        for start in range(0, len(body), size):
            meter.feed(body[start:start + size])
        assert meter.longest == max(len(line) for line in body.split(b"\n")) == 12


def test_a_body_cut_off_inside_a_quoted_value_is_unreadable_not_a_storage_fault(fresh: Harness) -> None:
    """An upload cut short (a dropped connection, a partial export) ends inside a quoted value
    thousands of rows in: DuckDB reports it while the refusal's second pass streams, through
    pyarrow as a bare OSError. It is the body's fault (422 ``unreadable``), not the disk's (507)."""
    fresh.upload("conversions", conversions_csv(80), party="acme")
    body = conversions_csv(20_000) + f'"{user_key(1)}","2026-09-01 12:00:00","SECRET'.encode()
    response = fresh.upload("conversions", body, party="acme")
    error = assert_error(response, 422, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["unreadable"]
    assert "SECRET" not in response.text
    assert count(fresh) == [[80, 80]]
