"""Errors of the Kubernetes boundary: every API failure becomes one of these, naming the verb and the object.

The retry category follows what can fix the failure: a conflict, an unreachable server or an overloaded one
may pass (:class:`~reconcilekit.TemporaryError`); a missing object, a denied request, an invalid object or an
unknown kind will not change by retrying the same request (:class:`~reconcilekit.TerminalError`). Messages
never contain credentials: servers are named through :func:`~reconcilekit.redact_url`.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .._errors import ConfigurationError, ReconcileKitError, TemporaryError, TerminalError, redact_url

__all__ = [
    "AlreadyExistsError",
    "ClusterError",
    "ClusterUnreachableError",
    "ConflictError",
    "FieldConflict",
    "FieldManagerConflictError",
    "ForbiddenError",
    "GoneError",
    "InvalidObjectError",
    "KubeconfigError",
    "NotFoundError",
    "ServerError",
    "UnauthorizedError",
    "UnknownKindError",
]


class ClusterError(ReconcileKitError):
    """Base of the errors an API server request raises; catch it to handle any of them.

    Attributes:
        verb: what was attempted (``get``, ``list``, ``apply``...).
        target: the object or collection, e.g. ``ConfigMap/default/app`` or
            ``ConfigMap (v1) in namespace default``.
        status: the HTTP status code, when the server answered.
        detail: the server's (or the client library's) explanation.
    """

    verb: str
    target: str
    status: int | None
    detail: str

    def _fill(self, verb: str, target: str, status: int | None, detail: str) -> str:
        self.verb = verb
        self.target = target
        self.status = status
        self.detail = detail
        code = f" ({status})" if status is not None else ""
        return f"{verb} {target}{code}: {detail}" if detail else f"{verb} {target}{code}"


class NotFoundError(ClusterError, TerminalError):
    """The object (or its namespace, or the subresource) does not exist (HTTP 404)."""

    def __init__(
        self, verb: str, target: str, detail: str = "not found", *, status: int | None = 404
    ) -> None:
        super().__init__(self._fill(verb, target, status, detail))


class ConflictError(ClusterError, TemporaryError):
    """The request conflicts with the object's current state (HTTP 409): stale resourceVersion and the like.

    Re-reading the object and trying again usually succeeds, so the controller retries.
    """

    def __init__(
        self, verb: str, target: str, detail: str, *, status: int | None = 409, delay: float | None = None
    ) -> None:
        super().__init__(self._fill(verb, target, status, detail), delay=delay)


class AlreadyExistsError(ConflictError):
    """``create`` of an object that already exists (HTTP 409, reason AlreadyExists)."""


@attrs.frozen
class FieldConflict:
    """One server-side apply conflict: ``manager`` owns ``field`` with a different value."""

    manager: str
    field: str

    def __str__(self) -> str:
        return f"{self.field} (owned by {self.manager!r})"


class FieldManagerConflictError(ConflictError):
    """Server-side apply would change fields another field manager owns (HTTP 409), and ``force`` was off.

    ``conflicts`` lists each field and its owner. Apply with ``force=True`` to take ownership, or stop setting
    those fields.
    """

    def __init__(self, verb: str, target: str, conflicts: Sequence[FieldConflict], detail: str = "") -> None:
        self.conflicts = tuple(conflicts)
        listed = ", ".join(str(c) for c in self.conflicts)
        super().__init__(verb, target, detail or f"apply conflicts with other field managers: {listed}")


class GoneError(ClusterError, TemporaryError):
    """The requested resourceVersion or continue token is too old (HTTP 410 Gone); list again."""

    def __init__(self, verb: str, target: str, detail: str = "resource version too old") -> None:
        super().__init__(self._fill(verb, target, 410, detail))


class ForbiddenError(ClusterError, TerminalError):
    """The user may not do this (HTTP 403, RBAC), or a policy rejected it."""

    def __init__(self, verb: str, target: str, detail: str = "forbidden") -> None:
        super().__init__(self._fill(verb, target, 403, detail))


class UnauthorizedError(ClusterError, TerminalError):
    """The server did not accept the credentials (HTTP 401)."""

    def __init__(self, verb: str, target: str, detail: str = "unauthorized") -> None:
        super().__init__(self._fill(verb, target, 401, detail))


class InvalidObjectError(ClusterError, TerminalError):
    """The server rejected the object as invalid (HTTP 422, or 400 for a malformed request)."""

    def __init__(self, verb: str, target: str, detail: str, *, status: int | None = 422) -> None:
        super().__init__(self._fill(verb, target, status, detail))


class ServerError(ClusterError, TemporaryError):
    """The server failed or asked to slow down (HTTP 5xx or 429); retried, after ``delay`` when it said so."""

    def __init__(
        self, verb: str, target: str, detail: str, *, status: int, delay: float | None = None
    ) -> None:
        super().__init__(self._fill(verb, target, status, detail), delay=delay)


class ClusterUnreachableError(ClusterError, TemporaryError):
    """No answer from the API server: connection refused, TLS failure, DNS failure or timeout."""

    def __init__(self, verb: str, target: str, server: str, detail: str) -> None:
        self.server = redact_url(server)
        super().__init__(self._fill(verb, target, None, f"API server {self.server} unreachable: {detail}"))


class UnknownKindError(ClusterError, TerminalError):
    """Neither the API server's discovery nor the fake's kind table knows this apiVersion and kind."""

    def __init__(self, verb: str, api_version: str, kind: str, detail: str = "") -> None:
        self.api_version = api_version
        self.kind = kind
        why = detail or f"the server does not serve kind {kind} in {api_version} (is its CRD installed?)"
        super().__init__(self._fill(verb, f"{kind} ({api_version})", None, why))


class KubeconfigError(ConfigurationError):
    """A kubeconfig (or in-cluster configuration) is missing, malformed or names an unknown context."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"kubeconfig {source}: {reason}")
