"""The differential scenario suite: every test runs on FakeCluster and on a real kube-apiserver (envtest).

Both backends must give the same observable answers. Where the fake cannot match the server, the test says so
in a branch on ``kc.fake`` with the documented difference (see FakeCluster's docstring).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import pytest

from reconcilekit import Resource
from reconcilekit.kube import (
    AlreadyExistsError,
    ConflictError,
    FieldConflict,
    FieldManagerConflictError,
    ForbiddenError,
    GoneError,
    InvalidObjectError,
    NotFoundError,
    ObjectKey,
    UnknownKindError,
    WatchEvent,
)

from .kube_backend import WIDGET_API, Backend

pytestmark = pytest.mark.anyio


def _rv(obj: dict[str, Any] | None) -> str:
    assert obj is not None
    return str(obj["metadata"]["resourceVersion"])


def _managers(obj: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (m["manager"], m["operation"], m.get("subresource", ""))
        for m in obj["metadata"].get("managedFields", [])
    }


async def _collect(events: Any, count: int) -> list[WatchEvent]:
    out: list[WatchEvent] = []
    with anyio.fail_after(10):
        async for event in events:
            out.append(event)
            if len(out) == count:
                break
    return out


# -- create / get / discovery --------------------------------------------------------------------------


async def test_create_and_get(kc: Backend) -> None:
    created = await kc.cluster.create(kc.cm("app", {"k": "v"}))
    assert created["metadata"]["uid"]
    assert created["metadata"]["creationTimestamp"]
    assert created["data"] == {"k": "v"}
    assert "generation" not in created["metadata"]  # ConfigMaps have no generation
    # Writes that name no field manager are recorded under reconcilekit's (the server derives it from the
    # User-Agent; the fake uses the same name).
    assert _managers(created) == {("reconcilekit", "Update", "")}
    live = await kc.cluster.get(ObjectKey("v1", "ConfigMap", kc.namespace, "app"))
    assert live is not None
    assert (live["apiVersion"], live["kind"]) == ("v1", "ConfigMap")
    assert _rv(live) == _rv(created)
    assert await kc.cluster.get(Resource.from_dict(kc.cm("app"))) == live
    assert await kc.cluster.get(kc.cm("missing")) is None
    with pytest.raises(AlreadyExistsError) as info:
        await kc.cluster.create(kc.cm("app"))
    assert info.value.verb == "create"
    assert info.value.target == f"ConfigMap/{kc.namespace}/app"


async def test_discovery(kc: Backend) -> None:
    cm = await kc.cluster.resource_for("v1", "ConfigMap")
    assert (cm.plural, cm.namespaced, cm.has_status) == ("configmaps", True, False)
    ns = await kc.cluster.resource_for("v1", "Namespace")
    assert (ns.plural, ns.namespaced) == ("namespaces", False)
    deploy = await kc.cluster.resource_for("apps/v1", "Deployment")
    assert (deploy.plural, deploy.namespaced, deploy.has_status) == ("deployments", True, True)
    assert "scale" in deploy.subresources
    crb = await kc.cluster.resource_for("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    assert (crb.plural, crb.namespaced) == ("clusterrolebindings", False)
    await kc.install_widget_crd()
    widget = await kc.cluster.resource_for(WIDGET_API, "Widget")
    assert (widget.plural, widget.namespaced, widget.has_status) == ("widgets", True, True)


async def test_unknown_kind(kc: Backend) -> None:
    with pytest.raises(UnknownKindError) as info:
        await kc.cluster.resource_for("nope.example.com/v1", "Gadget")
    assert "Gadget" in str(info.value)
    with pytest.raises(UnknownKindError):
        await kc.cluster.get(ObjectKey("nope.example.com/v1", "Gadget", kc.namespace, "x"))
    with pytest.raises(UnknownKindError):
        await kc.cluster.list("v1", "Gadget")
    bad = {"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "x", "namespace": kc.namespace}}
    with pytest.raises(UnknownKindError) as info:
        await kc.cluster.apply(bad, field_manager="t")
    assert info.value.verb == "apply"


async def test_kind_of_a_deleted_crd_becomes_unknown(kc: Backend) -> None:
    group = f"{kc.namespace}.example.com"  # CRDs are cluster-wide: one group per test on a shared server
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gizmos.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Gizmo", "plural": "gizmos"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    await kc.cluster.apply(crd, field_manager="test-setup")
    gizmo = {
        "apiVersion": f"{group}/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g", "namespace": kc.namespace},
    }
    with anyio.fail_after(30):
        while True:
            try:
                await kc.cluster.apply(gizmo, field_manager="alice")
                break
            except (UnknownKindError, NotFoundError):
                await anyio.sleep(0.1)  # the server needs a moment to serve a new CRD
    assert (await kc.cluster.list(f"{group}/v1", "Gizmo", namespace=kc.namespace)).names == ("g",)
    await kc.cluster.delete(crd)

    async def list_until_unknown() -> None:
        with anyio.fail_after(30):
            while True:
                await kc.cluster.list(f"{group}/v1", "Gizmo", namespace=kc.namespace)
                await anyio.sleep(0.1)  # the server removes the custom resources first, then the kind

    with pytest.raises(UnknownKindError) as info:
        await list_until_unknown()
    assert info.value.verb == "list"


async def test_invalid_objects(kc: Backend) -> None:
    with pytest.raises(InvalidObjectError) as info:
        await kc.cluster.create(kc.cm("Bad_Name"))
    assert "Bad_Name" in str(info.value)
    with pytest.raises(InvalidObjectError):
        await kc.cluster.apply(kc.cm("ok", labels={"app": "not a valid value!"}), field_manager="t")
    # A namespaced kind without a namespace is refused before any request.
    with pytest.raises(InvalidObjectError):
        await kc.cluster.get(ObjectKey("v1", "ConfigMap", None, "x"))


# -- list, selectors, pagination -----------------------------------------------------------------------


async def _seed(kc: Backend) -> None:
    labels = [
        ("a", {"app": "web", "tier": "a"}),
        ("b", {"app": "web", "tier": "b"}),
        ("c", {"app": "db", "tier": "c"}),
        ("d", {"app": "db", "legacy": "yes"}),
        ("e", {}),
    ]
    for name, lab in labels:
        await kc.cluster.create(kc.cm(name, {"n": name}, labels=lab))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (None, ("a", "b", "c", "d", "e")),
        ("app=web", ("a", "b")),
        ("app==db", ("c", "d")),
        ("app!=web", ("c", "d", "e")),
        ("tier in (a,c)", ("a", "c")),
        ("tier notin (a,c)", ("b", "d", "e")),
        ("legacy", ("d",)),
        ("!legacy", ("a", "b", "c", "e")),
        ("app=db,!legacy", ("c",)),
    ],
)
async def test_label_selectors(kc: Backend, selector: str | None, expected: tuple[str, ...]) -> None:
    await _seed(kc)
    listed = await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace, label_selector=selector)
    # envtest puts the kube-root-ca.crt ConfigMap only where a controller-manager runs; there is none.
    assert listed.names == expected
    assert int(listed.resource_version) > 0
    assert all(item["kind"] == "ConfigMap" and item["apiVersion"] == "v1" for item in listed.items)


async def test_bad_selector_is_invalid(kc: Backend) -> None:
    with pytest.raises(InvalidObjectError) as info:
        await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace, label_selector="app in in (")
    assert info.value.verb == "list"


async def test_field_selector(kc: Backend) -> None:
    await _seed(kc)
    listed = await kc.cluster.list(
        "v1", "ConfigMap", namespace=kc.namespace, field_selector="metadata.name=c"
    )
    assert listed.names == ("c",)
    everywhere = await kc.cluster.list("v1", "ConfigMap", field_selector=f"metadata.namespace={kc.namespace}")
    assert everywhere.names == ("a", "b", "c", "d", "e")


async def test_pagination(kc: Backend) -> None:
    await _seed(kc)
    async with aclosing(kc.cluster.list_pages("v1", "ConfigMap", namespace=kc.namespace, limit=2)) as it:
        pages = [page async for page in it]
    assert [p.names for p in pages] == [("a", "b"), ("c", "d"), ("e",)]
    assert [p.continue_token is not None for p in pages] == [True, True, False]
    assert len({p.resource_version for p in pages}) == 1  # one snapshot version for the whole list
    whole = await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace, page_size=2)
    assert whole.names == ("a", "b", "c", "d", "e")
    assert whole.continue_token is None


# -- server-side apply ---------------------------------------------------------------------------------


async def test_apply_creates_then_is_a_no_op(kc: Backend) -> None:
    first = await kc.cluster.apply(kc.cm("app", {"k": "v"}, labels={"a": "1"}), field_manager="alice")
    assert first["data"] == {"k": "v"}
    assert _managers(first) == {("alice", "Apply", "")}
    again = await kc.cluster.apply(kc.cm("app", {"k": "v"}, labels={"a": "1"}), field_manager="alice")
    assert _rv(again) == _rv(first)
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]
    changed = await kc.cluster.apply(kc.cm("app", {"k": "w"}, labels={"a": "1"}), field_manager="alice")
    assert int(_rv(changed)) > int(_rv(first))
    assert changed["data"] == {"k": "w"}


async def test_apply_conflict_between_managers_and_force(kc: Backend) -> None:
    await kc.cluster.apply(kc.cm("app", {"k": "1", "mine": "a"}), field_manager="alice")
    with pytest.raises(FieldManagerConflictError) as info:
        await kc.cluster.apply(kc.cm("app", {"k": "2"}), field_manager="bob")
    assert info.value.conflicts == (FieldConflict("alice", ".data.k"),)
    assert isinstance(info.value, ConflictError)
    assert info.value.verb == "apply"
    # Setting the same value is shared ownership, never a conflict.
    shared = await kc.cluster.apply(kc.cm("app", {"k": "1"}), field_manager="bob")
    assert _managers(shared) == {("alice", "Apply", ""), ("bob", "Apply", "")}
    forced = await kc.cluster.apply(kc.cm("app", {"k": "2"}), field_manager="bob", force=True)
    assert forced["data"] == {"k": "2", "mine": "a"}
    with pytest.raises(FieldManagerConflictError) as back:
        await kc.cluster.apply(kc.cm("app", {"k": "1", "mine": "a"}), field_manager="alice")
    assert back.value.conflicts == (FieldConflict("bob", ".data.k"),)


async def test_apply_removes_fields_the_manager_stops_setting(kc: Backend) -> None:
    await kc.cluster.apply(kc.cm("app", {"x": "1", "y": "2", "z": "3"}), field_manager="alice")
    await kc.cluster.apply(kc.cm("app", {"z": "3"}), field_manager="bob")  # bob shares z
    dropped = await kc.cluster.apply(kc.cm("app", {"x": "1"}), field_manager="alice")
    # y was alice's alone: removed; z is still bob's: kept.
    assert dropped["data"] == {"x": "1", "z": "3"}
    labelled = await kc.cluster.apply(kc.cm("app", {"x": "1"}, labels={"l": "1"}), field_manager="alice")
    assert labelled["metadata"]["labels"] == {"l": "1"}
    unlabelled = await kc.cluster.apply(kc.cm("app", {"x": "1"}), field_manager="alice")
    assert "labels" not in unlabelled["metadata"] or unlabelled["metadata"]["labels"] == {}


async def test_apply_dry_run_stores_nothing(kc: Backend) -> None:
    preview = await kc.cluster.apply(kc.cm("app", {"k": "v"}), field_manager="alice", dry_run=True)
    assert preview["data"] == {"k": "v"}
    assert await kc.cluster.get(kc.cm("app")) is None


async def test_update_ownership_is_recorded_and_apply_then_conflicts(kc: Backend) -> None:
    await kc.cluster.apply(kc.cm("app", {"k": "1"}), field_manager="alice")
    await kc.cluster.patch(kc.cm("app"), {"data": {"k": "hand-edit"}}, field_manager="kubectl-edit")
    live = await kc.cluster.get(kc.cm("app"))
    assert live is not None
    assert ("kubectl-edit", "Update", "") in _managers(live)
    # Taking back a field changed by an Update manager is a conflict too (that is drift, reported).
    with pytest.raises(FieldManagerConflictError) as info:
        await kc.cluster.apply(kc.cm("app", {"k": "1"}), field_manager="alice")
    assert info.value.conflicts == (FieldConflict("kubectl-edit", ".data.k"),)
    fixed = await kc.cluster.apply(kc.cm("app", {"k": "1"}), field_manager="alice", force=True)
    assert fixed["data"] == {"k": "1"}


async def test_apply_with_a_stale_resource_version_conflicts(kc: Backend) -> None:
    first = await kc.cluster.apply(kc.cm("app", {"k": "1"}), field_manager="alice")
    await kc.cluster.apply(kc.cm("app", {"k": "2"}), field_manager="alice")
    stale = kc.cm("app", {"k": "3"}, resourceVersion=_rv(first))
    with pytest.raises(ConflictError) as info:
        await kc.cluster.apply(stale, field_manager="alice")
    assert not isinstance(info.value, FieldManagerConflictError)


async def test_finalizers_from_two_managers_merge_as_a_set(kc: Backend) -> None:
    await kc.cluster.apply(kc.cm("app", finalizers=["a.example.com/x"]), field_manager="alice")
    both = await kc.cluster.apply(kc.cm("app", finalizers=["b.example.com/y"]), field_manager="bob")
    assert sorted(both["metadata"]["finalizers"]) == ["a.example.com/x", "b.example.com/y"]
    only_bob = await kc.cluster.apply(kc.cm("app"), field_manager="alice")
    assert only_bob["metadata"]["finalizers"] == ["b.example.com/y"]
    await kc.cluster.apply(kc.cm("app"), field_manager="bob")
    assert await kc.cluster.delete(kc.cm("app")) is None


async def test_apply_accepts_a_resource_and_generate_name_works_on_create(kc: Backend) -> None:
    applied = await kc.cluster.apply(Resource.from_dict(kc.cm("app", {"k": "v"})), field_manager="alice")
    assert applied["data"] == {"k": "v"}
    body = kc.cm("ignored", {"k": "v"})
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "gen-"
    made = await kc.cluster.create(body)
    assert made["metadata"]["name"].startswith("gen-")
    assert len(made["metadata"]["name"]) == len("gen-") + 5
    assert made["metadata"]["generateName"] == "gen-"
    preview = await kc.cluster.create(kc.cm("dry", {"k": "v"}), dry_run=True)
    assert preview["data"] == {"k": "v"}
    assert await kc.cluster.get(kc.cm("dry")) is None


async def test_cluster_scoped_kind(kc: Backend) -> None:
    name = f"{kc.namespace}-reader"  # cluster-scoped: unique per test on a shared server
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"test": kc.namespace}},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    applied = await kc.cluster.apply(role, field_manager="alice")
    assert "namespace" not in applied["metadata"]
    key = ObjectKey("rbac.authorization.k8s.io/v1", "ClusterRole", None, name)
    live = await kc.cluster.get(key)
    assert live is not None
    assert live["rules"] == role["rules"]
    listed = await kc.cluster.list(
        "rbac.authorization.k8s.io/v1", "ClusterRole", label_selector=f"test={kc.namespace}"
    )
    assert listed.names == (name,)
    assert await kc.cluster.delete(key) is None
    assert await kc.cluster.get(key) is None


async def test_list_in_all_namespaces(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app", labels={"test": kc.namespace}))
    listed = await kc.cluster.list("v1", "ConfigMap", label_selector=f"test={kc.namespace}")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed.items] == [
        (kc.namespace, "app")
    ]


# -- update, patch, conflicts, generation, status ------------------------------------------------------


async def test_update_with_stale_resource_version_conflicts(kc: Backend) -> None:
    created = await kc.cluster.create(kc.cm("app", {"k": "1"}))
    same = await kc.cluster.update(created)
    assert _rv(same) == _rv(created)  # an update that changes nothing writes nothing
    changed = dict(created, data={"k": "2"})
    updated = await kc.cluster.update(changed)
    assert int(_rv(updated)) > int(_rv(created))
    with pytest.raises(ConflictError) as info:
        await kc.cluster.update(dict(created, data={"k": "3"}))
    assert info.value.verb == "update"
    assert info.value.target == f"ConfigMap/{kc.namespace}/app"
    assert not isinstance(info.value, FieldManagerConflictError)
    with pytest.raises(NotFoundError):
        await kc.cluster.update(kc.cm("missing", {"k": "1"}))


async def test_patch_merge_and_json(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app", {"a": "1", "b": "2"}))
    merged = await kc.cluster.patch(kc.cm("app"), {"data": {"a": None, "c": "3"}})
    assert merged["data"] == {"b": "2", "c": "3"}
    patched = await kc.cluster.patch(
        kc.cm("app"), [{"op": "replace", "path": "/data/b", "value": "20"}], patch_type="json"
    )
    assert patched["data"] == {"b": "20", "c": "3"}
    with pytest.raises(InvalidObjectError):
        await kc.cluster.patch(
            kc.cm("app"), [{"op": "test", "path": "/data/b", "value": "x"}], patch_type="json"
        )
    with pytest.raises(NotFoundError) as info:
        await kc.cluster.patch(kc.cm("missing"), {"data": {"a": "1"}})
    assert info.value.verb == "patch"


async def test_generation_and_status_subresource(kc: Backend) -> None:
    await kc.install_widget_crd()
    w = await kc.cluster.apply(kc.widget("w1", {"size": 1}), field_manager="alice")
    assert w["metadata"]["generation"] == 1
    w = await kc.cluster.apply(kc.widget("w1", {"size": 2}), field_manager="alice")
    assert w["metadata"]["generation"] == 2
    w = await kc.cluster.apply(kc.widget("w1", {"size": 2}, labels={"x": "y"}), field_manager="alice")
    assert w["metadata"]["generation"] == 2  # metadata changes do not bump generation
    s = await kc.cluster.patch_status(w, {"phase": "Ready", "observedGeneration": 2}, field_manager="ctrl")
    assert s["status"] == {"phase": "Ready", "observedGeneration": 2}
    assert s["metadata"]["generation"] == 2
    assert ("ctrl", "Update", "status") in _managers(s)
    # Status in a main-resource write is ignored; spec in a status write is ignored.
    main = await kc.cluster.update(dict(s, status={"phase": "Hacked"}))
    assert main["status"] == {"phase": "Ready", "observedGeneration": 2}
    st = await kc.cluster.update_status(dict(main, spec={"size": 99}, status={"phase": "Done"}))
    assert st["spec"] == {"size": 2}
    assert st["status"] == {"phase": "Done"}
    with pytest.raises(ConflictError):
        await kc.cluster.update_status(dict(main, status={"phase": "Stale"}))
    # Custom resources must be updated with a resourceVersion.
    unversioned = dict(st, metadata={k: v for k, v in st["metadata"].items() if k != "resourceVersion"})
    with pytest.raises(InvalidObjectError):
        await kc.cluster.update(unversioned)


async def test_status_of_a_kind_without_status_subresource_is_not_found(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app"))
    with pytest.raises(NotFoundError) as info:
        await kc.cluster.patch_status(kc.cm("app"), {"x": "y"})
    assert info.value.verb == "patch status of"


# -- delete and finalizers -----------------------------------------------------------------------------


async def test_delete(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app"))
    assert await kc.cluster.delete(kc.cm("app")) is None
    assert await kc.cluster.get(kc.cm("app")) is None
    with pytest.raises(NotFoundError) as info:
        await kc.cluster.delete(kc.cm("app"))
    assert (info.value.verb, info.value.target) == ("delete", f"ConfigMap/{kc.namespace}/app")


async def test_delete_waits_for_finalizers(kc: Backend) -> None:
    await kc.install_widget_crd()
    w = await kc.cluster.apply(
        kc.widget("w1", {"size": 1}, finalizers=["test.reconcilekit.dev/hold"]), field_manager="alice"
    )
    assert w["metadata"]["generation"] == 1
    pending = await kc.cluster.delete(w)
    assert pending is not None
    assert pending["metadata"]["deletionTimestamp"]
    assert pending["metadata"]["generation"] == 2  # starting deletion bumps generation
    live = await kc.cluster.get(w)
    assert live is not None
    assert live["metadata"]["deletionTimestamp"]
    again = await kc.cluster.delete(w)  # deleting again changes nothing
    assert again is not None
    assert _rv(again) == _rv(live)
    with pytest.raises(InvalidObjectError):
        await kc.cluster.patch(w, {"metadata": {"finalizers": ["test.reconcilekit.dev/hold", "another/one"]}})
    await kc.cluster.patch(w, {"metadata": {"finalizers": None}})
    assert await kc.cluster.get(w) is None


async def test_orphan_propagation_adds_the_orphan_finalizer(kc: Backend) -> None:
    # Neither envtest nor the fake runs the garbage collector, so the object waits with the finalizer.
    await kc.cluster.create(kc.cm("app"))
    pending = await kc.cluster.delete(kc.cm("app"), propagation_policy="Orphan")
    assert pending is not None
    assert pending["metadata"]["finalizers"] == ["orphan"]
    await kc.cluster.patch(kc.cm("app"), {"metadata": {"finalizers": None}})
    assert await kc.cluster.get(kc.cm("app")) is None


# -- watch ---------------------------------------------------------------------------------------------


async def test_watch_from_a_list_version(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("before"))
    listed = await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace)
    async with aclosing(
        kc.cluster.watch("v1", "ConfigMap", namespace=kc.namespace, resource_version=listed.resource_version)
    ) as events:
        await kc.cluster.create(kc.cm("app", {"k": "1"}))
        await kc.cluster.patch(kc.cm("app"), {"data": {"k": "2"}})
        await kc.cluster.delete(kc.cm("app"))
        seen = await _collect(events, 3)
    assert [(e.type, e.name) for e in seen] == [("ADDED", "app"), ("MODIFIED", "app"), ("DELETED", "app")]
    assert seen[1].object["data"] == {"k": "2"}
    assert int(seen[2].resource_version) > int(seen[1].resource_version)


async def test_watch_without_version_starts_with_existing_objects(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("a"))
    await kc.cluster.create(kc.cm("b"))
    async with aclosing(kc.cluster.watch("v1", "ConfigMap", namespace=kc.namespace)) as events:
        initial = await _collect(events, 2)
        await kc.cluster.create(kc.cm("c"))
        later = await _collect(events, 1)
    assert sorted((e.type, e.name) for e in initial) == [("ADDED", "a"), ("ADDED", "b")]
    assert [(e.type, e.name) for e in later] == [("ADDED", "c")]


async def test_watch_with_label_selector_sees_objects_enter_and_leave(kc: Backend) -> None:
    listed = await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace)
    async with aclosing(
        kc.cluster.watch(
            "v1",
            "ConfigMap",
            namespace=kc.namespace,
            label_selector="watched=yes",
            resource_version=listed.resource_version,
        )
    ) as events:
        await kc.cluster.create(kc.cm("app"))
        await kc.cluster.patch(kc.cm("app"), {"metadata": {"labels": {"watched": "yes"}}})
        await kc.cluster.patch(kc.cm("app"), {"data": {"k": "v"}})
        await kc.cluster.patch(kc.cm("app"), {"metadata": {"labels": {"watched": "no"}}})
        seen = await _collect(events, 3)
    assert [e.type for e in seen] == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_relists_after_410_gone(kc_gone: Backend) -> None:
    kc = kc_gone
    await kc.cluster.create(kc.cm("a"))
    await kc.cluster.create(kc.cm("b"))
    start = (await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace)).resource_version
    await kc.cluster.create(kc.cm("c"))
    await kc.cluster.delete(kc.cm("a"))
    await kc.compact()
    # Both backends answer 410 Gone for the compacted version; the watch lists again and reports what is
    # there now (ADDED, since this watch had seen nothing yet), then follows changes.
    async with aclosing(
        kc.cluster.watch("v1", "ConfigMap", namespace=kc.namespace, resource_version=start)
    ) as events:
        relisted = await _collect(events, 2)
        await kc.cluster.delete(kc.cm("b"))
        after = await _collect(events, 1)
    assert sorted((e.type, e.name) for e in relisted) == [("ADDED", "b"), ("ADDED", "c")]
    assert [(e.type, e.name) for e in after] == [("DELETED", "b")]


async def _drain(stream: Any) -> None:
    with anyio.fail_after(20):
        async with aclosing(stream) as events:
            async for _ in events:
                pass


async def test_raw_watch_stream_answers_410_after_compaction(kc_gone: Backend) -> None:
    kc = kc_gone
    await kc.cluster.create(kc.cm("a"))
    start = (await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace)).resource_version
    # Two more writes: compaction keeps the latest revision, so the version right after ``start`` must be
    # older than it for the watch to be refused.
    await kc.cluster.create(kc.cm("b"))
    await kc.cluster.create(kc.cm("c"))
    await kc.compact()
    stream = kc.cluster._stream("v1", "ConfigMap", kc.namespace, None, None, start)  # type: ignore[attr-defined]
    with pytest.raises(GoneError) as info:
        await _drain(stream)
    assert info.value.verb == "watch"


async def test_watch_sees_deletion_wait_for_finalizers(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app", finalizers=["a.example.com/x"]))
    listed = await kc.cluster.list("v1", "ConfigMap", namespace=kc.namespace)
    async with aclosing(
        kc.cluster.watch("v1", "ConfigMap", namespace=kc.namespace, resource_version=listed.resource_version)
    ) as events:
        await kc.cluster.delete(kc.cm("app"))
        await kc.cluster.patch(kc.cm("app"), {"metadata": {"finalizers": None}})
        seen = await _collect(events, 2)
    assert [e.type for e in seen] == ["MODIFIED", "DELETED"]
    assert seen[0].object["metadata"]["deletionTimestamp"]


async def test_closing_the_cluster_ends_open_watches(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("a"))
    events = kc.cluster.watch("v1", "ConfigMap", namespace=kc.namespace)
    first = await _collect(events, 1)
    assert [(e.type, e.name) for e in first] == [("ADDED", "a")]

    async def close_soon() -> None:
        await anyio.sleep(0.3)
        await kc.cluster.aclose()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(close_soon)
            rest = [e async for e in events]
    assert rest == []
    await events.aclose()


# -- RBAC ----------------------------------------------------------------------------------------------


async def test_forbidden_until_granted(kc: Backend) -> None:
    await kc.cluster.create(kc.cm("app", {"k": "v"}))
    alice = await kc.as_user("alice")
    with pytest.raises(ForbiddenError) as info:
        await alice.get(kc.cm("app"))
    assert (info.value.verb, info.value.target) == ("get", f"ConfigMap/{kc.namespace}/app")
    assert "alice" in str(info.value)
    with pytest.raises(ForbiddenError):
        await alice.list("v1", "ConfigMap", namespace=kc.namespace)
    await kc.grant("alice", ["get", "list"], "", "configmaps", "ConfigMap")
    with anyio.fail_after(10):  # RBAC changes reach the authorizer's cache within moments
        while True:
            try:
                live = await alice.get(kc.cm("app"))
                break
            except ForbiddenError:
                await anyio.sleep(0.1)
    assert live is not None
    assert live["data"] == {"k": "v"}
    assert (await alice.list("v1", "ConfigMap", namespace=kc.namespace)).names == ("app",)
    with pytest.raises(ForbiddenError) as denied:
        await alice.apply(kc.cm("app", {"k": "w"}), field_manager="alice")
    assert denied.value.verb == "apply"


# -- where the fake differs (each difference is listed in FakeCluster's docstring) ----------------------


def _deployment(kc: Backend, name: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": kc.namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    }


async def test_difference_no_defaulting(kc: Backend) -> None:
    applied = await kc.cluster.apply(
        _deployment(kc, "web", [{"name": "app", "image": "nginx:1.27"}]), field_manager="alice"
    )
    assert applied["metadata"]["generation"] == 1
    if kc.fake:
        # Documented: the fake fills in no defaults.
        assert "strategy" not in applied["spec"]
        assert "imagePullPolicy" not in applied["spec"]["template"]["spec"]["containers"][0]
    else:
        assert applied["spec"]["strategy"]["type"] == "RollingUpdate"
        assert applied["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


async def test_difference_no_schema_validation(kc: Backend) -> None:
    bad = _deployment(kc, "web", [{"name": "app", "image": "nginx:1.27"}])
    bad["spec"]["notAField"] = True
    if kc.fake:
        # Documented: no schema, so unknown fields are kept.
        applied = await kc.cluster.apply(bad, field_manager="alice")
        assert applied["spec"]["notAField"] is True
    else:
        with pytest.raises(InvalidObjectError) as info:
            await kc.cluster.apply(bad, field_manager="alice")
        assert "notAField" in str(info.value)


async def test_difference_associative_lists_merge_per_item(kc: Backend) -> None:
    # Two managers each own one container of the same Deployment: the server merges ``containers`` by name.
    # The fake treats lists atomically, so the second manager conflicts with the first (documented).
    await kc.cluster.apply(
        _deployment(kc, "web", [{"name": "app", "image": "nginx:1.27"}]), field_manager="alice"
    )
    sidecar = _deployment(kc, "web", [{"name": "sidecar", "image": "busybox:1.36"}])
    if kc.fake:
        with pytest.raises(FieldManagerConflictError):
            await kc.cluster.apply(sidecar, field_manager="bob")
        return
    merged = await kc.cluster.apply(sidecar, field_manager="bob")
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["app", "sidecar"]


async def test_difference_pages_are_not_a_snapshot(kc: Backend) -> None:
    for name in ("a", "c", "e"):
        await kc.cluster.create(kc.cm(name))
    async with aclosing(kc.cluster.list_pages("v1", "ConfigMap", namespace=kc.namespace, limit=2)) as pages:
        first = await pages.__anext__()
        await kc.cluster.create(kc.cm("d"))  # sorts after the first page
        rest = [p async for p in pages]
    assert first.names == ("a", "c")
    later = tuple(n for p in rest for n in p.names)
    if kc.fake:
        assert later == ("d", "e")  # documented: later pages read the current state
    else:
        assert later == ("e",)  # the server serves every page from the first page's snapshot


async def test_difference_namespace_deletion(kc: Backend) -> None:
    other = f"{kc.namespace}-x"
    ns: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}
    app = ObjectKey("v1", "ConfigMap", other, "app")
    await kc.cluster.apply(ns, field_manager="alice")
    await kc.cluster.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": other}}
    )
    remaining = await kc.cluster.delete(ns)
    if kc.fake:
        # Documented: no namespace controller to wait for, the namespace and its objects go at once.
        assert remaining is None
        assert await kc.cluster.get(ns) is None
        assert await kc.cluster.get(app) is None
    else:
        # envtest runs no namespace controller: the namespace stays Terminating, with its objects.
        live = await kc.cluster.get(ns)
        assert live is not None
        assert live["status"]["phase"] == "Terminating"
        assert await kc.cluster.get(app) is not None
