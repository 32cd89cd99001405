"""Tests for reconcilekit.testing.envtest: a real etcd + kube-apiserver on loopback.

Tests that need the binaries use the ``envtest_server`` fixture (skipped outside CI when they are missing,
failed in CI) or :func:`_require_binaries`. The error-path tests use tiny fake binaries (shell scripts), so
they run everywhere.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reconcilekit import ConfigurationError, ReconcileKitError, TemporaryError
from reconcilekit.testing import envtest
from reconcilekit.testing._servers import find_program, unavailable

REPO = Path(__file__).resolve().parents[2]

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.reconcilekit.dev
spec:
  group: example.reconcilekit.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
---
# Not a CRD: install_crds ignores it.
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
"""

GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.reconcilekit.dev"},
    "spec": {
        "group": "example.reconcilekit.dev",
        "scope": "Cluster",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def _require_binaries() -> Path:
    try:
        return envtest.find_binaries(auto_build=False)
    except envtest.BinariesNotFoundError as err:
        unavailable(f"the envtest binaries are missing ({err})")


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    find_program("kubectl", package="kubectl")
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=20s", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A KUBEBUILDER_ASSETS-style directory to fill with fake binaries (shell scripts)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)


# --- the shared server --------------------------------------------------------------------------------------


def test_kubectl_works_with_the_admin_kubeconfig(envtest_server: envtest.Environment) -> None:
    result = _kubectl(envtest_server.kubeconfig, "get", "ns", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert "namespace/default" in result.stdout.split()
    assert envtest_server.server.startswith("https://127.0.0.1:")
    assert envtest_server.running


def test_bearer_token_and_ca_file_authenticate(envtest_server: envtest.Environment) -> None:
    context = ssl.create_default_context(cafile=str(envtest_server.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", envtest_server.port, context=context, timeout=10)
    try:
        conn.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {envtest_server.token}"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["kind"] == "NamespaceList"
    finally:
        conn.close()


def test_rbac_is_enforced_for_other_users(
    envtest_server: envtest.Environment, envtest_namespace: str
) -> None:
    kubeconfig = envtest_server.kubeconfig_for("alice", groups=["devs"])
    result = _kubectl(kubeconfig, "get", "configmaps", "-n", envtest_namespace)
    assert result.returncode != 0
    assert "forbidden" in result.stderr.lower()
    assert 'User "alice"' in result.stderr


def test_namespace_fixture_gives_a_fresh_active_namespace(
    envtest_server: envtest.Environment, envtest_namespace: str
) -> None:
    assert re.fullmatch(r"test-[0-9a-f]{10}", envtest_namespace)
    status, body = envtest_server.request("GET", f"/api/v1/namespaces/{envtest_namespace}")
    assert status == 200
    assert json.loads(body)["status"]["phase"] == "Active"


def test_delete_namespace_marks_it_terminating(envtest_server: envtest.Environment) -> None:
    name = envtest_server.create_namespace(labels={"purpose": "delete-test"})
    envtest_server.delete_namespace(name)
    status, body = envtest_server.request("GET", f"/api/v1/namespaces/{name}")
    # No controller-manager: the namespace stays Terminating instead of disappearing.
    assert status == 404 or json.loads(body)["status"]["phase"] == "Terminating"
    envtest_server.delete_namespace(name)  # idempotent
    envtest_server.delete_namespace("never-existed")


def test_install_crds_from_files_and_directories(
    envtest_server: envtest.Environment, envtest_namespace: str, tmp_path: Path
) -> None:
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    (crd_dir / "widgets.yaml").write_text(WIDGET_CRD)
    (crd_dir / "README.md").write_text("not a manifest")
    gadget = tmp_path / "gadget.json"
    gadget.write_text(json.dumps(GADGET_CRD))

    names = envtest_server.install_crds([crd_dir, gadget])
    assert names == ["widgets.example.reconcilekit.dev", "gadgets.example.reconcilekit.dev"]
    # Installing again is an update (server-side apply), not a conflict.
    assert envtest_server.install_crds([gadget]) == ["gadgets.example.reconcilekit.dev"]

    # Established and served: the new kind is usable immediately.
    widget = {
        "apiVersion": "example.reconcilekit.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    status, body = envtest_server.request(
        "POST", f"/apis/example.reconcilekit.dev/v1/namespaces/{envtest_namespace}/widgets", widget
    )
    assert status == 201, body
    # Fully qualified: other tests in the session serve a "widgets" kind from another group.
    result = _kubectl(
        envtest_server.kubeconfig,
        "get",
        "widgets.example.reconcilekit.dev",
        "-n",
        envtest_namespace,
        "-o",
        "name",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["widget.example.reconcilekit.dev/w1"]


def test_invalid_crd_is_a_typed_error(envtest_server: envtest.Environment, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(GADGET_CRD))
    bad["metadata"]["name"] = "wrong-name.example.reconcilekit.dev"  # must be <plural>.<group>
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(bad))
    with pytest.raises(envtest.EnvtestRequestError) as info:
        envtest_server.install_crds([path])
    assert info.value.status == 422
    assert "wrong-name.example.reconcilekit.dev" in str(info.value)
    assert isinstance(info.value, ReconcileKitError)


def test_unreadable_crd_file_is_a_configuration_error(
    envtest_server: envtest.Environment, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"broken\.yaml"):
        envtest_server.install_crds([path])
    with pytest.raises(ConfigurationError, match=r"missing\.yaml"):
        envtest_server.install_crds([tmp_path / "missing.yaml"])


# --- the async entry point (the API external checks use) -------------------------------------------------


@pytest.mark.anyio
@pytest.mark.envtest
async def test_async_start_gives_a_working_kubeconfig_and_cleans_up() -> None:
    _require_binaries()
    async with envtest.start() as env:
        assert env.kubeconfig.is_file()
        result = _kubectl(env.kubeconfig, "get", "ns", "kube-system", "-o", "name")
        assert result.returncode == 0, result.stderr
        ns = await env.create_namespace_async()
        await env.delete_namespace_async(ns)
        work_dir = env.work_dir
        pids = [p.popen.pid for p in env._processes]
    assert work_dir is not None
    assert not work_dir.exists()
    assert _wait_gone(pids)
    assert not env.running


# --- lifecycle: teardown, KUBEBUILDER_ASSETS, crashes ------------------------------------------------------


@pytest.mark.envtest
def test_kubebuilder_assets_is_honoured_and_stop_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = _require_binaries()
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("kube-apiserver", "etcd"):
        (assets / name).symlink_to(real / name)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    assert envtest.find_binaries() == assets.resolve()

    seen: list[envtest.Environment] = []
    pids: list[int] = []

    def use_and_fail() -> None:
        with envtest.start_sync() as env:
            seen.append(env)
            assert env.binary_dir == assets.resolve()
            pids.extend(p.popen.pid for p in env._processes)
            assert env._watchdog is not None
            pids.append(env._watchdog.pid)
            assert all(not _gone(p) for p in pids)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_and_fail()
    env = seen[0]
    # The kubeconfig lived in the work directory, which stop() removed with everything else in it.
    assert not env.kubeconfig.parent.exists()
    # stop() reaps what it kills, so the process groups are gone at once.
    assert all(_gone(p) for p in pids)
    env.stop()  # idempotent


@pytest.mark.envtest
def test_watchdog_cleans_up_after_the_python_process_is_killed(tmp_path: Path) -> None:
    _require_binaries()
    child = textwrap.dedent(
        """
        import os, signal, sys
        from reconcilekit.testing import envtest
        env = envtest.Environment()
        env.start()
        pids = [p.popen.pid for p in env._processes]
        print(env.work_dir, *pids, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no finally: only the watchdog can clean up
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    work_dir, *pids = result.stdout.split()
    assert _wait_gone([int(p) for p in pids]), "servers outlived the killed Python process"
    deadline = time.monotonic() + 10
    while Path(work_dir).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(work_dir).exists()


# --- error paths with fake binaries (run everywhere) -------------------------------------------------------


def test_missing_binaries_in_kubebuilder_assets_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, fake_bin: Path
) -> None:
    _script(fake_bin / "etcd", "exit 0\n")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(fake_bin))
    with pytest.raises(envtest.BinariesNotFoundError) as info:
        envtest.Environment().start()
    assert isinstance(info.value, ConfigurationError)
    assert info.value.missing == ("kube-apiserver",)
    assert str(fake_bin) in str(info.value)


def test_empty_cache_without_auto_build_is_a_typed_error_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("RECONCILEKIT_ENVTEST_CACHE", str(tmp_path / "cache"))
    assert envtest.cache_dir() == tmp_path / "cache"
    with pytest.raises(envtest.BinariesNotFoundError) as info:
        envtest.find_binaries(auto_build=False)
    message = str(info.value)
    assert str(tmp_path / "cache" / envtest.DEFAULT_KUBERNETES_VERSION / "bin") in message
    assert "build.sh" in message
    assert "KUBEBUILDER_ASSETS" in message


def test_cache_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RECONCILEKIT_ENVTEST_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert envtest.cache_dir() == tmp_path / "reconcilekit" / "envtest"


def test_server_that_exits_is_a_typed_error_with_its_log(
    monkeypatch: pytest.MonkeyPatch, fake_bin: Path
) -> None:
    _script(fake_bin / "etcd", 'echo "etcd Version: 3.5.0"; [ "$1" = --version ] && exit 0; exec sleep 60\n')
    _script(fake_bin / "kube-apiserver", "echo 'E1126 flag parsing exploded' >&2; exit 3\n")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(fake_bin))
    env = envtest.Environment(start_timeout=20)
    with pytest.raises(envtest.ServerStartError) as info:
        env.start()
    assert isinstance(info.value, TemporaryError)
    assert info.value.component == "kube-apiserver"
    assert "exited with code 3" in str(info.value)
    assert "flag parsing exploded" in str(info.value)
    # The fake etcd (a sleep) was stopped and the work directory removed.
    assert env.work_dir is None
    assert not env._processes


def test_server_that_never_gets_ready_times_out(monkeypatch: pytest.MonkeyPatch, fake_bin: Path) -> None:
    _script(fake_bin / "etcd", '[ "$1" = --version ] && exit 0; exec sleep 60\n')
    _script(fake_bin / "kube-apiserver", "echo 'waiting for etcd forever'; exec sleep 60\n")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(fake_bin))
    env = envtest.Environment(start_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(envtest.ServerStartError, match=r"not ready within 0\.5 s") as info:
        env.start()
    assert time.monotonic() - started < 15
    assert "waiting for etcd forever" in info.value.log_tail
    assert env.work_dir is None


# --- fixtures: skip outside CI, fail in CI ----------------------------------------------------------------


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_fixture_fails_in_ci_and_skips_elsewhere_without_binaries(
    tmp_path: Path, fake_bin: Path, ci: str, outcome: str
) -> None:
    (tmp_path / "test_uses_envtest.py").write_text(
        "def test_it(envtest_namespace):\n    raise AssertionError('must not run')\n"
    )
    env = {**os.environ, "CI": ci, "KUBEBUILDER_ASSETS": str(fake_bin)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1]
    if outcome == "failed":
        assert result.returncode != 0
        assert "error" in summary, result.stdout
        assert "CI=true and the envtest binaries are missing" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in summary, result.stdout
        assert "the envtest binaries are missing" in result.stdout


# --- the build script ---------------------------------------------------------------------------------------


def test_default_version_matches_the_go_module() -> None:
    go_mod = (REPO / "tools" / "envtest" / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {envtest.DEFAULT_KUBERNETES_VERSION}\n" in go_mod


@pytest.mark.envtest
def test_build_script_reuses_the_cache_in_seconds() -> None:
    cached = envtest.cache_dir() / envtest.DEFAULT_KUBERNETES_VERSION / "bin"
    if not (cached / "kube-apiserver").exists():
        unavailable(f"the envtest binary cache {cached} is missing (run tools/envtest/build.sh)")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "envtest" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(cached)
    assert "reusing" in result.stderr
    assert time.monotonic() - started < 10


# --- etcd compaction (for 410 Gone tests) ------------------------------------------------------------------


def test_compact_etcd_makes_old_resource_versions_gone(
    envtest_server: envtest.Environment, envtest_namespace: str
) -> None:
    path = f"/api/v1/namespaces/{envtest_namespace}/configmaps"
    status, body = envtest_server.request(
        "POST", path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    )
    assert status == 201, body
    old = json.loads(body)["metadata"]["resourceVersion"]
    envtest_server.request("POST", path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})
    revision = envtest_server.compact_etcd()
    assert revision > int(old)
    status, body = envtest_server.request("GET", f"{path}?resourceVersion={old}&resourceVersionMatch=Exact")
    assert status == 410, body
    assert json.loads(body)["reason"] in ("Expired", "Gone")


def test_opt_in_auto_build_runs_the_build_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from reconcilekit.testing import _envtest

    cache = tmp_path / "cache"
    script = tmp_path / "build.sh"
    # Stands in for tools/envtest/build.sh (minutes of Go compilation): fills the cache layout it promises.
    _script(
        script,
        """\
        bin="$RECONCILEKIT_ENVTEST_CACHE/$VERSION/bin"
        mkdir -p "$bin"
        for b in kube-apiserver etcd; do printf '#!/bin/sh\\n' > "$bin/$b"; chmod +x "$bin/$b"; done
        echo "$bin"
        """,
    )
    monkeypatch.setattr(_envtest, "_BUILD_SCRIPT", script)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("RECONCILEKIT_ENVTEST_CACHE", str(cache))
    monkeypatch.setenv("VERSION", envtest.DEFAULT_KUBERNETES_VERSION)

    monkeypatch.delenv("RECONCILEKIT_ENVTEST_AUTO_BUILD", raising=False)
    with pytest.raises(envtest.BinariesNotFoundError, match="RECONCILEKIT_ENVTEST_AUTO_BUILD=1"):
        envtest.find_binaries()
    monkeypatch.setenv("RECONCILEKIT_ENVTEST_AUTO_BUILD", "1")
    assert envtest.find_binaries() == cache / envtest.DEFAULT_KUBERNETES_VERSION / "bin"
