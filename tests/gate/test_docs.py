"""docs/gate-rules.md is generated from cleanroom/gate/rules.py and must be current; the figures
docs/gate.md states for the published corpus are counted from it."""

from __future__ import annotations

import re
from pathlib import Path

from cleanroom.gate.rules import RULES, render_markdown
from tests.gate.corpus import load

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_rules_doc_is_generated_from_rules() -> None:
    assert (DOCS / "gate-rules.md").read_text() == render_markdown(), (
        "run: python -m cleanroom.gate.rules > docs/gate-rules.md")


def test_every_rule_has_a_hint() -> None:
    assert all(rule.summary and rule.hint for rule in RULES.values())


def test_published_corpus_figures_in_the_docs_are_current() -> None:
    """docs/gate.md states the published corpus's size and acceptance; every legitimate entry
    without ``-- currently:`` is accepted with raw numbers (test_published.py, strict xfails for
    the others), so the figure is counted from the corpus file."""
    entries = load("published.sql")
    legit = [e for e in entries if "legit" in e.meta]
    accepted = [e for e in legit if not e.get("currently")]
    text = " ".join((DOCS / "gate.md").read_text().split())
    found = re.search(r"Now: (\d+) entries, (\d+) legitimate, (\d+) accepted \(([\d.]+)%\); "
                      r"(\d+) right refusals", text)
    assert found, "docs/gate.md must state the published corpus's figures"
    stated = tuple(found.groups())
    share = f"{100 * len(accepted) / len(legit):.1f}"
    assert stated == (str(len(entries)), str(len(legit)), str(len(accepted)), share,
                      str(len(entries) - len(legit))), stated
