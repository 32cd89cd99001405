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

from typing import Any, TypeGuard

from ._yaml import go_format_float

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

# Returned by the list mergers when a ``$patch: delete`` list marker removes the whole field.
_DELETE: Any = object()
_LIST_DIRECTIVES = ("delete", "replace", "merge")


def _is_associative(ls: Any) -> TypeGuard[_ListSchema]:
    """Whether kyaml merges this list element-wise (its schema names a merge strategy); other lists are
    taken from the patch verbatim, directives included."""
    return isinstance(ls, _ListSchema) and (ls.key is not None or ls.primitive_merge)


def _clean(value: Any, schema: dict[str, Any] | None = None) -> Any:
    """A patch subtree added where nothing existed, as kyaml walks it (merged with itself).

    ``$patch`` keys and nulls go; a map marked ``$patch: delete`` goes; associative lists are merged with
    themselves (:func:`_merge_missing`, after their own list marker); other lists are kept verbatim.
    """
    if not isinstance(value, dict):
        return _copy(value)
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k == "$patch" or (isinstance(k, str) and k.startswith(_DIRECTIVE_PREFIXES)) or v is None:
            continue
        sub = schema.get(k) if schema is not None else None
        if isinstance(v, dict):
            if v.get("$patch") == "delete":
                continue
            out[k] = _clean(v, sub if isinstance(sub, dict) else None)
        elif isinstance(v, list):
            if _is_associative(sub):
                merged = _merge_self(v, sub)
                if merged is not _DELETE:
                    out[k] = merged
            else:
                out[k] = _copy(v)
        else:
            out[k] = v
    return out


def strategic_merge(base: Any, patch: Any, schema: dict[str, Any] | None) -> Any:
    """Return ``base`` merged with ``patch`` (``base`` is modified and returned when it is a map).

    Returns ``None`` when the patch deletes the whole object (``$patch: delete`` at the top).
    """
    if not isinstance(patch, dict):
        return _copy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace" or not isinstance(base, dict):
        return _clean(patch, schema)
    for key, pval in patch.items():
        if key == "$patch" or (isinstance(key, str) and key.startswith(_DIRECTIVE_PREFIXES)):
            continue
        if pval is None:
            base.pop(key, None)
            continue
        sub = schema.get(key) if schema is not None else None
        bval = base.get(key)
        if isinstance(pval, dict):
            sub_map = sub if isinstance(sub, dict) else None
            if isinstance(bval, dict):
                if pval.get("$patch") == "delete":
                    del base[key]
                    continue
                merged = strategic_merge(bval, pval, sub_map)
                if merged is None:
                    del base[key]
                else:
                    base[key] = merged
            elif pval.get("$patch") == "delete":
                base.pop(key, None)
            else:
                base[key] = _clean(pval, sub_map)
        elif isinstance(pval, list):
            if not _is_associative(sub):
                # A list without merge keys is replaced by the patch's list, verbatim (directives too).
                base[key] = _copy(pval)
                continue
            if isinstance(bval, list):
                merged_list = _merge_list(bval, pval, sub)
            else:
                # kyaml adds the patch's list as it is (no list marker is read), then merges it with
                # itself, which applies its items' directives: `- {name: x, $patch: delete}` leaves [].
                merged_list = _merge_missing(pval, sub)
            if merged_list is _DELETE:
                base.pop(key, None)
            else:
                base[key] = merged_list
        else:
            base[key] = pval
    return base


def _list_directive(patch: list[Any]) -> str | None:
    """The list's own ``$patch`` marker, read as kyaml reads it: the first map item that has a ``$patch``
    key decides, and it is a marker only when ``$patch`` is its sole key (else the list merges)."""
    for p in patch:
        if isinstance(p, dict) and "$patch" in p:
            value = p["$patch"]
            if len(p) == 1 and value in _LIST_DIRECTIVES:
                return str(value)
            return None
    return None


def _elide(patch: list[Any], directive: str) -> list[Any]:
    """Remove the marker as kyaml does: every map item whose ``$patch`` equals the marker's value goes
    (keyed items too), and so do empty and null items."""
    return [
        p
        for p in patch
        if p is not None and p != {} and not (isinstance(p, dict) and p.get("$patch") == directive)
    ]


def _merge_self(patch: list[Any], ls: _ListSchema) -> Any:
    """An associative list inside an added subtree: its marker applies (delete drops the field), then it
    merges with itself."""
    directive = _list_directive(patch)
    if directive == "delete":
        return _DELETE
    if directive is not None:
        patch = _elide(patch, directive)
    return _merge_missing(patch, ls)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _merge_missing(patch: list[Any], ls: _ListSchema) -> list[Any]:
    """An associative list merged into nothing (kyaml walks the patch's list against itself).

    No list marker is read here (kyaml adds the list before looking at it); items marked ``$patch: delete``
    go, other items lose their directives. See :func:`_merge_keyed` for items without a key.
    """
    key = ls.key
    if key is None:
        return [_copy(v) for v in patch]
    if ls.extra_keys and any(isinstance(e, dict) and any(k in e for k in ls.extra_keys) for e in patch):
        # Several keys: kyaml deletes by every key some item has; an item lacking one of those keys is
        # not found, so it stays (without its directive).
        keys = (key, *ls.extra_keys)
        valid = [k for k in keys if any(isinstance(e, dict) and _present(e.get(k)) for e in patch)]
        return [
            _clean(e, ls.item)
            for e in patch
            if not (
                isinstance(e, dict) and e.get("$patch") == "delete" and all(_present(e.get(k)) for k in valid)
            )
        ]
    return _merge_keyed(list(patch), patch, ls, same=True)


def _merge_list(base: list[Any], patch: list[Any], ls: _ListSchema) -> Any:
    directive = _list_directive(patch)
    if directive == "delete":
        return _DELETE
    if directive is not None:
        patch = _elide(patch, directive)
        if directive == "replace":
            return _merge_missing(patch, ls)
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
    return _merge_keyed(base, patch, ls, same=False)


def _key_text(item: Any, key: str) -> str | None:
    """An item's merge-key value as kyaml compares it (text; 80 equals "80"), ``None`` without the key."""
    if not isinstance(item, dict) or key not in item:
        return None
    value = item[key]
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_format_float(value)
    return str(value)


def _prune(items: list[Any]) -> None:
    """kyaml's ElementSetter drops null and empty-map items from any list it edits."""
    if any(e is None or e == {} for e in items):
        items[:] = [e for e in items if e is not None and e != {}]


def _remove_keyed(items: list[Any], key: str, text: str) -> None:
    """Delete every item whose key is ``text`` - or, for ``""``, every item that has the key at all."""
    _prune(items)
    items[:] = [
        e
        for e in items
        if not (isinstance(e, dict) and key in e and (text == "" or _key_text(e, key) == text))
    ]


def _put(items: list[Any], elem: Any, key: str, text: str) -> None:
    """Replace every item keyed ``text`` with ``elem``, or append it."""
    _prune(items)
    found = False
    for i, e in enumerate(items):
        if _key_text(e, key) == text:
            items[i] = elem
            found = True
    if not found:
        items.append(elem)


def _first(items: list[Any], key: str, text: str) -> int | None:
    for i, e in enumerate(items):
        if _key_text(e, key) == text:
            return i
    return None


def _merge_keyed(dest: list[Any], patch: list[Any], ls: _ListSchema, same: bool) -> list[Any]:
    """A list merged by one key, step by step as kyaml's associative-sequence walk does it.

    Key values are visited in order, the patch's first, then the original's; each pairs the first item
    with that key on both sides: ``$patch: delete`` removes the key's items from the original, a new item
    is added (without directives), a matched item merges in place. The original's remaining items are then
    set over the result, in order - so an item the patch marks ``$patch: replace`` stays as it was. Items
    without the key behave as kyaml makes them: one in the patch removes every keyed original item, one in
    the original (or, when ``same``, in the patch merged into nothing) leaves only itself.
    ``same`` means ``dest`` is the patch's own list (merged with itself).
    """
    key = str(ls.key)
    texts: list[str] = []
    seen: set[str] = set()
    for e in patch if same else (*patch, *dest):
        text = _key_text(e, key) or ""
        if text not in seen:
            seen.add(text)
            texts.append(text)
    if not texts:
        return dest
    items: list[Any] = []
    for text in texts:
        if text == "":
            _remove_keyed(dest, key, "")
            continue
        di = _first(dest, key, text)
        if same:
            if di is None:
                continue
            elem = dest[di]
            if elem.get("$patch") == "delete":
                val = None
            else:
                # Merged with itself: the item loses its directives where it stands.
                val = dest[di] = _clean(elem, ls.item)
        else:
            oi = _first(patch, key, text)
            orig = patch[oi] if oi is not None else None
            directive = orig.get("$patch") if orig is not None else None
            if di is None:
                val = None if orig is None or directive == "delete" else _clean(orig, ls.item)
            elif orig is None:
                val = dest[di]
            elif directive == "delete":
                val = None
            elif directive == "replace":
                val = _clean(orig, ls.item)
            else:
                val = strategic_merge(dest[di], orig, ls.item)
        if val is None or val == {}:
            _remove_keyed(dest, key, text)
            continue
        _put(items, val, key, text)
    for e in list(dest):
        own = _key_text(e, key)
        if own is None:
            items[:] = [e]
        else:
            _put(items, e, key, own)
    return items


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
            new.append(_clean(p, ls.item))
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
