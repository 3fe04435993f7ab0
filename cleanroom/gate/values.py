"""The value side of the column rules: public ranges of per-row values, and whether a value
may leave its SELECT to be summed later (``ExpressionRules`` mixes this in).

A value computed outside an aggregate across people cannot have its parts recorded there, so
it must be uniform (``parts.uniform``), or carry its values (a CASE of constants: ``carry``).
"""

from __future__ import annotations

import math
from dataclasses import replace

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate import aggregates
from cleanroom.gate.model import NUMBERS, K, widest
from cleanroom.gate.nodes import output_name
from cleanroom.gate.parts import parts_of, uniform
from cleanroom.gate.ranges import Range, constant_of, hull, range_of
from cleanroom.gate.scope import Scope
from cleanroom.gate.walk import copy_tree


class ValueRules:
    """Ranges and uniformity over one SELECT's scope."""

    scope: Scope
    private: bool = False  # a noised answer: values are clamped where summed, parts do not count

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> K:
        raise NotImplementedError

    def leaving(self, node: exp.Expr, kind: K) -> K:
        """A per-row value leaving its SELECT (a column of people's rows, or a per-user
        aggregate's argument) may be summed later, where its parts are out of sight: it must be
        one part, or terms of one scale and range (``parts.uniform``)."""
        if self.private or kind not in (K.MET, K.CNT, K.NUM) or self.uniform(node.unalias()):
            return kind
        if kind is K.MET:
            return self.fail("metric_transform", node, "a metric scaled or offset differently "
                             "by branch or term, outside an aggregate across people")
        return K.VAL

    def uniform(self, node: exp.Expr) -> bool:
        found = parts_of(node, self.carried)
        if not uniform(found) or found is None or len(found) <= 1:
            return uniform(found)
        ranges = {self.range_of(p.leaf) for p in found if p.leaf is not None}
        return len(ranges) == 1 and None not in ranges

    # -- ranges ------------------------------------------------------------------------
    def range_of(self, node: exp.Expr) -> Range | None:
        """The public range of a per-row value here (``ranges.range_of`` over this scope)."""
        return range_of(node, self._range_leaf)

    def ranges_of(self, projections: list[exp.Expr]) -> dict[str, Range]:
        """The ranges of a SELECT's columns, but for values whose parts would be lost (a CASE
        of 1000000 and 1 is bounded, yet no later sum may take it)."""
        found = {output_name(p).lower(): (self.range_of(p.unalias()) if self.private
                                          or self.uniform(p.unalias()) else self.carry(p.unalias()))
                 for p in projections}
        return {name: r for name, r in found.items() if r is not None}

    def carry(self, node: exp.Expr) -> Range | None:
        """The range of a column made by a CASE of constants and at most one uniform other
        branch, with its values: a later sum counts a part per value (the 40/20/40 weight of
        the dbt playbook, computed in a CTE)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            return self.carried(node)
        outputs = _branch_outputs(node)
        if outputs is None:
            return None
        consts = [constant_of(o) for o in outputs]
        others = [o for o, c in zip(outputs, consts) if c is None]
        found = self.range_of(node)
        if (found is None or not found.bounded or len(others) > 1 or len(others) == len(outputs)
                or not all(self.uniform(o) for o in others)):
            return None
        values = tuple(sorted({c for c in consts if c is not None}))
        return replace(found, values=values, other=bool(others))

    def defined(self, col: exp.Column) -> exp.Expr | None:
        """The definition of a column refused where read but for aggregates across people
        (``Rel.definitions``), its columns qualified with the alias it is read through."""
        found = self.scope.resolve(col)
        if isinstance(found, Violation):
            return None
        rel = self.scope.sources.get(found[0])
        definition = rel.definitions.get(col.name.lower()) if rel is not None else None
        if definition is None:
            return None
        copy = copy_tree(definition)
        for ref in list(copy.find_all(exp.Column)):
            ref.set("table", exp.to_identifier(found[0]))
        return copy

    def carried(self, col: exp.Column) -> Range | None:
        found = self._range_leaf(col)
        return found if found is not None and found.values is not None else None

    def _range_leaf(self, node: exp.Expr) -> Range | None:
        if isinstance(node, exp.Column):
            found = self.scope.resolve(node)
            if isinstance(found, Violation):
                return None
            rel = self.scope.sources.get(found[0])
            known = rel.ranges.get(node.name.lower()) if rel is not None else None
            return known or (COUNT_RANGE if found[1] is K.CNT else None)
        return aggregates.range_of_call(self, node)


    def _bounded(self, node: exp.Expr) -> bool:
        found = self.range_of(node)
        return found is not None and found.bounded


COUNT_RANGE = Range(0.0, math.inf, integer=True)  # a count of a person's rows
# Functions whose result's range follows from their arguments' (``ranges.py``).
RANGED = frozenset({"Coalesce", "Nullif", "Greatest", "Least", "Abs", "Round", "Floor", "Ceil",
                    "Sign"})
# Of those, the ones a metric may pass through (rounding and sign would turn one into a
# threshold test: floor(revenue / 777.77)).
RANGED_METRIC = frozenset({"Coalesce", "Nullif", "Greatest", "Least", "Abs"})


def union_column(kinds: tuple[K, K], ranges: tuple[Range | None, Range | None]
                 ) -> tuple[K, Range | None]:
    """A column of a set operation of people's rows: its kind and range. Branches that give it
    different non-zero scales (``cost * 1000000`` in one, ``cost`` in the other; the constants
    1000000 and 1) would pack one branch's rows into a later sum: such a column is not summable.

    >>> union_column((K.MET, K.CONST), (Range(0.0, 100.0), Range(0.0, 0.0)))
    (<K.MET: 'met'>, Range(lo=0.0, hi=100.0, integer=False))
    >>> union_column((K.CONST, K.CONST), (Range(1, 1), Range(1000000, 1000000)))[0]
    <K.VAL: 'val'>
    """
    left, right = kinds
    if K.BANNED in kinds:
        return K.BANNED, None  # a column refused where it is read stays refused
    kind = left if left is right else widest([left, right])
    found = None if None in ranges else hull(list(ranges))
    if kind not in (K.MET, K.CONST, *NUMBERS):
        return kind, None  # a value whose range alone would make it summable: not across branches
    nonzero = [r for r in ranges if r is None or not r.lo == r.hi == 0]
    if len(nonzero) == 2 and (nonzero[0] != nonzero[1] or None in nonzero):
        return K.VAL, None  # unknown ranges too: date_diff from a constant sets a magnitude
    return kind, found


def _branch_outputs(node: exp.Expr) -> list[exp.Expr] | None:
    """The values a CASE / IF / COALESCE yields, NULLs left out (None for other nodes)."""
    if isinstance(node, (exp.Case, exp.If)):
        pairs, default = case_parts(node)
        found = [then for _, then in pairs] + ([default] if default is not None else [])
    elif isinstance(node, exp.Coalesce):
        found = [node.this, *node.expressions]
    else:
        return None
    return [o for o in found if not _is_null(o)]


def case_parts(node: exp.Expr) -> tuple[list[tuple[exp.Expr, exp.Expr]], exp.Expr | None]:
    if isinstance(node, exp.If):
        return [(node.this, node.args["true"])], node.args.get("false")
    return [(w.this, w.args["true"]) for w in node.args.get("ifs") or []], node.args.get("default")


def _is_null(node: exp.Expr | None) -> bool:
    return node is None or isinstance(node, exp.Null)
