"""FakeCluster on its own (asyncio and trio): the test controls it offers and behaviour the real server suite
cannot drive (bookmarks on demand, history size, RBAC grants, namespace and CRD removal)."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import pytest

from reconcilekit.kube import (
    Cluster,
    ForbiddenError,
    GoneError,
    NotFoundError,
    ObjectKey,
    UnknownKindError,
    WatchEvent,
)
from reconcilekit.testing import FakeCluster

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """FakeCluster uses only anyio, so it runs on both backends."""
    backend: str = request.param
    return backend


def cm(name: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, **extra}


async def _take(events: Any, count: int) -> list[WatchEvent]:
    out: list[WatchEvent] = []
    with anyio.fail_after(5):
        async for event in events:
            out.append(event)
            if len(out) == count:
                break
    return out


def test_is_a_cluster() -> None:
    assert isinstance(FakeCluster(), Cluster)


async def test_seeded_objects_and_basic_round_trip() -> None:
    async with FakeCluster([cm("seed", data={"a": "1"})]) as cluster:
        live = await cluster.get(cm("seed"))
        assert live is not None
        assert live["data"] == {"a": "1"}
        assert cluster.resource_version == live["metadata"]["resourceVersion"]
        await cluster.apply(cm("app", data={"k": "v"}), field_manager="t")
        assert (await cluster.list("v1", "ConfigMap")).names == ("app", "seed")


async def test_managed_fields_shape() -> None:
    cluster = FakeCluster()
    applied = await cluster.apply(
        cm("app", data={"k": "v"}, metadata={"name": "app", "namespace": "default", "finalizers": ["x/y"]}),
        field_manager="alice",
    )
    (entry,) = applied["metadata"]["managedFields"]
    assert entry["manager"] == "alice"
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {"f:k": {}}, "f:metadata": {"f:finalizers": {'v:"x/y"': {}}}}


async def test_bookmarks_only_when_asked() -> None:
    cluster = FakeCluster()
    start = (await cluster.list("v1", "ConfigMap")).resource_version
    async with (
        aclosing(cluster.watch("v1", "ConfigMap", resource_version=start, allow_bookmarks=True)) as marked,
        aclosing(cluster.watch("v1", "ConfigMap", resource_version=start)) as plain,
    ):
        await cluster.create(cm("a"))
        assert [e.type for e in await _take(marked, 1)] == ["ADDED"]
        assert [e.type for e in await _take(plain, 1)] == ["ADDED"]
        cluster.bookmark()
        await cluster.create(cm("b"))
        got = await _take(marked, 2)
        assert [e.type for e in got] == ["BOOKMARK", "ADDED"]
        assert int(got[0].resource_version) == int(got[1].resource_version) - 1
        assert [e.type for e in await _take(plain, 1)] == ["ADDED"]  # the bookmark was not delivered


async def test_small_history_answers_gone_and_the_watch_relists() -> None:
    cluster = FakeCluster(watch_history=2)
    start = cluster.resource_version
    for name in "abcd":
        await cluster.create(cm(name))
    stream = cluster._stream("v1", "ConfigMap", None, None, None, start)
    with pytest.raises(GoneError):
        async with aclosing(stream) as events:
            await events.__anext__()
    async with aclosing(cluster.watch("v1", "ConfigMap", resource_version=start)) as events:
        got = await _take(events, 4)
    assert sorted(e.name for e in got) == ["a", "b", "c", "d"]


async def test_continue_token_expires_with_compaction() -> None:
    cluster = FakeCluster([cm(n) for n in "abc"])
    async with aclosing(cluster.list_pages("v1", "ConfigMap", limit=1)) as pages:
        first = await pages.__anext__()
        assert first.names == ("a",)
        await cluster.create(cm("d"))
        cluster.compact()  # the list's version is now older than the oldest kept
        with pytest.raises(GoneError):
            await pages.__anext__()


async def test_require_namespaces() -> None:
    cluster = FakeCluster(require_namespaces=True)
    with pytest.raises(NotFoundError) as info:
        await cluster.create(cm("app", ns="missing"))
    assert 'namespaces "missing" not found' in str(info.value)
    await cluster.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "missing"}}, field_manager="t"
    )
    await cluster.create(cm("app", ns="missing"))


async def test_deleting_a_namespace_removes_its_objects() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    cluster = FakeCluster([ns, cm("a", ns="team"), cm("b", ns="other")])
    live_ns = await cluster.get(ns)
    assert live_ns is not None
    assert live_ns["status"] == {"phase": "Active"}
    assert await cluster.delete(ns) is None
    assert (await cluster.list("v1", "ConfigMap")).names == ("b",)


async def test_crds_register_and_unregister_their_kind() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "scope": "Cluster",
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    cluster = FakeCluster()
    created = await cluster.apply(crd, field_manager="t")
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions["Established"] == "True"
    info = await cluster.resource_for("example.com/v1", "Gadget")
    assert (info.plural, info.namespaced, info.has_status) == ("gadgets", False, False)
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"x": 1}}
    g = await cluster.apply(gadget, field_manager="t")
    assert g["metadata"]["generation"] == 1
    with pytest.raises(NotFoundError):
        await cluster.patch_status(gadget, {"ok": True})  # no status subresource declared
    await cluster.delete(crd)
    with pytest.raises(UnknownKindError):
        await cluster.get(gadget)


async def test_register_kind() -> None:
    cluster = FakeCluster()
    info = cluster.register_kind("example.com/v1alpha1", "Policy", namespaced=False)
    assert (info.plural, info.namespaced, info.has_status) == ("policies", False, True)
    assert await cluster.resource_for("example.com/v1alpha1", "Policy") == info


async def test_grants() -> None:
    cluster = FakeCluster([cm("a", ns="one"), cm("b", ns="two")])
    dave = cluster.as_user("dave")
    with pytest.raises(ForbiddenError) as info:
        await dave.list("v1", "ConfigMap")
    assert 'User "dave" cannot list resource "configmaps"' in str(info.value)
    cluster.grant("dave", ["list"], kinds=["ConfigMap"], namespace="one")
    assert (await dave.list("v1", "ConfigMap", namespace="one")).names == ("a",)
    with pytest.raises(ForbiddenError):
        await dave.list("v1", "ConfigMap")  # all namespaces needs a cluster-wide grant
    cluster.grant("dave", ["*"], api_group="*")
    assert (await dave.list("v1", "ConfigMap")).names == ("a", "b")
    await dave.aclose()  # closing a view leaves the cluster usable
    assert await cluster.get(cm("a", ns="one")) is not None


async def test_foreground_deletion_waits_for_its_finalizer() -> None:
    cluster = FakeCluster([cm("a")])
    pending = await cluster.delete(cm("a"), propagation_policy="Foreground")
    assert pending is not None
    assert pending["metadata"]["finalizers"] == ["foregroundDeletion"]
    dry = await cluster.patch(cm("a"), {"metadata": {"finalizers": None}}, dry_run=True)
    assert dry["metadata"]["deletionTimestamp"]
    assert await cluster.get(cm("a")) is not None  # the dry run removed nothing
    await cluster.patch(cm("a"), {"metadata": {"finalizers": None}})
    assert await cluster.get(cm("a")) is None


async def test_objects_returned_are_copies() -> None:
    cluster = FakeCluster([cm("a", data={"k": "v"})])
    live = await cluster.get(ObjectKey("v1", "ConfigMap", "default", "a"))
    assert live is not None
    live["data"]["k"] = "changed"
    again = await cluster.get(cm("a"))
    assert again is not None
    assert again["data"] == {"k": "v"}
