"""The published clean-room SQL corpus (published.sql) through HTTP.

Each query is one that other people wrote and published (AMC instructional queries, Snowflake's
clean-room templates and reach & frequency quickstart, Ads Data Hub samples, AWS Clean Rooms
examples, dbt's attribution playbook, GA4 path SQL), adapted to the six datasets of
tests/fixtures/policies-published/. Legitimate ones must be accepted, and every released row
must equal a row of the same SQL run on raw DuckDB over the same tables (metrics clamped, banned
columns dropped); cells the service marks withheld are left out of the comparison. Where an
entry says which keys stand on how many people (``-- people:``), rows on at least
min_users_per_row people must be released and the others must not. Entries marked
``-- currently: ...`` fail today: they are strict xfails, so that they turn red once fixed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pytest
import sqlglot
from fastapi.testclient import TestClient
from sqlglot import exp

from cleanroom.api import create_app
from cleanroom.policy import load_policies
from cleanroom.release import json_value
from cleanroom.settings import Settings
from cleanroom.store import Store
from tests.conftest import Harness
from tests.gate.corpus import Entry, load
from tests.published_data import (
    BANNED_MARKERS,
    COLLAB,
    POLICIES,
    PROVIDERS,
    PublishedData,
    make_published_data,
)

ENTRIES = load("published.sql")
LEGIT = [e for e in ENTRIES if "legit" in e.meta]
REFUSE = [e for e in ENTRIES if "refuse" in e.meta]
MIN_USERS = load_policies(POLICIES)[COLLAB].query_rules.min_users_per_row
ANALYST = "brand"
HEX64 = re.compile(r"[0-9a-f]{64}")
# Across the accepted legitimate queries, at least this many released rows are compared with
# raw DuckDB: the comparison has to bite (it fails if answers come back empty).
MIN_ROWS_COMPARED = 40


def _marked(entries: list[Entry]) -> list[Any]:
    """One test case per entry; those that fail today are strict xfails (``-- currently:``)."""
    cases = []
    for e in entries:
        marks = [pytest.mark.xfail(strict=True, reason=e.get("currently"))] if e.get("currently") else []
        cases.append(pytest.param(e, marks=marks, id=e.name))
    return cases


@dataclass
class Published:
    harness: Harness
    data: PublishedData
    raw: duckdb.DuckDBPyConnection
    answers: dict[str, Any] = field(default_factory=dict)

    def answer(self, entry: Entry) -> Any:
        """The service's response to the entry's SQL (asked once per session)."""
        if entry.name not in self.answers:
            self.answers[entry.name] = self.harness.query(entry.sql, party=ANALYST, collab=COLLAB)
        return self.answers[entry.name]

    def raw_rows(self, sql: str) -> list[list[Any]]:
        return [[_plain(v) for v in row] for row in self.raw.execute(sql).fetchall()]

    def leaks(self, body: str, sql: str) -> list[str]:
        """User keys or banned values in ``body`` that the SQL did not itself contain."""
        found = [m for m in BANNED_MARKERS if m in body and m not in sql]
        return found + [k for k in set(HEX64.findall(body)) if k in self.data.keys]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("published")
    data = make_published_data()
    files = data.write(root / "files")
    app = create_app(root / "data", POLICIES, settings=Settings())
    store = Store(root / "data")
    parties = {*PROVIDERS.values(), ANALYST}
    tokens = {p: store.issue_token(COLLAB, p) for p in parties}
    harness = Harness(TestClient(app, raise_server_exceptions=False), tokens, root / "data")
    for name, party in PROVIDERS.items():
        response = harness.upload(name, files[name].read_bytes(), party=party, collab=COLLAB)
        assert response.status_code == 201, response.text
    raw = data.raw()
    with harness.client:
        yield Published(harness, data, raw)
    raw.close()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(json_value(value)))


def _last_place(value: float) -> float:
    """One unit in the last decimal place ``value`` shows: 1 for 810.0, 0.01 for 12.34."""
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0"))
    return 10.0 ** -decimals if decimals <= 6 else 0.0


def _same(a: Any, b: Any, *, rounded: bool = False) -> bool:
    """Equal values; ``rounded`` (``-- rounded`` entries): a number that a query rounds from a
    float sum (to a whole number, or to a few decimals) may be one unit off in its last place,
    when the sum lies within float error of the rounding boundary (the summation order follows
    the stored rows' and the plan's, which neither side fixes)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        unit = min(_last_place(a), _last_place(b)) if rounded else 0.0
        if unit and abs(a - b) <= unit * (1 + 1e-9):
            return True
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rounded=rounded) for x, y in zip(a, b))
    return bool(a == b)


def _withheld(body: dict[str, Any]) -> set[tuple[int, int]]:
    """Cells the release marks withheld (CONTRACT.md §3, ``withheld_cells``), if any."""
    return {(int(r), int(c)) for r, c in body.get("withheld_cells") or []}


def _matches(row: list[Any], raw_row: list[Any], skip: set[int], rounded: bool = False) -> bool:
    return len(row) == len(raw_row) and all(
        _same(v, w, rounded=rounded) for i, (v, w) in enumerate(zip(row, raw_row))
        if i not in skip)


def _compare(body: dict[str, Any], raw_rows: list[list[Any]], *, ordered: bool,
             rounded: bool = False) -> int:
    """Match each released row with a distinct raw row (in order when ``ordered``), ignoring
    withheld cells; return how many cells-bearing rows were compared. Fails on a mismatch."""
    withheld = _withheld(body)
    used: set[int] = set()
    start = 0
    for r, row in enumerate(body["rows"]):
        skip = {c for rr, c in withheld if rr == r}
        candidates = range(start, len(raw_rows)) if ordered else range(len(raw_rows))
        hit = next((i for i in candidates
                    if i not in used and _matches(row, raw_rows[i], skip, rounded)), None)
        assert hit is not None, f"released row {r} {row} is not a raw row (withheld {sorted(skip)})"
        used.add(hit)
        start = hit + 1 if ordered else 0
    return len(body["rows"])


def _before_having(published: Published, sql: str) -> list[list[Any]]:
    """The raw rows of ``sql`` without the final SELECT's HAVING. The gate never lets a final
    HAVING hide a row under the threshold (``HAVING c OR __cr_n < k``, gate/rewrite.py): else
    whether such a row is counted in ``suppressed_rows`` would tell what HAVING found in a small
    group. So the rows that ``suppressed_rows`` may count are those before HAVING."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Select) or tree.args.get("having") is None:
        return published.raw_rows(sql)
    tree.set("having", None)
    return published.raw_rows(tree.sql(dialect="duckdb"))


def _check_row_status(body: dict[str, Any]) -> None:
    """One status per row; a withheld cell is null and its row is "partial" (CONTRACT.md §3)."""
    status = body["row_status"]
    assert len(status) == len(body["rows"])
    for r, c in _withheld(body):
        assert body["rows"][r][c] is None and status[r] == "partial", (r, c)
    assert set(status) <= {"exact", "partial"}  # threshold mode: nothing is noised


def _check_people(entry: Entry, published: Published, body: dict[str, Any],
                  raw_rows: list[list[Any]]) -> None:
    """Rows standing on >= MIN_USERS people in raw DuckDB are released; no other row is.

    ``-- people: column NAME`` reads the count from the raw result's column NAME (a
    COUNT(DISTINCT user_key) of the query itself): such rows are released, and a released row
    shows that column only when it is 0 or at least MIN_USERS. ``-- people: SELECT ...`` gives the
    count per key (the query's first output columns), as raw DuckDB computes it."""
    spec = entry.get("people")
    if spec.startswith("column "):
        col = body["columns"].index(spec[len("column "):])
        for raw_row in (r for r in raw_rows if (r[col] or 0) >= MIN_USERS):
            assert any(_matches(row, raw_row, {c for rr, c in _withheld(body) if rr == r},
                                rounded=bool(entry.get("rounded")))
                       for r, row in enumerate(body["rows"])), f"raw row {raw_row} not released"
        shown = [row[col] for r, row in enumerate(body["rows"]) if (r, col) not in _withheld(body)]
        # A count shown is 0 (nobody) or stands on enough people, never 1 to MIN_USERS - 1.
        assert all(n is not None and (n == 0 or n >= MIN_USERS) for n in shown), shown
        return
    people = published.raw_rows(spec)
    width = len(people[0]) - 1 if people else 0
    expected = sorted(json.dumps(p[:width]) for p in people if p[width] >= MIN_USERS)
    released = sorted(json.dumps(row[:width]) for row in body["rows"])
    assert released == expected


@pytest.mark.parametrize("entry", _marked(LEGIT))
def test_legit_query_is_accepted_with_raw_numbers(published: Published, entry: Entry) -> None:
    response = published.answer(entry)
    assert published.leaks(response.text, entry.sql) == []
    assert response.status_code == 200, response.text
    body = response.json()
    _check_row_status(body)
    raw_rows = published.raw_rows(entry.sql)
    compared = _compare(body, raw_rows, ordered=bool(entry.get("ordered")),
                        rounded=bool(entry.get("rounded")))
    before_having = _before_having(published, entry.sql)
    assert 0 <= (body["suppressed_rows"] or 0) <= len(before_having) - len(body["rows"])
    if entry.get("people"):
        _check_people(entry, published, body, raw_rows)
    else:
        # Without a per-key count the entry's raw rows all stand on enough people.
        assert compared == len(raw_rows) > 0


@pytest.mark.parametrize("entry", _marked(REFUSE))
def test_refused_where_a_refusal_is_right(published: Published, entry: Entry) -> None:
    response = published.answer(entry)
    assert published.leaks(response.text, entry.sql) == []
    assert response.status_code == 422, response.text
    violations = response.json()["error"]["violations"]
    assert entry.get("refuse") in {v["rule"] for v in violations}
    # A right refusal names the rewrite: its violation carries the rule's hint.
    assert all(v.get("hint") for v in violations if v["rule"] == entry.get("refuse")), violations


def test_people_lines_fit_their_queries(published: Published) -> None:
    """Each ``-- people:`` line names a column of its query, or runs and keys on its first
    output columns: the expectation must be usable on the day the gate accepts the query."""
    for e in (e for e in LEGIT if e.get("people")):
        spec = e.get("people")
        columns = [d[0] for d in published.raw.execute(e.sql).description]
        if spec.startswith("column "):
            assert spec[len("column "):] in columns, e.name
        else:
            width = len(published.raw.execute(spec).description) - 1
            assert 1 <= width <= len(columns), e.name


def test_corpus_is_large_and_sourced() -> None:
    assert len(ENTRIES) >= 60
    for e in ENTRIES:
        assert e.get("source") and e.get("idiom"), e.name
        assert ("legit" in e.meta) != ("refuse" in e.meta), e.name
        assert "refuse" not in e.meta or e.get("why"), e.name


def test_at_least_90_percent_of_legit_queries_accepted(published: Published) -> None:
    """Accepted and right: an entry marked ``-- currently:`` (refused or wrong, each a strict
    xfail of its own) does not count, even when the service answers it."""
    accepted = [e.name for e in LEGIT
                if not e.get("currently") and published.answer(e).status_code == 200]
    assert len(accepted) >= 0.9 * len(LEGIT), sorted(set(e.name for e in LEGIT) - set(accepted))


def test_accepted_answers_compare_enough_rows(published: Published) -> None:
    compared = 0
    for e in LEGIT:
        response = published.answer(e)
        if response.status_code == 200 and not e.get("currently"):
            compared += _compare(response.json(), published.raw_rows(e.sql), ordered=False,
                                 rounded=bool(e.get("rounded")))
    assert compared >= MIN_ROWS_COMPARED


def test_no_answer_carries_a_user_key_or_banned_value(published: Published) -> None:
    for e in ENTRIES:
        assert published.leaks(published.answer(e).text, e.sql) == [], e.name
