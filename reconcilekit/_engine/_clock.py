"""Time as the engine sees it: a small interface so tests can drive time by hand.

The controller never calls ``time`` or ``anyio.sleep`` directly; it asks its :class:`Clock`. Production uses
:class:`SystemClock`; tests use :class:`reconcilekit.testing.ManualClock`, which only moves when told, so
backoff, requeue and resync behaviour is tested without real sleeps (client-go's workqueue takes a clock
for the same reason).
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """A monotonic clock in seconds plus the two ways the engine waits on it."""

    def now(self) -> float:
        """Current monotonic time in seconds (callable outside an event loop)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once :meth:`now` has reached ``deadline``."""
        ...

    def cancel_at(self, deadline: float) -> anyio.CancelScope:
        """A cancel scope that is cancelled when :meth:`now` reaches ``deadline``.

        Must be entered in the task that should be cancelled (``with clock.cancel_at(t): ...``).
        """
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and anyio's own timers."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep for the time left until ``deadline``."""
        await anyio.sleep(max(0.0, deadline - time.monotonic()))

    def cancel_at(self, deadline: float) -> anyio.CancelScope:
        """``anyio.move_on_after`` for the time left until ``deadline``."""
        return anyio.move_on_after(max(0.0, deadline - time.monotonic()))


_: Clock = SystemClock()
