"""The combination check on its own (cleanroom/isolation.py): which aggregates of one row are
withheld so that no combination of the others stands on 1 to k-1 people."""

from __future__ import annotations

import random

from cleanroom.isolation import BASE, RowSystem, withheld_across, withheld_aggregates

K = 50


def system(rows: dict[int, int], bits: list[int], counts: list[int], *,
           people: dict[int, int] | None = None, flagged: list[bool] | None = None) -> RowSystem:
    return RowSystem(rows=rows, people=rows if people is None else people,
                     flagged=flagged or [False] * len(bits), counts=counts, bits=bits)


def test_a_total_beside_a_partition_of_all_but_one_loses_one_part() -> None:
    # bit 0: low revenue, bit 1: high revenue but not the target; pattern 0: the target alone
    found = withheld_aggregates(system({1: 600, 2: 599, 0: 1}, [BASE, 0, 1], [1200, 600, 599]), K)
    assert found == {2}


def test_parts_far_from_everyone_are_all_released() -> None:
    found = withheld_aggregates(system({1: 600, 2: 500, 0: 100}, [BASE, 0, 1], [1200, 600, 500]), K)
    assert found == set()


def test_crossed_sums_lose_one() -> None:
    # X = b0 b2, Y = b0 b3, Z = b1 b2, W = b1 b3, target = b2 b3: B + C - D - E = -2 target
    rows = {0b0101: 300, 0b1001: 300, 0b0110: 300, 0b1010: 299, 0b1100: 1}
    found = withheld_aggregates(system(rows, [0, 1, 2, 3], [600, 599, 601, 600]), K)
    assert len(found) == 1


def test_rows_of_the_same_people_are_compared() -> None:
    # COUNT(*) beside COUNT(*) FILTER (c): everyone has a c row, 3 people have other rows too
    found = withheld_aggregates(system({1: 1200, 0: 3}, [BASE, 0], [1200, 1200],
                                       people={1: 1200}), K)
    assert found == {1}


def test_people_with_no_row_of_a_kind_are_compared() -> None:
    # COUNT(DISTINCT) beside its FILTER (c): the rows look far apart, 7 people have no c row
    found = withheld_aggregates(system({1: 1193, 0: 1200}, [BASE, 0], [1200, 1193],
                                       people={1: 1193, 0: 7}), K)
    assert found == {1}


def test_flagged_aggregates_stay_withheld_and_free_the_others() -> None:
    # the small part is withheld already, so the total beside the large part is safe
    found = withheld_aggregates(system({1: 600, 2: 599, 0: 1}, [BASE, 0, 1], [1200, 600, 599],
                                       flagged=[False, False, True]), K)
    assert found == {2}


def test_a_flagged_aggregate_alone_is_withheld() -> None:
    assert withheld_aggregates(system({0: 100}, [BASE], [100], flagged=[True]), K) == {0}


# -- across rows: the same test, cells named by id, patterns listed ---------------------------
def _as_patterns(rows: dict[int, int], width: int) -> list[dict[str, object]]:
    return [{"p": [100 + b for b in range(width) if pattern >> b & 1], "n": n}
            for pattern, n in rows.items()]


def test_across_rows_a_total_beside_a_partition_of_all_but_one_loses_one_part() -> None:
    rows = {0b011: 600, 0b101: 599, 0b001: 1}  # bit 0: the total's rows
    cells = [(100, 1200), (101, 600), (102, 599)]
    assert withheld_across(cells, _as_patterns(rows, 3), K) == {102}


def test_across_rows_decides_as_the_row_check_does_on_random_systems() -> None:
    """The incremental check across rows withholds what the batch rank test of one row
    withholds, on random systems of 4 cells with small and large patterns (seeded)."""
    rng = random.Random(8)
    for _ in range(300):
        rows = {rng.randrange(1, 16): rng.choice([1, 3, 49, 50, 400]) for _ in range(rng.randrange(1, 7))}
        counts = [rng.randrange(60, 1200) for _ in range(4)]
        expected = withheld_aggregates(system(rows, [0, 1, 2, 3], counts), K)
        found = withheld_across([(100 + a, n) for a, n in enumerate(counts)],
                                _as_patterns(rows, 4), K)
        absent = {a for a in range(4) if not any(p >> a & 1 for p in rows)}
        assert found == {100 + a for a in expected | absent}, (rows, counts)


def test_across_rows_without_patterns_withholds_every_cell() -> None:
    assert withheld_across([(1, 900), (2, 800)], None, K) == {1, 2}
