"""Fixtures for the differential Cluster suite: one scenario, two backends (FakeCluster and envtest).

``kc`` is a :class:`kube_backend.Backend`: the cluster under test plus what a scenario needs around it
(a namespace, a way to grant RBAC to another user, a way to force watch history compaction). The real half
needs the envtest binaries; it is marked ``envtest`` and follows the harness' rule: skipped with a reason
outside CI, failing in CI.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from reconcilekit.kube import KubeCluster
from reconcilekit.testing import FakeCluster
from reconcilekit.testing import envtest as envtest_mod
from reconcilekit.testing._servers import unavailable

from .kube_backend import Backend


@pytest.fixture
def anyio_backend() -> str:
    """kubernetes-asyncio runs on asyncio only (FakeCluster's trio check lives in test_fake_cluster.py)."""
    return "asyncio"


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.envtest)])
async def kc(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The scenario backend: an in-memory FakeCluster, or KubeCluster on envtest."""
    if request.param == "fake":
        namespace = f"test-{uuid.uuid4().hex[:10]}"
        fake = FakeCluster([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
        backend = Backend("fake", fake, namespace)
    else:
        env: envtest_mod.Environment = request.getfixturevalue("envtest_server")
        namespace = request.getfixturevalue("envtest_namespace")
        real = await KubeCluster.from_kubeconfig(env.kubeconfig)
        backend = Backend("real", real, namespace, env)
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture(scope="module")
def envtest_without_watch_cache() -> Iterator[envtest_mod.Environment]:
    """A second envtest whose API server reads watches from etcd, so compacting etcd yields 410 Gone."""
    try:
        env = envtest_mod.Environment(extra_apiserver_args=["--watch-cache=false"])
        env.start()
    except envtest_mod.BinariesNotFoundError as err:
        unavailable(f"the envtest binaries are missing: {err}")
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(params=["fake", pytest.param("real", marks=[pytest.mark.envtest, pytest.mark.slow])])
async def kc_gone(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Like ``kc``, on a backend where :meth:`Backend.compact` makes old versions answer 410 Gone."""
    if request.param == "fake":
        namespace = f"test-{uuid.uuid4().hex[:10]}"
        fake = FakeCluster([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
        backend = Backend("fake", fake, namespace)
    else:
        env: envtest_mod.Environment = request.getfixturevalue("envtest_without_watch_cache")
        namespace = env.create_namespace()
        real = await KubeCluster.from_kubeconfig(env.kubeconfig)
        backend = Backend("real", real, namespace, env)
    try:
        yield backend
    finally:
        await backend.aclose()
