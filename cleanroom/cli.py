"""The ``cleanroom`` command line (CONTRACT.md §1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cleanroom.cli_client import audit_app, register
from cleanroom.cli_tokens import register as register_tokens
from cleanroom.errors import CleanroomError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="cleanroom: a privacy-preserving data clean room.")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for parties.")
app.add_typer(token_app, name="token")
salt_app = typer.Typer(no_args_is_help=True, help="The shared salt that pseudonyms are keyed with.")
app.add_typer(salt_app, name="salt")
register_tokens(token_app)  # token issue, list, revoke
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
    query_timeout: Annotated[float | None, typer.Option(
        "--query-timeout", envvar="CLEANROOM_QUERY_TIMEOUT", help="seconds a query may run")] = None,
    query_memory: Annotated[str | None, typer.Option(
        "--query-memory", envvar="CLEANROOM_QUERY_MEMORY", help="per query, e.g. 2GB")] = None,
    max_upload: Annotated[str | None, typer.Option(
        "--max-upload-size", envvar="CLEANROOM_MAX_UPLOAD_SIZE", help="e.g. 2GB")] = None,
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", envvar="CLEANROOM_MAX_ROWS", help="rows in an answer")] = None,
) -> None:
    """Run the HTTP service on an embedded DuckDB store in DATA_DIR."""
    import uvicorn

    from cleanroom.api import create_app
    from cleanroom.settings import configured, tune_gc

    try:
        settings = configured(query_timeout_s=query_timeout, query_memory=query_memory,
                              max_upload=max_upload, max_rows=max_rows)
    except ValueError as exc:
        _fail(str(exc))
    application = _or_exit(lambda: create_app(data_dir, policies, settings=settings))
    tune_gc()  # start-up done: what survived it is never collected

    class _Server(uvicorn.Server):
        async def startup(self, sockets: object = None) -> None:
            await super().startup(sockets=sockets)  # type: ignore[arg-type]
            bound = self.servers[0].sockets[0].getsockname() if self.servers else (host, port)
            print(f"cleanroom serving on http://{host}:{bound[1]}", flush=True)

    _Server(uvicorn.Config(application, host=host, port=port, log_level="warning")).run()


@app.command("hash")
def hash_command(
    src: Annotated[Path, typer.Argument(metavar="IN")],
    dst: Annotated[Path, typer.Argument(metavar="OUT")],
    salt_file: Annotated[Path, typer.Option("--salt-file")],
    column: Annotated[str, typer.Option("--column")],
    kind: Annotated[str | None, typer.Option("--kind", help="email | phone | raw (default)")] = None,
    default_region: Annotated[str, typer.Option("--default-region", help="for phones")] = "US",
    output_column: Annotated[str, typer.Option(
        "--output-column", help="the hashed column's name in OUT (the policy's user_key)")] = "user_key",
    max_unusable: Annotated[float, typer.Option(
        "--max-unusable", min=0.0, max=1.0,
        help="fail, writing nothing, when a larger share of non-empty values does not "
             "normalize")] = 0.05,
) -> None:
    """Pseudonymize COLUMN of a CSV or Parquet file: normalize, then HMAC-SHA256 with the salt."""
    from cleanroom.pseudonym import read_salt, salt_fingerprint
    from cleanroom.pseudonym_files import UnusableValues, file_format, pseudonymize_file

    if kind is None:
        print("warning: --kind not given: the values are hashed exactly as they are (raw); "
              "e-mail addresses and phone numbers need --kind email or --kind phone to match "
              "another party's", file=sys.stderr)
        kind = "raw"
    if kind not in ("email", "phone", "raw"):
        _fail("--kind must be email, phone or raw")
    try:  # a file name without .csv or .parquet is wrong usage (2); a bad file fails (1)
        file_format(src), file_format(dst)
    except ValueError as exc:
        _fail(str(exc))
    try:
        salt = read_salt(salt_file)
        report = pseudonymize_file(src, dst, column=column, kind=kind,  # type: ignore[arg-type]
                                   salt=salt, default_region=default_region,
                                   output_column=output_column, max_unusable_share=max_unusable)
    except UnusableValues as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (ValueError, OSError) as exc:  # the command was right; the files were not
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(f"hashed {report.given - report.unusable} of {report.rows} rows of {column} into "
          f"{output_column} of {dst} ({report.blank} empty, {report.unusable} not usable as "
          f"{kind}: left empty)", file=sys.stderr)
    print(f"fingerprint: {salt_fingerprint(salt)}", file=sys.stderr)


@salt_app.command("new")
def salt_new(out: Annotated[Path, typer.Argument(metavar="OUT")]) -> None:
    """Write a new random 32-byte salt to OUT (readable by its owner only; never overwrites)."""
    from cleanroom.pseudonym import write_new_salt

    try:
        fingerprint = write_new_salt(out)
    except FileExistsError:
        _fail(f"{out} exists already: a salt is never overwritten")
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror}")
    print(f"wrote a new salt to {out}; share it with the other parties by a safe channel",
          file=sys.stderr)
    print(f"fingerprint: {fingerprint}", file=sys.stderr)


@app.command()
def demo(
    people: Annotated[int, typer.Option("--people")] = 60_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """The main job end to end on the embedded default, with synthetic data."""
    from cleanroom.demo import run_demo
    from cleanroom.settings import tune_gc

    tune_gc()
    run_demo(people=people, seed=seed, data_dir=data_dir)


@audit_app.command("verify")
def audit_verify(data_dir: Annotated[Path, typer.Option("--data-dir", exists=True, file_okay=False,
                                                        help="the service's data directory")]
                 ) -> None:
    """Check the audit log's hash chain (works while serve runs): exit 0 when intact, 1
    naming the first entry that is not."""
    from cleanroom.audit import verify
    from cleanroom.store import Store

    broken = verify(Store(data_dir))
    if broken is not None:
        print(f"audit chain broken at entry {broken}: it or the entry before it was changed "
              "or removed", file=sys.stderr)
        raise typer.Exit(1)
    print("audit chain intact", file=sys.stderr)


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
