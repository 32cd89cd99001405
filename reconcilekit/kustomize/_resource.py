"""The engine's working resource: a mutable body plus the bookkeeping kustomize keeps beside it.

While a build runs, bodies are plain dicts edited in place (copying 2,000 resources per transformer would
dominate the run time). Each keeps the identities it had before renames (``prev_ids``) so name references
can be fixed at the end, as kustomize's ``previousNames`` annotations do. Only the finished build is
wrapped in immutable :class:`~reconcilekit.Resource` objects.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLUSTER_SCOPED_KINDS", "ResId", "WorkResource", "gvk_string", "split_api_version"]

# Kinds the Kubernetes API serves cluster-wide: the namespace transformer leaves them alone and name
# references to them ignore namespaces (kustomize reads this from its built-in OpenAPI schema).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SelfSubjectReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "ClusterTrustBundle",
        "DeviceClass",
        "IPAddress",
        "ServiceCIDR",
        "StorageVersionMigration",
        "VolumeAttributesClass",
    }
)


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → ``("apps", "v1")``; ``v1`` → ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def gvk_string(group: str, version: str, kind: str) -> str:
    """kustomize's ``Gvk.String()``: ``Deployment.v1.apps``, ``ConfigMap.v1.[noGrp]``."""
    return f"{kind}.{version or '[noVer]'}.{group or '[noGrp]'}"


class ResId:
    """group/version/kind/namespace/name, as kustomize's ``resid.ResId`` (namespace ``""`` = default)."""

    __slots__ = ("group", "kind", "name", "namespace", "version")

    def __init__(self, group: str, version: str, kind: str, name: str, namespace: str) -> None:
        self.group = group
        self.version = version
        self.kind = kind
        self.name = name
        self.namespace = namespace

    @property
    def cluster_scoped(self) -> bool:
        return self.kind in CLUSTER_SCOPED_KINDS

    def effective_namespace(self) -> str:
        if self.cluster_scoped:
            return ""
        return self.namespace or "default"

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.group, self.version, self.kind, self.effective_namespace(), self.name)

    def __str__(self) -> str:
        ns = self.namespace or "[noNs]"
        return f"{gvk_string(self.group, self.version, self.kind)}/{self.name}.{ns}"

    def __repr__(self) -> str:
        return f"ResId({self})"


class WorkResource:
    """A resource being built: ``obj`` is edited in place by the engine's transformers."""

    __slots__ = ("behavior", "needs_hash", "obj", "origin", "prev_ids", "source", "transformations")

    def __init__(self, obj: dict[str, Any], source: str, *, origin: dict[str, Any] | None = None) -> None:
        self.obj = obj
        self.source = source
        self.prev_ids: list[ResId] = []
        self.needs_hash = False
        self.behavior = "create"
        self.origin = origin
        # Builtin transformers that ran over this resource (buildMetadata transformerAnnotations).
        self.transformations: list[dict[str, Any]] = []

    # -- identity ------------------------------------------------------------------------------------
    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        md = self.obj.get("metadata")
        if not isinstance(md, dict):
            md = {}
            self.obj["metadata"] = md
        return md

    @property
    def name(self) -> str:
        md = self.obj.get("metadata")
        return str(md.get("name") or "") if isinstance(md, dict) else ""

    @property
    def namespace(self) -> str:
        md = self.obj.get("metadata")
        return str(md.get("namespace") or "") if isinstance(md, dict) else ""

    def cur_id(self) -> ResId:
        group, version = split_api_version(self.api_version)
        return ResId(group, version, self.kind, self.name, self.namespace)

    def org_id(self) -> ResId:
        return self.prev_ids[0] if self.prev_ids else self.cur_id()

    def all_ids(self) -> list[ResId]:
        return [*self.prev_ids, self.cur_id()]

    def remember_id(self) -> None:
        """Record the current identity before a rename (kustomize's ``StorePreviousId``)."""
        self.prev_ids.append(self.cur_id())

    def set_name(self, name: str) -> None:
        self.metadata["name"] = name

    def set_namespace(self, namespace: str) -> None:
        self.metadata["namespace"] = namespace

    def labels(self) -> dict[str, Any]:
        v = self.metadata.get("labels")
        return v if isinstance(v, dict) else {}

    def annotations(self) -> dict[str, Any]:
        v = self.metadata.get("annotations")
        return v if isinstance(v, dict) else {}
