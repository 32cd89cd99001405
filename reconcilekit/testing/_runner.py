"""run_controller: start a Controller for a test with a manual clock and a fixed random seed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from .._engine import Controller
from .._model import Request, Result
from .._protocols import Reconciler
from ._clock import ManualClock

__all__ = ["run_controller"]


@asynccontextmanager
async def run_controller(
    reconciler: Reconciler | Callable[[Request], Awaitable[Result | None]],
    *,
    clock: ManualClock | None = None,
    seed: int = 0,
    **options: Any,
) -> AsyncIterator[Controller]:
    """Run ``reconciler`` in a started :class:`~reconcilekit.Controller` for the block's duration.

    Time is a :class:`ManualClock` (pass your own to advance it; ``ctl`` is ready when the block starts),
    resync is off unless asked for, and jitter is seeded, so runs are repeatable::

        clock = ManualClock()
        async with run_controller(reconcile, clock=clock, workers=2) as ctl:
            ctl.enqueue("a")
            await ctl.wait_idle()
    """
    options.setdefault("resync_interval", None)
    ctl = Controller(reconciler, clock=clock or ManualClock(), rng=random.Random(seed), **options)  # noqa: S311
    async with ctl:
        yield ctl
