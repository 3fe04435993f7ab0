"""Values the gate's stages pass along: what a relation carries, and the plan for each SELECT."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sqlglot import exp

from cleanroom.gate.ranges import Range

# Meta of a SELECT the rewrite added or copied from one it rewrote: verify skips it.
COPY_META = "cr_copy"
# Meta of the ``(v) <> 0`` a SUM's support reads: SUM binds only numbers (and booleans), so
# the comparison with 0 cannot raise; only ``v`` itself is guarded (``guard.py``).
NUMERIC_NONZERO = "cr_numeric_nonzero"
# Sketches of people hold this many times k of the smallest person hashes
# (threshold.sketch, meet.records; compared by release.close_rows and meet's flags).
SKETCH_SIZE = 4


class K(str, Enum):
    """What a value is, for the rules.

    - CONST: no data at all. SAFE: an aggregate over enough people (thresholded), or a group key
      of an aggregation across people; it may be output.
    - DIM: a dataset's dimension as stored, or a time-preserving transform of one (date_trunc,
      a constant interval shift, a per-user MIN/MAX, LAG/LEAD). Only DIMs and constants may feed
      ``date_diff``, so no other value can be smuggled into a duration.
    - NUM: a number that may be summed across people: durations between DIMs, 0/1 indicators,
      and CNT, a count of a person's rows (per-user COUNT, ranks, COUNT windows), the only
      value a constant may be divided by (1.0 / touches, for linear attribution). VAL: any
      other value computed from rows; it may be grouped and filtered on, not summed.
    - MET: a metric (clamped to its bounds); UID: a user_key; BANNED: never readable.
    """

    CONST = "const"
    SAFE = "safe"
    CNT = "cnt"
    NUM = "num"
    DIM = "dim"
    VAL = "val"
    MET = "met"
    UID = "uid"
    BANNED = "banned"


_ORDER = {K.CONST: 0, K.SAFE: 1, K.CNT: 2, K.NUM: 2, K.DIM: 2, K.VAL: 3, K.MET: 4}
SUMMABLE = frozenset({K.CONST, K.CNT, K.NUM, K.MET})
NUMBERS = frozenset({K.CNT, K.NUM})


def widest(kinds: list[K]) -> K:
    """The kind of a value computed from values of ``kinds`` (UID is handled by the caller).

    >>> widest([K.CONST, K.DIM, K.SAFE])
    <K.DIM: 'dim'>
    >>> widest([K.NUM, K.DIM]), widest([K.CNT, K.NUM])
    (<K.VAL: 'val'>, <K.NUM: 'num'>)
    """
    known = [k for k in kinds if k in _ORDER]
    middle = {k for k in known if _ORDER[k] == 2}
    if len(middle) > 1:
        known.append(K.NUM if middle <= NUMBERS else K.VAL)
        known = [k for k in known if k not in middle or k is K.NUM]
    return max(known, key=_ORDER.__getitem__, default=K.CONST)


def computed(kinds: list[K]) -> K:
    """The kind of a value a function computes: data-derived results become VAL.

    >>> computed([K.DIM, K.CONST]), computed([K.SAFE])
    (<K.VAL: 'val'>, <K.SAFE: 'safe'>)
    """
    kind = widest(kinds)
    return K.VAL if kind in (K.DIM, K.NUM, K.CNT) else kind


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
    base: bool = False  # a dataset itself: its user_key is never NULL
    rows: tuple[tuple[exp.Expr, ...], ...] | None = None  # a constant relation's cells
    ranges: dict[str, Range] = field(default_factory=dict)  # public ranges, by lower-case name
    # An aggregation across people: the output columns that are its GROUP BY keys (one row per
    # value of them; () for one row), so a join on all of them cannot fan people's rows out.
    unique: tuple[str, ...] | None = None
    # Columns refused where read (K.BANNED, a metric on several scales) whose definition reads
    # only columns the relation passes on unchanged: an aggregate across people may take them,
    # its parts read off the definition (``parts.py``). By lower-case name, columns unqualified.
    definitions: dict[str, exp.Expr] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # such columns: the rule they broke
    # Columns of people's rows that are a dataset row's own user_key or dimension as stored
    # (maybe cast), by lower-case name: the tag names that dataset row (the SELECT and the
    # alias it was read through), so a per-person sub-key may take its parts from a CTE that
    # passes them on (``expressions._plain_sub_key``) only when they come from one row.
    row_origins: dict[str, str] = field(default_factory=dict)
    # Rows of people keyed by the person alone (``SELECT DISTINCT user_key``, ``GROUP BY
    # user_key``): no two rows have the same person (``people.one_row_per_person``).
    per_person: bool = False
    # Columns of people's rows computed per person over rows a FILTER or a branch split: the
    # hidden columns telling whether the person has a row on each side (``sides.py``).
    sides: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def kind(self, name: str) -> K | None:
        found = self._by_name().get(name.lower(), [])
        return found[0] if len(found) == 1 else None

    def duplicated(self, name: str) -> bool:
        return len(self._by_name().get(name.lower(), [])) > 1

    def _by_name(self) -> dict[str, list[K]]:
        """Kinds by lower-case name, rebuilt when ``columns`` is another list or another length
        (scanning the columns on every lookup was a twentieth of the gate's time)."""
        key = (id(self.columns), len(self.columns))
        cached = self.__dict__.get("_names")
        if cached is None or cached[0] != key:
            found: dict[str, list[K]] = {}
            for n, k in self.columns:
                found.setdefault(n.lower(), []).append(k)
            cached = (key, found, self.columns)  # holding the list keeps its id unique
            self.__dict__["_names"] = cached
        return cached[1]

    def names(self) -> list[str]:
        return [n for n, k in self.columns if k is not K.BANNED]


@dataclass
class Atoms:
    """Nodes of one SELECT that the rewriter evaluates in an inner query (by ``id``)."""

    aggregates: set[int] = field(default_factory=set)
    windows: set[int] = field(default_factory=set)
    key_hits: dict[int, int] = field(default_factory=dict)  # node id -> group key index
    alias_refs: set[int] = field(default_factory=set)  # columns naming a projection alias
    safe: set[int] = field(default_factory=set)  # user_key = user_key comparisons


@dataclass(frozen=True)
class Requirement:
    """People behind one aggregate across people who must reach the threshold.

    A *support* (``zero_ok`` False) must stand on at least ``min_users_per_row`` people or the
    aggregate is withheld. A *part* (``zero_ok`` True) of an aggregate (one branch of a CASE,
    one FILTER, one constant value a summed expression can take) must stand on nobody or on at
    least that many: a part few people take could otherwise be read off the total's magnitude.
    ``condition`` is qualified for the rewritten SQL, subqueries left as placeholders.
    *Holders* (``holding``, an order statistic such as a median): at least that many of the
    people whose rows pass ``condition`` must hold exactly the value it returns.
    A *vector* (``vector``) is no threshold: the rows of ``condition`` are another row set the
    aggregate's number turns on, for the combination check (``cells.vector_names``).
    """

    condition: exp.Expr
    zero_ok: bool = False
    holding: exp.Expr | None = None
    vector: bool = False


@dataclass
class SelectPlan:
    """What the rewriter must do to one SELECT (keyed by the node's id)."""

    mode: Mode
    final: bool
    uid_expr: exp.Expr | None = None
    supports: list[Requirement] = field(default_factory=list)  # all, deduplicated
    # Each aggregate's own requirements, by the id of its node in ``atoms.aggregates``.
    requirements: dict[int, list[Requirement]] = field(default_factory=dict)
    propagate_uid: bool = False
    distinct_to_group: bool = False
    cte_alias: exp.TableAlias | None = None
    group_keys: list[exp.Expr] = field(default_factory=list)  # explicit GROUP BY expressions
    atoms: Atoms = field(default_factory=Atoms)
    subqueries: dict[str, exp.Expr] = field(default_factory=dict)  # placeholders in supports
    # Per aggregate across people (node id): its argument's public range, when bounded.
    argument_ranges: dict[int, Range] = field(default_factory=dict)
    # Every row is a different person, never NULL: ``__cr_n`` is ``COUNT(*)``.
    one_row_per_person: bool = False
    # No two rows have the same person (NULL allowed): a row's values are its person's own.
    rows_per_person: bool = False
    # Hidden side columns this SELECT of people's rows outputs (``sides.py``): name, value.
    sides: list[tuple[str, exp.Expr]] = field(default_factory=list)


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
    # Each table's column types as the sandbox's views give them (``types.py``).
    types: dict[str, dict[str, str]] = field(default_factory=dict)
