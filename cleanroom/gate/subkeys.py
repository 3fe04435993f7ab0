"""Per-person sub-keys: GA4's ``CONCAT(user_pseudo_id, session_id)`` inside COUNT(DISTINCT ...).

A concatenation whose first argument is a user_key and whose others are no metric counts a
person's (session, day, ...) pairs; anywhere but inside COUNT(DISTINCT ...) it is a transformed
user_key (``expressions.py`` refuses it there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from cleanroom.gate.model import K
from cleanroom.gate.nodes import output_name
from cleanroom.gate.walk import copy_tree

if TYPE_CHECKING:
    from cleanroom.gate.scope import Scope

# Concatenations that make a per-person sub-key (GA4's CONCAT(user_pseudo_id, session_id)).
SUB_KEYS = frozenset({"Concat", "ConcatWs"})


def sub_key(kinds: list[K], first: int) -> bool:
    """One user_key, first, beside values that are no metric: inside COUNT(DISTINCT ...) it
    counts a person's (session, day, ...) pairs, as COUNT(*) over a CTE grouped by user_key and
    those values would; anywhere else it is a transformed user_key. First, because a user_key is
    64 hex characters: what follows it cannot make two people's keys collide."""
    return (len(kinds) > first and kinds[first] is K.UID and kinds.count(K.UID) == 1
            and not {K.MET, K.BANNED} & set(kinds))


def null_with_person(node: exp.Expr, person: exp.Expr) -> None:
    """CONCAT skips NULLs: ``CONCAT(c.user_key, '-', x)`` over an outer join's missing side
    would count distinct values of x, not people. The sub-key is made NULL with its user_key
    (the same value wherever there is a person). The node itself stays in the tree."""
    case = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=copy_tree(person),
                                                         expression=exp.Null())),
                                true=exp.Null())])
    node.replace(case)
    case.args["ifs"][0].set("true", node)


def row_origins(sel: exp.Select, scope: Scope) -> dict[str, str]:
    """``Rel.row_origins`` of a SELECT of people's rows: each projection that is a column (maybe
    cast) naming a user_key or a dimension of a dataset read here, or of a relation that passed
    it on so, tagged with that dataset row."""
    found: dict[str, str] = {}
    for proj in sel.expressions:
        value = proj.unalias()
        while isinstance(value, exp.Cast):
            value = value.this
        if not isinstance(value, exp.Column) or isinstance(value.this, exp.Star):
            continue
        hit = scope.resolve(value)
        if not isinstance(hit, tuple) or hit[1] not in (K.UID, K.DIM) or id(value) in \
                scope.outer_refs:
            continue
        source = scope.sources.get(hit[0])
        if source is None:
            continue
        tag = f"{id(sel)}:{hit[0]}" if source.base else source.row_origins.get(value.name.lower())
        if tag is not None:
            found[output_name(proj).lower()] = tag
    return found
