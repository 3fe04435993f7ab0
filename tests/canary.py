"""Test data with canaries: values that must never appear in any response, error, log or audit
entry unless the analyst's SQL itself contained them (shared/ATTACKS.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SALT = b"test-collaboration-salt-0123456789"
RARE_CAMPAIGN = "CANARYCAMP3"  # a campaign only 3 people saw
SMALL_CHANNEL = "CANARYCHAN7"  # a channel only 7 people saw
UNIQUE_REVENUE = 777.77  # one person's revenue, unique, inside the bounds
HUGE_REVENUE = 98765.43  # one person's revenue, far outside the bounds [0, 1000]
BANNED_MARKERS = ("CANARYIP", "CANARYORDER")
CHANNELS = ("search", "social", "display", "video", "email")
HEX64 = re.compile(r"[0-9a-f]{64}")


def user_key(i: int) -> str:
    return hmac.new(SALT, f"person{i}@example.com".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CanaryData:
    impressions: pa.Table
    conversions: pa.Table
    keys: frozenset[str]
    markers: tuple[str, ...] = field(default=(RARE_CAMPAIGN, SMALL_CHANNEL, "777.77", "98765.43",
                                               *BANNED_MARKERS))

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("impressions", "conversions"):
            paths[name] = folder / f"{name}.csv"
            pacsv.write_csv(getattr(self, name), paths[name])
        return paths

    def leaks(self, body: str, sql: str = "") -> list[str]:
        """Canaries in ``body`` that ``sql`` did not itself contain."""
        found = [m for m in self.markers if m in body and m not in sql]
        found += [k for k in set(HEX64.findall(body)) if k in self.keys and k not in sql]
        return found

    def entry_leaks(self, entry: dict, sql: str = "") -> list[str]:
        """Canaries in an audit entry, but for its ``at``: the service's clock, which no data
        reaches, and whose digits once held the 777.77 marker (1796212777.77...)."""
        return self.leaks(json.dumps({k: v for k, v in entry.items() if k != "at"}), sql)


def make_canary_data(people: int = 1200, seed: int = 11) -> CanaryData:
    rng = np.random.default_rng(seed)
    keys = [user_key(i) for i in range(people)]
    per = 1 + rng.poisson(3, people)
    who = np.repeat(np.arange(people), per)
    channel = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), who.size)].astype(object)
    flight = rng.integers(1, 3, who.size).astype(str)
    campaign = np.char.add(channel.astype(str), "-c").astype(object) + flight
    campaign[np.isin(who, [5, 6, 7]) & (np.arange(who.size) % 2 == 0)] = RARE_CAMPAIGN
    channel[np.isin(who, np.arange(20, 27))] = SMALL_CHANNEL
    base = np.datetime64("2026-09-01T00:00:00")
    ts = base + rng.integers(0, 30 * 86400, who.size).astype("timedelta64[s]")
    impressions = pa.table({
        "user_key": [keys[i] for i in who], "ts": pa.array(ts, pa.timestamp("s")),
        "channel": channel.tolist(), "campaign": campaign.tolist(),
        "cost": np.round(rng.uniform(0.1, 5.0, who.size), 3),
        "ip_hash": [f"CANARYIP{i:06d}" for i in range(who.size)]})
    buyers = np.flatnonzero(rng.random(people) < 0.35)
    buyers = np.union1d(buyers, [100, 101])
    when = base + rng.integers(86400, 35 * 86400, buyers.size).astype("timedelta64[s]")
    revenue = np.round(rng.uniform(10, 500, buyers.size), 2)
    revenue[buyers == 100] = UNIQUE_REVENUE
    revenue[buyers == 101] = HUGE_REVENUE
    conversions = pa.table({
        "user_key": [keys[i] for i in buyers], "ts": pa.array(when, pa.timestamp("s")),
        "revenue": revenue, "order_id": [f"CANARYORDER{i:06d}" for i in range(buyers.size)]})
    return CanaryData(impressions, conversions, frozenset(keys))
