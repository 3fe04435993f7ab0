"""docs/gate-rules.md is generated from cleanroom/gate/rules.py and must be current."""

from __future__ import annotations

from pathlib import Path

from cleanroom.gate.rules import RULES, render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_rules_doc_is_generated_from_rules() -> None:
    assert (DOCS / "gate-rules.md").read_text() == render_markdown(), (
        "run: python -m cleanroom.gate.rules > docs/gate-rules.md")


def test_every_rule_has_a_hint() -> None:
    assert all(rule.summary and rule.hint for rule in RULES.values())
