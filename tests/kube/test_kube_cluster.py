"""KubeCluster on its own: configuration errors, unreachable servers, credentials, impersonation, and the
mapping of API server answers to reconcilekit errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcilekit import ConfigurationError, TemporaryError, TerminalError
from reconcilekit.kube import (
    AlreadyExistsError,
    ClusterUnreachableError,
    ConflictError,
    FieldConflict,
    FieldManagerConflictError,
    ForbiddenError,
    GoneError,
    InvalidObjectError,
    KubeCluster,
    KubeconfigError,
    NotFoundError,
    ObjectKey,
    ServerError,
    UnauthorizedError,
)
from reconcilekit.kube._kube_cluster import _map_http_error
from reconcilekit.testing import envtest

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-t0ken-value"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _token_kubeconfig(path: Path, server: str, token: str, ca: Path | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca is not None:
        cluster["certificate-authority"] = str(ca)
    else:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


CM = ObjectKey("v1", "ConfigMap", "default", "app")


# -- kubeconfig -------------------------------------------------------------------------------------------


async def test_missing_kubeconfig(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(KubeconfigError) as info:
        await KubeCluster.from_kubeconfig(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ConfigurationError)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("clusters: [unclosed\n", "not valid YAML at line"),
        ("- just\n- a list\n", "not a mapping"),
        ("apiVersion: v1\nkind: Config\nclusters: {}\n", "'clusters' is not a list"),
        ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "kubeconfig"),
    ],
)
async def test_malformed_kubeconfig(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(KubeconfigError) as info:
        await KubeCluster.from_kubeconfig(path)
    assert reason in str(info.value)
    assert str(path) in str(info.value)


async def test_unknown_context(tmp_path: Path) -> None:
    path = _token_kubeconfig(tmp_path / "config", "https://127.0.0.1:1", SECRET)
    with pytest.raises(KubeconfigError) as info:
        await KubeCluster.from_kubeconfig(path, context="nope")
    assert "nope" in str(info.value)
    assert SECRET not in str(info.value)


async def test_in_cluster_outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigError) as info:
        await KubeCluster.in_cluster()
    assert "in-cluster" in str(info.value)


# -- unreachable, credentials ----------------------------------------------------------------------------


async def test_unreachable_server_is_temporary_and_names_verb_and_object(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there any more: connection refused
    path = _token_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}", SECRET)
    async with await KubeCluster.from_kubeconfig(path, request_timeout=5) as cluster:
        assert cluster.server == f"https://127.0.0.1:{port}"
        with pytest.raises(ClusterUnreachableError) as info:
            await cluster.get(CM)
    err = info.value
    assert isinstance(err, TemporaryError)
    assert (err.verb, err.target) == ("get", "ConfigMap/default/app")
    assert str(err).startswith("get ConfigMap/default/app: API server https://127.0.0.1:")
    assert f"127.0.0.1:{port}" in str(err)
    assert SECRET not in str(err)
    assert SECRET not in repr(err.__cause__)  # nor in the chained library error


@pytest.mark.envtest
async def test_wrong_token_is_unauthorized(tmp_path: Path, envtest_server: envtest.Environment) -> None:
    path = _token_kubeconfig(tmp_path / "config", envtest_server.server, SECRET, envtest_server.ca_file)
    async with await KubeCluster.from_kubeconfig(path) as cluster:
        with pytest.raises(UnauthorizedError) as info:
            await cluster.list("v1", "ConfigMap", namespace="default")
    assert isinstance(info.value, TerminalError)
    assert SECRET not in str(info.value)


@pytest.mark.envtest
async def test_token_from_the_environment_works(tmp_path: Path, envtest_server: envtest.Environment) -> None:
    path = _token_kubeconfig(
        tmp_path / "config", envtest_server.server, envtest_server.token, envtest_server.ca_file
    )
    async with await KubeCluster.from_kubeconfig(path) as cluster:
        listed = await cluster.list("v1", "Namespace")
    assert "default" in listed.names


@pytest.mark.envtest
async def test_impersonation_is_subject_to_rbac(
    envtest_server: envtest.Environment, envtest_namespace: str
) -> None:
    key = ObjectKey("v1", "ConfigMap", envtest_namespace, "app")
    async with await KubeCluster.from_kubeconfig(
        envtest_server.kubeconfig, impersonate_user="carol"
    ) as cluster:
        with pytest.raises(ForbiddenError) as info:
            await cluster.get(key)
    assert '"carol"' in str(info.value)
    assert info.value.target == f"ConfigMap/{envtest_namespace}/app"


@pytest.mark.envtest
async def test_impersonated_groups_each_count(
    envtest_server: envtest.Environment, envtest_namespace: str
) -> None:
    # Two groups, sent as two headers: the second one (system:masters) grants everything.
    async with await KubeCluster.from_kubeconfig(
        envtest_server.kubeconfig, impersonate_user="carol", impersonate_groups=["team-a", "system:masters"]
    ) as cluster:
        listed = await cluster.list("v1", "ConfigMap", namespace=envtest_namespace)
    assert listed.names == ()


@pytest.mark.envtest
async def test_context_selection(tmp_path: Path, envtest_server: envtest.Environment) -> None:
    doc = yaml.safe_load(envtest_server.kubeconfig.read_text())
    doc["contexts"].append({"name": "broken", "context": {"cluster": "missing", "user": "missing"}})
    doc["current-context"] = "broken"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    async with await KubeCluster.from_kubeconfig(path, context="envtest") as cluster:
        assert (await cluster.resource_for("v1", "ConfigMap")).plural == "configmaps"
    with pytest.raises(KubeconfigError):
        await KubeCluster.from_kubeconfig(path)


# -- answers to errors -------------------------------------------------------------------------------------


def _status(code: int, reason: str, message: str, **details: Any) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason}
    body["message"] = message
    if details:
        body["details"] = details
    return json.dumps(body).encode()


def test_error_mapping() -> None:
    t = "ConfigMap/default/app"
    nf = _map_http_error("get", t, 404, _status(404, "NotFound", 'configmaps "app" not found'))
    assert isinstance(nf, NotFoundError)
    assert str(nf) == 'get ConfigMap/default/app (404): configmaps "app" not found'
    assert isinstance(
        _map_http_error("create", t, 409, _status(409, "AlreadyExists", "x")), AlreadyExistsError
    )
    plain = _map_http_error("update", t, 409, _status(409, "Conflict", "modified"))
    assert type(plain) is ConflictError
    causes = [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice" using v1', "field": ".data.k"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "bob"', "field": ".data.j"},
    ]
    ssa = _map_http_error("apply", t, 409, _status(409, "Conflict", "Apply failed", causes=causes))
    assert isinstance(ssa, FieldManagerConflictError)
    assert ssa.conflicts == (FieldConflict("alice", ".data.k"), FieldConflict("bob", ".data.j"))
    assert isinstance(_map_http_error("watch", t, 410, _status(410, "Expired", "too old")), GoneError)
    assert isinstance(_map_http_error("get", t, 403, _status(403, "Forbidden", "no")), ForbiddenError)
    assert isinstance(_map_http_error("get", t, 401, b""), UnauthorizedError)
    invalid = _map_http_error("create", t, 422, _status(422, "Invalid", "bad name"))
    assert isinstance(invalid, InvalidObjectError)
    assert invalid.status == 422
    bad = _map_http_error("list", t, 400, b"not json at all")
    assert isinstance(bad, InvalidObjectError)
    assert bad.status == 400
    busy = _map_http_error("get", t, 429, _status(429, "TooManyRequests", "slow down"), "3")
    assert isinstance(busy, ServerError)
    assert busy.delay == 3
    schema = _map_http_error(
        "apply",
        t,
        500,
        _status(500, "InternalError", "failed to create typed patch object (x): .spec.y: nope"),
    )
    assert isinstance(schema, InvalidObjectError)
    down = _map_http_error("get", t, 503, b"")
    assert isinstance(down, ServerError)
    assert isinstance(down, TemporaryError)
    assert down.delay is None
