"""``replacements``: copy a value from one resource's field into fields of other resources.

Field paths are dot-separated (``spec.template.spec.containers.[name=app].image``); ``[k=v]`` picks a list
element by field, a number picks by index, ``*`` matches every element. ``options.delimiter``/``index``
take or replace one part of a delimited string; ``options.create`` creates missing fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import KustomizationError
from ._ops import parse_label_selector, selector_matches
from ._resource import WorkResource
from ._yaml import go_format_float, load_documents

__all__ = ["apply_replacements", "split_field_path"]


def split_field_path(path: str) -> list[str]:
    """Split on dots outside brackets (kyaml's SmarterPathSplitter)."""
    parts: list[str] = []
    cur = ""
    depth = 0
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p != ""]


_MISSING = object()


def _lookup(node: Any, parts: Sequence[str]) -> list[Any]:
    if not parts:
        return [node]
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        if head.startswith("[") and head.endswith("]"):
            return []
        if head == "*":
            return [v for child in node.values() for v in _lookup(child, rest)]
        if head in node:
            return _lookup(node[head], rest)
        return []
    if isinstance(node, list):
        if head == "*":
            return [v for child in node for v in _lookup(child, rest)]
        m = re.match(r"^\[(.+?)=(.*)\]$", head)
        if m:
            k, v = m.group(1), m.group(2)
            return [
                x
                for child in node
                if isinstance(child, dict) and str(child.get(k)) == v
                for x in _lookup(child, rest)
            ]
        if head.lstrip("-").isdigit():
            i = int(head)
            if -len(node) <= i < len(node):
                return _lookup(node[i], rest)
        return []
    return []


def _set(node: Any, parts: Sequence[str], value: Any, create: bool, opts: Mapping[str, Any]) -> int:
    """Set ``value`` at every place ``parts`` reaches; return how many were set."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            return sum(
                _set(child, rest, value, create, opts) if rest else _replace_item(node, i, value, opts)
                for i, child in enumerate(node)
            )
        m = re.match(r"^\[(.+?)=(.*)\]$", head)
        if m:
            k, v = m.group(1), m.group(2)
            count = 0
            for i, child in enumerate(node):
                if isinstance(child, dict) and str(child.get(k)) == v:
                    count += (
                        _set(child, rest, value, create, opts)
                        if rest
                        else _replace_item(node, i, value, opts)
                    )
            if count == 0 and create and rest:
                child = {k: v}
                node.append(child)
                count = _set(child, rest, value, create, opts)
            return count
        if head.lstrip("-").isdigit():
            i = int(head)
            if -len(node) <= i < len(node):
                return (
                    _set(node[i], rest, value, create, opts) if rest else _replace_item(node, i, value, opts)
                )
        return 0
    if not isinstance(node, dict):
        return 0
    if head == "*":
        return sum(
            _set(child, rest, value, create, opts) if rest else _replace_key(node, key, value, opts)
            for key, child in list(node.items())
        )
    if not rest:
        if head not in node and not create:
            return 0
        return _replace_key(node, head, value, opts)
    child = node.get(head)
    if child is None:
        if not create:
            return 0
        child = [] if rest[0].startswith("[") else {}
        node[head] = child
    return _set(child, rest, value, create, opts)


def _delimited(old: Any, value: Any, opts: Mapping[str, Any]) -> Any:
    delimiter = opts.get("delimiter")
    if not delimiter:
        return value
    parts = str(old if old is not None else "").split(delimiter)
    index = int(opts.get("index") or 0)
    if index >= len(parts):
        parts.extend([""] * (index - len(parts) + 1))
        parts[index] = str(value)
    elif index < 0:
        parts.insert(0, str(value))
    else:
        parts[index] = str(value)
    return delimiter.join(parts)


def _scalar_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return go_format_float(value)
    return str(value)


def _typed(old: Any, value: Any) -> Any:
    """kyaml copies the source's text into the target node, which keeps its own tag: a string target
    stays a string, a number or boolean target reads the text as one."""
    if isinstance(value, dict | list):
        return _copy(value)
    if old is None or isinstance(old, dict | list):
        return value
    text = _scalar_text(value)
    if isinstance(old, str):
        return text
    parsed = load_documents(f"v: {text}\n", "replacement")[0]["v"] if text else text
    if isinstance(old, bool):
        return parsed if isinstance(parsed, bool) else text
    if isinstance(old, int | float):
        return parsed if isinstance(parsed, int | float) and not isinstance(parsed, bool) else text
    return value


def _replace_key(node: dict[str, Any], key: str, value: Any, opts: Mapping[str, Any]) -> int:
    old = node.get(key)
    node[key] = _delimited(old, value, opts) if opts.get("delimiter") else _typed(old, value)
    return 1


def _replace_item(node: list[Any], i: int, value: Any, opts: Mapping[str, Any]) -> int:
    old = node[i]
    node[i] = _delimited(old, value, opts) if opts.get("delimiter") else _typed(old, value)
    return 1


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _id_selected(res: WorkResource, spec: Mapping[str, Any]) -> bool:
    """kustomize's ResId.IsSelectedBy over every id the object has had: literal name and namespace
    (not regular expressions, unlike patch targets), exact group/version/kind when given."""
    name = spec.get("name") or ""
    namespace = spec.get("namespace") or ""
    for rid in res.all_ids():
        if name and name != rid.name:
            continue
        if namespace and namespace != rid.effective_namespace():
            continue
        if spec.get("kind") and spec["kind"] != rid.kind:
            continue
        if spec.get("group") and spec["group"] != rid.group:
            continue
        if spec.get("version") and spec["version"] != rid.version:
            continue
        return True
    return False


def _meta_selected(res: WorkResource, spec: Mapping[str, Any], where: str) -> bool:
    labels = parse_label_selector(spec.get("labelSelector"), where)
    if labels is not None and not selector_matches(labels, res.labels()):
        return False
    annotations = parse_label_selector(spec.get("annotationSelector"), where)
    return annotations is None or selector_matches(annotations, res.annotations())


def _source_value(resources: list[WorkResource], source: Mapping[str, Any], where: str) -> Any:
    spec = dict(source)
    field_path = str(spec.pop("fieldPath", "") or "metadata.name")
    options = spec.pop("options", None) or {}
    matches = [r for r in resources if _id_selected(r, spec)]
    if not matches:
        raise KustomizationError(where, f"nothing selected by replacement source {dict(source)}")
    if len(matches) > 1:
        ids = ", ".join(str(r.cur_id()) for r in matches)
        raise KustomizationError(where, f"multiple matches for replacement source selector: {ids}")
    values = _lookup(matches[0].obj, split_field_path(field_path))
    if not values:
        raise KustomizationError(
            where, f"fieldPath `{field_path}` is missing for replacement source {matches[0].cur_id()}"
        )
    value = values[0]
    delimiter = options.get("delimiter")
    if delimiter:
        parts = str(value).split(delimiter)
        index = int(options.get("index") or 0)
        if index >= len(parts) or index < 0:
            raise KustomizationError(where, f"options.index {index} is out of bounds for value {value}")
        value = parts[index]
    return value


def _rejected(res: WorkResource, rejects: Sequence[Mapping[str, Any]], where: str) -> bool:
    return any(
        reject and _id_selected(res, reject) and _meta_selected(res, reject, where) for reject in rejects
    )


def apply_replacements(
    resources: list[WorkResource], replacements: Sequence[Mapping[str, Any]], where: str
) -> list[WorkResource]:
    """kustomize's ReplacementTransformer."""
    for rep in replacements:
        source = rep.get("source")
        if not isinstance(source, dict):
            raise KustomizationError(where, "a replacement needs a source")
        value = _source_value(resources, source, where)
        for target in rep.get("targets") or []:
            select = target.get("select")
            if not isinstance(select, dict):
                raise KustomizationError(where, "a replacement target needs select")
            rejects = target.get("reject") or []
            opts = target.get("options") or {}
            create = bool(opts.get("create"))
            for res in resources:
                if not (_meta_selected(res, select, where) and _id_selected(res, select)):
                    continue
                if _rejected(res, rejects, where):
                    continue
                for fp in target.get("fieldPaths") or ["metadata.name"]:
                    parts = split_field_path(str(fp))
                    count = _set(res.obj, parts, value, create, opts)
                    if count == 0 and not create:
                        raise KustomizationError(
                            where, f'unable to find field "{fp}" in replacement target {res.cur_id()}'
                        )
    return resources
