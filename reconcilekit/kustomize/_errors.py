"""Errors raised while building a kustomization; each names the file (or directory) it concerns."""

from __future__ import annotations

from .._errors import TemporaryError, ValidationError

__all__ = [
    "CycleError",
    "FileOutsideRootError",
    "GeneratorConflictError",
    "KustomizationError",
    "LimitExceededError",
    "MalformedYAMLError",
    "MissingFileError",
    "NotSupportedError",
    "PatchTargetNotFoundError",
    "RemoteBaseError",
    "RemoteRefNotFoundError",
    "RemoteUnavailableError",
    "ResourceConflictError",
    "UnknownFieldError",
]


class KustomizationError(ValidationError):
    """A kustomization (or a file it reads) is invalid; ``path`` names the file or directory."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MalformedYAMLError(KustomizationError):
    """A file is not valid YAML (or not the shape a kustomization field needs)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, f"malformed YAML: {reason}")


class MissingFileError(KustomizationError):
    """A referenced file or directory does not exist, or a directory has no kustomization file."""

    def __init__(self, path: str, reason: str = "no such file or directory") -> None:
        super().__init__(path, reason)


class FileOutsideRootError(KustomizationError):
    """Security: a file or directory outside the kustomization root (via ``..`` or a symlink).

    kustomize's default load restrictor (``LoadRestrictionsRootOnly``) refuses these; so do we.
    """

    def __init__(self, path: str, root: str, *, resolved: str | None = None) -> None:
        via = f" (it resolves to '{resolved}')" if resolved and resolved != path else ""
        super().__init__(path, f"security; file '{path}' is not in or below '{root}'{via}")
        self.root = root
        self.resolved = resolved


class UnknownFieldError(KustomizationError):
    """A kustomization has a field kustomize does not know (kustomize rejects these too)."""

    def __init__(self, path: str, field: str) -> None:
        super().__init__(path, f'invalid Kustomization: json: unknown field "{field}"')
        self.field = field


class NotSupportedError(KustomizationError):
    """A real kustomize feature this engine does not implement (plugins, Helm...), or a remote URL refused
    because the build does not allow remote content (``allow_remote=False``)."""


class PatchTargetNotFoundError(KustomizationError):
    """A strategic-merge patch names a resource that is not in the build."""


class ResourceConflictError(KustomizationError):
    """Two resources with one identity meet (``may not add resource with an already registered id``)."""


class GeneratorConflictError(KustomizationError):
    """A generator clashes with an existing object (behavior ``create`` on an existing name, or
    ``merge``/``replace`` with nothing to merge into)."""


class CycleError(KustomizationError):
    """Kustomizations include each other in a loop."""


class LimitExceededError(KustomizationError):
    """An input is too large or too deeply nested (see the limits in :mod:`reconcilekit.kustomize`)."""


class RemoteBaseError(KustomizationError):
    """A remote base (a Git URL in ``resources`` or ``components``) is malformed, or its repository,
    ref or content is unusable; retrying the same input cannot fix it. ``url`` has credentials redacted."""

    def __init__(self, path: str, url: str, reason: str) -> None:
        super().__init__(path, f"remote base {url!r}: {reason}")
        self.url = url


class RemoteRefNotFoundError(RemoteBaseError):
    """The ``?ref=`` (or ``?version=``) of a remote base names no tag, branch or commit of the repository."""

    def __init__(self, path: str, url: str, ref: str) -> None:
        super().__init__(path, url, f"ref {ref!r} is not a tag, branch or commit of the repository")
        self.ref = ref


class RemoteUnavailableError(TemporaryError):
    """A remote base could not be fetched for a reason that may pass (unreachable host, timeout, corrupt
    transfer); the controller retries. ``path`` names the kustomization, ``url`` has credentials redacted."""

    def __init__(self, path: str, url: str, reason: str) -> None:
        super().__init__(f"{path}: remote base {url!r} is unavailable: {reason}")
        self.path = path
        self.url = url
        self.reason = reason
