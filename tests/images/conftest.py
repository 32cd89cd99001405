"""Image automation tests run on asyncio only: the registry client is built on aiohttp (asyncio-only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp needs asyncio; trio is not supported by reconcilekit.images."""
    return "asyncio"
