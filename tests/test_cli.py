"""The command line (CONTRACT.md §1), run as real processes."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow.csv as pacsv
import pytest

from tests.conftest import COLLAB, POLICIES, Harness

CLI = [sys.executable, "-m", "cleanroom.cli"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen([*CLI, "serve", "--data-dir", str(data), "--policies", str(POLICIES),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert f"http://127.0.0.1:{port}" in line, (line, proc.stderr.read() if proc.poll() else "")
        yield data, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_token_issue_works_while_serve_runs(server) -> None:  # type: ignore[no-untyped-def]
    data, url = server
    assert httpx.get(f"{url}/healthz").status_code == 200
    issued = run_cli("token", "issue", "--data-dir", str(data), "--collaboration", COLLAB,
                     "--party", "acme")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert issued.stdout.count("\n") == 1 and len(token) > 30
    response = httpx.post(f"{url}/v1/collaborations/{COLLAB}/queries/check",
                          json={"sql": "SELECT COUNT(*) AS n FROM conversions"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["decision"] == "accepted"
    wrong = httpx.post(f"{url}/v1/collaborations/{COLLAB}/queries/check", json={"sql": "SELECT 1"},
                       headers={"Authorization": "Bearer " + token[:-2] + "xx"})
    assert wrong.status_code == 401


def test_token_issue_checks_the_party_when_given_policies(tmp_path: Path) -> None:
    result = run_cli("token", "issue", "--data-dir", str(tmp_path), "--collaboration", COLLAB,
                     "--party", "mallory", "--policies", str(POLICIES))
    assert result.returncode != 0 and "mallory" in result.stderr and result.stdout == ""


def test_serve_refuses_bad_policies(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("collaboration: x\n")
    result = run_cli("serve", "--data-dir", str(tmp_path / "d"), "--policies", str(tmp_path))
    assert result.returncode != 0 and "bad.yaml" in result.stderr


def test_hash_command_pseudonymizes_one_column(tmp_path: Path) -> None:
    salt = tmp_path / "salt"
    salt.write_text("a-shared-salt-of-enough-length\n")
    src = tmp_path / "in.csv"
    src.write_text("email,channel\n  Alice@Example.COM ,search\nbob@example.com,social\n")
    result = run_cli("hash", "--salt-file", str(salt), "--column", "email", "--kind", "email",
                     str(src), str(tmp_path / "out.parquet"))
    assert result.returncode == 0, result.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    key = b"a-shared-salt-of-enough-length"
    assert table["user_key"][0] == hmac.new(key, b"alice@example.com", hashlib.sha256).hexdigest()
    assert table["channel"] == ["search", "social"]


def test_hash_command_refuses_a_missing_column(tmp_path: Path) -> None:
    salt = tmp_path / "salt"
    salt.write_text("a-shared-salt-of-enough-length")
    src = tmp_path / "in.csv"
    pacsv.write_csv(__import__("pyarrow").table({"a": ["x"]}), src)
    result = run_cli("hash", "--salt-file", str(salt), "--column", "email", str(src),
                     str(tmp_path / "out.csv"))
    assert result.returncode != 0 and "email" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    # From another directory: the example policy is package data, not read from the checkout.
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "COLUMNS": "160", "PYTHONPATH": root}
    result = subprocess.run([*CLI, "demo", "--people", "4000"], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for title in ("Reach and frequency by channel", "Last-touch attribution", "suppressed rows"):
        assert title in out
    assert "suppressed rows (fewer than the policy's minimum people): 1" in out
    assert "display-pilot" not in out


def test_audit_verify_exits_0_when_intact_and_1_naming_the_first_broken_entry(
        fresh: Harness) -> None:
    """CONTRACT.md §4: ``cleanroom audit verify --data-dir DIR``, no server needed."""
    import sqlite3
    for sql in ("SELECT 1", "SELECT user_key FROM impressions", "SELECT 2"):
        fresh.query(sql)
    intact = run_cli("audit", "verify", "--data-dir", str(fresh.data_dir))
    assert intact.returncode == 0, intact.stderr
    with sqlite3.connect(fresh.data_dir / "meta.sqlite") as con:
        (second,) = con.execute("SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1").fetchone()
        con.execute("DELETE FROM audit WHERE id = ?", (second,))
    broken = run_cli("audit", "verify", "--data-dir", str(fresh.data_dir))
    assert broken.returncode == 1 and f"entry {second + 1}" in broken.stderr, broken.stderr
