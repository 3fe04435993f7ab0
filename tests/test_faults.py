"""Faults in storage (issue 9): versions stay on disk while a request reads them, and a
missing or damaged stored file is 422 ``query_failed`` (audited, logged without paths or
engine messages), never an empty or wrong answer."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import cleanroom.engine.duckdb as duckdb_engine
from cleanroom.store import Store
from tests.canary import CanaryData
from tests.conftest import Harness, make_client
from tests.test_api_access import assert_error
from tests.test_dp_pipeline import BY_CHANNEL, loaded_with
from tests.test_upload import conversions_csv, count

POLICIES = Path(__file__).parent / "fixtures" / "policies"


def current_file(h: Harness, dataset: str = "conversions") -> Path:
    return Store(h.data_dir).current("acme-streamco")[dataset].path


def test_a_version_being_read_outlives_two_uploads(fresh: Harness,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of issue 9, made deterministic: two uploads land after the query resolved its
    versions and before the engine reads them. Without the lease this answered 200 with no
    rows (the file was gone and the sandbox saw an empty table)."""
    fresh.upload("conversions", conversions_csv(100), party="acme")
    real_sandbox = duckdb_engine.sandbox
    landed: list[int] = []

    def uploads_land_first(tables, limits):  # type: ignore[no-untyped-def]
        if not landed:
            for people in (70, 80):
                landed.append(fresh.upload("conversions", conversions_csv(people, start=1000),
                                           party="acme").status_code)
        return real_sandbox(tables, limits)

    monkeypatch.setattr(duckdb_engine, "sandbox", uploads_land_first)
    assert count(fresh) == [[100, 100]]  # the version the query resolved, whole
    assert landed == [201, 201]
    monkeypatch.undo()
    assert count(fresh) == [[80, 80]]
    folder = current_file(fresh).parent
    files = list(folder.iterdir())
    versions = {f.name for f in files if f.suffix == ".parquet"}
    assert len(versions) == 2  # the held version went once its reader was done
    # ... and so did its native copy (engine/native.py): every copy left is of a kept version
    assert all(f.name.split(".duckdb")[0].rsplit(".", 1)[0] in versions
               for f in files if f.suffix == ".duckdb")


def test_store_lease_defers_removal_until_released(tmp_path: Path) -> None:
    store = Store(tmp_path / "d", keep_versions=1)
    staged = []
    for i in range(3):
        path = store.staging_path(".parquet")
        path.write_bytes(b"version %d" % i)
        staged.append(path)
    store.publish("c", "ds", staged[0], 1)
    with store.lease("c") as held:
        first = held["ds"].path
        store.publish("c", "ds", staged[1], 1)
        store.publish("c", "ds", staged[2], 1)
        assert first.read_bytes() == b"version 0"
    assert not first.exists()
    assert [p.read_bytes() for p in first.parent.iterdir()] == [b"version 2"]


def test_many_queries_while_uploads_land_never_answer_empty(fresh: Harness) -> None:
    sizes = (100, 200)
    fresh.upload("conversions", conversions_csv(sizes[0]), party="acme")
    seen: list[object] = []

    def reader() -> None:
        for _ in range(12):
            response = fresh.query("SELECT COUNT(*) AS n FROM conversions")
            seen.append(response.json()["rows"] if response.status_code == 200 else response.text)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    for i in range(8):
        assert fresh.upload("conversions", conversions_csv(sizes[i % 2]), party="acme").status_code == 201
    for thread in readers:
        thread.join()
    assert len(seen) == 48
    assert all(rows in ([[100]], [[200]]) for rows in seen), [s for s in seen if s not in ([[100]], [[200]])]


def flip_byte(path: Path) -> None:
    """Change one byte in the middle, putting the old mtime back (only ctime can tell)."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "deleted": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "broken footer": lambda p: p.write_bytes(p.read_bytes()[:-12] + b"\0" * 12),
    "flipped byte": flip_byte,
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_stored_file_is_query_failed_and_audited(fresh: Harness, kind: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    fresh.upload("conversions", conversions_csv(120), party="acme")
    assert count(fresh) == [[120, 120]]  # opened (and verified) once while intact
    path = current_file(fresh)
    DAMAGE[kind](path)
    with caplog.at_level(logging.INFO):
        response = fresh.query("SELECT COUNT(*) AS n FROM conversions")
    error = assert_error(response, 422, "query_failed")
    assert [v["rule"] for v in error["error"]["violations"]] == ["stored_data_damaged"]
    assert str(path.parent) not in response.text and path.name not in caplog.text
    assert "damaged" in caplog.text and "IO Error" not in caplog.text
    entries = fresh.client.get("/v1/collaborations/acme-streamco/audit",
                               headers=fresh.auth("reviewer")).json()["entries"]
    assert entries[0]["action"] == "query" and entries[0]["decision"] == "failed"
    assert entries[0]["detail"]["rules"] == ["stored_data_damaged"]


def test_damage_is_found_by_a_fresh_service_too(fresh: Harness, tmp_path: Path) -> None:
    fresh.upload("conversions", conversions_csv(120), party="acme")
    flip_byte(current_file(fresh))
    again = make_client(fresh.data_dir, policies=POLICIES)
    assert_error(again.query(COUNT_SQL), 422, "query_failed")


COUNT_SQL = "SELECT COUNT(*) AS n FROM conversions"


def test_a_new_upload_repairs_a_damaged_dataset(fresh: Harness) -> None:
    fresh.upload("conversions", conversions_csv(120), party="acme")
    flip_byte(current_file(fresh))
    assert_error(fresh.query(COUNT_SQL), 422, "query_failed")
    assert fresh.upload("conversions", conversions_csv(90), party="acme").status_code == 201
    assert count(fresh) == [[90, 90]]


def test_under_dp_a_damaged_file_stays_charged_and_both_are_audited(
        tmp_path: Path, canary: CanaryData) -> None:
    h = loaded_with(tmp_path, canary, POLICIES, dp_seed=3)
    flip_byte(current_file(h, "impressions"))
    assert_error(h.query(BY_CHANNEL, epsilon=0.5), 422, "query_failed")
    budget = h.client.get("/v1/collaborations/acme-streamco/budget", headers=h.auth("acme")).json()
    assert budget["epsilon_spent"] == pytest.approx(0.5)  # no failure is a free signal
    entries = h.client.get("/v1/collaborations/acme-streamco/audit",
                           headers=h.auth("reviewer")).json()["entries"]
    failed = entries[0]
    assert failed["decision"] == "failed" and failed["detail"]["epsilon"] == 0.5
    assert failed["query_id"] in {e["query_id"] for e in budget["history"]}


def test_damage_after_verification_is_still_query_failed(fresh: Harness,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file damaged between its check and DuckDB's read of the footer (view creation runs
    outside the engine's guard): 422, audited, not a 500."""
    from cleanroom.store import datasets

    fresh.upload("conversions", conversions_csv(120), party="acme")
    path = current_file(fresh)
    monkeypatch.setattr(datasets, "verify", lambda *_: None)
    path.write_bytes(path.read_bytes()[:100])
    error = assert_error(fresh.query(COUNT_SQL), 422, "query_failed")
    assert [v["rule"] for v in error["error"]["violations"]] == ["runtime"]
