"""Signature verification with real gpg and ssh-keygen: HEAD, Tag, TagAndHEAD; OpenPGP and SSH."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcilekit import ConfigurationError, TerminalError
from reconcilekit.git import GitSource, GitVerify, VerificationError
from reconcilekit.testing._fixtures_git import GitDaemon, GitRepoFactory

pytestmark = pytest.mark.anyio


async def test_openpgp_signed_commit(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    fpr, public = git_repos.gpg_key()
    other_fpr, other_public = git_repos.gpg_key("Other <other@example.test>")
    repo = git_repos.create()
    repo.commit({"a.yaml": "a\n"}, "signed", sign=fpr)
    url = git_daemon.url(repo.name)
    source = GitSource(url, verify=GitVerify(mode="HEAD", pgp_keys=[public]), cache_dir=tmp_path / "c")
    good = await source.fetch()
    assert fpr in good.metadata["verified.commit"]

    # Signed by a key that is not trusted: rejected, content never materialized, old artifact kept.
    repo.commit({"a.yaml": "evil\n"}, "other key", sign=other_fpr)
    with pytest.raises(VerificationError, match="not trusted") as info:
        await source.fetch()
    assert isinstance(info.value, TerminalError)
    assert source.artifact is good
    snapshots = list((tmp_path / "c" / "snapshots").iterdir())
    assert [p for p in snapshots if not p.name.startswith(".")] == [good.path]
    # The same failing revision is not re-verified on every poll, and stays an error.
    with pytest.raises(VerificationError):
        await source.fetch()

    repo.commit({"a.yaml": "unsigned\n"}, "unsigned")
    with pytest.raises(VerificationError, match="not signed"):
        await source.fetch()
    trusting_both = GitSource(
        url, verify=GitVerify(pgp_keys=[public, other_public]), cache_dir=tmp_path / "d"
    )
    with pytest.raises(VerificationError):
        await trusting_both.fetch()
    repo.commit({"a.yaml": "b\n"}, "signed again", sign=other_fpr)
    assert (await trusting_both.fetch()).revision.endswith(repo.head())


async def test_signed_tags(git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path) -> None:
    fpr, public = git_repos.gpg_key()
    repo = git_repos.create(files={"a.yaml": "a\n"})
    repo.tag("v1.0.0", sign=fpr)
    repo.tag("v1.1.0", message="annotated, unsigned")
    url = git_daemon.url(repo.name)
    verify_tag = GitVerify(mode="Tag", pgp_keys=[public])
    ok = await GitSource(url, tag="v1.0.0", verify=verify_tag, cache_dir=tmp_path / "1").fetch()
    assert fpr in ok.metadata["verified.tag"]
    with pytest.raises(VerificationError, match="not signed"):
        await GitSource(url, tag="v1.1.0", verify=verify_tag, cache_dir=tmp_path / "2").fetch()
    with pytest.raises(VerificationError, match=r"v1\.1\.0"):
        await GitSource(url, semver="^1", verify=verify_tag, cache_dir=tmp_path / "3").fetch()
    # TagAndHEAD: the tagged commit is unsigned.
    with pytest.raises(VerificationError, match="commit"):
        await GitSource(
            url,
            tag="v1.0.0",
            verify=GitVerify(mode="TagAndHEAD", pgp_keys=[public]),
            cache_dir=tmp_path / "4",
        ).fetch()
    repo.commit({"a.yaml": "b\n"}, "signed commit", sign=fpr)
    repo.tag("v2.0.0", sign=fpr)
    both = await GitSource(
        url, tag="v2.0.0", verify=GitVerify(mode="TagAndHEAD", pgp_keys=[public]), cache_dir=tmp_path / "5"
    ).fetch()
    assert {"verified.tag", "verified.commit"} <= set(both.metadata)
    repo.tag("v3.0.0")  # lightweight
    with pytest.raises(VerificationError, match="lightweight"):
        await GitSource(url, tag="v3.0.0", verify=verify_tag, cache_dir=tmp_path / "6").fetch()
    with pytest.raises(ConfigurationError):
        GitSource(url, branch="main", verify=verify_tag)


async def test_ssh_signed_commits(git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path) -> None:
    key, public = git_repos.ssh_key("signer")
    other_key, _ = git_repos.ssh_key("other")
    repo = git_repos.create()
    repo.commit({"a.yaml": "a\n"}, "ssh signed", ssh_sign_key=key)
    url = git_daemon.url(repo.name)
    source = GitSource(url, verify=GitVerify(ssh_keys=[public]), cache_dir=tmp_path / "c")
    good = await source.fetch()
    assert "verified.commit" in good.metadata
    repo.commit({"a.yaml": "b\n"}, "wrong key", ssh_sign_key=other_key)
    with pytest.raises(VerificationError):
        await source.fetch()
    assert source.artifact is good
    # An SSH signature is not accepted when only OpenPGP keys are trusted.
    _, pgp = git_repos.gpg_key()
    with pytest.raises(VerificationError, match="SSH"):
        await GitSource(url, verify=GitVerify(pgp_keys=[pgp]), cache_dir=tmp_path / "d").fetch()
