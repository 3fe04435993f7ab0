"""Values the gate's stages pass along: what a relation carries, and the plan for each SELECT."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sqlglot import exp


class K(str, Enum):
    """What a value is, for the rules: the lattice CONST < SAFE < DIM < MET, with UID apart.

    SAFE values are aggregates over enough people (thresholded) and may be output.
    """

    CONST = "const"
    SAFE = "safe"
    DIM = "dim"
    MET = "met"
    UID = "uid"
    BANNED = "banned"


_ORDER = {K.CONST: 0, K.SAFE: 1, K.DIM: 2, K.MET: 3}


def widest(kinds: list[K]) -> K:
    """The kind of a value computed from values of ``kinds`` (UID is handled by the caller).

    >>> widest([K.CONST, K.DIM, K.SAFE])
    <K.DIM: 'dim'>
    """
    return max((k for k in kinds if k in _ORDER), key=_ORDER.__getitem__, default=K.CONST)


class Mode(str, Enum):
    """How a SELECT treats people's rows."""

    ROW = "row"  # row-level over people's rows: the output still belongs to people
    PER_USER = "per_user"  # GROUP BY user_key: one row per person (and group)
    ANONYMIZING = "anonymizing"  # aggregates people's rows: every row is thresholded
    ANON = "anon"  # over already-thresholded rows (or no table at all)


@dataclass
class Rel:
    """A relation as the gate sees it: its columns' kinds, and whether rows belong to people."""

    columns: list[tuple[str, K]]
    bearing: bool
    uid_column: str | None = None  # the column naming the person, in the rendered SQL

    def kind(self, name: str) -> K | None:
        found = [k for n, k in self.columns if n == name]
        return found[0] if len(found) == 1 else (None if not found else K.BANNED)

    def names(self) -> list[str]:
        return [n for n, k in self.columns if k is not K.BANNED]


@dataclass
class SelectPlan:
    """What the rewriter must do to one SELECT (keyed by the node's id)."""

    mode: Mode
    final: bool
    uid_expr: exp.Expr | None = None
    supports: list[exp.Expr] = field(default_factory=list)  # FILTER conditions to count people
    propagate_uid: bool = False
    distinct_to_group: bool = False
    cte_alias: exp.TableAlias | None = None


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of the final output, for the noise plan."""

    column: str
    function: str  # count | count_distinct_users | sum | avg
    argument: str | None = None


@dataclass(frozen=True)
class QueryShape:
    """The checked, normalized query and what the rewriter needs to know about it."""

    tree: exp.Expr
    plans: dict[int, SelectPlan]
    columns: tuple[str, ...]
    final_mode: Mode
    final_aggregates: tuple[Aggregate, ...] = ()
    tables: tuple[str, ...] = ()
