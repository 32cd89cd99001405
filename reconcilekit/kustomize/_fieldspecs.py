"""Field specs: which fields of which kinds a builtin transformer touches (kustomize's default config).

A spec is (group, version, kind, path, create). Empty group/version/kind match anything. A path is
``/``-separated (``\\/`` escapes a slash inside a key); a sequence met on the way is walked element by
element, so ``spec/template/spec/containers/env`` reaches every container's env.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "ANNOTATION_SPECS",
    "COMMON_LABEL_SPECS",
    "IMAGE_SPECS",
    "METADATA_LABEL_SPECS",
    "REPLICA_SPECS",
    "FieldSpec",
    "apply_at",
    "split_path",
]


class FieldSpec:
    """One field the transformer acts on, for the kinds it applies to."""

    __slots__ = ("create", "group", "kind", "path", "segments", "version")

    def __init__(
        self, path: str, *, kind: str = "", group: str = "", version: str = "", create: bool = False
    ):
        self.path = path
        self.kind = kind
        self.group = group
        self.version = version
        self.create = create
        self.segments = split_path(path)

    def applies(self, group: str, version: str, kind: str) -> bool:
        return (
            (not self.kind or self.kind == kind)
            and (not self.group or self.group == group)
            and (not self.version or self.version == version)
        )


def split_path(path: str) -> tuple[str, ...]:
    parts: list[str] = []
    cur = ""
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path) and path[i + 1] == "/":
            cur += "/"
            i += 2
            continue
        if ch == "/":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    parts.append(cur)
    # "containers[]" keeps its marker: a list named so is walked but never created.
    return tuple(p for p in parts if p)


def apply_at(
    node: Any, segments: tuple[str, ...], create: bool, fn: Callable[[dict[str, Any], str], None]
) -> None:
    """Call ``fn(parent, key)`` for every place ``segments`` reaches in ``node``.

    Intermediate mappings are created when ``create`` is set; sequences are walked element by element.
    The last key need not exist: ``fn`` decides what to do when it is absent.
    """
    if isinstance(node, list):
        for item in node:
            apply_at(item, segments, create, fn)
        return
    if not isinstance(node, dict):
        return
    key = segments[0]
    is_list = key.endswith("[]")
    if is_list:
        key = key[:-2]
    if len(segments) == 1:
        if key in node or (create and not is_list):
            fn(node, key)
        return
    child = node.get(key)
    if child is None:
        if not create or is_list:
            return
        child = {}
        node[key] = child
    apply_at(child, segments[1:], create, fn)


def _specs(*items: tuple[str, str, str, bool] | tuple[str, str, str, bool, str]) -> tuple[FieldSpec, ...]:
    out = []
    for item in items:
        path, kind, group, create = item[0], item[1], item[2], item[3]
        version = str(item[4]) if len(item) > 4 else ""
        out.append(FieldSpec(path, kind=kind, group=group, create=create, version=version))
    return tuple(out)


# Labels for templates (kustomize's metadataLabelsFieldSpecs, used by includeTemplates).
METADATA_LABEL_SPECS = _specs(
    ("metadata/labels", "", "", True),
    ("spec/template/metadata/labels", "ReplicationController", "", True, "v1"),
    ("spec/template/metadata/labels", "Deployment", "", True),
    ("spec/template/metadata/labels", "ReplicaSet", "", True),
    ("spec/template/metadata/labels", "DaemonSet", "", True),
    ("spec/template/metadata/labels", "StatefulSet", "apps", True),
    ("spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", "apps", True),
    ("spec/template/metadata/labels", "Job", "batch", True),
    ("spec/jobTemplate/metadata/labels", "CronJob", "batch", True),
    ("spec/jobTemplate/spec/template/metadata/labels", "CronJob", "batch", True),
)

_AFFINITY = (
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/"
    "podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
    "labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/"
    "podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
    "labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
)

# commonLabels and labels with includeSelectors (kustomize's commonLabelFieldSpecs).
COMMON_LABEL_SPECS = (
    *_specs(
        ("spec/selector", "Service", "", True, "v1"),
        ("spec/selector", "ReplicationController", "", True, "v1"),
        ("spec/selector/matchLabels", "Deployment", "", True),
    ),
    *(FieldSpec(p, kind="Deployment", group="apps") for p in _AFFINITY),
    *_specs(
        ("spec/selector/matchLabels", "ReplicaSet", "", True),
        ("spec/selector/matchLabels", "DaemonSet", "", True),
        ("spec/selector/matchLabels", "StatefulSet", "apps", True),
    ),
    *(FieldSpec(p, kind="StatefulSet", group="apps") for p in _AFFINITY),
    *_specs(
        ("spec/selector/matchLabels", "Job", "batch", False),
        ("spec/jobTemplate/spec/selector/matchLabels", "CronJob", "batch", False),
        ("spec/selector/matchLabels", "PodDisruptionBudget", "policy", False),
        ("spec/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", False),
        ("spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", False),
        ("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", False),
    ),
    *METADATA_LABEL_SPECS,
)

# commonAnnotations (kustomize's commonAnnotationFieldSpecs).
ANNOTATION_SPECS = _specs(
    ("metadata/annotations", "", "", True),
    ("spec/template/metadata/annotations", "ReplicationController", "", True, "v1"),
    ("spec/template/metadata/annotations", "Deployment", "", True),
    ("spec/template/metadata/annotations", "ReplicaSet", "", True),
    ("spec/template/metadata/annotations", "DaemonSet", "", True),
    ("spec/template/metadata/annotations", "StatefulSet", "apps", True),
    ("spec/template/metadata/annotations", "Job", "batch", True),
    ("spec/jobTemplate/metadata/annotations", "CronJob", "batch", True),
    ("spec/jobTemplate/spec/template/metadata/annotations", "CronJob", "batch", True),
)

IMAGE_SPECS = _specs(
    ("spec/containers[]/image", "", "", True),
    ("spec/initContainers[]/image", "", "", True),
    ("spec/template/spec/containers[]/image", "", "", True),
    ("spec/template/spec/initContainers[]/image", "", "", True),
)

REPLICA_SPECS = _specs(
    ("spec/replicas", "Deployment", "", True),
    ("spec/replicas", "ReplicationController", "", True),
    ("spec/replicas", "ReplicaSet", "", True),
    ("spec/replicas", "StatefulSet", "", True),
)
