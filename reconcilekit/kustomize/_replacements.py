"""``replacements``: copy a value from one resource's field into fields of other resources.

Field paths are dot-separated (``spec.template.spec.containers.[name=app].image``). Source paths pick by
exact value; target paths follow kyaml's PathMatcher: ``[k=v]`` picks the list items whose field matches
the regular expression ``v`` anywhere, a number picks by index, ``*`` every item of a list.
``options.create`` creates what is missing - maps, or lists when the next part is an index or ``[k=v]``;
an index equal to the list's length appends - and a created scalar reads back as its text (``80`` is a
number). ``options.delimiter``/``index`` take or replace one part of a delimited string (past the end
appends one part). Paths that do not fit the object (an index into a map, a field of a scalar) fail, with
or without ``create``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._model import copy_tree
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


class _PathError(Exception):
    """A target field path does not fit the object's shape (kyaml refuses it, create or not)."""


# kyaml's placeholder for a field or list item that ``options.create`` made: its value's kind, untyped.
_CREATED: Any = object()
_INDEX = re.compile(r"^[+-]?[0-9]+$")


def _new_node(next_part: str | None) -> Any:
    """What kyaml creates for a missing path part, from the part after it (getPathPartKind)."""
    if next_part is None:
        return _CREATED
    if (next_part.startswith("[") and next_part.endswith("]")) or (
        _INDEX.match(next_part) and int(next_part) >= 0
    ):
        return []
    return {}


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        return "MappingNode"
    if isinstance(node, list):
        return "SequenceNode"
    return "ScalarNode"


def _need_list(node: Any) -> list[Any]:
    if not isinstance(node, list):
        raise _PathError(f"wrong node kind: expected SequenceNode but got {_kind(node)}")
    return node


def _match_text(value: Any) -> str | None:
    """The text a ``[field=regex]`` part is matched against (scalars only)."""
    if isinstance(value, dict | list) or value is None:
        return None
    return value.strip() if isinstance(value, str) else _scalar_text(value)


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error as exc:
        raise _PathError(f"invalid regular expression {pattern!r}: {exc}") from None


def _targets(node: Any, parts: Sequence[str], create: bool) -> list[tuple[Any, Any]]:
    """Where ``parts`` leads, as (container, key) pairs - kyaml's PathMatcher, which replacements use.

    A number indexes a list (with ``create``, index == length appends); ``[field=regex]`` picks the list
    items whose field matches the regular expression anywhere (``[=regex]`` for scalar items), creating
    ``{field: value}`` when none does; ``*`` is every item of a list; anything else is a map key, created
    as a list or map after what follows it. Shapes that do not fit raise :class:`_PathError`.
    """
    head, rest = parts[0], parts[1:]
    next_part = rest[0] if rest else None
    if _INDEX.match(head) and int(head) >= 0:
        items = _need_list(node)
        i = int(head)
        if i == len(items) and create:
            items.append(_new_node(next_part))
        if i >= len(items):
            raise _PathError(f"index {i} specified but only {len(items)} elements found")
        return _targets(items[i], rest, create) if rest else [(items, i)]
    if head.startswith("[") and head.endswith("]"):
        items = _need_list(node)
        field, sep, pattern = head[1:-1].partition("=")
        if not sep:
            raise _PathError(f"fieldPath part {head} is not of the form [field=value]")
        found = _select(items, field, pattern, rest, create)
        if not found and create:
            created = _resolved(pattern) if not field else {field: _resolved(pattern)}
            items.append(created)
            found = _select(items, field, pattern, rest, create)
        return found
    if head == "*":
        items = _need_list(node)
        every: list[tuple[Any, Any]] = []
        for i, child in enumerate(items):
            every.extend(_targets(child, rest, create) if rest else [(items, i)])
        return every
    if not isinstance(node, dict):
        raise _PathError(f"wrong node kind: expected MappingNode but got {_kind(node)}")
    if head not in node:
        if not create:
            return []
        node[head] = _new_node(next_part)
    if not rest:
        return [(node, head)]
    if node[head] is None:
        raise _PathError(f"field {head} is null")
    return _targets(node[head], rest, create)


def _select(
    items: list[Any], field: str, pattern: str, rest: Sequence[str], create: bool
) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    for i, child in enumerate(items):
        if not field:
            # kyaml returns the matching scalar item itself; the parts after it are not walked.
            text = _match_text(child)
            if text is not None and _search(pattern, text):
                found.append((items, i))
            continue
        if not isinstance(child, dict):
            continue
        text = _match_text(child.get(field))
        if text is None or not _search(pattern, text):
            continue
        found.extend(_targets(child, rest, create) if rest else [(items, i)])
    return found


def _resolved(text: str) -> Any:
    """A scalar kyaml writes without a tag: it reads back as whatever the plain text is (80 is a number)."""
    if not text:
        return text
    try:
        parsed = load_documents(f"v: {text}\n", "replacement")[0]
    except KustomizationError:
        return text
    value = parsed.get("v") if isinstance(parsed, dict) else None
    if isinstance(value, bool | int | float) or (value is None and text in ("null", "Null", "NULL", "~")):
        return value
    return text


def _delimited(old: Any, value: Any, opts: Mapping[str, Any]) -> str:
    """kyaml's delimiter option: replace part ``index`` of the target; past the end appends one part,
    a negative index prepends."""
    delimiter = str(opts.get("delimiter"))
    parts = str(old if old is not None else "").split(delimiter)
    index = int(opts.get("index") or 0)
    text = _scalar_text(value)
    if index < 0:
        parts.insert(0, text)
    elif index >= len(parts):
        parts.append(text)
    else:
        parts[index] = text
    return delimiter.join(parts)


def _set_value(container: Any, key: Any, value: Any, opts: Mapping[str, Any], where: str, fp: str) -> None:
    old = container[key]
    delimiter = opts.get("delimiter")
    if old is _CREATED:
        if isinstance(value, dict | list):
            container[key] = copy_tree(value)
            return
        container[key] = _resolved(_delimited("", value, opts) if delimiter else _scalar_text(value))
        return
    if delimiter:
        if isinstance(old, dict | list):
            raise KustomizationError(where, "delimiter option can only be used with scalar nodes")
        container[key] = _delimited(old, value, opts)
        return
    if old is None and not isinstance(value, dict | list):
        # kyaml writes the text into the null node, which then cannot be read back.
        raise KustomizationError(where, f'cannot set null field "{fp}" to {_scalar_text(value)!r}')
    if isinstance(value, dict | list) and old is not None and not isinstance(old, dict | list):
        # A scalar target takes only the value's text, and a map or list has none: a string becomes
        # "", a number or boolean cannot be read back.
        if not isinstance(old, str):
            raise KustomizationError(where, f'cannot set scalar field "{fp}" to a {type(value).__name__}')
        container[key] = ""
        return
    container[key] = _typed(old, value)


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
        return copy_tree(value)
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
                    parts = [p.strip() for p in split_field_path(str(fp)) if p.strip()]
                    what = "find or create" if create else "find"
                    try:
                        found = _targets(res.obj, parts, create) if parts else []
                    except _PathError as exc:
                        raise KustomizationError(
                            where,
                            f'unable to {what} field "{fp}" in replacement target {res.cur_id()}: {exc}',
                        ) from None
                    if not found:
                        raise KustomizationError(
                            where, f'unable to {what} field "{fp}" in replacement target {res.cur_id()}'
                        )
                    for container, key in found:
                        _set_value(container, key, value, opts, where, str(fp))
    return resources
