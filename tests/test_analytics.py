"""The built-in audience analytics through HTTP: each exact answer checked against the same
computation done straight in DuckDB on the canary tables, refusals, DP, and the CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from cleanroom.analytics.audience import MAX_EXACT_BUCKETS
from cleanroom.analytics.rfm import MAX_ORDERS, RECENCY_EDGES, cut_points, monetary_edges
from cleanroom.release import count_withheld
from cleanroom.store import Store
from tests.canary import CanaryData
from tests.conftest import COLLAB, POLICIES, Harness
from tests.test_api_access import assert_error
from tests.test_cli import CLI, free_port, run_cli
from tests.test_dp_pipeline import REQUIRED, loaded_with

MIN = 50  # min_users_per_row of tests/fixtures/policies
AS_OF = "2026-10-20T00:00:00"


def reference(canary: CanaryData) -> duckdb.DuckDBPyConnection:
    """The canary tables as the sandbox shows them (metrics clamped to their bounds)."""
    con = duckdb.connect()
    imp, conv = canary.impressions, canary.conversions  # noqa: F841 (read by DuckDB by name)
    con.execute("CREATE TABLE impressions AS SELECT user_key, CAST(ts AS TIMESTAMP) AS ts, "
                "channel, campaign, LEAST(GREATEST(cost, 0), 100) AS cost FROM imp")
    con.execute("CREATE TABLE conversions AS SELECT user_key, CAST(ts AS TIMESTAMP) AS ts, "
                "LEAST(GREATEST(revenue, 0), 1000) AS revenue FROM conv")
    return con


@pytest.fixture(scope="module")
def ref(canary: CanaryData) -> duckdb.DuckDBPyConnection:
    return reference(canary)


def analytic(h: Harness, name: str, party: str = "acme", **body: Any) -> Any:
    return h.client.post(f"/v1/collaborations/{COLLAB}/analytics/{name}", json=body,
                         headers=h.auth(party))


def ok(response: Any, canary: CanaryData) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert canary.leaks(response.text) == []
    body: dict[str, Any] = response.json()
    assert len(body["row_status"]) == len(body["rows"])
    return body


def test_overlap_counts_a_b_and_both(loaded: Harness, ref: duckdb.DuckDBPyConnection,
                                     canary: CanaryData) -> None:
    body = ok(analytic(loaded, "overlap", a="impressions", b="conversions"), canary)
    (a,), (b,), (both,) = (ref.execute(sql).fetchone() for sql in (  # type: ignore[misc]
        "SELECT COUNT(DISTINCT user_key) FROM impressions",
        "SELECT COUNT(DISTINCT user_key) FROM conversions",
        "SELECT COUNT(DISTINCT i.user_key) FROM impressions i JOIN conversions c USING (user_key)"))
    assert body["rows"] == [["impressions", a], ["conversions", b],
                            ["impressions & conversions", both]]
    assert body["suppressed_rows"] == 0 and body["epsilon_spent"] == 0


def test_reach_frequency_matches_duckdb(loaded: Harness, ref: duckdb.DuckDBPyConnection,
                                        canary: CanaryData) -> None:
    body = ok(analytic(loaded, "reach-frequency", dataset="impressions", dimension="channel",
                       max_frequency=4), canary)
    assert body["columns"] == ["channel", "people", "avg_frequency", "freq_1", "freq_2",
                               "freq_3", "freq_4+"]
    reach = dict(ref.execute("SELECT channel, COUNT(DISTINCT user_key) FROM impressions "
                             "GROUP BY channel").fetchall())
    exposures = dict(ref.execute("SELECT channel, COUNT(*) FROM impressions "
                                 "GROUP BY channel").fetchall())
    cells = {(d, f): n for d, f, n in ref.execute(
        "WITH pu AS (SELECT user_key, channel, LEAST(COUNT(*), 4) AS f FROM impressions "
        "GROUP BY ALL) SELECT channel, f, COUNT(*) FROM pu GROUP BY ALL").fetchall()}
    rows = {r[0]: r for r in body["rows"]}
    assert set(rows) == {c for c, n in reach.items() if n >= MIN}
    protected = 0
    for channel, row in rows.items():
        truth = [cells.get((channel, f), 0) for f in range(1, 5)]
        assert row[:2] == [channel, reach[channel]]
        # The average is exact, or withheld with a bucket's part (tests/test_analytics_frequency.py).
        assert row[2] is None or row[2] == pytest.approx(exposures[channel] / reach[channel])
        released = [n for n in row[3:] if n is not None]
        assert all(n == t and n >= MIN for n, t in zip(row[3:], truth) if n is not None)
        assert all(n is not None for n, t in zip(row[3:], truth) if t >= MIN and
                   sum(x for x in truth if x < MIN) == 0)  # nothing to hide: all released
        # The decoder: people minus the released buckets is what the nulls hide together;
        # it must be nobody or a count of at least MIN people, never a withheld small bucket.
        hidden = reach[channel] - sum(released)
        assert hidden == 0 or hidden >= MIN, (channel, row, truth)
        protected += any(n is None and t >= MIN for n, t in zip(row[3:], truth))
    # Some row's small buckets add up to fewer than MIN (video: 41 + 8 beside 454 and 165 of
    # 668): there a large bucket is withheld too, though no pair of numbers is close.
    assert protected >= 1
    assert None in body["rows"][0]  # a thin bucket is null, never 0
    assert body["withheld_cells"] == [[i, j] for i, r in enumerate(body["rows"])
                                      for j in range(2, 7) if r[j] is None]
    assert body["row_status"] == ["partial" if None in r else "exact" for r in body["rows"]]
    # The 7-person channel is withheld; below half the threshold it is not counted.
    assert body["suppressed_rows"] == count_withheld(reach.values(), MIN) == 0
    assert body["suppressed_cells"] == sum(j >= 3 for _, j in body["withheld_cells"])  # buckets


def test_reach_buckets_past_the_computed_ones_are_withheld(loaded: Harness,
                                                           canary: CanaryData) -> None:
    """Buckets past ``MAX_EXACT_BUCKETS`` are not computed: null, listed, their rows partial."""
    cap = MAX_EXACT_BUCKETS + 3
    body = ok(analytic(loaded, "reach-frequency", dataset="impressions", dimension="channel",
                       max_frequency=cap), canary)
    assert body["columns"][-1] == f"freq_{cap}+" and len(body["columns"]) == 3 + cap
    tail = range(3 + MAX_EXACT_BUCKETS, 3 + cap)
    for i, row in enumerate(body["rows"]):
        assert [row[j] for j in tail] == [None] * len(tail)
        assert all([i, j] in body["withheld_cells"] for j in tail)
    assert set(body["row_status"]) == {"partial"} and body["rows"]


def window_sql(extra: str = "") -> str:
    return ("WITH fc AS (SELECT user_key, MIN(ts) AS cts FROM conversions GROUP BY user_key), "
            f"w AS (SELECT i.user_key, i.ts, i.channel, fc.cts{extra} FROM impressions i "
            "JOIN fc USING (user_key) WHERE i.ts < fc.cts "
            "AND i.ts >= fc.cts - INTERVAL 30 DAY)")


@pytest.mark.parametrize("max_length", [1, 2])
def test_top_paths_match_duckdb(loaded: Harness, ref: duckdb.DuckDBPyConnection,
                                canary: CanaryData, max_length: int) -> None:
    body = ok(analytic(loaded, "top-paths", touchpoints="impressions", conversions="conversions",
                       dimension="channel", lookback_days=30, n=3, max_length=max_length),
              canary)
    rank = ", ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts DESC, i.channel DESC) AS b"
    counts = ref.execute(
        f"{window_sql(rank)}, p AS (SELECT user_key, string_agg(channel, ' > ' ORDER BY ts, "
        f"channel) AS path FROM w WHERE b <= {max_length} GROUP BY user_key) "
        "SELECT path, COUNT(*) AS n FROM p GROUP BY path ORDER BY n DESC, path").fetchall()
    kept = [[p, n] for p, n in counts if n >= MIN]
    assert body["rows"] == kept[:3]
    assert len(body["rows"]) == (3 if max_length == 1 else 0)  # longer paths are all too thin
    assert body["suppressed_rows"] == count_withheld((n for _, n in counts), MIN)


def test_time_to_conversion_matches_duckdb(loaded: Harness, ref: duckdb.DuckDBPyConnection,
                                           canary: CanaryData) -> None:
    body = ok(analytic(loaded, "time-to-conversion", touchpoints="impressions",
                       conversions="conversions"), canary)
    hours = [h for (h,) in ref.execute(f"{window_sql()} SELECT "
                                       "date_diff('second', MIN(ts), MIN(cts)) / 3600.0 "
                                       "FROM w GROUP BY user_key").fetchall()]
    edges = [("<1h", 1), ("1-6h", 6), ("6-24h", 24), ("1-3d", 72), ("3-7d", 168),
             ("7-14d", 336), ("14-30d", 720), ("30d+", float("inf"))]
    counts: dict[str, int] = {}
    for h in hours:
        label = next(name for name, upper in edges if h < upper)
        counts[label] = counts.get(label, 0) + 1
    expected = [[name, counts[name]] for name, _ in edges if counts.get(name, 0) >= MIN]
    assert body["rows"] == expected and len(expected) >= 2
    assert body["suppressed_rows"] == count_withheld(counts.values(), MIN)


def rfm_reference(ref: duckdb.DuckDBPyConnection) -> list[tuple[int, int, float]]:
    return ref.execute(
        "SELECT date_diff('day', MAX(ts), TIMESTAMP '2026-10-20 00:00:00'), "
        f"LEAST(COUNT(*), {MAX_ORDERS}), SUM(revenue) FROM conversions "
        "WHERE ts <= TIMESTAMP '2026-10-20 00:00:00' GROUP BY user_key").fetchall()


def histogram(values: list[float], edges: list[float]) -> list[list[float]]:
    counts: dict[float, int] = {}
    for v in values:
        lower = max(e for e in edges if e <= v) if v >= edges[0] else edges[0]
        counts[lower] = counts.get(lower, 0) + 1
    return [[e, n] for e, n in counts.items() if n >= MIN]


def score(value: float, cuts: list[float | None], *, reverse: bool = False) -> int:
    above = sum(1 for c in cuts if c is not None and value >= c)
    return 5 - above if reverse else 1 + above


def test_rfm_segments_match_duckdb(loaded: Harness, ref: duckdb.DuckDBPyConnection,
                                   canary: CanaryData) -> None:
    body = ok(analytic(loaded, "rfm", dataset="conversions", as_of=AS_OF), canary)
    people = rfm_reference(ref)
    edges = [[float(e) for e in RECENCY_EDGES], [float(f) for f in range(1, MAX_ORDERS + 1)],
             monetary_edges((0.0, 1000.0))]
    cuts = [cut_points(histogram([p[i] for p in people], e), e) for i, e in enumerate(edges)]
    assert list(body["cut_points"].values()) == cuts
    segments: dict[tuple[int, int, int], list[float]] = {}
    for r, f, m in people:
        key = (score(r, cuts[0], reverse=True), score(f, cuts[1]), score(m, cuts[2]))
        segments.setdefault(key, []).append(m)
    kept = {k: v for k, v in segments.items() if len(v) >= MIN}
    assert {tuple(r[:3]): (r[3], pytest.approx(r[4])) for r in body["rows"]} == {
        k: (len(v), pytest.approx(sum(v))) for k, v in kept.items()}
    assert body["columns"][-1] == "revenue" and kept
    assert body["suppressed_rows"] == count_withheld((len(v) for v in segments.values()), MIN)


@pytest.mark.parametrize(("name", "body", "status", "code", "rule"), [
    ("nope", {}, 404, "not_found", None),
    ("overlap", {"a": "impressions", "b": "nope"}, 422, "query_rejected", "unknown_dataset"),
    ("overlap", {"a": "impressions"}, 422, "invalid_request", "invalid_field"),
    ("overlap", {"a": "impressions", "b": "conversions", "sql": "x"}, 422, "invalid_request",
     "invalid_field"),
    ("reach-frequency", {"dataset": "impressions", "dimension": "ip_hash"}, 422,
     "query_rejected", "banned_column"),
    ("reach-frequency", {"dataset": "impressions", "dimension": "cost"}, 422,
     "query_rejected", "dimension_not_allowed"),
    ("reach-frequency", {"dataset": "impressions", "dimension": "user_key"}, 422,
     "query_rejected", "dimension_not_allowed"),
    ("top-paths", {"touchpoints": "impressions", "conversions": "conversions",
                   "dimension": "nope"}, 422, "query_rejected", "unknown_column"),
    ("rfm", {"dataset": "conversions", "metric": "order_id"}, 422, "query_rejected",
     "banned_column"),
    ("rfm", {"dataset": "impressions", "metric": "channel"}, 422, "query_rejected",
     "not_a_metric"),
])
def test_refusals(loaded: Harness, canary: CanaryData, name: str, body: dict[str, Any],
                  status: int, code: str, rule: str | None) -> None:
    error = assert_error(analytic(loaded, name, **body), status, code)
    if rule is not None:
        assert rule in {v["rule"] for v in error["error"]["violations"]}
    assert canary.leaks(json.dumps(error)) == []


def test_only_this_collaborations_analysts(loaded: Harness) -> None:
    body = {"a": "impressions", "b": "conversions"}
    assert_error(analytic(loaded, "overlap", party="streamco", **body), 403, "forbidden")
    assert_error(analytic(loaded, "overlap", party="globex", **body), 404, "not_found")
    anonymous = loaded.client.post(f"/v1/collaborations/{COLLAB}/analytics/overlap", json=body)
    assert_error(anonymous, 401, "unauthorized")


def test_audited_without_data(loaded: Harness, canary: CanaryData) -> None:
    ok(analytic(loaded, "overlap", a="impressions", b="conversions"), canary)
    entries = loaded.client.get(f"/v1/collaborations/{COLLAB}/audit",
                                headers=loaded.auth("reviewer")).json()["entries"]
    mine = [e for e in entries if e["action"] == "analytics"]
    assert mine and mine[0]["detail"]["analytic"] == "overlap"
    assert canary.leaks(json.dumps(mine)) == []  # other tests audit their own SQL here


@pytest.fixture
def required(tmp_path: Path, canary: CanaryData) -> Harness:
    return loaded_with(tmp_path, canary, REQUIRED, dp_seed=9)


def test_dp_answers_are_noised_with_intervals(required: Harness, canary: CanaryData) -> None:
    body = ok(analytic(required, "reach-frequency", dataset="impressions", dimension="channel",
                       max_frequency=3), canary)
    assert body["suppressed_rows"] is None and set(body["row_status"]) == {"noised"}
    assert body["epsilon_spent"] == 1.0 and len(body["noise"]) == 2
    for row, cells in zip(body["rows"], body["confidence_intervals"]):
        low, high = cells[1]
        assert low <= row[1] <= high
        assert all(v is None or c is not None for v, c in zip(row[3:], cells[3:]))
    assert "CANARYCHAN7" not in json.dumps(body)
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                 headers=required.auth("acme")).json()
    assert [h["query_id"] for h in budget["history"]] == [body["query_id"]]  # charged once


def test_dp_rfm_is_charged_once_and_the_budget_runs_out(required: Harness,
                                                         canary: CanaryData) -> None:
    body = ok(analytic(required, "rfm", dataset="conversions", as_of=AS_OF, epsilon=1.0), canary)
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                 headers=required.auth("acme")).json()
    # One charge for the request, before its first step runs; its two steps spend halves.
    assert [(h["query_id"], h["epsilon"]) for h in budget["history"]] == [
        (body["query_id"], 1.0)]
    assert [n["epsilon"] for n in body["noise"]] == [pytest.approx(1 / 6)] * 3 + [0.5]
    for _ in range(2):
        ok(analytic(required, "overlap", a="impressions", b="conversions"), canary)
    assert_error(analytic(required, "time-to-conversion", touchpoints="impressions",
                          conversions="conversions"), 429, "budget_exhausted")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           canary: CanaryData) -> Iterator[tuple[str, str]]:
    """A live ``cleanroom serve`` on loopback with the canary data, and acme's token."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--data-dir", str(root / "data"), "--policies",
                             str(POLICIES), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and str(port) in proc.stdout.readline()
        url, store = f"http://127.0.0.1:{port}", Store(root / "data")
        files = canary.write(root / "files")
        for name, party in (("impressions", "streamco"), ("conversions", "acme")):
            token = store.issue_token(COLLAB, party)
            assert httpx.put(f"{url}/v1/collaborations/{COLLAB}/datasets/{name}",
                             content=files[name].read_bytes(),
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "text/csv"}).status_code == 201
        yield url, store.issue_token(COLLAB, "acme")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_analytics_print_tables(server: tuple[str, str], canary: CanaryData) -> None:
    url, token = server
    common = ["--url", url, "--token", token, "--collaboration", COLLAB]
    result = run_cli("analytics", "overlap", "--a", "impressions", "--b", "conversions", *common,
                     "--format", "table")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "segment" in line)
    assert [c.strip() for c in header.split("┃")[1:3]] == ["segment", "people"]
    assert "impressions & conversions" in result.stdout and "suppressed rows: 0" in result.stdout
    result = run_cli("analytics", "reach-frequency", "--dataset", "impressions", "--dimension",
                     "channel", "--max-frequency", "3", *common)
    assert result.returncode == 0 and "freq_3+" in result.stdout
    assert canary.leaks(result.stdout + result.stderr) == []


def test_cli_analytics_refusal_exits_with_the_error_body(server: tuple[str, str]) -> None:
    url, token = server
    result = run_cli("analytics", "reach-frequency", "--dataset", "impressions", "--dimension",
                     "ip_hash", "--url", url, "--token", token, "--collaboration", COLLAB)
    assert result.returncode == 1 and result.stdout == ""
    assert "banned_column" in result.stderr and '{"error"' not in result.stderr


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_rfm_as_of_out_of_range_is_a_clear_refusal(loaded: Harness, as_of: str) -> None:
    response = analytic(loaded, "rfm", dataset="conversions", as_of=as_of)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_overlap_never_gives_a_few_people_by_difference(tmp_path: Path, canary: CanaryData
                                                        ) -> None:
    """Five buyers without impressions: ``|B| - |A∩B|`` is 5 people. The three counts are one
    row of the gate's, so one of the two close counts is withheld (three queries gave both)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from tests.conftest import make_client

    buyers = sorted(set(canary.conversions.column("user_key").to_pylist()))[:5]
    impressions = canary.impressions.filter(pc.invert(pc.is_in(
        canary.impressions.column("user_key"), value_set=pa.array(buyers))))
    harness = make_client(tmp_path / "data")
    for name, party, table in (("impressions", "streamco", impressions),
                               ("conversions", "acme", canary.conversions)):
        path = tmp_path / f"{name}.csv"
        pacsv.write_csv(table, path)
        assert harness.upload(name, path.read_bytes(), party=party).status_code == 201
    with harness.client:
        body = ok(analytic(harness, "overlap", a="impressions", b="conversions"), canary)
    people = {label: n for label, n in body["rows"]}
    assert people["impressions"] == len(set(impressions.column("user_key").to_pylist()))
    b, both = people["conversions"], people["impressions & conversions"]
    assert None in (b, both), body  # raw: 437 and 432
    flagged = [i for i, _ in body["withheld_cells"]]
    assert [i for i, row in enumerate(body["rows"]) if row[1] is None] == flagged, body
    assert all(body["row_status"][i] == "partial" for i in flagged), body
