"""Talking to Kubernetes: the :class:`Cluster` interface, :class:`KubeCluster`, keys, events and typed errors.

Every Kubernetes part of reconcilekit (sinks, inventories, drift watches) talks to a :class:`Cluster`: a
small async API - ``get``, ``list``/``list_pages``, ``watch``, ``create``/``update``/``patch``,
server-side ``apply``, ``delete``, ``update_status``/``patch_status`` and ``resource_for`` (discovery) -
that works for any kind, CRDs included. :class:`KubernetesSink` is the pipeline stage built on it: it
applies a ResourceSet with server-side apply, keeps an inventory, prunes and reports drift, as Flux's
Kustomization does. :class:`KubeCluster` implements Cluster against an API server with
kubernetes-asyncio; :class:`reconcilekit.testing.FakeCluster` implements it in memory for unit tests.

Objects are plain ``dict`` trees. One object is named by an :class:`ObjectKey` (``ObjectRef`` + apiVersion)
or by the object itself. Failures are :class:`ClusterError` subclasses that name the verb and the object::

    async with await KubeCluster.from_kubeconfig(context="dev") as cluster:
        live = await cluster.apply(manifest, field_manager="my-controller")
        async with contextlib.aclosing(cluster.watch("v1", "ConfigMap", namespace="app")) as events:
            async for event in events:
                ...
"""

from __future__ import annotations

from .._protocols import Sink
from .._public import publish
from ._errors import (
    AlreadyExistsError,
    ClusterError,
    ClusterUnreachableError,
    ConflictError,
    FieldConflict,
    FieldManagerConflictError,
    ForbiddenError,
    GoneError,
    InvalidObjectError,
    KubeconfigError,
    NotFoundError,
    ServerError,
    UnauthorizedError,
    UnknownKindError,
)
from ._inventory import InventoryEntry, InventoryError
from ._kube_cluster import DEFAULT_FIELD_MANAGER, KubeCluster
from ._protocol import Cluster, PatchType, PropagationPolicy
from ._sink import (
    PRUNE_ANNOTATION,
    SSA_ANNOTATION,
    HealthCheckError,
    InvalidManifestError,
    KubernetesSink,
    PruneToEmptyError,
    SecretApplyError,
)
from ._types import KeyLike, ObjectKey, ObjectList, ResourceInfo, WatchEvent, WatchEventType

__all__ = [
    "DEFAULT_FIELD_MANAGER",
    "PRUNE_ANNOTATION",
    "SSA_ANNOTATION",
    "AlreadyExistsError",
    "Cluster",
    "ClusterError",
    "ClusterUnreachableError",
    "ConflictError",
    "FieldConflict",
    "FieldManagerConflictError",
    "ForbiddenError",
    "GoneError",
    "HealthCheckError",
    "InvalidManifestError",
    "InvalidObjectError",
    "InventoryEntry",
    "InventoryError",
    "KeyLike",
    "KubeCluster",
    "KubeconfigError",
    "KubernetesSink",
    "NotFoundError",
    "ObjectKey",
    "ObjectList",
    "PatchType",
    "PropagationPolicy",
    "PruneToEmptyError",
    "ResourceInfo",
    "SecretApplyError",
    "ServerError",
    "UnauthorizedError",
    "UnknownKindError",
    "WatchEvent",
    "WatchEventType",
]

publish(globals(), __name__)

# Static proof that the implementation conforms (checked by mypy).
_kube: type[Cluster] = KubeCluster
_sink: type[Sink] = KubernetesSink
