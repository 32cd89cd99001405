"""Git tests run on asyncio; a few parametrize over trio too (pygit2 work happens in worker threads)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only here: each test starts real git servers, and the code paths are backend-neutral."""
    return "asyncio"
