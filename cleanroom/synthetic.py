"""Synthetic marketing data for the demo, tests and benchmarks (seeded, realistic shapes).

A publisher's exposures over six channels and an advertiser's conversions, for people who
overlap partially: some exposed people never buy, some buyers were never exposed. Identifiers
are plain emails here; the data partners pseudonymize them before upload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

CHANNELS = ("search", "social", "streaming_video", "display", "email", "affiliate")
CHANNEL_WEIGHTS = (0.22, 0.25, 0.18, 0.2, 0.1, 0.05)
CHANNEL_LIFT = (0.05, 0.02, 0.04, 0.01, 0.03, 0.02)  # added purchase probability per channel seen
START = dt.datetime(2026, 9, 1)
DAYS = 30
PILOT_PEOPLE = 30


@dataclass(frozen=True)
class MarketingData:
    impressions: pa.Table  # email, ts, channel, campaign, cost, ip_hash
    conversions: pa.Table  # email, ts, revenue, order_id


def email_of(ids: np.ndarray) -> list[str]:
    return [f"Person.{i}@Example.com " for i in ids.tolist()]


def generate(people: int, *, seed: int = 7, exposed_share: float = 0.8) -> MarketingData:
    """Exposures and conversions for ``people`` people.

    >>> d = generate(2000, seed=1)
    >>> d.impressions.num_rows > 2000 and 0 < d.conversions.num_rows < 2000
    True
    """
    rng = np.random.default_rng(seed)
    exposed = np.flatnonzero(rng.random(people) < exposed_share)
    counts = 1 + rng.poisson(3.0, exposed.size)
    who = np.repeat(exposed, counts)
    channel = rng.choice(len(CHANNELS), size=who.size, p=CHANNEL_WEIGHTS)
    seconds = rng.integers(0, DAYS * 86400, who.size)
    impressions = _impressions(rng, who, channel, seconds)
    conversions = _conversions(rng, people, who, channel, seconds)
    return MarketingData(impressions, conversions)


def _impressions(rng: np.random.Generator, who: np.ndarray, channel: np.ndarray,
                 seconds: np.ndarray) -> pa.Table:
    names = np.array(CHANNELS)[channel]
    flight = rng.integers(1, 4, who.size)
    campaign = np.char.add(np.char.add(names.astype(str), "-fall-"), flight.astype(str))
    # A small pilot campaign that thirty people saw: below the threshold (50), and above half
    # of it, so the demo shows it withheld and counted.
    display = channel == CHANNELS.index("display")
    pilot = np.isin(who, np.unique(who[display])[:PILOT_PEOPLE]) & display
    campaign = np.where(pilot, "display-pilot", campaign)
    return pa.table({
        "email": email_of(who),
        "ts": pa.array(_timestamps(seconds), pa.timestamp("s")),
        "channel": names.tolist(),
        "campaign": campaign.tolist(),
        "cost": np.round(rng.gamma(2.0, 0.004, who.size), 5),
        "ip_hash": [f"ip-{x:08x}" for x in rng.integers(0, 2**32, who.size).tolist()],
    })


def _conversions(rng: np.random.Generator, people: int, who: np.ndarray, channel: np.ndarray,
                 seconds: np.ndarray) -> pa.Table:
    seen = np.zeros((people, len(CHANNELS)), dtype=bool)
    seen[who, channel] = True
    probability = 0.03 + seen.astype(float) @ np.array(CHANNEL_LIFT)
    buyers = np.flatnonzero(rng.random(people) < probability)
    last_seen = np.zeros(people, dtype=np.int64)
    np.maximum.at(last_seen, who, seconds)
    delay = rng.integers(3600, 5 * 86400, buyers.size)
    when = np.minimum(last_seen[buyers] + delay, DAYS * 86400 + 5 * 86400)
    orders = 1 + rng.poisson(0.3, buyers.size)
    buyer_rows = np.repeat(buyers, orders)
    when_rows = np.repeat(when, orders) + rng.integers(0, 3 * 86400, buyer_rows.size)
    revenue = np.round(np.exp(rng.normal(4.0, 0.6, buyer_rows.size)), 2)
    return pa.table({
        "email": email_of(buyer_rows),
        "ts": pa.array(_timestamps(when_rows), pa.timestamp("s")),
        "revenue": revenue,
        "order_id": [f"ord-{i:09d}" for i in rng.permutation(buyer_rows.size).tolist()],
    })


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    return np.datetime64(START, "s") + seconds.astype("timedelta64[s]")


# -- journeys for the attribution tests and benchmarks ----------------------------------------
JOURNEY_CHANNELS = ("direct", "display", "email", "search", "social")
JOURNEY_TRANSITIONS = np.array(
    [[.40, .15, .15, .15, .15], [.10, .30, .20, .20, .20], [.15, .10, .45, .20, .10],
     [.20, .15, .15, .40, .10], [.10, .25, .15, .15, .35]]
)  # fmt: skip


@dataclass(frozen=True)
class Journeys:
    """Touch sequences as arrays: touch i belongs to ``person[i]``, on channel index
    ``channel[i]`` at hour ``hours[i]``; person p's touches start at ``starts[p]``."""

    person: np.ndarray
    channel: np.ndarray
    hours: np.ndarray
    starts: np.ndarray
    n_touch: np.ndarray


def journeys(n_people: int, rng: np.random.Generator) -> Journeys:
    """Markov-chain channel sequences with hourly timestamps (so ties happen).

    >>> j = journeys(100, np.random.default_rng(1))
    >>> same_person = j.person[1:] == j.person[:-1]
    >>> int(j.n_touch.sum()) == j.person.size and bool((np.diff(j.hours)[same_person] >= 0).all())
    True
    """
    n_touch = 1 + rng.poisson(1.4, n_people)
    starts = np.concatenate(([0], np.cumsum(n_touch)[:-1]))
    person = np.repeat(np.arange(n_people), n_touch)
    position = np.arange(person.size) - starts[person]
    channel = rng.choice(len(JOURNEY_CHANNELS), person.size, p=[0.15, 0.30, 0.15, 0.20, 0.20])
    for p in range(1, int(position.max()) + 1):
        at = np.nonzero(position == p)[0]
        draw = rng.random(at.size)[:, None] > np.cumsum(JOURNEY_TRANSITIONS[channel[at - 1]], axis=1)
        channel[at] = np.minimum(draw.sum(axis=1), len(JOURNEY_CHANNELS) - 1)
    gaps = np.rint(rng.exponential(48, person.size)).astype(np.int64)
    gaps[starts] = rng.integers(0, 90 * 24, n_people)
    hours = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[starts] - gaps[starts], n_touch)
    return Journeys(person, channel, hours, starts, n_touch)
