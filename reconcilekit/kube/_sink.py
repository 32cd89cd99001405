"""KubernetesSink: the last stage of a pipeline, driving a cluster to hold a ResourceSet (Flux's Kustomization
apply, in code).

One :meth:`KubernetesSink.apply` goes through these steps; any error stops it, and nothing is pruned after an
error:

1. prepare - every object's kind is resolved (discovery, or a CustomResourceDefinition in the same set),
   namespaced objects get their namespace, ``reconcilekit.dev/ssa`` annotations are checked;
2. plan - the live objects are read and every object is applied as a server-side *dry run*; an object whose
   dry run equals the live object is ``unchanged`` and not written. Objects that need a Namespace or CRD of
   this set which does not exist yet are planned right after that Namespace or CRD is applied;
3. apply - Namespaces and CRDs first (waiting until each CRD is Established and served), then the rest in
   the given order, with server-side apply as the sink's field manager;
4. inventory and prune - the objects applied are recorded in the ``<name>-inventory`` ConfigMap; objects of
   the previous inventory that are not in the set any more are deleted, last applied first;
5. wait (optional) - until every object is ready (kstatus basics) or ``timeout`` passes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import anyio
import attrs

from .._errors import InvalidArgumentError, PruneToEmptyError, TemporaryError, TerminalError, ValidationError
from .._model import ApplyReport, Context, ObjectRef, Resource, ResourceSet
from ._diff import body_digest, is_immutable_error, is_ready, same_state
from ._errors import (
    ClusterError,
    FieldManagerConflictError,
    ForbiddenError,
    InvalidObjectError,
    NotFoundError,
    UnknownKindError,
)
from ._inventory import InventoryEntry, parse_inventory, render_inventory
from ._protocol import Cluster
from ._types import ObjectKey, ResourceInfo

__all__ = [
    "PRUNE_ANNOTATION",
    "SSA_ANNOTATION",
    "HealthCheckError",
    "InvalidManifestError",
    "KubernetesSink",
    "PruneToEmptyError",
    "SecretApplyError",
]

_log = logging.getLogger("reconcilekit.kube.sink")

SSA_ANNOTATION = "reconcilekit.dev/ssa"
"""Per-object apply policy: ``Override`` / ``Merge`` (apply, the default), ``IfNotPresent`` (create only when
missing), ``Ignore`` (never apply). Flux's ``kustomize.toolkit.fluxcd.io/ssa`` is honoured too."""

PRUNE_ANNOTATION = "reconcilekit.dev/prune"
"""``disabled`` on a live object keeps it when it leaves the set. Flux's ``kustomize.toolkit.fluxcd.io/prune``
is honoured too."""

_SSA_KEYS = (SSA_ANNOTATION, "kustomize.toolkit.fluxcd.io/ssa")
_PRUNE_KEYS = (PRUNE_ANNOTATION, "kustomize.toolkit.fluxcd.io/prune")
_POLICIES = ("Override", "Merge", "IfNotPresent", "Ignore")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
_LIST_THRESHOLD = 5  # from this many objects of one kind in one namespace, one list beats many gets

T = TypeVar("T")
DriftMode = Literal["correct", "detect"]
_Action = Literal["create", "configure", "unchanged", "drift", "detect", "skip", "recreate"]


# -- errors ---------------------------------------------------------------------------------------


class InvalidManifestError(ValidationError):
    """An object of the set cannot be applied as given (unknown kind, namespace on a cluster-scoped
    object, bad annotation); raised before anything is written."""

    def __init__(self, ref: ObjectRef, reason: str) -> None:
        self.ref = ref
        self.reason = reason
        super().__init__(f"{ref}: {reason}")


class SecretApplyError(TerminalError):
    """The API server rejected a Secret; its answer is withheld because it may quote secret values."""

    def __init__(self, ref: ObjectRef, verb: str, status: int | None) -> None:
        self.ref = ref
        self.verb = verb
        self.status = status
        code = f" ({status})" if status is not None else ""
        super().__init__(
            f"{verb} {ref}{code}: the API server rejected the Secret (details withheld: they may contain "
            "secret values; try a server-side dry run of it with kubectl)"
        )


class HealthCheckError(TemporaryError):
    """Objects did not become ready (or CRDs established) within the sink's ``timeout``."""

    def __init__(self, sink: str, refs: Sequence[ObjectRef], timeout: float) -> None:
        self.sink = sink
        self.refs = tuple(refs)
        shown = ", ".join(str(r) for r in self.refs[:10])
        more = f" and {len(self.refs) - 10} more" if len(self.refs) > 10 else ""
        super().__init__(
            f"KubernetesSink {sink}: not ready after {timeout:g}s: {shown}{more}",
        )


# -- internal plan ----------------------------------------------------------------------------------


@attrs.frozen
class _Desired:
    resource: Resource
    key: ObjectKey
    policy: str
    stage_one: bool
    needs_crd: bool

    @property
    def ref(self) -> ObjectRef:
        return self.resource.ref

    @property
    def is_secret(self) -> bool:
        return self.ref.group == "" and self.ref.kind == "Secret"


@attrs.define
class _Plan:
    desired: _Desired
    action: _Action
    live: dict[str, Any] | None
    force: bool = False
    result: dict[str, Any] | None = None


def _rv(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


def _uid(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid") or "")


def _gk(ref: ObjectRef) -> tuple[str, str]:
    return (ref.group, ref.kind)


def _may_quote_values(err: ClusterError) -> bool:
    # Validation answers (422, 400, and the 500 of a typed-patch failure) may echo field values; a conflict
    # names field paths only, and the other answers name the object.
    return isinstance(err, InvalidObjectError) or err.status in (400, 422, 500)


def _annotation(obj: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for key in keys:
        if key in annotations:
            return str(annotations[key])
    return None


class KubernetesSink:
    """A :class:`~reconcilekit.Sink` that makes a cluster hold a :class:`~reconcilekit.ResourceSet`, as Flux's
    kustomize-controller applies a Kustomization.

    Objects are written with server-side apply as ``field_manager``; only objects whose server-side dry run
    differs from the live object are written, so applying the same set twice writes nothing. The objects
    applied are recorded in the ConfigMap ``<name>-inventory`` in ``namespace``; with ``prune``, objects of
    the previous apply that left the set are deleted. See docs/kubernetes-sink.md for the whole behaviour.

    Args:
        cluster: where to apply (:class:`~reconcilekit.kube.KubeCluster`, or a FakeCluster in tests).
        name: this sink's name; names the inventory ConfigMap and appears in errors.
        namespace: where the inventory ConfigMap lives (it must exist, or be in the set).
        field_manager: the server-side apply field manager.
        prune: delete objects that left the set (except those annotated ``reconcilekit.dev/prune: disabled``).
        allow_empty: allow an empty set to prune everything (else :class:`PruneToEmptyError`).
        force: take over fields other managers own instead of failing with
            :class:`~reconcilekit.kube.FieldManagerConflictError`, and recreate objects whose change touches
            an immutable field (delete, then create).
        drift: ``"correct"`` reverts objects changed behind the sink's back; ``"detect"`` only reports them
            in :attr:`~reconcilekit.ApplyReport.drifted` and leaves them as they are.
        target_namespace: put every namespaced object in this namespace (Flux's ``targetNamespace``);
            without it, namespaced objects without a namespace go to ``default``.
        wait: after applying, wait until every object is ready (kstatus basics) within ``timeout``.
        timeout: seconds to wait for readiness, for CRDs to be established, and for recreated objects to go.
        concurrency: how many API requests run at once.

    Example::

        sink = KubernetesSink(cluster, name="apps", namespace="flux-system", target_namespace="apps")
        report = await sink.apply(resources, Context(revision="main@sha1:..."))
        print(report.summary())
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        name: str,
        namespace: str,
        field_manager: str = "reconcilekit",
        prune: bool = True,
        allow_empty: bool = False,
        force: bool = False,
        drift: DriftMode = "correct",
        target_namespace: str | None = None,
        wait: bool = False,
        timeout: float = 300.0,
        concurrency: int = 8,
    ) -> None:
        if not name:
            raise InvalidArgumentError("KubernetesSink needs a name (it names the inventory ConfigMap)")
        if not namespace:
            raise InvalidArgumentError(f"KubernetesSink {name} needs the namespace of its inventory")
        if not field_manager:
            raise InvalidArgumentError(f"KubernetesSink {name}: field_manager must not be empty")
        if drift not in ("correct", "detect"):
            raise InvalidArgumentError(f"KubernetesSink {name}: drift must be 'correct' or 'detect'")
        if not timeout > 0:
            raise InvalidArgumentError(f"KubernetesSink {name}: timeout must be > 0, got {timeout!r}")
        if concurrency < 1:
            raise InvalidArgumentError(f"KubernetesSink {name}: concurrency must be >= 1")
        self.cluster = cluster
        self.name = name
        self.namespace = namespace
        self.field_manager = field_manager
        self.prune = prune
        self.allow_empty = allow_empty
        self.force = force
        self.drift: DriftMode = drift
        self.target_namespace = target_namespace
        self.wait = wait
        self.timeout = timeout
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f"KubernetesSink(name={self.name!r}, namespace={self.namespace!r})"

    @property
    def inventory_key(self) -> ObjectKey:
        """Where the inventory ConfigMap lives."""
        return ObjectKey("v1", "ConfigMap", self.namespace, f"{self.name}-inventory")

    async def inventory(self) -> tuple[InventoryEntry, ...]:
        """The objects the last successful apply recorded, in apply order."""
        entries, _ = await self._read_inventory()
        return entries

    # -- apply ------------------------------------------------------------------------------------

    async def apply(self, resources: ResourceSet, context: Context) -> ApplyReport:
        """Apply ``resources``; with ``context.dry_run`` compute the report and write nothing."""
        dry_run = context.dry_run
        desired = await self._prepare(resources)
        old_entries, old_text = await self._read_inventory()
        old = {e.ref: e for e in old_entries}
        wanted = {d.ref for d in desired}
        stale = [e for e in old_entries if e.ref not in wanted]
        if self.prune and not desired and old_entries and not self.allow_empty:
            raise PruneToEmptyError(f"KubernetesSink {self.name}", len(old_entries))

        new_namespaces = {d.ref.name for d in desired if d.stage_one and d.ref.kind == "Namespace"}
        missing_ns = await self._missing_namespaces(new_namespaces)
        deferred = [
            d for d in desired if not d.stage_one and (d.needs_crd or (d.ref.namespace or "") in missing_ns)
        ]
        deferred_refs = {d.ref for d in deferred}
        now = [d for d in desired if d.ref not in deferred_refs]

        # Plan (dry runs) everything that can be planned before any write: an invalid object anywhere
        # stops the run here, with nothing changed.
        plans = {p.desired.ref: p for p in await self._plan(now, old)}
        if not dry_run and self.namespace not in missing_ns:
            await self._check_inventory_writable(old_text)

        if dry_run:
            for d in deferred:
                # Its Namespace or CRD does not exist yet, so neither does it, and the server cannot dry-run
                # it; it would be created.
                plans[d.ref] = _Plan(d, "skip" if d.policy == "Ignore" else "create", None)
        else:
            await self._write([plans[d.ref] for d in now if d.stage_one])
            if any(_gk(d.ref) == _CRD for d in desired):
                await self._wait_for_kinds(desired)
            for plan in await self._plan(deferred, old):
                plans[plan.desired.ref] = plan
            await self._write([plans[d.ref] for d in desired if not d.stage_one])

        ordered = [plans[d.ref] for d in desired]
        entries = [self._entry(p, old.get(p.desired.ref)) for p in ordered]
        pruned: list[ObjectRef] = []
        if not dry_run:
            if self.prune and stale:
                # Keep the stale objects listed until they are gone, so a failed prune is retried next time.
                await self._write_inventory(entries + stale, old_text)
                pruned = await self._prune(stale, dry_run=False)
            await self._write_inventory(entries, old_text)
        elif self.prune:
            pruned = await self._prune(stale, dry_run=True)

        if self.wait and not dry_run:
            await self._wait_ready([p for p in ordered if p.action != "skip"])

        report = ApplyReport(
            created=[p.desired.ref for p in ordered if p.action == "create"],
            configured=[p.desired.ref for p in ordered if p.action in ("configure", "drift", "recreate")],
            unchanged=[p.desired.ref for p in ordered if p.action in ("unchanged", "detect", "skip")],
            pruned=pruned,
            drifted=[p.desired.ref for p in ordered if p.action in ("drift", "detect")],
        )
        _log.info("KubernetesSink %s: %s%s", self.name, report.summary(), " (dry run)" if dry_run else "")
        return report

    # -- prepare ----------------------------------------------------------------------------------

    async def _prepare(self, resources: ResourceSet) -> list[_Desired]:
        crds: dict[tuple[str, str], tuple[bool, set[str]]] = {}
        for res in resources:
            if _gk(res.ref) == _CRD:
                spec = res.body.get("spec") or {}
                gk = (str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", "")))
                versions = {str(v.get("name")) for v in spec.get("versions") or [] if v.get("served", True)}
                crds[gk] = (spec.get("scope", "Namespaced") == "Namespaced", versions)
        infos: dict[tuple[str, str], ResourceInfo | None] = {}
        out: list[_Desired] = []
        for res in resources:
            policy = _annotation(res.body, _SSA_KEYS) or "Override"
            if policy not in _POLICIES:
                raise InvalidManifestError(
                    res.ref,
                    f"annotation {SSA_ANNOTATION} must be one of {', '.join(_POLICIES)}, not {policy!r}",
                )
            av_kind = (res.api_version, res.kind)
            if av_kind not in infos:
                try:
                    infos[av_kind] = await self.cluster.resource_for(*av_kind)
                except UnknownKindError:
                    infos[av_kind] = None
            info = infos[av_kind]
            needs_crd = info is None
            if info is not None:
                namespaced = info.namespaced
            elif (crd := crds.get((res.group, res.kind))) is not None and res.version in crd[1]:
                namespaced = crd[0]
            else:
                raise InvalidManifestError(
                    res.ref,
                    f"kind {res.kind} is not served at {res.api_version}, and no CustomResourceDefinition in "
                    "this set defines it",
                )
            body = res.to_dict()
            if namespaced:
                body["metadata"]["namespace"] = self.target_namespace or res.namespace or "default"
            elif res.namespace:
                raise InvalidManifestError(
                    res.ref, f"{res.kind} is cluster-scoped but metadata.namespace is set"
                )
            ready = Resource(body)
            stage_one = _gk(res.ref) == _CRD or (res.group == "" and res.kind == "Namespace")
            out.append(_Desired(ready, ObjectKey.of(ready), policy, stage_one, needs_crd))
        # Defaulted namespaces may make two objects one; ResourceSet refuses duplicates.
        ResourceSet(d.resource for d in out)
        return [d for d in out if d.stage_one] + [d for d in out if not d.stage_one]

    async def _missing_namespaces(self, names: set[str]) -> set[str]:
        missing: set[str] = set()
        for name in sorted(names):
            if await self.cluster.get(ObjectKey("v1", "Namespace", None, name)) is None:
                missing.add(name)
        return missing

    # -- plan -------------------------------------------------------------------------------------

    async def _gather(self, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
        """Run ``calls`` ``concurrency`` at a time; raise the first failure in the given order."""
        results: list[Any] = [None] * len(calls)
        errors: list[Exception | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def run(i: int) -> None:
            async with limiter:
                try:
                    results[i] = await calls[i]()
                except Exception as err:  # kept, and re-raised below in apply order
                    errors[i] = err

        async with anyio.create_task_group() as tg:
            for i in range(len(calls)):
                tg.start_soon(run, i)
        for err in errors:
            if err is not None:
                raise err
        return results

    async def _live(self, desired: Sequence[_Desired]) -> dict[ObjectRef, dict[str, Any] | None]:
        groups: dict[tuple[str, str, str | None], list[_Desired]] = {}
        for d in desired:
            groups.setdefault((d.key.api_version, d.key.kind, d.key.namespace), []).append(d)
        live: dict[ObjectRef, dict[str, Any] | None] = {}
        calls: list[Callable[[], Awaitable[None]]] = []
        for (api_version, kind, namespace), members in groups.items():
            if len(members) >= _LIST_THRESHOLD:

                async def by_list(
                    api_version: str = api_version,
                    kind: str = kind,
                    namespace: str | None = namespace,
                    members: list[_Desired] = members,
                ) -> None:
                    try:
                        found = await self.cluster.list(api_version, kind, namespace=namespace)
                    except ForbiddenError:
                        # Allowed to get and patch but not to list (a narrow Role): one get each.
                        for d in members:
                            live[d.ref] = await self.cluster.get(d.key)
                        return
                    by_name = {str(o["metadata"]["name"]): o for o in found.items}
                    for d in members:
                        live[d.ref] = by_name.get(d.ref.name)

                calls.append(by_list)
            else:
                for d in members:

                    async def by_get(d: _Desired = d) -> None:
                        live[d.ref] = await self.cluster.get(d.key)

                    calls.append(by_get)
        await self._gather(calls)
        return live

    def _digest(self, d: _Desired, live: Mapping[str, Any] | None) -> str:
        if d.is_secret:
            uid = _uid(live)
            return body_digest(d.resource.body, self.field_manager, key=uid) if uid else ""
        return body_digest(d.resource.body, self.field_manager)

    async def _plan(
        self, desired: Sequence[_Desired], old: Mapping[ObjectRef, InventoryEntry]
    ) -> list[_Plan]:
        live = await self._live(desired)
        return await self._gather(
            [functools.partial(self._plan_one, d, live[d.ref], old.get(d.ref)) for d in desired]
        )

    async def _plan_one(
        self, d: _Desired, live: dict[str, Any] | None, entry: InventoryEntry | None
    ) -> _Plan:
        if d.policy == "Ignore" or (d.policy == "IfNotPresent" and live is not None):
            return _Plan(d, "skip", live)
        same_desired = entry is not None and bool(entry.digest) and entry.digest == self._digest(d, live)
        if (
            live is not None
            and same_desired
            and entry is not None
            and entry.resource_version == _rv(live)
            and entry.version == d.key.version
        ):
            # Same desired body, and nobody wrote the object since this sink last did: a dry run would
            # return the live object again.
            return _Plan(d, "unchanged", live)
        secret_status: int | None = None
        dry: dict[str, Any] | None = None
        try:
            dry = await self.cluster.apply(
                d.resource.body, field_manager=self.field_manager, force=self.force, dry_run=True
            )
        except FieldManagerConflictError:
            # Field paths and manager names only: safe to surface for Secrets too.
            if live is not None and same_desired:
                # Another manager took fields this sink owned at its last apply: a hand edit, i.e. drift.
                return _Plan(d, "drift" if self.drift == "correct" else "detect", live, force=True)
            raise
        except ClusterError as err:
            immutable = isinstance(err, InvalidObjectError) and is_immutable_error(err.detail)
            if immutable and self.force and live is not None:
                return _Plan(d, "recreate", live, force=True)
            if not (d.is_secret and _may_quote_values(err)):
                raise
            secret_status = err.status
        if secret_status is not None or dry is None:
            # Raised outside the except block, so the server's answer is not even the context.
            raise SecretApplyError(d.ref, "apply", secret_status)
        if live is None:
            return _Plan(d, "create", None)
        if same_state(dry, live, self.field_manager):
            return _Plan(d, "unchanged", live)
        if same_desired:
            return _Plan(d, "drift" if self.drift == "correct" else "detect", live)
        return _Plan(d, "configure", live)

    async def _call(self, d: _Desired, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Call the cluster for ``d``; a Secret's rejection is reported without the server's words."""
        status: int | None = None
        try:
            return await fn(*args, **kwargs)
        except ClusterError as err:
            if not (d.is_secret and _may_quote_values(err)):
                raise
            status = err.status
        # Raised outside the except block, so the server's answer is not even the context.
        raise SecretApplyError(d.ref, "apply", status)

    # -- write ------------------------------------------------------------------------------------

    async def _write(self, plans: Sequence[_Plan]) -> None:
        """Apply the plans that change something: in order, a run of objects of one kind concurrently."""
        todo = [p for p in plans if p.action in ("create", "configure", "drift", "recreate")]
        i = 0
        while i < len(todo):
            j = i
            gk = _gk(todo[i].desired.ref)
            while j < len(todo) and _gk(todo[j].desired.ref) == gk:
                j += 1
            await self._gather([functools.partial(self._write_one, p) for p in todo[i:j]])
            i = j

    async def _write_one(self, plan: _Plan) -> None:
        d = plan.desired
        if plan.action == "recreate":
            _log.info("KubernetesSink %s: recreating %s (immutable field changed)", self.name, d.ref)
            with contextlib.suppress(NotFoundError):  # already gone: nothing to wait for
                await self.cluster.delete(d.key, propagation_policy="Background")
            with anyio.move_on_after(self.timeout):
                while True:
                    if await self.cluster.get(d.key) is None:
                        break
                    await anyio.sleep(0.1)
            if await self.cluster.get(d.key) is not None:
                # Finalizers hold it: creating it again must wait for the next run.
                raise HealthCheckError(self.name, [d.ref], self.timeout)
        plan.result = await self._call(
            d,
            self.cluster.apply,
            d.resource.body,
            field_manager=self.field_manager,
            force=self.force or plan.force,
        )
        _log.debug("KubernetesSink %s: %s %s", self.name, plan.action, d.ref)

    async def _wait_for_kinds(self, desired: Sequence[_Desired]) -> None:
        """Wait until the set's CRDs are Established and their kinds are served (discovery knows them)."""
        crds = [d for d in desired if _gk(d.ref) == _CRD and d.policy != "Ignore"]
        kinds = {(d.key.api_version, d.key.kind) for d in desired if d.needs_crd}
        pending: list[ObjectRef] = [d.ref for d in crds]
        with anyio.move_on_after(self.timeout):
            while True:
                pending = []
                for d in crds:
                    obj = await self.cluster.get(d.key)
                    if obj is None or not is_ready(obj):
                        pending.append(d.ref)
                for api_version, kind in sorted(kinds):
                    try:
                        await self.cluster.resource_for(api_version, kind)
                    except UnknownKindError:
                        pending.append(ObjectRef(api_version.rpartition("/")[0], kind, None, "*"))
                if not pending:
                    return
                await anyio.sleep(0.2)
        raise HealthCheckError(self.name, pending, self.timeout)

    def _entry(self, plan: _Plan, old: InventoryEntry | None) -> InventoryEntry:
        d = plan.desired
        if plan.action == "detect" and old is not None:
            # Left as it is: keep what was last applied, so the drift is reported again next time.
            return attrs.evolve(old, version=d.key.version)
        after = plan.result if plan.result is not None else plan.live
        if plan.action == "create" and after is None:  # dry run
            return InventoryEntry(d.ref, d.key.version)
        return InventoryEntry(d.ref, d.key.version, self._digest(d, after), _rv(after))

    # -- inventory --------------------------------------------------------------------------------

    async def _read_inventory(self) -> tuple[tuple[InventoryEntry, ...], str | None]:
        cm = await self.cluster.get(self.inventory_key)
        if cm is None:
            return (), None
        data = cm.get("data") or {}
        entries = parse_inventory(str(self.inventory_key), data)
        return entries, str(data.get("inventory.json", ""))

    def _inventory_body(self, text: str) -> dict[str, Any]:
        key = self.inventory_key
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": key.name,
                "namespace": key.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "reconcilekit",
                    "reconcilekit.dev/inventory": self.name,
                },
            },
            "data": {"inventory.json": text},
        }

    async def _check_inventory_writable(self, old_text: str | None) -> None:
        # A missing inventory namespace or RBAC for it would otherwise fail only after everything else.
        if old_text is None:
            body = self._inventory_body(render_inventory([]))
            await self.cluster.apply(body, field_manager=self.field_manager, force=True, dry_run=True)

    async def _write_inventory(self, entries: Sequence[InventoryEntry], old_text: str | None) -> None:
        text = render_inventory(entries)
        if text == old_text:
            return
        body = self._inventory_body(text)
        # The sink owns its inventory outright, whoever touched it.
        await self.cluster.apply(body, field_manager=self.field_manager, force=True)

    # -- prune ------------------------------------------------------------------------------------

    async def _prune(self, stale: Sequence[InventoryEntry], *, dry_run: bool) -> list[ObjectRef]:
        """Delete ``stale`` objects, last applied first (so Namespaces and CRDs go last)."""
        pruned: list[ObjectRef] = []
        for entry in reversed(stale):
            try:
                live = await self.cluster.get(entry.key)
            except UnknownKindError:
                continue  # its CRD is gone, and the object with it
            if live is None:
                continue  # already gone: fine
            if _annotation(live, _PRUNE_KEYS) == "disabled":
                _log.info("KubernetesSink %s: not pruning %s (prune disabled)", self.name, entry.ref)
                continue
            if not dry_run:
                try:
                    await self.cluster.delete(entry.key, propagation_policy="Background")
                except (NotFoundError, UnknownKindError):
                    continue  # gone meanwhile
            pruned.append(entry.ref)
        pruned.reverse()
        return pruned

    # -- wait -------------------------------------------------------------------------------------

    async def _wait_ready(self, plans: Sequence[_Plan]) -> None:
        pending = [p.desired for p in plans]
        delay = 0.1
        with anyio.move_on_after(self.timeout):
            while pending:
                objs = await self._gather([functools.partial(self.cluster.get, d.key) for d in pending])
                pending = [
                    d for d, obj in zip(pending, objs, strict=True) if obj is None or not is_ready(obj)
                ]
                if not pending:
                    return
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
        if pending:
            raise HealthCheckError(self.name, [d.ref for d in pending], self.timeout)
