"""Kustomize and Substitute as stages of a real Pipeline (MemorySource → transformers → MemorySink)."""

from __future__ import annotations

import pytest

from reconcilekit import Pipeline, Request
from reconcilekit.kustomize import Kustomize, MalformedYAMLError, Namespace, Substitute
from reconcilekit.testing import MemorySink, MemorySource

pytestmark = pytest.mark.anyio

FILES = {
    "deploy/base/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  region: ${region}\n"
    ),
    "deploy/base/kustomization.yaml": "resources: [cm.yaml]\n",
    "deploy/prod/kustomization.yaml": "resources: [../base]\nnamePrefix: prod-\n",
}


async def test_pipeline_renders_a_kustomization_from_the_artifact() -> None:
    source = MemorySource(FILES)
    sink = MemorySink()
    pipeline = Pipeline(
        source,
        [Kustomize("deploy/prod"), Substitute({"region": "eu-west-1"}), Namespace("prod")],
        sink,
        interval=None,
    )
    _, rendered = await pipeline.render()
    (cm,) = list(rendered)
    assert cm.name == "prod-app"
    assert cm.namespace == "prod"
    assert cm.body["data"] == {"region": "eu-west-1"}
    await pipeline.reconcile(Request("prod"))
    assert pipeline.status.ready


async def test_a_broken_kustomization_stops_the_run_before_the_sink() -> None:
    source = MemorySource({**FILES, "deploy/base/cm.yaml": "kind: [\n"})
    sink = MemorySink()
    pipeline = Pipeline(source, [Kustomize("deploy/prod")], sink, interval=None)
    with pytest.raises(MalformedYAMLError):
        await pipeline.reconcile(Request("prod"))
    assert not pipeline.status.ready
