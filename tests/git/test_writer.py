"""GitWriter against git daemon and file://: commit, push, push branches, rebase on races, signing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcilekit.git import CommitAuthor, GitSource, GitVerify, GitWriter, RefNotFoundError, SigningKey
from reconcilekit.testing._fixtures_git import GitDaemon, GitRepoFactory, run_git

pytestmark = pytest.mark.anyio


def show(repo_bare: Path, rev: str, env: dict[str, str]) -> str:
    return run_git("--git-dir", str(repo_bare), "show", rev, env=env)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("transport", ["git", "file"])
async def test_checkout_commit_push(
    transport: str, git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"app.yaml": "image: web:1.0\n", "keep.txt": "k\n"})
    url = git_daemon.url(repo.name) if transport == "git" else f"file://{repo.bare}"
    writer = GitWriter(
        url, branch="main", author=CommitAuthor("Bot", "bot@example.test"), workdir=tmp_path / "w"
    )
    tree = await writer.checkout()
    assert (tree / "app.yaml").read_text() == "image: web:1.0\n"
    assert await writer.commit_and_push("nothing") is None

    (tree / "app.yaml").write_text("image: web:1.1\n")
    (tree / "new.yaml").write_text("n\n")
    (tree / "keep.txt").unlink()
    sha = await writer.commit_and_push("Update web to 1.1")
    assert sha == repo.head()
    log = run_git("--git-dir", str(repo.bare), "log", "-1", "--format=%an <%ae>|%s", env=repo.env).strip()
    assert log == "Bot <bot@example.test>|Update web to 1.1"
    assert show(repo.bare, "main:app.yaml", repo.env) == "image: web:1.1\n"
    files = run_git("--git-dir", str(repo.bare), "ls-tree", "--name-only", "main", env=repo.env).split()
    assert files == ["app.yaml", "new.yaml"]

    # checkout() discards local edits and untracked files.
    (tree / "app.yaml").write_text("dirty\n")
    (tree / "junk").write_text("j\n")
    tree = await writer.checkout()
    assert (tree / "app.yaml").read_text() == "image: web:1.1\n"
    assert not (tree / "junk").exists()


async def test_push_branch_created_and_races_rebased(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": "tag: 1.0\n", "b.yaml": "tag: 1.0\n"})
    url = git_daemon.url(repo.name)
    writer = GitWriter(url, branch="main", push_branch="auto", workdir=tmp_path / "w")
    tree = await writer.checkout()
    (tree / "a.yaml").write_text("tag: 1.1\n")
    first = await writer.commit_and_push("a to 1.1")
    assert first == repo.head("auto")
    assert show(repo.bare, "main:a.yaml", repo.env) == "tag: 1.0\n"  # branch untouched

    # Someone else moves `auto` meanwhile (touching b and a); our next change is replayed on top.
    repo.git("fetch", "-q", "origin")
    repo.git("checkout", "-q", "-b", "auto", "origin/auto")
    repo.commit({"b.yaml": "tag: 2.0\n", "a.yaml": "tag: 9.9\n"}, "human edit")
    human = repo.head("auto")
    tree = await writer.checkout()  # the head of main again
    (tree / "a.yaml").write_text("tag: 1.2\n")
    second = await writer.commit_and_push("a to 1.2")
    assert second is not None
    parents = run_git("--git-dir", str(repo.bare), "log", "-1", "--format=%P", "auto", env=repo.env).strip()
    assert parents == human  # fast-forward on top of the other change: no history rewritten
    assert show(repo.bare, "auto:a.yaml", repo.env) == "tag: 1.2\n"  # our file wins
    assert show(repo.bare, "auto:b.yaml", repo.env) == "tag: 2.0\n"  # their change kept

    # A change the remote already has: nothing to push.
    tree = await writer.checkout()
    (tree / "a.yaml").write_text("tag: 1.2\n")
    (tree / "b.yaml").write_text("tag: 2.0\n")
    assert await writer.commit_and_push("same again") is None


async def test_race_on_same_branch_and_force_push(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": "1\n", "b.yaml": "1\n"})
    url = git_daemon.url(repo.name)
    writer = GitWriter(url, branch="main", workdir=tmp_path / "w")
    tree = await writer.checkout()
    other = repo.commit({"b.yaml": "2\n"}, "concurrent")  # lands after our checkout
    (tree / "a.yaml").write_text("ours\n")
    sha = await writer.commit_and_push("ours")
    assert sha == repo.head()
    assert run_git("--git-dir", str(repo.bare), "rev-parse", f"{sha}^", env=repo.env).strip() == other

    forcing = GitWriter(url, branch="main", workdir=tmp_path / "f", force_push=True)
    tree = await forcing.checkout()
    repo.git("fetch", "-q", "origin")
    repo.git("reset", "-q", "--hard", "origin/main")
    repo.commit({"b.yaml": "3\n"}, "lost by force")
    (tree / "a.yaml").write_text("forced\n")
    forced = await forcing.commit_and_push("force")
    assert forced == repo.head()
    assert show(repo.bare, "main:b.yaml", repo.env) == "2\n"  # the racing commit was overwritten, as asked


async def test_missing_branch(git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path) -> None:
    repo = git_repos.create(files={"a": "a\n"})
    writer = GitWriter(git_daemon.url(repo.name), branch="nope", workdir=tmp_path / "w")
    with pytest.raises(RefNotFoundError, match="nope"):
        await writer.checkout()


async def test_signed_commits_verify(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    fpr, public = git_repos.gpg_key("Bot <bot@example.test>")
    secret = git_repos.gpg_secret(fpr)
    repo = git_repos.create(files={"a": "a\n"})
    url = git_daemon.url(repo.name)
    writer = GitWriter(url, branch="main", signing_key=SigningKey(secret), workdir=tmp_path / "w")
    tree = await writer.checkout()
    (tree / "a").write_text("b\n")
    sha = await writer.commit_and_push("signed by the bot")
    artifact = await GitSource(url, verify=GitVerify(pgp_keys=[public]), cache_dir=tmp_path / "c").fetch()
    assert artifact.revision == f"main@sha1:{sha}"
    assert fpr in artifact.metadata["verified.commit"]
    assert repr(SigningKey(secret)) == "SigningKey(<secret>)"


async def test_writer_as_context_manager_removes_its_temporary_workdir(
    git_daemon: GitDaemon, git_repos: GitRepoFactory
) -> None:
    repo = git_repos.create(files={"a": "a\n"})
    async with GitWriter(git_daemon.url(repo.name), branch="main") as writer:
        tree = await writer.checkout()
        assert (tree / "a").exists()
    assert not tree.exists()
