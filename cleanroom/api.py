"""The HTTP service (CONTRACT.md §3). ``create_app(data_dir, policies_dir)`` builds it."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cleanroom import audit, pipeline
from cleanroom.admission import Admission
from cleanroom.answers import (
    Answer,
    AuditAnswer,
    BudgetAnswer,
    CheckAnswer,
    Health,
    QueryAnswer,
    UploadAnswer,
)
from cleanroom.errors import (
    CleanroomError,
    InvalidRequest,
    InvalidUpload,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    Violation,
)
from cleanroom.field_errors import field_message
from cleanroom.gate.rules import RULES
from cleanroom.negotiation import AnswerFormats
from cleanroom.openapi import AUTH, bearer, install_docs, question_responses, refusals
from cleanroom.pipeline import Service
from cleanroom.policy import load_policies
from cleanroom.settings import Settings
from cleanroom.store import Identity, Store
from cleanroom.store.datasets import storage_refusal
from cleanroom.upload import FINGERPRINT_HEADER, LineMeter, salt_fingerprint, upload_format

log = logging.getLogger("cleanroom")


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sql": "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions "
                "GROUP BY channel"}]})
    sql: str = Field(max_length=1_000_000)
    epsilon: float | None = Field(default=None, gt=0, strict=True)  # true, "0.5": refused


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def identity(request: Request, credentials: Bearer) -> Identity:
    """The party behind the request's bearer token (unknown, revoked or expired: 401)."""
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized()
    who = request.app.state.service.store.identify(credentials.credentials.strip())
    if who is None:
        raise Unauthorized()
    return who


Who = Annotated[Identity, Depends(identity)]
PartyParam = Annotated[str | None, Query(max_length=200,
                                         description="compliance: the analyst party to read")]


DESCRIPTION = """The clean room's HTTP service (CONTRACT.md §3). Every route but `/healthz` takes
`Authorization: Bearer <token>` (`cleanroom token issue`); every refusal is
`{"error": {"code", "message", "violations": [{"rule", "message", ...}]}}`."""
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": "user_key,ts,channel,campaign,cost,"
                 "ip_hash\n<64 hex>,2026-09-01 13:45:00,search,spring,0.5,<hash>\n"},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}}}


def create_app(data_dir: Path | str, policies_dir: Path | str, *,
               settings: Settings | None = None) -> FastAPI:
    service = Service.open(Store(data_dir), load_policies(policies_dir), settings or Settings())
    # What ``cleanroom token issue`` checks a new token's collaboration and party against.
    service.store.record_parties({c: [p.name for p in policy.parties]
                                  for c, policy in service.policies.items()})
    app = FastAPI(title="cleanroom", version="0.1.0", description=DESCRIPTION,
                  docs_url=None, redoc_url=None)  # /docs from the package: install_docs
    app.state.service = service
    _install_error_handlers(app)
    install_docs(app)
    app.add_middleware(Admission, settings=service.settings)  # query slots, body cap
    app.add_middleware(AnswerFormats)  # CSV, Arrow, Parquet answers by Accept

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:  # async: never waits for a worker thread
        """Liveness; needs no token."""
        return Health(status="ok")

    @app.put("/v1/collaborations/{c}/datasets/{d}", status_code=201, response_model=UploadAnswer,
             tags=["datasets"], openapi_extra=UPLOAD_BODY,
             responses=refusals(*AUTH, "invalid_upload", "overloaded"))
    async def upload(c: str, d: str, request: Request, who: Who) -> UploadAnswer:
        """Upload the whole dataset D (CSV with a header row, or Parquet); the provider only.
        A new upload replaces the old one atomically."""
        pipeline.upload_target(service, who, c, d)  # refuse before receiving the body
        fmt = upload_format(request.headers.get("content-type"))
        fingerprint = salt_fingerprint(request.headers.get(FINGERPRINT_HEADER))
        raw = service.store.staging_path("." + fmt)
        lines = LineMeter() if fmt == "csv" else None  # measured on the way in: no extra pass
        try:
            await _receive(request, raw, service.settings.max_upload_bytes, lines)
            done = await run_in_threadpool(partial(
                pipeline.upload_dataset, service, who, c, d, raw, fmt, salt_fingerprint=fingerprint,
                longest_line=None if lines is None else lines.longest))
            return UploadAnswer.model_validate(done)
        finally:
            raw.unlink(missing_ok=True)

    @app.post("/v1/collaborations/{c}/queries", response_model=QueryAnswer, tags=["questions"],
              responses=question_responses())
    def query(c: str, body: QueryRequest, who: Who) -> Answer:
        """Run gated SQL (analysts); with `epsilon`, a differentially private answer."""
        return pipeline.run_sql(service, who, c, body.sql, body.epsilon)

    @app.post("/v1/collaborations/{c}/queries/check", response_model=CheckAnswer,
              tags=["questions"], responses=refusals(*AUTH, "overloaded"))
    def check(c: str, body: QueryRequest, who: Who) -> CheckAnswer:
        """The gate's decision, its violations and the SQL that would run; runs nothing and
        spends no budget. A rejected query is a 200 with `decision: rejected`."""
        return pipeline.check_sql(service, who, c, body.sql, body.epsilon)

    @app.get("/v1/collaborations/{c}/budget", response_model=BudgetAnswer, tags=["privacy"],
             responses=refusals(*AUTH))
    def budget(c: str, who: Who, party: PartyParam = None) -> BudgetAnswer:
        """An analyst's epsilon budget, spend and history: its own, or (compliance) any
        analyst party's."""
        return pipeline.budget_of(service, who, c, party=party)

    @app.get("/v1/collaborations/{c}/audit", response_model=AuditAnswer, tags=["audit"],
             responses=refusals(*AUTH))
    def audit_log(c: str, who: Who, since: datetime | None = None, action: str | None = None,
                  party: str | None = None, limit: int = Query(1000, ge=1, le=1000),
                  cursor: int | None = Query(None, ge=1)) -> AuditAnswer:
        """The audit log: compliance reads every entry, a provider those of the requests that
        read one of its datasets (``detail.datasets``). Every decision, with rule codes and
        counts only, newest first; each entry names its ``policy_version`` and carries
        ``hash``, chained to the entry before (``cleanroom audit verify``); ``at`` is ISO 8601
        UTC. ``since``, ``action`` and ``party`` keep the entries that match, ``limit`` of
        them, and ``next_cursor`` asks for the page after (CONTRACT.md §4)."""
        # One entry past the page says whether there is a next one.
        where = audit.AuditFilter(since.timestamp() if since else None, action, party,
                                  limit + 1, cursor)
        entries = pipeline.read_audit(service, who, c, where)
        page = entries[:limit]
        more = len(entries) > limit
        return AuditAnswer(entries=page, next_cursor=str(page[-1]["id"]) if more else None,
                           policy_version=service.version_of(c))

    from cleanroom.api_discovery import router as discovery  # these import this module
    from cleanroom.api_routes import router
    app.include_router(router)
    app.include_router(discovery)
    return app


async def _receive(request: Request, path: Path, limit: int, lines: LineMeter | None) -> None:
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
                if lines is not None:
                    lines.feed(chunk)
    except OSError as exc:  # a full disk: 507, the current version kept
        raise storage_refusal(exc) from None
    if size == 0:
        raise InvalidUpload([Violation("empty", "the body is empty")], http_status=400)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CleanroomError)
    async def cleanroom_error(_: Request, exc: CleanroomError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.http_status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default body echoes the input; this one names the field, the rule and
        # its bounds in words.
        hint = RULES["invalid_field"].hint
        error = InvalidRequest([Violation("invalid_field", field_message(e), hint=hint)
                                for e in exc.errors()])
        return JSONResponse(error.body(), status_code=422)

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
