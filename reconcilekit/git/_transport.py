"""Talking to remotes: credentials, host-key/certificate checks, progress, and libgit2 error mapping.

Every network operation of :class:`GitSource` and :class:`GitWriter` goes through :func:`callbacks_for` and
:func:`map_errors`, so credential handling and the translation of pygit2 errors into reconcilekit's typed
errors live in one place (the boundary, as httpx maps transport errors).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attrs
import pygit2
from pygit2.enums import CredentialType

from .._errors import ConfigurationError, ReconcileKitError, redact_url
from ._errors import (
    AuthenticationError,
    CorruptRepositoryError,
    GitOperationError,
    GitUnreachableError,
    RepositoryNotFoundError,
)

__all__ = ["FetchProgress", "GitAuth", "ProgressCallback", "callbacks_for", "map_errors"]


@attrs.frozen
class FetchProgress:
    """One progress report during a clone, fetch or push.

    ``received_objects`` of ``total_objects`` have arrived (``indexed_objects`` are processed), and
    ``received_bytes`` bytes were read from the network so far.
    """

    received_objects: int
    total_objects: int
    indexed_objects: int
    received_bytes: int


ProgressCallback = Callable[[FetchProgress], None]


def _read_optional(value: str | Path | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Path):
        return value.read_text()
    return value


@attrs.frozen(repr=False)
class GitAuth:
    """Credentials and trust settings for a Git remote (Flux's ``secretRef`` contents).

    HTTPS: ``username`` + ``password`` (basic auth) or ``bearer_token``; ``ca_file`` adds a PEM CA bundle to
    the trusted roots. SSH: ``ssh_key`` (an OpenSSH/PEM private key, as text or a :class:`~pathlib.Path`),
    optional ``ssh_passphrase``, and ``known_hosts`` (text or path, OpenSSH ``known_hosts`` format) that the
    server's host key must match. The user name for SSH comes from the URL (``ssh://git@host/repo``), else
    ``username``, else ``git``.

    Secrets never appear in ``repr``, errors or logs.

    Note: libgit2 keeps CA locations per process, so a ``ca_file`` is added to the trust store of every
    HTTPS remote in the process (it never removes the system roots).

    Example::

        GitAuth(username="bot", password=token)
        GitAuth(ssh_key=Path("id_ed25519"), known_hosts=Path("known_hosts"))
    """

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    ca_file: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    ssh_key: str | Path | None = None
    ssh_passphrase: str | None = None
    known_hosts: str | Path | None = None

    def __repr__(self) -> str:
        given = [f.name for f in attrs.fields(GitAuth) if getattr(self, f.name) is not None]
        return f"GitAuth(<{', '.join(given) or 'empty'}>)"


# libgit2 reads ~/.ssh/known_hosts from its "home directory" option, which is process-wide. SSH connections
# therefore hold this lock while the option points at a directory with the caller's known_hosts.
_SSH_LOCK = threading.Lock()
_CA_FILES: set[Path] = set()
_CA_LOCK = threading.Lock()


def is_ssh_url(url: str) -> bool:
    """True for ``ssh://`` URLs and scp-like ``user@host:path``."""
    if url.startswith(("ssh://", "git+ssh://")):
        return True
    return "://" not in url and "@" in url.split(":", 1)[0] and ":" in url


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, url: str, auth: GitAuth | None, progress: ProgressCallback | None) -> None:
        super().__init__()
        self._url = url
        self._auth = auth
        self._progress = progress
        self._attempts = 0
        self.push_errors: dict[str, str] = {}

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: CredentialType
    ) -> pygit2.UserPass | pygit2.Keypair | pygit2.KeypairFromMemory | pygit2.Username:
        # libgit2 asks again after each refusal; the same answer cannot succeed a second time, and looping
        # would hammer the server, so the second request means the credentials were refused.
        self._attempts += 1
        auth = self._auth
        if self._attempts > 1:
            raise AuthenticationError(self._url, "credentials were refused")
        if allowed_types & CredentialType.USERNAME:
            return pygit2.Username(username_from_url or (auth.username if auth else None) or "git")
        if allowed_types & CredentialType.SSH_KEY and auth is not None and auth.ssh_key is not None:
            user = username_from_url or auth.username or "git"
            key = auth.ssh_key
            if isinstance(key, Path):
                return pygit2.Keypair(user, None, str(key), auth.ssh_passphrase or "")
            return pygit2.KeypairFromMemory(user, None, key, auth.ssh_passphrase or "")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            if auth is not None and auth.username is not None and auth.password is not None:
                return pygit2.UserPass(auth.username, auth.password)
            inline = urlsplit(self._url)
            if inline.username is not None and inline.password is not None:
                # https://user:token@host/repo: credentials given in the URL itself.
                return pygit2.UserPass(unquote(inline.username), unquote(inline.password))
        raise AuthenticationError(self._url, "the remote asked for credentials and none fit")

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        # For HTTPS, `valid` is OpenSSL's chain check (system roots plus any ca_file). For SSH, libgit2 set
        # `valid` from the known_hosts file we pointed it at (see ssh_session).
        if not valid:
            raise AuthenticationError(
                self._url, f"the identity of {host.decode(errors='replace')} could not be verified"
            )
        return True

    def transfer_progress(self, stats: pygit2.remotes.TransferProgress) -> None:
        if self._progress is not None:
            self._progress(
                FetchProgress(
                    stats.received_objects, stats.total_objects, stats.indexed_objects, stats.received_bytes
                )
            )

    def custom_headers(self) -> list[str] | None:
        if self._auth is not None and self._auth.bearer_token is not None:
            return [f"Authorization: Bearer {self._auth.bearer_token}"]
        return None

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.push_errors[refname] = message


#: Network timeouts applied when the process has not set its own (libgit2 keeps them per process): connect
#: within 30 s, and no single read or write may stall for more than 60 s (Flux's GitRepository default).
CONNECT_TIMEOUT_MS = 30_000
IO_TIMEOUT_MS = 60_000


def ensure_timeouts() -> None:
    """Give libgit2 finite network timeouts unless the application already chose some.

    Without them a server that accepts a connection and never answers would hold a worker thread forever.
    """
    settings = pygit2.settings
    if settings.server_connect_timeout == 0:
        settings.server_connect_timeout = CONNECT_TIMEOUT_MS
    if settings.server_timeout == 0:
        settings.server_timeout = IO_TIMEOUT_MS


def callbacks_for(url: str, auth: GitAuth | None, progress: ProgressCallback | None = None) -> _Callbacks:
    """pygit2 callbacks that answer credential and trust questions from ``auth`` and report progress."""
    if auth is not None and auth.ca_file is not None:
        _add_ca_file(auth.ca_file)
    return _Callbacks(url, auth, progress)


def _add_ca_file(path: Path) -> None:
    with _CA_LOCK:
        if path in _CA_FILES:
            return
        if not path.is_file():
            raise ConfigurationError(f"CA file {path} for git remote does not exist")
        # OpenSSL's load_verify_locations adds to the store; the system roots stay trusted.
        pygit2.settings.set_ssl_cert_locations(str(path), None)
        _CA_FILES.add(path)


@contextlib.contextmanager
def ssh_session(url: str, auth: GitAuth | None) -> Iterator[None]:
    """Hold the SSH lock and point libgit2's home at a directory holding ``auth.known_hosts``.

    Without known_hosts an SSH remote is refused: accepting any host key would hand credentials and trust to
    whoever answers.
    """
    if not is_ssh_url(url):
        yield
        return
    known = _read_optional(auth.known_hosts if auth else None)
    if not known:
        raise ConfigurationError(
            f"git remote {redact_url(url)} uses SSH but no known_hosts was given; host keys must be pinned"
        )
    with _SSH_LOCK, tempfile.TemporaryDirectory(prefix="rk-git-home-") as home:
        ssh_dir = Path(home, ".ssh")
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "known_hosts").write_text(known if known.endswith("\n") else known + "\n")
        previous = pygit2.settings.homedir
        pygit2.settings.homedir = home
        try:
            yield
        finally:
            pygit2.settings.homedir = previous or os.path.expanduser("~")


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

_UNREACHABLE = (
    "failed to connect",
    "connection refused",
    "could not resolve",
    "timed out",
    "early eof",
    "unexpected eof",
    "connection reset",
    "failed to resolve address",
    "network is unreachable",
    "no route to host",
    "remote hung up",
    "broken pipe",
    "failed to send request",
    "ssh_handshake",
    "failed to start ssh session",
    "unexpected http status code: 5",
)
_AUTH = (
    "authentication",
    "authenticat",
    "credentials",
    "unexpected http status code: 401",
    "unexpected http status code: 403",
    "hostkey",
    "host key",
    "certificate",
    "username does not match",
    "callback returned unsupported credentials",
    "too many redirects or authentication replays",
)
_NOT_FOUND = (
    "could not find repository",
    "no such repository",
    "unexpected http status code: 404",
    "repository not found",
    "not a git repository",
    "does not appear to be a git repository",
    "not found",
    "no such file",
    "not exported",
    "unsupported url protocol",
)
_CORRUPT = (
    "corrupt",
    "incorrect header",
    "bad pack",
    "packfile",
    "index-pack",
    "invalid pack",
    "checksum",
    "zlib",
    "inflate",
    "decompress",
    "data check",
    "mismatch",
)


def classify(url: str, operation: str, exc: BaseException) -> ReconcileKitError:
    """Translate a pygit2/libgit2 error into the reconcilekit error that says what went wrong."""
    if isinstance(exc, ReconcileKitError):
        return exc
    # libgit2 messages may repeat the URL as given, credentials included, or a variant of it (another
    # path, only the user name); never pass any user info on.
    msg = _USERINFO.sub("***@", str(exc).replace(url, redact_url(url)))
    low = msg.lower()
    if any(s in low for s in _AUTH):
        return AuthenticationError(url, msg)
    if any(s in low for s in _NOT_FOUND):
        return RepositoryNotFoundError(url, msg)
    if any(s in low for s in _CORRUPT):
        return CorruptRepositoryError(url, msg)
    if any(s in low for s in _UNREACHABLE):
        return GitUnreachableError(url, msg)
    return GitOperationError(url, operation, msg)


@contextlib.contextmanager
def map_errors(url: str, operation: str) -> Iterator[None]:
    """Re-raise pygit2 errors (and OS errors from its transports) as typed reconcilekit errors."""
    try:
        yield
    except ReconcileKitError:
        raise
    except (pygit2.GitError, OSError, ValueError, KeyError) as exc:
        raise classify(url, operation, exc) from None
