"""Red-team round 4: reach and frequency's average beside its buckets.

``avg_frequency`` times ``people`` is the value's exposures. Minus ``f * freq_f`` of every
released bucket it is the exposures of the people in the withheld buckets, and their number is
``people`` minus the released buckets. Most of them sit at the lowest withheld frequency m, so
exposures - m * people is the excess exposures of the few above it: on the canary data, by
campaign with ``max_frequency`` 2 (4 to 10 people a campaign), by channel with 4 (49 people),
and with the default 10 (4 to 9 people). Each decoder is checked against raw DuckDB; through
the service no released average may give a withheld group of 1 to k-1 people's excess."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.test_analytics import MIN, analytic, ok, reference


def per_person(ref: duckdb.DuckDBPyConnection, dim: str) -> dict[Any, list[int]]:
    """Each value's per-person exposure counts."""
    found: dict[Any, list[int]] = {}
    for value, n in ref.execute(f"SELECT {dim}, COUNT(*) FROM impressions GROUP BY user_key, "
                                f"{dim}").fetchall():
        found.setdefault(value, []).append(int(n))
    return found


def decode(row: list[Any], cap: int) -> tuple[int, int] | None:
    """(m, exposures minus m per hidden person minus f per released person), m the lowest
    withheld frequency (``cap`` when every bucket is released; the top bucket counted at
    ``cap``); None when the average is withheld."""
    people, average, buckets = row[1], row[2], row[3:]
    if average is None:
        return None
    withheld = [f for f, n in enumerate(buckets, 1) if n is None]
    low = withheld[0] if withheld else cap
    exposures = round(average * people) - sum(f * n for f, n in enumerate(buckets, 1)
                                              if n is not None)
    hidden = people - sum(n for n in buckets if n is not None)
    return low, exposures - low * hidden


def truth(counts: list[int], low: int, cap: int, released: set[int]) -> tuple[int, int]:
    """What ``decode`` reads, from each person's count: the people it stands on (their term is
    not 0) and its value."""
    terms = [n - low if min(n, cap) not in released else max(n - cap, 0) for n in counts]
    return sum(t != 0 for t in terms), sum(terms)


@pytest.mark.parametrize("dim,cap", [("campaign", 2), ("channel", 4), ("campaign", 10)])
def test_the_average_does_not_give_the_withheld_tails_excess(
        loaded: Harness, canary: CanaryData, dim: str, cap: int) -> None:
    ref = reference(canary)
    counts = per_person(ref, dim)
    body = ok(analytic(loaded, "reach-frequency", dataset="impressions", dimension=dim,
                       max_frequency=cap), canary)
    assert body["rows"]
    for i, row in enumerate(body["rows"]):
        assert row[2] is None or abs(row[2] - sum(counts[row[0]]) / row[1]) < 1e-9
        assert (row[2] is None) == ([i, 2] in body["withheld_cells"])
        found = decode(row, cap)
        if found is None:
            continue
        low, excess = found
        released = {f for f, n in enumerate(row[3:], 1) if n is not None}
        few, real = truth(counts[row[0]], low, cap, released)
        assert not (0 < few < MIN and excess == real), (row, few, real)


def test_the_decoder_reads_the_truth_on_raw_duckdb(canary: CanaryData) -> None:
    """With the plain SUM(exposures) average (the analytic before), campaign by campaign at
    max_frequency 2, every bucket released: exposures - freq_1 - 2 * freq_2+ is the excess of
    the 4 to 10 people with 3 or more exposures."""
    ref = reference(canary)
    small = 0
    for value, counts in per_person(ref, "campaign").items():
        people, ones = len(counts), counts.count(1)
        row = [value, people, sum(counts) / people, ones, people - ones]
        few, real = truth(counts, 2, 2, {1, 2})
        assert decode(row, 2) == (2, real) == (2, sum(n - 2 for n in counts if n > 2))
        small += 0 < few < MIN
    assert small >= 5
