"""Admission control and the JSON body cap, as one ASGI middleware in front of the routes.

- Requests that make the engine work (every POST, PUT, PATCH and DELETE) take a slot in a
  bounded pool before they reach a worker thread; when every slot is taken they wait in a
  queue of bounded length, for a bounded time, and are then refused with 503 and
  ``Retry-After``. Uploads have a pool of their own. GET routes (``/healthz``, budget, audit)
  and ``/queries/check`` never wait behind queries.
- A body other than an upload's is read here up to ``max_json_bytes`` and refused with 413
  past it, before anything parses it.

The pool works across event loops (the test client runs one per request): waiters are
futures woken with ``call_soon_threadsafe`` by whoever frees a slot.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cleanroom.errors import CleanroomError, InvalidRequest, Violation
from cleanroom.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_ROUTE = re.compile(r"^/v1/collaborations/[^/]+/datasets/[^/]+/?$")
CHEAP_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHEAP_POSTS = ("/queries/check",)  # the gate's decision only: no engine, no slot


class Overloaded(CleanroomError):
    code, http_status, message = "overloaded", 503, "the service is busy; retry later"


class Pool:
    """At most ``slots`` holders; at most ``queue`` waiters, each for at most ``timeout_s``."""

    def __init__(self, slots: int, queue: int, timeout_s: float) -> None:
        self.slots, self.queue, self.timeout_s = slots, queue, timeout_s
        self._lock = threading.Lock()
        self.running = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def acquire(self) -> bool:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.running < self.slots and not self._waiters:
                self.running += 1
                return True
            if len(self._waiters) >= self.queue:
                return False
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter[1]), self.timeout_s)
            return True
        except BaseException as exc:
            with self._lock:
                granted = waiter not in self._waiters
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # the slot was handed over as we gave up: pass it on
                self.release()
            if isinstance(exc, TimeoutError):
                return False
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:  # hand the slot straight to the oldest waiter
                loop, future = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_grant, future)
                    return
                except RuntimeError:  # its event loop is gone: try the next one
                    continue
            self.running -= 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)


def _grant(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Admission:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        limits = settings.admission
        self.max_body = limits.max_json_bytes
        self.queries = Pool(limits.query_slots(settings.limits.memory_limit), limits.max_queued,
                            limits.queue_timeout_s)
        self.uploads = Pool(limits.max_uploads, limits.max_queued, limits.queue_timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in CHEAP_METHODS:
            await self.app(scope, receive, send)
            return
        is_upload = scope["method"] == "PUT" and UPLOAD_ROUTE.match(scope["path"]) is not None
        if not is_upload:
            body = await _read_capped(scope, receive, self.max_body)
            if body is None:
                await _refuse(send, _too_large(self.max_body))
                return
            receive = _replay(body, receive)
            if scope["path"].endswith(CHEAP_POSTS):
                await self.app(scope, receive, send)
                return
        await self._admitted(self.uploads if is_upload else self.queries, scope, receive, send)

    async def _admitted(self, pool: Pool, scope: Scope, receive: Receive, send: Send) -> None:
        if not await pool.acquire():
            retry = max(1, math.ceil(pool.timeout_s / 2))
            await _refuse(send, Overloaded(), headers=((b"retry-after", str(retry).encode()),))
            return
        try:
            await self.app(scope, receive, send)
        finally:
            pool.release()


def _too_large(limit: int) -> CleanroomError:
    return InvalidRequest([Violation("too_large", f"the body is over {limit} bytes")],
                          http_status=413)


async def _read_capped(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is (or says it will be) over ``limit`` bytes."""
    declared = dict(scope.get("headers") or ()).get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: let the app see an empty body and stop
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, rest: Receive) -> Receive:
    """The body read here, then the connection's own messages (a disconnect, when it comes)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await rest()
    return receive


async def _refuse(send: Send, error: CleanroomError, *,
                  headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    payload = json.dumps(error.body()).encode()
    await send({"type": "http.response.start", "status": error.http_status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": payload})
