"""What ``/openapi.json`` and ``/docs`` say (CONTRACT.md §5): the bearer scheme, the one error
body for every refusal a route can give, and Swagger UI served from the package's own files, so
the page works with no other host reachable.

>>> sorted(refusals("unauthorized", "query_rejected", "query_failed"))
[401, 422]
>>> refusals("query_rejected")[422]["description"]
'`query_rejected`: the gate refused the SQL or an option'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from cleanroom.formats import ARROW, CSV, PARQUET

# Swagger UI 5 (swagger-ui-dist, Apache-2.0; see static/swagger-ui/LICENSE): 4.x cannot read
# the OpenAPI 3.1 documents FastAPI writes.
SWAGGER_DIR = Path(__file__).parent / "static" / "swagger-ui"
ASSETS = "/docs/assets"

# auto_error=False: the scheme only documents the header; ``api.identity`` refuses with the
# contract's error body (and WWW-Authenticate), not FastAPI's {"detail": ...}.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="`Authorization: Bearer <token>` from `cleanroom token issue`")


class ViolationBody(BaseModel):
    rule: str = Field(description="a stable rule code (docs/gate-rules.md)")
    message: str
    line: int | None = Field(default=None, description="where in the SQL (1-based)")
    col: int | None = None
    hint: str | None = Field(default=None, description="how to fix it")
    path: str | None = Field(default=None, description="the policy key at fault")


class ErrorDetail(BaseModel):
    code: str
    message: str
    violations: list[ViolationBody]


class ErrorBody(BaseModel):
    """Every refusal (CONTRACT.md §3); it never echoes a data value."""

    error: ErrorDetail


# code -> (the statuses it comes with, what it means)
CODES: dict[str, tuple[tuple[int, ...], str]] = {
    "invalid_request": ((400, 413, 422), "the request body is not valid (each field named, "
                        "with its bounds) or is too large"),
    "invalid_upload": ((400, 413, 422, 507), "the file does not match the policy's dataset, is "
                       "empty, too large or unreadable; 507: the server could not store it (the "
                       "current version is kept)"),
    "unauthorized": ((401,), "no bearer token, or one that is unknown, revoked or expired"),
    "forbidden": ((403,), "the party lacks the role this route needs"),
    "not_found": ((404,), "no such collaboration, dataset or analytic for this party"),
    "query_rejected": ((422,), "the gate refused the SQL or an option"),
    "query_failed": ((422,), "it ran and failed (time, memory, rows); no detail from the data"),
    "budget_exhausted": ((429,), "the party's epsilon budget cannot cover the request"),
    "overloaded": ((503,), "the service is busy; retry later"),
}
# Every route with a token: the JSON body cap (413) and field checks (422) apply to each.
AUTH = ("unauthorized", "forbidden", "not_found", "invalid_request")
QUESTION = (*AUTH, "query_rejected", "query_failed", "budget_exhausted",
            "overloaded")


def refusals(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can refuse with ``codes``: one entry per status, the
    error body as its model, the codes it carries in its description and examples."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        for status in CODES[code][0]:
            by_status.setdefault(status, []).append(code)
    return {status: _response(listed) for status, listed in sorted(by_status.items())}


def question_responses() -> dict[int | str, dict[str, Any]]:
    """A question's refusals, and its answer in every format ``Accept`` may pick: JSON (the
    response model), CSV with a header row (withheld cells empty; row status and withheld cells
    in ``X-Cleanroom-Row-Status`` / ``X-Cleanroom-Withheld-Cells``), an Arrow IPC stream or
    Parquet (those keys in the schema metadata ``cleanroom``)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {**refusals(*QUESTION), 200: {
        "description": "the answer: JSON, or by `Accept` CSV, an Arrow IPC stream or Parquet",
        "content": {CSV: {"schema": {"type": "string"}}, ARROW: binary, PARQUET: binary},
        "headers": {"X-Cleanroom-Row-Status": {
            "description": "CSV only: each row's status, run-length coded (`exact*40,partial*1`)",
            "schema": {"type": "string"}}, "X-Cleanroom-Withheld-Cells": {
            "description": "CSV only: the withheld cells as `row:column` pairs",
            "schema": {"type": "string"}}}}}


def _response(codes: list[str]) -> dict[str, Any]:
    examples = {code: {"summary": code, "value": {"error": {
        "code": code, "message": CODES[code][1], "violations": []}}} for code in codes}
    return {"model": ErrorBody,
            "description": "; ".join(f"`{c}`: {CODES[c][1]}" for c in codes),
            "content": {"application/json": {"examples": examples}}}


def codes_of(responses: dict[str, Any]) -> dict[str, list[str]]:
    """status -> error codes, read back from an operation of ``/openapi.json`` (for docs)."""
    out: dict[str, list[str]] = {}
    for status, response in responses.items():
        examples = response.get("content", {}).get("application/json", {}).get("examples", {})
        if str(status).startswith("4") or str(status).startswith("5"):
            out[str(status)] = list(examples)
    return out


def install_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI from the package (no CDN, no validator badge, no fonts)."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIR), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="cleanroom API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True})
