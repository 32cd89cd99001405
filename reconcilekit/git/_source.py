"""GitSource: desired state from a Git repository, as an immutable Artifact.

Flow of one :meth:`GitSource.fetch`:

1. list the remote's refs (one round trip, no objects) and resolve the wanted commit - by precedence
   commit > ref_name > semver > tag > branch, as Flux's GitRepository;
2. if that commit (and tag object) is the one already held, return the held artifact unchanged;
3. otherwise fetch only that ref into a bare cache repository (shallow, ``depth=1``, where the transport
   allows; incremental after the first time), verify signatures when asked, and materialize the tree as a
   content-addressed, read-only snapshot (see :mod:`reconcilekit.git._snapshot` for the digest); with
   ``recurse_submodules``, each gitlink's pinned commit is fetched and laid out in place
   (:mod:`reconcilekit.git._submodules`).

The superproject's commit pins its submodules' commits, so step 2 holds with submodules too: an unchanged
head means unchanged content, and no submodule remote is contacted.

Any failure leaves the previous artifact untouched and is raised as a typed error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

import anyio
import anyio.to_thread
import attrs
import pygit2

from .._errors import ConfigurationError, ReconcileKitError, redact_url
from .._model import Artifact
from .._protocols import Source
from .._semver import Constraint, latest
from ._errors import (
    CorruptRepositoryError,
    GitOperationError,
    NoMatchingTagError,
    RefNotFoundError,
    VerificationError,
)
from ._snapshot import SnapshotIndex, materialize
from ._submodules import MAX_SUBMODULE_DEPTH, SubmoduleFetcher
from ._transport import GitAuth, ProgressCallback, callbacks_for, ensure_timeouts, map_errors, ssh_session
from ._verify import GitVerify, check_signature, split_tag_signature

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_FILES", "GitSource"]

log = logging.getLogger("reconcilekit.git")

#: Default maximum number of files (and symlinks) in a snapshot.
DEFAULT_MAX_FILES = 100_000
#: Default maximum total size of a snapshot's files, in bytes (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def _default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "reconcilekit", "git")


def _is_local(url: str) -> bool:
    if url.startswith("file://"):
        return True
    return "://" not in url and not (":" in url and "@" in url.split(":")[0])


@attrs.frozen
class _Target:
    """What a poll resolved: the ref to fetch, the commit and the object the ref points at (tag object)."""

    refname: str | None  # full ref name to fetch, None in bare-commit mode
    label: str | None  # revision prefix ("main", "v1.2.0", "refs/pull/1/head"); None for bare commits
    commit: str
    ref_target: str  # the ref's own target: an annotated tag's object id, else the commit


class GitSource:
    """Fetches a Git repository as an immutable :class:`~reconcilekit.Artifact` (Flux's GitRepository).

    Args:
        url: local path, ``file://``, ``git://``, ``http(s)://``, ``ssh://user@host/path`` or
            ``user@host:path``.
        branch: a branch name; when no ref is given at all, the remote's default branch (its ``HEAD``).
        tag: a tag name.
        semver: a Masterminds semver range; the highest matching tag is used (``reconcilekit._semver``).
        commit: a full 40-hex commit SHA. With ``branch`` the commit must be on that branch.
        ref_name: a full ref name such as ``refs/pull/7/head`` or ``refs/heads/main``.
        path: only this subdirectory of the tree becomes the snapshot.
        ignore: extra ignore patterns (gitignore syntax, one per line, relative to the snapshot root); they
            win over ``.sourceignore`` files and Flux's default exclusions.
        auth: credentials and trust (see :class:`GitAuth`).
        verify: required signatures (see :class:`GitVerify`).
        cache_dir: where the bare repository and snapshots are kept; by default
            ``$XDG_CACHE_HOME/reconcilekit/git/<hash of url and ref>``. One source per directory.
        shallow: fetch with ``depth=1`` where the transport supports it (not for local paths or commit mode).
        max_files: maximum number of files in a snapshot (default 100,000).
        max_bytes: maximum total file size of a snapshot (default 1 GiB).
        recurse_submodules: also fetch the submodules (gitlinks) in the snapshot at the commits the
            superproject pins, nested ones too (up to 8 levels), and lay them out in place; their content
            enters the digest and counts toward the limits. URLs come from ``.gitmodules`` at that commit
            (relative ones resolved against ``url``); ``file://`` and local paths only when ``url`` is
            local; ``auth`` is sent to submodule remotes on the same scheme, host and port (SSH keys to any
            SSH remote, host keys still checked). ``False`` (Flux's default): submodules are left out.
        progress: called with :class:`FetchProgress` while objects are received.

    Precedence when several refs are given is Flux's: commit > ref_name > semver > tag > branch.

    Snapshots live in ``cache_dir/snapshots/<digest>``: read-only files, no ``.git``, symlinks only when they
    resolve inside the snapshot (else :class:`UnsafeContentError`), submodules as ``recurse_submodules``
    says. The previous
    artifact's snapshot is kept until the next change (a pipeline may still be reading it); older ones are
    removed. Unchanged files are hard-linked from the previous snapshot: treat snapshot files as read-only.

    Revisions: ``<branch>@sha1:<sha>``, ``<tag>@sha1:<sha>`` (also for semver), ``<ref_name>@sha1:<sha>``,
    and ``sha1:<sha>`` for a bare commit.

    Example::

        source = GitSource("https://example.test/fleet.git", branch="main", path="clusters/prod")
        artifact = await source.fetch()
        artifact.revision  # 'main@sha1:3f2a...'
    """

    def __init__(
        self,
        url: str,
        *,
        branch: str | None = None,
        tag: str | None = None,
        semver: str | None = None,
        commit: str | None = None,
        ref_name: str | None = None,
        path: str | None = None,
        ignore: str | None = None,
        auth: GitAuth | None = None,
        verify: GitVerify | None = None,
        cache_dir: Path | str | None = None,
        shallow: bool = True,
        max_files: int = DEFAULT_MAX_FILES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        recurse_submodules: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        if not url:
            raise ConfigurationError("GitSource needs a repository URL")
        if commit is not None and not _SHA1.match(commit):
            raise ConfigurationError(f"GitSource commit must be a full 40-hex SHA-1, got {commit!r}")
        if max_files < 1 or max_bytes < 1:
            raise ConfigurationError("GitSource max_files and max_bytes must be positive")
        if ref_name is not None and not ref_name.startswith("refs/"):
            raise ConfigurationError(
                f"GitSource ref_name must be a full ref such as refs/heads/main, got {ref_name!r}"
            )
        ensure_timeouts()
        self.url = url
        self.branch = branch
        self.tag = tag
        self.semver = semver
        self.constraint = Constraint(semver) if semver is not None else None
        self.commit = commit
        self.ref_name = ref_name
        self.path = path
        self.ignore = ignore
        self.auth = auth
        self.verify = verify
        self.shallow = shallow
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.progress = progress
        self.recurse_submodules = recurse_submodules
        tag_ref = semver is not None or tag is not None or (ref_name or "").startswith("refs/tags/")
        if verify is not None and verify.mode != "HEAD" and not tag_ref:
            raise ConfigurationError(f"GitSource verify mode {verify.mode} needs a tag or semver reference")
        if cache_dir is None:
            parts = [url, branch, tag, semver, commit, ref_name, path, ignore]
            if recurse_submodules:
                # Its own directory: two sources pruning each other's snapshots in one place would break
                # "one source per directory". (Only when set, so existing caches keep their place.)
                parts.append("submodules")
            key = "\0".join(str(x) for x in parts)
            cache_dir = _default_cache_root() / hashlib.sha256(key.encode()).hexdigest()[:24]
        self.cache_dir = Path(cache_dir)
        self._submodules = (
            SubmoduleFetcher(
                url=url,
                cache_root=self.cache_dir / "submodules",
                auth=auth,
                shallow=shallow,
                progress=progress,
                max_depth=MAX_SUBMODULE_DEPTH,
            )
            if recurse_submodules
            else None
        )
        self._artifact: Artifact | None = None
        self._key: _Target | None = None
        self._failed: tuple[_Target, ReconcileKitError] | None = None
        self._repo: pygit2.Repository | None = None
        self._index: SnapshotIndex | None = None
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        ref = self._describe()
        return f"GitSource({redact_url(self.url)!r}, {ref})"

    def _describe(self) -> str:
        if self.commit is not None:
            return f"commit {self.commit}"
        if self.ref_name is not None:
            return f"ref {self.ref_name}"
        if self.semver is not None:
            return f"semver {self.semver!r}"
        if self.tag is not None:
            return f"tag {self.tag}"
        return f"branch {self.branch}" if self.branch else "default branch"

    @property
    def artifact(self) -> Artifact | None:
        """The last good artifact, or ``None`` before the first successful fetch."""
        return self._artifact

    async def fetch(self) -> Artifact:
        """Return the artifact for the current remote revision (the held one when nothing changed).

        Raises a :class:`~reconcilekit.TemporaryError` (unreachable, corrupt data) or
        :class:`~reconcilekit.TerminalError` (missing ref, no matching tag, bad credentials, failed
        verification, limits) naming the repository; the last good artifact is kept either way.
        """
        async with self._lock:
            return await anyio.to_thread.run_sync(self._fetch)

    # -- blocking parts, run in a worker thread -------------------------------------------------------

    def _open(self) -> pygit2.Repository:
        if self._repo is None:
            git_dir = self.cache_dir / "repo.git"
            with map_errors(self.url, "open cache"):
                if (git_dir / "HEAD").exists():
                    self._repo = pygit2.Repository(str(git_dir))
                else:
                    git_dir.parent.mkdir(parents=True, exist_ok=True)
                    self._repo = pygit2.init_repository(str(git_dir), bare=True)
        return self._repo

    def _drop_cache(self) -> None:
        # A corrupt object store cannot be trusted for incremental fetches; start over next time. Snapshots
        # (and so the last good artifact) live elsewhere and stay.
        self._repo = None
        shutil.rmtree(self.cache_dir / "repo.git", ignore_errors=True)
        if self._submodules is not None:
            self._submodules.drop_cache()

    def _fetch(self) -> Artifact:
        try:
            return self._fetch_inner()
        except CorruptRepositoryError:
            self._drop_cache()
            raise
        except ReconcileKitError as exc:
            log.warning("git source %s: %s", redact_url(self.url), exc)
            raise

    def _list_heads(self, repo: pygit2.Repository) -> dict[str, str]:
        remote = repo.remotes.create_anonymous(self.url)
        cb = callbacks_for(self.url, self.auth)
        with map_errors(self.url, "ls-remote"), ssh_session(self.url, self.auth):
            heads = remote.list_heads(callbacks=cb)
        refs: dict[str, str] = {}
        for head in heads:
            if head.name is None:
                continue
            refs[head.name] = str(head.oid)
            if head.name == "HEAD" and head.symref_target:
                refs["HEAD->"] = head.symref_target
        return refs

    def _resolve(self, refs: dict[str, str]) -> _Target:
        def peeled(name: str) -> tuple[str, str]:
            target = refs[name]
            return refs.get(name + "^{}", target), target

        if self.ref_name is not None:
            if self.ref_name not in refs:
                raise RefNotFoundError(self.url, f"ref {self.ref_name!r}")
            commit, target = peeled(self.ref_name)
            return _Target(self.ref_name, self.ref_name, commit, target)
        if self.constraint is not None:
            tags = [
                n.removeprefix("refs/tags/")
                for n in refs
                if n.startswith("refs/tags/") and not n.endswith("^{}")
            ]
            chosen = latest(tags, self.constraint)
            if chosen is None:
                raise NoMatchingTagError(self.url, str(self.constraint), len(tags))
            commit, target = peeled(f"refs/tags/{chosen}")
            return _Target(f"refs/tags/{chosen}", chosen, commit, target)
        if self.tag is not None:
            name = f"refs/tags/{self.tag}"
            if name not in refs:
                raise RefNotFoundError(self.url, f"tag {self.tag!r}")
            commit, target = peeled(name)
            return _Target(name, self.tag, commit, target)
        branch = self.branch
        if branch is None:
            head = refs.get("HEAD->")
            if head is not None and head.startswith("refs/heads/"):
                branch = head.removeprefix("refs/heads/")
            else:
                # Old servers do not advertise the symref: take a branch HEAD points at, else Flux's default.
                same = sorted(
                    n for n, o in refs.items() if n.startswith("refs/heads/") and o == refs.get("HEAD")
                )
                branch = same[0].removeprefix("refs/heads/") if same else "master"
        name = f"refs/heads/{branch}"
        if name not in refs:
            raise RefNotFoundError(self.url, f"branch {branch!r}")
        return _Target(name, branch, refs[name], refs[name])

    def _has(self, repo: pygit2.Repository, oid: str) -> bool:
        try:
            return oid in repo.odb
        except (ValueError, pygit2.GitError):
            return False

    def _fetch_objects(self, repo: pygit2.Repository, refspecs: list[str], *, depth: int) -> None:
        remote = repo.remotes.create_anonymous(self.url)
        cb = callbacks_for(self.url, self.auth, self.progress)
        with map_errors(self.url, "fetch"), ssh_session(self.url, self.auth):
            remote.fetch(refspecs, callbacks=cb, depth=depth)

    def _fetch_inner(self) -> Artifact:
        repo = self._open()
        if self.commit is not None and self.branch is None and self.ref_name is None:
            target = _Target(None, None, self.commit, self.commit)
            if self._key == target and self._artifact is not None:
                # A commit never changes: no need to ask the remote at all.
                return self._artifact
            if not self._has(repo, self.commit):
                # Servers need not serve unadvertised SHAs, so fetch every branch and tag in full.
                self._fetch_objects(
                    repo, ["+refs/heads/*:refs/rk/heads/*", "+refs/tags/*:refs/rk/tags/*"], depth=0
                )
                if not self._has(repo, self.commit):
                    raise RefNotFoundError(self.url, f"commit {self.commit}")
        else:
            refs = self._list_heads(repo)
            target = self._resolve(refs)
            if self.commit is not None:
                # commit + branch (or ref_name): the commit must be on it; the label stays the branch's.
                target = _Target(target.refname, target.label, self.commit, self.commit)
            if self._key == target and self._artifact is not None:
                return self._artifact
            if self._failed is not None and self._failed[0] == target:
                raise self._failed[1]
            assert target.refname is not None
            need = {target.commit, target.ref_target}
            if not all(self._has(repo, oid) for oid in need):
                depth = 0 if (self.commit is not None or not self.shallow or _is_local(self.url)) else 1
                local = "refs/rk/" + target.refname.removeprefix("refs/")
                try:
                    self._fetch_objects(repo, [f"+{target.refname}:{local}"], depth=depth)
                except GitOperationError as exc:
                    if depth == 0 or "shallow" not in exc.reason.lower():
                        raise
                    # Some servers and transports cannot serve shallow packs: fall back to a full fetch.
                    self._fetch_objects(repo, [f"+{target.refname}:{local}"], depth=0)
            if self.commit is not None:
                head = refs.get(target.refname + "^{}", refs[target.refname])
                if not self._has(repo, self.commit) or (
                    head != self.commit and not repo.descendant_of(head, self.commit)
                ):
                    raise RefNotFoundError(self.url, f"commit {self.commit} on {target.label}")
        try:
            artifact = self._build(repo, target)
        except VerificationError as exc:
            self._failed = (target, exc)
            raise
        self._failed = None
        old = self._artifact
        self._artifact, self._key = artifact, target
        self._prune_snapshots(keep={artifact.path, old.path if old else artifact.path})
        return artifact

    def _build(self, repo: pygit2.Repository, target: _Target) -> Artifact:
        with map_errors(self.url, "read"):
            obj = repo.get(target.commit)
            if obj is None:
                raise RefNotFoundError(self.url, f"commit {target.commit}")
            commit = obj.peel(pygit2.Commit)
            if str(commit.id) != target.commit:
                target = attrs.evolve(target, commit=str(commit.id))
        revision = f"{target.label}@sha1:{commit.id}" if target.label else f"sha1:{commit.id}"
        metadata = {
            "commit": str(commit.id),
            "author": f"{commit.author.name} <{commit.author.email}>",
            "message": commit.message.splitlines()[0] if commit.message else "",
        }
        if target.refname is not None:
            metadata["ref"] = target.refname
        if self.verify is not None:
            metadata.update(self._verify(repo, target, commit, revision))
        if self._submodules is not None:
            self._submodules.begin()
        with map_errors(self.url, "snapshot"):
            snap = materialize(
                repo,
                commit,
                url=self.url,
                dest_parent=self.cache_dir / "snapshots",
                subpath=self.path,
                ignore=self.ignore,
                max_files=self.max_files,
                max_bytes=self.max_bytes,
                previous=self._index,
                submodules=self._submodules,
            )
        self._index = snap.index
        return Artifact(revision=revision, digest=snap.digest, path=snap.path, metadata=metadata)

    def _verify(
        self, repo: pygit2.Repository, target: _Target, commit: pygit2.Commit, revision: str
    ) -> dict[str, str]:
        verify = self.verify
        assert verify is not None
        out: dict[str, str] = {}
        if verify.mode in ("Tag", "TagAndHEAD"):
            if target.ref_target == target.commit:
                raise VerificationError(
                    self.url, f"tag of {revision}", "it is a lightweight tag (no signature)"
                )
            with map_errors(self.url, "read tag"):
                raw = repo.odb.read(target.ref_target)[1]
            signature, payload = split_tag_signature(raw)
            ok, who = check_signature(signature, payload, verify)
            if not ok:
                raise VerificationError(self.url, f"tag of {revision}", who)
            out["verified.tag"] = who
        if verify.mode in ("HEAD", "TagAndHEAD"):
            signature_s, payload_s = commit.gpg_signature
            ok, who = check_signature(signature_s, payload_s or b"", verify)
            if not ok:
                raise VerificationError(self.url, f"commit {revision}", who)
            out["verified.commit"] = who
        return out

    def _prune_snapshots(self, keep: set[Path]) -> None:
        # The previous artifact may still be in use by a running pipeline, so it is kept alongside the
        # current one; older snapshots are renamed away (atomic, instant) and deleted off the fetch path.
        root = self.cache_dir / "snapshots"
        doomed = []
        for child in root.iterdir():
            if child in keep or child.name.startswith(".tmp-"):
                continue
            if child.name.startswith(".trash-"):
                doomed.append(child)
                continue
            trash = child.with_name(f".trash-{child.name}-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.replace(child, trash)
            except OSError:
                continue  # another process holds it or it is gone; retried on the next prune
            doomed.append(trash)
        if doomed:
            threading.Thread(target=_remove_all, args=(doomed,), name="rk-git-prune", daemon=True).start()


def _remove_all(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


# Static proof that GitSource conforms to the Source protocol.
_source: type[Source] = GitSource
