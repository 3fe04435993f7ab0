"""Answers in the format the client's ``Accept`` asks for (CONTRACT.md §5), as one ASGI
middleware: ``/queries``, ``/attribution`` and ``/analytics/{name}`` answer ``text/csv``,
``application/vnd.apache.arrow.stream`` (and ``application/vnd.apache.parquet``) from the very
JSON answer the route produced, so every format holds the same rows; anything else is JSON.
Refusals stay in the contract's JSON error shape whatever was asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from cleanroom import formats
from cleanroom.admission import ASGIApp, Message, Receive, Scope, Send
from cleanroom.errors import CleanroomError

ANSWER_ROUTE = re.compile(r"^/v1/collaborations/[^/]+/(queries|attribution|analytics/[^/]+)/?$")
ENCODERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    formats.ARROW: formats.encode_arrow, formats.PARQUET: formats.encode_parquet}


class NotAcceptable(CleanroomError):
    code, http_status = "not_acceptable", 406
    message = ("this answer has too many partial rows to describe in CSV headers; ask for "
               "JSON or Arrow (Accept: application/vnd.apache.arrow.stream)")


class AnswerFormats:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not ANSWER_ROUTE.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        wanted = formats.choose(headers.get(b"accept", b"").decode("latin-1"))
        if wanted == formats.JSON:
            await self.app(scope, receive, _vary(send))
            return
        await self.app(scope, receive, _Reformat(send, wanted))


def _vary(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"vary", b"Accept")]
        await send(message)
    return sending


class _Reformat:
    """Holds a 200 answer's JSON until its last chunk, then sends it in ``media_type``."""

    def __init__(self, send: Send, media_type: str) -> None:
        self.send, self.media_type = send, media_type
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                self.media_type = formats.JSON  # a refusal keeps its JSON shape
                await _vary(self.send)(message)
                return
            self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._finish(json.loads(b"".join(self.chunks)))

    async def _finish(self, body: dict[str, Any]) -> None:
        assert self.start is not None
        status = 200
        try:
            content, extra = self._encode(body)
        except formats.StatusTooLong:
            refusal = NotAcceptable()
            status, content = refusal.http_status, json.dumps(refusal.body()).encode()
            extra, media = {}, formats.JSON
        else:
            media = self.media_type
        kept = [(k, v) for k, v in self.start.get("headers", [])
                if k.lower() not in (b"content-type", b"content-length")]
        head = [*kept, (b"content-type", _content_type(media)),
                (b"content-length", str(len(content)).encode()), (b"vary", b"Accept"),
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())]
        await self.send({"type": "http.response.start", "status": status, "headers": head})
        await self.send({"type": "http.response.body", "body": content})

    def _encode(self, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        if self.media_type == formats.CSV:
            return formats.encode_csv(body)
        return ENCODERS[self.media_type](body), formats.summary_headers(body)


def _content_type(media: str) -> bytes:
    return (media + ("; charset=utf-8" if media in (formats.CSV, formats.JSON) else "")).encode()
