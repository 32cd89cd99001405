"""``vars``: the deprecated ``$(NAME)`` references, resolved after names are final.

Each kustomization's vars name an object (``objref``) and a field of it (``fieldref.fieldPath``, by default
``metadata.name``). At the end of the build the value is read from that object as it then is (prefixed,
hashed...) and every ``$(NAME)`` in the fields of kustomize's varReference config is replaced - a string
that is only ``$(NAME)`` takes the value's type; ``$$`` escapes a dollar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import KustomizationError
from ._fieldspecs import FieldSpec, apply_at
from ._resource import WorkResource, split_api_version

__all__ = ["VAR_REFERENCE_SPECS", "attach_vars", "resolve_vars"]

_TEMPLATED = ("DaemonSet", "Deployment", "Job", "ReplicaSet", "StatefulSet")
_POD_PATHS = (
    "containers/args",
    "containers/command",
    "containers/env/value",
    "containers/volumeMounts/mountPath",
    "initContainers/args",
    "initContainers/command",
    "initContainers/env/value",
    "initContainers/volumeMounts/mountPath",
    "volumes/nfs/server",
)

# kustomize's api/konfig/builtinpluginconsts/varreference.go.
VAR_REFERENCE_SPECS: tuple[FieldSpec, ...] = (
    *(FieldSpec("spec/jobTemplate/spec/template/spec/" + p, kind="CronJob") for p in _POD_PATHS),
    *(
        FieldSpec("spec/template/spec/" + p, kind=k)
        for k in _TEMPLATED
        for p in _POD_PATHS
        if k != "StatefulSet"
    ),
    *(FieldSpec("spec/template/spec/" + p, kind="StatefulSet") for p in _POD_PATHS[:-1]),
    FieldSpec("spec/volumeClaimTemplates/spec/nfs/server", kind="StatefulSet"),
    *(FieldSpec("spec/" + p, kind="Pod") for p in _POD_PATHS),
    FieldSpec("spec/rules/host", kind="Ingress"),
    FieldSpec("spec/tls/hosts", kind="Ingress"),
    FieldSpec("spec/tls/secretName", kind="Ingress"),
    FieldSpec("spec/ports/port", kind="Service"),
    FieldSpec("spec/ports/targetPort", kind="Service"),
    FieldSpec("spec/nfs/server", kind="PersistentVolume"),
    FieldSpec("metadata/labels"),
    FieldSpec("metadata/annotations"),
)


def _objref_matches(res: WorkResource, ref: Mapping[str, Any]) -> bool:
    group, version = split_api_version(str(ref.get("apiVersion") or ""))
    kind = str(ref.get("kind") or "")
    name = str(ref.get("name") or "")
    namespace = str(ref.get("namespace") or "")
    for rid in res.all_ids():
        if rid.name != name or (kind and rid.kind != kind):
            continue
        if (group or version) and (rid.group, rid.version) != (group, version):
            continue
        if namespace and rid.effective_namespace() != namespace:
            continue
        return True
    return False


def attach_vars(
    resources: Sequence[WorkResource],
    var_defs: Sequence[Mapping[str, Any]],
    known: dict[str, Any],
    where: str,
) -> None:
    """Record each var on the object it names (kustomize's MergeVars); names are unique per build."""
    for var in var_defs:
        name = var.get("name")
        if not isinstance(name, str) or not name:
            raise KustomizationError(where, "a var needs a name")
        if name in known:
            raise KustomizationError(where, f"var '{name}' already encountered")
        ref = var.get("objref") or var.get("objRef") or {}
        if not isinstance(ref, Mapping):
            raise KustomizationError(where, f"var '{name}': objref must be a mapping")
        matched = [r for r in resources if _objref_matches(r, ref)]
        if len(matched) > 1:
            raise KustomizationError(
                where, f"found {len(matched)} resId matches for var {name} (unable to disambiguate)"
            )
        known[name] = {"def": var, "where": where, "target": matched[0] if matched else None}


_INDEX = re.compile(r"^(.*?)\[(\d+)\]$")


def _field_value(obj: Any, path: str) -> Any:
    node = obj
    for part in path.split("."):
        m = _INDEX.match(part)
        keys: list[Any] = [m.group(1), int(m.group(2))] if m else [part]
        for key in keys:
            if key == "":
                continue
            if isinstance(key, int):
                if not isinstance(node, list) or key >= len(node):
                    raise KeyError(path)
                node = node[key]
            else:
                if not isinstance(node, dict) or key not in node:
                    raise KeyError(path)
                node = node[key]
    return node


_REF = re.compile(r"\$\$|\$\(([^)]*)\)")


def _expand(text: str, values: Mapping[str, Any], used: set[str]) -> Any:
    whole = re.fullmatch(r"\$\(([^)]*)\)", text)
    if whole and whole.group(1) in values:
        used.add(whole.group(1))
        return values[whole.group(1)]

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name in values:
            used.add(name)
            value = values[name]
            if value is True or value is False:
                return str(value).lower()
            return str(value)
        return m.group(0)

    return _REF.sub(repl, text)


def resolve_vars(
    resources: Sequence[WorkResource], known: Mapping[str, Any], extra: Sequence[FieldSpec] = ()
) -> None:
    """Replace ``$(NAME)`` everywhere kustomize's varReference config allows."""
    if not known:
        return
    values: dict[str, Any] = {}
    for name, entry in known.items():
        target = entry["target"]
        if target is None:
            raise KustomizationError(
                entry["where"], f"var '{name}' cannot be mapped to a field in the set of known resources"
            )
        fieldref = entry["def"].get("fieldref") or entry["def"].get("fieldRef") or {}
        path = str(fieldref.get("fieldPath") or fieldref.get("fieldpath") or "metadata.name")
        try:
            values[name] = _field_value(target.obj, path)
        except KeyError:
            raise KustomizationError(
                entry["where"], f"field specified in var '{name}' ({path}) not found in {target.cur_id()}"
            ) from None
    used: set[str] = set()

    def fix(parent: dict[str, Any], key: str) -> None:
        value = parent.get(key)
        if isinstance(value, str):
            parent[key] = _expand(value, values, used)
        elif isinstance(value, list):
            parent[key] = [_expand(v, values, used) if isinstance(v, str) else v for v in value]
        elif isinstance(value, dict):
            for k, v in list(value.items()):
                if isinstance(v, str):
                    value[k] = _expand(v, values, used)

    for res in resources:
        group, version = split_api_version(res.api_version)
        for spec in (*VAR_REFERENCE_SPECS, *extra):
            if spec.applies(group, version, res.kind):
                apply_at(res.obj, spec.segments, False, fix)
