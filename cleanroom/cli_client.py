"""``cleanroom attribution`` and ``cleanroom analytics NAME``: HTTP clients of a running service.

Each command posts one request and prints the answer as a table (``--json`` for the raw body).
A refusal prints the service's error body on stderr and exits 1; an unreachable service exits 2.
``--url``, ``--token`` and ``--collaboration`` can come from ``CLEANROOM_URL``,
``CLEANROOM_TOKEN`` and ``CLEANROOM_COLLABORATION``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import httpx
import typer

Url = Annotated[str, typer.Option("--url", envvar="CLEANROOM_URL", help="the service")]
Token = Annotated[str, typer.Option("--token", envvar="CLEANROOM_TOKEN", help="bearer token")]
Collab = Annotated[str, typer.Option("--collaboration", envvar="CLEANROOM_COLLABORATION")]
Epsilon = Annotated[float | None, typer.Option("--epsilon", help="ask for a DP answer")]
AsJson = Annotated[bool, typer.Option("--json", help="print the raw JSON answer")]
Lookback = Annotated[float, typer.Option("--lookback-days")]
DEFAULT_URL = "http://127.0.0.1:8000"

analytics_app = typer.Typer(no_args_is_help=True, help="Built-in audience analytics (gated).")


def register(app: typer.Typer) -> None:
    """Add ``attribution`` and the ``analytics`` group to the main command line."""
    app.command("attribution")(attribution)
    app.add_typer(analytics_app, name="analytics")


def attribution(
    model: Annotated[str, typer.Option("--model", help="first_touch, last_touch, linear, ...")],
    touchpoints: Annotated[str, typer.Option("--touchpoints")],
    conversions: Annotated[str, typer.Option("--conversions")],
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    revenue: Annotated[str | None, typer.Option("--revenue")] = None,
    half_life_days: Annotated[float, typer.Option("--half-life-days")] = 7.0,
    order: Annotated[int, typer.Option("--order", help="Markov order")] = 1,
    epsilon: Epsilon = None, as_json: AsJson = False,
) -> None:
    """Credit conversions and revenue to the values of a touchpoint dimension."""
    body = {"model": model, "touchpoints": touchpoints, "conversions": conversions,
            "dimension": dimension, "lookback_days": lookback_days, "revenue": revenue,
            "epsilon": epsilon, "options": {"half_life_days": half_life_days, "order": order}}
    _show(post(url, token, f"/v1/collaborations/{collaboration}/attribution", body), as_json)


@analytics_app.command("overlap")
def overlap(a: Annotated[str, typer.Option("--a")], b: Annotated[str, typer.Option("--b")],
            token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
            epsilon: Epsilon = None, as_json: AsJson = False) -> None:
    """Distinct people in dataset A, in B, and in both."""
    _analytic(url, token, collaboration, "overlap", {"a": a, "b": b, "epsilon": epsilon}, as_json)


@analytics_app.command("reach-frequency")
def reach_frequency(
    dataset: Annotated[str, typer.Option("--dataset")],
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
    max_frequency: Annotated[int, typer.Option("--max-frequency")] = 10,
    epsilon: Epsilon = None, as_json: AsJson = False,
) -> None:
    """People reached, average frequency and the frequency distribution per dimension value."""
    body = {"dataset": dataset, "dimension": dimension, "max_frequency": max_frequency,
            "epsilon": epsilon}
    _analytic(url, token, collaboration, "reach-frequency", body, as_json)


@analytics_app.command("top-paths")
def top_paths(
    touchpoints: Annotated[str, typer.Option("--touchpoints")],
    conversions: Annotated[str, typer.Option("--conversions")],
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    n: Annotated[int, typer.Option("--n", help="how many paths")] = 10,
    max_length: Annotated[int, typer.Option("--max-length")] = 5,
    epsilon: Epsilon = None, as_json: AsJson = False,
) -> None:
    """The paths (last touches before the first conversion) with the most converting people."""
    body = {"touchpoints": touchpoints, "conversions": conversions, "dimension": dimension,
            "lookback_days": lookback_days, "n": n, "max_length": max_length, "epsilon": epsilon}
    _analytic(url, token, collaboration, "top-paths", body, as_json)


@analytics_app.command("time-to-conversion")
def time_to_conversion(
    touchpoints: Annotated[str, typer.Option("--touchpoints")],
    conversions: Annotated[str, typer.Option("--conversions")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    epsilon: Epsilon = None, as_json: AsJson = False,
) -> None:
    """Converting people by time from their first touch in the window to their conversion."""
    body = {"touchpoints": touchpoints, "conversions": conversions,
            "lookback_days": lookback_days, "epsilon": epsilon}
    _analytic(url, token, collaboration, "time-to-conversion", body, as_json)


@analytics_app.command("rfm")
def rfm(
    dataset: Annotated[str, typer.Option("--dataset")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
    metric: Annotated[str | None, typer.Option("--metric")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601; default end of today")] = None,
    epsilon: Epsilon = None, as_json: AsJson = False,
) -> None:
    """People and the metric per recency / frequency / monetary quintile segment."""
    body = {"dataset": dataset, "metric": metric, "as_of": as_of, "epsilon": epsilon}
    _analytic(url, token, collaboration, "rfm", body, as_json)


def _analytic(url: str, token: str, collaboration: str, name: str, body: dict[str, Any],
              as_json: bool) -> None:
    _show(post(url, token, f"/v1/collaborations/{collaboration}/analytics/{name}", body), as_json)


def post(url: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` (None values left out); exit 1 with the error body on a refusal."""
    payload = {k: v for k, v in body.items() if v is not None}
    try:
        response = httpx.post(url.rstrip("/") + path, json=payload, timeout=600,
                              headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {url}: {type(exc).__name__}", file=sys.stderr)
        raise typer.Exit(2) from None
    if response.status_code >= 400:
        print(response.text, file=sys.stderr)
        raise typer.Exit(1)
    answer: dict[str, Any] = response.json()
    return answer


def _show(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer, indent=2))
        return
    print(format_table(answer["columns"], answer["rows"], answer.get("confidence_intervals")))
    suppressed = answer.get("suppressed_rows")
    print(f"suppressed rows: {'not released (DP)' if suppressed is None else suppressed}")
    print(f"epsilon spent: {answer.get('epsilon_spent', 0):g}")


def format_table(columns: list[str], rows: list[list[Any]],
                 intervals: list[list[Any]] | None = None) -> str:
    """Aligned plain text; under DP each noised cell shows its 95% interval.

    >>> print(format_table(["channel", "conversions"], [["search", 12.5], ["email", None]]))
    channel  conversions
    search   12.50
    email    -
    """
    cells = [[_cell(v, None if intervals is None else intervals[i][j])
              for j, v in enumerate(row)] for i, row in enumerate(rows)]
    table = [list(columns), *cells]
    widths = [max(len(r[j]) for r in table) for j in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


def _cell(value: Any, interval: list[float] | None) -> str:
    text = "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
    if interval is not None:
        text += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
    return text
