"""MemorySink (the fake users test with) reports what KubernetesSink reports, on FakeCluster and envtest.

One scenario - create, change, re-apply, hand edit (drift), prune, prune to empty, dry run - is run through
both sinks and every ApplyReport is compared. This is what lets users trust MemorySink in fast unit tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconcilekit import ApplyReport, Context, PruneToEmptyError, ResourceSet, Sink
from reconcilekit.kube import KubernetesSink
from reconcilekit.testing import MemorySink

from .kube_backend import Backend

pytestmark = pytest.mark.anyio


def cm(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def summary(report: ApplyReport) -> dict[str, list[str]]:
    """The report as sorted names per category (the two sinks may order objects differently)."""
    return {
        field: sorted(ref.name for ref in getattr(report, field))
        for field in ("created", "configured", "unchanged", "pruned", "drifted")
    }


async def run_scenario(sink: Sink, edit: Any, ns: str) -> list[object]:
    """Apply a fixed sequence of desired states; ``edit(obj)`` makes a hand edit behind the sink's back."""
    results: list[object] = []

    async def step(*objs: dict[str, Any], dry_run: bool = False) -> None:
        try:
            results.append(summary(await sink.apply(ResourceSet.from_dicts(objs), Context(dry_run=dry_run))))
        except PruneToEmptyError:
            results.append("PruneToEmptyError")

    a, b, c = cm(ns, "a", k="1"), cm(ns, "b", k="1"), cm(ns, "c", k="1")
    await step(a, b)  # both created
    await step(a, b)  # nothing changed
    await step(cm(ns, "a", k="2"), b)  # a configured
    await step(cm(ns, "a", k="2"), b, c, dry_run=True)  # c would be created; nothing written
    await edit(cm(ns, "b", k="hand-edited"))
    await step(cm(ns, "a", k="2"), b)  # drift on b is reported and corrected
    await step(cm(ns, "a", k="2"), c)  # b pruned, c created
    await step()  # refused: would prune everything
    return results


async def test_memory_sink_reports_like_kubernetes_sink(kc: Backend) -> None:
    ns = kc.namespace
    memory = MemorySink()

    async def edit_memory(obj: dict[str, Any]) -> None:
        memory.edit(ResourceSet.from_dicts([obj]).resources[0])

    async def edit_cluster(obj: dict[str, Any]) -> None:
        live = await kc.cluster.get(obj)
        assert live is not None
        live["data"] = obj["data"]
        await kc.cluster.update(live, field_manager="kubectl-edit")

    expected = await run_scenario(memory, edit_memory, ns)
    actual = await run_scenario(KubernetesSink(kc.cluster, name="agree", namespace=ns), edit_cluster, ns)
    assert actual == expected
    # and the scenario means what it says, so agreement is not two sinks doing nothing alike
    assert expected[0] == {
        "created": ["a", "b"],
        "configured": [],
        "unchanged": [],
        "pruned": [],
        "drifted": [],
    }
    assert expected[4] == {
        "created": [],
        "configured": ["b"],
        "unchanged": ["a"],
        "pruned": [],
        "drifted": ["b"],
    }
    assert expected[-1] == "PruneToEmptyError"
