"""Every query in reject.sql is refused with the rule codes it names, and every violation says
where (line and column in the analyst's SQL), what and how to fix it. Together they cover
every rule the gate can raise."""

from __future__ import annotations

import pytest

from cleanroom.errors import QueryRejected
from cleanroom.gate import Catalog, K, check_query
from cleanroom.gate.rules import RULES
from tests.gate.corpus import Entry, expand, load
from tests.test_rule_codes import codes_outside_gate

REJECT = load("reject.sql")
CATALOG = Catalog.of({
    "impressions": {"user_key": K.UID, "ts": K.DIM, "channel": K.DIM, "campaign": K.DIM,
                    "cost": K.MET, "ip_hash": K.BANNED},
    "conversions": {"user_key": K.UID, "ts": K.DIM, "revenue": K.MET, "order_id": K.BANNED},
})
# Raised by the pipeline, the planners, the engine or the upload checks, not the gate (each
# covered by its own tests; tests/test_rule_codes.py checks they are all registered).
PIPELINE_RULES = {"epsilon_not_allowed", "dp_unsupported"} | codes_outside_gate()


def _expected(entry: Entry) -> set[str]:
    return {code.strip() for code in entry.get("expect").split(",")}


def test_every_gate_rule_has_a_rejected_query() -> None:
    covered = set().union(*(_expected(e) for e in REJECT))
    assert covered | PIPELINE_RULES >= set(RULES), set(RULES) - covered - PIPELINE_RULES
    assert covered <= set(RULES)


@pytest.mark.parametrize("entry", REJECT, ids=[e.name for e in REJECT])
def test_rejected_with_explained_violations(entry: Entry) -> None:
    with pytest.raises(QueryRejected) as caught:
        check_query(expand(entry.sql), CATALOG, min_users=50)
    violations = caught.value.violations
    assert _expected(entry) <= {v.rule for v in violations}, violations
    lines = expand(entry.sql).splitlines()
    for v in violations:
        assert v.message.startswith(RULES[v.rule].summary)
        assert v.hint == RULES[v.rule].hint
        assert v.line is not None and 1 <= v.line <= len(lines), v
        assert v.col is not None and 1 <= v.col <= len(lines[v.line - 1]) + 1, v
