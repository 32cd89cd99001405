"""Strategic merge patch with Kubernetes semantics, as kustomize applies it (kyaml's merge2 walk).

Maps merge key by key; ``null`` deletes; scalars replace. Lists of built-in kinds that kustomize's embedded
OpenAPI document (Kubernetes 1.21) gives a merge key (containers by ``name``, container ports by
``containerPort`` and ``protocol``, Service ports by ``port`` and ``protocol``...) merge element-wise: the
patch's elements come first, in patch order (merged with their counterparts), then the original elements
the patch did not mention, in original order - the order kustomize v5 prints. The walk is kyaml's, step by
step, so its corners come out the same: duplicate keys collapse (also in lists the patch does not touch),
items without a key wipe keyed ones, a keyed ``$patch: replace`` item leaves the original item as it was.
Other lists, and every list of a kind without a built-in schema (custom resources), are replaced verbatim.
Directives: ``$patch: delete`` / ``replace`` / ``merge`` on maps, on list items and as a list's own marker
(``- $patch: replace``); a list the original lacks is added and merged with itself, so its deleted items
go (``volumes: []``). Other apimachinery directives (``$setElementOrder``...) are kept as fields, as
kustomize keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

from .._model import copy_tree
from ._yaml import go_format_float

__all__ = ["UnknownDirectiveError", "has_builtin_schema", "schema_for", "strategic_merge"]


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
# The merge keys of the OpenAPI document kustomize v5 embeds (Kubernetes 1.21): fields added to the API
# later (resizePolicy, schedulingGates, resourceClaims...) have none there, so their lists are replaced.
_CONTAINER: dict[str, Any] = {
    "ports": _ListSchema("containerPort", extra_keys=("protocol",)),
    "env": _ListSchema("name"),
    "volumeMounts": _ListSchema("mountPath"),
    "volumeDevices": _ListSchema("devicePath"),
}
_EPHEMERAL_CONTAINER: dict[str, Any] = {
    "env": _ListSchema("name"),
    "volumeMounts": _ListSchema("mountPath"),
    "volumeDevices": _ListSchema("devicePath"),
}
_POD_SPEC: dict[str, Any] = {
    "containers": _ListSchema("name", _CONTAINER),
    "initContainers": _ListSchema("name", _CONTAINER),
    "ephemeralContainers": _ListSchema("name", _EPHEMERAL_CONTAINER),
    "volumes": _ListSchema("name"),
    "imagePullSecrets": _ListSchema("name"),
    "hostAliases": _ListSchema("ip"),
    "topologySpreadConstraints": _ListSchema("topologyKey", extra_keys=("whenUnsatisfiable",)),
}
_POD_TEMPLATE: dict[str, Any] = {"metadata": _OBJECT_META, "spec": _POD_SPEC}
_CONDITIONS = {"conditions": _ListSchema("type")}
_WORKLOAD: dict[str, Any] = {
    "metadata": _OBJECT_META,
    "spec": {"template": _POD_TEMPLATE},
    "status": _CONDITIONS,
}
_JOB_TEMPLATE: dict[str, Any] = {"metadata": _OBJECT_META, "spec": {"template": _POD_TEMPLATE}}
_WEBHOOKS: dict[str, Any] = {"metadata": _OBJECT_META, "webhooks": _ListSchema("name")}
_STATUS_CONDITIONS: dict[str, Any] = {"metadata": _OBJECT_META, "status": _CONDITIONS}

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "Pod": {
        "metadata": _OBJECT_META,
        "spec": _POD_SPEC,
        "status": {**_CONDITIONS, "podIPs": _ListSchema("ip")},
    },
    "PodTemplate": {"metadata": _OBJECT_META, "template": _POD_TEMPLATE},
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "ReplicationController": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": {"metadata": _OBJECT_META, "spec": {"jobTemplate": _JOB_TEMPLATE}},
    "Service": {
        "metadata": _OBJECT_META,
        "spec": {"ports": _ListSchema("port", extra_keys=("protocol",))},
        "status": _CONDITIONS,
    },
    "ServiceAccount": {"metadata": _OBJECT_META, "secrets": _ListSchema("name")},
    "MutatingWebhookConfiguration": _WEBHOOKS,
    "ValidatingWebhookConfiguration": _WEBHOOKS,
    "CSINode": {"metadata": _OBJECT_META, "spec": {"drivers": _ListSchema("name")}},
    "Node": {
        "metadata": _OBJECT_META,
        "spec": {"podCIDRs": _ListSchema(None, primitive_merge=True)},
        "status": {**_CONDITIONS, "addresses": _ListSchema("type")},
    },
    "ComponentStatus": {"metadata": _OBJECT_META, **_CONDITIONS},
    "Namespace": _STATUS_CONDITIONS,
    "PersistentVolumeClaim": _STATUS_CONDITIONS,
    "PodDisruptionBudget": _STATUS_CONDITIONS,
    "APIService": _STATUS_CONDITIONS,
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


class UnknownDirectiveError(ValueError):
    """A ``$patch`` value kyaml does not know, where it reads one (kustomize fails the build)."""

    def __init__(self, value: Any) -> None:
        super().__init__(f"unknown patch strategy {value!r}")
        self.value = value


def _check_directive(directive: Any) -> None:
    # Only where kyaml reads the directive against an existing original; where it adds (nothing to
    # merge into) it ignores the error.
    if directive is not None and directive not in _LIST_DIRECTIVES:
        raise UnknownDirectiveError(directive)


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
        return copy_tree(value)
    out: dict[str, Any] = {}
    for k, v in value.items():
        # An unknown $patch value is not stripped where kyaml adds: it stays as a field.
        if (
            (k == "$patch" and v in _LIST_DIRECTIVES)
            or (isinstance(k, str) and k.startswith(_DIRECTIVE_PREFIXES))
            or v is None
        ):
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
                out[k] = copy_tree(v)
        else:
            out[k] = v
    return out


def strategic_merge(base: Any, patch: Any, schema: dict[str, Any] | None) -> Any:
    """Return ``base`` merged with ``patch`` (``base`` is modified and returned when it is a map).

    Returns ``None`` when the patch deletes the whole object (``$patch: delete`` at the top).
    """
    if not isinstance(patch, dict):
        return copy_tree(patch)
    directive = patch.get("$patch")
    if isinstance(base, dict):
        _check_directive(directive)
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
                base[key] = copy_tree(pval)
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
    if schema is not None:
        # kyaml walks the original's fields the patch does not name too, re-setting their keyed lists.
        for key, sub in schema.items():
            if key not in patch:
                _normalize_field(base, key, sub)
    return base


def _normalize(node: Any, schema: dict[str, Any] | None) -> None:
    """An original subtree the patch does not touch, as kyaml's walk leaves it (see :func:`_merge_keyed`)."""
    if schema is None or not isinstance(node, dict):
        return
    for key, sub in schema.items():
        _normalize_field(node, key, sub)


def _normalize_field(node: dict[str, Any], key: str, sub: Any) -> None:
    value = node.get(key)
    if value is None:
        return
    if isinstance(sub, dict):
        _normalize(value, sub)
        return
    if not (isinstance(value, list) and _is_associative(sub)):
        return
    if sub.key is None:
        if len({_key_text({"": e}, "") for e in value}) != len(value):
            node[key] = _merge_primitive(value, [])
        return
    texts = {_key_text(e, sub.key) for e in value}
    if len(texts) == len(value) and None not in texts and "" not in texts:
        # Every item keyed, no key twice: the walk changes nothing at this level.
        for e in value:
            _normalize(e, sub.item)
        return
    if sub.extra_keys:
        node[key] = _merge_multi(value, [], sub, same=False)
    else:
        node[key] = _merge_keyed(value, [], sub, same=False)


def _list_directive(patch: list[Any]) -> str | None:
    """The list's own ``$patch`` marker, read as kyaml reads it: the first map item that has a ``$patch``
    key decides, and it is a marker only when ``$patch`` is its sole key (else the list merges)."""
    for p in patch:
        if isinstance(p, dict) and "$patch" in p:
            value = p["$patch"]
            if len(p) != 1:
                return None
            _check_directive(value)
            return str(value)
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


def _merge_missing(patch: list[Any], ls: _ListSchema) -> list[Any]:
    """An associative list merged into nothing (kyaml walks the patch's list against itself).

    No list marker is read here (kyaml adds the list before looking at it); items marked ``$patch: delete``
    go, other items lose their directives. See :func:`_merge_keyed` for items without a key.
    """
    if ls.key is None:
        return _merge_primitive([], patch)
    if ls.extra_keys:
        return _merge_multi(list(patch), patch, ls, same=True)
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
        return _merge_primitive(base, patch)
    key = ls.key
    if key is None:
        return [_clean(p) for p in patch]
    if ls.extra_keys:
        return _merge_multi(base, patch, ls, same=False)
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


def _merge_primitive(dest: list[Any], patch: list[Any]) -> list[Any]:
    """A list of scalars merged as kyaml merges it (finalizers): every value once, by its text, the
    patch's first; a value the original has keeps the original's item; leftover directive maps go."""
    order: list[str] = []
    chosen: dict[str, Any] = {}
    for from_dest, items in ((False, patch), (True, dest)):
        for e in items:
            if isinstance(e, dict) and not any(k != "$patch" for k in e):
                # A directive map among scalars is read (its directive stripped) and, empty, deleted.
                continue
            text = _key_text({"": e}, "") or ""
            if text not in chosen:
                order.append(text)
                chosen[text] = e
            elif from_dest:
                chosen[text] = e
    return [copy_tree(chosen[t]) for t in order]


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
        oi = None if same else _first(patch, key, text)
        val = _walk_item(dest, di, patch, oi, ls, same)
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


def _walk_item(
    dest: list[Any], di: int | None, patch: list[Any], oi: int | None, ls: _ListSchema, same: bool
) -> Any:
    """One list item walked as kyaml walks it (``patch[oi]`` is the patch's item); ``None`` deletes it."""
    if same:
        if di is None:
            return None
        elem = dest[di]
        if isinstance(elem, dict):
            _check_directive(elem.get("$patch"))
        if isinstance(elem, dict) and elem.get("$patch") == "delete":
            # kyaml strips the directive from the item in place before deleting by key; an item the
            # delete does not find (a key it lacks) stays, without the directive.
            dest[di] = {k: v for k, v in elem.items() if k != "$patch"}
            return None
        # Merged with itself: the item loses its directives where it stands.
        dest[di] = _clean(elem, ls.item)
        return dest[di]
    orig = patch[oi] if oi is not None else None
    directive = orig.get("$patch") if isinstance(orig, dict) else None
    if isinstance(orig, dict) and oi is not None and directive in _LIST_DIRECTIVES:
        # kyaml strips the directive from the patch's item as it reads it: a second visit of the same
        # item (key tuples joined by _merge_values) merges it plainly.
        patch[oi] = {k: v for k, v in orig.items() if k != "$patch"}
    if di is None:
        return None if orig is None or directive == "delete" else _clean(orig, ls.item)
    if orig is None:
        _normalize(dest[di], ls.item)
        return dest[di]
    _check_directive(directive)
    if directive == "delete":
        return None
    if directive == "replace":
        return _clean(orig, ls.item)
    return strategic_merge(dest[di], orig, ls.item)


def _fields_match(e: Any, keys: Sequence[str], values: Sequence[str]) -> bool:
    """kyaml's ElementSetter test: ``""`` matches any value of a present field; with fewer values than
    keys the last comparison stands for the rest."""
    if not isinstance(e, dict):
        return False
    ok = False
    for j, k in enumerate(keys):
        if j < len(values):
            ok = k in e and (values[j] == "" or _key_text(e, k) == values[j])
        if not ok:
            return False
    return True


def _element_setter(items: list[Any], elem: Any, keys: Sequence[str], values: Sequence[str]) -> None:
    """kyaml's ElementSetter: replace every matching item with ``elem`` (or delete them when ``elem`` is
    ``None``); append ``elem`` when nothing matched. Null and empty items are dropped on the way."""
    mapping_setter = bool(keys) and keys[0] != "" and bool(values) and values[0] != ""
    out: list[Any] = []
    found = False
    for e in items:
        if e is None or e == {}:
            continue
        if not isinstance(e, dict) and mapping_setter:
            out.append(e)
            continue
        if not _fields_match(e, keys, values):
            if values:
                out.append(e)
            continue
        found = True
        if elem is not None:
            out.append(elem)
    items[:] = out
    if elem is not None and not found:
        items.append(elem)


def _element_index(items: list[Any], keys: Sequence[str], values: Sequence[str]) -> int | None:
    """kyaml's ElementMatcher: the first map item whose fields all have exactly these values."""
    for i, e in enumerate(items):
        if isinstance(e, dict) and all(
            k in e and _key_text(e, k) == v for k, v in zip(keys, values, strict=True)
        ):
            return i
    return None


def _valid_keys(
    values_list: Sequence[Sequence[str]], values: Sequence[str], keys: Sequence[str]
) -> tuple[list[str], list[str]]:
    """kyaml's validateKeys: only the keys some item has a value for (all keys when none has)."""
    valid = {keys[i] for vals in values_list for i, v in enumerate(vals) if v != ""}
    if not valid:
        return list(keys), list(values)
    return [k for k in keys if k in valid], [v for i, v in enumerate(values) if v != "" or keys[i] in valid]


def _merge_values(values_list: list[list[str]]) -> None:
    """kyaml's mergeValues: key tuples that agree somewhere and differ only where one is empty become one."""
    for i in range(len(values_list)):
        first = values_list[i]
        for j in range(len(values_list)):
            second = values_list[j]
            if len(first) != len(second):
                continue
            common = conflict = False
            merged: list[str] = []
            for a, b in zip(first, second, strict=True):
                if a == b:
                    common = True
                    merged.append(a)
                elif a and b:
                    conflict = True
                    break
                else:
                    merged.append(a or b)
            if common and not conflict:
                values_list[i] = merged
                values_list[j] = merged


def _merge_multi(dest: list[Any], patch: list[Any], ls: _ListSchema, same: bool) -> list[Any]:
    """A list keyed by several fields (x-kubernetes-list-map-keys: Service and container ports), step by
    step as kyaml walks it: key tuples are gathered (patch first), tuples that differ only by an absent
    key are joined, items are paired by the keys some item has, and the original's items are set back over
    the result - each deleted and appended again when several keys are in play, so they keep the
    original's order after the patch's new items."""
    keys = [str(ls.key), *ls.extra_keys]
    values_list: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for e in patch if same else (*patch, *dest):
        vals = [_key_text(e, k) or "" for k in keys]
        if tuple(vals) not in seen:
            seen.add(tuple(vals))
            values_list.append(vals)
    if not values_list:
        return dest
    _merge_values(values_list)
    items: list[Any] = []
    valid_keys: list[str] = keys
    for vals in values_list:
        valid_keys, valid_values = _valid_keys(values_list, vals, keys)
        look_keys, look_values = _valid_keys([valid_values], valid_values, valid_keys)
        di = _element_index(dest, look_keys, look_values)
        oi = None if same else _element_index(patch, look_keys, look_values)
        val = _walk_item(dest, di, patch, oi, ls, same)
        if val is None or val == {}:
            _element_setter(dest, None, valid_keys, valid_values)
            continue
        for k, v in zip(valid_keys, valid_values, strict=True):
            if k not in val and v != "":
                val[k] = v
        _element_setter(items, val, valid_keys, valid_values)
    for e in list(dest):
        own: list[str] = []
        for k in valid_keys:
            if not (isinstance(e, dict) and k in e):
                # kyaml appends an item without the key, then goes on with the keys it has.
                items.append(e)
                continue
            own.append(_key_text(e, k) or "")
        if len(valid_keys) > 1:
            _element_setter(items, None, valid_keys, own)
        _element_setter(items, e, valid_keys, own)
    return items


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
