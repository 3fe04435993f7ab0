"""The client's refusals: ``ApiError`` and one subclass per error code of CONTRACT.md §3-4.

>>> err = error_from(422, {"error": {"code": "query_rejected", "message": "m",
...                  "violations": [{"rule": "user_key_output", "message": "x", "line": 1}]}})
>>> type(err).__name__, err.code, err.status, err.violations[0].rule, isinstance(err, ApiError)
('QueryRejected', 'query_rejected', 422, 'user_key_output', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleanroom.errors import Violation


class ApiError(Exception):
    """A refusal of the service: its ``code``, HTTP ``status``, ``message`` and ``violations``."""

    code = "error"

    def __init__(self, status: int, message: str, violations: tuple[Violation, ...] = (), *,
                 code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.violations = violations
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        super().__init__(f"{self.code} ({status}): {message}")


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    code = "forbidden"


class NotFound(ApiError):
    code = "not_found"


class MethodNotAllowed(ApiError):
    code = "method_not_allowed"


class NotAcceptable(ApiError):
    code = "not_acceptable"


class InvalidUpload(ApiError):
    code = "invalid_upload"


class InvalidRequest(ApiError):
    code = "invalid_request"


class QueryRejected(ApiError):
    code = "query_rejected"


class BudgetExhausted(ApiError):
    code = "budget_exhausted"


class QueryFailed(ApiError):
    code = "query_failed"


class InvalidPolicy(ApiError):
    code = "invalid_policy"


class VersionConflict(ApiError):
    code = "version_conflict"


class Overloaded(ApiError):
    code = "overloaded"


class ServerError(ApiError):
    code = "internal_error"


class Unreachable(ApiError):
    """No answer at all: the service is down, the address wrong, or the network cut."""

    code = "unreachable"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, f"cannot reach {url} ({reason})")


BY_CODE: dict[str, type[ApiError]] = {cls.code: cls for cls in (
    Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, InvalidUpload,
    InvalidRequest, QueryRejected, BudgetExhausted, QueryFailed, InvalidPolicy, VersionConflict,
    Overloaded, ServerError)}
BY_STATUS: dict[int, type[ApiError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound,
                                        405: MethodNotAllowed, 406: NotAcceptable,
                                        412: VersionConflict, 429: BudgetExhausted,
                                        503: Overloaded}


def error_from(status: int, body: Mapping[str, Any],
               headers: Mapping[str, str] | None = None) -> ApiError:
    """The exception for a refusal's status and contract-shaped body (any other body too)."""
    raw = body.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    code = str(error.get("code") or "")
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    violations = tuple(violation_from(v) for v in error.get("violations") or () if isinstance(v, dict))
    message = str(error.get("message") or f"HTTP {status}")
    return cls(status, message, violations, code=code or None, headers=headers)


def violation_from(raw: Mapping[str, Any]) -> Violation:
    def number(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) else None
    return Violation(str(raw.get("rule", "")), str(raw.get("message", "")), line=number("line"),
                     col=number("col"), hint=None if raw.get("hint") is None else str(raw["hint"]))
