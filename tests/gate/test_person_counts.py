"""Per-person counts in a dataset's stats view (``hidden.py``), which DP bounding reads to skip
the people within its bounds: the native copy stores them, the view over the Parquet file
counts them with window functions, and both equal the counts that raw DuckDB finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from cleanroom.engine import ColumnSpec, Limits, TableSpec, sandbox
from cleanroom.engine.native import CACHE

# Irregular people: 0-40 rows each, NULL channels, a NULL user_key, a day per row.
DATA = """SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE sha256(CAST((i * i) % 61 AS VARCHAR)) END
    AS user_key, CASE WHEN i % 11 = 0 THEN NULL ELSE ['a', 'b', 'c', 'd'][1 + (i * 7) % 4] END
    AS channel, CAST(i % 13 AS INTEGER) AS slot, DATE '2026-01-01' + CAST(i % 5 AS INTEGER) AS day,
    TIMESTAMP '2026-01-01' + to_seconds(i) AS ts, (i % 7) * 1.0 AS cost FROM range(1500) r(i)"""

TRUTH = """WITH t AS (SELECT CAST('0x' || left(user_key, 31) AS HUGEINT) AS user_key, * EXCLUDE
    (user_key) FROM ({data})), per AS (SELECT user_key, {col} AS v, COUNT(*) AS n FROM t
    WHERE user_key IS NOT NULL GROUP BY ALL)
    SELECT user_key, COUNT(*), MAX(n), SUM(n) FROM per GROUP BY user_key"""


def _table(tmp_path: Path) -> TableSpec:
    path = tmp_path / "impressions.parquet"
    duckdb.connect().execute(f"COPY ({DATA}) TO '{path}' (FORMAT parquet)")
    return TableSpec("impressions", path, (
        ColumnSpec("user_key", "VARCHAR", user_key=True), ColumnSpec("channel", "VARCHAR"),
        ColumnSpec("slot", "INTEGER"), ColumnSpec("day", "DATE"), ColumnSpec("ts", "TIMESTAMP"),
        ColumnSpec("cost", "DOUBLE", (0.0, 10.0))))


@pytest.mark.parametrize("copy", [True, False], ids=["native_copy", "parquet_file"])
def test_stats_view_holds_each_persons_counts(tmp_path: Path, copy: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if not copy:
        monkeypatch.setattr(CACHE, "native", lambda *a, **kw: None)
    table = _table(tmp_path)
    raw = duckdb.connect()
    with sandbox([table], Limits(timeout_s=10.0)) as con:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM (DESCRIBE __cr_t_impressions)").fetchall()]
        # timestamps and clamped metrics have no counts; the view keeps every column
        assert columns == ["user_key", "channel", "slot", "day", "ts", "cost", "__cr_pn",
                           "__cr_pd_channel", "__cr_pm_channel", "__cr_pd_slot", "__cr_pm_slot",
                           "__cr_pd_day", "__cr_pm_day"]
        assert con.execute("SELECT COUNT(*) FROM __cr_t_impressions").fetchall() == [(1500,)]
        assert con.execute("SELECT COUNT(*) FROM __cr_t_impressions WHERE user_key IS NULL AND "
                           "__cr_pn IS NULL").fetchall() == [(16,)]
        for col in ("channel", "slot", "day"):
            truth = {(int(u), d, m, n) for u, d, m, n in raw.execute(
                TRUTH.format(data=DATA, col=col)).fetchall()}
            found: set[Any] = {(int(u), d, m, n) for u, d, m, n in con.execute(
                f"SELECT DISTINCT user_key, __cr_pd_{col}, __cr_pm_{col}, __cr_pn "
                f"FROM __cr_t_impressions WHERE user_key IS NOT NULL").fetchall()}
            assert found == truth, col
            assert len(truth) == 31 and any(d > 1 for _, d, _, _ in truth)
        # the rows are the view's, in the file's order
        assert con.execute("SELECT list(cost) FROM __cr_t_impressions").fetchall() == \
            con.execute("SELECT list(cost) FROM impressions").fetchall()
