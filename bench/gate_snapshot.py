"""Snapshot the gate's every decision on the SQL corpora, to show a change decides nothing differently.

For each query of tests/gate/{published,accept,reject,attacks,rewrite}.sql (placeholders
expanded as the tests expand them) it records:

- ``gate``: ``check_query`` on the catalog and threshold the corpus's tests use (the bare catalog
  of test_reject/test_rewrite, or the published policy's catalog);
- ``exact`` and ``dp``: the pipeline's check and verify stages under the policy the service tests
  run (tests/fixtures/policies, or tests/fixtures/policies-published), without epsilon and with
  one (the noise plan and the bounded SQL), as ``pipeline.check_sql`` would answer.

Each records the decision, every violation (code, message, line, column, hint) or, when
accepted, the SQL that would run and how its rows are released. Any other exception is recorded
by its type (it would be a 500), never hidden.

Run: ``PYTHONPATH=. .venv/bin/python bench/gate_snapshot.py OUT.json``;
``... bench/gate_snapshot.py --compare A.json B.json`` says whether two snapshots are
byte-identical and lists the entries that differ (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cleanroom.errors import CleanroomError
from cleanroom.gate import Catalog, K, check_query
from cleanroom.pipeline import check, verify
from cleanroom.planners.base import ExactStep, NoisedStep, SqlStep
from cleanroom.planners.sql import catalog_for, describe_plan
from cleanroom.policy import Policy, load_policies
from tests.gate.corpus import expand, load
from tests.published_data import COLLAB as PUBLISHED_COLLAB
from tests.published_data import POLICIES as PUBLISHED_POLICIES

CORPORA = ("published", "accept", "reject", "attacks", "rewrite")
# The bare catalog of tests/gate/test_reject.py and test_rewrite.py, at their threshold.
CATALOG = Catalog.of({
    "impressions": {"user_key": K.UID, "ts": K.DIM, "channel": K.DIM, "campaign": K.DIM,
                    "cost": K.MET, "ip_hash": K.BANNED},
    "conversions": {"user_key": K.UID, "ts": K.DIM, "revenue": K.MET, "order_id": K.BANNED},
})
MIN_USERS = 50
POLICIES = ROOT / "tests" / "fixtures" / "policies"
COLLAB = "acme-streamco"
EPSILON = 1.0


def _decided(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What one check decided: accepted with what it would run, rejected with its violations."""
    try:
        return {"decision": "accepted", **fn()}
    except CleanroomError as exc:
        return {"decision": "rejected", "error": exc.code,
                "violations": [v.as_dict() for v in exc.violations]}
    except Exception as exc:  # noqa: BLE001  (a crash is a decision too: it is recorded)
        return {"decision": "crashed", "error": type(exc).__name__}


def _gate(sql: str, catalog: Catalog) -> dict[str, Any]:
    checked = check_query(sql, catalog, min_users=MIN_USERS)
    return {"sql": checked.sql, "columns": list(checked.columns), "mode": checked.mode.value,
            "people_column": checked.people_column, "limit": checked.limit,
            "offset": checked.offset, "tables": list(checked.tables),
            "aggregates": [repr(a) for a in checked.aggregates],
            "cell_flags": checked.cell_flags, "compare_rows": checked.compare_rows}


def _pipeline(sql: str, policy: Policy, epsilon: float | None) -> dict[str, Any]:
    (step,) = verify(policy, check(policy, (SqlStep(sql, epsilon),)))
    if isinstance(step, ExactStep):
        return {"sql": step.sql, "columns": list(step.columns), "mode": step.mode,
                "people_column": step.people_column, "limit": step.limit, "offset": step.offset,
                "cell_flags": step.cell_flags, "compare_rows": step.compare_rows}
    assert isinstance(step, NoisedStep)
    q = step.query
    return {"sql": q.sql, "columns": [repr(c) for c in q.columns], "key_count": q.key_count,
            "order": repr(q.order), "limit": q.limit, "offset": q.offset,
            "noise": describe_plan(step.noise)}


def snapshot() -> dict[str, Any]:
    service_policy = load_policies(POLICIES)[COLLAB]
    published_policy = load_policies(PUBLISHED_POLICIES)[PUBLISHED_COLLAB]
    out: dict[str, Any] = {}
    for corpus in CORPORA:
        policy = published_policy if corpus == "published" else service_policy
        catalog = catalog_for(policy) if corpus == "published" else CATALOG
        entries: dict[str, Any] = {}
        for entry in load(f"{corpus}.sql"):
            sql = expand(entry.sql)
            entries[entry.name] = {
                "gate": _decided(lambda: _gate(sql, catalog)),  # noqa: B023  (called at once)
                "exact": _decided(lambda: _pipeline(sql, policy, None)),  # noqa: B023
                "dp": _decided(lambda: _pipeline(sql, policy, EPSILON)),  # noqa: B023
            }
        out[corpus] = entries
    return out


def compare(a: Path, b: Path) -> int:
    """0 if the two snapshots are byte-identical; else the entries that differ, and 1."""
    if a.read_bytes() == b.read_bytes():
        print(f"identical: {a} {b}")
        return 0
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    differ = 0
    for corpus in sorted(set(left) | set(right)):
        one, two = left.get(corpus, {}), right.get(corpus, {})
        for name in sorted(set(one) | set(two)):
            for check_name in ("gate", "exact", "dp"):
                x = one.get(name, {}).get(check_name)
                y = two.get(name, {}).get(check_name)
                if x != y:
                    differ += 1
                    print(f"DIFFERENT {corpus}/{name} [{check_name}]:\n  A: {json.dumps(x)}\n"
                          f"  B: {json.dumps(y)}")
    print(f"{differ} difference(s) between {a} and {b}" if differ else
          f"same content, different bytes (key order or formatting): {a} {b}")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="where to write the snapshot (JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its 'falling back to Command' notes
    if args.compare:
        sys.exit(compare(*args.compare))
    if args.out is None:
        parser.error("give OUT.json or --compare A B")
    data = snapshot()
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    counts = {c: sum(1 for e in data[c].values() if e["gate"]["decision"] == "accepted")
              for c in CORPORA}
    print(f"wrote {args.out}: " + ", ".join(f"{c} {counts[c]}/{len(data[c])} accepted"
                                            for c in CORPORA))


if __name__ == "__main__":
    main()
