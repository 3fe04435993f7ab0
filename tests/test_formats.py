"""Answer formats (cleanroom/formats.py, cleanroom/negotiation.py) without a server: each format
round-trips the rows and their trust, and a CSV answer whose statuses do not fit in a header is
refused (406) instead of going out without them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cleanroom import formats
from cleanroom.negotiation import AnswerFormats

BODY: dict[str, Any] = {
    "query_id": "q1", "columns": ["channel", "people", "spend"],
    "rows": [["search", 120, 10.5], ["tv", 80, None], ["radio", 60, 3.25]],
    "suppressed_rows": 2, "epsilon_spent": 0.0, "row_status": ["exact", "partial", "exact"],
    "withheld_cells": [[1, 2]], "confidence_intervals": None, "policy_version": 1}


@pytest.mark.parametrize("media", [formats.CSV, formats.ARROW, formats.PARQUET])
def test_each_format_round_trips_rows_and_status(media: str) -> None:
    if media == formats.CSV:
        content, headers = formats.encode_csv(BODY)
    else:
        content = (formats.encode_arrow if media == formats.ARROW else formats.encode_parquet)(BODY)
        headers = formats.summary_headers(BODY)
    back = formats.decode(content, media, headers)
    for key in ("columns", "rows", "row_status", "withheld_cells", "query_id", "suppressed_rows",
                "policy_version"):
        assert back[key] == BODY[key], key


def test_statuses_too_long_for_a_header_refuse_csv() -> None:
    statuses = ["exact", "partial"] * 2000
    body = {**BODY, "rows": [["x", 1, 1.0]] * 4000, "row_status": statuses,
            "withheld_cells": [[i, 2] for i in range(1, 4000, 2)]}
    with pytest.raises(formats.StatusTooLong):
        formats.encode_csv(body)
    status, headers, content = _through_middleware(body, "text/csv")
    assert status == 406 and headers[b"content-type"].startswith(b"application/json")
    assert json.loads(content)["error"]["code"] == "not_acceptable"
    status, headers, content = _through_middleware(body, formats.ARROW)
    assert status == 200 and formats.decode(content, formats.ARROW)["row_status"] == statuses


def test_refusals_stay_json_whatever_was_asked() -> None:
    error = {"error": {"code": "query_rejected", "message": "m", "violations": []}}
    status, headers, content = _through_middleware(error, "text/csv", status=422)
    assert status == 422 and json.loads(content) == error
    assert headers[b"content-type"] == b"application/json"


def test_other_routes_and_json_are_untouched() -> None:
    status, headers, content = _through_middleware(BODY, "*/*")
    assert json.loads(content) == BODY and headers[b"vary"] == b"Accept"
    status, headers, content = _through_middleware(BODY, "text/csv", path="/v1/collaborations/c/budget")
    assert json.loads(content) == BODY


def _through_middleware(body: dict[str, Any], accept: str, *, status: int = 200,
                        path: str = "/v1/collaborations/c/queries",
                        ) -> tuple[int, dict[bytes, bytes], bytes]:
    payload = json.dumps(body).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        half = len(payload) // 2  # in two chunks, as a streaming route may send it
        await send({"type": "http.response.body", "body": payload[:half], "more_body": True})
        await send({"type": "http.response.body", "body": payload[half:]})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"accept", accept.encode())]}
    asyncio.run(AnswerFormats(app)(scope, receive, send))  # type: ignore[arg-type]
    start = sent[0]
    return (start["status"], dict(start["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]))
