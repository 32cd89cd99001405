"""Value types that flow through a reconciler: Resource, ResourceSet, Artifact, Condition, Request, Result.

All are frozen attrs classes. A :class:`Resource` wraps a parsed Kubernetes-style object (a ``dict`` tree as
YAML/JSON parsers produce); the tree is treated as read-only once wrapped - transformers build new resources
with :meth:`Resource.evolve` instead of editing a body in place, so an earlier stage's output is never
changed behind its back.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ._errors import InvalidArgumentError, ValidationError

__all__ = [
    "ApplyReport",
    "Artifact",
    "Condition",
    "Context",
    "DuplicateResourceError",
    "InvalidResourceError",
    "ObjectRef",
    "Request",
    "Resource",
    "ResourceSet",
    "Result",
]


@attrs.frozen(order=True)
class ObjectRef:
    """The identity of a Kubernetes object: group, kind, namespace and name.

    The API version is not part of the identity (``apps/v1`` and ``apps/v1beta1`` Deployments named ``web``
    are the same object), matching how the API server and Flux's inventory identify objects. ``namespace`` is
    ``None`` for cluster-scoped objects and for namespaced objects that have not been given one yet.
    """

    group: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        gk = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{gk}/{self.namespace}/{self.name}" if self.namespace else f"{gk}/{self.name}"


class InvalidResourceError(ValidationError):
    """A document is not a Kubernetes-style object (missing apiVersion, kind or metadata.name)."""

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        where = f" in {source}" if source else ""
        super().__init__(f"invalid resource{where}: {reason}")
        self.reason = reason
        self.source = source


class DuplicateResourceError(ValidationError):
    """Two resources in one :class:`ResourceSet` have the same identity."""

    def __init__(self, ref: ObjectRef) -> None:
        super().__init__(f"duplicate resource {ref}: a resource set holds each object once")
        self.ref = ref


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@attrs.frozen(eq=False)
class Resource:
    """A Kubernetes-style object: ``apiVersion``, ``kind``, ``metadata`` and the rest of its body.

    Build one with :meth:`from_dict` (validates the identity fields). The body must not be modified after
    construction; use :meth:`evolve` to derive a changed copy. Equality compares the whole body.

    Example::

        cm = Resource.from_dict({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}})
        assert cm.ref == ObjectRef("", "ConfigMap", None, "app")
    """

    body: Mapping[str, Any]
    ref: ObjectRef = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        body = self.body
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        metadata = body.get("metadata")
        if not isinstance(api_version, str) or not api_version:
            raise InvalidResourceError("apiVersion is missing or not a string")
        if not isinstance(kind, str) or not kind:
            raise InvalidResourceError(f"kind is missing or not a string (apiVersion {api_version})")
        if not isinstance(metadata, Mapping):
            raise InvalidResourceError(f"{kind} has no metadata mapping")
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidResourceError(f"{kind} has no metadata.name")
        namespace = metadata.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise InvalidResourceError(f"{kind}/{name} metadata.namespace is not a string")
        group, _ = _split_api_version(api_version)
        object.__setattr__(self, "ref", ObjectRef(group, kind, namespace or None, name))

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Resource:
        """Wrap a parsed object; raises :class:`InvalidResourceError` when identity fields are missing."""
        if not isinstance(body, Mapping):
            raise InvalidResourceError(f"expected a mapping, got {type(body).__name__}")
        return cls(body)

    @property
    def api_version(self) -> str:
        """``apiVersion``, e.g. ``apps/v1``."""
        return str(self.body["apiVersion"])

    @property
    def group(self) -> str:
        """API group (empty for the core group)."""
        return self.ref.group

    @property
    def version(self) -> str:
        """API version without the group, e.g. ``v1``."""
        return _split_api_version(self.api_version)[1]

    @property
    def kind(self) -> str:
        """``kind``, e.g. ``Deployment``."""
        return self.ref.kind

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.ref.name

    @property
    def namespace(self) -> str | None:
        """``metadata.namespace``, or ``None`` when unset."""
        return self.ref.namespace

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The ``metadata`` mapping."""
        md: Mapping[str, Any] = self.body["metadata"]
        return md

    @property
    def labels(self) -> Mapping[str, str]:
        """``metadata.labels`` (empty when unset)."""
        return self.metadata.get("labels") or {}

    @property
    def annotations(self) -> Mapping[str, str]:
        """``metadata.annotations`` (empty when unset)."""
        return self.metadata.get("annotations") or {}

    def evolve(self, body: Mapping[str, Any]) -> Resource:
        """Return a new resource with ``body``; the receiver is left unchanged."""
        return Resource(body)

    def to_dict(self) -> dict[str, Any]:
        """A deep, mutable copy of the body."""
        copy: dict[str, Any] = copy_tree(self.body)
        return copy

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return self.ref == other.ref and self.body == other.body

    def __hash__(self) -> int:
        return hash(self.ref)


def _resources(items: Iterable[Resource]) -> tuple[Resource, ...]:
    return tuple(items)


def _refs(items: Iterable[ObjectRef]) -> tuple[ObjectRef, ...]:
    return tuple(items)


def _str_map(m: Mapping[str, str]) -> dict[str, str]:
    return dict(m)


def _any_map(m: Mapping[str, Any]) -> dict[str, Any]:
    return dict(m)


def copy_tree(value: Any) -> Any:
    """A deep, mutable copy of a JSON-shaped tree (mappings become dicts, sequences lists).

    Several times faster than :func:`copy.deepcopy` for the trees a resource body holds; the exact-type checks
    come first because almost every node is a plain dict, list or scalar.
    """
    kind = type(value)
    if kind is dict:
        return {k: copy_tree(v) for k, v in value.items()}
    if kind is list:
        return [copy_tree(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_tree(v) for v in value]
    return value


@attrs.frozen(eq=False)
class ResourceSet:
    """An ordered set of resources, unique by :class:`ObjectRef`.

    Order is kept as given (it is the apply order unless a sink sorts). Building a set with two resources of
    the same identity raises :class:`DuplicateResourceError`.

    Example::

        rs = ResourceSet([cm, deploy])
        rs[cm.ref] is cm
        rs.replace(cm.evolve(new_body))
    """

    _items: tuple[Resource, ...] = attrs.field(converter=_resources, alias="resources", default=())
    _index: Mapping[ObjectRef, int] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        index: dict[ObjectRef, int] = {}
        for i, res in enumerate(self._items):
            if not isinstance(res, Resource):
                raise TypeError(f"ResourceSet holds Resource objects, got {type(res).__name__}")
            if res.ref in index:
                raise DuplicateResourceError(res.ref)
            index[res.ref] = i
        object.__setattr__(self, "_index", index)

    @property
    def resources(self) -> tuple[Resource, ...]:
        """The resources, in order."""
        return self._items

    @property
    def refs(self) -> tuple[ObjectRef, ...]:
        """The identities, in order."""
        return tuple(r.ref for r in self._items)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Resource):
            return item.ref in self._index
        return item in self._index

    def __getitem__(self, ref: ObjectRef) -> Resource:
        return self._items[self._index[ref]]

    def get(self, ref: ObjectRef) -> Resource | None:
        """The resource with identity ``ref``, or ``None``."""
        i = self._index.get(ref)
        return None if i is None else self._items[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceSet):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self.refs)

    def replace(self, *resources: Resource) -> ResourceSet:
        """A new set where each given resource replaces the one with its identity (appended if new)."""
        items = list(self._items)
        for res in resources:
            i = self._index.get(res.ref)
            if i is None:
                items.append(res)
            else:
                items[i] = res
        return ResourceSet(items)

    def filter(self, predicate: Callable[[Resource], bool]) -> ResourceSet:
        """A new set with the resources for which ``predicate(resource)`` is true, order kept."""
        return ResourceSet(r for r in self._items if predicate(r))

    def map(self, fn: Callable[[Resource], Resource]) -> ResourceSet:
        """A new set with ``fn(resource)`` for every resource, order kept (identities may change)."""
        return ResourceSet(fn(r) for r in self._items)

    @classmethod
    def from_dicts(cls, bodies: Iterable[Mapping[str, Any]]) -> ResourceSet:
        """Build a set from parsed objects (see :meth:`Resource.from_dict`)."""
        return cls(Resource.from_dict(b) for b in bodies)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Deep, mutable copies of every body, in order."""
        return [r.to_dict() for r in self._items]


@attrs.frozen
class Artifact:
    """An immutable snapshot of desired state fetched by a :class:`~reconcilekit.Source`.

    Attributes:
        revision: what was fetched, in Flux's format (``main@sha1:<sha>``, ``v1.2.0@sha1:<sha>``,
            ``sha1:<sha>``) or any string a source chooses; equal revisions mean equal content.
        digest: ``sha256:<hex>`` over the snapshot's content.
        path: local directory holding the snapshot; never modified once handed out.
        metadata: optional extra facts (commit message, author...), all strings.
    """

    revision: str
    digest: str
    path: Path = attrs.field(converter=Path)
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map, eq=False)


ConditionStatus = Literal["True", "False", "Unknown"]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@attrs.frozen
class Condition:
    """A status condition following Kubernetes (kstatus) conventions.

    ``type`` is e.g. ``Ready``, ``Reconciling``, ``Stalled``; ``status`` is ``"True"``, ``"False"`` or
    ``"Unknown"``; ``reason`` is a CamelCase word; ``message`` is for people.
    """

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    observed_generation: int | None = None
    last_transition_time: _dt.datetime = attrs.field(factory=_utcnow, eq=False)

    def with_transition_from(self, previous: Condition | None) -> Condition:
        """Keep ``previous``'s transition time when the status did not change (as the API conventions say)."""
        if previous is not None and previous.type == self.type and previous.status == self.status:
            return attrs.evolve(self, last_transition_time=previous.last_transition_time)
        return self


@attrs.frozen
class Request:
    """What a reconcile is asked to do: the key only.

    A request never carries the event that caused it; a reconciler reads current state itself
    (level-triggered), so a missed or duplicated event changes nothing.
    """

    key: Hashable


@attrs.frozen
class Result:
    """The outcome of a successful reconcile.

    ``requeue_after`` asks the controller to run the same key again after that many seconds (the normal
    way to poll a source); ``None`` means "until the next event or resync".
    """

    requeue_after: float | None = attrs.field(default=None)

    @requeue_after.validator
    def _check(self, _: attrs.Attribute[float | None], value: float | None) -> None:
        if value is not None and not value >= 0:  # also rejects NaN
            raise InvalidArgumentError(f"requeue_after must be >= 0, got {value!r}")


@attrs.frozen
class Context:
    """What a transformer or sink may know about the run it is part of.

    Attributes:
        artifact: the artifact being rendered, when the run started from a source.
        revision: the artifact's revision (or a caller-chosen label).
        dry_run: when true a sink computes its report without changing the target.
        values: free-form extras a pipeline passes down (e.g. substitution variables).
    """

    artifact: Artifact | None = None
    revision: str | None = None
    dry_run: bool = False
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=_any_map)


@attrs.frozen
class ApplyReport:
    """What a :class:`~reconcilekit.Sink` did: objects created, configured (changed), unchanged, pruned.

    ``drifted`` lists objects whose live state differed from desired state before the apply (a hand edit that
    was reverted, or - in detect-only mode - left in place and reported).
    """

    created: tuple[ObjectRef, ...] = attrs.field(default=(), converter=_refs)
    configured: tuple[ObjectRef, ...] = attrs.field(default=(), converter=_refs)
    unchanged: tuple[ObjectRef, ...] = attrs.field(default=(), converter=_refs)
    pruned: tuple[ObjectRef, ...] = attrs.field(default=(), converter=_refs)
    drifted: tuple[ObjectRef, ...] = attrs.field(default=(), converter=_refs)

    @property
    def applied(self) -> tuple[ObjectRef, ...]:
        """Objects that were created or changed."""
        return self.created + self.configured

    @property
    def changed(self) -> bool:
        """True when anything was created, configured or pruned."""
        return bool(self.created or self.configured or self.pruned)

    def summary(self) -> str:
        """A one-line human summary, e.g. ``2 created, 1 configured, 5 unchanged, 0 pruned``."""
        s = (
            f"{len(self.created)} created, {len(self.configured)} configured, "
            f"{len(self.unchanged)} unchanged, {len(self.pruned)} pruned"
        )
        return s + (f", {len(self.drifted)} drifted" if self.drifted else "")
