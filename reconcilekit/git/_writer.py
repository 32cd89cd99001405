"""Write-back: check out a branch, commit the working tree, push (rebasing on races).

Used by image update automation: the caller edits files under the path returned by
:meth:`GitWriter.checkout` and calls :meth:`GitWriter.commit_and_push`. A push that loses a race (the remote
branch moved) is rebased onto the new remote head and retried, a bounded number of times; history is never
rewritten on the remote unless ``force_push=True``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Self

import anyio.to_thread
import attrs
import pygit2
from pygit2.enums import FileStatus, ResetMode

from .._errors import ConfigurationError
from ._errors import PushRejectedError, RefNotFoundError
from ._transport import GitAuth, ProgressCallback, callbacks_for, ensure_timeouts, map_errors, ssh_session
from ._verify import SigningKey, sign_commit

__all__ = ["CommitAuthor", "GitWriter"]

_LOCAL = "refs/heads/reconcilekit-work"


@attrs.frozen
class CommitAuthor:
    """Name and e-mail recorded as author and committer of write-back commits."""

    name: str
    email: str


def _tracking(branch: str) -> str:
    return f"refs/remotes/origin/{branch}"


class GitWriter:
    """Commits changes to a Git branch and pushes them, as Flux's image update automation does.

    Args:
        url: the repository (local path, ``file://``, ``git://``, ``http(s)://`` or SSH).
        branch: the branch to check out.
        push_branch: the branch to push to; created from ``branch`` when missing. ``None`` pushes to
            ``branch``.
        auth: credentials (see :class:`GitAuth`).
        author: author and committer of the commits.
        signing_key: when given, commits are signed with this OpenPGP key.
        workdir: where the working tree lives (kept between calls, so later checkouts only fetch what is new);
            a temporary directory by default.
        force_push: push with ``+`` (overwrite the remote branch) instead of rebasing on a race.
        max_retries: how many times a rejected push is rebased and retried before
            :class:`PushRejectedError`.
        progress: called with :class:`FetchProgress` during fetches.

    Example::

        writer = GitWriter("ssh://git@host/fleet.git", branch="main", auth=auth)
        tree = await writer.checkout()
        (tree / "apps" / "web.yaml").write_text(updated)
        sha = await writer.commit_and_push("Update web to 1.2.3")  # None when nothing changed
    """

    def __init__(
        self,
        url: str,
        *,
        branch: str,
        push_branch: str | None = None,
        auth: GitAuth | None = None,
        author: CommitAuthor = CommitAuthor("reconcilekit", "reconcilekit@localhost"),  # frozen value
        signing_key: SigningKey | None = None,
        workdir: Path | None = None,
        force_push: bool = False,
        max_retries: int = 5,
        progress: ProgressCallback | None = None,
    ) -> None:
        if not branch:
            raise ConfigurationError("GitWriter needs a branch to check out")
        if max_retries < 0:
            raise ConfigurationError(f"GitWriter max_retries must be >= 0, got {max_retries}")
        ensure_timeouts()
        self.url = url
        self.branch = branch
        self.push_branch = push_branch or branch
        self.auth = auth
        self.author = author
        self.signing_key = signing_key
        self.force_push = force_push
        self.max_retries = max_retries
        self.progress = progress
        self._owns_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="rk-gitwriter-"))
        )
        self._repo: pygit2.Repository | None = None

    async def checkout(self) -> Path:
        """Return the working tree, reset to the remote head of ``branch`` (cloned on first use).

        Local edits and untracked files from an earlier round are discarded.
        """
        return await anyio.to_thread.run_sync(self._checkout)

    async def commit_and_push(self, message: str) -> str | None:
        """Commit every change in the working tree and push it; return the pushed commit's SHA.

        Returns ``None`` when the tree has no changes (nothing is committed or pushed). When the push is
        rejected because the remote branch moved, the change is replayed onto the new remote head (files this
        commit changed take this commit's content) and pushed again.
        """
        return await anyio.to_thread.run_sync(self._commit_and_push, message)

    def close(self) -> None:
        """Remove the working tree if the writer created it (a given ``workdir`` is kept for reuse)."""
        self._repo = None
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def aclose(self) -> None:
        """Async form of :meth:`close`."""
        await anyio.to_thread.run_sync(self.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- blocking parts, run in a worker thread -------------------------------------------------------

    def _open(self) -> pygit2.Repository:
        if self._repo is not None:
            return self._repo
        if (self.workdir / ".git").exists():
            repo = pygit2.Repository(str(self.workdir))
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
            repo = pygit2.init_repository(str(self.workdir), bare=False)
        if "origin" in list(repo.remotes.names()):
            repo.remotes.set_url("origin", self.url)
        else:
            repo.remotes.create("origin", self.url, "+refs/heads/*:refs/remotes/origin/*")
        self._repo = repo
        return repo

    def _fetch(self, repo: pygit2.Repository, branches: list[str]) -> None:
        specs = [f"+refs/heads/{b}:{_tracking(b)}" for b in dict.fromkeys(branches)]
        cb = callbacks_for(self.url, self.auth, self.progress)
        with map_errors(self.url, "fetch"), ssh_session(self.url, self.auth):
            # Refspecs for missing branches are skipped by libgit2, so a missing push branch is fine here.
            repo.remotes["origin"].fetch(specs, callbacks=cb, prune=pygit2.enums.FetchPrune.PRUNE)

    def _remote_head(self, repo: pygit2.Repository, branch: str) -> pygit2.Commit | None:
        ref = repo.references.get(_tracking(branch))
        if ref is None:
            return None
        return repo[ref.target].peel(pygit2.Commit)

    def _checkout(self) -> Path:
        repo = self._open()
        self._fetch(repo, [self.branch, self.push_branch])
        head = self._remote_head(repo, self.branch)
        if head is None:
            raise RefNotFoundError(self.url, f"branch {self.branch!r}")
        self._reset_to(repo, head)
        return self.workdir

    def _reset_to(self, repo: pygit2.Repository, commit: pygit2.Commit) -> None:
        repo.references.create(_LOCAL, commit.id, force=True)
        repo.set_head(_LOCAL)
        repo.reset(commit.id, ResetMode.HARD)
        # A hard reset keeps untracked files; remove them so each round starts from the remote tree.
        for path, status in repo.status().items():
            if status & FileStatus.WT_NEW:
                target = self.workdir / path
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)

    def _signature(self) -> pygit2.Signature:
        return pygit2.Signature(self.author.name, self.author.email, int(time.time()), 0)

    def _make_commit(
        self, repo: pygit2.Repository, tree: pygit2.Oid, parent: pygit2.Commit, message: str
    ) -> pygit2.Oid:
        sig = self._signature()
        if self.signing_key is None:
            oid: pygit2.Oid = repo.create_commit(None, sig, sig, message, tree, [parent.id])
            return oid
        buffer = str(repo.create_commit_string(sig, sig, message, tree, [parent.id]))
        signature = sign_commit(buffer, self.signing_key)
        signed: pygit2.Oid = repo.create_commit_with_signature(buffer, signature, "gpgsig")
        return signed

    def _commit_and_push(self, message: str) -> str | None:
        repo = self._open()
        if repo.head_is_unborn:
            raise ConfigurationError("GitWriter.commit_and_push called before checkout()")
        base = repo.head.peel(pygit2.Commit)
        index = repo.index
        index.add_all()
        index.write()
        tree = index.write_tree()
        if tree == base.tree_id:
            return None
        commit_id = self._make_commit(repo, tree, base, message)
        commit = repo[commit_id].peel(pygit2.Commit)
        self._reset_to(repo, commit)

        for attempt in range(self.max_retries + 1):
            reason = self._push(repo, commit.id)
            if reason is None:
                return str(commit.id)
            if attempt == self.max_retries:
                raise PushRejectedError(self.url, self.push_branch, f"{reason} (after {attempt} rebases)")
            rebased = self._rebase(repo, base, commit, message)
            if rebased is None:
                # The remote already holds exactly these contents: nothing left to push.
                return None
            base, commit = rebased
        raise AssertionError("unreachable")  # pragma: no cover

    def _push(self, repo: pygit2.Repository, oid: pygit2.Oid) -> str | None:
        cb = callbacks_for(self.url, self.auth, self.progress)
        plus = "+" if self.force_push else ""
        target = f"refs/heads/{self.push_branch}"
        try:
            with map_errors(self.url, "push"), ssh_session(self.url, self.auth):
                repo.remotes["origin"].push([f"{plus}{_LOCAL}:{target}"], callbacks=cb)
        except Exception as exc:
            text = str(exc).lower()
            # libgit2 refuses locally when the remote has commits we lack; servers say non-fast-forward.
            if any(s in text for s in ("fast-forward", "fastforward", "rejected", "not present locally")):
                return str(exc)
            raise
        if target in cb.push_errors:
            return cb.push_errors[target]
        repo.references.create(_tracking(self.push_branch), oid, force=True)
        return None

    def _rebase(
        self, repo: pygit2.Repository, base: pygit2.Commit, commit: pygit2.Commit, message: str
    ) -> tuple[pygit2.Commit, pygit2.Commit] | None:
        """Replay ``commit`` (relative to ``base``) onto the new remote head of the push branch."""
        self._fetch(repo, [self.push_branch])
        onto = self._remote_head(repo, self.push_branch)
        if onto is None:
            raise RefNotFoundError(self.url, f"branch {self.push_branch!r}")
        # Image automation rewrites whole files from the policy's view, so the files this commit touched take
        # this commit's content; everything else comes from the new remote head. No conflicts are possible.
        index = pygit2.Index()
        index.read_tree(onto.tree)
        diff = base.tree.diff_to_tree(commit.tree)
        for delta in diff.deltas:
            path = delta.new_file.path
            if delta.status == pygit2.enums.DeltaStatus.DELETED:
                if path in index:
                    index.remove(path)
            else:
                if delta.old_file.path != path and delta.old_file.path in index:
                    index.remove(delta.old_file.path)
                index.add(pygit2.IndexEntry(path, delta.new_file.id, delta.new_file.mode))
        tree = index.write_tree(repo)
        if tree == onto.tree_id:
            self._reset_to(repo, onto)
            return None
        new_id = self._make_commit(repo, tree, onto, message)
        new = repo[new_id].peel(pygit2.Commit)
        self._reset_to(repo, new)
        return onto, new
