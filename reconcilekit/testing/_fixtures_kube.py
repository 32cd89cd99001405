"""pytest fixtures for code that talks to Kubernetes through :class:`~reconcilekit.kube.Cluster`.

* ``fake_cluster``: a fresh :class:`~reconcilekit.testing.FakeCluster` per test (in memory, asyncio or trio).
* ``envtest_cluster``: a :class:`~reconcilekit.kube.KubeCluster` connected as admin to the session's envtest
  server (``envtest_server``), closed after the test; asyncio only. Combine it with ``envtest_namespace``.

Write a reconciler's tests once against ``Cluster`` and run them on both, as reconcilekit's own suite does::

    @pytest.fixture(params=["fake_cluster", "envtest_cluster"])
    def cluster(request):
        return request.getfixturevalue(request.param)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..kube import KubeCluster
from . import envtest
from ._fake_cluster import FakeCluster

__all__ = ["envtest_cluster", "fake_cluster"]


@pytest.fixture
def fake_cluster() -> FakeCluster:
    """An empty in-memory FakeCluster."""
    return FakeCluster()


@pytest.fixture
async def envtest_cluster(envtest_server: envtest.Environment) -> AsyncIterator[KubeCluster]:
    """A KubeCluster (admin) on the session's envtest server."""
    cluster = await KubeCluster.from_kubeconfig(envtest_server.kubeconfig)
    try:
        yield cluster
    finally:
        await cluster.aclose()
