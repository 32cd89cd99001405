"""The builtins as reconcilekit Transformers, each usable alone in a pipeline written in code.

Every transformer copies the bodies it receives (a :class:`~reconcilekit.ResourceSet` is immutable),
runs the same operation the build engine runs, and returns a new set. Renaming transformers also rewrite
references to the renamed objects inside the set, as kustomize does at the end of a build.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from .._model import Context, Resource, ResourceSet
from ._errors import KustomizationError, MissingFileError
from ._fieldspecs import COMMON_LABEL_SPECS
from ._generators import generate, merge_options
from ._ops import (
    Selector,
    add_hash_suffixes,
    apply_annotations,
    apply_images,
    apply_json6902,
    apply_labels,
    apply_namespace,
    apply_prefix_suffix,
    apply_replicas,
    apply_strategic_merge,
    fix_name_references,
    label_specs,
)
from ._replacements import apply_replacements
from ._resource import WorkResource
from ._substitute import substitute_text
from ._target import RootLoader, build_work
from ._yaml import dump_one, load_documents

__all__ = [
    "Annotations",
    "ConfigMapGenerator",
    "Image",
    "Images",
    "Kustomize",
    "Labels",
    "NamePrefix",
    "NameSuffix",
    "Namespace",
    "Patch",
    "Replacements",
    "Replicas",
    "SecretGenerator",
    "Substitute",
    "to_resource_set",
]


_VAR_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


def _work(resources: ResourceSet) -> list[WorkResource]:
    return [WorkResource(r.to_dict(), f"{r.kind}/{r.name}") for r in resources]


def to_resource_set(work: Sequence[WorkResource]) -> ResourceSet:
    """Wrap finished working resources as an immutable set."""
    return ResourceSet(Resource(w.obj) for w in work)


def _run(resources: ResourceSet, fn: Callable[[list[WorkResource]], list[WorkResource]]) -> ResourceSet:
    return to_resource_set(fn(_work(resources)))


def _freeze_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _images(value: Iterable[Image]) -> tuple[Image, ...]:
    return tuple(value)


def _mappings(value: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(value)


@attrs.frozen
class Namespace:
    """Set ``metadata.namespace`` on every namespaced object (kustomize ``namespace:``).

    Example::

        Pipeline(source, [Kustomize("deploy"), Namespace("prod")], sink)
    """

    namespace: str

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with the namespace applied and references fixed."""
        return _run(resources, lambda w: fix_name_references(apply_namespace(w, self.namespace)))


@attrs.frozen
class NamePrefix:
    """Prefix every name (not Namespaces or CRDs) and rewrite references (kustomize ``namePrefix:``)."""

    prefix: str

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the renamed set."""
        return _run(resources, lambda w: fix_name_references(apply_prefix_suffix(w, self.prefix, "")))


@attrs.frozen
class NameSuffix:
    """Suffix every name and rewrite references (kustomize ``nameSuffix:``)."""

    suffix: str

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the renamed set."""
        return _run(resources, lambda w: fix_name_references(apply_prefix_suffix(w, "", self.suffix)))


@attrs.frozen
class Labels:
    """Add labels (kustomize ``labels:``); selectors and pod templates only when asked.

    ``include_selectors=True`` behaves as ``commonLabels`` (selectors and templates too).
    """

    labels: Mapping[str, str] = attrs.field(converter=_freeze_map)
    include_selectors: bool = False
    include_templates: bool = False

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the labelled set."""
        specs = (
            COMMON_LABEL_SPECS
            if self.include_selectors
            else label_specs(include_selectors=False, include_templates=self.include_templates)
        )
        return _run(resources, lambda w: apply_labels(w, self.labels, specs))


@attrs.frozen
class Annotations:
    """Add annotations to objects and pod templates (kustomize ``commonAnnotations:``)."""

    annotations: Mapping[str, str] = attrs.field(converter=_freeze_map)

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the annotated set."""
        return _run(resources, lambda w: apply_annotations(w, self.annotations))


@attrs.frozen
class Image:
    """One ``images:`` entry: containers whose image is ``name`` get a new name, tag and/or digest."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The kustomization form (``newName``, ``newTag``, ``digest``)."""
        return {"name": self.name, "newName": self.new_name, "newTag": self.new_tag, "digest": self.digest}


@attrs.frozen
class Images:
    """Rewrite container and init-container images (kustomize ``images:``)."""

    images: tuple[Image, ...] = attrs.field(converter=_images)

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with images rewritten."""
        return _run(resources, lambda w: apply_images(w, [i.as_dict() for i in self.images]))


@attrs.frozen
class Replicas:
    """Set ``spec.replicas`` of workloads by name (kustomize ``replicas:``): ``Replicas({"web": 3})``."""

    counts: Mapping[str, int] = attrs.field(converter=_freeze_map)

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with replica counts set."""
        reps = [{"name": k, "count": v} for k, v in self.counts.items()]
        return _run(resources, lambda w: apply_replicas(w, reps))


@attrs.frozen
class Patch:
    """A strategic-merge or JSON 6902 patch (kustomize ``patches:``).

    ``patch`` is YAML/JSON text or an already parsed mapping (strategic merge) or list (JSON 6902).
    ``target`` is a selector mapping (``kind``, ``name`` regex, ``labelSelector``...); without one, a
    strategic-merge patch applies to the object it names, and a JSON patch is an error.

    Example::

        Patch({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 2}})
    """

    patch: str | Mapping[str, Any] | Sequence[Any]
    target: Mapping[str, Any] | None = None
    options: Mapping[str, bool] = attrs.field(factory=dict, converter=_freeze_map)

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the patched set."""
        source = "<Patch transformer>"
        if isinstance(self.patch, str):
            docs = [d for d in load_documents(self.patch, source) if d is not None]
        else:
            docs = [self.patch]
        target = Selector(self.target) if self.target is not None else None

        def run(work: list[WorkResource]) -> list[WorkResource]:
            if len(docs) == 1 and isinstance(docs[0], list | tuple):
                if target is None:
                    raise KustomizationError(source, "must specify a target for JSON patch")
                return apply_json6902(work, list(docs[0]), target=target, source=source)
            for doc in docs:
                if not isinstance(doc, Mapping):
                    raise KustomizationError(source, "a patch must be a mapping or a JSON 6902 list")
                work = apply_strategic_merge(work, doc, target=target, source=source, options=self.options)
            return work

        return _run(resources, run)


def _reader(base: Path | None, context: Context) -> Callable[[str], tuple[bytes, str]]:
    root = base
    if root is None:
        root = context.artifact.path if context.artifact is not None else Path.cwd()
    loader = RootLoader(Path(root).resolve())
    return loader.read


async def _generate(
    kind: str,
    args: Mapping[str, Any],
    options: Mapping[str, Any],
    base_dir: Path | None,
    resources: ResourceSet,
    context: Context,
) -> ResourceSet:
    res = generate(
        args,
        kind=kind,
        read=_reader(base_dir, context),
        options=merge_options(options, None),
        source=f"<{kind}Generator {args.get('name')}>",
    )

    def run(work: list[WorkResource]) -> list[WorkResource]:
        work.append(res)
        return fix_name_references(add_hash_suffixes(work))

    return _run(resources, run)


@attrs.frozen
class ConfigMapGenerator:
    """Generate a ConfigMap with kustomize's content-hash name suffix (``configMapGenerator:``).

    ``files`` entries are ``path`` or ``key=path``, read below ``base_dir`` (default: the artifact path);
    ``envs`` are ``KEY=value`` files; ``options`` as kustomize's (``labels``, ``annotations``,
    ``disableNameSuffixHash``, ``immutable``).

    Example::

        ConfigMapGenerator("settings", literals=["LOG_LEVEL=info"], files=["app.properties"])
    """

    name: str
    literals: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    files: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    envs: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    namespace: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze_map)
    base_dir: Path | None = None

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with the generated ConfigMap appended (references to it fixed)."""
        args = {
            "name": self.name,
            "literals": list(self.literals),
            "files": list(self.files),
            "envs": list(self.envs),
            "namespace": self.namespace,
        }
        return await _generate("ConfigMap", args, self.options, self.base_dir, resources, context)


@attrs.frozen
class SecretGenerator:
    """Generate a Secret (values base64-encoded) with the content-hash suffix (``secretGenerator:``)."""

    name: str
    literals: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    files: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    envs: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    namespace: str | None = None
    type: str = "Opaque"
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze_map)
    base_dir: Path | None = None

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with the generated Secret appended (references to it fixed)."""
        args = {
            "name": self.name,
            "literals": list(self.literals),
            "files": list(self.files),
            "envs": list(self.envs),
            "namespace": self.namespace,
            "type": self.type,
        }
        return await _generate("Secret", args, self.options, self.base_dir, resources, context)


@attrs.frozen
class Replacements:
    """Copy field values between objects (kustomize ``replacements:``), given as parsed mappings."""

    replacements: tuple[Mapping[str, Any], ...] = attrs.field(converter=_mappings)

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with replacements applied."""
        return _run(
            resources, lambda w: apply_replacements(w, self.replacements, "<Replacements transformer>")
        )


@attrs.frozen
class Kustomize:
    """Build the kustomization at ``context.artifact.path / path`` and add its objects to the set.

    The first stage of a pipeline: it reads the artifact, runs the whole kustomize build
    (:func:`reconcilekit.kustomize.build`) and returns the input followed by the built objects.
    """

    path: str | os.PathLike[str] = "."
    allow_remote: bool = False

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return ``resources`` plus everything the kustomization builds."""
        if context.artifact is None:
            directory = Path(self.path)
        else:
            directory = context.artifact.path / self.path
            root = context.artifact.path.resolve()
            real = directory.resolve()
            if not real.is_relative_to(root):
                raise MissingFileError(str(directory), f"is outside the artifact at {root}")
        # A build reads many files (and may fetch remote bases): keep it off the event loop.
        built = await anyio.to_thread.run_sync(
            functools.partial(build_work, directory, allow_remote=self.allow_remote)
        )
        return ResourceSet([*resources, *(Resource(w.obj) for w in built)])


@attrs.frozen
class Substitute:
    """Flux post-build substitution: ``${var}``, ``${var:=default}``; ``$${var}`` is a literal ``${var}``.

    With ``strict=True`` an unset variable without a default is an error, else it becomes empty. Objects
    labelled or annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled`` are left alone, as Flux
    does; variable names must match ``^[_a-zA-Z][_a-zA-Z0-9]*$`` and newlines in values are dropped.
    Only the braced form is substituted: ``$var`` stays as written (shell scripts in ConfigMaps keep
    working), as Flux documents.
    """

    vars: Mapping[str, str] = attrs.field(converter=_freeze_map)
    strict: bool = False

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the set with variables substituted in every string of every object."""
        for name in self.vars:
            if not _VAR_NAME.match(name):
                raise KustomizationError(
                    "<Substitute transformer>",
                    f"'{name}' var name is invalid, must match '{_VAR_NAME.pattern}'",
                )
        # Flux drops newlines from values so a value cannot break the YAML it lands in.
        variables = {k: str(v).replace("\n", "") for k, v in self.vars.items()}
        out: list[Resource] = []
        for res in resources:
            key = "kustomize.toolkit.fluxcd.io/substitute"
            if res.annotations.get(key) == "disabled" or res.labels.get(key) == "disabled":
                out.append(res)
                continue
            where = f"{res.kind}/{res.name}"
            text = substitute_text(dump_one(res.body), variables, strict=self.strict, where=where)
            docs = load_documents(text, where)
            out.append(Resource.from_dict(docs[0]))
        return ResourceSet(out)
