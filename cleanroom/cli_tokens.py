"""``cleanroom token issue | list | revoke``: bearer tokens in a store, with or without a running
service (the store is SQLite, which several processes may write).

A token is printed once, by ``issue``, and never again: the store keeps its hash; ``list``
shows ids, parties and dates only. ``issue`` refuses a collaboration or party that no policy
names: the policies of ``--policies``, else those the service last started with on the store.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cleanroom.errors import CleanroomError
from cleanroom.settings import parse_duration

if TYPE_CHECKING:
    from cleanroom.store import Store

DataDir = Annotated[Path, typer.Option("--data-dir", help="the service's data directory")]


def register(token_app: typer.Typer) -> None:
    token_app.command("issue")(issue)
    token_app.command("list")(list_tokens)
    token_app.command("revoke")(revoke)


def issue(
    data_dir: DataDir,
    collaboration: Annotated[str, typer.Option("--collaboration")],
    party: Annotated[str, typer.Option("--party")],
    policies: Annotated[Path | None, typer.Option(
        "--policies", help="check against these policy files (default: the store's)")] = None,
    expires_in: Annotated[str | None, typer.Option(
        "--expires-in", help="e.g. 30d, 12h, 90m: refused (401) after that")] = None,
) -> None:
    """Print one new bearer token for PARTY of COLLABORATION (only its hash is stored)."""
    from cleanroom.store import Store

    try:
        expires_at = None if expires_in is None else time.time() + parse_duration(expires_in)
    except ValueError as exc:
        fail(f"--expires-in: {exc}", code=2)
    store = Store(data_dir)
    _check_party(store, policies, collaboration, party)
    token = store.issue_token(collaboration, party, expires_at=expires_at)
    until = "never" if expires_at is None else _when(expires_at)
    print(f"issued token {_token_id(token)} for {party} of {collaboration}; expires: {until}",
          file=sys.stderr)
    print(token)


def list_tokens(
    data_dir: DataDir,
    collaboration: Annotated[str | None, typer.Option("--collaboration")] = None,
) -> None:
    """The store's tokens: id, collaboration, party, created, expires, status (never a token)."""
    from rich.console import Console
    from rich.table import Table

    from cleanroom.store import Store

    now = time.time()
    table = Table("id", "collaboration", "party", "created", "expires", "status")
    for info in Store(data_dir).list_tokens():
        if collaboration is None or info.collaboration == collaboration:
            table.add_row(info.id, info.collaboration, info.party, _when(info.created_at),
                          "never" if info.expires_at is None else _when(info.expires_at),
                          info.status(now))
    Console(width=120).print(table)


def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="the id `token list` shows")],
    data_dir: DataDir,
) -> None:
    """Revoke a token by its id: the running service refuses it (401) from the next request."""
    from cleanroom.store import Store

    if not Store(data_dir).revoke_token(token_id.strip().lower()):
        fail(f"no token with id {token_id!r} (see cleanroom token list)")
    print(f"revoked {token_id}", file=sys.stderr)


def _check_party(store: Store, policies: Path | None, collaboration: str, party: str) -> None:
    from cleanroom.policy import load_policies

    if policies is not None:
        try:
            loaded = load_policies(policies)
        except CleanroomError as exc:
            fail(exc.message, code=2)
        known = {c: [p.name for p in policy.parties] for c, policy in loaded.items()}
    else:
        known = store.known_parties()
    if not known:
        # A store no service has opened yet, and no --policies: CONTRACT.md §1's form still works.
        print("warning: no policies to check against (pass --policies, or start the service "
              "on this data directory once)", file=sys.stderr)
        return
    if collaboration not in known:
        fail(f"no collaboration {collaboration!r} in the policies "
             f"(collaborations: {', '.join(sorted(known))})")
    if party not in known[collaboration]:
        fail(f"no party {party!r} in collaboration {collaboration} "
             f"(parties: {', '.join(known[collaboration])})")


def _token_id(token: str) -> str:
    from cleanroom.store.tokens import ID_LENGTH, hash_token

    return hash_token(token)[:ID_LENGTH]


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fail(message: str, *, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)
