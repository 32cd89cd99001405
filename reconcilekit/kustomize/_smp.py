"""Strategic merge patch with Kubernetes semantics, as kustomize applies it.

Maps merge key by key; ``null`` deletes; scalars replace. Lists of built-in kinds that Kubernetes declares
with a patch merge key (containers by ``name``, ports by ``containerPort``, Service ports by ``port``...)
merge element-wise: the patch's elements come first, in patch order (merged with their counterparts), then
the original elements the patch did not mention, in original order - the order kustomize v5 prints.
Other lists, and every list of a kind without a built-in schema (custom resources), are replaced.
Directives: ``$patch: delete`` / ``$patch: replace`` on maps and list elements; ``$setElementOrder``,
``$retainKeys`` and ``$deleteFromPrimitiveList`` are accepted and dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["has_builtin_schema", "schema_for", "strategic_merge"]


class _ListSchema:
    __slots__ = ("extra_keys", "item", "key", "primitive_merge")

    def __init__(
        self,
        key: str | None,
        item: dict[str, Any] | None = None,
        primitive_merge: bool = False,
        extra_keys: tuple[str, ...] = (),
    ):
        self.key = key
        self.item = item
        self.primitive_merge = primitive_merge
        # Further x-kubernetes-list-map-keys (Service ports: protocol), matched as kyaml does.
        self.extra_keys = extra_keys


_OBJECT_META: dict[str, Any] = {
    "finalizers": _ListSchema(None, primitive_merge=True),
    "ownerReferences": _ListSchema("uid"),
}
_CONTAINER: dict[str, Any] = {
    "ports": _ListSchema("containerPort"),
    "env": _ListSchema("name"),
    "volumeMounts": _ListSchema("mountPath"),
    "volumeDevices": _ListSchema("devicePath"),
    "resizePolicy": _ListSchema("resourceName"),
}
_POD_SPEC: dict[str, Any] = {
    "containers": _ListSchema("name", _CONTAINER),
    "initContainers": _ListSchema("name", _CONTAINER),
    "ephemeralContainers": _ListSchema("name", _CONTAINER),
    "volumes": _ListSchema("name"),
    "imagePullSecrets": _ListSchema("name"),
    "hostAliases": _ListSchema("ip"),
    "topologySpreadConstraints": _ListSchema("topologyKey", extra_keys=("whenUnsatisfiable",)),
    "resourceClaims": _ListSchema("name"),
    "schedulingGates": _ListSchema("name"),
}
_POD_TEMPLATE: dict[str, Any] = {"metadata": _OBJECT_META, "spec": _POD_SPEC}
_CONDITIONS = {"conditions": _ListSchema("type")}
_WORKLOAD: dict[str, Any] = {
    "metadata": _OBJECT_META,
    "spec": {"template": _POD_TEMPLATE},
    "status": _CONDITIONS,
}
_JOB_TEMPLATE: dict[str, Any] = {"metadata": _OBJECT_META, "spec": {"template": _POD_TEMPLATE}}

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "Pod": {"metadata": _OBJECT_META, "spec": _POD_SPEC, "status": _CONDITIONS},
    "PodTemplate": {"metadata": _OBJECT_META, "template": _POD_TEMPLATE},
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "ReplicationController": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": {"metadata": _OBJECT_META, "spec": {"jobTemplate": _JOB_TEMPLATE}},
    "Service": {"metadata": _OBJECT_META, "spec": {"ports": _ListSchema("port", extra_keys=("protocol",))}},
}

_BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "extensions",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "apiregistration.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "events.k8s.io",
        "resource.k8s.io",
    }
)
_META_ONLY: dict[str, Any] = {"metadata": _OBJECT_META}


def has_builtin_schema(group: str) -> bool:
    """Whether kustomize knows the kind's schema (built-in API groups) - else lists are replaced."""
    return group in _BUILTIN_GROUPS


def schema_for(group: str, kind: str) -> dict[str, Any] | None:
    """The merge-key schema for a kind, or ``None`` for kinds kustomize has no schema for."""
    if group not in _BUILTIN_GROUPS:
        return None
    schema: dict[str, Any] = _KIND_SCHEMAS.get(kind, _META_ONLY)
    return schema


# kustomize (kyaml merge2) understands only $patch; other apimachinery directives are kept as fields.
_DIRECTIVE_PREFIXES: tuple[str, ...] = ()


def _clean(value: Any) -> Any:
    """A patch subtree added where nothing existed: drop directives and nulls."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "$patch" or (isinstance(k, str) and k.startswith(_DIRECTIVE_PREFIXES)) or v is None:
                continue
            out[k] = _clean(v)
        return out
    if isinstance(value, list):
        return [
            _clean(v) for v in value if not (isinstance(v, dict) and v.get("$patch") in ("delete", "replace"))
        ]
    return value


def strategic_merge(base: Any, patch: Any, schema: dict[str, Any] | None) -> Any:
    """Return ``base`` merged with ``patch`` (``base`` is modified and returned when it is a map).

    Returns ``None`` when the patch deletes the whole object (``$patch: delete`` at the top).
    """
    if not isinstance(patch, dict):
        return _clean(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace" or not isinstance(base, dict):
        return _clean(patch)
    for key, pval in patch.items():
        if key == "$patch" or (isinstance(key, str) and key.startswith(_DIRECTIVE_PREFIXES)):
            continue
        if pval is None:
            base.pop(key, None)
            continue
        sub = schema.get(key) if schema is not None else None
        bval = base.get(key)
        if isinstance(pval, dict):
            if isinstance(bval, dict):
                if pval.get("$patch") == "delete":
                    del base[key]
                    continue
                merged = strategic_merge(bval, pval, sub if isinstance(sub, dict) else None)
                if merged is None:
                    del base[key]
                else:
                    base[key] = merged
            elif pval.get("$patch") == "delete":
                base.pop(key, None)
            else:
                base[key] = _clean(pval)
        elif isinstance(pval, list):
            if isinstance(bval, list) and isinstance(sub, _ListSchema) and (sub.key or sub.primitive_merge):
                base[key] = _merge_list(bval, pval, sub)
            else:
                # A list without merge keys is replaced by the patch's list, verbatim (directives too).
                base[key] = _copy(pval)
        else:
            base[key] = pval
    return base


def _merge_list(base: list[Any], patch: list[Any], ls: _ListSchema) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_clean(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if ls.primitive_merge:
        seen = set(map(_hashable, patch))
        return [*patch, *(b for b in base if _hashable(b) not in seen)]
    key = ls.key
    if key is None:
        return [_clean(p) for p in patch]
    if ls.extra_keys and any(
        isinstance(e, dict) and any(k in e for k in ls.extra_keys) for e in (*base, *patch)
    ):
        return _merge_multi_key(base, patch, ls)
    index: dict[Any, int] = {}
    for i, b in enumerate(base):
        if isinstance(b, dict) and key in b:
            index.setdefault(_hashable(b[key]), i)
    used: set[int] = set()
    deleted: set[int] = set()
    out: list[Any] = []
    for p in patch:
        if not isinstance(p, dict) or key not in p:
            out.append(_clean(p))
            continue
        found = index.get(_hashable(p[key]))
        if p.get("$patch") == "delete":
            if found is not None:
                deleted.add(found)
            continue
        if found is None:
            out.append(_clean(p))
        else:
            i = found
            used.add(i)
            merged = strategic_merge(base[i], p, ls.item)
            if merged is not None:
                out.append(merged)
    out.extend(b for i, b in enumerate(base) if i not in used and i not in deleted)
    return out


def _merge_multi_key(base: list[Any], patch: list[Any], ls: _ListSchema) -> list[Any]:
    """Lists keyed by several fields (kyaml's list-map-keys walk), as kustomize v5 leaves them.

    An element matches only when every key is equal (absent equals absent); matched elements merge in
    place, keeping the original order; unmatched patch elements go first. A patch element that lacks a
    secondary key while an original element has the same primary key is dropped - kustomize does that.
    """
    keys = (str(ls.key), *ls.extra_keys)

    def ident(e: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_hashable(e.get(k)) for k in keys)

    out = list(base)
    new: list[Any] = []
    for p in patch:
        if not isinstance(p, dict) or ls.key not in p:
            continue
        pid = ident(p)
        exact = next((i for i, b in enumerate(out) if isinstance(b, dict) and ident(b) == pid), None)
        if p.get("$patch") == "delete":
            if exact is not None:
                del out[exact]
            continue
        if exact is not None:
            merged = strategic_merge(out[exact], p, ls.item)
            if merged is None:
                del out[exact]
            else:
                out[exact] = merged
            continue
        partial = any(
            isinstance(b, dict)
            and _hashable(b.get(ls.key)) == pid[0]
            and any((k not in p) or (k not in b) for k in ls.extra_keys)
            for b in out
        )
        if not partial:
            new.append(_clean(p))
    return [*new, *out]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
