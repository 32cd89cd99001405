"""The work queue: de-duplicating, one-in-flight-per-key, with delayed adds.

Semantics are client-go's (util/workqueue): three structures -

* ``_ready``: keys waiting for a worker, in FIFO order;
* ``_dirty``: keys that need processing (waiting in ``_ready``, or re-added while in flight);
* ``_processing``: keys a worker holds right now.

``add`` of a dirty key is a no-op (so a burst of events runs one reconcile); ``add`` of a key being processed
only marks it dirty, and ``done`` puts it back in ``_ready`` - so the same key never runs on two workers at
once, yet an event that arrived mid-reconcile is not lost.

Delayed adds wait in a heap; a key already waiting keeps the earlier of its due times (client-go's
delaying queue does the same), so requeues never pile up per key.

The queue is not thread-safe: every call happens on the event loop's thread. It never awaits; the
:class:`~reconcilekit.Controller` does the waiting.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Hashable

__all__ = ["WorkQueue"]


class WorkQueue:
    """Keys waiting for reconciliation; see the module docstring for the semantics."""

    __slots__ = ("_delayed", "_dirty", "_due", "_on_ready", "_processing", "_ready", "_seq", "adds")

    def __init__(self, on_ready: Callable[[], None] | None = None) -> None:
        self._ready: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}
        self._seq = itertools.count()
        self._on_ready = on_ready
        #: Total keys accepted by :meth:`add` (for the adds metric); duplicates are not counted.
        self.adds = 0

    def __len__(self) -> int:
        """Keys waiting for a worker (the queue depth)."""
        return len(self._ready)

    @property
    def in_flight(self) -> int:
        """Keys held by workers right now."""
        return len(self._processing)

    @property
    def delayed(self) -> int:
        """Keys waiting for their due time."""
        return len(self._due)

    def add(self, key: Hashable) -> None:
        """Mark ``key`` for processing now (no-op when already marked)."""
        if key in self._dirty:
            return
        self._dirty.add(key)
        self.adds += 1
        if key in self._processing:
            return  # re-queued by done()
        self._ready.append(key)
        if self._on_ready is not None:
            self._on_ready()

    def add_at(self, key: Hashable, due: float) -> bool:
        """Add ``key`` at monotonic time ``due``; return True when this moved the earliest due time."""
        current = self._due.get(key)
        if current is not None and current <= due:
            return False
        self._due[key] = due
        # A superseded heap entry stays behind and is skipped when popped (its due time no longer matches).
        heapq.heappush(self._delayed, (due, next(self._seq), key))
        return self._delayed[0][2] is key and self._delayed[0][0] == due

    def next_due(self) -> float | None:
        """The earliest due time of a delayed key, or ``None``."""
        delayed = self._delayed
        while delayed:
            due, _, key = delayed[0]
            if self._due.get(key) == due:
                return due
            heapq.heappop(delayed)  # stale entry
        return None

    def promote(self, now: float) -> int:
        """Move every delayed key due by ``now`` to the ready queue; return how many moved."""
        moved = 0
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            due, _, key = heapq.heappop(delayed)
            if self._due.get(key) != due:
                continue
            del self._due[key]
            self.add(key)
            moved += 1
        return moved

    def get(self) -> Hashable | None:
        """Take the next ready key for processing, or ``None`` when none is ready."""
        if not self._ready:
            return None
        key = self._ready.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        """Release ``key``; if it was added again meanwhile, it goes back in the ready queue."""
        self._processing.discard(key)
        if key in self._dirty:
            self._ready.append(key)
            if self._on_ready is not None:
                self._on_ready()

    def discard(self, key: Hashable) -> None:
        """Drop ``key`` from the ready and delayed queues (a key in flight finishes normally)."""
        self._due.pop(key, None)
        if key in self._dirty and key not in self._processing:
            self._dirty.discard(key)
            self._ready.remove(key)

    def idle(self) -> bool:
        """True when no key is ready or in flight (delayed keys do not count)."""
        return not self._ready and not self._processing
