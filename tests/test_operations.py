"""Operations (issue 11, point 6): token list, revoke and expiry; ``token issue`` refuses names no
policy has; limits set by flag and environment on ``serve``; budgets readable by compliance; the
example policy packaged for the demo; no unused dependency."""

from __future__ import annotations

import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cleanroom import demo
from cleanroom.api import create_app
from cleanroom.cli import app
from cleanroom.settings import Settings
from cleanroom.store import Store
from tests.conftest import COLLAB, POLICIES, Harness, make_client

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def issue(data: Path, *extra: str, party: str = "acme", collab: str = COLLAB) -> Any:
    return cli("token", "issue", "--data-dir", str(data), "--collaboration", collab,
               "--party", party, *extra)


def budget(h: Harness, token: str, **params: str) -> Any:
    return h.client.get(f"/v1/collaborations/{COLLAB}/budget", params=params,
                        headers={"Authorization": f"Bearer {token}"})


def test_issue_refuses_names_the_store_policies_do_not_have(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_app(data, POLICIES)  # the service records the parties it starts with
    made_up = issue(data, collab="made-up")
    assert made_up.exit_code == 1 and "made-up" in made_up.stderr and made_up.stdout == ""
    assert "acme-streamco" in made_up.stderr  # the names that exist
    mallory = issue(data, party="mallory")
    assert mallory.exit_code == 1 and "parties: acme, streamco, reviewer" in mallory.stderr
    assert issue(data, party="acme").exit_code == 0


def test_issue_checks_given_policies_and_warns_with_none(tmp_path: Path) -> None:
    refused = issue(tmp_path / "d1", "--policies", str(POLICIES), collab="made-up")
    assert refused.exit_code == 1 and refused.stdout == ""
    unchecked = issue(tmp_path / "d2", collab="anything")  # CONTRACT.md §1's form still works
    assert unchecked.exit_code == 0 and "warning" in unchecked.stderr
    assert unchecked.stdout.strip().startswith("crt_")


def test_list_shows_ids_and_never_a_token(tmp_path: Path) -> None:
    h = make_client(tmp_path / "data")
    issued = issue(h.data_dir, "--expires-in", "12h", party="reviewer")
    token = issued.stdout.strip()
    listed = cli("token", "list", "--data-dir", str(h.data_dir))
    assert listed.exit_code == 0
    for secret in (token, *h.tokens.values()):
        assert secret not in listed.stdout and secret[4:20] not in listed.stdout
    ids = re.findall(r"\b[0-9a-f]{12}\b", listed.stdout)
    assert len(ids) == 5 and not re.search(r"[0-9a-f]{13}", listed.stdout)
    assert listed.stdout.count("reviewer") == 2 and "never" in listed.stdout
    assert listed.stdout.count("active") == 5
    mine = re.search(r"issued token ([0-9a-f]{12})", issued.stderr)
    assert mine is not None and mine.group(1) in ids


def test_a_revoked_token_is_refused_at_once(tmp_path: Path) -> None:
    h = make_client(tmp_path / "data")
    issued = issue(h.data_dir)
    token = issued.stdout.strip()
    assert budget(h, token).status_code == 200
    token_id = re.search(r"issued token ([0-9a-f]{12})", issued.stderr).group(1)  # type: ignore[union-attr]
    assert cli("token", "revoke", token_id, "--data-dir", str(h.data_dir)).exit_code == 0
    refused = budget(h, token)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert budget(h, h.tokens["acme"]).status_code == 200  # the others still work
    assert "revoked" in cli("token", "list", "--data-dir", str(h.data_dir)).stdout
    unknown = cli("token", "revoke", "0123456789ab", "--data-dir", str(h.data_dir))
    assert unknown.exit_code == 1 and "no token" in unknown.stderr


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    h = make_client(tmp_path / "data")
    store = Store(h.data_dir)
    expired = store.issue_token(COLLAB, "acme", expires_at=time.time() - 1)
    live = store.issue_token(COLLAB, "acme", expires_at=time.time() + 3600)
    assert budget(h, expired).status_code == 401
    assert budget(h, live).status_code == 200
    assert "expired" in cli("token", "list", "--data-dir", str(h.data_dir)).stdout


@pytest.mark.parametrize("bad", ["0d", "soon", "-3h", "12"])
def test_a_bad_expiry_is_wrong_usage(tmp_path: Path, bad: str) -> None:
    result = issue(tmp_path, "--expires-in", bad)
    assert result.exit_code == 2 and "--expires-in" in result.stderr and result.stdout == ""


def test_issue_with_expiry_stores_it(tmp_path: Path) -> None:
    before = time.time()
    assert issue(tmp_path, "--expires-in", "30d").exit_code == 0
    (info,) = Store(tmp_path).list_tokens()
    assert info.expires_at is not None
    assert abs(info.expires_at - before - 30 * 86400) < 60


def test_serve_takes_limits_from_flags_and_environment(monkeypatch, tmp_path: Path) -> None:
    seen: list[Settings] = []

    class Started(Exception):
        pass

    def fake_create_app(data_dir: Any, policies: Any, *, settings: Settings) -> None:
        seen.append(settings)
        raise Started

    monkeypatch.setattr("cleanroom.api.create_app", fake_create_app)
    env = {"CLEANROOM_QUERY_TIMEOUT": "7", "CLEANROOM_QUERY_MEMORY": "512MB",
           "CLEANROOM_MAX_UPLOAD_SIZE": "10MB"}
    result = cli("serve", "--data-dir", str(tmp_path), "--policies", str(POLICIES),
                 "--max-upload-size", "3GB", "--max-rows", "500", env=env)
    assert isinstance(result.exception, Started)
    (settings,) = seen
    assert settings.limits.timeout_s == 7 and settings.limits.memory_limit == "512MB"
    assert settings.max_upload_bytes == 3 * 10**9  # the flag wins over the environment
    assert settings.limits.max_rows == 500
    bad = cli("serve", "--data-dir", str(tmp_path), "--policies", str(POLICIES),
              "--query-memory", "lots")
    assert bad.exit_code == 2 and "lots" in bad.stderr


def test_the_upload_size_limit_applies(tmp_path: Path) -> None:
    h = make_client(tmp_path / "data", max_upload_bytes=100)
    response = h.upload("conversions", b"user_key,ts,revenue,order_id\n" + b"x" * 200, party="acme")
    assert response.status_code == 413 and response.json()["error"]["code"] == "invalid_upload"


def test_compliance_reads_budgets(fresh: Harness) -> None:
    reviewer = fresh.tokens["reviewer"]
    answer = budget(fresh, reviewer)
    assert answer.status_code == 200 and answer.json()["party"] == "acme"
    assert budget(fresh, reviewer, party="acme").json()["party"] == "acme"
    not_analyst = budget(fresh, reviewer, party="streamco")
    assert not_analyst.status_code == 422 and "acme" in not_analyst.text
    assert budget(fresh, fresh.tokens["acme"]).json()["party"] == "acme"
    assert budget(fresh, fresh.tokens["acme"], party="acme").status_code == 200
    assert budget(fresh, fresh.tokens["streamco"]).status_code == 403
    assert budget(fresh, fresh.tokens["globex"]).status_code == 404


def test_the_demo_policy_is_package_data_equal_to_the_example() -> None:
    packaged = demo.EXAMPLE_POLICIES / "acme-streamco.yaml"
    assert packaged.resolve().is_relative_to((ROOT / "cleanroom").resolve())
    assert packaged.read_bytes() == (ROOT / "policies" / "acme-streamco.yaml").read_bytes()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = data["package-data"]["cleanroom"]
    for wanted in ("examples/acme-streamco.yaml", "static/swagger-ui/swagger-ui-bundle.js"):
        assert any(Path(wanted).match(g) for g in globs), wanted


def test_no_declared_dependency_goes_unused() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(d.startswith("cryptography") for d in deps)
    sources = "\n".join(p.read_text() for p in (ROOT / "cleanroom").rglob("*.py"))
    assert not re.search(r"^\s*(from|import) cryptography", sources, re.M)


def test_tune_gc_freezes_start_up_and_raises_the_young_threshold() -> None:
    # In a child process: freezing and the thresholds are process-wide.
    import subprocess
    import sys

    code = ("import gc; from cleanroom.settings import tune_gc, GC_GEN0_THRESHOLD; "
            "before = gc.get_threshold(); t = tune_gc(); "
            "print(before[0], t[0], t[1:] == before[1:], gc.get_freeze_count() > 1000, "
            "GC_GEN0_THRESHOLD)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    before, after, same_older, frozen, wanted = out
    assert int(after) == int(wanted) > int(before)
    assert same_older == "True" and frozen == "True"


def test_serve_tunes_gc_after_building_the_app(monkeypatch, tmp_path: Path) -> None:
    order: list[str] = []

    class Started(Exception):
        pass

    monkeypatch.setattr("cleanroom.api.create_app", lambda *a, **k: order.append("app"))
    monkeypatch.setattr("cleanroom.settings.tune_gc", lambda: order.append("gc") or (0, 0, 0))

    def no_server(self: Any, config: Any) -> None:
        raise Started

    monkeypatch.setattr("uvicorn.Server.__init__", no_server)
    result = cli("serve", "--data-dir", str(tmp_path), "--policies", str(POLICIES))
    assert isinstance(result.exception, Started)
    assert order == ["app", "gc"]
