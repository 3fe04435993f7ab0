"""What the client's methods return: frozen values read from any of the service's formats.

An ``Answer`` (a query, an attribution model, an analytic) keeps each row's status: a row is
``exact``, ``noised`` (differential privacy; ``confidence_intervals`` holds each cell's 95%
interval) or ``partial`` (the threshold withheld the cells in ``withheld_cells``, which are
``None``, and the row's other numbers may stand on fewer people than the row shows).

>>> a = Answer.from_body({"columns": ["channel", "people"], "rows": [["tv", None]],
...                       "row_status": ["partial"], "withheld_cells": [[0, 1]]})
>>> a.withheld(0, 1), a.exact, a.to_arrow().schema.metadata is not None
(True, False, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cleanroom import formats
from cleanroom.client_errors import violation_from
from cleanroom.errors import Violation

if TYPE_CHECKING:
    import pandas
    import pyarrow

_KNOWN = ("columns", "rows", "row_status", "withheld_cells", "confidence_intervals", "query_id",
          "policy_version", "epsilon_spent", "suppressed_rows")


@dataclass(frozen=True)
class Answer:
    columns: list[str]
    rows: list[list[Any]]
    row_status: list[str]
    withheld_cells: list[list[int]] = field(default_factory=list)
    confidence_intervals: list[list[Any]] | None = None
    query_id: str | None = None
    policy_version: int | None = None
    epsilon_spent: float = 0.0
    suppressed_rows: int | None = None  # None under DP: how many were held back is not released
    extra: dict[str, Any] = field(default_factory=dict)  # model, analytic, noise, ...
    content: bytes = b""  # the body as the service sent it
    media_type: str = formats.JSON

    @classmethod
    def from_body(cls, body: Mapping[str, Any], *, content: bytes = b"",
                  media_type: str = formats.JSON) -> Answer:
        return cls(columns=list(body.get("columns") or []), rows=list(body.get("rows") or []),
                   row_status=list(body.get("row_status") or []),
                   withheld_cells=[list(c) for c in body.get("withheld_cells") or []],
                   confidence_intervals=body.get("confidence_intervals"),
                   query_id=body.get("query_id"), policy_version=body.get("policy_version"),
                   epsilon_spent=float(body.get("epsilon_spent") or 0.0),
                   suppressed_rows=body.get("suppressed_rows"),
                   extra={k: v for k, v in body.items() if k not in _KNOWN},
                   content=content, media_type=media_type)

    @classmethod
    def from_response(cls, content: bytes, media_type: str,
                      headers: Mapping[str, str] | None = None) -> Answer:
        body = formats.decode(content, media_type, headers)
        return cls.from_body(body, content=content, media_type=media_type)

    @property
    def exact(self) -> bool:
        """Every row exact: no cell withheld, nothing noised."""
        return all(s == "exact" for s in self.row_status)

    def withheld(self, row: int, column: int) -> bool:
        return [row, column] in self.withheld_cells

    def body(self) -> dict[str, Any]:
        """The answer's keys as the JSON answer has them."""
        known = {k: getattr(self, k) for k in _KNOWN}
        return {**known, **self.extra}

    def to_arrow(self) -> pyarrow.Table:
        """An Arrow table; row status, withheld cells and intervals in the schema metadata
        (``cleanroom``, JSON)."""
        return formats.to_table(self.body())

    def to_pandas(self) -> pandas.DataFrame:
        """A DataFrame (pandas is optional: ``pip install pandas``); ``df.attrs`` holds
        ``row_status``, ``withheld_cells``, ``confidence_intervals`` and the rest."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the installation
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        frame = pd.DataFrame(self.rows, columns=self.columns)
        frame.attrs.update(formats.metadata(self.body()))
        return frame


@dataclass(frozen=True)
class Check:
    """``/queries/check``: the gate's decision, its violations, and the SQL that would run."""

    decision: str
    violations: tuple[Violation, ...]
    sql: str | None
    mode: str | None
    columns: list[str]
    extra: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.decision == "accepted"

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Check:
        known = ("decision", "violations", "sql", "mode", "columns")
        return cls(str(body.get("decision")),
                   tuple(violation_from(v) for v in body.get("violations") or ()),
                   body.get("sql"), body.get("mode"), list(body.get("columns") or []),
                   {k: v for k, v in body.items() if k not in known})


@dataclass(frozen=True)
class Upload:
    dataset: str
    rows: int
    version: int
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Upload:
        return cls(str(body["dataset"]), int(body["rows"]), int(body["version"]),
                   {k: v for k, v in body.items() if k not in ("dataset", "rows", "version")})
