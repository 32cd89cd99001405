"""Remote bases against real Git servers on loopback (git daemon, smart HTTP, file://) and a real HTTP server.

The overlay-on-remote-base case is compared with ``kubectl kustomize`` fetching the same ``file://`` URL (its
kustomize cannot use ``git://``), and with our own build of a local copy of the same tree.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcilekit import TemporaryError, TerminalError
from reconcilekit.cli import main
from reconcilekit.git import GitAuth
from reconcilekit.kustomize import (
    CycleError,
    FileOutsideRootError,
    MissingFileError,
    NotSupportedError,
    RemoteBaseError,
    RemoteRefNotFoundError,
    RemoteUnavailableError,
    build,
    to_yaml,
)
from reconcilekit.kustomize._remote import RemoteFetcher, auth_for, parse_repo_spec, redact
from reconcilekit.testing._fixtures_git import (
    GitDaemon,
    GitHttpServer,
    GitRepoFactory,
    GitSshServer,
    WorkRepo,
)
from reconcilekit.testing._servers import find_program, free_port

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:{tag}
        envFrom:
        - configMapRef:
            name: web-config
"""

BASE_FILES = {
    "deploy/base/kustomization.yaml": (
        "resources:\n- deployment.yaml\n- service.yaml\n- cloudbuild.yaml\n"
        "commonLabels:\n  tier: frontend\n"
        "configMapGenerator:\n- name: web-config\n  literals: [MODE=remote]\n"
    ),
    "deploy/base/deployment.yaml": DEPLOYMENT.format(tag="1.25"),
    "deploy/base/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n"
        "  ports:\n  - port: 80\n"
    ),
    # Flux's default exclusions drop cloudbuild.yaml from a GitSource snapshot; kustomize reads it.
    "deploy/base/cloudbuild.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ci-notes\n",
    "deploy/common/kustomization.yaml": "resources: [sa.yaml]\n",
    "deploy/common/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: runner\n",
    "deploy/with-common/kustomization.yaml": "resources:\n- ../common\n- ../base\n",
    "deploy/escape-file/kustomization.yaml": "resources:\n- ../base/service.yaml\n",
    "deploy/escape-repo/kustomization.yaml": "resources:\n- ../../..\n",
    "deploy/escape-link/kustomization.yaml": "resources:\n- ../../../../../../../../../etc\n",
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def image_of(resources: Any) -> str:
    for res in resources:
        if res.body["kind"] == "Deployment":
            return str(res.body["spec"]["template"]["spec"]["containers"][0]["image"])
    raise AssertionError("no Deployment in the build")


def names(resources: Any) -> list[str]:
    return [f"{r.body['kind']}/{r.body['metadata']['name']}" for r in resources]


@pytest.fixture
def base_repo(git_repos: GitRepoFactory) -> tuple[WorkRepo, dict[str, str]]:
    """A repository with the base at tag v1 (nginx:1.25), main at nginx:1.26, branch feature at 1.27."""
    repo = git_repos.create(files=BASE_FILES)
    shas = {"v1": repo.git("rev-parse", "HEAD").strip()}
    repo.tag("v1", message="release v1")
    shas["main"] = repo.commit({"deploy/base/deployment.yaml": DEPLOYMENT.format(tag="1.26")}, "bump")
    repo.git("checkout", "-q", "-b", "feature")
    shas["feature"] = repo.commit({"deploy/base/deployment.yaml": DEPLOYMENT.format(tag="1.27")}, "feat")
    repo.git("push", "-q", "origin", "feature")
    repo.git("checkout", "-q", "main")
    return repo, shas


def overlay(tmp_path: Path, url: str, extra: str = "") -> Path:
    write(tmp_path / "overlay" / "kustomization.yaml", f"resources:\n- {url}\n{extra}")
    return tmp_path / "overlay"


# ------------------------------------------------------------------------------------------- URL parsing
@pytest.mark.parametrize(
    ("url", "repo_url", "path", "ref"),
    [
        ("https://host/org/repo.git//sub/dir?ref=v1.0.0", "https://host/org/repo.git", "sub/dir", "v1.0.0"),
        ("https://host/org/repo//dir?ref=branch", "https://host/org/repo", "dir", "branch"),
        ("git::https://host/org/repo.git//dir?ref=v2", "https://host/org/repo.git", "dir", "v2"),
        ("ssh://git@host/org/repo.git//dir?ref=main", "ssh://git@host/org/repo.git", "dir", "main"),
        ("git@host:org/repo.git//dir", "git@host:org/repo.git", "dir", ""),
        ("file:///abs/repo.git//dir?ref=x", "file:///abs/repo.git", "dir", "x"),
        ("file:///abs/repo", "file:///abs/repo", "", ""),
        ("git://127.0.0.1:9418/repo.git//dir", "git://127.0.0.1:9418/repo.git", "dir", ""),
        ("https://host/org/repo.git/sub?version=v3", "https://host/org/repo.git", "sub", "v3"),
        ("https://host/org/repo?version=v3&ref=v4", "https://host/org/repo", "", "v4"),
        ("github.com/org/repo/deploy/prod", "https://github.com/org/repo", "deploy/prod", ""),
        ("git@github.com:org/repo//deploy", "git@github.com:org/repo", "deploy", ""),
        (
            "https://dev.azure.com/o/p/_git/repo/path?ref=main",
            "https://dev.azure.com/o/p/_git/repo",
            "path",
            "main",
        ),
    ],
)
def test_parse_repo_spec_as_kustomize(url: str, repo_url: str, path: str, ref: str) -> None:
    spec = parse_repo_spec(url)
    assert (spec.repo_url, spec.path, spec.ref) == (repo_url, path, ref)


@pytest.mark.parametrize(
    ("query", "timeout", "submodules"),
    [
        ("", 27.0, True),
        ("?timeout=61", 61.0, True),
        ("?timeout=1m30s&submodules=false", 90.0, False),
        ("?timeout=500ms&submodules=0", 0.5, False),
        ("?timeout=nonsense&submodules=maybe", 27.0, True),
    ],
)
def test_parse_timeout_and_submodules(query: str, timeout: float, submodules: bool) -> None:
    spec = parse_repo_spec(f"https://host/org/repo//dir{query}")
    assert (spec.timeout, spec.submodules) == (timeout, submodules)


@pytest.mark.parametrize("url", ["https://host/org/repo.git//../x", "relative/path", "https:///nohost"])
def test_parse_rejects(url: str) -> None:
    with pytest.raises(ValueError, match=r"exits repo|failed to parse"):
        parse_repo_spec(url)


def test_redact() -> None:
    assert redact("git::https://bob:s3cret@h/o/r//d") == "git::https://***@h/o/r//d"
    assert "s3cret" not in redact("https://bob:s3cret@h/o/r//d?ref=v1")


# ------------------------------------------------------------------------------------------- refusal
@pytest.mark.parametrize(
    "ref",
    [
        "https://bob:s3cret@127.0.0.1:1/org/repo//deploy?ref=v1",
        "git::https://bob:s3cret@127.0.0.1:1/org/repo.git",
        "git@github.com:org/repo.git",
    ],
)
def test_refused_without_allow_remote(tmp_path: Path, ref: str) -> None:
    root = overlay(tmp_path, ref)
    with pytest.raises(NotSupportedError) as info:
        build(root)
    message = str(info.value)
    assert "allow_remote=False" in message
    assert str(root / "kustomization.yaml") in message
    assert "s3cret" not in message


def test_remote_url_in_a_patch_path_is_not_supported(tmp_path: Path) -> None:
    write(tmp_path / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    write(
        tmp_path / "kustomization.yaml",
        "resources: [cm.yaml]\npatches:\n- path: https://bob:s3cret@127.0.0.1:1/p.yaml\n",
    )
    with pytest.raises(NotSupportedError, match="only resources and components") as info:
        build(tmp_path, allow_remote=True)
    assert "s3cret" not in str(info.value)


# ------------------------------------------------------------------------------------------- refs
def test_base_at_tag_branch_commit_and_default(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, shas = base_repo
    url = git_daemon.url(repo.name)
    cases = {
        "?ref=v1": "nginx:1.25",
        "?ref=main": "nginx:1.26",
        "?version=feature": "nginx:1.27",
        f"?ref={shas['v1']}": "nginx:1.25",
        f"?ref={shas['feature']}": "nginx:1.27",
        "?ref=refs/heads/feature": "nginx:1.27",
        "": "nginx:1.26",  # the remote's default branch
    }
    for query, image in cases.items():
        root = overlay(tmp_path / query.strip("?=/"), f"{url}//deploy/base{query}")
        got = build(root, allow_remote=True)
        assert image_of(got) == image, query
        assert {"ConfigMap/ci-notes", "Service/web", "Deployment/web"} <= set(names(got))


def test_tag_wins_over_a_branch_of_the_same_name(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, shas = base_repo
    repo.git("push", "-q", "origin", f"{shas['feature']}:refs/heads/v1")  # branch v1 at nginx:1.27
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/base?ref=v1")
    assert image_of(build(root, allow_remote=True)) == "nginx:1.25"  # as `git fetch origin v1`


def test_missing_ref_is_a_typed_error(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    for ref in ("no-such-ref", "0" * 40):
        root = overlay(tmp_path / ref, f"{git_daemon.url(repo.name)}//deploy/base?ref={ref}")
        with pytest.raises(RemoteRefNotFoundError) as info:
            build(root, allow_remote=True)
        assert isinstance(info.value, TerminalError)
        assert ref in str(info.value)
        assert str(root / "kustomization.yaml") in str(info.value)


def test_missing_directory_in_repo(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/nothing?ref=v1")
    with pytest.raises(TerminalError, match="no directory 'deploy/nothing'"):
        build(root, allow_remote=True)


def test_unreachable_remote_is_temporary(tmp_path: Path) -> None:
    root = overlay(tmp_path, f"git://127.0.0.1:{free_port()}/gone.git//deploy?ref=v1")
    with pytest.raises(RemoteUnavailableError) as info:
        build(root, allow_remote=True)
    assert isinstance(info.value, TemporaryError)
    assert "gone.git" in str(info.value)


# ------------------------------------------------------------------------------------------- overlays
def _plain(resources: Any) -> list[dict[str, Any]]:
    out = []
    for res in resources:
        body = yaml.safe_load(yaml.safe_dump(res.body))
        body["metadata"].get("annotations", {}).pop("config.kubernetes.io/origin", None)
        if body["metadata"].get("annotations") == {}:
            del body["metadata"]["annotations"]
        out.append(body)
    return out


OVERLAY_EXTRA = """\
- extra.yaml
namePrefix: prod-
namespace: prod
images:
- name: nginx
  newTag: "1.30"
patches:
- target:
    kind: Deployment
  patch: |-
    - op: replace
      path: /spec/replicas
      value: 3
"""
EXTRA = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  ref: web-config\n"


def test_overlay_on_remote_base_equals_local_copy(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path / "remote", f"{git_daemon.url(repo.name)}//deploy/base?ref=v1", OVERLAY_EXTRA)
    write(root / "extra.yaml", EXTRA)
    remote = build(root, allow_remote=True)

    local = tmp_path / "local"
    subprocess.run(
        [
            "git",
            "-c",
            "advice.detachedHead=false",
            "clone",
            "-q",
            "--branch",
            "v1",
            str(repo.bare),
            str(local / "repo"),
        ],
        check=True,
    )
    local_root = overlay(local, "../repo/deploy/base", OVERLAY_EXTRA)
    write(local_root / "extra.yaml", EXTRA)
    assert _plain(remote) == _plain(build(local_root))
    assert image_of(remote) == "nginx:1.30"
    assert any(n.startswith("ConfigMap/prod-web-config-") for n in names(remote))


@pytest.mark.parametrize("ref", ["v1", "feature", "sha-of-main"])
def test_overlay_matches_kubectl_with_file_url(
    tmp_path: Path, base_repo: tuple[WorkRepo, dict[str, str]], ref: str
) -> None:
    kubectl = find_program("kubectl", package="kubectl")
    repo, shas = base_repo
    ref = shas["main"] if ref == "sha-of-main" else ref
    extra = OVERLAY_EXTRA + "buildMetadata: [originAnnotations]\n"
    root = overlay(tmp_path, f"file://{repo.bare}//deploy/base?ref={ref}", extra)
    write(root / "extra.yaml", EXTRA)
    proc = subprocess.run(
        [kubectl, "kustomize", str(root)], capture_output=True, timeout=120, check=False, env=repo.env
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    got = to_yaml(build(root, allow_remote=True))
    assert list(yaml.safe_load_all(got)) == list(yaml.safe_load_all(proc.stdout))
    assert got == proc.stdout.decode()


def test_base_inside_repo_may_use_sibling_directories(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/with-common?ref=v1")
    assert "ServiceAccount/runner" in names(build(root, allow_remote=True))


def test_same_repo_and_ref_fetched_once(
    tmp_path: Path,
    git_daemon: GitDaemon,
    base_repo: tuple[WorkRepo, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = base_repo
    url = git_daemon.url(repo.name)
    fetched: list[str] = []
    real_fetch = RemoteFetcher._fetch

    def counting(self: RemoteFetcher, spec: Any, kustomization: str) -> Path:
        fetched.append(spec.raw)
        return real_fetch(self, spec, kustomization)

    monkeypatch.setattr(RemoteFetcher, "_fetch", counting)
    write(
        tmp_path / "kustomization.yaml",
        f"resources:\n- {url}//deploy/base?ref=v1\n- {url}//deploy/common?ref=v1\n",
    )
    got = build(tmp_path, allow_remote=True)
    assert "ServiceAccount/runner" in names(got)
    assert len(fetched) == 1


def test_remote_component(
    tmp_path: Path,
    git_daemon: GitDaemon,
    git_repos: GitRepoFactory,
    base_repo: tuple[WorkRepo, dict[str, str]],
) -> None:
    base, _ = base_repo
    comp = git_repos.create(
        files={
            "comp/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                "commonAnnotations:\n  team: blue\n"
            )
        }
    )
    write(
        tmp_path / "kustomization.yaml",
        f"resources:\n- {git_daemon.url(base.name)}//deploy/base?ref=v1\n"
        f"components:\n- {git_daemon.url(comp.name)}//comp\n",
    )
    got = build(tmp_path, allow_remote=True)
    assert all(r.body["metadata"]["annotations"]["team"] == "blue" for r in got)


# ------------------------------------------------------------------------------------------- security
def test_remote_file_outside_its_root(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/escape-file?ref=v1")
    # Root-only inside a remote base, even when the build lifts the restriction for local files.
    with pytest.raises(FileOutsideRootError):
        build(root, allow_remote=True, load_restrictor="none")


@pytest.mark.parametrize("path", ["escape-repo", "escape-link"])
def test_remote_base_cannot_leave_its_repository(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]], path: str
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/{path}?ref=v1")
    with pytest.raises(FileOutsideRootError, match="not in or below"):
        build(root, allow_remote=True, load_restrictor="none")


def test_url_path_exiting_the_repository(
    tmp_path: Path, git_daemon: GitDaemon, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//../deploy/base?ref=v1")
    with pytest.raises(RemoteBaseError, match="exits repo"):
        build(root, allow_remote=True)


def test_cycle_across_remotes(tmp_path: Path, git_daemon: GitDaemon, git_repos: GitRepoFactory) -> None:
    a = git_repos.create()
    b = git_repos.create()
    a_url, b_url = git_daemon.url(a.name), git_daemon.url(b.name)
    a.commit({"k/kustomization.yaml": f"resources:\n- {b_url}//k?ref=main\n"})
    b.commit({"k/kustomization.yaml": f"resources:\n- {a_url}//k?ref=main\n"})
    root = overlay(tmp_path, f"{a_url}//k?ref=main")
    with pytest.raises(CycleError, match=f"cycle detected: remote base '{a_url}//k\\?ref=main'"):
        build(root, allow_remote=True)


# ------------------------------------------------------------------------------------------- transports
def test_smart_http_with_credentials_and_redaction(
    tmp_path: Path, git_http_server: GitHttpServer, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    srv = git_http_server
    url = srv.url(repo.name).replace("://", f"://{srv.username}:{srv.password}@")
    assert image_of(build(overlay(tmp_path / "ok", f"{url}//deploy/base?ref=v1"), allow_remote=True)) == (
        "nginx:1.25"
    )
    with pytest.raises(RemoteRefNotFoundError) as info:
        build(overlay(tmp_path / "bad", f"{url}//deploy/base?ref=nope"), allow_remote=True)
    assert srv.password not in str(info.value)
    wrong = srv.url(repo.name).replace("://", "://gituser:wrong@")
    with pytest.raises(RemoteBaseError) as denied:
        build(overlay(tmp_path / "denied", f"git::{wrong}//deploy/base?ref=v1"), allow_remote=True)
    assert "wrong" not in str(denied.value)


def test_ssh_with_remote_auth(
    tmp_path: Path, git_ssh_server: GitSshServer, base_repo: tuple[WorkRepo, dict[str, str]]
) -> None:
    repo, _ = base_repo
    srv = git_ssh_server
    url = srv.url(repo.name)
    root = overlay(tmp_path, f"{url}//deploy/base?ref=v1")
    prefix = f"ssh://{srv.user}@127.0.0.1:{srv.port}/"
    auth = {prefix: GitAuth(ssh_key=srv.client_key, known_hosts=srv.known_hosts)}
    assert image_of(build(root, allow_remote=True, remote_auth=auth)) == "nginx:1.25"
    with pytest.raises(RemoteBaseError, match="known_hosts"):
        build(root, allow_remote=True)  # no credentials for this host: host keys must be pinned


def test_auth_for_matches_prefixes_on_boundaries() -> None:
    a, b = GitAuth(username="a", password="x"), GitAuth(username="b", password="y")
    auth = {"https://git.example": a, "https://git.example/team/": b}
    assert auth_for(auth, "https://git.example/org/repo.git") is a
    assert auth_for(auth, "https://git.example/team/repo.git") is b
    assert auth_for(auth, "https://git.example.evil/org/repo.git") is None
    assert auth_for(auth, "ssh://git@git.example/org/repo.git") is None


def test_submodules_fetched_unless_disabled(
    tmp_path: Path, git_daemon: GitDaemon, git_repos: GitRepoFactory
) -> None:
    lib = git_repos.create(
        files={
            "lib/kustomization.yaml": "resources: [cm.yaml]\n",
            "lib/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-submodule\n",
        }
    )
    app = git_repos.create(files={"app/kustomization.yaml": "resources:\n- ../vendor/lib/lib\n"})
    app.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", f"../{lib.name}", "vendor/lib")
    app.commit({}, "vendor lib")
    url = f"{git_daemon.url(app.name)}//app"
    assert names(build(overlay(tmp_path / "on", url), allow_remote=True)) == ["ConfigMap/from-submodule"]
    with pytest.raises(MissingFileError):
        build(overlay(tmp_path / "off", f"{url}?submodules=false"), allow_remote=True)


def test_file_url(tmp_path: Path, base_repo: tuple[WorkRepo, dict[str, str]]) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"file://{repo.bare}//deploy/base?ref=feature")
    assert image_of(build(root, allow_remote=True)) == "nginx:1.27"


AUTH_SEEN: list[tuple[str, str | None]] = []


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP file server on loopback serving a scratch directory.

    ``/redirect/<p>`` redirects to ``/<p>``, ``/ftp`` to an ``ftp://`` URL; every request's path and
    Authorization header is recorded in ``AUTH_SEEN``.
    """
    served = tmp_path / "served"
    served.mkdir()
    AUTH_SEEN.clear()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # the base class's signature
            pass

        def do_GET(self) -> None:  # http.server dispatches on this name
            AUTH_SEEN.append((self.path, self.headers.get("Authorization")))
            target = None
            if self.path.startswith("/redirect/"):
                target = self.path.removeprefix("/redirect")
            elif self.path == "/ftp":
                target = "ftp://127.0.0.1/cm.yaml"
            if target is None:
                super().do_GET()
                return
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_plain_http_file_resource(tmp_path: Path, http_files: tuple[str, Path]) -> None:
    base, served = http_files
    write(served / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
    root = overlay(tmp_path / "ok", f"{base}/cm.yaml", "namePrefix: p-\n")
    assert names(build(root, allow_remote=True)) == ["ConfigMap/p-fetched"]
    with pytest.raises(RemoteBaseError, match="404"):
        build(overlay(tmp_path / "missing", f"{base}/missing.yaml"), allow_remote=True)


def test_http_credentials_not_forwarded_on_redirect(tmp_path: Path, http_files: tuple[str, Path]) -> None:
    base, served = http_files
    write(served / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
    url = base.replace("://", "://bob:s3cret@") + "/redirect/cm.yaml"
    assert names(build(overlay(tmp_path / "ok", url), allow_remote=True)) == ["ConfigMap/fetched"]
    assert [(p, a is not None) for p, a in AUTH_SEEN] == [("/redirect/cm.yaml", True), ("/cm.yaml", False)]
    with pytest.raises(RemoteBaseError, match="302") as info:
        build(overlay(tmp_path / "ftp", base.replace("://", "://bob:s3cret@") + "/ftp"), allow_remote=True)
    assert "s3cret" not in str(info.value)


def test_plain_http_file_matches_kubectl(tmp_path: Path, http_files: tuple[str, Path]) -> None:
    kubectl = find_program("kubectl", package="kubectl")
    base, served = http_files
    write(
        served / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\ndata:\n  a: '1'\n"
    )
    root = overlay(tmp_path, f"{base}/cm.yaml", "buildMetadata: [originAnnotations]\nnamespace: demo\n")
    proc = subprocess.run([kubectl, "kustomize", str(root)], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert to_yaml(build(root, allow_remote=True)) == proc.stdout.decode()


@pytest.fixture
def silent_server() -> Iterator[tuple[int, Callable[[], None]]]:
    """A loopback TCP port that accepts connections and never answers, and a function that hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    def hang_up() -> None:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        held.clear()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], hang_up
    finally:
        hang_up()
        listener.close()


def test_timeout_query_is_honoured(
    tmp_path: Path, silent_server: tuple[int, Callable[[], None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hang_up = silent_server
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    root = overlay(tmp_path, f"git://127.0.0.1:{port}/slow.git//deploy?ref=v1&timeout=1")
    started = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="no answer within 1s"):
        build(root, allow_remote=True)
    assert time.monotonic() - started < 10
    hang_up()  # the abandoned fetch fails now and removes what it wrote after the build ended
    deadline = time.monotonic() + 10
    while list(scratch.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(scratch.iterdir()) == []


# ------------------------------------------------------------------------------------------- CLI
def test_cli_allow_remote_flag(
    tmp_path: Path,
    git_daemon: GitDaemon,
    base_repo: tuple[WorkRepo, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = base_repo
    root = overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/base?ref=v1")
    assert main(["build", str(root)]) == 1
    assert "allow_remote=False" in capsys.readouterr().err
    assert main(["build", str(root), "--allow-remote"]) == 0
    out = capsys.readouterr().out
    assert "image: nginx:1.25" in out


def test_snapshots_removed_after_build(
    tmp_path: Path,
    git_daemon: GitDaemon,
    base_repo: tuple[WorkRepo, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = base_repo
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    build(overlay(tmp_path, f"{git_daemon.url(repo.name)}//deploy/base?ref=v1"), allow_remote=True)
    assert list(scratch.iterdir()) == []
