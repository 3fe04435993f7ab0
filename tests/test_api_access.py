"""Tokens and roles on every route (CONTRACT.md §3), and the error body's one shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.store import Store
from tests.conftest import COLLAB, POLICIES, Harness, make_client

QUERY = "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions GROUP BY channel"
ERROR_KEYS = {"code", "message", "violations"}


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == code
    for violation in body["error"]["violations"]:
        assert {"rule", "message"} <= set(violation)
    return body


def test_healthz_needs_no_token(fresh: Harness) -> None:
    assert fresh.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "bearer  "])
def test_missing_or_wrong_token_is_401(fresh: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = fresh.client.post(f"/v1/collaborations/{COLLAB}/queries", json={"sql": QUERY},
                                 headers=headers)
    assert_error(response, 401, "unauthorized")


def test_tokens_are_stored_only_as_hashes(fresh: Harness) -> None:
    raw = (fresh.data_dir / "meta.sqlite").read_bytes()
    for token in fresh.tokens.values():
        assert token.encode() not in raw
    assert len(set(fresh.tokens.values())) == len(fresh.tokens)


def test_a_token_issued_later_is_accepted_at_once(fresh: Harness) -> None:
    token = Store(fresh.data_dir).issue_token(COLLAB, "acme")
    response = fresh.client.post(f"/v1/collaborations/{COLLAB}/queries/check", json={"sql": QUERY},
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_only_analysts_query(loaded: Harness) -> None:
    for party in ("streamco", "reviewer"):
        assert_error(loaded.query(QUERY, party=party), 403, "forbidden")
    assert loaded.query(QUERY, party="acme").status_code == 200


def test_only_the_provider_uploads_its_dataset(loaded: Harness) -> None:
    body = b"user_key,ts,revenue,order_id\n"
    assert_error(loaded.upload("conversions", body, party="streamco"), 403, "forbidden")
    assert_error(loaded.upload("impressions", body, party="reviewer"), 403, "forbidden")


def test_compliance_and_providers_read_the_audit(loaded: Harness, tmp_path: Path) -> None:
    """CONTRACT.md §4: compliance reads every entry, a provider those of the queries on its
    datasets (tests/test_audit.py), a party with neither role nothing."""
    url = f"/v1/collaborations/{COLLAB}/audit"
    for party in ("reviewer", "acme", "streamco"):
        assert loaded.client.get(url, headers=loaded.auth(party)).status_code == 200, party
    assert_error(loaded.client.get(url, headers=loaded.auth("globex")), 404, "not_found")
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (POLICIES / f"{COLLAB}.yaml").read_text()
    (policies / f"{COLLAB}.yaml").write_text(text.replace(
        "  - {name: reviewer,", "  - {name: bystander, roles: [analyst]}\n  - {name: reviewer,"))
    h = make_client(tmp_path / "data", policies=policies)
    bystander = Store(h.data_dir).issue_token(COLLAB, "bystander")
    response = h.client.get(url, headers={"Authorization": f"Bearer {bystander}"})
    assert_error(response, 403, "forbidden")


def test_another_collaboration_learns_nothing(loaded: Harness) -> None:
    """A party of another collaboration gets the same 404 for a real and a made-up collaboration."""
    real = loaded.query(QUERY, party="globex")
    made_up = loaded.query(QUERY, party="globex", collab="no-such-collab")
    body = assert_error(real, 404, "not_found")
    assert made_up.status_code == 404 and made_up.json() == body
    upload = loaded.upload("impressions", b"x", party="globex")
    assert_error(upload, 404, "not_found")


def test_unknown_dataset_is_404(loaded: Harness) -> None:
    assert_error(loaded.upload("nope", b"a\n1\n", party="streamco"), 404, "not_found")


def test_unknown_route_and_bad_body_keep_the_shape(loaded: Harness) -> None:
    assert_error(loaded.client.get("/v2/nothing"), 404, "not_found")
    assert_error(loaded.client.delete("/healthz"), 405, "method_not_allowed")
    response = loaded.client.post(f"/v1/collaborations/{COLLAB}/queries",
                                  json={"sql": 5, "secret": "CANARYCAMP3"}, headers=loaded.auth("acme"))
    body = assert_error(response, 422, "invalid_request")
    assert "CANARYCAMP3" not in response.text
    assert body["error"]["violations"]


def test_rejected_query_has_violations_with_positions(loaded: Harness) -> None:
    body = assert_error(loaded.query("SELECT user_key,\n  ip_hash FROM impressions"), 422,
                        "query_rejected")
    rules = {v["rule"] for v in body["error"]["violations"]}
    assert {"user_key_output", "banned_column"} <= rules
    banned = next(v for v in body["error"]["violations"] if v["rule"] == "banned_column")
    assert banned["line"] == 2 and banned["col"] is not None
    assert banned["hint"]
