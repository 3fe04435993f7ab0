"""The Python client of a running service (CONTRACT.md §5), on httpx.

    >>> from cleanroom.client import Client
    >>> cr = Client("http://127.0.0.1:8000", "crt_...")            # doctest: +SKIP
    >>> cr.upload("acme-streamco", "conversions", "conversions.csv")  # doctest: +SKIP
    Upload(dataset='conversions', rows=437, version=1)
    >>> answer = cr.query("acme-streamco", "SELECT channel, COUNT(DISTINCT user_key) AS people "
    ...                   "FROM impressions GROUP BY channel")       # doctest: +SKIP
    >>> answer.columns, answer.row_status, answer.to_pandas()         # doctest: +SKIP

Made with ``collaboration=``, the client lets every method's collaboration be left out
(``cr.query("SELECT ...")``). A refusal raises ``ApiError``'s subclass for its code, carrying
``.code``, ``.status``, ``.message`` and ``.violations``; a service that cannot be reached raises
``Unreachable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx

from cleanroom import formats
from cleanroom.client_answers import Answer, Check, Upload
from cleanroom.client_errors import (
    ApiError,
    BudgetExhausted,
    Forbidden,
    InvalidPolicy,
    InvalidRequest,
    InvalidUpload,
    NotFound,
    QueryFailed,
    QueryRejected,
    Unauthorized,
    Unreachable,
    VersionConflict,
    error_from,
)

Format = Literal["json", "csv", "arrow", "parquet"]
MEDIA = {"json": formats.JSON, "csv": formats.CSV, "arrow": formats.ARROW,
         "parquet": formats.PARQUET}
UPLOAD_TYPES = {".csv": formats.CSV, ".parquet": formats.PARQUET, ".pq": formats.PARQUET}
PolicyAction = Literal["show", "versions", "edit", "approve", "reject", "what-if"]
Progress = Callable[[int], None]  # called with each chunk's size as the upload goes out
CHUNK = 1024 * 1024


def upload_type(path: Path | str) -> str:
    """The upload's Content-Type from its extension.

    >>> upload_type("exposures.csv"), upload_type("orders.parquet")
    ('text/csv', 'application/vnd.apache.parquet')
    """
    suffix = Path(path).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ValueError(f"{Path(path).name}: the file must end in .csv or .parquet")
    return UPLOAD_TYPES[suffix]


class Client:
    """One party's connection to a service: ``Client(url, token)``."""

    def __init__(self, url: str, token: str, *, collaboration: str | None = None,
                 timeout: float = 600.0, http: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.default_collaboration = collaboration
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))
        self._auth = {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- datasets ------------------------------------------------------------------------
    def upload(self, collaboration: str, dataset: str | Path, file: Path | str | None = None, *,
               progress: Progress | None = None, salt_fingerprint: str | None = None) -> Upload:
        """Stream a CSV or Parquet file (type from its extension) as the dataset's new version."""
        if file is None:  # upload(dataset, file) on a client made with collaboration=
            collaboration, dataset, file = self._default(), collaboration, dataset
        path = Path(file)
        dataset = str(dataset)
        headers = {"Content-Type": upload_type(path), "Content-Length": str(path.stat().st_size)}
        if salt_fingerprint:
            headers["X-Cleanroom-Salt-Fingerprint"] = salt_fingerprint
        response = self._send("PUT", f"{self._base(collaboration)}/datasets/{dataset}",
                              content=_chunks(path, progress), headers=headers)
        return Upload.from_body(response.json())

    def collaboration(self, collaboration: str | None = None) -> dict[str, Any]:
        """``GET /v1/collaborations/{c}``: parties, datasets (columns, kinds, versions, rows),
        query rules and privacy settings."""
        return self._json("GET", self._base(collaboration or self._default()))

    # -- questions -----------------------------------------------------------------------
    def query(self, collaboration: str, sql: str | None = None, *, epsilon: float | None = None,
              format: Format = "json") -> Answer:
        if sql is None:
            collaboration, sql = self._default(), collaboration
        return self._answer(f"{self._base(collaboration)}/queries",
                            _drop_none({"sql": sql, "epsilon": epsilon}), format)

    def check(self, collaboration: str, sql: str | None = None, *,
              epsilon: float | None = None) -> Check:
        """The gate's decision, its violations and the SQL that would run; nothing runs."""
        if sql is None:
            collaboration, sql = self._default(), collaboration
        body = self._json("POST", f"{self._base(collaboration)}/queries/check",
                          json=_drop_none({"sql": sql, "epsilon": epsilon}))
        return Check.from_body(body)

    def attribution(self, collaboration: str | None, model: str, touchpoints: str,
                    conversions: str, dimension: str, *, lookback_days: float = 30.0,
                    revenue: str | None = None, epsilon: float | None = None,
                    options: dict[str, Any] | None = None, format: Format = "json") -> Answer:
        body = _drop_none({"model": model, "touchpoints": touchpoints,
                           "conversions": conversions, "dimension": dimension,
                           "lookback_days": float(lookback_days), "revenue": revenue,
                           "epsilon": epsilon, "options": options})
        return self._answer(f"{self._base(collaboration or self._default())}/attribution",
                            body, format)

    def analytics(self, collaboration: str, name: str | dict[str, Any] | None = None,
                  options: dict[str, Any] | None = None, *, format: Format = "json",
                  **more: Any) -> Answer:
        """Run the built-in analytic ``name`` (overlap, reach-frequency, top-paths, ...) with
        its options as a dict or as keywords: ``analytics(c, "overlap", a="impressions",
        b="conversions")``."""
        if name is None or isinstance(name, dict):  # analytics(name, options?) with a default
            options = name if isinstance(name, dict) else options
            collaboration, name = self._default(), collaboration
        body = _drop_none({**(options or {}), **more})
        return self._answer(f"{self._base(collaboration)}/analytics/{name}", body, format)

    def analytics_list(self, collaboration: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"{self._base(collaboration or self._default())}/analytics")

    # -- budget, audit, policy -----------------------------------------------------------
    def budget(self, collaboration: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"{self._base(collaboration or self._default())}/budget")

    def audit(self, collaboration: str | None = None, **filters: Any) -> dict[str, Any]:
        """Audit entries; ``since``, ``action``, ``party``, ``limit``, ``cursor`` as the route has."""
        return self._json("GET", f"{self._base(collaboration or self._default())}/audit",
                          params=_drop_none(filters))

    def policy(self, collaboration: str | None = None, action: PolicyAction = "show", *,
               policy: str | bytes | None = None, version: int | str | None = None,
               if_match: str | None = None) -> dict[str, Any]:
        """The policy routes of CONTRACT.md §4: ``show``, ``versions``, ``edit`` (YAML text with
        ``if_match``), ``approve`` / ``reject`` (``version``) and ``what-if`` (YAML text)."""
        base = f"{self._base(collaboration or self._default())}/policy"
        yaml_headers = {"Content-Type": "application/yaml"}
        if action == "show":
            return self._json("GET", base)
        if action == "versions":
            return self._json("GET", f"{base}/versions")
        if action in ("approve", "reject"):
            if version is None:
                raise ValueError(f"policy {action} needs a version")
            return self._json("POST", f"{base}/versions/{version}/{action}")
        if policy is None:
            raise ValueError(f"policy {action} needs the policy text")
        if action == "edit":
            match = {} if if_match is None else {"If-Match": _quoted(if_match)}
            return self._json("PUT", base, content=policy, headers={**yaml_headers, **match})
        return self._json("POST", f"{base}/what-if", content=policy, headers=yaml_headers)

    # -- plumbing ------------------------------------------------------------------------
    def _default(self) -> str:
        if self.default_collaboration is None:
            raise TypeError("name the collaboration, or make the Client with collaboration=")
        return self.default_collaboration

    def _base(self, collaboration: str) -> str:
        return f"{self.url}/v1/collaborations/{collaboration}"

    def _answer(self, url: str, body: dict[str, Any], format: Format) -> Answer:
        if format not in MEDIA:
            raise ValueError(f"format must be one of {', '.join(MEDIA)}")
        response = self._send("POST", url, json=body, headers={"Accept": MEDIA[format]})
        return Answer.from_response(response.content, _media(response), response.headers)

    def _json(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._send(method, url, **kw).json()
        return body

    def _send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
              **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, headers={**self._auth, **(headers or {})},
                                          **kw)
        except httpx.HTTPError as exc:
            raise Unreachable(self.url, type(exc).__name__) from None
        if response.status_code >= 400:
            raise error_from(response.status_code, _error_body(response),
                             dict(response.headers))
        return response


def _chunks(path: Path, progress: Progress | None) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _media(response: httpx.Response) -> str:
    return response.headers.get("content-type", formats.JSON).split(";")[0].strip().lower()


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _quoted(version: str) -> str:
    return version if version.startswith('"') else f'"{version}"'


__all__ = ["Answer", "ApiError", "BudgetExhausted", "Check", "Client", "Forbidden",
           "InvalidPolicy", "InvalidRequest", "InvalidUpload", "NotFound", "QueryFailed",
           "QueryRejected", "Unauthorized", "Unreachable", "Upload", "VersionConflict"]
