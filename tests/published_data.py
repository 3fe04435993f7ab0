"""Seeded synthetic data for the published-SQL corpus (tests/gate/published.sql) over the policy
tests/fixtures/policies-published/brand-media-retail.yaml.

Sized so that most groups stand on hundreds of people, with a few small ones so the threshold
matters: campaign ``stv_pilot`` is seen by 3 people, ad product ``sponsored_tv`` only through it,
device ``smart_speaker`` by 20, CTV campaign ``ctv_test`` by 4, CTV device ``console`` by 9,
segment ``luxury_shoppers`` holds 15 people. Conversions and retail sales mostly follow an
exposure by up to 14 days, so attribution windows join. Some metric values lie outside the
policy's bounds (the service clamps them). Banned columns hold markers that must never appear
in an answer: ``PUBIP``, ``PUBCLICK``, ``STRHH``, ``BRANDORDER``, ``BRANDMAIL``, ``RETCARD``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COLLAB = "brand-media-retail"
POLICIES = Path(__file__).parent / "fixtures" / "policies-published"
SALT = b"published-corpus-salt-42"
BANNED_MARKERS = ("PUBIP", "PUBCLICK", "STRHH", "BRANDORDER", "BRANDMAIL", "RETCARD")
PROVIDERS = {"impressions": "publisher", "clicks": "publisher", "ctv_exposures": "streamer",
             "conversions": "brand", "segments": "brand", "retail_sales": "retailer"}
# Per dataset: metric columns and their bounds, banned columns (as in the policy file).
METRICS = {"impressions": {"impressions": (0, 1), "cost": (0, 20), "viewable": (0, 1)},
           "clicks": {"clicks": (0, 1), "cost": (0, 5)},
           "ctv_exposures": {"seconds_viewed": (0, 60)},
           "conversions": {"conversions": (0, 1), "revenue": (0, 1000), "units": (0, 10)}, "segments": {},
           "retail_sales": {"sales": (0, 500), "items": (0, 30)}}
BANNED = {"impressions": "ip_address", "clicks": "click_id", "ctv_exposures": "household_id",
          "conversions": "order_id", "segments": "email", "retail_sales": "loyalty_card"}
CAMPAIGNS = {"dsp_awareness": "dsp", "dsp_consideration": "dsp", "dsp_conversion": "dsp",
             "sp_brand_terms": "sponsored_products", "sp_category": "sponsored_products",
             "sb_video": "sponsored_brands", "sd_retargeting": "sponsored_display"}
SMALL_CAMPAIGN, SMALL_PRODUCT = "stv_pilot", "sponsored_tv"
START = np.datetime64("2026-09-01T00:00:00")
DAY = 86400


def user_key(i: int) -> str:
    return hmac.new(SALT, f"shopper{i}@example.org".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PublishedData:
    tables: dict[str, pa.Table]
    keys: frozenset[str]

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / f"{name}.csv" for name in self.tables}
        for name, table in self.tables.items():
            pacsv.write_csv(table, paths[name])
        return paths

    def raw(self) -> duckdb.DuckDBPyConnection:
        """The tables as the sandbox shows them: banned columns dropped, metrics clamped to
        their bounds and read as DOUBLE (cleanroom/engine.py)."""
        con = duckdb.connect()
        # One thread, as the sandbox runs (settings.threads): float sums then add in the same
        # order on both sides, so a round() of one (AMC's attribution templates) cannot flip.
        con.execute("SET threads = 1")
        for name, table in self.tables.items():
            con.register(f"{name}_arrow", table)
            cols = []
            for col in table.column_names:
                if col == BANNED[name]:
                    continue
                lo_hi = METRICS[name].get(col)
                cols.append(col if lo_hi is None else
                            f"LEAST(GREATEST({col}, {float(lo_hi[0])}), {float(lo_hi[1])})::DOUBLE AS {col}")
            con.execute(f"CREATE TABLE {name} AS SELECT {', '.join(cols)} FROM {name}_arrow")
            con.unregister(f"{name}_arrow")
        return con


def _times(rng: np.random.Generator, n: int, *, days: int = 30) -> np.ndarray:
    return START + rng.integers(0, days * DAY, n).astype("timedelta64[s]")


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[s]"), pa.timestamp("us"))


def _impressions(rng: np.random.Generator, people: int) -> pa.Table:
    who = np.repeat(np.arange(people), 1 + rng.poisson(5, people))
    names = np.array(list(CAMPAIGNS))
    campaign = names[rng.choice(len(names), who.size, p=[.2, .15, .15, .15, .1, .1, .15])].astype(object)
    campaign[np.isin(who, [3, 4, 5]) & (np.arange(who.size) % 3 == 0)] = SMALL_CAMPAIGN
    product = np.array([CAMPAIGNS.get(c, SMALL_PRODUCT) for c in campaign], dtype=object)
    device = np.array(["desktop", "mobile", "tablet", "tv"])[rng.integers(0, 4, who.size)].astype(object)
    device[np.isin(who, np.arange(40, 60))] = "smart_speaker"
    cost = np.round(rng.uniform(0.2, 8.0, who.size), 4)
    cost[rng.random(who.size) < 0.01] = 35.0  # outside the bounds [0, 20]: clamped to 20
    return pa.table({
        "user_key": [user_key(int(i)) for i in who], "ts": _ts(_times(rng, who.size)),
        "campaign": campaign.tolist(), "ad_product": product.tolist(),
        "creative": [f"cr{c}" for c in rng.integers(1, 4, who.size)], "device": device.tolist(),
        "impressions": np.ones(who.size, np.int32), "cost": cost,
        "viewable": (rng.random(who.size) < 0.7).astype(np.int32),
        "ip_address": [f"PUBIP{i:07d}" for i in range(who.size)]})


def _clicks(rng: np.random.Generator, imp: pa.Table) -> pa.Table:
    pick = np.flatnonzero(rng.random(imp.num_rows) < 0.12)
    ts = imp.column("ts").to_numpy()[pick] + rng.integers(5, 1800, pick.size).astype("timedelta64[s]")
    cost = np.round(rng.uniform(0.1, 3.0, pick.size), 4)
    cost[rng.random(pick.size) < 0.02] = 9.0  # clamped to 5
    return pa.table({
        "user_key": imp.column("user_key").take(pick), "ts": _ts(ts),
        "campaign": imp.column("campaign").take(pick), "ad_product": imp.column("ad_product").take(pick),
        "clicks": np.ones(pick.size, np.int32), "cost": cost,
        "click_id": [f"PUBCLICK{i:07d}" for i in range(pick.size)]})


def _ctv(rng: np.random.Generator, people: int) -> pa.Table:
    viewers = np.flatnonzero(rng.random(people) < 0.45)
    viewers = np.union1d(viewers, [70, 71, 72, 73])
    who = np.repeat(viewers, 1 + rng.poisson(2, viewers.size))
    campaign = np.array(["ctv_fall_launch", "ctv_sports"])[rng.integers(0, 2, who.size)].astype(object)
    campaign[np.isin(who, [70, 71, 72, 73])] = "ctv_test"
    genre = np.array(["drama", "sports", "news", "kids", "comedy"])[rng.integers(0, 5, who.size)]
    device = np.array(["tv", "mobile", "tablet"])[rng.integers(0, 3, who.size)].astype(object)
    device[np.isin(who, viewers[:9])] = "console"
    seconds = np.round(rng.uniform(5, 60, who.size), 2)
    seconds[rng.random(who.size) < 0.02] = 95.0  # clamped to 60
    return pa.table({
        "user_key": [user_key(int(i)) for i in who], "ts": _ts(_times(rng, who.size)),
        "campaign": campaign.tolist(), "genre": genre.tolist(), "device_type": device.tolist(),
        "seconds_viewed": seconds, "household_id": [f"STRHH{i:07d}" for i in range(who.size)]})


def _pick(rng: np.random.Generator, values: list[str], n: int) -> list[str]:
    return [str(v) for v in np.array(values)[rng.integers(0, len(values), n)]]


def _after_exposure(rng: np.random.Generator, who: np.ndarray, imp: pa.Table) -> np.ndarray:
    """Event times up to 14 days after one of the person's impressions (some at random)."""
    first = (pa.table({"k": imp.column("user_key"), "ts": imp.column("ts")})
             .group_by("k").aggregate([("ts", "min")]))
    by_key = dict(zip(first.column("k").to_pylist(), first.column("ts_min").to_numpy()))
    base = np.array([by_key.get(user_key(i), START) for i in who], dtype="datetime64[s]")
    ts = base + rng.integers(600, 14 * DAY, who.size).astype("timedelta64[s]")
    random = rng.random(who.size) < 0.15
    ts[random] = _times(rng, int(random.sum()), days=35)
    return ts


def _conversions(rng: np.random.Generator, people: int, imp: pa.Table) -> pa.Table:
    buyers = np.flatnonzero(rng.random(people) < 0.4)
    who = np.repeat(buyers, 1 + rng.poisson(0.8, buyers.size))
    event = np.array(["purchase", "add_to_cart", "detail_page_view", "sign_up"])[
        rng.choice(4, who.size, p=[.5, .2, .25, .05])]
    purchase = event == "purchase"
    revenue = np.where(purchase, np.round(rng.uniform(5, 400, who.size), 2), 0.0)
    revenue[purchase & (rng.random(who.size) < 0.01)] = 2500.0  # clamped to 1000
    units = np.where(purchase, rng.integers(1, 5, who.size), 0).astype(np.int32)
    return pa.table({
        "user_key": [user_key(int(i)) for i in who], "ts": _ts(_after_exposure(rng, who, imp)),
        "event_type": event.tolist(),
        "product_category": np.array(["electronics", "home", "beauty", "grocery"])[
            rng.integers(0, 4, who.size)].tolist(),
        "new_to_brand": (rng.random(who.size) < 0.3).tolist(),
        "conversions": np.ones(who.size, np.int32), "revenue": revenue, "units": units,
        "order_id": [f"BRANDORDER{i:07d}" for i in range(who.size)]})


def _segments(rng: np.random.Generator, people: int) -> pa.Table:
    names = np.array(["sports_fans", "parents", "tech_enthusiasts", "foodies", "travelers"])
    per = rng.integers(1, 4, people)
    who = np.repeat(np.arange(people), per)
    segment = names[rng.integers(0, len(names), who.size)].astype(object)
    segment[np.isin(who, np.arange(100, 115)) & (np.arange(who.size) % 2 == 0)] = "luxury_shoppers"
    tier = np.array(["gold", "silver", "bronze", "none"])[rng.choice(4, people, p=[.1, .2, .3, .4])]
    region = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, people)]
    age = np.array(["18-24", "25-34", "35-44", "45-54", "55+"])[rng.integers(0, 5, people)]
    # One row per person and segment, as a CRM export would have it.
    pairs = np.char.add(np.char.add(who.astype(str), ":"), segment.astype(str))
    first = np.unique(pairs, return_index=True)[1]
    keep = np.sort(first)
    who, segment = who[keep], segment[keep]
    return pa.table({
        "user_key": [user_key(int(i)) for i in who], "segment": segment.tolist(),
        "loyalty_tier": tier[who].tolist(), "region": region[who].tolist(), "age_band": age[who].tolist(),
        "email": [f"BRANDMAIL{i:07d}" for i in range(who.size)]})


def _retail(rng: np.random.Generator, people: int, imp: pa.Table) -> pa.Table:
    shoppers = np.flatnonzero(rng.random(people) < 0.35)
    who = np.repeat(shoppers, 1 + rng.poisson(1.0, shoppers.size))
    sales = np.round(rng.uniform(3, 300, who.size), 2)
    sales[rng.random(who.size) < 0.01] = 800.0  # clamped to 500
    return pa.table({
        "user_key": [user_key(int(i)) for i in who], "ts": _ts(_after_exposure(rng, who, imp)),
        "store_region": _pick(rng, ["north", "south", "east", "west"], who.size),
        "category": _pick(rng, ["grocery", "electronics", "apparel", "home"], who.size),
        "sales": sales, "items": rng.integers(1, 13, who.size).astype(np.int32),
        "loyalty_card": [f"RETCARD{i:07d}" for i in range(who.size)]})


def make_published_data(people: int = 3000, seed: int = 2026) -> PublishedData:
    rng = np.random.default_rng(seed)
    imp = _impressions(rng, people)
    tables = {"impressions": imp, "clicks": _clicks(rng, imp), "ctv_exposures": _ctv(rng, people),
              "conversions": _conversions(rng, people, imp), "segments": _segments(rng, people),
              "retail_sales": _retail(rng, people, imp)}
    return PublishedData(tables, frozenset(user_key(i) for i in range(people)))
