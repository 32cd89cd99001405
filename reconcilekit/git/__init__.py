"""Git as a source of desired state, and as a target for write-back.

:class:`GitSource` fetches a branch, tag, semver-selected tag, ref or commit with pygit2 and hands out
an immutable :class:`~reconcilekit.Artifact` (revision in Flux's ``main@sha1:<sha>`` format, a content digest
and a read-only snapshot directory). Polls that find nothing new cost one ref listing and return the same
artifact. With ``recurse_submodules=True`` the submodules the commit pins are fetched too and laid out in
the snapshot (nested ones as well), so they count in the digest. :class:`GitWriter` checks out a branch,
commits the caller's edits and pushes them (image update automation).

Artifact digests are ``sha256:`` over one record per snapshot entry, sorted by snapshot-relative path:
``path NUL git-mode-in-octal NUL sha256-hex-of-content LF`` - content only, so the same tree (after ignore
rules and ``path``) has the same digest on any machine.

Errors are typed (:class:`GitUnreachableError` is temporary, :class:`RefNotFoundError` terminal, ...) and
never contain credentials.
"""

from __future__ import annotations

from .._public import publish
from ._errors import (
    AuthenticationError,
    CorruptRepositoryError,
    GitOperationError,
    GitUnreachableError,
    LimitExceededError,
    NoMatchingTagError,
    PushRejectedError,
    RefNotFoundError,
    RepositoryNotFoundError,
    SubmoduleError,
    UnsafeContentError,
    VerificationError,
)
from ._snapshot import DEFAULT_EXCLUSIONS
from ._source import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, GitSource
from ._transport import FetchProgress, GitAuth
from ._verify import GitVerify, SigningKey
from ._writer import CommitAuthor, GitWriter

__all__ = [
    "DEFAULT_EXCLUSIONS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILES",
    "AuthenticationError",
    "CommitAuthor",
    "CorruptRepositoryError",
    "FetchProgress",
    "GitAuth",
    "GitOperationError",
    "GitSource",
    "GitUnreachableError",
    "GitVerify",
    "GitWriter",
    "LimitExceededError",
    "NoMatchingTagError",
    "PushRejectedError",
    "RefNotFoundError",
    "RepositoryNotFoundError",
    "SigningKey",
    "SubmoduleError",
    "UnsafeContentError",
    "VerificationError",
]

publish(globals(), __name__)
