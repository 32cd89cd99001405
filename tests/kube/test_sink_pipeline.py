"""End to end on a real API server: MemorySource → LoadManifests → KubernetesSink in one Pipeline."""

from __future__ import annotations

import pytest

from reconcilekit import InvalidResourceError, LoadManifests, Pipeline, Request
from reconcilekit.kube import KubeCluster, KubernetesSink, ObjectKey
from reconcilekit.testing import MemorySource

pytestmark = pytest.mark.anyio


def _manifests(namespace: str, names: list[str], value: str) -> dict[str, str]:
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"data:\n  value: {value!r}\n"
        for name in names
    ]
    return {"app/configmaps.yaml": "---\n".join(docs)}


async def test_pipeline_applies_reconfigures_and_prunes(
    envtest_cluster: KubeCluster, envtest_namespace: str
) -> None:
    ns = envtest_namespace
    source = MemorySource(_manifests(ns, ["a", "b"], "1"))
    sink = KubernetesSink(envtest_cluster, name="pipeline-e2e", namespace=ns)
    pipeline = Pipeline(source, [LoadManifests("app")], sink, name="e2e")

    await pipeline.reconcile(Request("e2e"))
    report = pipeline.status.last_report
    assert report is not None
    assert [r.name for r in report.created] == ["a", "b"]
    ready = next(c for c in pipeline.status.conditions if c.type == "Ready")
    assert ready.status == "True"
    assert "2 created" in ready.message

    await pipeline.reconcile(Request("e2e"))
    report = pipeline.status.last_report
    assert report is not None
    assert not report.changed

    source.set_files(_manifests(ns, ["a"], "2"))
    await pipeline.reconcile(Request("e2e"))
    report = pipeline.status.last_report
    assert report is not None
    assert [r.name for r in report.configured] == ["a"]
    assert [r.name for r in report.pruned] == ["b"]
    live = await envtest_cluster.get(ObjectKey("v1", "ConfigMap", ns, "a"))
    assert live is not None
    assert live["data"] == {"value": "2"}
    assert await envtest_cluster.get(ObjectKey("v1", "ConfigMap", ns, "b")) is None

    # A render that fails stops the run before the sink: nothing is pruned.
    source.set_files({"app/broken.yaml": "kind: ConfigMap\nmetadata: {name: x}\n"})
    with pytest.raises(InvalidResourceError, match="apiVersion"):
        await pipeline.reconcile(Request("e2e"))
    assert await envtest_cluster.get(ObjectKey("v1", "ConfigMap", ns, "a")) is not None
    source.close()
