"""The ``fake_cluster`` and ``envtest_cluster`` fixtures the reconcilekit pytest plugin offers users."""

from __future__ import annotations

import pytest

from reconcilekit.kube import Cluster

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["fake_cluster", pytest.param("envtest_cluster", marks=pytest.mark.envtest)])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    found: Cluster = request.getfixturevalue(request.param)
    return found


async def test_plugin_fixtures_give_a_working_cluster(cluster: Cluster) -> None:
    assert isinstance(cluster, Cluster)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "fixture-"}}
    made = await cluster.create(ns)
    assert made["metadata"]["name"].startswith("fixture-")
    info = await cluster.resource_for("v1", "ConfigMap")
    assert info.plural == "configmaps"
