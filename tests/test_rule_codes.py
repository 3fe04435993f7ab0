"""Issue 8, point 6: one registry of rule codes. Every code that any module can raise (the
gate's, attribution's, the analytics', the engine's and the upload checks') is registered in
``cleanroom.gate.rules`` with a summary and a hint, and so listed in docs/gate-rules.md."""

from __future__ import annotations

import ast
from pathlib import Path

from cleanroom.gate.rules import RULES

PACKAGE = Path(__file__).resolve().parents[1] / "cleanroom"
# Callables whose first argument is a rule code.
RAISERS = frozenset({"Violation", "violation", "refuse", "at", "_whole"})


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def codes_in(tree: ast.AST) -> set[str]:
    """String literals passed as a rule code, or assigned to a variable named ``rule``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in RAISERS and node.args:
            first = node.args[0]
            options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            found |= {c.value for c in options
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        elif isinstance(node, ast.Assign):
            for target, value in _pairs(node):
                if isinstance(target, ast.Name) and target.id == "rule" and \
                        isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.add(value.value)
    return found


def _pairs(node: ast.Assign) -> list[tuple[ast.expr, ast.expr]]:
    pairs = []
    for target in node.targets:
        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            pairs += list(zip(target.elts, node.value.elts))
        else:
            pairs.append((target, node.value))
    return pairs


def raised_codes() -> dict[str, set[str]]:
    return {str(path.relative_to(PACKAGE)): codes_in(ast.parse(path.read_text()))
            for path in sorted(PACKAGE.rglob("*.py"))}


def codes_outside_gate() -> set[str]:
    """Codes raised only outside ``cleanroom/gate/`` (requests, engine, uploads)."""
    raised = raised_codes()
    gate = set().union(*(c for f, c in raised.items() if f.startswith("gate/")))
    return set().union(*(c for f, c in raised.items() if not f.startswith("gate/"))) - gate


def test_every_code_raised_anywhere_is_registered() -> None:
    unregistered = {f: sorted(c - RULES.keys()) for f, c in raised_codes().items()
                    if c - RULES.keys()}
    assert unregistered == {}


def test_the_scan_finds_the_codes_of_every_kind_of_request() -> None:
    """The scan is not vacuous: it sees attribution's, the analytics', the engine's and the
    upload's codes, and would see an unregistered one."""
    every = set().union(*raised_codes().values())
    assert {"unknown_model", "bad_option", "dimension_not_allowed", "invalid_field",
            "dp_unsupported", "timeout", "bad_user_key", "whole_row", "syntax_error"} <= every
    planted = ast.parse('raise refuse("no_such_rule", "x")\nrule, what = "also_not", "y"')
    assert codes_in(planted) - RULES.keys() == {"no_such_rule", "also_not"}
