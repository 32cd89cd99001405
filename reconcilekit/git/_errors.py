"""Errors raised by :mod:`reconcilekit.git`, each naming the repository URL (credentials redacted).

Temporary ones (the remote is down, a pack arrived corrupt, a push raced another writer) are retried by the
controller; terminal ones (a ref that does not exist, a bad signature, a repository over the limits, wrong
credentials) wait until the input changes.
"""

from __future__ import annotations

from .._errors import TemporaryError, TerminalError, redact_url

__all__ = [
    "AuthenticationError",
    "CorruptRepositoryError",
    "GitOperationError",
    "GitUnreachableError",
    "LimitExceededError",
    "NoMatchingTagError",
    "PushRejectedError",
    "RefNotFoundError",
    "RepositoryNotFoundError",
    "SubmoduleError",
    "UnsafeContentError",
    "VerificationError",
]


class GitUnreachableError(TemporaryError):
    """The remote could not be reached (connection refused, DNS, timeout, server hung up)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"git remote {redact_url(url)} is unreachable: {reason}")
        self.url = redact_url(url)
        self.reason = reason


class GitOperationError(TemporaryError):
    """A Git operation failed for a reason not covered by a more precise error; retried with backoff."""

    def __init__(self, url: str, operation: str, reason: str) -> None:
        super().__init__(f"git {operation} of {redact_url(url)} failed: {reason}")
        self.url = redact_url(url)
        self.operation = operation
        self.reason = reason


class CorruptRepositoryError(TemporaryError):
    """Data received from the remote (or held in the cache) is corrupt; the cache is dropped and refetched."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"corrupt data from git remote {redact_url(url)}: {reason}")
        self.url = redact_url(url)
        self.reason = reason


class PushRejectedError(TemporaryError):
    """A push was rejected (e.g. still not a fast-forward after the allowed number of rebases)."""

    def __init__(self, url: str, ref: str, reason: str) -> None:
        super().__init__(f"push of {ref} to {redact_url(url)} was rejected: {reason}")
        self.url = redact_url(url)
        self.ref = ref
        self.reason = reason


class AuthenticationError(TerminalError):
    """The remote refused the credentials, or its host key / certificate could not be verified."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"authentication to git remote {redact_url(url)} failed: {reason}")
        self.url = redact_url(url)
        self.reason = reason


class RepositoryNotFoundError(TerminalError):
    """The URL does not name a Git repository."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no git repository at {redact_url(url)}: {reason}")
        self.url = redact_url(url)
        self.reason = reason


class RefNotFoundError(TerminalError):
    """The branch, tag, ref or commit asked for does not exist on the remote."""

    def __init__(self, url: str, ref: str) -> None:
        super().__init__(f"{ref} not found in git repository {redact_url(url)}")
        self.url = redact_url(url)
        self.ref = ref


class NoMatchingTagError(TerminalError):
    """No tag of the repository satisfies the semver range."""

    def __init__(self, url: str, constraint: str, tag_count: int) -> None:
        super().__init__(
            f"no tag in git repository {redact_url(url)} matches semver range {constraint!r} "
            f"({tag_count} tags seen)"
        )
        self.url = redact_url(url)
        self.constraint = constraint
        self.tag_count = tag_count


class VerificationError(TerminalError):
    """A commit or tag signature is missing or does not verify against the trusted keys."""

    def __init__(self, url: str, what: str, reason: str) -> None:
        super().__init__(f"signature verification of {what} from {redact_url(url)} failed: {reason}")
        self.url = redact_url(url)
        self.what = what
        self.reason = reason


class LimitExceededError(TerminalError):
    """The snapshot would exceed the configured maximum size or file count."""

    def __init__(self, url: str, what: str, limit: int) -> None:
        super().__init__(f"snapshot of {redact_url(url)} exceeds the limit of {limit} {what}")
        self.url = redact_url(url)
        self.what = what
        self.limit = limit


class UnsafeContentError(TerminalError):
    """The tree holds something that could reach outside the snapshot (a symlink out, a bad path name)."""

    def __init__(self, url: str, path: str, reason: str) -> None:
        super().__init__(f"unsafe content in {redact_url(url)} at {path!r}: {reason}")
        self.url = redact_url(url)
        self.path = path
        self.reason = reason


class SubmoduleError(TerminalError):
    """A submodule cannot be resolved: no ``.gitmodules`` entry or URL, a refused URL, nesting too deep.

    ``url`` is the superproject's URL and ``path`` the submodule's path in the snapshot's repository tree
    (both without credentials).
    """

    def __init__(self, url: str, path: str, reason: str) -> None:
        super().__init__(f"submodule {path!r} of git repository {redact_url(url)}: {reason}")
        self.url = redact_url(url)
        self.path = path
        self.reason = reason
