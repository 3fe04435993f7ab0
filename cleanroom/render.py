"""Rich tables of the client's answers, shared by the CLI and the demo.

Every cell goes in as ``rich.text.Text``, never as markup: a value such as ``[red]`` prints as
itself. A withheld cell reads ``withheld``; a noised one ``~value [low, high]`` (its 95%
interval); a table with a row that is not exact gets a ``status`` column, so that no number
the threshold or the noise changed looks exact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cleanroom.client_answers import Answer, Check
from cleanroom.client_errors import ApiError
from cleanroom.errors import Violation

TEXT_COLUMNS = ("channel", "campaign", "path", "segment", "model", "dimension")


def cell(value: Any) -> str:
    """>>> cell(1234567), cell(2.5), cell(None), cell(True), cell([1, 2])
    ('1,234,567', '2.50', '-', 'true', '[1, 2]')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def answer_table(answer: Answer, *, title: str | None = None) -> Table:
    table = Table(title=None if title is None else Text(title), title_justify="left")
    for j, column in enumerate(answer.columns):
        numeric = any(isinstance(r[j], int | float) and not isinstance(r[j], bool)
                      for r in answer.rows)
        table.add_column(Text(column), justify="right" if numeric and column not in TEXT_COLUMNS
                         else "left")
    flagged = not answer.exact and answer.rows
    if flagged:
        table.add_column("status")
    withheld = {(r, c) for r, c in answer.withheld_cells}
    intervals = answer.confidence_intervals
    for i, row in enumerate(answer.rows):
        cells = [_cell_text(v, (i, j) in withheld,
                            None if intervals is None else intervals[i][j])
                 for j, v in enumerate(row)]
        if flagged:
            cells.append(Text(answer.row_status[i] if i < len(answer.row_status) else "?"))
        table.add_row(*cells)
    return table


def _cell_text(value: Any, withheld: bool, interval: list[float] | None) -> Text:
    if withheld:
        return Text("withheld", style="dim")
    if interval is None:
        return Text(cell(value))
    low, high = ((round(b) for b in interval) if isinstance(value, int) else interval)
    return Text(f"~{cell(value)} [{cell(low)}, {cell(high)}]")


def answer_summary(answer: Answer) -> str:
    """One line under the table: rows and how far they can be trusted, and what was spent."""
    counts = {s: answer.row_status.count(s) for s in dict.fromkeys(answer.row_status)}
    status = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no rows"
    suppressed = ("not released (DP)" if answer.suppressed_rows is None
                  else str(answer.suppressed_rows))
    parts = [f"{len(answer.rows)} rows ({status})", f"suppressed rows: {suppressed}",
             f"epsilon spent: {answer.epsilon_spent:g}"]
    if answer.extra.get("epsilon_remaining") is not None:
        parts.append(f"remaining: {answer.extra['epsilon_remaining']:g}")
    if answer.query_id:
        parts.append(f"query {answer.query_id}")
    return " · ".join(parts)


def print_answer(console: Console, answer: Answer, *, title: str | None = None) -> None:
    console.print(answer_table(answer, title=title))
    console.print(Text(answer_summary(answer), style="dim"), soft_wrap=True)


def violation_lines(violations: Iterable[Violation]) -> list[str]:
    """>>> violation_lines([Violation("user_key_output", "no", line=2, col=8, hint="COUNT it")])
    ['  - user_key_output (line 2, column 8): no', '      hint: COUNT it']
    """
    lines = []
    for v in violations:
        where = "" if v.line is None else f" (line {v.line}" + (
            "" if v.col is None else f", column {v.col}") + ")"
        lines.append(f"  - {v.rule}{where}: {v.message}")
        if v.hint:
            lines.append(f"      hint: {v.hint}")
    return lines


def print_error(console: Console, error: ApiError) -> None:
    status = "" if error.status == 0 else f", HTTP {error.status}"
    console.print(Text(f"error: {error.message} ({error.code}{status})", style="bold red"))
    for line in violation_lines(error.violations):
        console.print(Text(line))


def print_check(out: Console, err: Console, check: Check) -> None:
    if not check.accepted:
        err.print(Text("rejected: the gate refuses this query", style="bold red"))
        for line in violation_lines(check.violations):
            err.print(Text(line))
        return
    facts = {"decision": "accepted", "mode": check.mode, "columns": ", ".join(check.columns),
             **{k: v for k, v in check.extra.items() if k in ("epsilon", "min_users_per_row")}}
    out.print(key_values(facts))
    if check.extra.get("noise"):
        out.print(Text("noise: " + json.dumps(check.extra["noise"])))
    out.print(Text("SQL that would run:", style="bold"))
    out.print(Text(check.sql or ""), soft_wrap=True)


def key_values(values: Mapping[str, Any], *, title: str | None = None) -> Table:
    table = Table(show_header=False, title=None if title is None else Text(title),
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(Text(key), Text(cell(value)))
    return table


def datasets_table(info: Mapping[str, Any]) -> Table:
    table = Table(title=Text(f"{info['collaboration']} (policy version {info['policy_version']})"),
                  title_justify="left")
    for name in ("dataset", "provider", "version", "rows", "columns"):
        table.add_column(name, justify="right" if name in ("version", "rows") else "left")
    for name, ds in info["datasets"].items():
        columns = ", ".join(f"{c} ({spec['kind']})" for c, spec in ds["columns"].items())
        version = "not uploaded" if ds.get("version") is None else str(ds["version"])
        table.add_row(Text(name), Text(ds["provider"]), Text(version), Text(cell(ds.get("rows"))),
                      Text(columns))
    return table


def budget_tables(budget: Mapping[str, Any]) -> list[Table]:
    head = key_values({k: budget[k] for k in ("party", "epsilon_budget", "epsilon_spent",
                                              "epsilon_remaining") if k in budget},
                      title="privacy budget")
    history = Table(title="charges", title_justify="left")
    for name in ("at", "query_id", "epsilon", "running_total"):
        history.add_column(name)
    for charge in budget.get("history") or []:
        history.add_row(*(Text(cell(charge.get(k))) for k in ("at", "query_id", "epsilon",
                                                             "running_total")))
    return [head, history]


def audit_table(entries: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="audit", title_justify="left")
    for name in ("id", "at", "party", "action", "decision", "query_id", "detail"):
        table.add_column(name, overflow="fold")
    for e in entries:
        at = e.get("at")
        when = (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))
                if isinstance(at, int | float) else cell(at)[:19].replace("T", " "))
        table.add_row(Text(cell(e.get("id"))), Text(when), Text(cell(e.get("party"))),
                      Text(cell(e.get("action"))), Text(cell(e.get("decision"))),
                      Text(cell(e.get("query_id"))),
                      Text(json.dumps(e.get("detail"), sort_keys=True)))
    return table
