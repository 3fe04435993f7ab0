"""``cleanroom policy lint FILE...``, local and with no server; and ``cleanroom policy
show|versions|edit FILE|approve V|reject V|what-if FILE -c C``: the policy routes of CONTRACT.md
§4 through ``Client.policy``. Where the service has no such route yet, the command prints the
service's refusal (404) and exits 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cleanroom.cli_client import DEFAULT_URL, Collab, Token, Url, connected, usage

policy_app = typer.Typer(no_args_is_help=True, help="The collaboration's policy (compliance).")
PolicyFile = Annotated[Path, typer.Argument(metavar="FILE", help="the whole policy, YAML")]
Version = Annotated[str, typer.Argument(metavar="V", help="a policy version")]


def _print(body: dict[str, Any]) -> None:
    print(json.dumps(body, indent=2))


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise usage(f"cannot read {file}: {exc.strerror}") from None


@policy_app.command("lint")
def lint(files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="policy files")]
         ) -> None:
    """Findings about each policy file (weak or contradictory settings), with no server:
    exits 1 when a file is invalid, 0 otherwise."""
    from cleanroom.errors import PolicyError
    from cleanroom.policy import parse_policy
    from cleanroom.policy_lint import lint_policy

    invalid = False
    for file in files:
        try:
            policy = parse_policy(file.read_text(encoding="utf-8"), source=str(file))
        except (OSError, UnicodeDecodeError, PolicyError) as exc:
            reason = exc.message if isinstance(exc, PolicyError) else f"{file}: cannot be read"
            print(f"error: {reason}", file=sys.stderr)
            invalid = True
            continue
        findings = lint_policy(policy)
        for f in findings:
            where = f" ({f.path})" if f.path else ""
            print(f"{file}: {f.severity}: {f.rule}: {f.message}{where}")
        if not findings:
            print(f"{file}: no findings")
    if invalid:
        raise typer.Exit(1)


@policy_app.command("show")
def show(token: Token, collaboration: Collab, url: Url = DEFAULT_URL) -> None:
    """The active policy and its version."""
    with connected(url, token, collaboration) as cr:
        body = cr.policy(action="show")
    print(body["yaml"] if isinstance(body.get("yaml"), str) else json.dumps(body, indent=2))


@policy_app.command("versions")
def versions(token: Token, collaboration: Collab, url: Url = DEFAULT_URL) -> None:
    """Every version, newest first, with its status, approvals and diff."""
    with connected(url, token, collaboration) as cr:
        _print(cr.policy(action="versions"))


@policy_app.command("edit")
def edit(file: PolicyFile, token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
         if_match: Annotated[str | None, typer.Option(
             "--if-match", help="the version edited (default: the active one)")] = None) -> None:
    """Propose FILE as the collaboration's next policy version."""
    text = _text(file)
    with connected(url, token, collaboration) as cr:
        version = if_match or str(cr.policy(action="show").get("version"))
        _print(cr.policy(action="edit", policy=text, if_match=version))


@policy_app.command("approve")
def approve(version: Version, token: Token, collaboration: Collab, url: Url = DEFAULT_URL) -> None:
    """Approve a pending version that loosens a dataset this party provides."""
    with connected(url, token, collaboration) as cr:
        _print(cr.policy(action="approve", version=version))


@policy_app.command("reject")
def reject(version: Version, token: Token, collaboration: Collab, url: Url = DEFAULT_URL) -> None:
    """Reject a pending version."""
    with connected(url, token, collaboration) as cr:
        _print(cr.policy(action="reject", version=version))


@policy_app.command("what-if")
def what_if(file: PolicyFile, token: Token, collaboration: Collab, url: Url = DEFAULT_URL) -> None:
    """Replay recent audited queries under FILE: what it would refuse or change."""
    text = _text(file)
    with connected(url, token, collaboration) as cr:
        _print(cr.policy(action="what-if", policy=text))
