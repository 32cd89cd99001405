"""ManualClock: time that moves only when a test says so."""

from __future__ import annotations

import heapq
import itertools

import anyio

__all__ = ["ManualClock"]


class ManualClock:
    """A :class:`reconcilekit.Clock` for tests: ``now()`` changes only through :meth:`advance`.

    Sleepers and cancel-at deadlines fire in time order as the clock passes them, and :meth:`advance` waits
    until every task has settled before returning, so a test reads like a timeline with no real sleeps::

        clock = ManualClock()
        async with Controller(reconcile, clock=clock) as ctl:
            ctl.enqueue("a", after=5)
            await clock.advance(4.9)   # nothing yet
            await clock.advance(0.1)   # "a" has run
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._scopes: list[tuple[float, int, anyio.CancelScope]] = []

    def now(self) -> float:
        """The current (manual) time."""
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        """Wait until :meth:`advance` moves the clock to ``deadline``."""
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), event))
        await event.wait()

    def cancel_at(self, deadline: float) -> anyio.CancelScope:
        """A cancel scope cancelled when the clock reaches ``deadline``."""
        scope = anyio.CancelScope()
        if deadline <= self._now:
            scope.cancel()
        else:
            heapq.heappush(self._scopes, (deadline, next(self._seq), scope))
        return scope

    def _next_deadline(self) -> float | None:
        candidates = [h[0][0] for h in (self._sleepers, self._scopes) if h]
        return min(candidates) if candidates else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every deadline on the way in order, then settle."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards: advance({seconds})")
        target = self._now + seconds
        await anyio.wait_all_tasks_blocked()
        while (deadline := self._next_deadline()) is not None and deadline <= target:
            self._now = max(self._now, deadline)
            while self._sleepers and self._sleepers[0][0] <= self._now:
                heapq.heappop(self._sleepers)[2].set()
            while self._scopes and self._scopes[0][0] <= self._now:
                heapq.heappop(self._scopes)[2].cancel()
            await anyio.wait_all_tasks_blocked()
        self._now = target
        await anyio.wait_all_tasks_blocked()
