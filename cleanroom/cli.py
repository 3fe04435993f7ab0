"""The ``cleanroom`` command line (CONTRACT.md §1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cleanroom.cli_client import register
from cleanroom.errors import CleanroomError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="cleanroom: a privacy-preserving data clean room.")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for parties.")
app.add_typer(token_app, name="token")
register(app)  # the client commands: upload, query, check, datasets, budget, audit, ...


def _version(value: bool) -> None:
    if value:
        from cleanroom import __version__

        print(f"cleanroom {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_version, help="print the version and exit")] = False,
          ) -> None:
    """cleanroom: a privacy-preserving data clean room."""


@app.command()
def serve(
    data_dir: Annotated[Path, typer.Option("--data-dir")],
    policies: Annotated[Path, typer.Option("--policies")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Run the HTTP service on an embedded DuckDB store in DATA_DIR."""
    import uvicorn

    from cleanroom.api import create_app

    application = _or_exit(lambda: create_app(data_dir, policies))

    class _Server(uvicorn.Server):
        async def startup(self, sockets: object = None) -> None:
            await super().startup(sockets=sockets)  # type: ignore[arg-type]
            bound = self.servers[0].sockets[0].getsockname() if self.servers else (host, port)
            print(f"cleanroom serving on http://{host}:{bound[1]}", flush=True)

    _Server(uvicorn.Config(application, host=host, port=port, log_level="warning")).run()


@token_app.command("issue")
def token_issue(
    data_dir: Annotated[Path, typer.Option("--data-dir")],
    collaboration: Annotated[str, typer.Option("--collaboration")],
    party: Annotated[str, typer.Option("--party")],
    policies: Annotated[Path | None, typer.Option("--policies", help="check the party exists")] = None,
) -> None:
    """Print one new bearer token for PARTY of COLLABORATION (only its hash is stored)."""
    from cleanroom.policy import load_policies
    from cleanroom.store import Store

    if policies is not None:
        known = _or_exit(lambda: load_policies(policies)).get(collaboration)
        if known is None or known.party(party) is None:
            _fail(f"no party {party!r} in collaboration {collaboration!r}")
    print(Store(data_dir).issue_token(collaboration, party))


@app.command("hash")
def hash_command(
    src: Annotated[Path, typer.Argument(metavar="IN")],
    dst: Annotated[Path, typer.Argument(metavar="OUT")],
    salt_file: Annotated[Path, typer.Option("--salt-file")],
    column: Annotated[str, typer.Option("--column")],
    kind: Annotated[str, typer.Option("--kind", help="email | phone | raw")] = "raw",
    default_region: Annotated[str, typer.Option("--default-region", help="for phones")] = "US",
) -> None:
    """Pseudonymize COLUMN of a CSV or Parquet file: normalize, then HMAC-SHA256 with the salt."""
    from cleanroom.pseudonym import hash_file, read_salt

    if kind not in ("email", "phone", "raw"):
        _fail("--kind must be email, phone or raw")
    try:
        rows = hash_file(src, dst, column=column, kind=kind,  # type: ignore[arg-type]
                         salt=read_salt(salt_file), default_region=default_region)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    print(f"hashed {rows} rows of {column} into {dst}", file=sys.stderr)


@app.command()
def demo(
    people: Annotated[int, typer.Option("--people")] = 60_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """The main job end to end on the embedded default, with synthetic data."""
    from cleanroom.demo import run_demo

    run_demo(people=people, seed=seed, data_dir=data_dir)


def _or_exit(make):  # type: ignore[no-untyped-def]
    try:
        return make()
    except CleanroomError as exc:
        _fail(exc.message)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
