"""Test-suite wide settings; shared fixtures live in the reconcilekit.testing pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio (override per area for asyncio-only libraries)."""
    backend: str = request.param
    return backend
