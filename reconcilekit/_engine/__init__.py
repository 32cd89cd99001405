"""The loop engine: work queue, rate limiting, clock and the Controller that ties them together."""

from __future__ import annotations

from ._clock import Clock, SystemClock
from ._controller import (
    BoundMetrics,
    Controller,
    ControllerStateError,
    EventStream,
    Interval,
    InvalidKeyError,
    InvalidResultError,
    MetricsSink,
    Outcome,
    ReconcileTimeoutError,
    Trigger,
)
from ._queue import WorkQueue
from ._ratelimit import ExponentialBackoff, MaxOfRateLimiter, RateLimiter, TokenBucket, default_rate_limiter

__all__ = [
    "BoundMetrics",
    "Clock",
    "Controller",
    "ControllerStateError",
    "EventStream",
    "ExponentialBackoff",
    "Interval",
    "InvalidKeyError",
    "InvalidResultError",
    "MaxOfRateLimiter",
    "MetricsSink",
    "Outcome",
    "RateLimiter",
    "ReconcileTimeoutError",
    "SystemClock",
    "TokenBucket",
    "Trigger",
    "WorkQueue",
    "default_rate_limiter",
]
