"""The budget ledger: atomic under threads and processes, durable, never past the budget."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from cleanroom.errors import BudgetExhausted
from cleanroom.privacy.budget import BudgetLedger, Charge


def test_charges_accumulate_and_history_keeps_order(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "meta.db")
    assert ledger.spent("c", "p") == 0.0 and ledger.history("c", "p") == []
    assert ledger.charge("c", "p", 0.25, budget=1.0, query_id="q1") == Charge(0.25, 0.75)
    assert ledger.charge("c", "p", 0.5, budget=1.0, query_id="q2") == Charge(0.75, 0.25)
    history = ledger.history("c", "p")
    assert [(h["query_id"], h["epsilon"], h["running_total"]) for h in history] == [
        ("q1", 0.25, 0.25),
        ("q2", 0.5, 0.75),
    ]
    times = [datetime.fromisoformat(h["at"]) for h in history]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)


def test_a_refused_charge_records_nothing(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "meta.db")
    ledger.charge("c", "p", 0.75, budget=1.0, query_id="q1")
    with pytest.raises(BudgetExhausted):
        ledger.charge("c", "p", 0.5, budget=1.0, query_id="q2")
    assert ledger.spent("c", "p") == 0.75
    assert [h["query_id"] for h in ledger.history("c", "p")] == ["q1"]


def test_float_drift_does_not_refuse_the_last_share(tmp_path: Path) -> None:
    # 0.1 + 0.1 + 0.1 is 0.30000000000000004 > 0.3: the tolerance lets the third share through.
    ledger = BudgetLedger(tmp_path / "meta.db")
    for i in range(3):
        ledger.charge("c", "p", 0.1, budget=0.3, query_id=f"q{i}")
    with pytest.raises(BudgetExhausted):
        ledger.charge("c", "p", 1e-9, budget=0.3, query_id="over")


def test_parties_and_collaborations_are_separate(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "meta.db")
    ledger.charge("c1", "p", 1.0, budget=1.0, query_id="a")
    ledger.charge("c1", "q", 1.0, budget=1.0, query_id="b")
    ledger.charge("c2", "p", 1.0, budget=1.0, query_id="c")
    assert [ledger.spent(c, p) for c, p in [("c1", "p"), ("c1", "q"), ("c2", "p")]] == [1.0] * 3


def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    BudgetLedger(tmp_path / "meta.db").charge("c", "p", 0.5, budget=1.0, query_id="q1")
    again = BudgetLedger(tmp_path / "meta.db")
    assert again.spent("c", "p") == 0.5
    with sqlite3.connect(tmp_path / "meta.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("epsilon", "budget"), [(0.0, 1.0), (-1.0, 1.0), (float("nan"), 1.0),
                                                 (0.5, 0.0), (0.5, float("inf"))])
def test_nonsense_amounts_are_refused(tmp_path: Path, epsilon: float, budget: float) -> None:
    with pytest.raises(ValueError):
        BudgetLedger(tmp_path / "meta.db").charge("c", "p", epsilon, budget=budget, query_id="q")


def test_forty_threads_spend_exactly_the_budget(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "meta.db")
    start, lock = threading.Barrier(40), threading.Lock()
    outcomes: list[str] = []

    def spend(i: int) -> None:
        start.wait()
        try:
            ledger.charge("c", "p", 0.5, budget=10.0, query_id=f"t{i}")
            result = "ok"
        except BudgetExhausted:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 20 and outcomes.count("refused") == 20
    assert_consistent(ledger, expected_rows=20, budget=10.0)


def spend_from_a_process(db_path: str, worker: int, attempts: int) -> int:
    ledger = BudgetLedger(Path(db_path))
    granted = 0
    for i in range(attempts):
        try:
            ledger.charge("c", "p", 0.5, budget=10.0, query_id=f"w{worker}-{i}")
            granted += 1
        except BudgetExhausted:
            pass
    return granted


def test_four_processes_spend_exactly_the_budget(tmp_path: Path) -> None:
    db_path = str(tmp_path / "meta.db")
    # Each worker opens the ledger (creating the tables) at the same time as the others. fork is
    # much faster than spawn here (no re-import of scikit-learn); spawn where fork is missing.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(4) as pool:
        granted = pool.starmap(spend_from_a_process, [(db_path, w, 12) for w in range(4)])
    assert sum(granted) == 20
    assert_consistent(BudgetLedger(Path(db_path)), expected_rows=20, budget=10.0)


def assert_consistent(ledger: BudgetLedger, *, expected_rows: int, budget: float) -> None:
    history = ledger.history("c", "p")
    totals = [h["running_total"] for h in history]
    assert len(history) == expected_rows
    assert totals == sorted(totals) and max(totals) <= budget
    assert totals[-1] == pytest.approx(sum(h["epsilon"] for h in history))
    assert ledger.spent("c", "p") == totals[-1] == budget
