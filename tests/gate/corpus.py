"""SQL corpora as data: ``accept.sql``, ``reject.sql``, ``attacks.sql``.

An entry starts at a ``-- name: <id>`` line; the ``-- key: value`` (or ``-- flag``) lines that
follow are its metadata, the rest up to the next entry its SQL (one trailing ``;`` dropped).
Placeholders ``{{KEY_<n>}}`` (the user_key of canary person n), ``{{PARENS_<n>}}`` (n nested
parentheses around 1), ``{{PADDING_<n>}}`` (a comment of n bytes), ``{{NOTS_<n>}}``,
``{{PLUSES_<n>}}``, ``{{LIST_<n>}}`` and ``{{UNIONS_<n>}}`` (n repetitions) are expanded by
``expand``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.canary import user_key

HERE = Path(__file__).parent
_META = re.compile(r"^--\s*([a-z_]+)\s*(?::\s*(.*))?$")
_PLACEHOLDER = re.compile(r"\{\{([A-Z]+)_(\d+)\}\}")


@dataclass(frozen=True)
class Entry:
    name: str
    sql: str
    meta: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.meta.get(key, default)


def load(filename: str) -> list[Entry]:
    text = (HERE / filename).read_text()
    entries: list[Entry] = []
    for chunk in re.split(r"(?m)^(?=--\s*name:)", text)[1:]:
        lines = chunk.splitlines()
        meta: dict[str, str] = {}
        body: list[str] = []
        for line in lines:
            match = _META.match(line.strip()) if not body else None
            if match:
                meta[match.group(1)] = (match.group(2) or "true").strip()
            else:
                body.append(line)
        sql = "\n".join(body).strip()
        sql = sql[:-1].rstrip() if sql.endswith(";") else sql
        entries.append(Entry(meta.pop("name"), sql, meta))
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), f"duplicate names in {filename}"
    return entries


def expand(sql: str) -> str:
    def one(match: re.Match[str]) -> str:
        kind, n = match.group(1), int(match.group(2))
        if kind == "KEY":
            return user_key(n)
        if kind == "PARENS":
            return "(" * n + "1" + ")" * n
        if kind == "PADDING":
            return "/*" + "x" * n + "*/"
        return _REPEATS[kind](n)
    return _PLACEHOLDER.sub(one, sql)


_REPEATS = {
    "NOTS": lambda n: "NOT " * n,
    "PLUSES": lambda n: "1 + " * n + "1",
    "LIST": lambda n: ", ".join(str(i) for i in range(n)),
    "UNIONS": lambda n: " UNION ALL SELECT COUNT(*) FROM impressions" * n,
}


