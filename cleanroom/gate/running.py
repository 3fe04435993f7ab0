"""Running counts over people's rows: the reach curve of Snowflake's reach & frequency
quickstart, ``SELECT DISTINCT firstday, COUNT(user_key) OVER (ORDER BY firstday) FROM
firstseen``.

Such a SELECT is one row per value of its keys, and each row's count is that of every row up
to and including its keys' group. It is the aggregation

    SELECT firstday, CAST(SUM(COUNT(user_key)) OVER (ORDER BY firstday) AS BIGINT) ...
    GROUP BY firstday

whose window runs over *every* group (the thresholds are applied after it, ``rewrite.py``),
so each released number is the raw one. A running total differences by construction: two
consecutive rows differ by one group's count. So a row is released only when its own group
stands on k people (its ``__cr_n``; a count of ``x`` also needs its support, the group's
people with a non-NULL ``x``). Between two released rows the count then grows by at least
the later row's own group, k people or more; a small group is withheld and its people are
counted in the next released row, which is what raw DuckDB says there too.

Only that shape is read this way (anything else stays ``cross_user_window``):

- ``SELECT DISTINCT`` over people's rows, no GROUP BY, HAVING or QUALIFY;
- every projection is a plain value (a key) or the window, and every window is the same
  ``COUNT(*)`` or ``COUNT(x)`` (no DISTINCT, no FILTER; a count of ``x`` also needs its
  support, so a running count of a condition few people meet is withheld), with the default
  frame (or ``RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW``): two different running
  counts in one row could be subtracted (a running count of everyone beside one of everyone but
  the target differs by the target's rows in every later row, where no group is small);
- every PARTITION BY and ORDER BY item is also output (a key), so the rows of one
  group are peers and DISTINCT leaves one row per group (ordering by a column not output
  would give a group's rows different counts, and DISTINCT would then output as many rows
  as the group has distinct values: its size).
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import K
from cleanroom.gate.nodes import CONSTANTS, canonical
from cleanroom.gate.scope import Scope
from cleanroom.gate.walk import copy_tree, sql_text

_CLAUSES = ("group", "having", "qualify")


def running_counts(sel: exp.Select, scope: Scope) -> None:
    """Rewrite ``sel`` in place into its grouped form when it has the shape above, and
    record its windows in ``scope.running`` (``aggregates.check_window`` reads them)."""
    distinct = sel.args.get("distinct")
    if distinct is None or distinct.args.get("on") or not scope.bearing:
        return
    if any(sel.args.get(c) for c in _CLAUSES):
        return
    windows = [p.unalias() for p in sel.expressions if isinstance(p.unalias(), exp.Window)]
    keys = [p.unalias() for p in sel.expressions if not isinstance(p.unalias(), exp.Window)]
    if not windows or not keys or any(_nested_call(k) or isinstance(k, CONSTANTS) for k in keys):
        return
    if any(_names_person(k, scope) for k in keys):
        return  # beside user_key it is a window over one person's rows (aggregates.py)
    shape = sql_text(windows[0])
    if any(sql_text(w) != shape for w in windows) or not _counts_rows(windows[0]):
        return
    output = {canonical(k, scope) for k in keys}
    if not all(canonical(c, scope) in output for c in _ordering(windows[0])):
        return
    for window in windows:
        count = window.this
        window.set("this", exp.Sum(this=count))
        window.replace(exp.Cast(this=copy_tree(window), to=exp.DataType.build("BIGINT")))
    sel.set("distinct", None)
    sel.set("group", exp.Group(expressions=[copy_tree(k) for k in keys]))
    scope.running.update(id(w) for p in sel.expressions for w in p.find_all(exp.Window))


def _names_person(node: exp.Expr, scope: Scope) -> bool:
    for col in node.find_all(exp.Column):
        found = scope.resolve(col)
        if isinstance(found, tuple) and found[1] is K.UID:
            return True
    return False


def _nested_call(node: exp.Expr) -> bool:
    return any(isinstance(n, (exp.Window, exp.AggFunc, exp.Subquery, exp.Select))
               for n in node.walk())


def _counts_rows(window: exp.Window) -> bool:
    """``COUNT(*)`` or ``COUNT(x)`` (not DISTINCT: people would count once per group, not once)
    with the default frame. The aggregate rules check ``x`` as in any COUNT across people."""
    count = window.this
    if not isinstance(count, exp.Count) or count.args.get("expressions"):
        return False
    if isinstance(count.this, exp.Distinct):
        return False
    return _default_frame(window.args.get("spec"))


def _default_frame(spec: exp.Expr | None) -> bool:
    """No frame, or RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (the default)."""
    if spec is None:
        return True
    found = {k: str(v).upper() for k, v in spec.args.items() if v}
    return found == {"kind": "RANGE", "start": "UNBOUNDED", "start_side": "PRECEDING",
                     "end": "CURRENT ROW"}


def _ordering(window: exp.Window) -> list[exp.Expr]:
    order = window.args.get("order")
    return [*(window.args.get("partition_by") or []),
            *(o.this for o in (order.expressions if order else []))]
