"""Fixtures for the engine tests; the helpers themselves live in ``strategies.py``."""

from __future__ import annotations

import pytest
from strategies import run_scenario_dict


@pytest.fixture
def run():
    """Run a scenario given as a dict (validated through ``parse_scenario``) into memory."""
    return run_scenario_dict
