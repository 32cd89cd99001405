"""GitSource against a real git daemon: refs, revisions, snapshots, ignore rules, no-op polls, bad input."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest

from reconcilekit import Artifact, ReconcileKitError, Source, TemporaryError, TerminalError
from reconcilekit.git import (
    CorruptRepositoryError,
    FetchProgress,
    GitSource,
    GitUnreachableError,
    LimitExceededError,
    NoMatchingTagError,
    RefNotFoundError,
    RepositoryNotFoundError,
    UnsafeContentError,
)
from reconcilekit.testing._fixtures_git import GitDaemon, GitRepoFactory, run_git

pytestmark = pytest.mark.anyio

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"


def files_in(path: Path) -> dict[str, str]:
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file() or p.is_symlink():
            out[p.relative_to(path).as_posix()] = (
                "->" + os.readlink(p) if p.is_symlink() else p.read_bytes().decode(errors="replace")
            )
    return out


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_branch_fetch_gives_flux_revision_and_snapshot(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"deploy/app.yaml": MANIFEST, "README.md": "hi\n"})
    source = GitSource(git_daemon.url(repo.name), branch="main", cache_dir=tmp_path / "c")
    assert isinstance(source, Source)
    artifact = await source.fetch()
    assert artifact.revision == f"main@sha1:{repo.head()}"
    assert artifact.digest.startswith("sha256:")
    assert len(artifact.digest) == 71
    assert files_in(artifact.path) == {"deploy/app.yaml": MANIFEST, "README.md": "hi\n"}
    assert not (artifact.path / ".git").exists()
    mode = (artifact.path / "README.md").stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert artifact.metadata["commit"] == repo.head()


async def test_no_change_poll_returns_same_artifact_without_transfer(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    reports: list[FetchProgress] = []
    source = GitSource(
        git_daemon.url(repo.name), branch="main", cache_dir=tmp_path / "c", progress=reports.append
    )
    first = await source.fetch()
    assert reports, "the first clone reports progress"
    # Shallow: only the tip commit is held.
    assert (tmp_path / "c" / "repo.git" / "shallow").read_text().strip() == repo.head()
    reports.clear()
    second = await source.fetch()
    assert second is first
    assert reports == []  # nothing was fetched
    # A new commit is fetched incrementally and snapshotted anew; the old snapshot stays (may be in use).
    sha = repo.commit({"b.yaml": MANIFEST}, "add b")
    third = await source.fetch()
    assert third.revision == f"main@sha1:{sha}"
    assert third.digest != first.digest
    assert files_in(third.path).keys() == {"a.yaml", "b.yaml"}
    assert first.path.exists()
    assert reports
    assert reports[-1].received_objects <= 3


async def test_same_tree_same_digest_anywhere(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    files = {"x/y.yaml": MANIFEST, "z.txt": "z\n", "x/a b.txt": "space\n"}
    one = git_repos.create(files=files)
    two = git_repos.create(files=dict(reversed(list(files.items()))))
    a = await GitSource(git_daemon.url(one.name), cache_dir=tmp_path / "1").fetch()
    b = await GitSource(git_daemon.url(two.name), cache_dir=tmp_path / "2").fetch()
    assert a.digest == b.digest
    assert a.revision != b.revision or one.head() == two.head()
    one.commit({"z.txt": "changed\n"})
    c = await GitSource(git_daemon.url(one.name), cache_dir=tmp_path / "3").fetch()
    assert c.digest != a.digest


async def test_tags_semver_commit_and_ref_name(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"v.txt": "1.0.0\n"})
    c1 = repo.head()
    repo.tag("v1.0.0", message="release 1.0.0")
    repo.commit({"v.txt": "1.1.0\n"})
    c2 = repo.head()
    repo.tag("v1.1.0")  # lightweight
    repo.commit({"v.txt": "2.0.0-rc.1\n"})
    repo.tag("v2.0.0-rc.1", message="rc")
    repo.commit({"v.txt": "head\n"})
    url = git_daemon.url(repo.name)

    tag = await GitSource(url, tag="v1.0.0", cache_dir=tmp_path / "t").fetch()
    assert tag.revision == f"v1.0.0@sha1:{c1}"  # the commit, not the annotated tag object
    assert (tag.path / "v.txt").read_text() == "1.0.0\n"

    sem = await GitSource(url, semver="^1.0", cache_dir=tmp_path / "s").fetch()
    assert sem.revision == f"v1.1.0@sha1:{c2}"
    pre = await GitSource(url, semver=">=2.0.0-0", cache_dir=tmp_path / "p").fetch()
    assert pre.revision.startswith("v2.0.0-rc.1@sha1:")

    bare = await GitSource(url, commit=c1, cache_dir=tmp_path / "c").fetch()
    assert bare.revision == f"sha1:{c1}"
    on_branch = await GitSource(url, branch="main", commit=c2, cache_dir=tmp_path / "cb").fetch()
    assert on_branch.revision == f"main@sha1:{c2}"
    # Precedence as Flux: commit > ref_name > semver > tag > branch.
    both = await GitSource(url, tag="v1.0.0", semver="^1.0", cache_dir=tmp_path / "st").fetch()
    assert both.revision == sem.revision
    ref = await GitSource(url, ref_name="refs/tags/v1.0.0", cache_dir=tmp_path / "r").fetch()
    assert ref.revision == f"refs/tags/v1.0.0@sha1:{c1}"

    # A moved tag is picked up even when only the tag object changes.
    repo.git("tag", "-f", "-a", "-m", "moved", "v1.0.0", c2)
    repo.git("push", "-q", "-f", "origin", "refs/tags/v1.0.0")
    tag_source = GitSource(url, tag="v1.0.0", cache_dir=tmp_path / "t")
    assert (await tag_source.fetch()).revision == f"v1.0.0@sha1:{c2}"


async def test_default_branch_follows_remote_head(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(branch="trunk", files={"a": "a\n"})
    artifact = await GitSource(git_daemon.url(repo.name), cache_dir=tmp_path / "c").fetch()
    assert artifact.revision == f"trunk@sha1:{repo.head('trunk')}"


async def test_path_subtree_and_ignore_rules(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(
        files={
            ".sourceignore": "*.secret\n/top-only.yaml\n",
            "top-only.yaml": "x\n",
            "app/top-only.yaml": "kept: not at the root\n",
            "app/.sourceignore": "drafts/\n!keep.secret\n",
            "app/a.yaml": MANIFEST,
            "app/b.secret": "s\n",
            "app/keep.secret": "k\n",
            "app/drafts/d.yaml": "d\n",
            "app/logo.png": b"\x89PNG",
            "app/.sops.yaml": "sops\n",
            ".github/workflows/ci.yaml": "ci\n",
            ".gitignore": "x\n",
            "other/c.yaml": MANIFEST,
            "other/c.bak": "bak\n",
        }
    )
    url = git_daemon.url(repo.name)
    full = await GitSource(url, ignore="*.bak\n", cache_dir=tmp_path / "f").fetch()
    assert set(files_in(full.path)) == {
        ".sourceignore",
        "app/.sourceignore",
        "app/a.yaml",
        "app/keep.secret",
        "app/top-only.yaml",
        "other/c.yaml",
    }
    sub = await GitSource(url, path="app", ignore="!logo.png\n", cache_dir=tmp_path / "s").fetch()
    # .sourceignore files of the parents still apply; the ignore argument is relative to the snapshot root.
    assert set(files_in(sub.path)) == {".sourceignore", "a.yaml", "keep.secret", "top-only.yaml", "logo.png"}
    with pytest.raises(RefNotFoundError, match="nope"):
        await GitSource(url, path="nope", cache_dir=tmp_path / "n").fetch()


async def test_symlinks_inside_kept_outside_rejected(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"real.yaml": MANIFEST})
    repo.commit({}, "links", symlinks={"alias.yaml": "real.yaml", "sub/up.yaml": "../real.yaml"})
    source = GitSource(git_daemon.url(repo.name), cache_dir=tmp_path / "c")
    good = await source.fetch()
    assert (good.path / "alias.yaml").read_text() == MANIFEST
    assert (good.path / "sub/up.yaml").read_text() == MANIFEST

    repo.commit({}, "escape", symlinks={"passwd": "/etc/passwd"})
    with pytest.raises(UnsafeContentError, match="outside the snapshot"):
        await source.fetch()
    assert source.artifact is good
    repo.commit({"passwd": None}, "fix")
    # A chain that only escapes when resolved for real: sub/d -> .. (inside), e -> sub/d/.. (outside).
    repo.commit({}, "chain", symlinks={"sub/d": "..", "e": "sub/d/.."})
    with pytest.raises(UnsafeContentError):
        await source.fetch()
    assert good.path.exists()
    assert (good.path / "real.yaml").read_text() == MANIFEST


async def test_limits(git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path) -> None:
    repo = git_repos.create(files={f"f{i}.yaml": MANIFEST for i in range(5)})
    url = git_daemon.url(repo.name)
    with pytest.raises(LimitExceededError, match="4 files"):
        await GitSource(url, max_files=4, cache_dir=tmp_path / "a").fetch()
    with pytest.raises(LimitExceededError, match="bytes") as info:
        await GitSource(url, max_bytes=100, cache_dir=tmp_path / "b").fetch()
    assert isinstance(info.value, TerminalError)
    ok = GitSource(url, max_files=6, cache_dir=tmp_path / "c")
    first = await ok.fetch()
    repo.commit({"big.yaml": "x" * 10})
    repo.commit({"f5.yaml": MANIFEST, "f6.yaml": MANIFEST})
    with pytest.raises(LimitExceededError):
        await ok.fetch()
    assert ok.artifact is first
    assert not [p for p in (tmp_path / "c" / "snapshots").iterdir() if p.name.startswith(".tmp-")]


async def test_bad_input_gives_typed_errors_and_keeps_last_artifact(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_daemon.url(repo.name)
    with pytest.raises(RefNotFoundError, match="branch 'nope'") as ref_err:
        await GitSource(url, branch="nope", cache_dir=tmp_path / "1").fetch()
    assert isinstance(ref_err.value, TerminalError)
    with pytest.raises(RefNotFoundError, match="tag 'v9'"):
        await GitSource(url, tag="v9", cache_dir=tmp_path / "2").fetch()
    repo.tag("v1.0.0")
    with pytest.raises(NoMatchingTagError, match=r">=2\.0") as tag_err:
        await GitSource(url, semver=">=2.0", cache_dir=tmp_path / "3").fetch()
    assert isinstance(tag_err.value, TerminalError)
    with pytest.raises(RefNotFoundError, match="commit"):
        await GitSource(url, commit="0" * 40, cache_dir=tmp_path / "4").fetch()
    with pytest.raises(ReconcileKitError):
        await GitSource(git_daemon.url("does-not-exist.git"), cache_dir=tmp_path / "5").fetch()
    with pytest.raises(RepositoryNotFoundError):
        await GitSource(f"file://{tmp_path}/missing.git", cache_dir=tmp_path / "6").fetch()

    # Unreachable remote: temporary, previous artifact intact and still returned by .artifact.
    source = GitSource(url, cache_dir=tmp_path / "7")
    good = await source.fetch()
    source.url = "git://127.0.0.1:1/gone.git"
    with pytest.raises(GitUnreachableError) as down:
        await source.fetch()
    assert isinstance(down.value, TemporaryError)
    assert source.artifact is good
    assert (good.path / "a.yaml").read_text() == MANIFEST


async def test_configuration_errors(tmp_path: Path) -> None:
    from reconcilekit import ConfigurationError, ValidationError

    with pytest.raises(ConfigurationError):
        GitSource("git://x/y", commit="abc")
    with pytest.raises(ValidationError):
        GitSource("git://x/y", semver="not a range")
    with pytest.raises(ConfigurationError):
        GitSource("git://x/y", ref_name="main")


async def test_local_path_and_file_url(git_repos: GitRepoFactory, tmp_path: Path) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    a = await GitSource(str(repo.bare), cache_dir=tmp_path / "1").fetch()
    b = await GitSource(f"file://{repo.bare}", cache_dir=tmp_path / "2").fetch()
    assert a.revision == b.revision == f"main@sha1:{repo.head()}"
    assert a.digest == b.digest
    assert isinstance(a, Artifact)


async def test_corrupt_server_pack_is_a_typed_error(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    source = GitSource(git_daemon.url(repo.name), cache_dir=tmp_path / "c")
    good = await source.fetch()
    repo.commit({f"n{i}.txt": f"payload {i} " * 200 for i in range(20)})
    run_git("--git-dir", str(repo.bare), "repack", "-adq", env=repo.env)
    pack = next((repo.bare / "objects" / "pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    for i in range(200, len(data) - 100, 97):
        data[i] ^= 0x5A
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    with pytest.raises(ReconcileKitError) as info:
        await source.fetch()
    # The server's upload-pack dies reading its corrupt pack: a temporary failure, retried later.
    assert isinstance(info.value, TemporaryError)
    assert source.artifact is good
    assert (good.path / "a.yaml").read_text() == MANIFEST


class CorruptingProxy:
    """A TCP proxy in front of git daemon that flips one byte of the server's stream (inside the pack)."""

    def __init__(self, upstream_port: int, flip_at: int) -> None:
        self.upstream_port = upstream_port
        self.flip_at = flip_at
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.conns += [client, upstream]
            for args in ((client, upstream, None), (upstream, client, self.flip_at)):
                t = threading.Thread(target=self._pump, args=args, daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, flip_at: int | None) -> None:
        seen = 0
        try:
            while data := src.recv(65536):
                if flip_at is not None and seen <= flip_at < seen + len(data):
                    buf = bytearray(data)
                    buf[flip_at - seen] ^= 0xFF
                    data = bytes(buf)
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self.threads:
            t.join(5)
        for conn in self.conns:
            conn.close()


async def test_corrupt_pack_in_transit_is_detected(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    proxy = CorruptingProxy(git_daemon.port, flip_at=20_000)
    try:
        url = f"git://127.0.0.1:{proxy.port}/{repo.name}"
        good = await GitSource(git_daemon.url(repo.name), cache_dir=tmp_path / "c").fetch()
        source = GitSource(url, cache_dir=tmp_path / "c", shallow=False)
        repo.commit({f"blob{i}.bin": os.urandom(4096) for i in range(20)}, "random payload")
        with pytest.raises(CorruptRepositoryError) as info:
            await source.fetch()
        assert isinstance(info.value, TemporaryError)
        # The cache was dropped; the snapshot of the earlier artifact is untouched.
        assert not (tmp_path / "c" / "repo.git").exists()
        assert (good.path / "a.yaml").read_text() == MANIFEST
        source.url = git_daemon.url(repo.name)
        assert (await source.fetch()).revision == f"main@sha1:{repo.head()}"
    finally:
        proxy.close()


async def test_silent_server_times_out(tmp_path: Path) -> None:
    import pygit2

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts (kernel backlog) and never answers
    previous = pygit2.settings.server_timeout
    pygit2.settings.server_timeout = 300
    try:
        source = GitSource(f"git://127.0.0.1:{listener.getsockname()[1]}/x.git", cache_dir=tmp_path / "c")
        with pytest.raises(GitUnreachableError):
            await source.fetch()
    finally:
        pygit2.settings.server_timeout = previous
        listener.close()


async def test_incremental_snapshots_equal_fresh_ones(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(
        files={
            **{f"d{d}/f{i}.yaml": f"{d}-{i}\n" for d in range(4) for i in range(5)},
            "d0/sub/deep.yaml": "deep\n",
            "tool.sh": "#!/bin/sh\n",
        }
    )
    repo.commit({}, "links", symlinks={"d1/link.yaml": "f0.yaml"}, executable=("tool.sh",))
    url = git_daemon.url(repo.name)
    source = GitSource(url, cache_dir=tmp_path / "inc")
    await source.fetch()
    steps: list[dict[str, str | bytes | None]] = [
        {"d0/f1.yaml": "changed\n"},
        {"d2/.sourceignore": "f3.yaml\n"},  # hides a file that the previous snapshot holds
        {"d0/sub/deep.yaml": None, "d3/new.yaml": "new\n"},
        {"d2/.sourceignore": None},
        {".sourceignore": "d1/\n"},
    ]
    for n, change in enumerate(steps):
        repo.commit(change, f"step {n}")
        inc = await source.fetch()
        fresh = await GitSource(url, cache_dir=tmp_path / f"fresh{n}").fetch()
        assert inc.revision == fresh.revision
        assert files_in(inc.path) == files_in(fresh.path)
        assert inc.digest == fresh.digest
        assert os.access(inc.path / "tool.sh", os.X_OK)


async def test_snapshot_rebuilt_when_previous_one_was_removed(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={f"d/f{i}.yaml": f"{i}\n" for i in range(5)})
    source = GitSource(git_daemon.url(repo.name), cache_dir=tmp_path / "c")
    first = await source.fetch()
    shutil.rmtree(first.path)  # e.g. a cache cleaner; the next snapshot cannot link from it
    repo.commit({"e.yaml": "e\n"})
    second = await source.fetch()
    assert files_in(second.path) == {**{f"d/f{i}.yaml": f"{i}\n" for i in range(5)}, "e.yaml": "e\n"}
