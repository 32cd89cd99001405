"""Prometheus metrics of a controller, read back from a private registry."""

from __future__ import annotations

import anyio
import pytest
from prometheus_client import CollectorRegistry

from reconcilekit import ExponentialBackoff, Request, Result, TerminalError
from reconcilekit.metrics import PrometheusMetrics
from reconcilekit.testing import ManualClock, run_controller

pytestmark = pytest.mark.anyio


async def test_metrics_count_results_retries_and_expose_queue_depth() -> None:
    registry = CollectorRegistry()
    clock = ManualClock()
    gate = anyio.Event()

    async def reconcile(req: Request) -> Result:
        if req.key == "fail":
            raise RuntimeError("boom")
        if req.key == "terminal":
            raise TerminalError("bad input")
        if req.key == "gate":
            await gate.wait()
        return Result(requeue_after=60) if req.key == "poll" else Result()

    async with run_controller(
        reconcile,
        clock=clock,
        name="demo",
        metrics=PrometheusMetrics(registry),
        rate_limiter=ExponentialBackoff(jitter=0),
    ) as ctl:
        for key in ["ok", "poll", "fail", "terminal"]:
            ctl.enqueue(key)
        await ctl.wait_idle()
        ctl.enqueue("gate")
        ctl.enqueue("waiting")
        await anyio.wait_all_tasks_blocked()

        def value(name: str, **labels: str) -> float:
            v = registry.get_sample_value(name, {"controller": "demo", **labels})
            assert v is not None, name
            return v

        assert value("reconcilekit_workqueue_depth") == 1  # "waiting" is behind the gated key
        gate.set()
        await ctl.wait_idle()
        assert value("reconcilekit_reconcile_total", result="success") == 3
        assert value("reconcilekit_reconcile_total", result="requeue_after") == 1
        assert value("reconcilekit_reconcile_total", result="error") == 1
        assert value("reconcilekit_reconcile_total", result="terminal") == 1
        assert value("reconcilekit_reconcile_errors_total") == 2
        assert value("reconcilekit_workqueue_retries_total") == 1
        assert value("reconcilekit_reconcile_duration_seconds_count") == 6
        assert value("reconcilekit_workqueue_adds_total") == 6
        assert value("reconcilekit_workqueue_depth") == 0
