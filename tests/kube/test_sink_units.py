"""KubernetesSink parts that need no API server: readiness rules, the inventory format, arguments, and the
sink on FakeCluster under both anyio backends."""

from __future__ import annotations

from typing import Any

import pytest

from reconcilekit import Context, InvalidArgumentError, ObjectRef, ResourceSet
from reconcilekit.kube import InventoryEntry, InventoryError, KubernetesSink, NotFoundError, ObjectKey
from reconcilekit.kube._diff import is_immutable_error, is_ready, same_state
from reconcilekit.kube._inventory import entry_id, parse_inventory, render_inventory
from reconcilekit.testing import FakeCluster

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The sink uses only anyio, so on FakeCluster it runs on both backends."""
    backend: str = request.param
    return backend


def _deploy(generation: int, status: dict[str, Any] | None, replicas: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_readiness_rules() -> None:
    assert not is_ready(_deploy(1, None))
    assert not is_ready(_deploy(2, {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}))
    assert not is_ready(_deploy(2, {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 2}))
    assert is_ready(_deploy(2, {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}))
    assert is_ready({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {}}
    assert not is_ready(crd)
    assert is_ready(crd | {"status": {"conditions": [{"type": "Established", "status": "True"}]}})
    cr = {"apiVersion": "x.dev/v1", "kind": "Thing", "metadata": {"generation": 3}}
    assert is_ready(cr)
    assert not is_ready(cr | {"status": {"observedGeneration": 2}})
    assert not is_ready(cr | {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert not is_ready({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "t"}})


def test_same_state_ignores_bookkeeping_but_not_owned_fields() -> None:
    live: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "a",
            "resourceVersion": "5",
            "uid": "u",
            "managedFields": [
                {"manager": "me", "operation": "Apply", "time": "t1", "fieldsV1": {"f:data": {}}}
            ],
        },
        "data": {"k": "v"},
    }
    dry: dict[str, Any] = {**live, "metadata": {**live["metadata"], "resourceVersion": "6"}}
    dry["metadata"]["managedFields"] = [
        {"manager": "me", "operation": "Apply", "time": "t2", "fieldsV1": {"f:data": {}}}
    ]
    assert same_state(dry, live, "me")
    dry["metadata"]["managedFields"] = [{"manager": "me", "operation": "Apply", "fieldsV1": {}}]
    assert not same_state(dry, live, "me")
    assert is_immutable_error("data: Forbidden: field is immutable when `immutable` is set")
    assert not is_immutable_error("metadata.labels: Invalid value")


def test_inventory_round_trip_and_ids() -> None:
    entries = [
        InventoryEntry(ObjectRef("", "ConfigMap", "apps", "web"), "v1", "sha256:ab", "12"),
        InventoryEntry(ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", None, "x.y.z"), "v1"),
    ]
    assert entry_id(entries[0].ref) == "apps_web__ConfigMap"
    assert entries[1].id == "_x.y.z_apiextensions.k8s.io_CustomResourceDefinition"
    assert entries[1].key == ObjectKey("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "x.y.z")
    text = render_inventory(entries)
    assert parse_inventory("ns/inv", {"inventory.json": text}) == tuple(entries)
    assert parse_inventory("ns/inv", None) == ()
    with pytest.raises(InventoryError, match=r"ns/inv: inventory\.json is unreadable"):
        parse_inventory(
            "ns/inv",
            {"inventory.json": '{"format":"reconcilekit.dev/inventory/v1","entries":[{"id":"a_b"}]}'},
        )


def test_arguments_checked() -> None:
    cluster = FakeCluster()
    with pytest.raises(InvalidArgumentError):
        KubernetesSink(cluster, name="", namespace="ns")
    with pytest.raises(InvalidArgumentError):
        KubernetesSink(cluster, name="a", namespace="ns", drift="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        KubernetesSink(cluster, name="a", namespace="ns", timeout=0)
    with pytest.raises(InvalidArgumentError):
        KubernetesSink(cluster, name="a", namespace="ns", concurrency=0)


async def test_hand_edited_inventory_is_refused() -> None:
    cluster = FakeCluster()
    sink = KubernetesSink(cluster, name="app", namespace="ns")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
    await sink.apply(ResourceSet.from_dicts([cm]), Context())
    await cluster.patch(sink.inventory_key, {"data": {"inventory.json": "not json"}})
    with pytest.raises(InventoryError, match="ConfigMap/ns/app-inventory"):
        await sink.apply(ResourceSet.from_dicts([cm]), Context())


async def test_namespace_first_when_the_fake_requires_namespaces() -> None:
    cluster = FakeCluster(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sys"}}], require_namespaces=True
    )
    sink = KubernetesSink(cluster, name="app", namespace="sys")
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "apps"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}},
    ]
    dry = await sink.apply(ResourceSet.from_dicts(objs), Context(dry_run=True))
    assert [r.kind for r in dry.created] == ["Namespace", "ConfigMap"]
    assert await cluster.get(objs[1]) is None
    report = await sink.apply(ResourceSet.from_dicts(objs), Context())
    assert [r.kind for r in report.created] == ["Namespace", "ConfigMap"]
    # A namespace that neither exists nor is in the set fails the plan, before anything is written.
    lost = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "nowhere"}}
    with pytest.raises(NotFoundError, match="nowhere"):
        await sink.apply(ResourceSet.from_dicts([*objs, lost]), Context())
