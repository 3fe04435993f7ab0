"""Unknown names answered with the names that would work: a "did you mean" (difflib) and the
list to choose from. The names offered are those the gate resolves against (the policy's
datasets and their non-banned columns, and the CTEs, aliases and columns the analyst's own SQL
defines), never a data value; hidden names (``__cr``) are left out.

>>> print(unknown("unknown_table", "impresions", ["impressions", "conversions"]).message)
the table is not a dataset of this collaboration or a CTE: impresions; did you mean
'impressions'? (datasets and CTEs here: conversions, impressions)
>>> print(unknown("unknown_column", "search", [], quoted=True).message.split("; ")[1])
"search" names a column: write a string in single quotes, 'search'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from cleanroom.errors import Violation
from cleanroom.gate.rules import violation

HIDDEN = "__cr"
MAX_LISTED = 30
_WHAT = {"unknown_column": "columns here", "unknown_table": "datasets and CTEs here"}


def suggestion(name: str, valid: Iterable[str], what: str) -> str:
    """What to append to a refusal of ``name``: a "did you mean" and the names in ``valid``.

    >>> suggestion("impresions", ["impressions", "conversions"], "datasets")
    "; did you mean 'impressions'? (datasets: conversions, impressions)"
    """
    names = sorted({n for n in valid if not n.startswith(HIDDEN)})
    close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    text = f"; did you mean '{close[0]}'?" if close and close[0] != name.lower() else ""
    listed = ", ".join(names[:MAX_LISTED]) + (", ..." if len(names) > MAX_LISTED else "")
    return text + (f" ({what}: {listed})" if names else "")


def unknown(code: str, name: str, valid: Iterable[str], *, line: int | None = None,
            col: int | None = None, quoted: bool = False, detail: str | None = None) -> Violation:
    """An unknown table or column ``name``, with a suggestion from ``valid`` (the rule's own
    hint is kept: the suggestion and the names are in the message)."""
    more = suggestion(name, valid, _WHAT.get(code, "names here"))
    if quoted and code == "unknown_column" and not more.startswith("; did you mean"):
        # DuckDB reads "search" as a column name, as standard SQL does.
        short = name[:60]
        more = f'; "{short}" names a column: write a string in single quotes, \'{short}\'' + more
    return violation(code, (detail or name) + more, line=line, col=col)
