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

BASE = -1  # the bit of an aggregate over every row of its group
_PRIME = (1 << 61) - 1  # ranks mod this prime equal ranks over Q for 0/1 matrices this small


@dataclass(frozen=True)
class RowSystem:
    """One row's patterns and aggregates (per aggregate, in the gate's order)."""

    rows: Mapping[int, int]  # row pattern -> people with a row of that pattern
    people: Mapping[int, int]  # person pattern -> people
    flagged: Sequence[bool]  # already withheld by the gate's own flags
    counts: Sequence[int]  # people behind each aggregate (order of release)
    bits: Sequence[int]  # the pattern bit of each aggregate's condition, BASE for every row


def withheld_aggregates(system: RowSystem, k: int) -> set[int]:
    """The aggregates (indexes) to withhold, the gate's flagged ones included."""
    withheld = {a for a, f in enumerate(system.flagged) if f}
    order = sorted((a for a in range(len(system.bits)) if a not in withheld),
                   key=lambda a: (-system.counts[a], a))
    kept: list[int] = []
    for a in order:
        bit = system.bits[a]
        if bit in kept:
            continue
        if all(_safe([*kept, bit], space, k) for space in (system.rows, system.people)):
            kept.append(bit)
    return withheld | {a for a in order if system.bits[a] not in kept}


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
