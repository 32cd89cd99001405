"""Type checks for kustomization.yaml, as kustomize's strict Go unmarshalling does them.

kustomize reads a kustomization with ``sigs.k8s.io/yaml``: YAML 1.1 scalars (``yes`` is a boolean,
``1.10`` a number), then JSON into typed Go structs. A label value ``yes`` or an image tag ``1.10``
therefore fails there ("cannot unmarshal bool into Go struct field ... of type string"); these checks
fail the same way, naming the file and the field.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from ._errors import MalformedYAMLError, UnknownFieldError

__all__ = ["check_kustomization"]

_Check = Callable[[Any, str, str], None]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | _dt.date):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _fail(path: str, field: str, value: Any, want: str) -> None:
    raise MalformedYAMLError(
        path,
        f"invalid Kustomization: json: cannot unmarshal {_json_type(value)} into Go struct field "
        f"{field} of type {want}",
    )


def _string(value: Any, path: str, field: str) -> None:
    if value is not None and not isinstance(value, str):
        if isinstance(value, _dt.date):
            return  # a timestamp is a JSON string for Go
        _fail(path, field, value, "string")


def _boolean(value: Any, path: str, field: str) -> None:
    if value is not None and not isinstance(value, bool):
        _fail(path, field, value, "bool")


def _integer(value: Any, path: str, field: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        _fail(path, field, value, "int64")


def _list_of(check: _Check) -> _Check:
    def run(value: Any, path: str, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            _fail(path, field, value, "[]")
            return
        for item in value:
            check(item, path, field)

    return run


def _map_of(check: _Check) -> _Check:
    def run(value: Any, path: str, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            _fail(path, field, value, "map")
            return
        for item in value.values():
            check(item, path, field)

    return run


def _struct(fields: dict[str, _Check | None], name: str, *, strict: bool = True) -> _Check:
    """A Go struct: fields matched like encoding/json (exact, else case-insensitive), unknown → error."""
    folded = {key.lower(): key for key in fields}

    def run(value: Any, path: str, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            _fail(path, field, value, name)
            return
        for key in list(value):
            if key in fields:
                continue
            canonical = folded.get(str(key).lower())
            if canonical is None:
                if strict:
                    raise UnknownFieldError(path, str(key))
                continue
            value[canonical] = value.pop(key)
        for key, check in fields.items():
            if key in value and check is not None:
                check(value[key], path, f"{name}.{key}")

    return run


_STRINGS = _list_of(_string)
_STRING_MAP = _map_of(_string)
_OPTIONS = _struct(
    {
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "disableNameSuffixHash": _boolean,
        "immutable": _boolean,
    },
    "GeneratorOptions",
)
_GENERATOR = _struct(
    {
        "name": _string,
        "namespace": _string,
        "behavior": _string,
        "type": _string,
        "env": _string,
        "envs": _STRINGS,
        "files": _STRINGS,
        "literals": _STRINGS,
        "options": _OPTIONS,
    },
    "GeneratorArgs",
)
_FIELD_SPEC = _struct(
    {"group": _string, "version": _string, "kind": _string, "path": _string, "create": _boolean}, "FieldSpec"
)
_SELECTOR = _struct(
    dict.fromkeys(
        ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"), _string
    ),
    "Selector",
)
_PATCH = _struct(
    {"path": _string, "patch": _string, "target": _SELECTOR, "options": _map_of(_boolean)}, "Patch"
)
_JSON6902 = _struct({"path": _string, "patch": _string, "target": _SELECTOR}, "Patch")
_FIELDS: dict[str, _Check | None] = {
    "apiVersion": _string,
    "kind": _string,
    "namespace": _string,
    "namePrefix": _string,
    "nameSuffix": _string,
    "commonLabels": _STRING_MAP,
    "commonAnnotations": _STRING_MAP,
    "resources": _STRINGS,
    "bases": _STRINGS,
    "components": _STRINGS,
    "patchesStrategicMerge": _STRINGS,
    "buildMetadata": _STRINGS,
    "labels": _list_of(
        _struct(
            {
                "pairs": _STRING_MAP,
                "includeSelectors": _boolean,
                "includeTemplates": _boolean,
                "fields": _list_of(_FIELD_SPEC),
            },
            "Label",
        )
    ),
    "images": _list_of(
        _struct(dict.fromkeys(("name", "newName", "newTag", "digest", "tagSuffix"), _string), "Image")
    ),
    "imageTags": _list_of(
        _struct(dict.fromkeys(("name", "newName", "newTag", "digest", "tagSuffix"), _string), "Image")
    ),
    "replicas": _list_of(_struct({"name": _string, "count": _integer}, "Replica")),
    "configMapGenerator": _list_of(_GENERATOR),
    "secretGenerator": _list_of(_GENERATOR),
    "generatorOptions": _OPTIONS,
    "patches": _list_of(_PATCH),
    "patchesJson6902": _list_of(_JSON6902),
    "sortOptions": _struct(
        {
            "order": _string,
            "legacySortOptions": _struct(
                {"orderFirst": _STRINGS, "orderLast": _STRINGS}, "LegacySortOptions"
            ),
        },
        "SortOptions",
    ),
    "replacements": None,
    "metadata": None,
    "openapi": None,
    "vars": None,
    "crds": _STRINGS,
    "helmGlobals": None,
    "helmCharts": None,
    "helmChartInflationGenerator": None,
    "configurations": _STRINGS,
    "generators": _STRINGS,
    "transformers": _STRINGS,
    "validators": _STRINGS,
}
_KUSTOMIZATION = _struct(_FIELDS, "Kustomization")


def check_kustomization(k: dict[str, Any], path: str) -> None:
    """Normalise field names (case-insensitive, as Go's encoding/json) and raise
    :class:`UnknownFieldError` / :class:`MalformedYAMLError` for unknown fields and wrong types."""
    _KUSTOMIZATION(k, path, "Kustomization")
