"""FakeCluster: the Cluster interface in memory, for fast unit tests of code that talks to Kubernetes.

Everything runs synchronously under one event loop (asyncio or trio), so each verb is atomic. The
behaviour is pinned against a real kube-apiserver by reconcilekit's differential test suite (tests/kube),
which runs the same scenarios against this fake and against envtest.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
import secrets
import string
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import jsonpatch
import jsonpointer
from anyio.streams.memory import MemoryObjectSendStream

from .._model import Resource, copy_tree
from ..kube import (
    DEFAULT_FIELD_MANAGER,
    AlreadyExistsError,
    Cluster,
    ConflictError,
    FieldConflict,
    FieldManagerConflictError,
    ForbiddenError,
    GoneError,
    InvalidObjectError,
    KeyLike,
    NotFoundError,
    ObjectKey,
    ObjectList,
    PatchType,
    PropagationPolicy,
    ResourceInfo,
    UnknownKindError,
    WatchEvent,
)
from ..kube._selectors import SelectorSyntaxError, match_fields, parse_field_selector, parse_label_selector
from ..kube._watch import relisting_watch

__all__ = ["FakeCluster"]

Path = tuple[str, ...]
_Owner = tuple[str, str, str]  # (manager, operation, subresource)

# A path component naming one member of a set-like list (metadata.finalizers) rather than a map key.
_ITEM = "\x00v:"
_SET_LISTS: frozenset[Path] = frozenset({("metadata", "finalizers")})
# Metadata the server owns: never part of a field manager's set, never taken from a client's object.
_SYSTEM_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
    }
)

# (apiVersion, kind, plural, namespaced, subresources, tracks metadata.generation)
_BUILTIN_KINDS: tuple[tuple[str, str, str, bool, tuple[str, ...], bool], ...] = (
    ("v1", "Namespace", "namespaces", False, ("status",), False),
    ("v1", "ConfigMap", "configmaps", True, (), False),
    ("v1", "Secret", "secrets", True, (), False),
    ("v1", "Service", "services", True, ("status",), False),
    ("v1", "ServiceAccount", "serviceaccounts", True, (), False),
    ("v1", "Pod", "pods", True, ("status",), False),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("status",), False),
    ("v1", "PersistentVolume", "persistentvolumes", False, ("status",), False),
    ("v1", "Endpoints", "endpoints", True, (), False),
    ("v1", "Event", "events", True, (), False),
    ("v1", "LimitRange", "limitranges", True, (), False),
    ("v1", "ResourceQuota", "resourcequotas", True, ("status",), False),
    ("v1", "Node", "nodes", False, ("status",), False),
    ("apps/v1", "Deployment", "deployments", True, ("scale", "status"), True),
    ("apps/v1", "StatefulSet", "statefulsets", True, ("scale", "status"), True),
    ("apps/v1", "DaemonSet", "daemonsets", True, ("status",), True),
    ("apps/v1", "ReplicaSet", "replicasets", True, ("scale", "status"), True),
    ("batch/v1", "Job", "jobs", True, ("status",), True),
    ("batch/v1", "CronJob", "cronjobs", True, ("status",), True),
    ("networking.k8s.io/v1", "Ingress", "ingresses", True, ("status",), True),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True, (), True),
    ("networking.k8s.io/v1", "IngressClass", "ingressclasses", False, (), False),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("status",), True),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("status",), False),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", True, (), False),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True, (), False),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False, (), False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False, (), False),
    ("coordination.k8s.io/v1", "Lease", "leases", True, (), False),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", False, (), False),
    ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, (), False),
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        (),
        True,
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        (),
        True,
    ),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("status",),
        True,
    ),
)

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in ("a", "e", "i", "o", "u"):
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    return low + "s"


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


# -- field sets (managedFields-lite) -------------------------------------------------------------


def _leaves(obj: Mapping[str, Any], scope: str, status_sub: bool) -> dict[Path, Any]:
    """Leaf field paths of ``obj`` with their values; maps are walked, lists are atomic except set-lists.

    ``scope`` is ``"main"`` (everything the main resource owns) or ``"status"`` (only ``.status``).
    """
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(v, (*path, str(k)))
        elif isinstance(value, list) and path in _SET_LISTS:
            for item in value:
                out[(*path, _ITEM + json.dumps(item, sort_keys=True))] = item
        else:
            out[path] = value

    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if scope == "status" and key != "status":
            continue
        if scope == "main" and key == "status" and status_sub:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            for mk, mv in value.items():
                if mk not in _SYSTEM_META:
                    walk(mv, ("metadata", str(mk)))
            continue
        walk(value, (str(key),))
    return out


def _get(obj: Any, path: Path) -> tuple[bool, Any]:
    cur = obj
    for part in path:
        if part.startswith(_ITEM):
            item = json.loads(part[len(_ITEM) :])
            return (isinstance(cur, list) and item in cur), item
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    cur = obj
    for part in path[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    last = path[-1]
    if last.startswith(_ITEM):
        raise AssertionError("set-list members are set through their parent path")  # pragma: no cover
    if isinstance(value, dict) and not value:
        # An empty map in an apply configuration asserts the map exists; it does not clear other keys.
        if not isinstance(cur.get(last), dict):
            cur[last] = {}
        return
    cur[last] = copy_tree(value)


def _set_member(obj: dict[str, Any], path: Path, item: Any) -> None:
    parent = path[:-1]
    found, current = _get(obj, parent)
    if not found or not isinstance(current, list):
        _set(obj, parent, [])
        current = _get(obj, parent)[1]
    if item not in current:
        current.append(copy_tree(item))


def _delete(obj: dict[str, Any], path: Path) -> None:
    parents: list[tuple[dict[str, Any], str]] = []
    cur: Any = obj
    for part in path[:-1]:
        if not isinstance(cur, dict) or part not in cur:
            return
        parents.append((cur, part))
        cur = cur[part]
    last = path[-1]
    if last.startswith(_ITEM):
        item = json.loads(last[len(_ITEM) :])
        if isinstance(cur, list) and item in cur:
            cur.remove(item)
            if not cur and parents:
                holder, key = parents.pop()
                del holder[key]
                cur = holder
    elif isinstance(cur, dict) and last in cur:
        del cur[last]
    else:
        return
    # Drop maps left empty by the removal (the server does not keep a map nobody sets), but keep metadata.
    while parents and isinstance(cur, dict) and not cur:
        holder, key = parents.pop()
        if not parents and key == "metadata":
            break
        del holder[key]
        cur = holder


def _overlap(a: Path, b: Path) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _field_text(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part[len(_ITEM) :]}]" if part.startswith(_ITEM) else f".{part}"
    return out


def _fields_v1(fields: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(fields):
        cur = tree
        for part in path:
            name = "v:" + part[len(_ITEM) :] if part.startswith(_ITEM) else f"f:{part}"
            cur = cur.setdefault(name, {})
    return tree


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy_tree(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# -- the store -----------------------------------------------------------------------------------


@attrs.define
class _Kind:
    info: ResourceInfo
    generation: bool
    custom: bool

    @property
    def status_sub(self) -> bool:
        return self.info.has_status


@attrs.define
class _Stored:
    obj: dict[str, Any]
    managed: dict[_Owner, set[Path]]
    times: dict[_Owner, str]
    versions: dict[_Owner, str]


@attrs.define
class _Event:
    rv: int
    gk: tuple[str, str]
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


@attrs.define(eq=False)
class _Watcher:
    gk: tuple[str, str]
    send: MemoryObjectSendStream[_Event]


@attrs.frozen
class _Grant:
    verbs: frozenset[str]
    group: str
    kinds: frozenset[str]
    namespace: str | None


class _Store:
    def __init__(self, *, require_namespaces: bool, watch_history: int) -> None:
        self.require_namespaces = require_namespaces
        self.kinds: dict[tuple[str, str], _Kind] = {}
        self.objects: dict[tuple[str, str], dict[tuple[str, str], _Stored]] = {}
        self.rv = 1
        self.log: deque[_Event] = deque(maxlen=watch_history)
        self.compacted_rv = 0
        self.watchers: set[_Watcher] = set()
        self.grants: dict[str, list[_Grant]] = {}
        for api_version, kind, plural, namespaced, subs, generation in _BUILTIN_KINDS:
            self.kinds[(api_version, kind)] = _Kind(
                ResourceInfo(api_version, kind, plural, namespaced, subs), generation, custom=False
            )

    def record(self, event: _Event) -> None:
        if self.log.maxlen is not None and len(self.log) == self.log.maxlen:
            self.compacted_rv = max(self.compacted_rv, self.log[0].rv)
        self.log.append(event)
        for watcher in list(self.watchers):
            if watcher.gk == event.gk:
                try:
                    watcher.send.send_nowait(event)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    # The watching side went away between its last read and now; it unregisters itself.
                    self.watchers.discard(watcher)


class FakeCluster:
    """An in-memory :class:`~reconcilekit.kube.Cluster` for fast unit tests (asyncio and trio).

    It keeps objects of the common built-in kinds and of any kind registered with :meth:`register_kind` or by
    creating a ``CustomResourceDefinition``, and behaves as a kube-apiserver does for:

    * ``resourceVersion`` (one global counter, bumped on every write, unchanged by a write that changes
      nothing); ``metadata.generation`` on the kinds that have it (workloads, custom resources...), bumped
      only when something other than metadata and status changes, and when deletion starts;
    * 409 conflicts: a stale ``metadata.resourceVersion`` on update/apply/status update; ``create`` of an
      existing object; server-side apply changing a field another manager owns with ``force=False``;
    * watch events (ADDED/MODIFIED/DELETED, objects entering or leaving a label selector), resuming from a
      ``resourceVersion``, 410 Gone for versions older than the kept history (``watch_history`` events, or
      everything before :meth:`compact`), and re-list; BOOKMARK events when :meth:`bookmark` is called;
    * finalizers and ``deletionTimestamp`` (deletion waits for the last finalizer; no new finalizer may be
      added while deleting; ``Foreground``/``Orphan`` deletion adds the ``foregroundDeletion``/``orphan``
      finalizer);
    * label selectors (equality and set-based) and field selectors on ``metadata.name`` and
      ``metadata.namespace``; pagination with ``limit`` and continue tokens;
    * status subresources: main-resource writes keep ``status``, status writes change only ``status``;
      ``/status`` of a kind without one is 404; custom resources must be updated with a ``resourceVersion``;
    * server-side apply with field ownership per manager (``metadata.managedFields`` with manager, operation
      ``Apply``/``Update``, subresource and a ``fieldsV1`` tree), conflicts, ``force``, removal of fields a
      manager stops applying when nobody else owns them, and no-op re-apply;
    * RBAC-lite: the default user may do everything; a view from :meth:`as_user` may do only what
      :meth:`grant` allowed, else :class:`~reconcilekit.kube.ForbiddenError`;
    * name and label validation (DNS-1123 names, label syntax) as
      :class:`~reconcilekit.kube.InvalidObjectError`.

    What the real server does that this fake does NOT:

    * no schema: fields are not validated, defaulted (Service ``clusterIP``, Deployment ``strategy``...) or
      pruned (CRD structural schemas); unknown fields are kept; no admission webhooks or policies;
    * no version conversion: an object is stored once per group and kind and returned with whatever
      ``apiVersion`` was asked for, unchanged;
    * server-side apply: every list is atomic except ``metadata.finalizers`` (a set) - the server merges
      associative lists (``containers`` by ``name``, ``ports``...) item by item and honours
      ``x-kubernetes-list-type``; ``fieldsV1`` trees lack the ``.`` entries and ``k:`` keys; managedFields
      entries are not ordered as the server orders them; conflicts with an ``Update`` manager of the same
      name are reported like any other;
    * pages of a paginated list are read from the current state, not from a snapshot at the first page's
      ``resourceVersion``;
    * no controllers: no garbage collection of dependents (``ownerReferences``), no namespace controller (a
      deleted Namespace and a deleted CRD vanish at once, with everything in them), no CRD ``Established``
      delay (the CRD's status conditions are set at creation), no pod lifecycle, no Events;
    * namespaces need not exist unless ``require_namespaces=True``;
    * ``dry_run`` results carry no ``resourceVersion`` change but may differ in generated fields;
    * RBAC is by verb, API group, kind and namespace only (no resource names, aggregation or subresources;
      status writes need ``update``/``patch``); every user may use discovery;
    * discovery knows only the common built-in kinds (core, apps, batch, networking, policy, autoscaling,
      rbac, coordination, storage, scheduling, admissionregistration, apiextensions; one version each) plus
      registered kinds; ``ResourceInfo.subresources`` names only ``status`` and ``scale``; a CRD update
      that drops a version leaves the old version served;
    * watch streams never end by themselves (the server closes them after ``timeoutSeconds``), and
      bookmarks come only from :meth:`bookmark`;
    * strategic merge patch is not offered by the Cluster interface at all; JSON patch and merge patch are.

    Args:
        objects: objects to create first (as ``create`` would, by field manager ``reconcilekit``).
        require_namespaces: refuse namespaced objects whose Namespace does not exist, as the server does.
        watch_history: how many past events are kept for watches resuming from a ``resourceVersion``.

    Use one FakeCluster from one event loop (asyncio or trio); it is not thread-safe.

    Example::

        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}
        cluster = FakeCluster(objects=[ns])
        await cluster.apply(config_map, field_manager="test")
        assert (await cluster.get(config_map))["data"] == {"k": "v"}
    """

    def __init__(
        self,
        objects: Iterable[Resource | Mapping[str, Any]] = (),
        *,
        require_namespaces: bool = False,
        watch_history: int = 10_000,
    ) -> None:
        self._store = _Store(require_namespaces=require_namespaces, watch_history=watch_history)
        self._user: str | None = None
        self._closed = False
        self._my_watchers: set[_Watcher] = set()
        for obj in objects:
            self._create(_body(obj), None, False)

    # -- test controls ----------------------------------------------------------------------------

    def as_user(self, user: str) -> FakeCluster:
        """A view of the same objects, making requests as ``user`` (allowed only what :meth:`grant` says)."""
        view = FakeCluster.__new__(FakeCluster)
        view._store = self._store
        view._user = user
        view._closed = False
        view._my_watchers = set()
        return view

    def grant(
        self,
        user: str,
        verbs: Iterable[str],
        *,
        api_group: str = "",
        kinds: Iterable[str] = ("*",),
        namespace: str | None = None,
    ) -> None:
        """Allow ``user`` the RBAC ``verbs`` (get, list, watch, create, update, patch, delete or ``*``) on
        ``kinds`` of ``api_group`` (``*`` for any), in ``namespace`` or in all namespaces when ``None``."""
        self._store.grants.setdefault(user, []).append(
            _Grant(frozenset(verbs), api_group, frozenset(kinds), namespace)
        )

    def register_kind(
        self,
        api_version: str,
        kind: str,
        *,
        plural: str | None = None,
        namespaced: bool = True,
        status_subresource: bool = True,
    ) -> ResourceInfo:
        """Serve a custom kind without creating a CRD (generation is tracked, as for custom resources)."""
        info = ResourceInfo(
            api_version, kind, plural or _plural(kind), namespaced, ("status",) if status_subresource else ()
        )
        self._store.kinds[(api_version, kind)] = _Kind(info, generation=True, custom=True)
        return info

    def compact(self) -> None:
        """Forget the watch history, as etcd compaction does: resuming from an older version gets 410 Gone."""
        self._store.log.clear()
        self._store.compacted_rv = self._store.rv

    def bookmark(self) -> None:
        """Send a BOOKMARK with the current resourceVersion to every open watch."""
        store = self._store
        for gk in {w.gk for w in store.watchers}:
            store.record(
                _Event(store.rv, gk, "BOOKMARK", {"metadata": {"resourceVersion": str(store.rv)}}, None)
            )

    @property
    def resource_version(self) -> str:
        """The current (latest) resourceVersion."""
        return str(self._store.rv)

    # -- lifecycle --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """End the watches opened through this cluster object; the objects stay."""
        self._closed = True
        for watcher in list(self._my_watchers):
            watcher.send.close()
        self._my_watchers.clear()

    async def __aenter__(self) -> FakeCluster:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- helpers ----------------------------------------------------------------------------------

    def _kind(self, verb: str, api_version: str, kind: str) -> _Kind:
        found = self._store.kinds.get((api_version, kind))
        if found is None:
            raise UnknownKindError(verb, api_version, kind)
        return found

    def _authorize(self, verb: str, rbac_verb: str, k: _Kind, namespace: str | None, target: str) -> None:
        user = self._user
        if user is None:
            return
        for g in self._store.grants.get(user, ()):
            if (
                (rbac_verb in g.verbs or "*" in g.verbs)
                and g.group in (k.info.group, "*")
                and (k.info.kind in g.kinds or "*" in g.kinds)
                and (g.namespace is None or g.namespace == namespace)
            ):
                return
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        raise ForbiddenError(
            verb,
            target,
            f'User "{user}" cannot {rbac_verb} resource "{k.info.plural}" '
            f'in API group "{k.info.group}"{where}',
        )

    def _scoped_key(self, verb: str, k: _Kind, key: ObjectKey) -> ObjectKey:
        if k.info.namespaced and not key.namespace:
            raise InvalidObjectError(
                verb, str(key), f"{key.kind} is namespaced: metadata.namespace is required"
            )
        if not k.info.namespaced and key.namespace:
            return attrs.evolve(key, namespace=None)
        return key

    def _bucket(self, key: ObjectKey) -> dict[tuple[str, str], _Stored]:
        return self._store.objects.setdefault((key.group, key.kind), {})

    def _lookup(self, key: ObjectKey) -> _Stored | None:
        return self._store.objects.get((key.group, key.kind), {}).get((key.namespace or "", key.name))

    def _check_namespace(self, verb: str, k: _Kind, key: ObjectKey) -> None:
        if not (self._store.require_namespaces and k.info.namespaced):
            return
        if self._lookup(ObjectKey("v1", "Namespace", None, key.namespace or "")) is None:
            raise NotFoundError(verb, str(key), f'namespaces "{key.namespace}" not found')

    @staticmethod
    def _validate(verb: str, k: _Kind, key: ObjectKey, obj: Mapping[str, Any]) -> None:
        name = key.name
        problems: list[str] = []
        if k.info.group == "rbac.authorization.k8s.io":
            if name in (".", "..") or "/" in name or "%" in name:
                problems.append(f'metadata.name: Invalid value: "{name}": may not contain "/" or "%"')
        elif k.info.kind == "Namespace":
            if len(name) > 63 or not _LABEL_DNS.match(name):
                problems.append(f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 label')
        elif len(name) > 253 or not _SUBDOMAIN.match(name):
            problems.append(f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain')
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not isinstance(labels, Mapping):
            problems.append("metadata.labels: must be a map of strings")
            labels = {}
        for lk, lv in labels.items():
            prefix, _, lname = str(lk).rpartition("/")
            if (prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix))) or (
                len(lname) > 63 or not _QUALIFIED.match(lname)
            ):
                problems.append(f'metadata.labels: Invalid value: "{lk}": invalid label key')
            if not isinstance(lv, str) or (lv and (len(lv) > 63 or not _QUALIFIED.match(lv))):
                problems.append(f'metadata.labels: Invalid value: "{lv}": invalid label value')
        if problems:
            raise InvalidObjectError(
                verb, str(key), f'{key.kind} "{name}" is invalid: ' + "; ".join(problems)
            )

    def _output(self, obj: Mapping[str, Any], api_version: str) -> dict[str, Any]:
        out: dict[str, Any] = copy_tree(obj)
        out["apiVersion"] = api_version
        return out

    def _render_managed(self, stored: _Stored) -> list[dict[str, Any]]:
        entries = []
        for owner in sorted(stored.managed):
            fields = stored.managed[owner]
            if not fields:
                continue
            manager, operation, sub = owner
            entry: dict[str, Any] = {
                "manager": manager,
                "operation": operation,
                "apiVersion": stored.versions.get(owner, ""),
                "time": stored.times.get(owner, _now()),
                "fieldsType": "FieldsV1",
                "fieldsV1": _fields_v1(fields),
            }
            if sub:
                entry["subresource"] = sub
            entries.append(entry)
        return entries

    # -- the write path ---------------------------------------------------------------------------

    def _commit(
        self,
        verb: str,
        k: _Kind,
        key: ObjectKey,
        old: _Stored | None,
        new_obj: dict[str, Any],
        managed: dict[_Owner, set[Path]],
        touched: Iterable[_Owner],
        dry_run: bool,
    ) -> dict[str, Any]:
        """Store ``new_obj`` (unless nothing changed): versions, generation, events, finalizer deletion."""
        store = self._store
        managed = {o: f for o, f in managed.items() if f}
        md = new_obj.setdefault("metadata", {})
        md.pop("managedFields", None)
        if old is not None:
            old_view = dict(old.obj)
            old_md = dict(old_view.get("metadata") or {})
            old_md.pop("managedFields", None)
            old_view["metadata"] = old_md
            for sys_key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if sys_key in old_md:
                    md[sys_key] = old_md[sys_key]
                else:
                    md.pop(sys_key, None)
            md["resourceVersion"] = old_md.get("resourceVersion")
            if "generation" in old_md:
                md["generation"] = old_md["generation"]
            new_obj["apiVersion"] = old.obj.get("apiVersion", new_obj.get("apiVersion"))
            if new_obj == old_view and managed == old.managed:
                return self._output(old.obj, key.api_version)
            deleting = bool(old_md.get("deletionTimestamp"))
            old_finalizers = set(map(str, old_md.get("finalizers") or []))
            new_finalizers = set(map(str, md.get("finalizers") or []))
            if deleting and new_finalizers - old_finalizers:
                raise InvalidObjectError(
                    verb,
                    str(key),
                    "metadata.finalizers: Forbidden: no new finalizers can be added "
                    "if the object is being deleted",
                )
            if k.generation and _spec(new_obj, k) != _spec(old.obj, k):
                md["generation"] = int(old_md.get("generation") or 0) + 1
        else:
            self._validate(verb, k, key, new_obj)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = _now()
            if k.generation:
                md["generation"] = 1
        if old is not None:
            self._validate(verb, k, key, new_obj)
        stamp = _now()
        times = dict(old.times) if old is not None else {}
        versions = dict(old.versions) if old is not None else {}
        for owner in touched:
            if owner in managed and (
                old is None or old.managed.get(owner) != managed[owner] or owner not in times
            ):
                times[owner] = stamp
                versions[owner] = key.api_version
        stored = _Stored(new_obj, managed, times, versions)
        if dry_run:
            md["managedFields"] = self._render_managed(stored)
            if old is None:
                md.pop("resourceVersion", None)
            return self._output(new_obj, key.api_version)
        store.rv += 1
        md["resourceVersion"] = str(store.rv)
        md["managedFields"] = self._render_managed(stored)
        gk = (key.group, key.kind)
        bucket = self._bucket(key)
        ident = (key.namespace or "", key.name)
        if old is not None and md.get("deletionTimestamp") and not md.get("finalizers"):
            del bucket[ident]
            store.record(_Event(store.rv, gk, "DELETED", copy_tree(new_obj), copy_tree(old.obj)))
            self._after_delete(k, new_obj)
            return self._output(new_obj, key.api_version)
        bucket[ident] = stored
        if k.info.kind == "CustomResourceDefinition" and k.info.group == "apiextensions.k8s.io":
            self._register_crd(stored)
        store.record(
            _Event(
                store.rv,
                gk,
                "ADDED" if old is None else "MODIFIED",
                copy_tree(new_obj),
                None if old is None else copy_tree(old.obj),
            )
        )
        return self._output(new_obj, key.api_version)

    def _register_crd(self, stored: _Stored) -> None:
        crd = stored.obj
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = str(spec.get("group") or "")
        kind = str(names.get("kind") or "")
        plural = str(names.get("plural") or _plural(kind))
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subs = tuple(sorted((version.get("subresources") or {}).keys()))
            api_version = f"{group}/{version.get('name')}"
            self._store.kinds[(api_version, kind)] = _Kind(
                ResourceInfo(api_version, kind, plural, namespaced, subs), generation=True, custom=True
            )
        # The real server's controllers fill these in shortly after creation; the fake does it at once.
        stored.obj["status"] = {
            "acceptedNames": {
                "kind": kind,
                "plural": plural,
                **{k: v for k, v in names.items() if k != "kind"},
            },
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": ""},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": ""},
            ],
            "storedVersions": [v.get("name") for v in spec.get("versions") or [] if v.get("storage")],
        }

    def _after_delete(self, k: _Kind, obj: Mapping[str, Any]) -> None:
        store = self._store
        if k.info.group == "" and k.info.kind == "Namespace":
            # No namespace controller: everything in the namespace goes with it at once.
            ns = str(obj["metadata"]["name"])
            for gk, bucket in store.objects.items():
                for ident in [i for i in bucket if i[0] == ns]:
                    gone = bucket.pop(ident)
                    store.rv += 1
                    gone.obj["metadata"]["resourceVersion"] = str(store.rv)
                    store.record(_Event(store.rv, gk, "DELETED", copy_tree(gone.obj), None))
        elif k.info.group == "apiextensions.k8s.io" and k.info.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            group = str(spec.get("group") or "")
            kind = str((spec.get("names") or {}).get("kind") or "")
            for av_kind in [ak for ak, kk in store.kinds.items() if kk.custom and ak[1] == kind]:
                if _group(av_kind[0]) == group:
                    del store.kinds[av_kind]
            for ident, gone in list(store.objects.get((group, kind), {}).items()):
                del store.objects[(group, kind)][ident]
                store.rv += 1
                gone.obj["metadata"]["resourceVersion"] = str(store.rv)
                store.record(_Event(store.rv, (group, kind), "DELETED", copy_tree(gone.obj), None))

    @staticmethod
    def _take_update_ownership(
        old: _Stored, new_obj: Mapping[str, Any], k: _Kind, manager: str, sub: str
    ) -> dict[_Owner, set[Path]]:
        """An Update (create/update/patch) owns the fields it changed; other managers lose them."""
        scope = "status" if sub else "main"
        before = _leaves(old.obj, scope, k.status_sub)
        after = _leaves(new_obj, scope, k.status_sub)
        changed = {p for p, v in after.items() if p not in before or before[p] != v}
        removed = set(before) - set(after)
        managed = {o: set(f) for o, f in old.managed.items()}
        for owner, fields in managed.items():
            if owner[2] != sub:
                continue
            managed[owner] = {
                f for f in fields if f not in removed and not any(_overlap(f, c) for c in changed)
            }
        if changed:
            managed.setdefault((manager, "Update", sub), set()).update(changed)
        return managed

    def _create(self, body: dict[str, Any], field_manager: str | None, dry_run: bool) -> dict[str, Any]:
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise InvalidObjectError("create", str(body.get("kind")), "metadata is not a mapping")
        if not md.get("name") and md.get("generateName"):
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            md["name"] = f"{md['generateName']}{suffix}"
        key = ObjectKey.of(body)
        k = self._kind("create", key.api_version, key.kind)
        key = self._scoped_key("create", k, key)
        self._authorize("create", "create", k, key.namespace, str(key))
        self._check_namespace("create", k, key)
        if md.get("resourceVersion"):
            raise InvalidObjectError(
                "create", str(key), "resourceVersion should not be set on objects to be created", status=400
            )
        if self._lookup(key) is not None:
            raise AlreadyExistsError("create", str(key), f'{k.info.plural} "{key.name}" already exists')
        body = self._prepare_new(k, key, body)
        manager = field_manager or DEFAULT_FIELD_MANAGER
        owner = (manager, "Update", "")
        managed = {owner: set(_leaves(body, "main", k.status_sub))}
        return self._commit("create", k, key, None, body, managed, [owner], dry_run)

    @staticmethod
    def _prepare_new(k: _Kind, key: ObjectKey, body: dict[str, Any]) -> dict[str, Any]:
        md = body["metadata"]
        for sys_key in _SYSTEM_META - {"name", "namespace", "generateName"}:
            md.pop(sys_key, None)
        if key.namespace:
            md["namespace"] = key.namespace
        else:
            md.pop("namespace", None)
        if k.status_sub:
            body.pop("status", None)
        if k.info.group == "" and k.info.kind == "Namespace":
            body.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            body["status"] = {"phase": "Active"}
        return body

    def _write_existing(
        self,
        verb: str,
        k: _Kind,
        key: ObjectKey,
        old: _Stored,
        new_obj: dict[str, Any],
        manager: str | None,
        sub: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        new_obj["kind"] = key.kind
        md = new_obj.setdefault("metadata", {})
        md["name"] = key.name
        if key.namespace:
            md["namespace"] = key.namespace
        if sub == "status":
            status = new_obj.get("status")
            new_obj = copy_tree(old.obj)
            if status is None:
                new_obj.pop("status", None)
            else:
                new_obj["status"] = status
        elif k.status_sub:
            if "status" in old.obj:
                new_obj["status"] = copy_tree(old.obj["status"])
            else:
                new_obj.pop("status", None)
        owner = (manager or DEFAULT_FIELD_MANAGER, "Update", sub)
        managed = self._take_update_ownership(old, new_obj, k, owner[0], sub)
        return self._commit(verb, k, key, old, new_obj, managed, [owner], dry_run)

    def _check_version(self, verb: str, key: ObjectKey, old: _Stored, given: Any) -> None:
        if given and str(given) != str(old.obj["metadata"].get("resourceVersion")):
            raise ConflictError(
                verb,
                str(key),
                f'Operation cannot be fulfilled on {key.kind.lower()} "{key.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )

    def _existing(self, verb: str, key: KeyLike, rbac_verb: str) -> tuple[_Kind, ObjectKey, _Stored]:
        okey = ObjectKey.of(key)
        k = self._kind(verb, okey.api_version, okey.kind)
        okey = self._scoped_key(verb, k, okey)
        self._authorize(verb, rbac_verb, k, okey.namespace, str(okey))
        stored = self._lookup(okey)
        if stored is None:
            raise NotFoundError(verb, str(okey), f'{k.info.plural} "{okey.name}" not found')
        return k, okey, stored

    # -- the Cluster interface --------------------------------------------------------------------

    async def resource_for(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery from the built-in table and registered kinds."""
        await anyio.lowlevel.checkpoint()
        return self._kind("discover", api_version, kind).info

    async def get(self, obj: KeyLike) -> dict[str, Any] | None:
        """The object, or ``None``."""
        await anyio.lowlevel.checkpoint()
        key = ObjectKey.of(obj)
        k = self._kind("get", key.api_version, key.kind)
        key = self._scoped_key("get", k, key)
        self._authorize("get", "get", k, key.namespace, str(key))
        stored = self._lookup(key)
        return None if stored is None else self._output(stored.obj, key.api_version)

    def _select(
        self,
        verb: str,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
    ) -> tuple[_Kind, str, Callable[[Mapping[str, Any]], bool]]:
        k = self._kind(verb, api_version, kind)
        where = f"in namespace {namespace}" if namespace else "in all namespaces"
        target = f"{kind} ({api_version}) {where}"
        self._authorize(verb, verb, k, namespace, target)
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
        except SelectorSyntaxError as exc:
            raise InvalidObjectError(verb, target, str(exc), status=400) from exc
        ns = namespace if k.info.namespaced else None

        def matches(obj: Mapping[str, Any]) -> bool:
            md = obj.get("metadata") or {}
            if ns and md.get("namespace") != ns:
                return False
            return labels(md.get("labels") or {}) and match_fields(fields, obj)

        return k, target, matches

    def _matching(self, k: _Kind, matches: Callable[[Mapping[str, Any]], bool]) -> list[_Stored]:
        bucket = self._store.objects.get((k.info.group, k.info.kind), {})
        return [bucket[i] for i in sorted(bucket) if matches(bucket[i].obj)]

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> ObjectList:
        """All matching objects, ordered by namespace and name (as etcd returns them)."""
        await anyio.lowlevel.checkpoint()
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        k, _, matches = self._select("list", api_version, kind, namespace, label_selector, field_selector)
        items = [self._output(s.obj, api_version) for s in self._matching(k, matches)]
        return ObjectList(items, str(self._store.rv))

    def list_pages(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> AsyncGenerator[ObjectList, None]:
        """Pages of at most ``limit`` objects; continue tokens expire with :meth:`compact`."""
        return self._pages(api_version, kind, namespace, label_selector, field_selector, limit)

    async def _pages(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        limit: int,
    ) -> AsyncGenerator[ObjectList, None]:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        after: list[str] | None = None
        list_rv: int | None = None
        while True:
            await anyio.lowlevel.checkpoint()
            k, target, matches = self._select(
                "list", api_version, kind, namespace, label_selector, field_selector
            )
            if list_rv is not None and list_rv < self._store.compacted_rv:
                raise GoneError("list", target, "The provided continue parameter is too old")
            if list_rv is None:
                list_rv = self._store.rv
            stored = self._matching(k, matches)
            if after is not None:
                stored = [
                    s
                    for s in stored
                    if [s.obj["metadata"].get("namespace") or "", s.obj["metadata"]["name"]] > after
                ]
            page, rest = stored[:limit], stored[limit:]
            token = None
            if rest:
                last = page[-1].obj["metadata"]
                after = [last.get("namespace") or "", last["name"]]
                token = base64.urlsafe_b64encode(
                    json.dumps({"rv": list_rv, "after": after}).encode()
                ).decode()
            yield ObjectList([self._output(s.obj, api_version) for s in page], str(list_rv), token)
            if token is None:
                return

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes to objects of a kind; see :meth:`reconcilekit.kube.Cluster.watch`."""

        def open_stream(rv: str | None) -> AsyncGenerator[WatchEvent, None]:
            return self._stream(api_version, kind, namespace, label_selector, field_selector, rv)

        async def relist() -> ObjectList:
            return await self.list(
                api_version,
                kind,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
            )

        return relisting_watch(
            open_stream,
            relist,
            resource_version=resource_version,
            allow_bookmarks=allow_bookmarks,
            closed=lambda: self._closed,
        )

    async def _stream(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        resource_version: str | None,
    ) -> AsyncGenerator[WatchEvent, None]:
        await anyio.lowlevel.checkpoint()
        k, target, matches = self._select(
            "watch", api_version, kind, namespace, label_selector, field_selector
        )
        store = self._store
        gk = (k.info.group, k.info.kind)
        backlog: list[_Event] = []
        if resource_version in (None, "", "0"):
            backlog = [
                _Event(store.rv, gk, "ADDED", copy_tree(s.obj), None) for s in self._matching(k, matches)
            ]
        else:
            try:
                since = int(str(resource_version))
            except ValueError as exc:
                raise InvalidObjectError(
                    "watch", target, f"invalid resourceVersion {resource_version!r}"
                ) from exc
            if since < store.compacted_rv:
                raise GoneError("watch", target, f"too old resource version: {since} ({store.compacted_rv})")
            backlog = [e for e in store.log if e.gk == gk and e.rv > since]
        send, receive = anyio.create_memory_object_stream[_Event](math.inf)
        watcher = _Watcher(gk, send)
        store.watchers.add(watcher)
        self._my_watchers.add(watcher)
        try:
            for event in backlog:
                out = self._translate(event, matches, api_version)
                if out is not None:
                    yield out
            async for event in receive:
                out = self._translate(event, matches, api_version)
                if out is not None:
                    yield out
        finally:
            store.watchers.discard(watcher)
            self._my_watchers.discard(watcher)
            send.close()
            receive.close()

    def _translate(
        self, event: _Event, matches: Callable[[Mapping[str, Any]], bool], api_version: str
    ) -> WatchEvent | None:
        if event.type == "BOOKMARK":
            return WatchEvent("BOOKMARK", {"apiVersion": api_version, **copy_tree(event.obj)})
        now = matches(event.obj)
        before = event.old is not None and matches(event.old)
        obj = self._output(event.obj, api_version)
        if event.type == "ADDED":
            return WatchEvent("ADDED", obj) if now else None
        if event.type == "DELETED":
            return WatchEvent("DELETED", obj) if (now or before) else None
        if now and before:
            return WatchEvent("MODIFIED", obj)
        if now:
            return WatchEvent("ADDED", obj)
        if before:
            return WatchEvent("DELETED", obj)
        return None

    async def create(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create ``obj``."""
        await anyio.lowlevel.checkpoint()
        return self._create(_body(obj), field_manager, dry_run)

    async def update(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Replace ``obj``; a stale resourceVersion is a 409."""
        await anyio.lowlevel.checkpoint()
        body = _body(obj)
        k, key, old = self._existing("update", body, "update")
        given = (body.get("metadata") or {}).get("resourceVersion")
        if not given and k.custom:
            raise InvalidObjectError(
                "update",
                str(key),
                "metadata.resourceVersion: Invalid value: 0: must be specified for an update",
            )
        self._check_version("update", key, old, given)
        return self._write_existing("update", k, key, old, body, field_manager, "", dry_run)

    async def patch(
        self,
        obj: KeyLike,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Merge patch or JSON patch."""
        await anyio.lowlevel.checkpoint()
        k, key, old = self._existing("patch", obj, "patch")
        new_obj = self._patched("patch", key, old.obj, patch, patch_type)
        self._check_version("patch", key, old, (new_obj.get("metadata") or {}).get("resourceVersion"))
        return self._write_existing("patch", k, key, old, new_obj, field_manager, "", dry_run)

    @staticmethod
    def _patched(
        verb: str,
        key: ObjectKey,
        current: Mapping[str, Any],
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        patch_type: PatchType,
    ) -> dict[str, Any]:
        base = copy_tree(current)
        base.get("metadata", {}).pop("managedFields", None)
        if patch_type == "merge":
            if not isinstance(patch, Mapping):
                raise InvalidObjectError(verb, str(key), "a merge patch must be a JSON object", status=400)
            result = _merge_patch(base, patch)
        else:
            try:
                ops = [dict(op) for op in patch if isinstance(op, Mapping)]
                result = jsonpatch.apply_patch(base, ops)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise InvalidObjectError(verb, str(key), f"JSON patch failed: {exc}") from exc
        if not isinstance(result, dict):
            raise InvalidObjectError(verb, str(key), "the patch did not produce an object", status=400)
        return result

    async def apply(
        self,
        obj: Resource | Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply (the subset described in the class docstring)."""
        await anyio.lowlevel.checkpoint()
        if not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        body = _body(obj)
        key = ObjectKey.of(body)
        k = self._kind("apply", key.api_version, key.kind)
        key = self._scoped_key("apply", k, key)
        self._authorize("apply", "patch", k, key.namespace, str(key))
        old = self._lookup(key)
        given_rv = (body.get("metadata") or {}).get("resourceVersion")
        if k.status_sub:
            body.pop("status", None)
        owner = (field_manager, "Apply", "")
        config = _leaves(body, "main", k.status_sub)
        if old is None:
            self._authorize("apply", "create", k, key.namespace, str(key))
            self._check_namespace("apply", k, key)
            if given_rv:
                raise NotFoundError("apply", str(key), f'{k.info.plural} "{key.name}" not found')
            body = self._prepare_new(k, key, body)
            return self._commit("apply", k, key, None, body, {owner: set(config)}, [owner], dry_run)
        self._check_version("apply", key, old, given_rv)
        live = old.obj
        managed = {o: set(f) for o, f in old.managed.items()}
        conflicts: list[FieldConflict] = []
        for path, value in config.items():
            found, current = _get(live, path)
            if found and current == value:
                continue  # the same value: shared ownership, never a conflict
            for other, fields in managed.items():
                if other == owner or other[2] != "":
                    continue
                hits = [f for f in fields if _overlap(f, path)]
                if not hits:
                    continue
                if force:
                    fields.difference_update(hits)
                else:
                    conflicts.append(FieldConflict(other[0], _field_text(path)))
        if conflicts:
            raise FieldManagerConflictError("apply", str(key), conflicts)
        new_obj = copy_tree(live)
        new_obj.get("metadata", {}).pop("managedFields", None)
        previous = managed.get(owner, set())
        for path in previous - set(config):
            if not any(_overlap(path, f) for o, fs in managed.items() if o != owner for f in fs):
                _delete(new_obj, path)
        for path, value in config.items():
            if path[-1].startswith(_ITEM):
                _set_member(new_obj, path, value)
            else:
                _set(new_obj, path, value)
        managed[owner] = set(config)
        return self._commit("apply", k, key, old, new_obj, managed, [owner], dry_run)

    async def delete(
        self,
        obj: KeyLike,
        *,
        propagation_policy: PropagationPolicy = "Background",
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Delete now, or start deletion when finalizers (or the propagation policy's finalizer) hold it."""
        await anyio.lowlevel.checkpoint()
        k, key, old = self._existing("delete", obj, "delete")
        md = old.obj["metadata"]
        if md.get("deletionTimestamp"):
            return self._output(old.obj, key.api_version)
        finalizers = list(md.get("finalizers") or [])
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation_policy)
        if extra and extra not in finalizers:
            finalizers.append(extra)
        if finalizers:
            new_obj = copy_tree(old.obj)
            new_obj["metadata"]["finalizers"] = finalizers
            if dry_run:
                new_obj["metadata"]["deletionTimestamp"] = _now()
                return self._output(new_obj, key.api_version)
            store = self._store
            store.rv += 1
            nmd = new_obj["metadata"]
            nmd["deletionTimestamp"] = _now()
            nmd["deletionGracePeriodSeconds"] = 0
            if nmd.get("generation"):
                nmd["generation"] = int(nmd["generation"]) + 1
            nmd["resourceVersion"] = str(store.rv)
            old_copy = copy_tree(old.obj)
            old.obj = new_obj
            store.record(_Event(store.rv, (key.group, key.kind), "MODIFIED", copy_tree(new_obj), old_copy))
            return self._output(new_obj, key.api_version)
        if dry_run:
            return None
        store = self._store
        del self._bucket(key)[(key.namespace or "", key.name)]
        store.rv += 1
        gone = copy_tree(old.obj)
        gone["metadata"]["resourceVersion"] = str(store.rv)
        store.record(_Event(store.rv, (key.group, key.kind), "DELETED", gone, copy_tree(old.obj)))
        self._after_delete(k, gone)
        return None

    def _status_target(self, verb: str, obj: KeyLike, rbac_verb: str) -> tuple[_Kind, ObjectKey, _Stored]:
        okey = ObjectKey.of(obj)
        k = self._kind(verb, okey.api_version, okey.kind)
        if not k.status_sub:
            raise NotFoundError(verb, str(okey), "the server could not find the requested resource")
        return self._existing(verb, obj, rbac_verb)

    async def update_status(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Replace the status (status subresource)."""
        await anyio.lowlevel.checkpoint()
        body = _body(obj)
        k, key, old = self._status_target("update status of", body, "update")
        self._check_version("update status of", key, old, (body.get("metadata") or {}).get("resourceVersion"))
        return self._write_existing("update status of", k, key, old, body, field_manager, "status", False)

    async def patch_status(
        self, obj: KeyLike, status: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Merge ``status`` into the status (status subresource)."""
        await anyio.lowlevel.checkpoint()
        k, key, old = self._status_target("patch status of", obj, "patch")
        new_obj = copy_tree(old.obj)
        new_obj["status"] = _merge_patch(old.obj.get("status") or {}, status)
        return self._write_existing("patch status of", k, key, old, new_obj, field_manager, "status", False)


def _spec(obj: Mapping[str, Any], k: _Kind) -> dict[str, Any]:
    # What metadata.generation tracks: everything but metadata, and status when it has its own subresource.
    return {
        key: v
        for key, v in obj.items()
        if key not in ("metadata", "apiVersion", "kind") and not (key == "status" and k.status_sub)
    }


def _body(obj: Resource | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(obj, Resource):
        return obj.to_dict()
    out: dict[str, Any] = copy_tree(obj)
    return out


# Static proof that the fake conforms to the interface (checked by mypy).
_fake: type[Cluster] = FakeCluster
