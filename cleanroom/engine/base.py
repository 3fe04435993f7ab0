"""The engine interface: a session over plain table specs that runs or streams SQL written in
the dialect the engine declares. Nothing above ``cleanroom.engine`` holds an engine's own
connection; the pipeline hands an engine table specs (never a policy) and SQL rendered from
checked trees, and gets rows back.

A second engine is one more module here implementing ``Engine`` and ``Session``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Params = Mapping[str, Any]
Rows = Iterator[tuple[Any, ...]]


# How a sandbox's view exposes a dataset's user_key: its 124-bit surrogate (``native.py``).
USER_KEY_VIEW_TYPE = "HUGEINT"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    sql_type: str
    clamp: tuple[float, float] | None = None
    # The dataset's user_key (64 lower-case hex, checked on upload): stored and exposed as
    # ``USER_KEY_VIEW_TYPE``, never as the string.
    user_key: bool = False

    @property
    def view_type(self) -> str:
        """The column's type in the sandbox's view: a clamped metric is DOUBLE."""
        if self.user_key:
            return USER_KEY_VIEW_TYPE
        return "DOUBLE" if self.clamp is not None else self.sql_type


@dataclass(frozen=True)
class TableSpec:
    name: str
    path: Path
    columns: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 30.0
    memory_limit: str = "2GB"
    threads: int = 2
    max_rows: int = 100_000


@dataclass(frozen=True)
class ExactResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Session(Protocol):
    """One request's locked-down view of its tables. Every failure is ``QueryFailed`` with no
    detail from the engine (engine messages can quote data values)."""

    @property
    def dialect(self) -> str: ...

    def run(self, sql: str, *, params: Params | None = None) -> ExactResult:
        """All rows, at most the row cap (``too_many_rows`` past it)."""
        ...

    def stream(self, sql: str, consume: Callable[[Rows], T], *,
               params: Params | None = None) -> T:
        """Every row, in chunks, to ``consume``: no row cap (for results whose size must not
        decide success, and for a planner's internal rows)."""
        ...

    def scan(self, sql: str, consume: Callable[[tuple[str, ...], Rows], T], *,
             params: Params | None = None) -> T:
        """``stream``, handing ``consume`` the result's column names too: no row cap (the
        release applies its own to the rows it could let out, ``release.gather``)."""
        ...

    def names(self, sql: str) -> tuple[str, ...] | None:
        """The names this engine gives the columns of ``sql`` (a query the gate accepted, as
        the analyst wrote it), bound over empty tables of the same shapes: no row is read and
        nothing runs. None when they cannot be told."""
        ...


class Engine(Protocol):
    @property
    def dialect(self) -> str: ...

    def session(self, tables: Sequence[TableSpec],
                limits: Limits) -> AbstractContextManager[Session]: ...

    def names(self, tables: Sequence[TableSpec], sql: str) -> tuple[str, ...] | None:
        """``Session.names`` without a session (``check`` runs nothing)."""
        ...
