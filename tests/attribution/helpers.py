"""Helpers for the attribution tests: a locked-down DuckDB, table builders, a seeded synthetic
data set, and an independent pure-Python path builder (the path rules again, without SQL)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.synthetic import JOURNEY_CHANNELS, journeys

CHANNELS = np.array(JOURNEY_CHANNELS)
EPOCH = np.datetime64("2024-01-01T00:00:00", "us")


def locked(tables: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding ``tables``, then locked down as the service locks it."""
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(f"_{name}", table)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "_{name}"')
        con.unregister(f"_{name}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def touch_table(rows: Iterable[tuple[str, str, str | None]]) -> pa.Table:
    """(user_key, 'YYYY-MM-DD HH:MM', channel) rows as a touchpoints table."""
    users, times, channels = zip(*rows)
    return pa.table(
        {
            "user_key": pa.array(users, pa.string()),
            "ts": pa.array([datetime.fromisoformat(t) for t in times], pa.timestamp("us")),
            "channel": pa.array(channels, pa.string()),
        }
    )


def conversion_table(rows: Iterable[tuple[str, str, float | None]]) -> pa.Table:
    """(user_key, 'YYYY-MM-DD HH:MM', revenue) rows as a conversions table."""
    users, times, revenue = zip(*rows)
    return pa.table(
        {
            "user_key": pa.array(users, pa.string()),
            "ts": pa.array([datetime.fromisoformat(t) for t in times], pa.timestamp("us")),
            "revenue": pa.array(revenue, pa.float64()),
        }
    )


def synthetic(n_people: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Seeded journeys over five channels: Markov-chain touch sequences, hourly timestamps (so
    ties happen), conversions after or in the middle of a journey, second conversions, people
    who convert without touches, and NULL revenue."""
    rng = np.random.default_rng(seed)
    j = journeys(n_people, rng)
    person, channel, hours, starts, n_touch = j.person, j.channel, j.hours, j.starts, j.n_touch
    touches = pa.table(
        {
            "user_key": pa.array([f"p{i:07d}" for i in person]),
            "ts": pa.array(EPOCH + hours.astype("timedelta64[h]")),
            "channel": pa.array(CHANNELS[channel]),
        }
    )
    return touches, _conversions(rng, n_people, person, channel, hours, starts, n_touch)


def _conversions(
    rng: np.random.Generator,
    n_people: int,
    person: np.ndarray,
    channel: np.ndarray,
    hours: np.ndarray,
    starts: np.ndarray,
    n_touch: np.ndarray,
) -> pa.Table:
    seen = np.zeros((n_people, len(CHANNELS)))
    np.add.at(seen, (person, channel), 1)
    logit = -2.2 + 0.9 * (seen[:, 2] > 0) + 0.6 * (seen[:, 3] > 0) + 0.15 * n_touch
    who = np.nonzero(rng.random(n_people) < 1 / (1 + np.exp(-logit)))[0]
    last = hours[starts + n_touch - 1]
    at_touch = hours[starts + (rng.random(n_people) * n_touch).astype(np.int64)]
    after = last + np.rint(rng.exponential(30, n_people)).astype(np.int64)
    when = np.where(rng.random(n_people) < 0.15, at_touch, after)
    again = who[rng.random(who.size) < 0.2]
    orphans = n_people + np.arange(max(n_people // 200, 1))
    users = np.concatenate([who, again, orphans])
    conv_hours = np.concatenate(
        [when[who], when[again] + 24 * 5, rng.integers(0, 2000, orphans.size)]
    )
    revenue = np.round(rng.lognormal(3.5, 0.8, users.size), 2)
    return pa.table(
        {
            "user_key": pa.array([f"p{i:07d}" for i in users]),
            "ts": pa.array(EPOCH + conv_hours.astype("timedelta64[h]")),
            "revenue": pa.array(revenue, mask=rng.random(users.size) < 0.05),
        }
    )


@dataclass(frozen=True)
class RefPath:
    """A path built by the pure-Python reference: channels in order, their age at conversion."""

    user: str
    channels: tuple[str, ...]
    hours_before: tuple[float, ...]  # conv_ts - ts in hours; empty for null paths
    converted: bool
    value: float


def reference_paths(
    touches: pa.Table, conversions: pa.Table, lookback_days: float
) -> list[RefPath]:
    """The path rules of docs/attribution.md, re-implemented in plain Python."""
    lookback = timedelta(days=lookback_days)
    by_user: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in touches.to_pylist():
        by_user[row["user_key"]].append((row["ts"], row["channel"]))
    first: dict[str, tuple[datetime, float]] = {}
    for row in conversions.to_pylist():
        key = (row["ts"], -(row["revenue"] or 0.0))
        old = first.get(row["user_key"])
        if old is None or key < (old[0], -old[1]):
            first[row["user_key"]] = (row["ts"], row["revenue"] or 0.0)
    latest = max(t for seq in by_user.values() for t, _ in seq)
    paths = []
    for user, seq in sorted(by_user.items()):
        if user in first:
            conv_ts, value = first[user]
            kept = sorted(tc for tc in seq if conv_ts - lookback <= tc[0] < conv_ts)
            ages = tuple((conv_ts - t).total_seconds() / 3600 for t, _ in kept)
            paths.append(RefPath(user, tuple(c for _, c in kept), ages, True, value))
        else:
            kept = sorted(tc for tc in seq if latest - lookback <= tc[0])
            paths.append(RefPath(user, tuple(c for _, c in kept), (), False, 0.0))
    return [p for p in paths if p.channels]
