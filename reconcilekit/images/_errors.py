"""Errors raised by image automation: registry access, policy evaluation and setters.

Registry errors name the registry URL (credentials redacted) and the repository; setter errors name the file
and line. Each leaf carries its retry policy in its base class: an unreachable registry is a
:class:`~reconcilekit.TemporaryError`, a rejected credential or a bad marker is a
:class:`~reconcilekit.TerminalError` (retrying the same input cannot help).
"""

from __future__ import annotations

from .._errors import (
    ConfigurationError,
    ReconcileKitError,
    TemporaryError,
    TerminalError,
    ValidationError,
    redact_url,
)

__all__ = [
    "InvalidImageReferenceError",
    "InvalidPolicyError",
    "InvalidYAMLError",
    "MalformedMarkerError",
    "ManifestNotFound",
    "NoMatchingTag",
    "RegistryAuthError",
    "RegistryError",
    "RegistryResponseError",
    "RegistryUnreachable",
    "RepositoryNotFound",
    "SetterError",
    "UnknownPolicyError",
]


def _where(registry: str, repository: str | None) -> str:
    url = redact_url(registry)
    return f"{url} repository {repository!r}" if repository else url


class RegistryError(ReconcileKitError):
    """Base of every error talking to a container registry; carries ``registry`` and ``repository``.

    ``registry`` is the registry base URL with any credentials redacted.
    """

    def __init__(self, message: str, *, registry: str, repository: str | None = None) -> None:
        super().__init__(message)
        self.registry = redact_url(registry)
        self.repository = repository


class RegistryUnreachable(RegistryError, TemporaryError):  # noqa: N818 - public name fixed by the issue
    """The registry did not answer (refused, timeout, TLS failure, 5xx) after the bounded retries."""

    def __init__(self, registry: str, repository: str | None, reason: str) -> None:
        msg = f"registry {_where(registry, repository)} unreachable: {reason}"
        super().__init__(msg, registry=registry, repository=repository)
        self.reason = reason


class RegistryAuthError(RegistryError, TerminalError):
    """The registry refused the credentials (401/403), or asked for credentials and none were configured."""

    def __init__(self, registry: str, repository: str | None, reason: str) -> None:
        msg = f"registry {_where(registry, repository)} refused access: {reason}"
        super().__init__(msg, registry=registry, repository=repository)
        self.reason = reason


class RepositoryNotFound(RegistryError, TerminalError):  # noqa: N818 - public name fixed by the issue
    """The registry answered 404 for the repository (it does not exist, or the credentials cannot see it)."""

    def __init__(self, registry: str, repository: str) -> None:
        msg = f"repository {repository!r} not found in registry {redact_url(registry)}"
        super().__init__(msg, registry=registry, repository=repository)


class ManifestNotFound(RegistryError, TerminalError):  # noqa: N818 - named like RepositoryNotFound
    """The registry has no manifest for the tag (or digest) asked for."""

    def __init__(self, registry: str, repository: str, reference: str) -> None:
        msg = f"no manifest {reference!r} in registry {_where(registry, repository)}"
        super().__init__(msg, registry=registry, repository=repository)
        self.reference = reference


class RegistryResponseError(RegistryError, TemporaryError):
    """The registry answered something that is not the OCI distribution API (garbage JSON, odd status).

    A temporary error: a proxy error page or a half-deployed registry usually recovers by itself.
    """

    def __init__(self, registry: str, repository: str | None, reason: str) -> None:
        msg = f"registry {_where(registry, repository)} sent an invalid response: {reason}"
        super().__init__(msg, registry=registry, repository=repository)
        self.reason = reason


class InvalidPolicyError(ConfigurationError):
    """A policy or tag filter was configured wrongly: bad semver range, regular expression or order."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {what} {value!r}: {reason}")
        self.what = what
        self.value = value
        self.reason = reason


class NoMatchingTag(TerminalError):  # noqa: N818 - the name is part of the public API the issue fixes
    """No tag satisfies the policy (or the tag list is empty, or a numerical policy met a non-number)."""

    def __init__(self, policy: str, reason: str) -> None:
        super().__init__(f"no tag matches {policy}: {reason}")
        self.policy = policy
        self.reason = reason


class InvalidImageReferenceError(ConfigurationError):
    """An image reference handed to the setters cannot be split into name, tag and digest as required."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"invalid image reference {reference!r}: {reason}")
        self.reference = reference
        self.reason = reason


class SetterError(ValidationError):
    """Base of the errors :func:`~reconcilekit.images.apply_setters` raises; names ``file`` and ``line``.

    ``line`` is 1-based, ``None`` when the error concerns the whole file.
    """

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class UnknownPolicyError(SetterError):
    """A marker names a policy that is not among the images given to the setters."""

    def __init__(self, file: str, line: int, policy: str) -> None:
        super().__init__(file, line, f"image policy marker names unknown policy {policy!r}")
        self.policy = policy


class MalformedMarkerError(SetterError):
    """A ``$imagepolicy`` marker is not valid JSON, names no ``namespace:name``, or marks no scalar value."""


class InvalidYAMLError(SetterError):
    """A YAML file that holds a marker does not parse (or is not UTF-8)."""
