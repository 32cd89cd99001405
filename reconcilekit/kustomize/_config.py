"""``configurations``: extra field specs for the builtin transformers (kustomize's TransformerConfig).

A configuration file adds, for custom resources mostly, where names are referenced (``nameReference``),
where labels, annotations, namespaces, images, replica counts and vars go. A kustomization's
configurations apply to it and to every kustomization that includes it, as kustomize merges them upwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import MalformedYAMLError, UnknownFieldError
from ._fieldspecs import FieldSpec

__all__ = ["TransformerConfig"]

_SPEC_LISTS = (
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "commonAnnotations",
    "labels",
    "templateLabels",
    "varReference",
    "images",
    "replicas",
)


def _field_specs(items: Any, path: str, field: str) -> list[FieldSpec]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedYAMLError(path, f"{field} must be a list of field specs")
    specs = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            raise MalformedYAMLError(path, f"{field}: every field spec needs a path")
        specs.append(
            FieldSpec(
                str(item["path"]),
                kind=str(item.get("kind") or ""),
                group=str(item.get("group") or ""),
                version=str(item.get("version") or ""),
                create=bool(item.get("create")),
            )
        )
    return specs


class TransformerConfig:
    """Extra field specs, merged across the kustomizations of one build."""

    def __init__(self) -> None:
        self.specs: dict[str, list[FieldSpec]] = {name: [] for name in _SPEC_LISTS}
        self.name_references: list[tuple[str, str | None, tuple[FieldSpec, ...]]] = []

    def load(self, doc: Any, path: str) -> None:
        """Add one configuration document."""
        if doc is None:
            return
        if not isinstance(doc, Mapping):
            raise MalformedYAMLError(path, "a transformer configuration must be a mapping")
        for key, value in doc.items():
            if key in self.specs:
                self._add(key, _field_specs(value, path, str(key)))
            elif key == "nameReference":
                if not isinstance(value, list):
                    raise MalformedYAMLError(path, "nameReference must be a list")
                for entry in value:
                    if not isinstance(entry, Mapping) or not entry.get("kind"):
                        raise MalformedYAMLError(path, "nameReference entries need a kind")
                    group = entry.get("group")
                    refs = tuple(_field_specs(entry.get("fieldSpecs"), path, "nameReference.fieldSpecs"))
                    self.name_references.append((str(entry["kind"]), str(group) if group else None, refs))
            else:
                raise UnknownFieldError(path, str(key))

    def _add(self, key: str, specs: list[FieldSpec]) -> None:
        seen = {(s.path, s.kind, s.group, s.version) for s in self.specs[key]}
        for spec in specs:
            if (spec.path, spec.kind, spec.group, spec.version) not in seen:
                self.specs[key].append(spec)
                seen.add((spec.path, spec.kind, spec.group, spec.version))

    def merge(self, other: TransformerConfig) -> None:
        """Fold a nested kustomization's configuration into this one."""
        for key, specs in other.specs.items():
            self._add(key, specs)
        for entry in other.name_references:
            if entry not in self.name_references:
                self.name_references.append(entry)
