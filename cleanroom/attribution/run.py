"""The one entry point: check the spec, then run the model inside DuckDB.

>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE touches AS SELECT * FROM (VALUES "
...     "('u1', TIMESTAMP '2024-01-01', 'email'), ('u1', TIMESTAMP '2024-01-02', 'search'), "
...     "('u2', TIMESTAMP '2024-01-02', 'search')) v(user_key, ts, channel)")
>>> _ = con.execute("CREATE TABLE conversions AS SELECT 'u1' AS user_key, "
...     "TIMESTAMP '2024-01-03' AS ts, 10.0 AS revenue")
>>> spec = AttributionSpec("linear", "touches", "conversions", "channel", lookback_days=30)
>>> run_attribution(con, spec)
AttributionResult(columns=('channel', 'conversions', 'revenue'),
                  rows=(('email', 0.5, 5.0), ('search', 0.5, 5.0)), users=(1, 1))
"""

from __future__ import annotations

import duckdb

from cleanroom.attribution.heuristics import run_heuristic
from cleanroom.attribution.markov import run_markov
from cleanroom.attribution.schema import check_columns
from cleanroom.attribution.spec import AttributionResult, AttributionSpec, check_spec


def run_attribution(con: duckdb.DuckDBPyConnection, spec: AttributionSpec) -> AttributionResult:
    """Credit each converting person's conversion and revenue to the dimension values on their path.

    Raises ValueError for a bad spec (unknown model, bad option, missing table or column, unusable
    type, too many Markov states) and RuntimeError with a fixed message if DuckDB fails; neither
    message carries a data value.
    """
    check_spec(spec)
    check_columns(con, spec)
    try:
        if spec.model == "markov":
            return run_markov(con, spec)
        return run_heuristic(con, spec)
    except duckdb.Error:
        # DuckDB's messages can echo data values; the cause is dropped on purpose.
        raise RuntimeError("attribution query failed") from None
