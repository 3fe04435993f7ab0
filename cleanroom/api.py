"""The HTTP service (CONTRACT.md §3). ``create_app(data_dir, policies_dir)`` builds it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cleanroom import pipeline
from cleanroom.admission import Admission
from cleanroom.answers import Answer, AuditAnswer, BudgetAnswer, CheckAnswer, QueryAnswer
from cleanroom.errors import (
    CleanroomError,
    InvalidRequest,
    InvalidUpload,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    Violation,
)
from cleanroom.gate.rules import RULES
from cleanroom.negotiation import AnswerFormats
from cleanroom.pipeline import Service
from cleanroom.policy import load_policies
from cleanroom.settings import Settings
from cleanroom.store import Identity, Store
from cleanroom.store.datasets import storage_refusal
from cleanroom.upload import upload_format

log = logging.getLogger("cleanroom")


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str = Field(max_length=1_000_000)
    epsilon: float | None = Field(default=None, gt=0, strict=True)  # true, "0.5": refused


def identity(request: Request) -> Identity:
    """The party behind the request's bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    who = request.app.state.service.store.identify(token.strip())
    if who is None:
        raise Unauthorized()
    return who


Who = Annotated[Identity, Depends(identity)]


def create_app(data_dir: Path | str, policies_dir: Path | str, *,
               settings: Settings | None = None) -> FastAPI:
    service = Service.open(Store(data_dir), load_policies(policies_dir), settings or Settings())
    app = FastAPI(title="cleanroom", version="0.1.0")
    app.state.service = service
    _install_error_handlers(app)
    app.add_middleware(Admission, settings=service.settings)  # query slots, body cap
    app.add_middleware(AnswerFormats)  # CSV, Arrow, Parquet answers by Accept

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # async: never waits for a worker thread
        return {"status": "ok"}

    @app.put("/v1/collaborations/{c}/datasets/{d}", status_code=201)
    async def upload(c: str, d: str, request: Request, who: Who) -> dict[str, Any]:
        pipeline.upload_target(service, who, c, d)  # refuse before receiving the body
        fmt = upload_format(request.headers.get("content-type"))
        raw = service.store.staging_path("." + fmt)
        try:
            await _receive(request, raw, service.settings.max_upload_bytes)
            return await run_in_threadpool(pipeline.upload_dataset, service, who, c, d, raw, fmt)
        finally:
            raw.unlink(missing_ok=True)

    @app.post("/v1/collaborations/{c}/queries", response_model=QueryAnswer)
    def query(c: str, body: QueryRequest, who: Who) -> Answer:
        return pipeline.run_sql(service, who, c, body.sql, body.epsilon)

    @app.post("/v1/collaborations/{c}/queries/check", response_model=CheckAnswer)
    def check(c: str, body: QueryRequest, who: Who) -> CheckAnswer:
        return pipeline.check_sql(service, who, c, body.sql, body.epsilon)

    @app.get("/v1/collaborations/{c}/budget", response_model=BudgetAnswer)
    def budget(c: str, who: Who) -> BudgetAnswer:
        return pipeline.budget_of(service, who, c)

    @app.get("/v1/collaborations/{c}/audit", response_model=AuditAnswer)
    def audit_log(c: str, who: Who) -> AuditAnswer:
        return AuditAnswer(entries=pipeline.read_audit(service, who, c))

    from cleanroom.api_discovery import router as discovery  # these import this module
    from cleanroom.api_routes import router
    app.include_router(router)
    app.include_router(discovery)
    return app


async def _receive(request: Request, path: Path, limit: int) -> None:
    """Stream the body to ``path``; refuse (413) past ``limit`` bytes."""
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise InvalidUpload([Violation("too_large", f"the body is over {limit} "
                                                   "bytes")], http_status=413)
                out.write(chunk)
    except OSError as exc:  # a full disk: 507, the current version kept
        raise storage_refusal(exc) from None
    if size == 0:
        raise InvalidUpload([Violation("empty", "the body is empty")], http_status=400)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CleanroomError)
    async def cleanroom_error(_: Request, exc: CleanroomError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default body echoes the input; this one names only the field and the rule.
        violations = [Violation("invalid_field", f"{'.'.join(str(p) for p in e.get('loc', ()))}: "
                                f"{e.get('type', 'invalid')}", hint=RULES["invalid_field"].hint)
                      for e in exc.errors()]
        body = {"error": {"code": "invalid_request", "message": "the request body is not valid",
                          "violations": [v.as_dict() for v in violations]}}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: CleanroomError = {404: NotFound(), 405: MethodNotAllowed()}.get(
            exc.status_code) or (InvalidRequest(http_status=exc.status_code)
                                 if exc.status_code in (400, 413) else
                                 CleanroomError(message="the request cannot be served",
                                                http_status=exc.status_code))
        # Starlette's 405 names the allowed methods in Allow: keep its headers.
        return JSONResponse(error.body(), status_code=error.http_status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s", type(exc).__name__)
        return JSONResponse(CleanroomError().body(), status_code=500)
