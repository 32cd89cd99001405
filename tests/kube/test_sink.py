"""KubernetesSink scenarios, each run against FakeCluster and a real kube-apiserver (envtest).

Where the fake cannot behave like the server (no immutable fields, no CRD Established delay), the test asserts
the documented difference instead of skipping.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from typing import Any

import anyio
import pytest

from reconcilekit import ApplyReport, Context, ObjectRef, Resource, ResourceSet
from reconcilekit.kube import (
    PRUNE_ANNOTATION,
    SSA_ANNOTATION,
    FieldManagerConflictError,
    ForbiddenError,
    HealthCheckError,
    InvalidManifestError,
    InvalidObjectError,
    KubernetesSink,
    NotFoundError,
    ObjectKey,
    PruneToEmptyError,
    SecretApplyError,
)

from .kube_backend import Backend

pytestmark = pytest.mark.anyio


def _sink(kc: Backend, name: str = "app", **kwargs: Any) -> KubernetesSink:
    return KubernetesSink(kc.cluster, name=name, namespace=kc.namespace, **kwargs)


async def _apply(sink: KubernetesSink, *objs: dict[str, Any], dry_run: bool = False) -> ApplyReport:
    return await sink.apply(ResourceSet.from_dicts(objs), Context(dry_run=dry_run))


def _ref(obj: dict[str, Any]) -> ObjectRef:
    return Resource.from_dict(obj).ref


async def _data(kc: Backend, obj: dict[str, Any]) -> dict[str, str] | None:
    live = await kc.cluster.get(obj)
    return None if live is None else dict(live.get("data") or {})


async def _rvs(kc: Backend, objs: list[dict[str, Any]]) -> list[str]:
    out = []
    for obj in objs:
        live = await kc.cluster.get(obj)
        assert live is not None
        out.append(live["metadata"]["resourceVersion"])
    return out


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- create / configure / unchanged -------------------------------------------------------------------


async def test_create_configure_unchanged_and_no_writes(kc: Backend) -> None:
    sink = _sink(kc)
    # Seven ConfigMaps: enough that the sink reads them with one list instead of seven gets.
    cms = [kc.cm(f"cm-{i}", {"k": str(i)}) for i in range(7)]
    report = await _apply(sink, *cms)
    assert report.created == tuple(_ref(c) for c in cms)
    assert not report.configured
    assert not report.unchanged
    assert not report.pruned

    changed = [kc.cm("cm-0", {"k": "new"}), *cms[1:]]
    report = await _apply(sink, *changed)
    assert report.configured == (_ref(cms[0]),)
    assert report.unchanged == tuple(_ref(c) for c in cms[1:])
    assert await _data(kc, cms[0]) == {"k": "new"}

    inventory_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-inventory", "namespace": kc.namespace},
    }
    before = await _rvs(kc, [*changed, inventory_cm])
    report = await _apply(sink, *changed)
    assert report.unchanged == tuple(_ref(c) for c in changed)
    assert not report.changed
    assert not report.drifted
    assert await _rvs(kc, [*changed, inventory_cm]) == before  # zero writes, inventory included

    # Nobody wrote since, so the sink does not even dry-run; after someone else writes (a label nobody
    # else cares about), it dry-runs again and still finds nothing to change for itself.
    await kc.cluster.patch(cms[3], {"metadata": {"labels": {"team": "x"}}}, field_manager="other")
    report = await _apply(sink, *changed)
    assert not report.changed
    assert not report.drifted
    live = await kc.cluster.get(cms[3])
    assert live is not None
    assert live["metadata"]["labels"] == {"team": "x"}


async def test_inventory_format(kc: Backend) -> None:
    sink = _sink(kc, name="inv")
    cm = kc.cm("a", {"k": "v"})
    await _apply(sink, cm)
    entries = await sink.inventory()
    assert [e.id for e in entries] == [f"{kc.namespace}_a__ConfigMap"]
    assert entries[0].version == "v1"
    assert entries[0].digest.startswith("sha256:")
    live = await kc.cluster.get(ObjectKey("v1", "ConfigMap", kc.namespace, "inv-inventory"))
    assert live is not None
    doc = json.loads(live["data"]["inventory.json"])
    assert doc["format"] == "reconcilekit.dev/inventory/v1"
    assert doc["entries"][0]["id"] == f"{kc.namespace}_a__ConfigMap"
    assert live["metadata"]["labels"]["reconcilekit.dev/inventory"] == "inv"


# -- prune ----------------------------------------------------------------------------------------------


async def test_prune_removed_objects(kc: Backend) -> None:
    sink = _sink(kc)
    a, b, c = kc.cm("a", {"k": "a"}), kc.cm("b", {"k": "b"}), kc.cm("c", {"k": "c"})
    await _apply(sink, a, b, c)
    report = await _apply(sink, a)
    assert report.pruned == (_ref(b), _ref(c))
    assert await kc.cluster.get(b) is None
    assert await kc.cluster.get(c) is None
    assert [e.ref for e in await sink.inventory()] == [_ref(a)]
    # Objects already gone are fine: delete one behind the sink's back, then drop it.
    await _apply(sink, a, b)
    await kc.cluster.delete(b)
    report = await _apply(sink, a)
    assert report.pruned == ()
    assert report.unchanged == (_ref(a),)


@pytest.mark.parametrize("annotation", [PRUNE_ANNOTATION, "kustomize.toolkit.fluxcd.io/prune"])
async def test_prune_opt_out(kc: Backend, annotation: str) -> None:
    sink = _sink(kc)
    a = kc.cm("a", {"k": "a"})
    keep = kc.cm("keep", {"k": "b"}, annotations={annotation: "disabled"})
    await _apply(sink, a, keep)
    report = await _apply(sink, a)
    assert report.pruned == ()
    assert await kc.cluster.get(keep) is not None
    assert [e.ref for e in await sink.inventory()] == [_ref(a)]  # forgotten, as Flux does


async def test_prune_to_empty_refused_then_allowed(kc: Backend) -> None:
    a = kc.cm("a", {"k": "a"})
    await _apply(_sink(kc), a)
    with pytest.raises(PruneToEmptyError, match="refusing to prune all 1 managed objects"):
        await _apply(_sink(kc))
    assert await kc.cluster.get(a) is not None
    report = await _apply(_sink(kc, allow_empty=True))
    assert report.pruned == (_ref(a),)
    assert await kc.cluster.get(a) is None
    assert await _sink(kc).inventory() == ()


async def test_prune_false_keeps_objects(kc: Backend) -> None:
    a, b = kc.cm("a", {"k": "a"}), kc.cm("b", {"k": "b"})
    await _apply(_sink(kc), a, b)
    report = await _apply(_sink(kc, prune=False), a)
    assert report.pruned == ()
    assert await kc.cluster.get(b) is not None


# -- failures write nothing -----------------------------------------------------------------------------


async def test_invalid_object_in_the_middle_writes_nothing_and_prunes_nothing(kc: Backend) -> None:
    sink = _sink(kc)
    a, b = kc.cm("a", {"k": "a"}), kc.cm("b", {"k": "b"})
    await _apply(sink, a, b)
    inventory_before = await sink.inventory()
    a2 = kc.cm("a", {"k": "changed"})
    bad = kc.cm("bad", {"k": "v"}, labels={"app": "not a valid label value!"})
    new = kc.cm("new", {"k": "v"})
    with pytest.raises(InvalidObjectError, match="bad"):
        await _apply(sink, a2, bad, new)  # b left the set, but nothing may be pruned
    assert await _data(kc, a) == {"k": "a"}
    assert await kc.cluster.get(new) is None
    assert await kc.cluster.get(b) is not None
    assert await sink.inventory() == inventory_before


async def test_unknown_kind_refused_before_any_write(kc: Backend) -> None:
    sink = _sink(kc)
    a = kc.cm("a", {"k": "a"})
    unknown = {"apiVersion": "nope.example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}}
    with pytest.raises(InvalidManifestError, match=r"Nothing.* is not served at nope.example.com/v1"):
        await _apply(sink, a, unknown)
    assert await kc.cluster.get(a) is None


async def test_cluster_scoped_object_with_namespace_refused(kc: Backend) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": _unique("role"), "namespace": kc.namespace},
        "rules": [],
    }
    with pytest.raises(InvalidManifestError, match=r"cluster-scoped but metadata\.namespace is set"):
        await _apply(_sink(kc), role)


async def test_bad_ssa_annotation_refused(kc: Backend) -> None:
    cm = kc.cm("a", {"k": "v"}, annotations={SSA_ANNOTATION: "Sometimes"})
    with pytest.raises(InvalidManifestError, match="must be one of Override, Merge, IfNotPresent, Ignore"):
        await _apply(_sink(kc), cm)


# -- staging: CRDs and Namespaces first ----------------------------------------------------------------


def _gadget_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    },
                }
            ],
        },
    }


async def test_crd_and_custom_resource_in_one_set(kc: Backend) -> None:
    group = f"{_unique('sink')}.test.reconcilekit.dev"
    crd = _gadget_crd(group)
    gadget = {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": kc.namespace},
        "spec": {"size": 3},
    }
    sink = _sink(kc, timeout=60)
    try:
        # The custom resource comes first in the set; the CRD is applied first anyway.
        report = await _apply(sink, gadget, crd)
        assert report.created == (_ref(crd), _ref(gadget))
        live = await kc.cluster.get(gadget)
        assert live is not None
        assert live["spec"] == {"size": 3}
        report = await _apply(sink, gadget, crd)
        assert report.unchanged == (_ref(crd), _ref(gadget))
        # Pruning goes in reverse apply order: the custom resource before its CRD.
        report = await _apply(_sink(kc, allow_empty=True))
        assert report.pruned == (_ref(crd), _ref(gadget))  # reported in apply order
    finally:
        with contextlib.suppress(NotFoundError):
            await kc.cluster.delete(crd)


async def test_dry_run_of_crd_and_custom_resource_writes_nothing(kc: Backend) -> None:
    group = f"{_unique('sink')}.test.reconcilekit.dev"
    crd = _gadget_crd(group)
    gadget = {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": kc.namespace},
    }
    report = await _apply(_sink(kc), crd, gadget, dry_run=True)
    assert report.created == (_ref(crd), _ref(gadget))
    assert await kc.cluster.get(crd) is None


async def test_namespace_and_namespaced_objects_in_one_set(kc: Backend) -> None:
    ns_name = _unique("sinkns")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns_name}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": ns_name}}
    sink = _sink(kc)
    try:
        report = await _apply(sink, cm, ns)
        assert report.created == (_ref(ns), _ref(cm))
        assert await kc.cluster.get(cm) is not None
        report = await _apply(_sink(kc, allow_empty=True))
        assert report.pruned == (_ref(ns), _ref(cm))
        live_ns = await kc.cluster.get(ns)
        # The real server's namespace controller is not running in envtest: the namespace stays Terminating.
        assert live_ns is None or live_ns["metadata"].get("deletionTimestamp")
    finally:
        with contextlib.suppress(NotFoundError):
            await kc.cluster.delete(ns)


# -- drift ---------------------------------------------------------------------------------------------


async def test_drift_corrected(kc: Backend) -> None:
    sink = _sink(kc)
    cm = kc.cm("a", {"k": "v", "other": "1"})
    await _apply(sink, cm)
    # A hand edit with another field manager (operation Update: kubectl edit).
    await kc.cluster.patch(cm, {"data": {"k": "edited"}}, field_manager="kubectl-edit")
    report = await _apply(sink, cm)
    assert report.drifted == (_ref(cm),)
    assert report.configured == (_ref(cm),)
    assert await _data(kc, cm) == {"k": "v", "other": "1"}
    report = await _apply(sink, cm)
    assert not report.drifted
    assert report.unchanged == (_ref(cm),)

    # A field removed by hand is drift too.
    live = await kc.cluster.get(cm)
    assert live is not None
    del live["data"]["other"]
    await kc.cluster.update(live, field_manager="kubectl-edit")
    report = await _apply(sink, cm)
    assert report.drifted == (_ref(cm),)
    assert await _data(kc, cm) == {"k": "v", "other": "1"}


async def test_drift_detect_only_reports(kc: Backend) -> None:
    sink = _sink(kc, drift="detect")
    cm = kc.cm("a", {"k": "v"})
    await _apply(sink, cm)
    await kc.cluster.patch(cm, {"data": {"k": "edited"}}, field_manager="kubectl-edit")
    for _ in range(2):  # reported again until someone acts
        report = await _apply(sink, cm)
        assert report.drifted == (_ref(cm),)
        assert report.unchanged == (_ref(cm),)
        assert not report.changed
        assert await _data(kc, cm) == {"k": "edited"}
    # A change of the desired object is applied (and then it is not drift but a configuration).
    with pytest.raises(FieldManagerConflictError, match="kubectl-edit"):
        await _apply(sink, kc.cm("a", {"k": "v2"}))
    report = await _apply(_sink(kc, drift="detect", force=True), kc.cm("a", {"k": "v2"}))
    assert report.configured == (_ref(cm),)
    assert not report.drifted


async def test_fields_added_by_other_managers_are_left_alone(kc: Backend) -> None:
    sink = _sink(kc)
    cm = kc.cm("a", {"k": "v"})
    await _apply(sink, cm)
    await kc.cluster.patch(
        cm, {"data": {"extra": "x"}, "metadata": {"annotations": {"note": "y"}}}, field_manager="other"
    )
    report = await _apply(sink, cm)
    assert not report.drifted
    assert report.unchanged == (_ref(cm),)
    assert await _data(kc, cm) == {"k": "v", "extra": "x"}


# -- ssa annotations, conflicts, force -----------------------------------------------------------------


@pytest.mark.parametrize("key", [SSA_ANNOTATION, "kustomize.toolkit.fluxcd.io/ssa"])
async def test_ssa_ignore_and_if_not_present(kc: Backend, key: str) -> None:
    sink = _sink(kc)
    ignored = kc.cm("ignored", {"k": "v"}, annotations={key: "Ignore"})
    once = kc.cm("once", {"k": "v1"}, annotations={key: "IfNotPresent"})
    merged = kc.cm("merged", {"k": "v"}, annotations={key: "Merge"})
    report = await _apply(sink, ignored, once, merged)
    assert report.created == (_ref(once), _ref(merged))
    assert report.unchanged == (_ref(ignored),)
    assert await kc.cluster.get(ignored) is None
    once2 = kc.cm("once", {"k": "v2"}, annotations={key: "IfNotPresent"})
    report = await _apply(sink, ignored, once2, merged)
    assert report.unchanged == (_ref(ignored), _ref(once), _ref(merged))
    assert await _data(kc, once) == {"k": "v1"}
    # Ignored and IfNotPresent objects stay in the inventory (not pruned while in the set).
    assert {e.ref for e in await sink.inventory()} == {_ref(ignored), _ref(once), _ref(merged)}


async def test_conflict_with_another_manager(kc: Backend) -> None:
    await kc.cluster.apply(kc.cm("a", {"k": "theirs"}), field_manager="other-tool")
    mine = kc.cm("a", {"k": "mine"})
    with pytest.raises(FieldManagerConflictError) as info:
        await _apply(_sink(kc), mine)
    assert "other-tool" in str(info.value)
    assert f"ConfigMap/{kc.namespace}/a" in str(info.value)
    assert await _data(kc, mine) == {"k": "theirs"}
    report = await _apply(_sink(kc, force=True), mine)
    assert report.configured == (_ref(mine),)
    assert await _data(kc, mine) == {"k": "mine"}


async def test_immutable_field_change(kc: Backend) -> None:
    cm = kc.cm("frozen", {"k": "v1"})
    cm["immutable"] = True
    await _apply(_sink(kc), cm)
    uid = (await kc.cluster.get(cm) or {})["metadata"]["uid"]
    changed = kc.cm("frozen", {"k": "v2"})
    changed["immutable"] = True
    if kc.fake:
        # Documented difference: FakeCluster has no immutable fields, so the change is a plain update.
        report = await _apply(_sink(kc), changed)
        assert report.configured == (_ref(cm),)
        return
    with pytest.raises(InvalidObjectError, match="immutable"):
        await _apply(_sink(kc), changed)
    report = await _apply(_sink(kc, force=True, timeout=30), changed)
    assert report.configured == (_ref(cm),)
    live = await kc.cluster.get(cm)
    assert live is not None
    assert live["data"] == {"k": "v2"}
    assert live["metadata"]["uid"] != uid


# -- dry run, target namespace ----------------------------------------------------------------------------


async def test_dry_run_writes_nothing(kc: Backend) -> None:
    sink = _sink(kc)
    a, b = kc.cm("a", {"k": "a"}), kc.cm("b", {"k": "b"})
    report = await _apply(sink, a, b, dry_run=True)
    assert report.created == (_ref(a), _ref(b))
    assert await kc.cluster.get(a) is None
    assert await sink.inventory() == ()
    await _apply(sink, a, b)
    before = await _rvs(kc, [a, b])
    report = await _apply(sink, kc.cm("a", {"k": "changed"}), kc.cm("c"), dry_run=True)
    assert report.configured == (_ref(a),)
    assert report.created == (_ref(kc.cm("c")),)
    assert report.pruned == (_ref(b),)
    assert await _rvs(kc, [a, b]) == before
    assert await kc.cluster.get(kc.cm("c")) is None
    assert [e.ref for e in await sink.inventory()] == [_ref(a), _ref(b)]


async def test_target_namespace(kc: Backend) -> None:
    sink = _sink(kc, target_namespace=kc.namespace)
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {"k": "v"}}
    elsewhere = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "moved", "namespace": "else"}}
    report = await _apply(sink, plain, elsewhere)
    assert report.created == (
        ObjectRef("", "ConfigMap", kc.namespace, "plain"),
        ObjectRef("", "ConfigMap", kc.namespace, "moved"),
    )
    assert await kc.cluster.get(ObjectKey("v1", "ConfigMap", kc.namespace, "moved")) is not None


# -- secrets ------------------------------------------------------------------------------------------------


async def test_secret_values_stay_out_of_errors_and_inventory(kc: Backend) -> None:
    value = "hunter2-" + uuid.uuid4().hex
    encoded = base64.b64encode(value.encode()).decode()
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": kc.namespace, "labels": {"bad": "no spaces allowed!"}},
        "data": {"password": encoded},
    }
    with pytest.raises(SecretApplyError) as info:
        await _apply(_sink(kc), secret)
    text = str(info.value)
    assert f"Secret/{kc.namespace}/creds" in text
    assert value not in text
    assert encoded not in text
    assert info.value.__context__ is None
    assert info.value.__cause__ is None

    del secret["metadata"]["labels"]
    await _apply(_sink(kc), secret)
    inventory = await kc.cluster.get(ObjectKey("v1", "ConfigMap", kc.namespace, "app-inventory"))
    assert inventory is not None
    assert value not in json.dumps(inventory)
    assert encoded not in json.dumps(inventory)
    assert (await _sink(kc).inventory())[0].digest.startswith("hmac-sha256:")
    report = await _apply(_sink(kc), secret)
    assert report.unchanged == (_ref(secret),)

    # A conflict names the field and the manager, never the value.
    theirs = dict(secret, data={"password": base64.b64encode(b"other").decode()})
    await kc.cluster.apply(theirs, field_manager="other-tool", force=True)
    other_value = dict(secret, data={"password": base64.b64encode(b"third").decode()})
    with pytest.raises(FieldManagerConflictError) as conflict:
        await _apply(_sink(kc), other_value)
    assert "other-tool" in str(conflict.value)
    assert base64.b64encode(b"third").decode() not in str(conflict.value)
    assert base64.b64encode(b"other").decode() not in str(conflict.value)


# -- wait ----------------------------------------------------------------------------------------------------


async def test_wait_ready_immediately_for_config_maps(kc: Backend) -> None:
    with anyio.fail_after(10):
        report = await _apply(_sink(kc, wait=True, timeout=5), kc.cm("a", {"k": "v"}))
    assert report.created


async def test_wait_times_out_for_a_deployment_nobody_rolls_out(kc: Backend) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": kc.namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
            },
        },
    }
    with pytest.raises(HealthCheckError, match=rf"not ready after 1s: Deployment.apps/{kc.namespace}/web"):
        await _apply(_sink(kc, wait=True, timeout=1), deploy)
    # The apply itself happened and was recorded; only readiness failed.
    assert await kc.cluster.get(deploy) is not None
    assert [e.ref for e in await _sink(kc).inventory()] == [_ref(deploy)]


async def test_wait_until_custom_resource_reports_ready(kc: Backend) -> None:
    await kc.install_widget_crd()
    widget = kc.widget("w1", {"size": 1})
    await _apply(_sink(kc), widget)
    await kc.cluster.patch_status(
        widget, {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]}
    )
    changed = kc.widget("w1", {"size": 2})  # generation 2, status still for 1

    async def become_ready() -> None:
        await anyio.sleep(0.5)
        await kc.cluster.patch_status(
            widget, {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
        )

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(become_ready)
            report = await _apply(_sink(kc, wait=True, timeout=15), changed)
    assert report.configured == (_ref(widget),)


async def test_defaulted_objects_compare_unchanged_without_inventory(kc: Backend) -> None:
    """The dry-run comparison itself (no inventory shortcut) finds server-defaulted objects unchanged."""
    await kc.install_widget_crd()
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": kc.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "registry.invalid/web:1", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": kc.namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": kc.namespace},
        "stringData": {"token": "abc"},
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "web", "namespace": kc.namespace},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    objs: list[dict[str, Any]] = [
        deploy,
        service,
        secret,
        role,
        kc.widget("w", {"size": 1}),
        kc.cm("web", {"k": "v"}),
    ]
    report = await _apply(_sink(kc, name="first"), *objs)
    assert len(report.created) == len(objs)
    # Another sink name has no inventory: every object is dry-run and compared with the live one.
    report = await _apply(_sink(kc, name="second"), *objs)
    assert report.unchanged == tuple(_ref(o) for o in objs)
    assert not report.changed


async def test_user_without_list_permission(kc: Backend) -> None:
    """A narrow Role (get, create, patch; no list) is enough: the sink falls back from list to get."""
    cluster = await kc.as_user("sink-user")
    await kc.grant("sink-user", ["get", "create", "patch"], "", "configmaps", "ConfigMap")
    sink = KubernetesSink(cluster, name="narrow", namespace=kc.namespace)
    cms = [kc.cm(f"n-{i}", {"k": str(i)}) for i in range(6)]
    with anyio.fail_after(20):
        while True:  # RBAC changes reach the real server's authorizer after a moment
            try:
                report = await sink.apply(ResourceSet.from_dicts(cms), Context())
                break
            except ForbiddenError as err:
                if "list" in str(err):
                    raise
                await anyio.sleep(0.2)
    assert len(report.created) == 6
    report = await sink.apply(ResourceSet.from_dicts(cms), Context())
    assert len(report.unchanged) == 6
