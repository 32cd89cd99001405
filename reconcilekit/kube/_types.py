"""Value types of the Cluster interface: object keys, discovery answers, list pages and watch events.

:class:`~reconcilekit.ObjectRef` is an object's identity and deliberately has no version; a request to the API
server needs one (it picks the URL and the schema), so the cluster verbs take an :class:`ObjectKey` - an
``ObjectRef`` plus the ``apiVersion`` to speak - or anything an ``ObjectKey`` can be read from (an object
dict or a :class:`~reconcilekit.Resource`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from .._model import InvalidResourceError, ObjectRef, Resource

__all__ = [
    "KeyLike",
    "ObjectKey",
    "ObjectList",
    "ResourceInfo",
    "WatchEvent",
    "WatchEventType",
]


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@attrs.frozen(order=True)
class ObjectKey:
    """Where an object lives on an API server: ``apiVersion``, ``kind``, namespace and name.

    ``namespace`` is ``None`` for cluster-scoped objects. Build one directly, from an object with :meth:`of`,
    or from an inventory entry with :meth:`from_ref`.

    Example::

        key = ObjectKey("apps/v1", "Deployment", "default", "web")
        key.ref == ObjectRef("apps", "Deployment", "default", "web")
    """

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: KeyLike) -> ObjectKey:
        """The key of an object dict, a :class:`~reconcilekit.Resource` or a key (returned as is).

        Raises :class:`~reconcilekit.InvalidResourceError` when ``apiVersion``, ``kind`` or ``metadata.name``
        is missing.
        """
        if isinstance(obj, ObjectKey):
            return obj
        res = obj if isinstance(obj, Resource) else Resource.from_dict(obj)
        return cls(res.api_version, res.kind, res.namespace, res.name)

    @classmethod
    def from_ref(cls, ref: ObjectRef, version: str) -> ObjectKey:
        """Key for ``ref`` spoken at ``version`` (e.g. ``v1``) of its group."""
        if not version or "/" in version:
            raise InvalidResourceError(f"version {version!r} for {ref} must be a bare version such as 'v1'")
        api_version = f"{ref.group}/{version}" if ref.group else version
        return cls(api_version, ref.kind, ref.namespace, ref.name)

    @property
    def group(self) -> str:
        """API group (empty for the core group)."""
        return _split(self.api_version)[0]

    @property
    def version(self) -> str:
        """Version within the group, e.g. ``v1``."""
        return _split(self.api_version)[1]

    @property
    def ref(self) -> ObjectRef:
        """The version-free identity."""
        return ObjectRef(self.group, self.kind, self.namespace, self.name)

    def __str__(self) -> str:
        return str(self.ref)


KeyLike: TypeAlias = ObjectKey | Resource | Mapping[str, Any]
"""What the cluster verbs accept to name one object: a key, a Resource or an object dict."""


def _sorted_names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(names))


def _items(items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(items)


@attrs.frozen
class ResourceInfo:
    """What discovery says about a kind: its REST resource name and scope.

    Attributes:
        api_version: ``group/version`` (``v1`` for the core group).
        kind: e.g. ``Deployment``.
        plural: the resource name in URLs, e.g. ``deployments``.
        namespaced: whether objects of this kind live in a namespace.
        subresources: subresource names served for the kind (e.g. ``("scale", "status")``), sorted.
    """

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = attrs.field(default=(), converter=_sorted_names)

    @property
    def group(self) -> str:
        """API group (empty for the core group)."""
        return _split(self.api_version)[0]

    @property
    def version(self) -> str:
        """Version within the group."""
        return _split(self.api_version)[1]

    @property
    def has_status(self) -> bool:
        """Whether the kind has a ``status`` subresource (status is written only through it)."""
        return "status" in self.subresources


@attrs.frozen
class ObjectList:
    """The answer to a list: the objects, and the resourceVersion to start a watch from.

    ``continue_token`` is set on a page of a paginated list (:meth:`Cluster.list_pages`) when more pages
    follow; it is ``None`` on the last page and on the result of :meth:`Cluster.list`.
    """

    items: tuple[dict[str, Any], ...] = attrs.field(converter=_items)
    resource_version: str
    continue_token: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> tuple[str, ...]:
        """``metadata.name`` of every item, in order (handy in tests)."""
        return tuple(str(o["metadata"]["name"]) for o in self.items)


WatchEventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


@attrs.frozen
class WatchEvent:
    """One change seen by a watch.

    ``object`` is the object after the change (for ``DELETED``, its last state). A ``BOOKMARK`` carries only
    ``object["metadata"]["resourceVersion"]``: a point the watch can resume from; bookmarks are delivered
    only when the watch was opened with ``allow_bookmarks=True``.
    """

    type: WatchEventType
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        """``metadata.resourceVersion`` of the object."""
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))

    @property
    def name(self) -> str:
        """``metadata.name`` of the object (empty for bookmarks)."""
        return str(self.object.get("metadata", {}).get("name", ""))
