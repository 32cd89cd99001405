"""``generators:`` and ``transformers:`` entries that configure kustomize's builtin plugins.

Each entry is a file (or an inline YAML document) with ``apiVersion: builtin`` and the plugin's kind -
``LabelTransformer`` with its own ``fieldSpecs``, ``PrefixSuffixTransformer``, ``ConfigMapGenerator``...
External plugins (exec, containerised KRM functions) run arbitrary code and are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._errors import KustomizationError, NotSupportedError
from ._fieldspecs import FieldSpec
from ._ops import (
    Selector,
    apply_annotations,
    apply_images,
    apply_json6902,
    apply_labels,
    apply_namespace,
    apply_prefix_suffix,
    apply_replicas,
    apply_strategic_merge,
)
from ._replacements import apply_replacements
from ._resource import WorkResource
from ._yaml import load_documents

__all__ = ["GENERATOR_KINDS", "TRANSFORMER_KINDS", "plugin_documents", "run_transformer_plugin"]

GENERATOR_KINDS = frozenset({"ConfigMapGenerator", "SecretGenerator"})
TRANSFORMER_KINDS = frozenset(
    {
        "LabelTransformer",
        "AnnotationsTransformer",
        "NamespaceTransformer",
        "PrefixSuffixTransformer",
        "PrefixTransformer",
        "SuffixTransformer",
        "ImageTagTransformer",
        "ReplicaCountTransformer",
        "PatchTransformer",
        "PatchJson6902Transformer",
        "PatchStrategicMergeTransformer",
        "ReplacementTransformer",
    }
)


def plugin_documents(
    entries: list[Any], read: Callable[[str], tuple[bytes, str]], where: str, allowed: frozenset[str]
) -> list[tuple[dict[str, Any], str]]:
    """The plugin configurations named by ``entries`` (inline YAML or files below the root)."""
    out: list[tuple[dict[str, Any], str]] = []
    for entry in entries:
        text = str(entry)
        docs: list[Any] = []
        source = where
        try:
            docs = [d for d in load_documents(text, where) if d is not None]
        except KustomizationError:
            docs = []
        if not (docs and all(isinstance(d, dict) and d.get("kind") for d in docs)):
            data, source = read(text.strip())
            docs = [d for d in load_documents(data, source) if d is not None]
        for doc in docs:
            if not isinstance(doc, dict):
                raise KustomizationError(source, "a plugin configuration must be a mapping")
            kind = str(doc.get("kind") or "")
            if doc.get("apiVersion") != "builtin" or kind not in allowed:
                raise NotSupportedError(
                    source,
                    f"plugin {doc.get('apiVersion')}/{kind}: only kustomize's builtin plugins are supported "
                    "(exec and KRM function plugins are refused)",
                )
            out.append((doc, source))
    return out


def _specs(doc: Mapping[str, Any]) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(
            str(fs.get("path", "")),
            kind=str(fs.get("kind") or ""),
            group=str(fs.get("group") or ""),
            version=str(fs.get("version") or ""),
            create=bool(fs.get("create")),
        )
        for fs in doc.get("fieldSpecs") or []
        if isinstance(fs, Mapping)
    )


def _strings(value: Any) -> dict[str, str]:
    return {
        str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in (value or {}).items()
    }


def run_transformer_plugin(
    acc: list[WorkResource], doc: Mapping[str, Any], source: str, read: Callable[[str], tuple[bytes, str]]
) -> list[WorkResource]:
    """Apply one builtin transformer configured by ``doc``."""
    kind = doc["kind"]
    if kind == "LabelTransformer":
        return apply_labels(acc, _strings(doc.get("labels")), _specs(doc))
    if kind == "AnnotationsTransformer":
        return apply_annotations(acc, _strings(doc.get("annotations")), _specs(doc))
    if kind == "NamespaceTransformer":
        md = doc.get("metadata") or {}
        namespace = str(md.get("namespace") or "")
        if not namespace:
            return acc
        extra = tuple(s for s in _specs(doc) if s.path != "metadata/namespace")
        return apply_namespace(acc, namespace, source, extra)
    if kind in ("PrefixSuffixTransformer", "PrefixTransformer", "SuffixTransformer"):
        return apply_prefix_suffix(acc, str(doc.get("prefix") or ""), str(doc.get("suffix") or ""))
    if kind == "ImageTagTransformer":
        return apply_images(acc, [doc.get("imageTag") or {}], _specs(doc))
    if kind == "ReplicaCountTransformer":
        return apply_replicas(acc, [doc.get("replica") or {}], source, _specs(doc))
    if kind == "ReplacementTransformer":
        return apply_replacements(acc, list(doc.get("replacements") or []), source)
    if kind == "PatchJson6902Transformer":
        text = doc.get("jsonOp")
        if not text and doc.get("path"):
            data, source = read(str(doc["path"]))
            text = data.decode("utf-8")
        ops = load_documents(str(text or ""), source)
        if len(ops) != 1 or not isinstance(ops[0], list) or not isinstance(doc.get("target"), Mapping):
            raise KustomizationError(
                source, "PatchJson6902Transformer needs a target and a list of operations"
            )
        return apply_json6902(acc, ops[0], target=Selector(doc["target"], source), source=source)
    if kind in ("PatchTransformer", "PatchStrategicMergeTransformer"):
        texts: list[tuple[str, str]] = []
        if doc.get("patch"):
            texts.append((str(doc["patch"]), source))
        if doc.get("patches"):
            texts.append((str(doc["patches"]), source))
        for path in [doc["path"]] if doc.get("path") else list(doc.get("paths") or []):
            data, psource = read(str(path))
            texts.append((data.decode("utf-8"), psource))
        target = Selector(doc["target"], source) if isinstance(doc.get("target"), Mapping) else None
        for text, psource in texts:
            docs = [d for d in load_documents(text, psource) if d is not None]
            if len(docs) == 1 and isinstance(docs[0], list):
                if target is None:
                    raise KustomizationError(psource, "must specify a target for JSON patch")
                acc = apply_json6902(acc, docs[0], target=target, source=psource)
                continue
            for patch in docs:
                acc = apply_strategic_merge(
                    acc, patch, target=target, source=psource, options=doc.get("options") or {}
                )
        return acc
    raise NotSupportedError(source, f"builtin plugin {kind} is not supported")  # pragma: no cover
