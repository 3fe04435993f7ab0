"""One small error hierarchy. Each class has a stable ``code``, an ``http_status`` and a fixed
message; nothing here ever carries a data value. Structured detail goes to ``violations`` (rule
codes and messages written by the gate, never copied from data) or to the server log.

>>> QueryRejected([Violation("user_key_output", "user_key cannot be output")]).body()["error"]["code"]
'query_rejected'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable rule code, a message, and where in the analyst's SQL."""

    rule: str
    message: str
    line: int | None = None
    col: int | None = None
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class CleanroomError(Exception):
    code = "internal_error"
    http_status = 500
    message = "internal error"
    headers: dict[str, str] = {}  # response headers the status calls for (RFC 9110)

    def __init__(
        self,
        violations: list[Violation] | tuple[Violation, ...] = (),
        *,
        message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.violations = tuple(violations)
        if message is not None:
            self.message = message
        if http_status is not None:
            self.http_status = http_status
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "violations": [v.as_dict() for v in self.violations],
            }
        }


class Unauthorized(CleanroomError):
    code, http_status, message = "unauthorized", 401, "missing or invalid bearer token"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(CleanroomError):
    code, http_status, message = "forbidden", 403, "this party may not do that"


class NotFound(CleanroomError):
    code, http_status, message = "not_found", 404, "no such resource"


class MethodNotAllowed(CleanroomError):
    code, http_status, message = "method_not_allowed", 405, "this route does not take that method"


class InvalidUpload(CleanroomError):
    code, http_status, message = "invalid_upload", 422, "the upload does not match the policy"


class InvalidRequest(CleanroomError):
    code, http_status, message = "invalid_request", 422, "the request body is not valid"


class QueryRejected(CleanroomError):
    code, http_status, message = "query_rejected", 422, "the query breaks the collaboration's rules"


class BudgetExhausted(CleanroomError):
    code, http_status, message = "budget_exhausted", 429, "the privacy budget cannot cover this query"


class QueryFailed(CleanroomError):
    code, http_status, message = "query_failed", 422, "the query failed while running"


class PolicyError(CleanroomError):
    code, http_status, message = "invalid_policy", 422, "the policy is not valid"
