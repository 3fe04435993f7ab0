"""Which aggregates of one released row must be withheld so that no combination of the others
isolates a few people (Ads Data Hub's difference check, generalised from pairs to any linear
combination of the row's numbers).

Each aggregate of a row sums its *rows*: those meeting its support's condition (``None``: every
row of the group). The gate lists, per row, how many people hold each *pattern* of rows (which
conditions a row meets) and each pattern of people (the OR of a person's rows' patterns):
``gate/cells.py``. A released set of aggregates is safe in a space when no non-zero combination
of their indicator vectors is zero on every pattern of at least k people (such a combination
would be a number standing only on the few people of the small patterns), that is when the
vectors keep their rank once the small patterns are left out. Aggregates are released greedily,
the one on the most people first; an aggregate that would make the set unsafe is withheld.

>>> system = RowSystem(rows={3: 900, 1: 299, 0: 1}, people={3: 900, 1: 299, 0: 1},
...                    flagged=(False, False, False), counts=(1200, 1199, 900),
...                    bits=(-1, 0, 1))
>>> sorted(withheld_aggregates(system, 50))  # total, everyone but one, a part of them
[1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BASE = -1  # the bit of an aggregate over every row of its group
_PRIME = (1 << 61) - 1  # ranks mod this prime equal ranks over Q for 0/1 matrices this small


Bits = int | Sequence[int]  # one aggregate's vectors: one bit, or several (an average's)


@dataclass(frozen=True)
class RowSystem:
    """One row's patterns and aggregates (per aggregate, in the gate's order)."""

    rows: Mapping[int, int]  # row pattern -> people with a row of that pattern
    people: Mapping[int, int]  # person pattern -> people
    flagged: Sequence[bool]  # already withheld by the gate's own flags
    counts: Sequence[int]  # people behind each aggregate (order of release)
    # The pattern bit of each aggregate's condition, BASE for every row; or its bits, when its
    # number stands on two row sets (an average's sum and its count, ``cells.vector_names``):
    # it is released only with all of them.
    bits: Sequence[Bits]


def _vectors(bits: Bits) -> tuple[int, ...]:
    return (bits,) if isinstance(bits, int) else tuple(bits)


def withheld_aggregates(system: RowSystem, k: int) -> set[int]:
    """The aggregates (indexes) to withhold, the gate's flagged ones included.

    >>> split = RowSystem(rows={3: 900, 1: 299, 5: 1}, people={3: 900, 1: 299, 5: 1},
    ...                   flagged=(False,) * 3, counts=(1200, 1200, 1200),
    ...                   bits=(0, (0, 1), (0, 2)))  # AVG over all, high part, low part + one
    >>> sorted(withheld_aggregates(split, 50))
    [2]
    """
    withheld = {a for a, f in enumerate(system.flagged) if f}
    order = sorted((a for a in range(len(system.bits)) if a not in withheld),
                   key=lambda a: (-system.counts[a], a))
    kept: list[int] = []
    released: set[int] = set()
    for a in order:
        new = [b for b in dict.fromkeys(_vectors(system.bits[a])) if b not in kept]
        if not new or all(_safe([*kept, *new], space, k) for space in (system.rows, system.people)):
            kept += new
            released.add(a)
    return withheld | {a for a in order if a not in released}


def _safe(bits: list[int], space: Mapping[int, int], k: int) -> bool:
    patterns = sorted(space)
    large = [p for p in patterns if space[p] >= k]
    if len(large) == len(patterns):
        return True
    full = [[_on(b, p) for p in patterns] for b in bits]
    part = [[_on(b, p) for p in large] for b in bits]
    return _rank(full) == _rank(part)


def _on(bit: int, pattern: int) -> int:
    return 1 if bit == BASE else (pattern >> bit) & 1


def _rank(matrix: list[list[int]]) -> int:
    """Rank by Gaussian elimination modulo a large prime.

    >>> _rank([[1, 1, 0], [1, 0, 1], [0, 1, 1]]), _rank([[1, 1], [1, 1]]), _rank([[]])
    (3, 1, 0)
    """
    rows = [list(r) for r in matrix if r]
    rank, width = 0, len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] % _PRIME), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        inverse = pow(rows[rank][col], _PRIME - 2, _PRIME)
        rows[rank] = [v * inverse % _PRIME for v in rows[rank]]
        for i in range(len(rows)):
            if i != rank and rows[i][col]:
                factor = rows[i][col]
                rows[i] = [(v - factor * w) % _PRIME for v, w in zip(rows[i], rows[rank])]
        rank += 1
    return rank


def withheld_across(cells: Sequence[tuple[int | Sequence[int], int]],
                    patterns: Sequence[Mapping[str, Any]] | None, k: int) -> set[int]:
    """The cells (ids) to withhold among ``cells`` (id, people), released across rows of one
    answer, given its row patterns ``[{p: cells of a data row, n: people}]``
    (``gate/overlap.py``): the same test as ``withheld_aggregates`` in the row space, greedy
    and incremental (a basis over the large patterns, reduced as each cell comes). An
    aggregate on two row sets (an average's sum and count) comes as its ids together: its
    new ones are released together or withheld together (so is the aggregate).
    Without patterns (too many, or rows that could not be matched), or for a cell in no
    pattern (every released cell stands on some rows), the cells are withheld: fail closed.

    >>> pats = [{"p": [1, 2], "n": 500}, {"p": [1, 3], "n": 600}, {"p": [1], "n": 1}]
    >>> sorted(withheld_across([(1, 1101), (3, 600), (2, 500)], pats, 50))  # all, high, low
    [2]
    >>> sorted(withheld_across([(2, 500), (3, 600)], pats, 50)), withheld_across([(2, 5)], None, 50)
    ([], {2})
    >>> sorted(withheld_across([(1, 1101), ((3, 2), 600)], pats, 50))  # 3 goes with 2
    [2, 3]
    """
    groups = [_vectors(c) for c, _ in cells]
    if patterns is None:
        return {c for found in groups for c in found}
    wanted = {c for found in groups for c in found}
    columns: dict[int, list[int]] = {}  # cell -> the patterns it falls in
    large: list[bool] = []
    for pattern in patterns:
        hit = [c for c in pattern["p"] or () if c in wanted]
        if not hit:
            continue
        for c in hit:
            columns.setdefault(c, []).append(len(large))
        large.append(int(pattern["n"] or 0) >= k)
    basis: list[tuple[int, dict[int, int]]] = []
    withheld: set[int] = set()
    done: set[int] = set()
    for found, _ in sorted(zip(groups, (n for _, n in cells)), key=lambda item: -item[1]):
        new = [c for c in dict.fromkeys(found) if c not in done]
        done.update(new)
        trial = list(basis)
        if all(c in columns and _add(trial, {p: 1 for p in columns[c]}, large) for c in new):
            basis = trial
        else:
            withheld.update(new)  # a cell released before stays released
    return withheld


def _add(basis: list[tuple[int, dict[int, int]]], vector: dict[int, int], large: list[bool]
         ) -> bool:
    """Reduce ``vector`` by the basis; False when what is left is zero on every large pattern
    but not zero (a combination standing only on small patterns). Else keep it (when new)."""
    for pivot, row in basis:
        factor = vector.get(pivot, 0) % _PRIME
        if factor:
            for p, v in row.items():
                vector[p] = (vector.get(p, 0) - factor * v) % _PRIME
    vector = {p: v for p, v in vector.items() if v % _PRIME}
    lead = next((p for p in sorted(vector) if large[p]), None)
    if lead is None:
        return not vector
    inverse = pow(vector[lead], _PRIME - 2, _PRIME)
    basis.append((lead, {p: v * inverse % _PRIME for p, v in vector.items()}))
    return True
