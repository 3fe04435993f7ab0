"""Messages a person can act on (issue 11, point 4): validation errors in words with their bounds,
syntax errors called so at the token they stop at, unknown names answered with the valid ones
and a "did you mean", a hint for double-quoted strings, upload columns by name, and the
standard headers on 401 and 405. None of them may echo a data value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import COLLAB, Harness

RAW_CODE = re.compile(r"\b(json_invalid|model_attributes_type|less_than_equal|greater_than|"
                      r"string_type|float_type|extra_forbidden|missing)\b(?! )")
ATTRIBUTION = {"model": "markov", "touchpoints": "impressions", "conversions": "conversions",
               "dimension": "channel", "lookback_days": 30}


def messages(response: Any) -> list[str]:
    return [v["message"] for v in response.json()["error"]["violations"]]


@pytest.mark.parametrize(("label", "route", "body", "says"), [
    ("bad json", "queries", b"{bad", "the body is not valid JSON: expecting property name"),
    ("a list", "queries", [1], "the body must be a JSON object"),
    ("sql not a string", "queries", {"sql": 3}, "sql must be a string"),
    ("epsilon bound", "queries", {"sql": "x", "epsilon": -1}, "epsilon must be greater than 0"),
    ("epsilon as text", "queries", {"sql": "x", "epsilon": "0.5"}, "epsilon must be a number"),
    ("unknown field", "queries", {"sql": "x", "eps": 1}, "eps is not a field of this request"),
    ("missing field", "queries", {}, "sql is required"),
    ("markov order bound", "attribution", {**ATTRIBUTION, "options": {"order": 9}},
     "options.order must be at most 4"),
    ("options not an object", "attribution", {**ATTRIBUTION, "options": 3},
     "options must be a JSON object"),
    ("analytic option", "analytics/overlap", {"a": "impressions", "b": 5}, "b must be a string"),
])
def test_validation_errors_are_words_with_their_bounds(fresh: Harness, label: str, route: str,
                                                       body: Any, says: str) -> None:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = fresh.client.post(f"/v1/collaborations/{COLLAB}/{route}", **kwargs,
                                 headers={**fresh.auth("acme"), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    found = messages(response)
    assert any(says in m for m in found), found
    assert not any(RAW_CODE.search(m) for m in found), found


@pytest.mark.parametrize(("sql", "token"), [
    ("SELECT channel,\n  COUNT(DISTINCT user_key) FROM impressions GROUP BY channel ORDER", "ORDER"),
    ("SELECT SELECT FROM impressions", "SELECT"),
    ("SELECT COUNT(*) FROM impressions WHERE", "WHERE"),
])
def test_a_syntax_error_is_called_one_at_the_token_it_stops_at(fresh: Harness, sql: str,
                                                               token: str) -> None:
    error = fresh.query(sql).json()["error"]
    assert error["code"] == "query_rejected" and "syntax" in error["message"]
    (violation,) = error["violations"]
    assert violation["rule"] == "syntax_error" and token in violation["message"]
    line = sql.splitlines()[violation["line"] - 1]
    assert line[violation["col"] - 1:].startswith(token), (line, violation)
    assert line[:violation["col"] - 1].count(token) == (1 if token == "SELECT" else 0)


def test_an_unclosed_quote_is_located(fresh: Harness) -> None:
    error = fresh.query("SELECT COUNT(*) FROM impressions\nWHERE channel = 'search").json()["error"]
    (violation,) = error["violations"]
    assert violation["rule"] == "syntax_error" and "quote" in violation["message"]
    assert (violation["line"], violation["col"]) == (2, 17)


def test_an_unknown_column_gets_a_did_you_mean_and_the_valid_names(loaded: Harness) -> None:
    error = loaded.query("SELECT chanel, COUNT(DISTINCT user_key) AS n FROM impressions "
                         "GROUP BY 1").json()["error"]
    (violation,) = error["violations"]
    assert violation["rule"] == "unknown_column"
    assert "did you mean 'channel'?" in violation["message"]
    assert "campaign, channel, cost, ts, user_key" in violation["message"]
    assert "ip_hash" not in violation["message"]  # banned: not offered


def test_an_unknown_table_gets_a_did_you_mean_and_no_column_noise(loaded: Harness) -> None:
    error = loaded.query("SELECT channel, COUNT(DISTINCT user_key) AS n FROM impresions "
                         "GROUP BY 1").json()["error"]
    assert [v["rule"] for v in error["violations"]] == ["unknown_table"]
    message = error["violations"][0]["message"]
    assert "did you mean 'impressions'?" in message and "conversions, impressions" in message


def test_a_double_quoted_string_gets_a_hint(loaded: Harness) -> None:
    error = loaded.query('SELECT channel, COUNT(DISTINCT user_key) AS n FROM impressions '
                         'WHERE channel = "search" GROUP BY 1').json()["error"]
    (violation,) = error["violations"]
    assert violation["rule"] == "unknown_column"
    assert "write a string in single quotes, 'search'" in violation["message"]


def test_suggestions_never_offer_a_data_value(loaded: Harness, canary) -> None:  # type: ignore[no-untyped-def]
    """A name close to a data value is answered with policy names only."""
    for typo in ("CANARYCAMP", "CANARYCHAN", "CANARYIP", "CANARYORDER", "serch", "77777"):
        for sql in (f'SELECT "{typo}", COUNT(DISTINCT user_key) AS n FROM impressions GROUP BY 1',
                    f"SELECT COUNT(DISTINCT user_key) AS n FROM {typo.lower()}"):
            response = loaded.query(sql)
            assert response.status_code == 422
            text = response.text.replace(typo, "").replace(typo.lower(), "")
            for marker in (*canary.markers, "social", "display", "video", "email"):
                assert marker not in text, (sql, marker, text)


def test_an_upload_names_its_columns_and_suggests_the_policys(fresh: Harness) -> None:
    body = b"user_key,ts,chanel,campaign,cost,ip_hash\n"
    violations = fresh.upload("impressions", body, party="streamco").json()["error"]["violations"]
    unknown = next(v for v in violations if v["rule"] == "unknown_column")
    assert unknown["message"] == "column chanel is not in the policy; did you mean channel?"
    assert "user_key, ts, channel, campaign, cost, ip_hash" in unknown["hint"]


def test_an_upload_without_its_header_row_is_named_by_position(fresh: Harness) -> None:
    key = "ab" * 32
    body = f"{key},2026-09-01 10:00:00,SECRET@example.com,2\n{key},2026-09-01,x@y.z,3\n".encode()
    response = fresh.upload("conversions", body, party="acme")
    assert response.status_code == 422
    assert "header row missing" in response.text
    assert key not in response.text and "SECRET" not in response.text


def test_401_carries_www_authenticate_and_405_allow(fresh: Harness) -> None:
    for headers in ({}, {"Authorization": "Bearer crt_unknown"}, {"Authorization": "Basic x"}):
        response = fresh.client.get(f"/v1/collaborations/{COLLAB}/budget", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    response = fresh.client.delete(f"/v1/collaborations/{COLLAB}/queries", headers=fresh.auth("acme"))
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_attribution_and_analytics_names_get_a_did_you_mean(fresh: Harness) -> None:
    def post(route: str, body: dict[str, Any]) -> Any:
        return fresh.client.post(f"/v1/collaborations/{COLLAB}/{route}", json=body,
                                 headers=fresh.auth("acme"))
    table = post("attribution", {**ATTRIBUTION, "touchpoints": "impresions"})
    assert "did you mean 'impressions'? (datasets: conversions, impressions)" in messages(table)[0]
    column = post("attribution", {**ATTRIBUTION, "dimension": "chanel"})
    (says,) = messages(column)
    assert "did you mean 'channel'?" in says and "ip_hash" not in says
    analytic = post("analytics/overlapp", {})
    assert analytic.status_code == 404 and analytic.json()["error"]["code"] == "not_found"
    assert "did you mean 'overlap'?" in analytic.json()["error"]["message"]
