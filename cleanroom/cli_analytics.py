"""``cleanroom analytics NAME``: the built-in audience analytics, through ``Client.analytics``."""

from __future__ import annotations

from typing import Annotated

import typer

from cleanroom.cli_client import (
    DEFAULT_URL,
    AsJson,
    Collab,
    Epsilon,
    FormatOpt,
    Lookback,
    Output,
    Token,
    Url,
    analytics_app,
    run_analytic,
)

Touchpoints = Annotated[str, typer.Option("--touchpoints")]
Conversions = Annotated[str, typer.Option("--conversions")]


def _fmt(as_json: bool, fmt: str | None) -> str | None:
    return "json" if as_json else fmt


@analytics_app.command("overlap")
def overlap(a: Annotated[str, typer.Option("--a")], b: Annotated[str, typer.Option("--b")],
            token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
            epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
            output: Output = None) -> None:
    """Distinct people in dataset A, in B, and in both."""
    run_analytic(url, token, collaboration, "overlap", {"a": a, "b": b, "epsilon": epsilon},
                 _fmt(as_json, fmt), output)


@analytics_app.command("reach-frequency")
def reach_frequency(
    dataset: Annotated[str, typer.Option("--dataset")],
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
    max_frequency: Annotated[int, typer.Option("--max-frequency")] = 10,
    epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
    output: Output = None,
) -> None:
    """People reached, average frequency and the frequency distribution per dimension value."""
    body = {"dataset": dataset, "dimension": dimension, "max_frequency": max_frequency,
            "epsilon": epsilon}
    run_analytic(url, token, collaboration, "reach-frequency", body, _fmt(as_json, fmt), output)


@analytics_app.command("top-paths")
def top_paths(
    touchpoints: Touchpoints, conversions: Conversions,
    dimension: Annotated[str, typer.Option("--dimension")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    n: Annotated[int, typer.Option("--n", help="how many paths")] = 10,
    max_length: Annotated[int, typer.Option("--max-length")] = 5,
    epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
    output: Output = None,
) -> None:
    """The paths (last touches before the first conversion) with the most converting people."""
    body = {"touchpoints": touchpoints, "conversions": conversions, "dimension": dimension,
            "lookback_days": lookback_days, "n": n, "max_length": max_length, "epsilon": epsilon}
    run_analytic(url, token, collaboration, "top-paths", body, _fmt(as_json, fmt), output)


@analytics_app.command("time-to-conversion")
def time_to_conversion(
    touchpoints: Touchpoints, conversions: Conversions,
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL, lookback_days: Lookback = 30.0,
    epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
    output: Output = None,
) -> None:
    """Converting people by time from their first touch in the window to their conversion."""
    body = {"touchpoints": touchpoints, "conversions": conversions,
            "lookback_days": lookback_days, "epsilon": epsilon}
    run_analytic(url, token, collaboration, "time-to-conversion", body, _fmt(as_json, fmt), output)


@analytics_app.command("rfm")
def rfm(
    dataset: Annotated[str, typer.Option("--dataset")],
    token: Token, collaboration: Collab, url: Url = DEFAULT_URL,
    metric: Annotated[str | None, typer.Option("--metric")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601; default end of today")] = None,
    epsilon: Epsilon = None, as_json: AsJson = False, fmt: FormatOpt = None,
    output: Output = None,
) -> None:
    """People and the metric per recency / frequency / monetary quintile segment."""
    body = {"dataset": dataset, "metric": metric, "as_of": as_of, "epsilon": epsilon}
    run_analytic(url, token, collaboration, "rfm", body, _fmt(as_json, fmt), output)
