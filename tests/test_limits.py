"""Limits on the way in (issue 9): hostile uploads, JSON bodies, numbers that are not
numbers, and admission control. Every refusal has the contract's error shape."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom import pipeline
from cleanroom.settings import AdmissionLimits, UploadLimits
from tests.canary import user_key
from tests.conftest import COLLAB, Harness, make_client
from tests.test_api_access import assert_error
from tests.test_upload import HEADER, conversions_csv, count, parquet_bytes

QUERIES = f"/v1/collaborations/{COLLAB}/queries"
PARQUET = "application/vnd.apache.parquet"


def test_a_csv_with_one_50mb_field_is_refused_not_read_as_no_rows(fresh: Harness) -> None:
    fresh.upload("conversions", conversions_csv(80), party="acme")
    body = (HEADER + f"{user_key(1)},2026-09-01,1,").encode() + b"x" * (50 * 1024**2) + b"\n"
    error = assert_error(fresh.upload("conversions", body, party="acme"), 413, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["line_too_long"]
    assert count(fresh) == [[80, 80]]


def test_rows_the_csv_reader_skips_are_never_published_as_none(tmp_path: Path) -> None:
    """Past our line bound, DuckDB reads a file whose only row is over its own line limit as
    zero rows, silently: that must be a refusal too."""
    h = make_client(tmp_path / "d", upload=UploadLimits(max_csv_line_bytes=64 * 1024**2))
    body = (HEADER + f"{user_key(1)},2026-09-01,1,").encode() + b"x" * (3 * 1024**2) + b"\n"
    error = assert_error(h.upload("conversions", body, party="acme"), 422, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["unreadable"]


def bomb(rows: int) -> bytes:
    """A small Parquet file of many identical rows (run-length encoded to almost nothing)."""
    table = pa.table({"user_key": pa.array([user_key(1)] * rows),
                      "ts": pa.array(["2026-09-01 00:00:00"] * rows),
                      "revenue": pa.array([1.0] * rows), "order_id": pa.array(["o"] * rows)})
    return parquet_bytes(table)


def zstd_bomb(rows: int) -> bytes:
    """Long repeated values, plainly encoded: zstd shrinks them, reading expands them."""
    table = pa.table({"user_key": pa.array([user_key(1)] * rows),
                      "ts": pa.array(["2026-09-01 00:00:00"] * rows),
                      "revenue": pa.array([1.0] * rows), "order_id": pa.array(["o" * 2000] * rows)})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", use_dictionary=False)
    return sink.getvalue()


@pytest.mark.parametrize(("limits", "body", "rule"), [
    (UploadLimits(max_rows=100_000), bomb(300_000), "too_many_rows"),
    (UploadLimits(max_uncompressed_bytes=50_000_000), zstd_bomb(30_000), "too_large"),
], ids=["rows", "bytes"])
def test_parquet_expansion_is_bounded_from_its_footer(tmp_path: Path, limits: UploadLimits,
                                                      body: bytes, rule: str) -> None:
    h = make_client(tmp_path / "d", upload=limits)
    assert len(body) < 1_000_000
    error = assert_error(h.upload("conversions", body, party="acme", content_type=PARQUET),
                         413, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == [rule]


def test_upload_checking_has_a_time_limit(tmp_path: Path) -> None:
    h = make_client(tmp_path / "d", upload=UploadLimits(timeout_s=0.001))
    error = assert_error(h.upload("conversions", conversions_csv(20_000), party="acme"),
                         413, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["too_slow"]
    assert list((tmp_path / "d" / "tmp").iterdir()) == []


def post(h: Harness, body: bytes, **headers: str) -> Any:
    return h.client.post(QUERIES, content=body, headers={
        **h.auth("acme"), "Content-Type": "application/json", **headers})


def test_json_bodies_over_the_cap_are_413_before_parsing(tmp_path: Path) -> None:
    h = make_client(tmp_path / "d", admission=AdmissionLimits(max_json_bytes=10_000))
    big = b'{"sql": "' + b"x" * 20_000 + b'"}'
    error = assert_error(post(h, big), 413, "invalid_request")
    assert [v["rule"] for v in error["error"]["violations"]] == ["too_large"]

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"sql": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}'
    response = h.client.post(QUERIES, content=chunks(),
                             headers={**h.auth("acme"), "Content-Type": "application/json"})
    assert_error(response, 413, "invalid_request")


@pytest.mark.parametrize("epsilon", [b"true", b'"0.5"', b"[0.5]"])
def test_epsilon_must_be_a_json_number(fresh: Harness, epsilon: bytes) -> None:
    fresh.upload("conversions", conversions_csv(80), party="acme")
    body = b'{"sql": "SELECT COUNT(*) AS n FROM conversions", "epsilon": ' + epsilon + b"}"
    assert_error(post(fresh, body), 422, "invalid_request")
    spent = fresh.client.get(f"/v1/collaborations/{COLLAB}/budget", headers=fresh.auth("acme"))
    assert spent.json()["epsilon_spent"] == 0.0


@pytest.mark.parametrize("body", [b'{"sql": ', b"\xff\xfe{", b"", b"[]"])
def test_malformed_bodies_answer_invalid_request(fresh: Harness, body: bytes) -> None:
    response = post(fresh, body)
    assert response.status_code in (400, 422), response.text
    assert_error(response, response.status_code, "invalid_request")


def test_405_names_the_allowed_methods(fresh: Harness) -> None:
    response = fresh.client.delete(QUERIES, headers=fresh.auth("acme"))
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def blocking_queries(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    started, release = threading.Event(), threading.Event()
    real = pipeline.run_sql

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(20)
        return real(*args, **kwargs)
    monkeypatch.setattr(pipeline, "run_sql", slow)
    return started, release


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_client(tmp_path / "d", admission=AdmissionLimits(max_queries=1, max_queued=0))
    h.upload("conversions", conversions_csv(80), party="acme")
    started, release = blocking_queries(monkeypatch)
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(h.query(COUNT_SQL)))
    worker.start()
    try:
        assert started.wait(10)
        busy = h.query(COUNT_SQL)
        assert_error(busy, 503, "overloaded")
        assert int(busy.headers["retry-after"]) >= 1
        began = time.monotonic()
        assert h.client.get("/healthz").status_code == 200  # never behind the queries
        assert time.monotonic() - began < 2
        assert h.client.get(f"/v1/collaborations/{COLLAB}/budget",
                            headers=h.auth("acme")).status_code == 200
    finally:
        release.set()
        worker.join()
    assert first[0].status_code == 200
    assert h.query(COUNT_SQL).status_code == 200  # the slot was given back


COUNT_SQL = "SELECT COUNT(*) AS n FROM conversions"


def test_queued_queries_wait_for_a_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_client(tmp_path / "d", admission=AdmissionLimits(max_queries=1, max_queued=4,
                                                              queue_timeout_s=20))
    h.upload("conversions", conversions_csv(80), party="acme")
    started, release = blocking_queries(monkeypatch)
    answers: list[int] = []
    workers = [threading.Thread(target=lambda: answers.append(h.query(COUNT_SQL).status_code))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    assert started.wait(10)
    time.sleep(0.3)
    assert answers == []  # one runs, two wait
    release.set()
    for worker in workers:
        worker.join()
    assert answers == [200, 200, 200]


def test_the_memory_bound_caps_the_slots() -> None:
    limits = AdmissionLimits(max_queries=8, max_query_memory="4GB")
    assert limits.query_slots("2GB") == 2
    assert limits.query_slots("256MB") == 8


def test_checks_need_no_slot_but_keep_the_body_cap(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_client(tmp_path / "d", admission=AdmissionLimits(max_queries=1, max_queued=0,
                                                              max_json_bytes=10_000))
    h.upload("conversions", conversions_csv(80), party="acme")
    started, release = blocking_queries(monkeypatch)
    worker = threading.Thread(target=lambda: h.query(COUNT_SQL))
    worker.start()
    try:
        assert started.wait(10)
        assert h.check(COUNT_SQL).status_code == 200
        response = h.client.post(f"{QUERIES}/check", json={"sql": "x" * 20_000},
                                 headers=h.auth("acme"))
        assert_error(response, 413, "invalid_request")
    finally:
        release.set()
        worker.join()


def test_upload_checking_runs_in_a_capped_duckdb(fresh: Harness,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from cleanroom import upload

    configs: list[dict[str, Any]] = []
    real = duckdb.connect

    def spy(database: str = ":memory:", *args: Any, config: dict[str, Any] | None = None,
            **kwargs: Any) -> Any:
        configs.append(dict(config or {}))
        return real(database, *args, config=config or {}, **kwargs)
    monkeypatch.setattr(upload.duckdb, "connect", spy)
    assert fresh.upload("conversions", conversions_csv(60), party="acme").status_code == 201
    (config,) = configs
    assert config["memory_limit"] == UploadLimits().memory_limit
    assert config["threads"] == UploadLimits().threads
    assert str(fresh.data_dir / "tmp") in config["temp_directory"]


def test_healthz_needs_no_worker_thread(fresh: Harness) -> None:
    import inspect

    (route,) = [r for r in fresh.client.app.routes if getattr(r, "path", "") == "/healthz"]
    assert inspect.iscoroutinefunction(route.endpoint)  # type: ignore[attr-defined]


@pytest.mark.parametrize("field", ["epsilon", "lookback_days"])
@pytest.mark.parametrize("value", [True, "0.5"])
def test_attribution_numbers_must_be_json_numbers(fresh: Harness, field: str, value: Any) -> None:
    body = {"model": "last_touch", "touchpoints": "impressions", "conversions": "conversions",
            "dimension": "channel", "lookback_days": 30, field: value}
    response = fresh.client.post(f"/v1/collaborations/{COLLAB}/attribution", json=body,
                                 headers=fresh.auth("acme"))
    assert_error(response, 422, "invalid_request")
