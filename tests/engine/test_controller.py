"""Controller semantics on asyncio and trio, with a manual clock: no real sleeps, no flakiness."""

from __future__ import annotations

import copy
import itertools
import logging
import math
from collections import Counter
from collections.abc import Hashable

import anyio
import anyio.lowlevel
import pytest

from reconcilekit import (
    Controller,
    ControllerStateError,
    EventStream,
    ExponentialBackoff,
    Interval,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidResultError,
    Outcome,
    ReconcileKitError,
    ReconcileTimeoutError,
    Request,
    Result,
    TemporaryError,
    TerminalError,
)
from reconcilekit.testing import ManualClock, run_controller

pytestmark = pytest.mark.anyio


def no_jitter() -> ExponentialBackoff:
    return ExponentialBackoff(jitter=0.0)


class Recorder:
    """A reconciler that records when (clock time) each key ran and can be told to fail."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[Hashable, float]] = []
        self.fail: dict[Hashable, BaseException] = {}
        self.result: Result | None = None

    async def reconcile(self, request: Request) -> Result:
        self.calls.append((request.key, self.clock.now()))
        error = self.fail.get(request.key)
        if error is not None:
            raise copy.copy(error)  # a fresh exception each time: tracebacks must not pile up
        return self.result or Result()

    def times(self, key: Hashable) -> list[float]:
        return [t for k, t in self.calls if k == key]


async def test_acceptance_api_with_real_clock() -> None:
    seen: list[Hashable] = []

    async def reconcile(req: Request) -> Result:
        seen.append(req.key)
        return Result()

    ctl = Controller(reconcile, workers=4)
    async with ctl:
        ctl.enqueue("a")
        ctl.enqueue("b", after=0.5)
        await ctl.wait_idle()
        assert seen == ["a"]  # the delayed key is not waited for
    assert not ctl.running


async def test_keys_enqueued_before_processing_run_once() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    ctl = Controller(rec, clock=clock, resync_interval=None)
    for _ in range(5):
        ctl.enqueue("a")
    ctl.enqueue("b")
    async with ctl:
        await ctl.wait_idle()
    assert Counter(k for k, _ in rec.calls) == {"a": 1, "b": 1}


async def test_key_enqueued_while_in_flight_runs_again_after_never_concurrently() -> None:
    release = anyio.Event()
    started = anyio.Event()
    running: Counter[Hashable] = Counter()
    max_running: Counter[Hashable] = Counter()
    runs: list[Hashable] = []

    async def reconcile(req: Request) -> None:
        running[req.key] += 1
        max_running[req.key] = max(max_running[req.key], running[req.key])
        runs.append(req.key)
        if len(runs) == 1:
            started.set()
            await release.wait()
        running[req.key] -= 1

    async with run_controller(reconcile, workers=4) as ctl:
        ctl.enqueue("a")
        await started.wait()
        for _ in range(3):
            ctl.enqueue("a")  # arrives mid-reconcile: must run once more, after, on whichever worker
        await anyio.wait_all_tasks_blocked()
        assert runs == ["a"]
        release.set()
        await ctl.wait_idle()
    assert runs == ["a", "a"]
    assert max_running["a"] == 1


async def test_workers_bound_concurrency_and_a_stuck_key_does_not_stall_others() -> None:
    stuck = anyio.Event()
    active = 0
    peak = 0
    done: list[Hashable] = []

    async def reconcile(req: Request) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if req.key == "stuck":
            await stuck.wait()
        else:
            await anyio.lowlevel.checkpoint()
        active -= 1
        done.append(req.key)

    async with run_controller(reconcile, workers=3) as ctl:
        ctl.enqueue("stuck")
        for i in range(20):
            ctl.enqueue(i)
        await anyio.wait_all_tasks_blocked()
        assert sorted(k for k in done if k != "stuck") == list(range(20))  # type: ignore[type-var]
        assert "stuck" not in done
        assert ctl.in_flight == 1
        stuck.set()
        await ctl.wait_idle()
    assert peak == 3


async def test_backoff_resets_on_success() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    rec.fail["k"] = RuntimeError("boom")
    async with run_controller(rec, clock=clock, rate_limiter=no_jitter()) as ctl:
        ctl.enqueue("k")
        await ctl.wait_idle()
        await clock.advance(0.015)  # retries at 0.005 and 0.015
        await ctl.wait_idle()
        assert rec.times("k") == pytest.approx([0.0, 0.005, 0.015])
        assert ctl.failures("k") == 3
        del rec.fail["k"]
        await clock.advance(0.02)  # third retry at 0.035 succeeds
        await ctl.wait_idle()
        assert ctl.failures("k") == 0
        rec.fail["k"] = RuntimeError("again")
        ctl.enqueue("k")
        await ctl.wait_idle()
        last = clock.now()
        await clock.advance(0.004)
        assert rec.times("k")[-1] == last  # not retried before 5 ms: the backoff started over
        await clock.advance(0.001)
        await ctl.wait_idle()
        assert rec.times("k")[-1] == pytest.approx(last + 0.005)


async def test_backoff_schedule_exact() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    rec.fail["k"] = RuntimeError("boom")
    delays: list[float | None] = []
    async with run_controller(rec, clock=clock, rate_limiter=no_jitter()) as ctl:
        ctl.subscribe(lambda o: delays.append(o.retry_in))
        ctl.enqueue("k")
        await ctl.wait_idle()
        for _ in range(6):
            await clock.advance(delays[-1] or 0)
            await ctl.wait_idle()
    assert delays[:7] == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32])
    times = rec.times("k")
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx(delays[:6])


def test_backoff_is_capped_and_jitter_bounded() -> None:
    backoff = ExponentialBackoff(base=0.005, maximum=1000.0, jitter=0.1)
    delays = [backoff.when("k", 0.0) for _ in range(100)]
    for n, delay in enumerate(delays):
        expected = min(0.005 * 2**n, 1000.0)
        assert expected <= delay <= expected * 1.1
    assert max(delays) <= 1100.0
    assert math.isfinite(delays[-1])


async def test_requeue_after_runs_again_at_that_time_not_before() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    rec.result = Result(requeue_after=30)
    async with run_controller(rec, clock=clock) as ctl:
        ctl.enqueue("a")
        await ctl.wait_idle()
        await clock.advance(29.9)
        assert rec.times("a") == [0.0]
        await clock.advance(0.1)
        await ctl.wait_idle()
        assert rec.times("a") == pytest.approx([0.0, 30.0])


async def test_temporary_error_delay_and_terminal_error_not_retried() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    rec.fail["temp"] = TemporaryError("registry busy", delay=3)
    rec.fail["term"] = TerminalError("bad yaml")
    outcomes: list[Outcome] = []
    async with run_controller(rec, clock=clock, rate_limiter=no_jitter()) as ctl:
        ctl.subscribe(outcomes.append)
        ctl.enqueue("temp")
        ctl.enqueue("term")
        await ctl.wait_idle()
        await clock.advance(3)
        await ctl.wait_idle()
        del rec.fail["temp"]
        await clock.advance(1000)
        await ctl.wait_idle()
    assert rec.times("temp") == pytest.approx([0.0, 3.0, 6.0])
    assert rec.times("term") == [0.0]
    term = next(o for o in outcomes if o.key == "term")
    assert term.kind == "terminal"
    assert term.retry_in is None
    assert isinstance(term.error, TerminalError)


async def test_resync_reenqueues_every_known_key() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    async with run_controller(rec, clock=clock, resync_interval=100, resync_jitter=0.0) as ctl:
        ctl.enqueue("a")
        ctl.enqueue("b")
        await ctl.wait_idle()
        await clock.advance(100)
        await ctl.wait_idle()
        ctl.forget("b")
        await clock.advance(100)
        await ctl.wait_idle()
    assert rec.times("a") == pytest.approx([0, 100, 200])
    assert rec.times("b") == pytest.approx([0, 100])


async def test_resync_jitter_stays_within_bounds() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    async with run_controller(rec, clock=clock, resync_interval=100, resync_jitter=0.1) as ctl:
        ctl.enqueue("a")
        await ctl.wait_idle()
        for _ in range(5):
            await clock.advance(110)
            await ctl.wait_idle()
    times = rec.times("a")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 4
    # each resync happens 90..110 s after the previous one (jitter ±10 %), and the jitter does vary
    assert all(90 <= g <= 110 for g in gaps)
    assert len({round(g, 6) for g in gaps}) > 1


async def test_timeout_cancels_a_hanging_reconcile_and_retries() -> None:
    clock = ManualClock()
    calls = 0
    outcomes: list[Outcome] = []

    async def reconcile(req: Request) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await anyio.sleep_forever()

    async with run_controller(reconcile, clock=clock, timeout=5, rate_limiter=no_jitter()) as ctl:
        ctl.subscribe(outcomes.append)
        ctl.enqueue("h")
        await anyio.wait_all_tasks_blocked()
        assert ctl.in_flight == 1
        await clock.advance(5)
        assert isinstance(outcomes[0].error, ReconcileTimeoutError)
        assert outcomes[0].kind == "error"
        await clock.advance(0.005)
        await ctl.wait_idle()
    assert calls == 2
    assert outcomes[-1].kind == "success"


async def test_foreign_exception_is_retried_and_worker_survives(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    rec.fail["bad"] = KeyError("oops")
    with caplog.at_level(logging.WARNING, logger="reconcilekit.controller"):
        async with run_controller(rec, clock=clock, rate_limiter=no_jitter()) as ctl:
            ctl.enqueue("bad")
            ctl.enqueue("good")
            await ctl.wait_idle()
            await clock.advance(0.005)
            await ctl.wait_idle()
            ctl.enqueue("later")
            await ctl.wait_idle()
    assert rec.times("bad") == pytest.approx([0, 0.005])
    assert rec.times("later") == pytest.approx([0.005])
    record = next(r for r in caplog.records if "KeyError" in r.getMessage())
    assert record.exc_info is not None
    assert record.__dict__["controller"] == "reconciler"
    assert record.__dict__["key"] == "'bad'"


async def test_wrong_return_type_is_a_terminal_error() -> None:
    outcomes: list[Outcome] = []

    async def reconcile(req: Request) -> Result:
        return 42  # type: ignore[return-value]

    async with run_controller(reconcile) as ctl:
        ctl.subscribe(outcomes.append)
        ctl.enqueue("x")
        await ctl.wait_idle()
    assert isinstance(outcomes[0].error, InvalidResultError)
    assert outcomes[0].kind == "terminal"


async def test_broken_subscriber_does_not_break_the_loop() -> None:
    seen: list[Hashable] = []

    def broken(outcome: Outcome) -> None:
        raise RuntimeError("subscriber bug")

    async def reconcile(req: Request) -> None:
        seen.append(req.key)

    async with run_controller(reconcile) as ctl:
        ctl.subscribe(broken)
        unsubscribe = ctl.subscribe(lambda o: None)
        unsubscribe()
        ctl.enqueue(1)
        ctl.enqueue(2)
        await ctl.wait_idle()
    assert seen == [1, 2]


async def test_delayed_enqueue_keeps_earliest_due_time() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    async with run_controller(rec, clock=clock) as ctl:
        ctl.enqueue("a", after=10)
        ctl.enqueue("a", after=20)
        ctl.enqueue("a", after=5)
        await ctl.wait_idle()
        assert rec.calls == []
        await clock.advance(5)
        await ctl.wait_idle()
        await clock.advance(100)
        await ctl.wait_idle()
    assert rec.times("a") == pytest.approx([5.0])


async def test_bad_input_is_rejected_clearly() -> None:
    async def reconcile(req: Request) -> None:
        return None

    ctl = Controller(reconcile)
    with pytest.raises(InvalidKeyError, match="hashable") as info:
        ctl.enqueue(["not", "hashable"])  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ReconcileKitError)
    for bad in (-1, math.nan, math.inf):
        with pytest.raises(InvalidArgumentError, match="delay"):
            ctl.enqueue("a", after=bad)
    with pytest.raises(ValueError, match="workers"):
        Controller(reconcile, workers=0)
    with pytest.raises(InvalidArgumentError):
        Result(requeue_after=-1)
    with pytest.raises(InvalidArgumentError):
        TemporaryError("x", delay=-0.1)


async def test_wait_idle_needs_a_running_controller_when_work_is_pending() -> None:
    async def reconcile(req: Request) -> None:
        return None

    ctl = Controller(reconcile)
    await ctl.wait_idle()  # nothing pending: returns at once
    ctl.enqueue("a")
    with pytest.raises(ControllerStateError, match="running"):
        await ctl.wait_idle()


async def test_graceful_shutdown_lets_in_flight_finish_and_takes_no_new_work() -> None:
    clock = ManualClock()
    started = anyio.Event()
    finished: list[Hashable] = []

    async def reconcile(req: Request) -> None:
        if req.key == "slow":
            started.set()
            await clock.sleep_until(10)
        finished.append(req.key)

    ctl = Controller(reconcile, clock=clock, resync_interval=None, shutdown_timeout=30)
    async with anyio.create_task_group() as tg, ctl:
        ctl.enqueue("slow")
        await started.wait()
        ctl.enqueue("queued")
        # advance while __aexit__ waits: the in-flight reconcile finishes at t=10, within the deadline
        tg.start_soon(clock.advance, 10)
    assert finished == ["slow"]  # "queued" was not started after shutdown began
    assert ctl.depth == 1  # ... and is still queued for the next start (nothing is lost)


async def test_shutdown_cancels_reconciles_that_outlive_the_deadline() -> None:
    clock = ManualClock()
    started = anyio.Event()
    cancelled = False

    async def reconcile(req: Request) -> None:
        nonlocal cancelled
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled = True

    ctl = Controller(reconcile, clock=clock, resync_interval=None, shutdown_timeout=30)
    async with anyio.create_task_group() as tg, ctl:
        ctl.enqueue("hang")
        await started.wait()
        tg.start_soon(clock.advance, 31)
    assert cancelled
    assert not ctl.running


async def test_controller_cannot_start_twice() -> None:
    async with run_controller(lambda req: anyio.lowlevel.checkpoint()) as ctl:
        with pytest.raises(ControllerStateError, match="already running"):
            await ctl.__aenter__()


async def test_interval_and_event_stream_triggers() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    send, receive = anyio.create_memory_object_stream[object](10)
    async with run_controller(rec, clock=clock, triggers=[Interval(60, ["poll"], clock=clock)]) as ctl:
        ctl.add_trigger(EventStream(receive, key_of=lambda e: e["name"] if isinstance(e, dict) else None))
        await anyio.wait_all_tasks_blocked()
        await ctl.wait_idle()
        await send.send({"name": "web"})
        await send.send({"name": "web"})
        await send.send("ignored")
        await anyio.wait_all_tasks_blocked()
        await ctl.wait_idle()
        await clock.advance(60)
        await ctl.wait_idle()
        send.close()
    receive.close()
    assert rec.times("poll") == pytest.approx([0, 60])
    assert 1 <= len(rec.times("web")) <= 2


async def test_failing_trigger_is_restarted(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    runs = 0

    class Flaky:
        async def run(self, enqueue: object) -> None:
            nonlocal runs
            runs += 1
            enqueue(f"run{runs}")  # type: ignore[operator]
            if runs < 3:
                raise ConnectionError("watch dropped")
            await anyio.sleep_forever()

    with caplog.at_level(logging.ERROR, logger="reconcilekit.controller"):
        async with run_controller(rec, clock=clock, triggers=[Flaky()]) as ctl:
            await anyio.wait_all_tasks_blocked()
            await clock.advance(1)
            await clock.advance(2)
            await ctl.wait_idle()
    assert runs == 3
    assert [k for k, _ in rec.calls] == ["run1", "run2", "run3"]
    assert any("watch dropped" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_trigger_added_while_running_is_stopped_at_shutdown() -> None:
    clock = ManualClock()
    rec = Recorder(clock)
    stopped = False

    class Forever:
        async def run(self, enqueue: object) -> None:
            nonlocal stopped
            try:
                enqueue("from-trigger")  # type: ignore[operator]
                await anyio.sleep_forever()
            finally:
                stopped = True

    with anyio.fail_after(10):  # real time: a hang here is the bug this test guards against
        async with run_controller(rec, clock=clock) as ctl:
            await anyio.wait_all_tasks_blocked()
            ctl.add_trigger(Forever())
            await anyio.wait_all_tasks_blocked()
            await ctl.wait_idle()
    assert stopped
    assert [k for k, _ in rec.calls] == ["from-trigger"]
