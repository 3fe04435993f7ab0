"""The Python client (CONTRACT.md §5) against a live ``cleanroom serve`` on loopback: every
method, every answer format, the error classes, discovery, and the refusal of a request over a
dataset that was never uploaded."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from cleanroom import formats
from cleanroom.client import (
    ApiError,
    BudgetExhausted,
    Client,
    Forbidden,
    InvalidUpload,
    NotFound,
    QueryRejected,
    Unauthorized,
    Unreachable,
)
from tests.canary import CanaryData
from tests.conftest import COLLAB
from tests.live import Live, free_port, start

BY_CHANNEL = ("SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(cost) AS spend "
              "FROM impressions GROUP BY channel ORDER BY channel")
# Each channel's total over the 3-person campaign is withheld: every row is partial.
PARTIAL = ("SELECT channel, COUNT(DISTINCT user_key) AS people, "
           "SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN cost END) AS rare "
           "FROM impressions GROUP BY channel ORDER BY channel")
FORMATS = ("json", "csv", "arrow", "parquet")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> Iterator[Live]:
    """A service with the canary data, uploaded through the client by each provider."""
    running = start(tmp_path_factory.mktemp("client"), canary)
    server = next(running)
    for dataset, party in (("impressions", "streamco"), ("conversions", "acme")):
        with Client(server.url, server.tokens[party]) as cr:
            done = cr.upload(COLLAB, dataset, server.files[dataset])
            assert (done.dataset, done.version) == (dataset, 1)
    yield server
    running.close()


@pytest.fixture(scope="module")
def acme(live: Live) -> Iterator[Client]:
    with Client(live.url, live.tokens["acme"], collaboration=COLLAB) as cr:
        yield cr


def _same_rows(a: list[list[object]], b: list[list[object]]) -> bool:
    def close(x: object, y: object) -> bool:
        if isinstance(x, float) or isinstance(y, float):
            return math.isclose(float(x), float(y), rel_tol=1e-12)  # type: ignore[arg-type]
        return x == y
    return len(a) == len(b) and all(len(r) == len(s) and all(map(close, r, s))
                                    for r, s in zip(a, b))


def test_upload_reports_the_rows_and_a_new_version(live: Live, canary: CanaryData) -> None:
    with Client(live.url, live.tokens["acme"]) as cr:
        done = cr.upload(COLLAB, "conversions", live.files["conversions"])
    assert done.rows == canary.conversions.num_rows and done.version == 2


def test_query_answer_has_columns_rows_status_and_frames(acme: Client) -> None:
    answer = acme.query(BY_CHANNEL)
    assert answer.columns == ["channel", "people", "spend"]
    assert [r[0] for r in answer.rows] == ["display", "email", "search", "social", "video"]
    assert answer.row_status == ["exact"] * 5 and answer.exact and answer.query_id
    frame = answer.to_pandas()
    assert list(frame.columns) == answer.columns and frame.shape == (5, 3)
    assert frame.attrs["row_status"] == answer.row_status
    table = answer.to_arrow()
    assert table.column_names == answer.columns and table.num_rows == 5
    assert b"row_status" in table.schema.metadata[formats.META_KEY]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_holds_the_same_answer(acme: Client, fmt: str) -> None:
    reference = acme.query(BY_CHANNEL)
    answer = acme.query(BY_CHANNEL, format=fmt)  # type: ignore[arg-type]
    assert answer.media_type == {"json": formats.JSON, "csv": formats.CSV, "arrow": formats.ARROW,
                                 "parquet": formats.PARQUET}[fmt]
    assert answer.columns == reference.columns and _same_rows(answer.rows, reference.rows)
    assert answer.row_status == reference.row_status and answer.policy_version == 1


def test_csv_is_a_header_row_and_rows(live: Live) -> None:
    response = httpx.post(f"{live.url}/v1/collaborations/{COLLAB}/queries",
                          json={"sql": BY_CHANNEL}, headers={
                              "Authorization": f"Bearer {live.tokens['acme']}",
                              "Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "channel,people,spend" and len(lines) == 6
    assert response.headers["x-cleanroom-row-status"] == "exact*5"


def test_arrow_stream_is_readable_by_pyarrow(live: Live) -> None:
    response = httpx.post(f"{live.url}/v1/collaborations/{COLLAB}/queries",
                          json={"sql": BY_CHANNEL}, headers={
                              "Authorization": f"Bearer {live.tokens['acme']}",
                              "Accept": formats.ARROW})
    assert response.headers["content-type"] == formats.ARROW
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column_names == ["channel", "people", "spend"] and table.num_rows == 5
    assert pa.types.is_integer(table.schema.field("people").type)


@pytest.mark.parametrize("fmt", FORMATS)
def test_withheld_cells_are_never_shown_as_numbers(acme: Client, fmt: str) -> None:
    answer = acme.query(PARTIAL, format=fmt)  # type: ignore[arg-type]
    assert answer.row_status == ["partial"] * 5 and not answer.exact
    assert answer.withheld_cells == [[i, 2] for i in range(5)]
    assert all(row[2] is None and answer.withheld(i, 2) for i, row in enumerate(answer.rows))
    assert all(isinstance(row[1], int) for row in answer.rows)


def test_csv_answer_says_which_cells_were_withheld(live: Live) -> None:
    response = httpx.post(f"{live.url}/v1/collaborations/{COLLAB}/queries", json={"sql": PARTIAL},
                          headers={"Authorization": f"Bearer {live.tokens['acme']}",
                                   "Accept": "text/csv"})
    assert response.headers["x-cleanroom-row-status"] == "partial*5"
    assert response.headers["x-cleanroom-withheld-cells"] == "0:2,1:2,2:2,3:2,4:2"
    assert all(line.endswith(",") for line in response.text.splitlines()[1:])


@pytest.mark.parametrize("fmt", ("csv", "arrow"))
def test_dp_answers_say_noised_in_every_format(acme: Client, fmt: str) -> None:
    sql = "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions GROUP BY channel"
    answer = acme.query(sql, epsilon=1.0, format=fmt)  # type: ignore[arg-type]  # groups kept
    assert answer.row_status == ["noised"] * len(answer.rows) and answer.rows
    assert answer.epsilon_spent == pytest.approx(1.0) and answer.suppressed_rows is None
    if fmt == "arrow":
        assert answer.confidence_intervals is not None
        low, high = answer.confidence_intervals[0][1]
        assert low < high


def test_attribution_and_analytics_in_each_format(acme: Client) -> None:
    model = dict(model="last_touch", touchpoints="impressions", conversions="conversions",
                 dimension="channel")
    by_json = acme.attribution(COLLAB, **model)  # type: ignore[arg-type]
    by_csv = acme.attribution(COLLAB, **model, format="csv")  # type: ignore[arg-type]
    assert by_json.columns == by_csv.columns and _same_rows(by_json.rows, by_csv.rows)
    assert by_json.extra["model"] == "last_touch" and by_json.rows
    overlap = acme.analytics("overlap", {"a": "impressions", "b": "conversions"})
    arrow = acme.analytics(COLLAB, "overlap", a="impressions", b="conversions", format="arrow")
    assert overlap.rows == arrow.rows and overlap.extra["analytic"] == "overlap"


def test_check_gives_the_decision_and_the_sql(acme: Client) -> None:
    accepted = acme.check(BY_CHANNEL)
    assert accepted.accepted and accepted.sql and "impressions" in accepted.sql
    rejected = acme.check("SELECT user_key FROM conversions")
    assert rejected.decision == "rejected" and not rejected.accepted
    assert [v.rule for v in rejected.violations] == ["user_key_output"]
    assert rejected.violations[0].line == 1 and rejected.violations[0].hint


def test_refusals_raise_the_class_of_their_code(live: Live, acme: Client) -> None:
    with pytest.raises(QueryRejected) as rejected:
        acme.query("SELECT user_key FROM conversions")
    assert (rejected.value.code, rejected.value.status) == ("query_rejected", 422)
    assert rejected.value.violations[0].rule == "user_key_output"
    with pytest.raises(Unauthorized) as unauthorized, Client(live.url, "crt_wrong") as bad:
        bad.query(COLLAB, "SELECT 1")
    assert unauthorized.value.status == 401 and isinstance(unauthorized.value, ApiError)
    with pytest.raises(Forbidden), Client(live.url, live.tokens["streamco"]) as streamco:
        streamco.upload(COLLAB, "conversions", live.files["conversions"])
    with pytest.raises(NotFound), Client(live.url, live.tokens["globex"]) as globex:
        globex.collaboration(COLLAB)


def test_a_bad_upload_raises_invalid_upload(live: Live, tmp_path: Path) -> None:
    bad = tmp_path / "conversions.csv"
    bad.write_text("user_key,ts,revenue\nnot-a-key,2026-01-01 00:00:00,1\n")
    with pytest.raises(InvalidUpload) as refused, Client(live.url, live.tokens["acme"]) as cr:
        cr.upload(COLLAB, "conversions", bad)
    assert refused.value.status in (400, 413, 422) and refused.value.violations


def test_an_unreachable_service_raises_unreachable() -> None:
    with pytest.raises(Unreachable), Client(f"http://127.0.0.1:{free_port()}", "t") as cr:
        cr.budget(COLLAB)


@pytest.mark.parametrize("party", ["acme", "streamco", "reviewer"])
def test_every_party_discovers_the_collaboration(live: Live, canary: CanaryData,
                                                 party: str) -> None:
    with Client(live.url, live.tokens[party]) as cr:
        info = cr.collaboration(COLLAB)
    assert set(info) >= {"collaboration", "policy_version", "parties", "datasets",
                         "query_rules", "privacy"}
    assert {p["name"]: p["roles"] for p in info["parties"]}["acme"] == ["analyst", "provider"]
    impressions = info["datasets"]["impressions"]
    assert impressions["provider"] == "streamco" and impressions["version"] == 1
    assert impressions["rows"] == canary.impressions.num_rows
    assert impressions["columns"]["cost"] == {"kind": "metric", "type": "DOUBLE",
                                              "bounds": [0.0, 100.0]}
    assert impressions["columns"]["user_key"]["kind"] == "user_key"
    assert info["query_rules"]["min_users_per_row"] == 50


def test_budget_and_audit(live: Live, acme: Client) -> None:
    acme.query("SELECT COUNT(DISTINCT user_key) AS n FROM conversions", epsilon=0.1)
    spent = acme.budget()
    assert spent["party"] == "acme" and spent["epsilon_spent"] >= 0.1 and spent["history"]
    with Client(live.url, live.tokens["reviewer"], collaboration=COLLAB) as reviewer:
        entries = reviewer.audit()["entries"]
    assert {"upload", "query"} <= {e["action"] for e in entries}


def test_policy_routes_not_served_yet_answer_not_found(acme: Client) -> None:
    """The §4 policy lifecycle is not built yet: the client says so with the service's 404
    instead of inventing an answer (this test changes when those routes land)."""
    for action in ("show", "versions"):
        with pytest.raises(NotFound) as missing:
            acme.policy(action=action)  # type: ignore[arg-type]
        assert missing.value.status == 404


def test_budget_exhausted_is_its_own_class(tmp_path: Path, canary: CanaryData) -> None:
    running = start(tmp_path, canary)
    server = next(running)
    try:
        with Client(server.url, server.tokens["acme"], collaboration=COLLAB) as cr:
            cr.upload("conversions", server.files["conversions"])
            sql = "SELECT COUNT(DISTINCT user_key) AS n FROM conversions"
            for _ in range(10):
                cr.query(sql, epsilon=1.0)
            with pytest.raises(BudgetExhausted) as exhausted:
                cr.query(sql, epsilon=1.0)
        assert (exhausted.value.code, exhausted.value.status) == ("budget_exhausted", 429)
    finally:
        running.close()


def test_never_uploaded_dataset_is_refused_by_name(tmp_path: Path, canary: CanaryData) -> None:
    running = start(tmp_path, canary)
    server = next(running)
    try:
        with Client(server.url, server.tokens["acme"], collaboration=COLLAB) as cr:
            info = cr.collaboration()
            assert info["datasets"]["impressions"]["version"] is None
            with pytest.raises(QueryRejected) as refused:
                cr.query("SELECT COUNT(DISTINCT user_key) AS n FROM impressions")
            assert "impressions" in refused.value.message
            assert [v.rule for v in refused.value.violations] == ["not_uploaded"]
            cr.upload("conversions", server.files["conversions"])
            assert cr.query("SELECT COUNT(DISTINCT user_key) AS n FROM conversions").rows
            with pytest.raises(QueryRejected, match="impressions"):
                cr.attribution(None, "last_touch", "impressions", "conversions", "channel")
    finally:
        running.close()


def test_upload_streams_in_chunks(tmp_path: Path, canary: CanaryData) -> None:
    """A large file goes out chunk by chunk (the progress callback sees each one), never read
    whole."""
    big = tmp_path / "impressions.csv"
    lines = canary.write(tmp_path / "one")["impressions"].read_bytes().splitlines(keepends=True)
    with big.open("wb") as f:
        f.write(lines[0])
        while f.tell() < 3 * 1024 * 1024:
            f.writelines(lines[1:])
    seen: list[int] = []
    running = start(tmp_path / "srv", canary)
    server = next(running)
    try:
        with Client(server.url, server.tokens["streamco"]) as cr:
            done = cr.upload(COLLAB, "impressions", big, progress=seen.append)
    finally:
        running.close()
    assert len(seen) >= 3 and sum(seen) == big.stat().st_size
    assert done.rows == sum(1 for _ in big.open("rb")) - 1


def test_example_script_uses_the_client_and_fails_on_a_401(live: Live) -> None:
    import subprocess
    import sys

    script = Path(__file__).parents[1] / "examples" / "client.py"
    sql = Path(__file__).parents[1] / "examples" / "queries" / "last_touch_attribution.sql"
    good = subprocess.run([sys.executable, str(script), "--url", live.url, "--token",
                           live.tokens["acme"], "--sql", str(sql)],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["rows"]
    bad = subprocess.run([sys.executable, str(script), "--url", live.url, "--token", "crt_nope",
                          "--sql", str(sql)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "unauthorized" in bad.stderr and bad.stdout == ""


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_leaks_a_canary(acme: Client, canary: CanaryData, fmt: str) -> None:
    by_campaign = ("SELECT campaign, COUNT(DISTINCT user_key) AS people, SUM(cost) AS spend "
                   "FROM impressions GROUP BY campaign")
    for sql in (BY_CHANNEL, PARTIAL, by_campaign):
        answer = acme.query(sql, format=fmt)  # type: ignore[arg-type]
        assert answer.rows and canary.leaks(answer.content.decode("utf-8", "replace"), sql) == []
