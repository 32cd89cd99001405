"""Remote bases: kustomize's Git URLs (and plain HTTP(S) files) as resources and components of a build.

Where this sits: the loader in :mod:`._target` hands a ``resources``/``components`` entry here when it is a
URL and the build allows remote content. :func:`parse_repo_spec` splits the URL as kustomize v5's
``RepoSpec`` does (repository URL, kustomization path after ``//``, ``?ref=``/``?version=``,
``?timeout=``, ``?submodules=``). :class:`RemoteFetcher` fetches each repository@ref once per build with
:class:`~reconcilekit.git.GitSource` into a temporary directory removed when the build ends; the
kustomization directory in that snapshot becomes a new load root, restricted to itself as kustomize
restricts cloned roots. :func:`fetch_http_file` reads a plain HTTP(S) URL that names one manifest file.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs

from .._errors import TemporaryError, TerminalError, redact_url
from ._errors import (
    FileOutsideRootError,
    LimitExceededError,
    MissingFileError,
    RemoteBaseError,
    RemoteRefNotFoundError,
    RemoteUnavailableError,
)
from ._yaml import MAX_FILE_BYTES

if TYPE_CHECKING:
    from ..git import GitAuth, GitSource

__all__ = [
    "DEFAULT_TIMEOUT",
    "RemoteFetcher",
    "RepoSpec",
    "auth_for",
    "fetch_http_file",
    "is_remote",
    "looks_like_git",
    "parse_repo_spec",
    "parses_as_repo",
    "redact",
]

T = TypeVar("T")

#: kustomize's default limit for each git command (``defaultTimeout`` in repospec.go), in seconds.
DEFAULT_TIMEOUT = 27.0

# What counts as a URL rather than a path. kustomize tries a local path first; a relative path that starts
# like a URL is so unlikely that deciding on the text alone (and never touching the disk for it) is safer.
_REMOTE = re.compile(
    r"^(?:git::|[a-zA-Z][a-zA-Z0-9+.-]*://|git@|github\.com[/:]|gitlab\.com/|bitbucket\.org/)", re.IGNORECASE
)
# git:// is not accepted by kustomize v5; we accept it too (a git daemon is the simplest server to run).
_SCHEMES = ("ssh://", "https://", "http://", "file://", "git://")
_USERNAME = re.compile(r"^([a-zA-Z][a-zA-Z0-9-]*)@")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def is_remote(ref: str) -> bool:
    """Whether a ``resources``/``components`` entry is a URL (remote) rather than a local path."""
    return bool(_REMOTE.match(ref))


def redact(ref: str) -> str:
    """``ref`` with any user name or password replaced by ``***`` (also behind a ``git::`` prefix)."""
    prefix = ""
    if ref[:5].lower() == "git::":
        prefix, ref = ref[:5], ref[5:]
    return prefix + _USERINFO.sub("***@", redact_url(ref))


@attrs.frozen
class RepoSpec:
    """A remote base split as kustomize splits it.

    ``repo_url`` is what git fetches, ``path`` the kustomization directory inside the repository ("" for
    its top), ``ref`` the ``?ref=`` (or ``?version=``) value ("" for the remote's default branch),
    ``timeout`` seconds for the fetch, ``submodules`` whether submodules are fetched too.
    """

    raw: str
    repo_url: str
    path: str
    ref: str
    timeout: float
    submodules: bool


def _parse_duration(value: str) -> float | None:
    # kustomize first tries integer seconds ("61"), then a Go duration ("61s", "1m30s", "500ms").
    if value.isdigit():
        return float(value) if int(value) > 0 else None
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(value):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(value) or not value or total <= 0:
        return None
    return total


def _parse_query(query: str) -> tuple[str, float, bool]:
    try:
        values = urllib.parse.parse_qs(query, keep_blank_values=True)
    except ValueError:
        # kustomize falls back to its defaults when the query does not parse.
        return "", DEFAULT_TIMEOUT, True
    first = {key: items[0] for key, items in values.items()}
    ref = first.get("ref") or first.get("version") or ""
    timeout = _parse_duration(first.get("timeout", "")) or DEFAULT_TIMEOUT
    submodules = True
    flag = first.get("submodules", "")
    if flag in _GO_TRUE:
        submodules = True
    elif flag in _GO_FALSE:
        submodules = False
    return ref, timeout, submodules


def _extract_host(n: str) -> tuple[str, str]:
    # kustomize strips go-getter's "git::" prefix (with a deprecation warning) and ignores it.
    if n[:5].lower() == "git::":
        n = n[5:]
    scheme = ""
    for candidate in _SCHEMES:
        if n[: len(candidate)].lower() == candidate:
            scheme, n = candidate, n[len(candidate) :]
            break
    username = ""
    if match := _USERNAME.match(n):
        username = match.group(1) + "@"
        n = n[len(username) :]
    github = n.lower().startswith(("github.com/", "github.com:"))
    scp = scheme == "" and (username != "" or github)
    if scheme == "" and not scp:
        raise ValueError("failed to parse scheme (use https://, ssh://, file://, git:// or user@host:path)")
    if scheme == "file://":
        # Everything after file:// is the absolute path of the repository.
        return scheme, username + n
    sep = n.find("/")
    if scp:
        colon = n.find(":")
        if sep == -1 or 0 < colon < sep:
            sep = colon
    host, rest = (n[: sep + 1], n[sep + 1 :]) if sep >= 0 else (n, "")
    if github:
        # kustomize normalizes GitHub to git@github.com: (SSH) or https://github.com/.
        if scheme == "ssh://" or username:
            scheme, host = "", "github.com:"
        else:
            scheme, username, host = "https://", "", "github.com/"
    if not host:
        raise ValueError("failed to parse host segment")
    return scheme + username + host, rest


def _split_path(n: str, *, local: bool) -> tuple[str, str]:
    # Explicit markers first (Azure's _git/, then //, then .git); else GitHub's historic org/repo length.
    if (idx := n.find("_git/")) >= 0:
        segments = n[idx + 5 :].split("/")
        repo, path = n[: idx + 5] + segments[0], "/".join(segments[1:])
    elif (idx := n.find("//")) >= 0:
        repo, path = n[:idx], n[idx + 2 :]
    elif (idx := n.find(".git")) >= 0:
        repo, path = n[: idx + 4], n[idx + 4 :]
    elif local:
        repo, path = n, ""
    else:
        segments = n.split("/")
        if len(segments) < 2:
            raise ValueError("failed to parse repo path segment")
        repo, path = "/".join(segments[:2]), "/".join(segments[2:])
    if not repo:
        raise ValueError("failed to parse repo path segment")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                raise ValueError(f"url path exits repo: {path!r}")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return repo, "/".join(parts)


def parse_repo_spec(raw: str) -> RepoSpec:
    """Split a remote base URL as kustomize v5 does; raise :class:`ValueError` saying why if it is not one.

    Accepted: ``https://host/org/repo.git//sub/dir?ref=v1``, ``https://host/org/repo//dir``,
    ``git::https://...``, ``ssh://git@host/org/repo.git//dir``, ``git@host:org/repo.git//dir``,
    ``file:///abs/repo.git//dir``, ``github.com/org/repo/dir`` and (unlike kustomize) ``git://host/repo.git``.
    """
    n, _, query = raw.partition("?")
    ref, timeout, submodules = _parse_query(query)
    host, rest = _extract_host(n)
    repo, path = _split_path(rest, local=host == "file://")
    return RepoSpec(raw, host + repo, path, ref, timeout, submodules)


def looks_like_git(url: str) -> bool:
    """Whether an HTTP(S) URL is marked as a Git repository (``//``, ``_git/``, ``.git``, ``?ref=``).

    Such URLs are fetched with git straight away; others are first tried as one plain file, as kustomize
    does (it falls back to git when the answer is not a file).
    """
    n, _, query = url.partition("?")
    rest = n.split("://", 1)[-1]
    if "//" in rest or "_git/" in rest or re.search(r"\.git(?:/|$)", rest):
        return True
    values = urllib.parse.parse_qs(query)
    return "ref" in values or "version" in values


def fetch_http_file(url: str, *, kustomization: str, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
    """GET a plain HTTP(S) file; ``None`` when the URL should rather be fetched with git.

    As kustomize: an error status means "try git" when the URL parses as a repository, else it is an error.
    Credentials in the URL are sent as basic auth (never logged). At most ``MAX_FILE_BYTES`` are read.
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.scheme.lower() not in ("http", "https"):
        raise RemoteBaseError(kustomization, redact(url), "only http:// and https:// files can be fetched")
    # The scheme is checked just above: http(s) only, never file: or custom schemes.
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=netloc)))  # noqa: S310
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        # Unredirected: a redirect to another host must not carry the credentials along.
        request.add_unredirected_header("Authorization", f"Basic {token}")
    shown = redact(url)
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_FILE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response (and its socket) open
        if parses_as_repo(url):
            return None
        raise RemoteBaseError(kustomization, shown, f"HTTP status {exc.code} ({exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        if parses_as_repo(url):
            return None
        reason = getattr(exc, "reason", None) or exc
        raise RemoteUnavailableError(kustomization, shown, str(reason)) from None
    if len(data) > MAX_FILE_BYTES:
        raise LimitExceededError(
            kustomization, f"remote file {shown!r} is larger than {MAX_FILE_BYTES} bytes"
        )
    return data


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would also follow a redirect to ftp://; a manifest URL stays on http(s).
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to {redact(newurl)} refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def parses_as_repo(url: str) -> bool:
    """Whether ``url`` parses as a kustomize Git URL (:func:`parse_repo_spec`)."""
    try:
        parse_repo_spec(url)
    except ValueError:
        return False
    return True


def _run(fn: Callable[[], Awaitable[T]], timeout: float, on_late: Callable[[], None]) -> T:
    # build() is synchronous and may be called from inside a running event loop, so the async fetch runs
    # on its own loop in its own thread. pygit2 cannot be interrupted: on timeout the (daemon) thread is
    # abandoned and the build fails; when it ends at last, on_late removes what it wrote meanwhile.
    box: list[tuple[bool, object]] = []
    abandoned = threading.Event()

    def work() -> None:
        try:
            box.append((True, anyio.run(fn)))
        except BaseException as exc:  # handed to the caller's thread as is
            box.append((False, exc))
        if abandoned.is_set():
            on_late()

    thread = threading.Thread(target=work, name="rk-kustomize-remote", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not box:
        abandoned.set()
        raise TimeoutError(f"no answer within {timeout:g}s")
    ok, value = box[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]  # what fn returned


class RemoteFetcher:
    """Fetches remote bases for one build: each repository@ref once, into a temporary directory.

    Call :meth:`close` when the build ends (its resources are in memory by then) to remove the snapshots.
    ``auth`` maps URL prefixes to credentials (see :func:`auth_for`).
    """

    def __init__(self, auth: Mapping[str, GitAuth] | None = None) -> None:
        self.auth = dict(auth or {})
        self._tmp: Path | None = None
        self._snapshots: dict[tuple[str, str, bool], Path] = {}
        self.fetches = 0  # GitSource fetches made (a test proves the per-build cache)

    def open(self, spec: RepoSpec, kustomization: str) -> tuple[Path, Path]:
        """(kustomization directory, snapshot top) of ``spec``, both real paths; fetched on first use."""
        key = (spec.repo_url, spec.ref, spec.submodules)
        if key not in self._snapshots:
            self._snapshots[key] = self._fetch(spec, kustomization)
        top = self._snapshots[key]
        shown = redact(spec.raw)
        lexical = top / spec.path if spec.path else top
        try:
            real = lexical.resolve(strict=True)
        except (OSError, RuntimeError):
            raise MissingFileError(
                kustomization, f"remote base {shown!r}: no directory {spec.path!r} in the repository"
            ) from None
        if not real.is_relative_to(top):
            raise FileOutsideRootError(str(lexical), str(top), resolved=str(real))
        if not real.is_dir():
            raise MissingFileError(
                kustomization, f"remote base {shown!r}: {spec.path!r} is a file, expected a directory"
            )
        return real, top

    def close(self) -> None:
        """Remove every snapshot fetched for this build."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._snapshots.clear()

    def _fetch(self, spec: RepoSpec, kustomization: str) -> Path:
        from ..git import RefNotFoundError  # pygit2 is loaded only by builds that fetch

        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="rk-kustomize-remote-"))
        shown = redact(spec.raw)
        ref = spec.ref
        # kustomize runs `git fetch origin <ref>`, which tries refs/<ref>, then tags, then branches; any
        # commit SHA works there too when the server allows it (GitSource fetches all refs to find one).
        attempts: list[tuple[str, str]]
        if not ref:
            attempts = [("default", "")]
        elif _SHA1.match(ref):
            attempts = [("commit", ref.lower())]
        elif ref.startswith("refs/"):
            attempts = [("ref_name", ref)]
        else:
            attempts = [("tag", ref), ("branch", ref)]
        for kind, value in attempts:
            self.fetches += 1
            cache = self._tmp / f"{self.fetches}"
            try:
                source = _source(spec, cache, kind, value, auth_for(self.auth, spec.repo_url))
                artifact = _run(source.fetch, spec.timeout, partial(_remove, cache))
            except RefNotFoundError:
                continue
            except TimeoutError as exc:
                raise RemoteUnavailableError(kustomization, shown, str(exc)) from None
            except TemporaryError as exc:
                raise RemoteUnavailableError(kustomization, shown, exc.message) from None
            except TerminalError as exc:
                raise RemoteBaseError(kustomization, shown, exc.message) from None
            return Path(artifact.path).resolve()
        raise RemoteRefNotFoundError(kustomization, shown, ref or "HEAD")


def _remove(cache: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    with contextlib.suppress(OSError):
        cache.parent.rmdir()  # the build's directory, once the build has closed it and nothing else is left


def auth_for(auth: Mapping[str, GitAuth], repo_url: str) -> GitAuth | None:
    """The credentials for ``repo_url``: those of the longest prefix of it in ``auth``.

    A prefix matches only up to a path boundary (it ends with ``/`` or ``:``, or the URL continues with
    ``/``), so ``https://git.example`` never sends its credentials to ``https://git.example.evil``.
    """
    best: tuple[int, GitAuth] | None = None
    for prefix, creds in auth.items():
        if not repo_url.startswith(prefix):
            continue
        if not prefix.endswith(("/", ":")) and repo_url[len(prefix) : len(prefix) + 1] not in ("", "/"):
            continue
        if best is None or len(prefix) > best[0]:
            best = (len(prefix), creds)
    return best[1] if best else None


def _source(spec: RepoSpec, cache: Path, kind: str, value: str, auth: GitAuth | None) -> GitSource:
    from ..git import GitSource

    # kustomize reads every file of its checkout: "!*" re-includes what Flux's default exclusions and
    # .sourceignore files would leave out of a GitSource snapshot.
    return GitSource(
        spec.repo_url,
        branch=value if kind == "branch" else None,
        tag=value if kind == "tag" else None,
        commit=value if kind == "commit" else None,
        ref_name=value if kind == "ref_name" else None,
        cache_dir=cache,
        auth=auth,
        ignore="!*",
        recurse_submodules=spec.submodules,
    )
