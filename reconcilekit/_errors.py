"""The error hierarchy: one root, with the retry policy carried in the type.

Everything reconcilekit raises on purpose subclasses :class:`ReconcileKitError`. The engine reads the type to
decide what happens next:

* :class:`TemporaryError` - the world may fix itself (network down, conflict, rate limit): retry after
  ``delay`` seconds, or with the controller's backoff when ``delay`` is ``None``.
* :class:`TerminalError` - the input is wrong (bad YAML, unknown field, missing ref): retrying the same
  input cannot help, so the key is not retried until something enqueues it again (an event, a resync, a
  new revision).
* anything else, including foreign exceptions - retried with exponential backoff, as controller-runtime does.

Domain errors subclass one of the two, so callers may catch either by category or by concrete class.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ConfigurationError",
    "InvalidArgumentError",
    "PruneToEmptyError",
    "ReconcileKitError",
    "TemporaryError",
    "TerminalError",
    "ValidationError",
    "redact_url",
]


class ReconcileKitError(Exception):
    """Root of every error reconcilekit raises on purpose.

    ``message`` is the human text; subclasses build it in ``__init__`` from the object, file or URL involved,
    so the text always names what went wrong and where.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TemporaryError(ReconcileKitError):
    """A failure that may go away by itself; the controller retries the key.

    Args:
        message: what failed, naming the object, file or URL.
        delay: seconds to wait before the retry; ``None`` uses the controller's per-key backoff.

    Example::

        raise TemporaryError("registry 127.0.0.1:5000 answered 503", delay=10)
    """

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        if delay is not None and not delay >= 0:  # also rejects NaN
            raise InvalidArgumentError(f"TemporaryError delay must be >= 0, got {delay!r}")
        super().__init__(message)
        self.delay = delay


class TerminalError(ReconcileKitError):
    """A failure that retrying the same input cannot fix; the key is not retried until enqueued again.

    Mirrors controller-runtime's ``reconcile.TerminalError``: the error is still reported (conditions,
    events, metrics), but no backoff retry is scheduled.
    """


class ConfigurationError(TerminalError):
    """The caller configured a reconcilekit object wrongly (bad argument, impossible combination)."""


class InvalidArgumentError(ConfigurationError, ValueError):
    """An argument is out of range (a negative delay, a zero worker count...).

    Also a :class:`ValueError`, so code written against the standard library's conventions catches it.
    """


class PruneToEmptyError(TerminalError):
    """A sink was asked to apply an empty set, which would delete every object it manages; refused unless the
    sink allows it (``allow_empty=True``).

    An empty render is more often a broken source than a wish to delete everything (Argo CD's ``allowEmpty``
    guards the same way). Raised by every bundled sink that prunes.
    """

    def __init__(self, sink: str, count: int) -> None:
        super().__init__(
            f"{sink}: refusing to prune all {count} managed objects for an empty desired state "
            "(pass allow_empty=True if that is what you want)"
        )
        self.sink = sink
        self.count = count


class ValidationError(TerminalError):
    """Declared input (YAML, a kustomization, a resource) is malformed or breaks a rule."""


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact_url(url: str) -> str:
    """Return ``url`` with any user name or password replaced by ``***``.

    Used by every error and log line that names a URL, so credentials given inline
    (``https://user:token@host/repo``) never leave the process.

    >>> redact_url("https://bob:s3cret@example.test/repo.git")
    'https://***@example.test/repo.git'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub("***@", url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))
