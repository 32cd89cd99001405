"""Prometheus metrics for controllers (optional: ``pip install reconcilekit[metrics]``).

Names mirror controller-runtime's, under the ``reconcilekit_`` prefix:

* ``reconcilekit_reconcile_total{controller,result}`` - result is success, requeue_after, error or terminal;
* ``reconcilekit_reconcile_errors_total{controller}``;
* ``reconcilekit_reconcile_duration_seconds{controller}`` (histogram);
* ``reconcilekit_workqueue_depth{controller}`` - read from the queue when scraped, so it costs nothing
  per reconcile;
* ``reconcilekit_workqueue_adds_total{controller}`` - likewise read when scraped;
* ``reconcilekit_workqueue_retries_total{controller}``.

Example::

    from prometheus_client import start_http_server
    start_http_server(8080)
    Controller(reconcile, metrics=True)        # default registry
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._engine import Controller, Outcome

__all__ = ["PrometheusMetrics"]

_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _Family:
    """The metric objects of one registry (prometheus-client refuses to register a name twice)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.total = Counter(
            "reconcilekit_reconcile_total",
            "Reconciles by result.",
            ["controller", "result"],
            registry=registry,
        )
        self.errors = Counter(
            "reconcilekit_reconcile_errors_total",
            "Reconciles that failed.",
            ["controller"],
            registry=registry,
        )
        self.duration = Histogram(
            "reconcilekit_reconcile_duration_seconds",
            "Time a reconcile took.",
            ["controller"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.depth = Gauge(
            "reconcilekit_workqueue_depth", "Keys waiting for a worker.", ["controller"], registry=registry
        )
        self.adds = Gauge(
            "reconcilekit_workqueue_adds_total",
            "Keys added to the work queue (duplicates of a waiting key not counted).",
            ["controller"],
            registry=registry,
        )
        self.retries = Counter(
            "reconcilekit_workqueue_retries_total",
            "Retries scheduled after failures.",
            ["controller"],
            registry=registry,
        )


_families: dict[int, _Family] = {}


class PrometheusMetrics:
    """Records controller metrics in a prometheus-client registry (the default one unless given)."""

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client
        except ImportError as exc:  # the extra is optional; say how to get it
            raise ConfigurationError(
                "metrics need prometheus-client: pip install 'reconcilekit[metrics]'"
            ) from exc
        self.registry = registry if registry is not None else prometheus_client.REGISTRY
        key = id(self.registry)
        if key not in _families:
            _families[key] = _Family(self.registry)
        self._family = _families[key]

    def bind(self, controller: Controller) -> _Bound:
        """Return the recorder for ``controller``; its queue gauges read the queue at scrape time."""
        return _Bound(self._family, controller)


class _Bound:
    def __init__(self, family: _Family, controller: Controller) -> None:
        name = controller.name
        queue = controller._queue  # the gauges read the live queue; no per-reconcile cost
        family.depth.labels(name).set_function(lambda: len(queue))
        family.adds.labels(name).set_function(lambda: queue.adds)
        self._results = {
            r: family.total.labels(name, r) for r in ("success", "requeue_after", "error", "terminal")
        }
        self._errors = family.errors.labels(name)
        self._retries = family.retries.labels(name)
        self._duration = family.duration.labels(name)

    def observe(self, outcome: Outcome) -> None:
        self._results[outcome.kind].inc()
        self._duration.observe(outcome.duration)
        if outcome.error is not None:
            self._errors.inc()
            if outcome.kind == "error":
                self._retries.inc()
