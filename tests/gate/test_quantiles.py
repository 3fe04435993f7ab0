"""Order statistics across people (``aggregates._quantile``): released only when at least k
people hold the value returned; under differential privacy they are not supported."""

from __future__ import annotations

import duckdb

from tests.conftest import Harness


def test_quantile_is_not_answered_under_differential_privacy(loaded: Harness) -> None:
    response = loaded.query("SELECT channel, median(round(cost)) AS m FROM impressions "
                            "GROUP BY channel", epsilon=0.5)
    assert response.status_code == 422, response.text
    rules = {v["rule"] for v in response.json()["error"]["violations"]}
    assert "dp_unsupported" in rules


def test_tied_quantile_is_released_and_blend_withheld(loaded: Harness,
                                                      raw: duckdb.DuckDBPyConnection) -> None:
    """quantile_cont between 0 (most rows) and 1 (the rest) at a rank on the boundary is a
    blend nobody holds; at the median it is 0, which hundreds hold."""
    sql = ("SELECT quantile_cont(CASE WHEN cost > 4 THEN 1 ELSE 0 END, 0.5) AS tied, "
           "quantile_cont(CASE WHEN cost > 4 THEN 1 ELSE 0 END, {p}) AS blend FROM impressions")
    probe = loaded.query("SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE cost > 4) AS high "
                         "FROM impressions").json()["rows"][0]
    n, high = probe
    # DuckDB's quantile_cont reads position p * (n - 1): put it half-way between the last 0
    # and the first 1.
    p = (n - high - 0.5) / (n - 1)
    tied, blend = raw.execute(sql.format(p=repr(p))).fetchone()
    assert tied == 0 and 0 < blend < 1  # raw DuckDB releases a value between the two
    body = loaded.query(sql.format(p=repr(p))).json()
    assert body["rows"][0][0] == 0
    assert body["rows"][0][1] is None and [0, 1] in body["withheld_cells"]
