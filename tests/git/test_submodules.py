"""GitSource(recurse_submodules=True) against real git daemon, smart HTTP and local repositories."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from reconcilekit import TemporaryError, TerminalError, redact_url
from reconcilekit.git import (
    AuthenticationError,
    GitAuth,
    GitSource,
    GitUnreachableError,
    LimitExceededError,
    RefNotFoundError,
    SubmoduleError,
    UnsafeContentError,
)
from reconcilekit.git._submodules import (
    SubmoduleFetcher,
    auth_for,
    parse_gitmodules,
    resolve_submodule_url,
)
from reconcilekit.testing._fixtures_git import (
    GitDaemon,
    GitHttpServer,
    GitRepoFactory,
    GitSshServer,
    WorkRepo,
)

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


def gitmodules(modules: Mapping[str, str]) -> str:
    """A .gitmodules text with one section per ``path: url``."""
    return "".join(f'[submodule "{p}"]\n\tpath = {p}\n\turl = {u}\n' for p, u in modules.items())


def pin(
    repo: WorkRepo,
    links: Mapping[str, str],
    *,
    modules: str | None = None,
    files: Mapping[str, str] | None = None,
    message: str = "pin submodules",
) -> str:
    """Commit gitlinks (``path: commit``), ``.gitmodules`` text and files, push; return the commit.

    Gitlinks go straight into the index (no clone of the submodule needed), so any URL can be written.
    """
    for rel, content in (files or {}).items():
        target = repo.work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        repo.git("add", rel)
    if modules is not None:
        (repo.work / ".gitmodules").write_text(modules)
        repo.git("add", ".gitmodules")
    for path, sha in links.items():
        repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")
    repo.git("commit", "-q", "-m", message)
    repo.git("push", "-q", "origin", "HEAD")
    return repo.git("rev-parse", "HEAD").strip()


def fetcher(source: GitSource) -> SubmoduleFetcher:
    found = source._submodules
    assert found is not None
    return found


async def test_git_daemon_nested_and_relative_submodules(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    deep = git_repos.create(files={"deep.yaml": MANIFEST, ".sourceignore": "*.md\n", "notes.md": "x\n"})
    lib = git_repos.create(files={"lib.yaml": "lib: 1\n", ".github/ci.yml": "x\n"})
    # The nested submodule uses a relative URL, resolved against lib's own URL.
    lib_sha = pin(lib, {"deep": deep.head()}, modules=gitmodules({"deep": f"../{deep.name}"}))
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    sup_sha = pin(
        sup,
        {"vendor/lib": lib_sha},
        modules=gitmodules({"vendor/lib": git_daemon.url(lib.name)}),
    )
    url = git_daemon.url(sup.name)
    source = GitSource(url, branch="main", recurse_submodules=True, cache_dir=tmp_path / "a")
    artifact = await source.fetch()
    assert artifact.revision == f"main@sha1:{sup_sha}"
    # Ignore rules hold inside submodules: defaults (.github/, .gitmodules) and their .sourceignore files.
    assert files_in(artifact.path) == {
        "app.yaml": MANIFEST,
        "vendor/lib/lib.yaml": "lib: 1\n",
        "vendor/lib/deep/deep.yaml": MANIFEST,
        "vendor/lib/deep/.sourceignore": "*.md\n",
    }
    # Both submodule caches are shallow: only the pinned commits were fetched.
    caches = sorted((tmp_path / "a" / "submodules").iterdir())
    assert len(caches) == 2
    assert all((c / "shallow").exists() for c in caches)

    # Digest stability: a fresh cache elsewhere gives the same digest; default False leaves them out.
    again = await GitSource(url, recurse_submodules=True, cache_dir=tmp_path / "b").fetch()
    assert again.digest == artifact.digest
    plain = await GitSource(url, cache_dir=tmp_path / "c").fetch()
    assert plain.revision == artifact.revision
    assert plain.digest != artifact.digest
    assert files_in(plain.path) == {"app.yaml": MANIFEST}
    # As before: the gitlink itself is left out (its parent directory stays, like any emptied directory).
    assert not (plain.path / "vendor" / "lib").exists()

    # `path` may lead into a submodule.
    inner = await GitSource(
        url, path="vendor/lib/deep", recurse_submodules=True, cache_dir=tmp_path / "d"
    ).fetch()
    assert files_in(inner.path) == {"deep.yaml": MANIFEST, ".sourceignore": "*.md\n"}


async def test_no_op_poll_does_not_touch_submodules_and_pin_update_is_fetched(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "v: 1\n"})
    first_lib = lib.head()
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    modules = gitmodules({"lib": f"../{lib.name}"})
    pin(sup, {"lib": first_lib}, modules=modules)
    source = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c")
    first = await source.fetch()
    assert (first.path / "lib" / "lib.yaml").read_text() == "v: 1\n"
    assert len(fetcher(source).fetched) == 1

    # The submodule moves on, the superproject does not: nothing changes, no submodule remote is asked.
    lib.commit({"lib.yaml": "v: 2\n"})
    hidden = lib.bare.with_name(lib.bare.name + ".hidden")
    os.replace(lib.bare, hidden)
    try:
        assert await source.fetch() is first
    finally:
        os.replace(hidden, lib.bare)
    assert len(fetcher(source).fetched) == 1

    # A new pin gives a new revision with the new content, fetched incrementally into the same cache.
    sha = pin(sup, {"lib": lib.head()}, message="bump lib")
    second = await source.fetch()
    assert second.revision == f"main@sha1:{sha}"
    assert (second.path / "lib" / "lib.yaml").read_text() == "v: 2\n"
    assert second.digest != first.digest
    assert len(list((tmp_path / "c" / "submodules").iterdir())) == 1
    assert first.path.exists()  # the previous artifact stays until the next change
    # The incremental snapshot (reusing the previous one's files) equals a fresh one.
    fresh = await GitSource(
        git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "fresh"
    ).fetch()
    assert fresh.digest == second.digest
    assert files_in(fresh.path) == files_in(second.path)

    # Pinning back to an older commit (an ancestor of one held shallow) works too, from the cache.
    pin(sup, {"lib": first_lib}, message="roll back lib")
    third = await source.fetch()
    assert third.digest == first.digest
    assert len(fetcher(source).fetched) == 2  # the old commit was still in the cache


async def test_pinned_commit_not_at_a_tip_is_fetched(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "v: 1\n"})
    old = lib.head()
    lib.commit({"lib.yaml": "v: 2\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": old}, modules=gitmodules({"lib": git_daemon.url(lib.name)}))
    artifact = await GitSource(
        git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c"
    ).fetch()
    assert (artifact.path / "lib" / "lib.yaml").read_text() == "v: 1\n"


async def test_fetch_by_id_is_shallow_when_the_server_allows_it_and_full_fetch_unshallows(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "v: 1\n"})
    c1 = lib.head()
    c2 = lib.commit({"lib.yaml": "v: 2\n"})
    c3 = lib.commit({"lib.yaml": "v: 3\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": c3}, modules=gitmodules({"lib": f"../{lib.name}"}))
    source = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c")
    await source.fetch()
    (cache,) = (tmp_path / "c" / "submodules").iterdir()
    assert (cache / "shallow").read_text().split() == [c3]
    # c2 is an ancestor of the shallow c3 and no tip: this server does not serve unadvertised commits, so
    # every branch is fetched, unshallowed.
    pin(sup, {"lib": c2}, message="back to c2")
    assert ((await source.fetch()).path / "lib" / "lib.yaml").read_text() == "v: 2\n"
    assert not (cache / "shallow").exists()

    # A server that serves reachable commits by id: just that commit arrives, shallow.
    lib.git("--git-dir", str(lib.bare), "config", "uploadpack.allowReachableSHA1InWant", "true")
    other = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "o")
    pin(sup, {"lib": c1}, message="back to c1")
    assert ((await other.fetch()).path / "lib" / "lib.yaml").read_text() == "v: 1\n"
    (cache,) = (tmp_path / "o" / "submodules").iterdir()
    assert (cache / "shallow").read_text().split() == [c1]


async def test_local_superproject_with_file_and_path_submodules(
    git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    deep = git_repos.create(files={"deep.yaml": "d\n"})
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    lib_sha = pin(lib, {"deep": deep.head()}, modules=gitmodules({"deep": str(deep.bare)}))
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib_sha}, modules=gitmodules({"lib": f"file://{lib.bare}"}))
    want = {"app.yaml": MANIFEST, "lib/lib.yaml": "l\n", "lib/deep/deep.yaml": "d\n"}
    a = await GitSource(f"file://{sup.bare}", recurse_submodules=True, cache_dir=tmp_path / "1").fetch()
    b = await GitSource(str(sup.bare), recurse_submodules=True, cache_dir=tmp_path / "2").fetch()
    assert files_in(a.path) == files_in(b.path) == want
    assert a.digest == b.digest

    source = GitSource(str(sup.bare), recurse_submodules=True, cache_dir=tmp_path / "3")
    good = await source.fetch()
    pin(sup, {"lib": "0123456789abcdef0123456789abcdef01234567"}, message="missing")
    with pytest.raises(RefNotFoundError):
        await source.fetch()
    assert source.artifact is good


async def test_remote_superproject_refuses_local_submodule_urls(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    for bad in (f"file://{lib.bare}", str(lib.bare), "ext::sh -c touch% /tmp/pwned"):
        pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": bad}), message=bad)
        source = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c")
        with pytest.raises(SubmoduleError) as err:
            await source.fetch()
        assert isinstance(err.value, TerminalError)
        assert err.value.path == "lib"


async def test_path_traversal_in_gitmodules_is_rejected_and_previous_artifact_kept(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}))
    source = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c")
    good = await source.fetch()
    for modules in (
        '[submodule "x"]\n\tpath = ../../escape\n\turl = ../x.git\n',
        '[submodule "x"]\n\tpath = /etc\n\turl = ../x.git\n',
        '[submodule "../../modules/evil"]\n\tpath = lib\n\turl = ../x.git\n',
        '[submodule "x"]\n\tpath = lib\n\turl = --upload-pack=touch /tmp/pwned\n',
    ):
        pin(sup, {}, modules=modules + gitmodules({"lib": f"../{lib.name}"}), message="evil")
        with pytest.raises(UnsafeContentError) as err:
            await source.fetch()
        assert err.value.path == ".gitmodules"
        assert source.artifact is good
        assert (good.path / "lib" / "lib.yaml").read_text() == "l\n"


async def test_missing_commit_unreachable_and_unknown_gitlink_are_typed(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}))
    source = GitSource(git_daemon.url(sup.name), recurse_submodules=True, cache_dir=tmp_path / "c")
    good = await source.fetch()

    pin(sup, {"lib": "0123456789abcdef0123456789abcdef01234567"}, message="missing")
    with pytest.raises(RefNotFoundError) as missing:
        await source.fetch()
    assert isinstance(missing.value, TerminalError)
    assert "0123456789abcdef0123456789abcdef01234567" in str(missing.value)
    assert "'lib'" in str(missing.value)
    assert source.artifact is good

    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": "git://127.0.0.1:1/gone.git"}), message="down")
    with pytest.raises(GitUnreachableError) as down:
        await source.fetch()
    assert isinstance(down.value, TemporaryError)
    assert source.artifact is good

    pin(sup, {"other": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}), message="stray")
    with pytest.raises(SubmoduleError, match="no entry"):
        await source.fetch()
    assert source.artifact is good
    assert (good.path / "lib" / "lib.yaml").read_text() == "l\n"


async def test_update_none_and_ignore_rules_leave_submodules_out(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    modules = gitmodules({"a": f"../{lib.name}", "b": "git://127.0.0.1:1/never-asked.git"})
    modules += '[submodule "c"]\n\tpath = c\n\turl = git://127.0.0.1:1/never.git\n\tupdate = none\n'
    pin(sup, {"a": lib.head(), "b": lib.head(), "c": lib.head()}, modules=modules)
    artifact = await GitSource(
        git_daemon.url(sup.name), recurse_submodules=True, ignore="/b\n", cache_dir=tmp_path / "c"
    ).fetch()
    assert files_in(artifact.path) == {"app.yaml": MANIFEST, "a/lib.yaml": "l\n"}


async def test_limits_and_symlinks_apply_to_submodule_content(
    git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"1.yaml": "1\n", "2.yaml": "2\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}))
    url = git_daemon.url(sup.name)
    ok = await GitSource(url, recurse_submodules=True, max_files=3, cache_dir=tmp_path / "1").fetch()
    assert len(files_in(ok.path)) == 3
    with pytest.raises(LimitExceededError):
        await GitSource(url, recurse_submodules=True, max_files=2, cache_dir=tmp_path / "2").fetch()

    # A link inside the submodule to the superproject's files stays inside the snapshot: allowed.
    lib.commit({}, symlinks={"up.yaml": "../app.yaml"})
    pin(sup, {"lib": lib.head()}, message="link up")
    up = await GitSource(url, recurse_submodules=True, cache_dir=tmp_path / "3").fetch()
    assert (up.path / "lib" / "up.yaml").read_text() == MANIFEST
    # One that leaves the snapshot is refused, as anywhere else.
    lib.commit({}, symlinks={"out.yaml": "../../etc/passwd"})
    pin(sup, {"lib": lib.head()}, message="link out")
    with pytest.raises(UnsafeContentError) as err:
        await GitSource(url, recurse_submodules=True, cache_dir=tmp_path / "4").fetch()
    assert err.value.path == "lib/out.yaml"


async def test_nesting_is_bounded(git_daemon: GitDaemon, git_repos: GitRepoFactory, tmp_path: Path) -> None:
    # One repository whose every commit pins the previous one at "x": a chain nested as deep as it is long.
    chain = git_repos.create(files={"leaf.yaml": "leaf\n"})
    modules = gitmodules({"x": git_daemon.url(chain.name)})
    for i in range(9):
        pin(chain, {"x": chain.head()}, modules=modules, message=f"level {i}")
    source = GitSource(git_daemon.url(chain.name), recurse_submodules=True, cache_dir=tmp_path / "c")
    with pytest.raises(SubmoduleError, match="deeper than 8") as err:
        await source.fetch()
    assert err.value.path == "x/" * 8 + "x"
    # Eight levels are fine.
    chain.git("reset", "-q", "--hard", "HEAD~1")
    chain.git("push", "-q", "-f", "origin", "HEAD")
    artifact = await source.fetch()
    assert (artifact.path / ("x/" * 8) / "leaf.yaml").read_text() == "leaf\n"


async def test_http_submodule_uses_same_auth_and_redacts(
    git_http_server: GitHttpServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}))
    auth = GitAuth(username=git_http_server.username, password=git_http_server.password)
    source = GitSource(
        git_http_server.url(sup.name), auth=auth, recurse_submodules=True, cache_dir=tmp_path / "c"
    )
    good = await source.fetch()
    assert (good.path / "lib" / "lib.yaml").read_text() == "l\n"

    pin(sup, {"lib": "0123456789abcdef0123456789abcdef01234567"}, message="missing")
    with pytest.raises(RefNotFoundError) as err:
        await source.fetch()
    assert git_http_server.password not in str(err.value)

    # Credentials in the URL, inherited by the relative submodule URL, never reach error messages.
    user, password = git_http_server.username, git_http_server.password
    inline = f"http://{user}:{password}@127.0.0.1:{git_http_server.port}/{sup.name}"
    inline_source = GitSource(inline, recurse_submodules=True, cache_dir=tmp_path / "i")
    with pytest.raises(RefNotFoundError) as inline_err:
        await inline_source.fetch()
    assert git_http_server.password not in str(inline_err.value)
    assert git_http_server.password not in repr(inline_err.value)

    # A submodule on another origin does not get the password: the server asks, and none is given.
    other = git_http_server.url(lib.name).replace("127.0.0.1", "localhost")
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": other}), message="other origin")
    with pytest.raises(AuthenticationError) as refused:
        await source.fetch()
    assert git_http_server.password not in str(refused.value)


async def test_ssh_submodule_with_relative_url_uses_the_key(
    git_ssh_server: GitSshServer, git_repos: GitRepoFactory, tmp_path: Path
) -> None:
    lib = git_repos.create(files={"lib.yaml": "l\n"})
    sup = git_repos.create(files={"app.yaml": MANIFEST})
    pin(sup, {"lib": lib.head()}, modules=gitmodules({"lib": f"../{lib.name}"}))
    auth = GitAuth(ssh_key=git_ssh_server.client_key, known_hosts=git_ssh_server.known_hosts)
    source = GitSource(
        git_ssh_server.url(sup.name), auth=auth, recurse_submodules=True, cache_dir=tmp_path / "c"
    )
    artifact = await source.fetch()
    assert files_in(artifact.path) == {"app.yaml": MANIFEST, "lib/lib.yaml": "l\n"}
    assert list(fetcher(source).fetched) == [redact_url(git_ssh_server.url(lib.name))]


def test_resolve_submodule_url_as_git_does() -> None:
    cases = {
        ("git://h:9418/group/super.git", "../other.git"): "git://h:9418/group/other.git",
        ("git://h/group/super.git/", "../other.git"): "git://h/group/other.git",
        ("https://h/a/super.git", "./sub"): "https://h/a/super.git/sub",
        ("https://h/a/b/super", "../../c/x.git"): "https://h/a/c/x.git",
        ("git@h:org/super.git", "../lib.git"): "git@h:org/lib.git",
        ("git@h:super.git", "../lib.git"): "git@h:lib.git",
        ("ssh://git@h/org/super.git", "../lib.git"): "ssh://git@h/org/lib.git",
        ("file:///srv/git/super.git", "../lib.git"): "file:///srv/git/lib.git",
        ("/srv/git/super.git", "../lib.git"): "/srv/git/lib.git",
        ("git://h/super.git", "git://x/abs.git"): "git://x/abs.git",
    }
    for (base, url), want in cases.items():
        assert resolve_submodule_url(base, url) == want, (base, url)
    with pytest.raises(ValueError, match="climbs above"):
        resolve_submodule_url("git://h/super.git", "../../up.git")


def test_parse_gitmodules_git_config_syntax() -> None:
    text = (
        "# comment\n"
        '[submodule "a b"]\n'
        '\tpath = "dir with # hash" ; trailing comment\n'
        "\tURL = https://h/x.git\n"
        "[core]\n\tpath = ignored\n"
        '[submodule "c"] path = c\n'
        "\turl = ../c\\\n.git\n"
        "\tupdate = none\n"
    )
    mods = parse_gitmodules(text)
    assert mods["a b"].path == "dir with # hash"
    assert mods["a b"].url == "https://h/x.git"
    assert mods["c"].path == "c"
    assert mods["c"].url == "../c.git"
    assert mods["c"].update == "none"
    assert set(mods) == {"a b", "c"}


def test_auth_goes_only_to_the_same_origin() -> None:
    auth = GitAuth(username="u", password="p", ca_file=Path("/ca.pem"))
    assert auth_for("https://h/a.git", "https://h/b.git", auth) is auth
    other = auth_for("https://h/a.git", "https://evil/b.git", auth)
    assert other is not None
    assert other.password is None
    assert other.ca_file == Path("/ca.pem")
    assert auth_for("https://h/a.git", "http://h/b.git", auth) != auth
    key = GitAuth(ssh_key="KEY", known_hosts="h ssh-ed25519 AAAA")
    assert auth_for("ssh://git@h/a.git", "git@other:b.git", key) is key
