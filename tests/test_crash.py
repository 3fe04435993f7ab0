"""Crash hygiene (issue 9): kill -9 during an upload, then a restart, leaves no garbage and
the previous version whole; a full disk is a 507 refusal with the old version kept."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cleanroom.store import Store
from tests.conftest import COLLAB, POLICIES, make_client
from tests.test_api_access import assert_error
from tests.test_upload import conversions_csv, count

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "cleanroom.cli", "serve", "--data-dir",
                             str(data_dir), "--policies", str(POLICIES), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "serving on" in line, line
    return proc


def _slow_upload(port: int, token: str, body_head: bytes, total: int) -> socket.socket:
    """Start a PUT that announces ``total`` bytes and sends only ``body_head``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"PUT /v1/collaborations/{COLLAB}/datasets/conversions HTTP/1.1\r\n"
                  f"Host: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode() + body_head)
    return sock


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _staged_bytes(data_dir: Path) -> int:
    return sum(f.stat().st_size for f in (data_dir / "tmp").rglob("*") if f.is_file())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], list[subprocess.Popen[str]]]]:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    tokens = {p: store.issue_token(COLLAB, p) for p in ("acme", "reviewer")}
    procs: list[subprocess.Popen[str]] = []
    yield data_dir, tokens, procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_kill_9_mid_upload_then_restart(server: tuple[Path, dict[str, str], list]) -> None:
    data_dir, tokens, procs = server
    port = _free_port()
    procs.append(_serve(data_dir, port))
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {tokens['acme']}"}
    first = httpx.put(f"{url}/v1/collaborations/{COLLAB}/datasets/conversions",
                      content=conversions_csv(100), headers={**auth, "Content-Type": "text/csv"})
    assert first.status_code == 201, first.text
    head = conversions_csv(20_000, start=5000)
    sock = _slow_upload(port, tokens["acme"], head, total=len(head) * 10)
    _wait_for(lambda: _staged_bytes(data_dir) >= len(head) // 2)
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait()
    sock.close()
    assert _staged_bytes(data_dir) > 0  # what the crash left behind

    procs.append(_serve(data_dir, port))
    assert list((data_dir / "tmp").iterdir()) == []
    answer = httpx.post(f"{url}/v1/collaborations/{COLLAB}/queries", headers=auth,
                        json={"sql": "SELECT COUNT(*) AS n FROM conversions"})
    assert answer.status_code == 200 and answer.json()["rows"] == [[100]], answer.text


KILL_IN_PUBLISH = textwrap.dedent("""
    import os, signal, sys
    from cleanroom.store import Store, datasets
    store = Store(sys.argv[1])
    staged = store.staging_path(".parquet")
    staged.write_bytes(b"the second version")
    # Die after the file is renamed into place, before its row is committed.
    datasets.fsync_dir = lambda path: os.kill(os.getpid(), signal.SIGKILL)
    store.publish("c", "ds", staged, 1)
""")


def test_kill_9_between_rename_and_commit_leaves_no_orphan(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    staged = store.staging_path(".parquet")
    staged.write_bytes(b"the first version")
    store.publish("c", "ds", staged, 1)
    proc = subprocess.run([sys.executable, "-c", KILL_IN_PUBLISH, str(data_dir)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == -signal.SIGKILL
    folder = data_dir / "datasets" / "c" / "ds"
    assert len(list(folder.iterdir())) == 2  # the orphan is there until a store opens

    reopened = Store(data_dir)
    assert [p.read_bytes() for p in folder.iterdir()] == [b"the first version"]
    with reopened.lease("c") as held:
        assert held["ds"].version == 1 and held["ds"].path.read_bytes() == b"the first version"
    assert reopened.recovered_bytes == len(b"the second version")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (needs root and mount rights, as in the CI container)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the monkeypatched ENOSPC test still runs)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_507_and_keeps_the_old_version(small_disk: Path) -> None:
    h = make_client(small_disk / "data")
    assert h.upload("conversions", conversions_csv(200), party="acme").status_code == 201
    too_big = conversions_csv(40_000, start=1000)  # about 4 MB: more than the disk has left
    error = assert_error(h.upload("conversions", too_big, party="acme"), 507, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["storage_full"]
    assert list((small_disk / "data" / "tmp").iterdir()) == []
    assert count(h) == [[200, 200]]
    assert h.upload("conversions", conversions_csv(150), party="acme").status_code == 201


def test_disk_filling_while_the_checked_copy_is_written_is_507(small_disk: Path) -> None:
    """The body fits; the typed Parquet copy of it does not (DuckDB's COPY meets ENOSPC)."""
    h = make_client(small_disk / "data")
    assert h.upload("conversions", conversions_csv(200), party="acme").status_code == 201
    disk = os.statvfs(small_disk)
    free = disk.f_bavail * disk.f_frsize
    per_row = len(conversions_csv(1000)) / 1000
    body = conversions_csv(int((free - 150_000) / per_row), start=1000)  # leaves ~150 kB
    assert len(body) < free
    response = h.upload("conversions", body, party="acme")
    error = assert_error(response, 507, "invalid_upload")
    assert [v["rule"] for v in error["error"]["violations"]] == ["storage_full"]
    assert list((small_disk / "data" / "tmp").iterdir()) == []
    assert count(h) == [[200, 200]]
    entries = h.client.get(f"/v1/collaborations/{COLLAB}/audit", headers=h.auth("reviewer"))
    uploads = [e for e in entries.json()["entries"] if e["action"] == "upload"]
    assert uploads[0]["decision"] == "refused" and uploads[0]["detail"]["rules"] == ["storage_full"]
