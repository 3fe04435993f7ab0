"""Columns of people's rows that no later aggregate may take as they are (a metric on several
scales, ``values.leaving``): refused where they are read rather than where they are defined, so
a CTE may keep one unused; and, when the definition reads only columns passed on beside it, a
later aggregate across people counts the parts of that definition (``Rel.definitions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.model import Atoms, K, Rel
from cleanroom.gate.nodes import output_name
from cleanroom.gate.scope import Scope
from cleanroom.gate.walk import copy_tree

if TYPE_CHECKING:
    from cleanroom.gate.expressions import Ctx, ExpressionRules


def read_refused(rules: ExpressionRules, col: exp.Column, source: Rel, ctx: Ctx) -> K:
    """A read of a column so refused: summed across people with its definition (checked as if
    written here, its parts counted from it), else ``metric_transform`` with the rewrite."""
    definition = rules.defined(col) if col.name.lower() in source.definitions else None
    if definition is not None and ctx.across and ctx.in_aggregate and not ctx.filtering:
        kept = rules.atoms  # the copy is no node of the tree: nothing may be noted by its id
        rules.atoms = Atoms()
        try:
            return rules.check(definition, ctx)
        finally:
            rules.atoms = kept
    return rules.fail(source.refused.get(col.name.lower(), "metric_transform"), col,
                      f"{col.name}, computed outside an aggregate across people: write its "
                      "expression inside the final SUM, or beside the columns it reads")

_DEFERRED = frozenset({"metric_transform", "metric_case_default"})


def definition_of(proj: exp.Expr, sel: exp.Select, scope: Scope) -> exp.Expr | None:
    """``revenue * (CASE WHEN total_sessions = 1 THEN 1.0 ... END)`` with each column it reads
    also passed on unchanged, under its own name, by ``sel``: the same rows of the relation
    then hold what it is computed from, and a later sum can count its parts there. No
    aggregate, window or subquery (they do not stay on the row)."""
    value: exp.Expr | None = proj.unalias()
    if isinstance(value, exp.Column):
        # A refused column passed on as it is: its source's definition, if any, read through
        # the alias (else it would be defined as itself, and a later read expand it forever).
        value = _passed_on(value, scope)
    if value is None or value.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select,
                                   exp.Placeholder):
        return None
    passed = {}
    for p in sel.expressions:
        if isinstance(p.unalias(), exp.Column):
            found = scope.resolve(p.unalias())
            if isinstance(found, tuple):
                passed[(found[0], p.unalias().name.lower())] = output_name(p).lower()
    copy = copy_tree(value)
    for col in list(copy.find_all(exp.Column)):
        found = scope.resolve(col)
        name = passed.get((found[0], col.name.lower())) if isinstance(found, tuple) else None
        if name != col.name.lower():
            return None
        col.replace(exp.column(name))
    return copy


def _passed_on(col: exp.Column, scope: Scope) -> exp.Expr | None:
    found = scope.resolve(col)
    rel = scope.sources.get(found[0]) if isinstance(found, tuple) else None
    definition = rel.definitions.get(col.name.lower()) if rel is not None else None
    if definition is None or not isinstance(found, tuple):
        return None
    copy = copy_tree(definition)
    for ref in list(copy.find_all(exp.Column)):
        ref.set("table", exp.to_identifier(found[0]))
    return copy


def deferred(found: list[Violation]) -> bool:
    return bool(found) and all(v.rule in _DEFERRED for v in found)
