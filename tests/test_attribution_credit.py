"""Issue 8, 4(c): a person counts towards an attribution row only with a credit that matters.

The attack: 60 decoy converters each touch ``bait`` once, second of 121 touches
and eight days before the last ones, so each hands it a vanishing share; one target converts after touching
only ``bait``. Counting every person with a share above 0, the ``bait`` row stands on 61 people
while its totals are the target's alone (one conversion, their revenue). Counting only shares of
at least ``MIN_CREDIT_SHARE``, it stands on one person and is withheld.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from cleanroom.attribution.spec import MIN_CREDIT_SHARE
from tests.conftest import COLLAB, Harness, make_client

DECOYS, OTHERS, TARGET_REVENUE = 60, 120, 777.0
START = dt.datetime(2026, 9, 1)


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def stamp(days: float) -> str:
    return (START + dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def attack_files() -> tuple[bytes, bytes]:
    touches = ["user_key,ts,channel,campaign,cost,ip_hash"]
    conversions = ["user_key,ts,revenue,order_id"]
    for i in range(DECOYS):
        who = key(f"decoy{i}")
        # bait second of 121 touches, eight days before the last ones: a vanishing share
        # under every model (time decay, linear, position based, Shapley, Markov).
        touches.append(f"{who},{stamp(0)},o000,c,1,x")
        touches.append(f"{who},{stamp(0.001)},bait,c,1,x")
        touches += [f"{who},{stamp(8 + j / 1000)},o{j:03d},c,1,x" for j in range(1, OTHERS)]
        conversions.append(f"{who},{stamp(9)},10,o")
    touches.append(f"{key('target')},{stamp(8.5)},bait,c,1,x")
    conversions.append(f"{key('target')},{stamp(9)},{TARGET_REVENUE},o")
    return "\n".join(touches).encode(), "\n".join(conversions).encode()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    harness = make_client(Path(tmp_path_factory.mktemp("credit")) / "data")
    impressions, conversions = attack_files()
    assert harness.upload("impressions", impressions, party="streamco").status_code == 201
    assert harness.upload("conversions", conversions, party="acme").status_code == 201
    return harness


def attribute(h: Harness, model: str, **options: Any) -> dict[str, Any]:
    body = {"model": model, "touchpoints": "impressions", "conversions": "conversions",
            "lookback_days": 30, "dimension": "channel", "options": options}
    response = h.client.post(f"/v1/collaborations/{COLLAB}/attribution", json=body,
                             headers=h.auth("acme"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize(("model", "options"), [
    ("time_decay", {"half_life_days": 0.05}), ("linear", {}), ("position_based", {}),
    ("shapley", {}), ("markov", {})])
def test_a_row_of_one_converter_is_withheld(attacked: Harness, model: str,
                                            options: dict[str, Any]) -> None:
    answer = attribute(attacked, model, **options)
    released = {row[0]: row for row in answer["rows"]}
    assert "bait" not in released, released.get("bait")
    assert not any(abs(row[2] - TARGET_REVENUE) < 1 for row in answer["rows"])


def test_the_attack_would_decode_without_the_minimum_share(attacked: Harness) -> None:
    """The bait row's totals are the target's: its credit from the decoys is far below the
    minimum share, which is what lets the rule withhold it."""
    decoy_share = 0.5 ** (8 / 0.05)
    assert decoy_share * DECOYS < MIN_CREDIT_SHARE
    assert 1 / (OTHERS + 1) < MIN_CREDIT_SHARE  # linear, Shapley
    assert 0.2 / (OTHERS - 1) < MIN_CREDIT_SHARE  # position based, a middle touch
    # Where the decoys' credit matters, their row is released: under first touch o000 has
    # every decoy's whole conversion.
    released = {row[0]: row for row in attribute(attacked, "first_touch")["rows"]}
    assert released["o000"][1] == pytest.approx(DECOYS) and "bait" not in released
