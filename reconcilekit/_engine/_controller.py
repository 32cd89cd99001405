"""The level-triggered loop engine: a Controller drives one Reconciler from a work queue.

Flow for every key::

    enqueue(key) ─► WorkQueue (dedup, one in flight per key) ─► worker ─► reconciler.reconcile(Request(key))
         ▲                                                                    │
         └──── delayed add: requeue_after / backoff retry / resync ◄──────────┘

Triggers (timers, watch streams, webhooks) only call :meth:`Controller.enqueue`; the reconciler reads
current state itself, so a lost or duplicated event changes nothing - the next run sees the truth.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterable, Awaitable, Callable, Hashable, Iterable
from types import TracebackType
from typing import Literal, Protocol

import anyio
import anyio.abc
import attrs

from .._errors import (
    ConfigurationError,
    InvalidArgumentError,
    ReconcileKitError,
    TemporaryError,
    TerminalError,
)
from .._model import Request, Result
from .._protocols import Reconciler, ReconcilerFunc
from ._clock import Clock, SystemClock
from ._queue import WorkQueue
from ._ratelimit import RateLimiter, default_rate_limiter

__all__ = [
    "Controller",
    "ControllerStateError",
    "EventStream",
    "Interval",
    "InvalidKeyError",
    "Outcome",
    "ReconcileTimeoutError",
    "Trigger",
]

OutcomeKind = Literal["success", "requeue_after", "error", "terminal"]

_log = logging.getLogger("reconcilekit.controller")


class InvalidKeyError(ConfigurationError, TypeError):
    """A key given to :meth:`Controller.enqueue` is not hashable."""

    def __init__(self, key: object) -> None:
        super().__init__(f"work queue keys must be hashable, got {type(key).__name__}: {key!r:.80}")


class ControllerStateError(ConfigurationError):
    """A controller was used in a state that does not allow it (e.g. started twice)."""


class ReconcileTimeoutError(TemporaryError):
    """A reconcile ran longer than the controller's ``timeout`` and was cancelled; it is retried."""

    def __init__(self, controller: str, key: Hashable, timeout: float) -> None:
        super().__init__(
            f"{controller}: reconcile of {key!r} timed out after {timeout:g} s and was cancelled"
        )
        self.key = key
        self.timeout = timeout


class InvalidResultError(TerminalError):
    """A reconciler returned something other than a :class:`~reconcilekit.Result` or ``None``."""

    def __init__(self, controller: str, key: Hashable, value: object) -> None:
        super().__init__(
            f"{controller}: reconcile of {key!r} returned {type(value).__name__}, expected Result or None"
        )


@attrs.frozen
class Outcome:
    """One finished reconcile, as delivered to subscribers and metrics.

    Attributes:
        controller: the controller's name.
        key: the key that was reconciled.
        kind: ``success``, ``requeue_after`` (success with a requested requeue), ``error`` (will be retried)
            or ``terminal`` (a :class:`~reconcilekit.TerminalError`; not retried).
        duration: seconds the reconcile took.
        result: the returned :class:`~reconcilekit.Result` on success.
        error: the exception on failure.
        retry_in: seconds until the key runs again when a requeue or retry was scheduled.
        failures: consecutive failures of the key including this one (0 after a success).
    """

    controller: str
    key: Hashable
    kind: OutcomeKind
    duration: float
    result: Result | None = None
    error: BaseException | None = None
    retry_in: float | None = None
    failures: int = 0


class Trigger(Protocol):
    """Something that enqueues keys while the controller runs (a timer, a watch, a webhook server)."""

    async def run(self, enqueue: Callable[[Hashable], None]) -> None:
        """Call ``enqueue(key)`` whenever a key should be reconciled; run until cancelled."""
        ...


def _keys(items: Iterable[Hashable]) -> tuple[Hashable, ...]:
    return tuple(items)


@attrs.frozen
class Interval:
    """A trigger that enqueues ``keys`` every ``seconds`` (the first time right away)."""

    seconds: float
    keys: tuple[Hashable, ...] = attrs.field(converter=_keys)
    clock: Clock = attrs.field(factory=SystemClock)

    def __attrs_post_init__(self) -> None:
        if not self.seconds > 0:
            raise InvalidArgumentError(f"Interval needs seconds > 0, got {self.seconds!r}")

    async def run(self, enqueue: Callable[[Hashable], None]) -> None:
        """Enqueue every key, sleep, repeat."""
        while True:
            for key in self.keys:
                enqueue(key)
            await self.clock.sleep_until(self.clock.now() + self.seconds)


@attrs.frozen
class EventStream:
    """A trigger fed by an async iterable of events (a watch, a webhook queue); ``key_of`` maps event → key.

    Events are only hints: the key is enqueued and the reconciler reads current state itself.
    """

    events: AsyncIterable[object]
    key_of: Callable[[object], Hashable | None] = lambda event: event

    async def run(self, enqueue: Callable[[Hashable], None]) -> None:
        """Enqueue the key of every event; an event whose key is ``None`` is ignored."""
        async for event in self.events:
            key = self.key_of(event)
            if key is not None:
                enqueue(key)


class Controller:
    """Runs a reconciler forever from a de-duplicating work queue (level-triggered).

    Args:
        reconciler: a :class:`~reconcilekit.Reconciler` or ``async def reconcile(request) -> Result | None``.
        name: used in logs, metrics and errors.
        workers: reconciles that may run at once (different keys only; one key never runs twice at once).
        rate_limiter: delay before retrying a failed key; default is client-go's (exponential 5 ms → 1000 s
            per key with jitter, max'ed with a 10 qps / burst 100 bucket).
        resync_interval: every key ever enqueued (and not :meth:`forget`-ten) is enqueued again this often,
            so state converges even when no event arrives; ``None`` disables it. Default 10 h, as
            controller-runtime's SyncPeriod.
        resync_jitter: fraction of ``resync_interval`` added or removed at random each period.
        timeout: seconds a single reconcile may run before it is cancelled and retried; ``None``: no limit.
        shutdown_timeout: at shutdown, seconds in-flight reconciles get to finish before they are cancelled.
        metrics: a metrics sink (see :class:`reconcilekit.metrics.PrometheusMetrics`), ``True`` for the
            Prometheus default registry, or ``None``/``False`` for none.
        triggers: started with the controller, cancelled at shutdown.
        clock: time source; tests pass :class:`reconcilekit.testing.ManualClock`.
        rng: random source for resync jitter (seed it for reproducible runs).

    Example::

        async def reconcile(req: Request) -> Result:
            ...
            return Result(requeue_after=60)

        async with Controller(reconcile, workers=4) as ctl:
            ctl.enqueue("a")
            await ctl.wait_idle()
    """

    def __init__(
        self,
        reconciler: Reconciler | Callable[[Request], Awaitable[Result | None]],
        *,
        name: str = "reconciler",
        workers: int = 1,
        rate_limiter: RateLimiter | None = None,
        resync_interval: float | None = 36000.0,
        resync_jitter: float = 0.1,
        timeout: float | None = None,
        shutdown_timeout: float = 30.0,
        metrics: MetricsSink | bool | None = None,
        triggers: Iterable[Trigger] = (),
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise InvalidArgumentError(f"{name}: workers must be an int >= 1, got {workers!r}")
        for label, value in (("timeout", timeout), ("resync_interval", resync_interval)):
            if value is not None and not value > 0:
                raise InvalidArgumentError(f"{name}: {label} must be > 0 or None, got {value!r}")
        if not shutdown_timeout >= 0:
            raise InvalidArgumentError(f"{name}: shutdown_timeout must be >= 0, got {shutdown_timeout!r}")
        if not 0 <= resync_jitter < 1:
            raise InvalidArgumentError(f"{name}: resync_jitter must be in [0, 1), got {resync_jitter!r}")
        if isinstance(reconciler, Reconciler):
            self._reconcile: Callable[[Request], Awaitable[Result | None]] = reconciler.reconcile
        elif callable(reconciler):
            self._reconcile = ReconcilerFunc(reconciler).reconcile
        else:
            raise ConfigurationError(
                f"{name}: expected a Reconciler or an async function, got {reconciler!r}"
            )
        self.name = name
        self.workers = workers
        self.timeout = timeout
        self.shutdown_timeout = shutdown_timeout
        self.resync_interval = resync_interval
        self.resync_jitter = resync_jitter
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        self._limiter = rate_limiter or default_rate_limiter(rng=self._rng)
        self._queue = WorkQueue(on_ready=self._on_ready)
        # Keys to resync; only kept when resync is on, to spend no memory otherwise.
        self._known: set[Hashable] | None = set() if resync_interval is not None else None
        self._triggers = list(triggers)
        self._subscribers: list[Callable[[Outcome], None]] = []
        self._metrics: MetricsSink | None
        if metrics is True:
            from ..metrics import PrometheusMetrics  # optional dependency: imported only when asked for

            self._metrics = PrometheusMetrics()
        else:
            self._metrics = metrics or None
        self._bound_metrics: BoundMetrics | None = None
        # Runtime state, reset by each start.
        self._tg: anyio.abc.TaskGroup | None = None
        self._background: anyio.CancelScope | None = None
        self._background_tg: anyio.abc.TaskGroup | None = None
        self._timer_scope: anyio.CancelScope | None = None
        self._ready_event: anyio.Event | None = None
        self._idle_event: anyio.Event | None = None
        self._workers_done: anyio.Event | None = None
        self._active_workers = 0
        self._stopping = False
        self._running = False

    # -- public API ---------------------------------------------------------------------------------------

    def enqueue(self, key: Hashable, *, after: float = 0.0) -> None:
        """Ask for ``key`` to be reconciled, now or ``after`` seconds from now.

        Adding a key that is already waiting is a no-op; adding a key that is being reconciled makes it run
        once more when the current run ends. A delayed key already waiting keeps the earlier due time.
        Callable before the controller starts (keys wait for it) and from any task on the loop's thread.
        """
        try:
            hash(key)
        except TypeError:
            raise InvalidKeyError(key) from None
        if after == 0:
            self._remember(key)
            self._queue.add(key)
            return
        if not (after > 0 and math.isfinite(after)):
            raise InvalidArgumentError(
                f"{self.name}: enqueue delay must be a finite number >= 0, got {after!r}"
            )
        self._remember(key)
        self._add_at(key, self._clock.now() + after)

    def forget(self, key: Hashable) -> None:
        """Stop resyncing ``key``; drop its pending runs and failure history (e.g. its object was deleted)."""
        if self._known is not None:
            self._known.discard(key)
        self._queue.discard(key)
        self._limiter.forget(key)

    def subscribe(self, callback: Callable[[Outcome], None]) -> Callable[[], None]:
        """Call ``callback(outcome)`` after every reconcile; returns a function that unsubscribes.

        Callbacks run on the worker, so they must be quick; an exception from one is logged and ignored.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def add_trigger(self, trigger: Trigger) -> None:
        """Add a trigger; it starts with the controller (or now, when already running)."""
        self._triggers.append(trigger)
        # Started in the background task group, which shutdown cancels (a trigger usually runs forever).
        if self._background_tg is not None:
            self._background_tg.start_soon(self._run_trigger, trigger)

    @property
    def depth(self) -> int:
        """Keys waiting for a worker."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Keys being reconciled now."""
        return self._queue.in_flight

    @property
    def running(self) -> bool:
        """True between start and the end of shutdown."""
        return self._running

    def failures(self, key: Hashable) -> int:
        """Consecutive failures of ``key`` (0 after a success)."""
        return self._limiter.failures(key)

    async def wait_idle(self) -> None:
        """Return once no key is queued or in flight (keys waiting for a future due time are ignored)."""
        while not self._queue.idle():
            if not self._running:
                raise ControllerStateError(f"{self.name}: wait_idle() needs a running controller")
            if self._idle_event is None:
                self._idle_event = anyio.Event()
            await self._idle_event.wait()

    async def run(self) -> None:
        """Run until cancelled (for controllers that live as long as the process)."""
        async with self:
            await anyio.sleep_forever()

    async def __aenter__(self) -> Controller:
        if self._running:
            raise ControllerStateError(f"{self.name}: already running")
        self._stopping = False
        self._running = True
        self._workers_done = anyio.Event()
        self._active_workers = self.workers
        if self._metrics is not None:
            self._bound_metrics = self._metrics.bind(self)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        for i in range(self.workers):
            tg.start_soon(self._worker, name=f"{self.name}-worker-{i}")
        tg.start_soon(self._run_background, name=f"{self.name}-background")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        assert tg is not None
        assert self._workers_done is not None
        try:
            # Graceful shutdown: stop taking work, stop triggers and timers, let in-flight reconciles finish
            # within the deadline, then cancel whatever still runs.
            self._stopping = True
            self._wake_workers()
            if self._background is not None:
                self._background.cancel()
            with anyio.CancelScope(shield=True):
                with self._clock.cancel_at(self._clock.now() + self.shutdown_timeout):
                    await self._workers_done.wait()
                if not self._workers_done.is_set():
                    _log.warning(
                        "%s: in-flight reconciles did not finish within %g s; cancelling them",
                        self.name,
                        self.shutdown_timeout,
                        extra={"controller": self.name, "in_flight": self._queue.in_flight},
                    )
                    tg.cancel_scope.cancel()
            return await tg.__aexit__(exc_type, exc, tb)
        finally:
            self._running = False
            self._background = None
            self._timer_scope = None
            if self._idle_event is not None:  # wake wait_idle() callers so they see the stop
                self._idle_event.set()
                self._idle_event = None

    # -- internals ----------------------------------------------------------------------------------------

    def _remember(self, key: Hashable) -> None:
        if self._known is not None:
            self._known.add(key)

    def _add_at(self, key: Hashable, due: float) -> None:
        if self._queue.add_at(key, due) and self._timer_scope is not None:
            self._timer_scope.cancel()  # the timer sleeps until an older, later due time: wake it

    def _on_ready(self) -> None:
        event = self._ready_event
        if event is not None:
            self._ready_event = None
            event.set()

    def _wake_workers(self) -> None:
        self._on_ready()

    async def _run_background(self) -> None:
        with anyio.CancelScope() as scope:
            self._background = scope
            if self._stopping:
                return
            try:
                async with anyio.create_task_group() as tg:
                    self._background_tg = tg
                    tg.start_soon(self._timer, name=f"{self.name}-timer")
                    if self.resync_interval is not None:
                        tg.start_soon(self._resync, self.resync_interval, name=f"{self.name}-resync")
                    for trigger in self._triggers:
                        tg.start_soon(self._run_trigger, trigger)
            finally:
                self._background_tg = None

    async def _timer(self) -> None:
        queue, clock = self._queue, self._clock
        while True:
            queue.promote(clock.now())
            due = queue.next_due()
            with anyio.CancelScope() as scope:
                self._timer_scope = scope
                if due is None:
                    await anyio.sleep_forever()
                else:
                    await clock.sleep_until(due)
            self._timer_scope = None

    async def _resync(self, interval: float) -> None:
        clock, known = self._clock, self._known
        assert known is not None
        while True:
            spread = interval * self.resync_jitter * (2 * self._rng.random() - 1)
            await clock.sleep_until(clock.now() + interval + spread)
            _log.debug("%s: resync of %d keys", self.name, len(known), extra={"controller": self.name})
            for key in list(known):
                self._queue.add(key)

    async def _run_trigger(self, trigger: Trigger) -> None:
        # A trigger that fails (a watch stream dropping, say) is restarted with backoff; the resync and the
        # level-triggered reconciler cover whatever was missed meanwhile.
        delay = 1.0
        while True:
            started = self._clock.now()
            try:
                await trigger.run(self._enqueue_from_trigger)
            except Exception:
                _log.exception("%s: trigger %r failed; restarting in %g s", self.name, trigger, delay)
            else:
                return
            if self._clock.now() - started > 60:
                delay = 1.0
            await self._clock.sleep_until(self._clock.now() + delay)
            delay = min(delay * 2, 60.0)

    def _enqueue_from_trigger(self, key: Hashable) -> None:
        try:
            self.enqueue(key)
        except InvalidKeyError:
            _log.exception("%s: a trigger produced an invalid key", self.name)

    async def _worker(self) -> None:
        queue = self._queue
        streak = 0
        try:
            while not self._stopping:
                key = queue.get()
                if key is None:
                    streak = 0
                    event = self._ready_event
                    if event is None:
                        event = self._ready_event = anyio.Event()
                    await event.wait()
                    continue
                try:
                    await self._process(key)
                finally:
                    queue.done(key)
                    if self._idle_event is not None and queue.idle():
                        self._idle_event.set()
                        self._idle_event = None
                # A reconcile that never awaits would let this loop run without yielding; give other tasks
                # (timers, other workers, shutdown) a turn now and then without paying for it every time.
                streak += 1
                if streak >= 64:
                    streak = 0
                    await anyio.lowlevel.checkpoint()
        finally:
            self._active_workers -= 1
            if self._active_workers == 0 and self._workers_done is not None:
                self._workers_done.set()

    async def _process(self, key: Hashable) -> None:
        clock = self._clock
        start = clock.now() if self._bound_metrics or self._subscribers or self.timeout else 0.0
        result: Result | None = None
        error: BaseException | None = None
        try:
            if self.timeout is None:
                value = await self._reconcile(Request(key))
            else:
                with clock.cancel_at(start + self.timeout) as scope:
                    value = await self._reconcile(Request(key))
                if scope.cancelled_caught:
                    raise ReconcileTimeoutError(self.name, key, self.timeout)
            if value is None:
                result = _NO_REQUEUE
            elif type(value) is Result or isinstance(value, Result):
                result = value
            else:
                raise InvalidResultError(self.name, key, value)
        except Exception as exc:  # every failure is reported and retried; a worker never dies of one
            error = exc

        limiter = self._limiter
        retry_in: float | None = None
        if error is None:
            assert result is not None
            limiter.forget(key)
            kind: OutcomeKind = "success"
            if result.requeue_after is not None:
                kind = "requeue_after"
                retry_in = result.requeue_after
                if retry_in == 0:
                    self._queue.add(key)
                else:
                    self._add_at(key, clock.now() + retry_in)
        elif isinstance(error, TerminalError):
            kind = "terminal"
            limiter.forget(key)
        else:
            kind = "error"
            now = clock.now()
            retry_in = limiter.when(key, now)
            if isinstance(error, TemporaryError) and error.delay is not None:
                retry_in = error.delay
            self._add_at(key, now + retry_in)

        if kind == "success" and not self._subscribers and self._bound_metrics is None:
            return  # the hot path of a no-op reconcile: nothing to report
        duration = clock.now() - start
        failures = limiter.failures(key)
        outcome = Outcome(self.name, key, kind, duration, result, error, retry_in, failures)
        if error is not None:
            self._log_failure(outcome, error)
        if self._bound_metrics is not None:
            self._bound_metrics.observe(outcome)
        for callback in tuple(self._subscribers):
            try:
                callback(outcome)
            except Exception:  # a broken subscriber must not break the loop
                _log.exception("%s: outcome subscriber %r failed", self.name, callback)

    def _log_failure(self, outcome: Outcome, error: BaseException) -> None:
        fields = {
            "controller": self.name,
            "key": repr(outcome.key),
            "duration": outcome.duration,
            "result": outcome.kind,
            "failures": outcome.failures,
            "retry_in": outcome.retry_in,
        }
        if outcome.kind == "terminal":
            _log.error(
                "%s: reconcile of %r failed terminally: %s", self.name, outcome.key, error, extra=fields
            )
        elif isinstance(error, ReconcileKitError):
            _log.warning(
                "%s: reconcile of %r failed (retry in %.3g s): %s",
                self.name,
                outcome.key,
                outcome.retry_in,
                error,
                extra=fields,
            )
        else:
            # A foreign exception is a bug somewhere: keep the traceback.
            _log.warning(
                "%s: reconcile of %r raised %s (retry in %.3g s)",
                self.name,
                outcome.key,
                type(error).__name__,
                outcome.retry_in,
                exc_info=error,
                extra=fields,
            )


_NO_REQUEUE = Result()


class BoundMetrics(Protocol):
    """Metrics bound to one controller."""

    def observe(self, outcome: Outcome) -> None:
        """Record one reconcile."""
        ...


class MetricsSink(Protocol):
    """Produces metrics for a controller; see :class:`reconcilekit.metrics.PrometheusMetrics`."""

    def bind(self, controller: Controller) -> BoundMetrics:
        """Return the recorder for ``controller``; may register gauges that read its queue."""
        ...
