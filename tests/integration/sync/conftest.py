"""Sync tests run against the fake directory of the ``world`` fixture (sync_world.py)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeDirectories
from tests.wiring import Adapters


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    """The emulator modules override this."""
    return {"directory_for": directories}
