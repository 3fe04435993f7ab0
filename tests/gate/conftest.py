"""Fixtures for the gate's tests: a raw DuckDB over the same canary tables the service holds."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tests.canary import CanaryData


@pytest.fixture(scope="session")
def raw(canary: CanaryData) -> Iterator[duckdb.DuckDBPyConnection]:
    """The canary tables in a plain DuckDB, metrics clamped to the policy's bounds as the
    sandbox's views clamp them (tests/fixtures/policies/acme-streamco.yaml)."""
    con = duckdb.connect()
    con.register("imp_arrow", canary.impressions)
    con.register("conv_arrow", canary.conversions)
    con.execute("CREATE TABLE impressions AS SELECT user_key, ts, channel, campaign, "
                "LEAST(GREATEST(cost, 0), 100)::DOUBLE AS cost, ip_hash FROM imp_arrow")
    con.execute("CREATE TABLE conversions AS SELECT user_key, ts, "
                "LEAST(GREATEST(revenue, 0), 1000)::DOUBLE AS revenue, order_id FROM conv_arrow")
    yield con
    con.close()
