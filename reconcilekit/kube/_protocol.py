"""The Cluster interface: the few verbs every Kubernetes part of reconcilekit uses.

Two implementations: :class:`~reconcilekit.kube.KubeCluster` talks to an API server (kubernetes-asyncio),
and :class:`~reconcilekit.testing.FakeCluster` keeps objects in memory for fast unit tests. reconcilekit's
own test suite runs one scenario suite against both (the fake against a real kube-apiserver), so code
written against this interface behaves the same on both, except where the fake's docstring says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from .._model import Resource
from ._types import KeyLike, ObjectList, ResourceInfo, WatchEvent

__all__ = ["Cluster", "PatchType", "PropagationPolicy"]

PropagationPolicy = Literal["Background", "Foreground", "Orphan"]
PatchType = Literal["merge", "json"]


@runtime_checkable
class Cluster(Protocol):
    """An async Kubernetes API: read, watch, server-side apply, delete and write status, for any kind.

    Conventions shared by every method:

    * Objects are plain JSON-shaped ``dict`` trees, as the API server sends them; methods that take an object
      also accept a :class:`~reconcilekit.Resource`. Returned dicts are fresh copies the caller may change.
    * One object is named by an :class:`~reconcilekit.kube.ObjectKey` (``apiVersion``, kind, namespace,
      name) or by the object itself (``KeyLike``); a kind by its ``api_version`` and ``kind``. Any kind
      works, CRDs included; the REST path comes from discovery (:meth:`resource_for`).
    * ``get`` answers ``None`` for a missing object, because absence is an ordinary state a reconciler acts
      on; every other verb raises :class:`~reconcilekit.kube.NotFoundError`.
    * Failures raise :class:`~reconcilekit.kube.ClusterError` subclasses naming the verb and the object.
    """

    async def get(self, obj: KeyLike) -> dict[str, Any] | None:
        """The live object, or ``None`` when it does not exist."""
        ...

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
        """All objects of a kind (in ``namespace``, or in all namespaces when ``None``), fetched page by page.

        ``label_selector`` uses the API syntax (``app=web,tier in (a,b),!legacy``); ``field_selector``
        supports ``metadata.name`` and ``metadata.namespace`` on every kind. The result's
        ``resource_version`` is where a :meth:`watch` continues from without missing a change.
        """
        ...

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
        """The same objects as :meth:`list`, one page of at most ``limit`` objects at a time."""
        ...

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
        """Changes to objects of a kind, forever, as :class:`~reconcilekit.kube.WatchEvent` s.

        Without ``resource_version`` the watch starts with an ``ADDED`` event for every existing object, then
        follows changes (it lists first, then watches from the list's version); with one (e.g. from
        :meth:`list`), it delivers changes after it. Dropped connections resume from the last seen version;
        when the server cannot be reached again, the iterator raises
        :class:`~reconcilekit.kube.ClusterUnreachableError`. When the server answers 410 Gone (the version
        was compacted away), the watch lists again and emits what changed meanwhile - ``ADDED``/``MODIFIED``
        for new or changed objects, ``DELETED`` for objects that disappeared - so a consumer never misses a
        final state.

        The iterator holds a connection: close it, e.g. with
        ``async with contextlib.aclosing(cluster.watch(...)) as events``.
        """
        ...

    async def create(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create ``obj``; raises :class:`~reconcilekit.kube.AlreadyExistsError` when it exists."""
        ...

    async def update(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Replace ``obj`` (PUT). With ``metadata.resourceVersion`` set, a stale version raises
        :class:`~reconcilekit.kube.ConflictError`. The ``status`` of kinds with a status subresource is
        kept."""
        ...

    async def patch(
        self,
        obj: KeyLike,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Patch ``obj`` with a JSON merge patch (RFC 7386, a mapping) or a JSON patch (RFC 6902, a list)."""
        ...

    async def apply(
        self,
        obj: Resource | Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply ``obj`` as ``field_manager``; creates the object when missing.

        ``obj`` holds only the fields this manager cares about (an apply configuration). Fields set by
        another manager with a different value raise :class:`~reconcilekit.kube.FieldManagerConflictError`
        unless ``force`` is true, which takes them over. Applying the same configuration again changes
        nothing (same ``resourceVersion``). ``dry_run`` returns the result without storing it.
        """
        ...

    async def delete(
        self,
        obj: KeyLike,
        *,
        propagation_policy: PropagationPolicy = "Background",
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Delete ``obj``. Returns the object when it still exists (finalizers pending: it now has a
        ``metadata.deletionTimestamp``), or ``None`` when it is gone."""
        ...

    async def update_status(
        self, obj: Resource | Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Replace the ``status`` of ``obj`` through the status subresource (other changes are ignored);
        a stale ``metadata.resourceVersion`` raises :class:`~reconcilekit.kube.ConflictError`."""
        ...

    async def patch_status(
        self, obj: KeyLike, status: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Merge ``status`` into the object's status (JSON merge patch on the status subresource)."""
        ...

    async def resource_for(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery: the REST resource serving ``kind`` at ``api_version``, and whether it is namespaced.

        Answers are cached; a miss refreshes the cache once (a CRD may have just been installed) before
        raising :class:`~reconcilekit.kube.UnknownKindError`.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; open watches end."""
        ...
