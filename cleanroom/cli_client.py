"""The client commands (CONTRACT.md §5): ``upload``, ``query``, ``check``, ``datasets``,
``budget``, ``audit``, ``attribution``, ``analytics NAME`` and ``policy ...``, each a thin layer
over ``cleanroom.client.Client``.

``--url``, ``--token`` and ``-c/--collaboration`` can come from ``CLEANROOM_URL``,
``CLEANROOM_TOKEN`` and ``CLEANROOM_COLLABORATION``. Exit status: 0 done; 1 refused or failed
(the service's message and each violation on stderr; also when the service cannot be reached:
the command was right, the call failed); 2 wrong usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from cleanroom import formats, render
from cleanroom.client import Client, Format, upload_type
from cleanroom.client_answers import Answer
from cleanroom.client_errors import ApiError

DEFAULT_URL = "http://127.0.0.1:8000"
Url = Annotated[str, typer.Option("--url", envvar="CLEANROOM_URL", help="the service's address")]
Token = Annotated[str, typer.Option("--token", envvar="CLEANROOM_TOKEN", help="bearer token")]
Collab = Annotated[str, typer.Option("-c", "--collaboration", envvar="CLEANROOM_COLLABORATION",
                                     help="the collaboration id")]
Epsilon = Annotated[float | None, typer.Option("--epsilon", help="ask for a DP answer")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", help="table | csv | json | arrow | parquet (default: from --output's extension, "
    "else a table on a terminal and CSV otherwise)")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="write the answer here")]
AsJson = Annotated[bool, typer.Option("--json", help="the same as --format json")]
SqlArg = Annotated[str | None, typer.Argument(metavar="SQL", help="the query ('-': stdin)")]
SqlFile = Annotated[Path | None, typer.Option("--file", "-f", help="read the query from a file")]
Lookback = Annotated[float, typer.Option("--lookback-days")]
FORMATS = ("table", "csv", "json", "arrow", "parquet")
BY_EXTENSION = {".csv": "csv", ".json": "json", ".arrow": "arrow", ".parquet": "parquet",
                ".txt": "table"}
LARGE = 1024 * 1024  # files from this size get a progress bar

audit_app = typer.Typer(help="The audit log entries this party may read; audit verify.")
analytics_app = typer.Typer(no_args_is_help=True, help="Built-in audience analytics (gated).")
err = Console(stderr=True, highlight=False, soft_wrap=True)  # the terminal wraps messages


def register(app: typer.Typer) -> None:
    """Add the client commands to the main command line."""
    for command in (upload, query, check, datasets, budget, attribution):
        app.command()(command)
    from cleanroom import cli_analytics  # noqa: F401 - its commands join analytics_app
    from cleanroom.cli_policy import policy_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(analytics_app, name="analytics")
    app.add_typer(policy_app, name="policy")


@contextmanager
def connected(url: str, token: str, collaboration: str) -> Iterator[Client]:
    """A client; a refusal or an unreachable service exits 1 with its message on stderr."""
    try:
        with Client(url, token, collaboration=collaboration) as client:
            yield client
    except ApiError as exc:
        render.print_error(err, exc)
        raise typer.Exit(1) from None


def usage(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(2)


def upload(file: Annotated[Path, typer.Argument(metavar="FILE", help="a .csv or .parquet file")],
           dataset: Annotated[str, typer.Option("--dataset", "-d", help="the policy's dataset")],
           token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
           salt_fingerprint: Annotated[str | None, typer.Option(
               "--salt-fingerprint", help="the fingerprint cleanroom hash printed")] = None) -> None:
    """Upload a CSV or Parquet file as the dataset's new version (type from its extension)."""
    try:
        upload_type(file)
        size = file.stat().st_size
    except (ValueError, OSError) as exc:
        raise usage(str(exc)) from None
    with connected(url, token, collaboration) as cr, _progress(size) as advance:
        done = cr.upload(collaboration, dataset, file, progress=advance, salt_fingerprint=salt_fingerprint)
    print(f"dataset: {done.dataset}\nrows: {done.rows}\nversion: {done.version}")


@contextmanager
def _progress(size: int) -> Iterator[Callable[[int], None] | None]:
    if size < LARGE:
        yield None
        return
    columns = ("uploading", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("upload", total=size)
        yield lambda n: bar.advance(task, n)


def query(sql: SqlArg = None, *, token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
          file: SqlFile = None, epsilon: Epsilon = None, fmt: FormatOpt = None,
          output: Output = None) -> None:
    """Run a query; the answer as a table on a terminal, or as CSV, JSON, Arrow or Parquet."""
    text = read_sql(sql, file)
    chosen = choose_format(fmt, output)
    with connected(url, token, collaboration) as cr:
        emit(lambda f: cr.query(collaboration, text, epsilon=epsilon, format=f), chosen,
             output)


def check(sql: SqlArg = None, *, token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
          file: SqlFile = None, epsilon: Epsilon = None) -> None:
    """The gate's decision, its violations and the SQL that would run (runs and spends nothing);
    exits 1 when the gate rejects the query."""
    text = read_sql(sql, file)
    with connected(url, token, collaboration) as cr:
        decision = cr.check(collaboration, text, epsilon=epsilon)
    render.print_check(Console(highlight=False), err, decision)
    if not decision.accepted:
        raise typer.Exit(1)


def datasets(token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
             as_json: AsJson = False) -> None:
    """The collaboration's datasets: provider, current version, rows and columns with kinds."""
    with connected(url, token, collaboration) as cr:
        info = cr.collaboration()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    out = Console(highlight=False)
    out.print(render.datasets_table(info))
    rules, privacy = info.get("query_rules", {}), info.get("privacy", {})
    out.print(f"min_users_per_row: {rules.get('min_users_per_row')} · differential privacy: "
              f"{privacy.get('differential_privacy')}", markup=False)


def budget(token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
           as_json: AsJson = False) -> None:
    """This party's privacy budget and its charges."""
    with connected(url, token, collaboration) as cr:
        spent = cr.budget()
    if as_json:
        print(json.dumps(spent, indent=2))
        return
    out = Console(highlight=False)
    for table in render.budget_tables(spent):
        out.print(table)


OptToken = Annotated[str | None, typer.Option("--token", envvar="CLEANROOM_TOKEN",
                                              help="bearer token")]
OptCollab = Annotated[str | None, typer.Option("-c", "--collaboration",
                                               envvar="CLEANROOM_COLLABORATION",
                                               help="the collaboration id")]


@audit_app.callback(invoke_without_command=True)
def audit(ctx: typer.Context, token: OptToken = None, collaboration: OptCollab = None,
          url: Url = DEFAULT_URL,
          limit: Annotated[int | None, typer.Option("--limit")] = None,
          action: Annotated[str | None, typer.Option("--action")] = None,
          party: Annotated[str | None, typer.Option("--party")] = None,
          since: Annotated[str | None, typer.Option("--since", help="ISO 8601")] = None,
          as_json: AsJson = False) -> None:
    """The audit log entries this party may read, newest first (``audit verify``: the
    store's hash chain)."""
    if ctx.invoked_subcommand is not None:
        return
    # Optional here only so that ``audit verify`` needs no token; the log itself does.
    if token is None:
        raise usage("missing option '--token' (or CLEANROOM_TOKEN)")
    if collaboration is None:
        raise usage("missing option '-c' / '--collaboration' (or CLEANROOM_COLLABORATION)")
    with connected(url, token, collaboration) as cr:
        log = cr.audit(limit=limit, action=action, party=party, since=since)
    entries = log.get("entries", [])
    # The route may not filter yet: the filters hold here either way.
    entries = [e for e in entries if (action is None or e.get("action") == action)
               and (party is None or e.get("party") == party)][:limit]
    if as_json:
        print(json.dumps({**log, "entries": entries}, indent=2))
        return
    Console(highlight=False).print(render.audit_table(entries))


def attribution(
    model: Annotated[str, typer.Option("--model", help="first_touch, last_touch, linear, ...")],
    touchpoints: Annotated[str, typer.Option("--touchpoints")],
    conversions: Annotated[str, typer.Option("--conversions")],
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    revenue: Annotated[str | None, typer.Option("--revenue")] = None,
    half_life_days: Annotated[float, typer.Option("--half-life-days")] = 7.0,
    order: Annotated[int, typer.Option("--order", help="Markov order")] = 1,
    epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
    output: Output = None,
) -> None:
    """Credit conversions and revenue to the values of a touchpoint dimension."""
    chosen = choose_format("json" if as_json else fmt, output)
    options = {"half_life_days": half_life_days, "order": order}
    with connected(url, token, collaboration) as cr:
        emit(lambda f: cr.attribution(
            collaboration, model, touchpoints, conversions, dimension, lookback_days=lookback_days,
            revenue=revenue, epsilon=epsilon, options=options, format=f), chosen, output)


def run_analytic(url: str, token: str, collaboration: str, name: str, body: dict[str, Any],
                 fmt: str | None, output: Path | None) -> None:
    chosen = choose_format(fmt, output)
    with connected(url, token, collaboration) as cr:
        emit(lambda f: cr.analytics(collaboration, name, body, format=f), chosen, output)


# -- shared by the answer commands ------------------------------------------------------
def read_sql(sql: str | None, file: Path | None) -> str:
    if (sql is None) == (file is None):
        raise usage("give the query either as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise usage(f"cannot read {file}: {exc.strerror}") from None
    assert sql is not None
    return sys.stdin.read() if sql == "-" else sql


def choose_format(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise usage(f"--format must be one of {', '.join(FORMATS)}")
        return fmt
    if output is not None:
        return BY_EXTENSION.get(output.suffix.lower(), "csv")
    return "table" if sys.stdout.isatty() else "csv"


def emit(ask: Callable[[Format], Answer], fmt: str, output: Path | None) -> None:
    """Ask in the wire format ``fmt`` needs and write the answer to ``output`` or stdout."""
    binary = fmt in ("arrow", "parquet")
    if binary and output is None and sys.stdout.isatty():
        raise usage(f"{fmt} is binary: give --output FILE or redirect stdout")
    wire: Format = {"table": "json", "parquet": "arrow"}.get(fmt, fmt)  # type: ignore[assignment]
    answer = ask(wire)
    if fmt == "table":
        if output is None:
            render.print_answer(Console(highlight=False), answer)
        else:
            with output.open("w", encoding="utf-8") as f:
                render.print_answer(Console(file=f, width=200, highlight=False), answer)
        return
    content = (formats.parquet_bytes(formats.to_table(answer.body())) if fmt == "parquet"
               else json.dumps(answer.body(), indent=2).encode() + b"\n" if fmt == "json"
               else answer.content)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(content)
    if not answer.exact:
        err.print(f"note: {render.answer_summary(answer)}; withheld cells are empty and noised "
                  "ones approximate (row_status in the JSON, Arrow metadata or CSV headers)",
                  markup=False)


__all__ = ["analytics_app", "register", "run_analytic"]
