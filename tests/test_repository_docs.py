"""The repository's docs stay true: docs/api.md is what the app's OpenAPI document generates,
every relative link in README.md and docs/ resolves inside the repository, and every command
and route the walkthroughs show exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cleanroom.apidoc import openapi_document, render_markdown
from cleanroom.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WALKTHROUGHS = sorted((ROOT / "docs").glob("walkthrough-*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_api_reference_is_generated_from_the_app() -> None:
    generated = render_markdown(openapi_document())
    assert (ROOT / "docs" / "api.md").read_text() == generated, \
        "regenerate: python -m cleanroom.apidoc > docs/api.md"
    for route in ("/healthz", "/v1/collaborations/{c}/queries", "/v1/collaborations/{c}/budget"):
        assert f" {route}`" in generated
    assert "curl -s -X POST" in generated and "budget_exhausted" in generated


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), (doc.name, target)
        assert path.exists(), (doc.name, target)


def test_the_contract_is_in_the_repository() -> None:
    text = (ROOT / "docs" / "contract.md").read_text()
    assert "## 3. HTTP API" in text and "## 5. Clients" in text


def _shell_lines(doc: Path) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_the_walkthroughs_use_commands_that_exist() -> None:
    assert len(WALKTHROUGHS) == 3
    runner = CliRunner()
    seen = set()
    for doc in WALKTHROUGHS:
        for line in _shell_lines(doc):
            for part in re.findall(r"(?:^|\$\()cleanroom ([^)#]*)", line):
                words = shlex.split(part)
                command = [w for w in words[:2] if not w.startswith("-")]
                if command and command[0] in {"token", "analytics", "policy"}:
                    command = command[:2]
                else:
                    command = command[:1]
                seen.add(" ".join(command))
                assert runner.invoke(app, [*command, "--help"]).exit_code == 0, (doc.name, line)
    assert {"serve", "token issue", "token list", "token revoke", "hash"} <= seen


def test_the_walkthroughs_use_routes_that_exist() -> None:
    paths = list(openapi_document()["paths"])
    patterns = [re.compile("^" + re.sub(r"\\\{[a-z]+\\\}", "[a-z0-9-]+", re.escape(p)) + "$")
                for p in paths]
    used = set()
    for doc in WALKTHROUGHS:
        for route in re.findall(r"\$CLEANROOM_URL(/[^\s\"'?]*)", doc.read_text()):
            used.add(route)
            assert any(p.match(route) for p in patterns), (doc.name, route)
    assert len(used) >= 5
