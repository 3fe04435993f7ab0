"""Registers the ``slow`` marker used by the simulation comparisons (they still run by default)."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long-running comparison with a simulation (runs by default)"
    )
