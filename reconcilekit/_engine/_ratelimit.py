"""Retry delays: per-key exponential backoff with jitter, an overall token bucket, and their maximum.

Semantics follow client-go's ``DefaultControllerRateLimiter``: the delay for a failing key is the larger of
its own exponential backoff (5 ms doubling to 1000 s) and the wait for a token from a bucket shared by every
key (10 per second, burst 100), so one key's failures back off on their own while a storm of failing keys
is still bounded overall.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable
from typing import Protocol

import attrs

from .._errors import InvalidArgumentError

__all__ = ["ExponentialBackoff", "MaxOfRateLimiter", "RateLimiter", "TokenBucket", "default_rate_limiter"]


class RateLimiter(Protocol):
    """Decides how long a failed key waits before it is retried."""

    def when(self, key: Hashable, now: float) -> float:
        """Record one more failure of ``key`` and return the delay in seconds before its retry."""
        ...

    def forget(self, key: Hashable) -> None:
        """Reset ``key``'s failure history (called after a success or a terminal error)."""
        ...

    def failures(self, key: Hashable) -> int:
        """How many consecutive failures ``key`` has had."""
        ...


@attrs.define
class ExponentialBackoff:
    """Per-key delay ``base * 2**failures`` capped at ``maximum``, with up to ``jitter`` (a fraction) added.

    Jitter spreads retries of keys that failed together, so they do not come back together.
    """

    base: float = 0.005
    maximum: float = 1000.0
    jitter: float = 0.1
    rng: random.Random = attrs.field(factory=random.Random, repr=False)
    _failures: dict[Hashable, int] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.base <= 0 or self.maximum < self.base:
            raise InvalidArgumentError(f"backoff needs 0 < base <= maximum, got {self.base}, {self.maximum}")
        if not 0 <= self.jitter <= 1:
            raise InvalidArgumentError(f"backoff jitter must be in [0, 1], got {self.jitter}")

    def when(self, key: Hashable, now: float) -> float:
        """Count a failure and return ``min(base * 2**(n-1), maximum)`` plus jitter."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        # Cap the exponent so 2**n never overflows a float for a key that has failed for days.
        delay = min(self.base * (2.0 ** min(n, 64)), self.maximum)
        if self.jitter:
            delay += delay * self.jitter * self.rng.random()
        return delay

    def forget(self, key: Hashable) -> None:
        """Reset the key."""
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        """Consecutive failures of the key."""
        return self._failures.get(key, 0)


@attrs.define
class TokenBucket:
    """An overall limit of ``rate`` retries per second with bursts of ``burst``, shared by all keys."""

    rate: float = 10.0
    burst: int = 100
    _tokens: float = attrs.field(init=False, default=0.0)
    _last: float | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise InvalidArgumentError(
                f"token bucket needs rate > 0 and burst >= 1, got {self.rate}, {self.burst}"
            )
        self._tokens = float(self.burst)

    def when(self, key: Hashable, now: float) -> float:
        """Reserve a token; return how long until it is available (0 when one is there now)."""
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def forget(self, key: Hashable) -> None:
        """The bucket keeps no per-key state."""

    def failures(self, key: Hashable) -> int:
        """The bucket keeps no per-key state."""
        return 0


def _limiters(items: Iterable[RateLimiter]) -> tuple[RateLimiter, ...]:
    return tuple(items)


@attrs.define
class MaxOfRateLimiter:
    """The largest delay any of ``limiters`` asks for; failures are counted by the first that counts them."""

    limiters: tuple[RateLimiter, ...] = attrs.field(converter=_limiters)

    def when(self, key: Hashable, now: float) -> float:
        """Ask every limiter (each records the failure) and return the largest delay."""
        return max(limiter.when(key, now) for limiter in self.limiters)

    def forget(self, key: Hashable) -> None:
        """Forget the key in every limiter."""
        for limiter in self.limiters:
            limiter.forget(key)

    def failures(self, key: Hashable) -> int:
        """The largest failure count any limiter keeps."""
        return max(limiter.failures(key) for limiter in self.limiters)


def default_rate_limiter(*, jitter: float = 0.1, rng: random.Random | None = None) -> RateLimiter:
    """client-go's default: max(per-key exponential 5 ms → 1000 s, bucket 10 qps / burst 100)."""
    backoff = ExponentialBackoff(jitter=jitter, rng=rng or random.Random())  # noqa: S311 - jitter, not crypto
    return MaxOfRateLimiter((backoff, TokenBucket()))


_: RateLimiter = ExponentialBackoff()
_bucket: RateLimiter = TokenBucket()
