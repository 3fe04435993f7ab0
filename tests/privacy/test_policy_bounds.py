"""The contribution-bound keys of ``query_rules``: defaults, and refused at load when invalid."""

from __future__ import annotations

import pytest

from cleanroom.errors import PolicyError
from cleanroom.policy import parse_policy
from tests.conftest import POLICIES

BASE = (POLICIES / "acme-streamco.yaml").read_text()


def with_rules(extra: str) -> str:
    return BASE.replace("  min_users_per_row: 50\n", f"  min_users_per_row: 50\n{extra}")


def test_defaults_when_the_keys_are_absent() -> None:
    rules = parse_policy(BASE, source="t.yaml").query_rules
    assert (rules.max_groups_per_user, rules.max_rows_per_user_group) == (8, 10)
    set_ = parse_policy(with_rules("  max_rows_per_user_group: 3\n"), source="t.yaml")
    assert set_.query_rules.max_rows_per_user_group == 3


@pytest.mark.parametrize("value", ["0", "-1", "1001", "2.5", "many"])
def test_invalid_rows_per_group_are_refused_at_load(value: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(with_rules(f"  max_rows_per_user_group: {value}\n"), source="t.yaml")
    assert "max_rows_per_user_group" in str(raised.value)
