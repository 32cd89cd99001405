"""GitSource and GitWriter over smart HTTP(S) (basic, bearer, custom CA) and SSH (key + known_hosts)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reconcilekit import ConfigurationError, TerminalError
from reconcilekit.git import AuthenticationError, GitAuth, GitSource, GitWriter
from reconcilekit.testing._fixtures_git import GitHttpServer, GitRepoFactory, GitSshServer

pytestmark = pytest.mark.anyio

MANIFEST = "kind: ConfigMap\n"


async def test_http_basic_auth(
    git_http_server: GitHttpServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_http_server.url(repo.name)
    auth = GitAuth(username=git_http_server.username, password=git_http_server.password)
    source = GitSource(url, auth=auth, cache_dir=tmp_path / "c")
    first = await source.fetch()
    assert first.revision == f"main@sha1:{repo.head()}"
    assert await source.fetch() is first
    repo.commit({"b.yaml": MANIFEST})
    assert (await source.fetch()).revision == f"main@sha1:{repo.head()}"


async def test_http_bearer_token_and_push(
    git_http_server: GitHttpServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_http_server.url(repo.name)
    auth = GitAuth(bearer_token=git_http_server.token)
    artifact = await GitSource(url, auth=auth, cache_dir=tmp_path / "c").fetch()
    assert artifact.revision.endswith(repo.head())
    writer = GitWriter(url, branch="main", auth=auth, workdir=tmp_path / "w")
    tree = await writer.checkout()
    (tree / "a.yaml").write_text("kind: Secret\n")
    sha = await writer.commit_and_push("over http")
    assert sha == repo.head()


async def test_http_bad_credentials_are_terminal_and_redacted(
    git_http_server: GitHttpServer,
    git_repos: GitRepoFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_http_server.url(repo.name)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as bad:
        await GitSource(
            url, auth=GitAuth(username="gituser", password="wrong-pw"), cache_dir=tmp_path / "1"
        ).fetch()
    assert isinstance(bad.value, TerminalError)
    with pytest.raises(AuthenticationError):
        await GitSource(url, cache_dir=tmp_path / "2").fetch()
    with pytest.raises(AuthenticationError):
        await GitSource(url, auth=GitAuth(bearer_token="nope"), cache_dir=tmp_path / "3").fetch()
    # Credentials inline in the URL never show up in errors or logs.
    inline = url.replace("http://", "http://gituser:topsecret-inline@")
    with pytest.raises(AuthenticationError) as info:
        await GitSource(inline, cache_dir=tmp_path / "4").fetch()
    assert "topsecret-inline" not in str(info.value)
    assert "***@" in str(info.value)
    assert "topsecret-inline" not in caplog.text
    # Correct credentials inline in the URL work (and stay out of revisions and metadata).
    good_inline = url.replace("http://", f"http://gituser:{git_http_server.password}@")
    artifact = await GitSource(good_inline, cache_dir=tmp_path / "5").fetch()
    assert git_http_server.password not in repr(artifact)
    assert "wrong-pw" not in caplog.text
    assert "wrong-pw" not in repr(GitAuth(username="u", password="wrong-pw"))


async def test_https_with_custom_ca(
    git_https_server: GitHttpServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_https_server.url(repo.name)
    creds = {"username": git_https_server.username, "password": git_https_server.password}
    with pytest.raises(AuthenticationError, match=r"certificate|verif"):
        await GitSource(url, auth=GitAuth(**creds), cache_dir=tmp_path / "1").fetch()
    auth = GitAuth(**creds, ca_file=git_https_server.ca_file)
    artifact = await GitSource(url, auth=auth, cache_dir=tmp_path / "2").fetch()
    assert artifact.revision == f"main@sha1:{repo.head()}"


async def test_ssh_key_and_known_hosts(
    git_ssh_server: GitSshServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_ssh_server.url(repo.name)
    auth = GitAuth(ssh_key=git_ssh_server.client_key, known_hosts=git_ssh_server.known_hosts)
    source = GitSource(url, auth=auth, cache_dir=tmp_path / "c")
    first = await source.fetch()
    assert first.revision == f"main@sha1:{repo.head()}"
    assert await source.fetch() is first
    # The key may also be given as text.
    text_auth = GitAuth(ssh_key=git_ssh_server.client_key.read_text(), known_hosts=git_ssh_server.known_hosts)
    again = await GitSource(url, auth=text_auth, cache_dir=tmp_path / "t").fetch()
    assert again.digest == first.digest
    # Write-back over SSH.
    writer = GitWriter(url, branch="main", auth=auth, workdir=tmp_path / "w")
    tree = await writer.checkout()
    (tree / "b.yaml").write_text(MANIFEST)
    assert await writer.commit_and_push("over ssh") == repo.head()


async def test_ssh_rejects_unknown_host_and_wrong_key(
    git_ssh_server: GitSshServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    repo = git_repos.create(files={"a.yaml": MANIFEST})
    url = git_ssh_server.url(repo.name)
    other_host = git_ssh_server.known_hosts.split()[0] + " " + git_ssh_server.other_public_key
    with pytest.raises(AuthenticationError):
        await GitSource(
            url,
            auth=GitAuth(ssh_key=git_ssh_server.client_key, known_hosts=other_host),
            cache_dir=tmp_path / "1",
        ).fetch()
    with pytest.raises(AuthenticationError):
        await GitSource(
            url,
            auth=GitAuth(ssh_key=git_ssh_server.other_key, known_hosts=git_ssh_server.known_hosts),
            cache_dir=tmp_path / "2",
        ).fetch()
    with pytest.raises(ConfigurationError, match="known_hosts"):
        await GitSource(
            url, auth=GitAuth(ssh_key=git_ssh_server.client_key), cache_dir=tmp_path / "3"
        ).fetch()
