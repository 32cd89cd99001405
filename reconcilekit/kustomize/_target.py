"""The build: load a kustomization tree and run kustomize's pipeline over it.

Mirrors kustomize's ``KustTarget``: for each kustomization, accumulate resources (files and nested
kustomizations), run generators, fold in components, then run the builtin transformers in kustomize's
fixed order. Only at the top: append generator hashes, fix name references, sort. Files are read through
:class:`RootLoader`, which enforces the root-only load restriction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import TransformerConfig
from ._errors import (
    CycleError,
    FileOutsideRootError,
    GeneratorConflictError,
    KustomizationError,
    MalformedYAMLError,
    MissingFileError,
    NotSupportedError,
    RemoteBaseError,
    ResourceConflictError,
    UnknownFieldError,
)
from ._fieldspecs import ANNOTATION_SPECS, COMMON_LABEL_SPECS, FieldSpec
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
    sort_resources,
)
from ._plugins import GENERATOR_KINDS, TRANSFORMER_KINDS, plugin_documents, run_transformer_plugin
from ._remote import (
    RemoteFetcher,
    RepoSpec,
    fetch_http_file,
    is_remote,
    looks_like_git,
    parse_repo_spec,
    parses_as_repo,
    redact,
)
from ._replacements import apply_replacements
from ._resource import WorkResource
from ._schema import check_kustomization
from ._vars import attach_vars, resolve_vars
from ._yaml import go_format_float, load_documents, load_kustomization_documents

if TYPE_CHECKING:
    from ..git import GitAuth

__all__ = ["KUSTOMIZATION_FILE_NAMES", "RootLoader", "build_work", "load_resources_text"]

KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

_KNOWN_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "openapi",
        "namePrefix",
        "nameSuffix",
        "namespace",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "patchesStrategicMerge",
        "patchesJson6902",
        "patches",
        "images",
        "imageTags",
        "replacements",
        "replicas",
        "vars",
        "sortOptions",
        "resources",
        "components",
        "crds",
        "bases",
        "configMapGenerator",
        "secretGenerator",
        "helmGlobals",
        "helmCharts",
        "helmChartInflationGenerator",
        "generatorOptions",
        "configurations",
        "generators",
        "transformers",
        "validators",
        "buildMetadata",
    }
)
_UNSUPPORTED = (
    "openapi",
    "crds",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "validators",
)


class RootLoader:
    """Reads files below one kustomization root; refuses anything outside it (after resolving symlinks)."""

    def __init__(
        self,
        root: Path,
        chain: tuple[Path, ...] = (),
        *,
        allow_remote: bool = False,
        restrict: bool = True,
        fetcher: RemoteFetcher | None = None,
        repo: RepoSpec | None = None,
        repo_top: Path | None = None,
    ) -> None:
        self.root = root
        self.chain = (*chain, root)
        self.allow_remote = allow_remote
        # False is kustomize's LoadRestrictionsNone: files may come from anywhere.
        self.restrict = restrict
        # Remote bases: the build's fetcher; for a root inside a fetched repository, its URL and top.
        self.fetcher = fetcher
        self.repo = repo
        self.repo_top = repo_top

    def kustomization_file(self) -> str:
        """The kustomization file of this root, for messages (the directory when there is none)."""
        found = [n for n in KUSTOMIZATION_FILE_NAMES if (self.root / n).is_file()]
        return str(self.root / found[0]) if found else str(self.root)

    def _check_remote(self, ref: str) -> None:
        if is_remote(ref):
            if not self.allow_remote:
                raise NotSupportedError(
                    self.kustomization_file(),
                    f"remote resource {redact(ref)!r} refused: remote URLs are disabled (allow_remote=False)",
                )
            raise NotSupportedError(
                self.kustomization_file(),
                f"remote resource {redact(ref)!r}: only resources and components entries may be URLs",
            )

    def read_remote_file(self, ref: str) -> bytes | None:
        """Bytes of an HTTP(S) URL naming one manifest file; ``None`` when ``ref`` is a Git base instead."""
        self._check_allowed(ref)
        if not ref.lower().startswith(("http://", "https://")) or looks_like_git(ref):
            return None
        return fetch_http_file(ref, kustomization=self.kustomization_file())

    def _check_allowed(self, ref: str) -> None:
        if not self.allow_remote:
            self._check_remote(ref)

    def _sub_remote(self, ref: str) -> RootLoader:
        # kustomize's newLoaderAtGitClone: the repository's kustomization directory becomes a new root,
        # always restricted to itself, whatever the build's load restrictor.
        self._check_allowed(ref)
        kfile = self.kustomization_file()
        try:
            spec = parse_repo_spec(ref)
        except ValueError as exc:
            raise RemoteBaseError(kfile, redact(ref), str(exc)) from None
        if self.fetcher is None:
            self.fetcher = RemoteFetcher()
        real, top = self.fetcher.open(spec, kfile)
        if any(visited == real or visited.is_relative_to(real) for visited in self.chain):
            # Name the URL: the snapshot's temporary path would mean nothing to the reader.
            raise CycleError(kfile, f"cycle detected: remote base {redact(ref)!r} contains a visited root")
        return RootLoader(
            real, self.chain, allow_remote=True, restrict=True, fetcher=self.fetcher, repo=spec, repo_top=top
        )

    def _check_cycle(self, real: Path) -> None:
        for visited in self.chain:
            if visited == real or visited.is_relative_to(real):
                raise CycleError(
                    str(real), f"cycle detected: candidate root '{real}' contains visited root '{visited}'"
                )

    def resolve(self, ref: str) -> tuple[Path, Path]:
        """(lexical path, real path) of ``ref`` relative to the root."""
        self._check_remote(ref)
        lexical = Path(os.path.normpath(self.root / ref))
        try:
            real = lexical.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            raise MissingFileError(str(lexical)) from None
        return lexical, real

    def read(self, ref: str) -> tuple[bytes, str]:
        """Bytes of a file below the root, and its path for messages."""
        lexical, real = self.resolve(ref)
        if self.restrict and not real.is_relative_to(self.root):
            raise FileOutsideRootError(str(lexical), str(self.root), resolved=str(real))
        if not real.is_file():
            raise MissingFileError(str(lexical), "is a directory, expected a file")
        try:
            return real.read_bytes(), str(lexical)
        except OSError as exc:
            raise MissingFileError(str(lexical), exc.strerror or str(exc)) from None

    def sub(self, ref: str) -> RootLoader:
        """A loader rooted at a nested kustomization directory (a base or component), local or remote."""
        if is_remote(ref):
            return self._sub_remote(ref)
        lexical, real = self.resolve(ref)
        if not real.is_dir():
            raise MissingFileError(str(lexical), "must be a directory holding a kustomization")
        if self.repo_top is not None and not real.is_relative_to(self.repo_top):
            # kustomize: bases in kustomization files in git repos must refer to directories inside that repo.
            raise FileOutsideRootError(str(lexical), str(self.repo_top), resolved=str(real))
        self._check_cycle(real)
        return RootLoader(
            real,
            self.chain,
            allow_remote=self.allow_remote,
            restrict=self.restrict,
            fetcher=self.fetcher,
            repo=self.repo,
            repo_top=self.repo_top,
        )


# ---------------------------------------------------------------------------------------------- resources
def _expand(doc: Any, source: str, out: list[WorkResource], origin: dict[str, Any] | None) -> None:
    if doc is None or doc == "" or (isinstance(doc, dict) and not doc):
        return
    if not isinstance(doc, dict):
        raise MalformedYAMLError(
            source, f"expected a mapping (a Kubernetes object), got {type(doc).__name__}"
        )
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            _expand(item, source, out, origin)
        return
    if not isinstance(kind, str) or not kind:
        raise MalformedYAMLError(source, "missing kind in a resource document")
    if not isinstance(doc.get("apiVersion"), str):
        raise MalformedYAMLError(source, f"{kind} is missing apiVersion")
    md = doc.get("metadata")
    if not isinstance(md, dict) or not isinstance(md.get("name"), str) or not md.get("name"):
        raise MalformedYAMLError(source, f"{kind} is missing metadata.name")
    out.append(WorkResource(doc, source, origin=origin))


def load_resources_text(
    text: bytes | str, source: str, origin: dict[str, Any] | None = None
) -> list[WorkResource]:
    """Parse a manifest file (any number of documents, ``*List`` kinds expanded)."""
    out: list[WorkResource] = []
    for doc in load_documents(text, source):
        _expand(doc, source, out, origin)
    return out


def _append_all(acc: list[WorkResource], new: list[WorkResource], source: str) -> None:
    index = {r.cur_id().key() for r in acc}
    for res in new:
        key = res.cur_id().key()
        if key in index:
            raise ResourceConflictError(
                source,
                f"may not add resource with an already registered id: {res.cur_id()} (from {res.source})",
            )
        index.add(key)
        acc.append(res)


# ---------------------------------------------------------------------------------------------- kustomization
def _load_kustomization(loader: RootLoader) -> tuple[dict[str, Any], str]:
    found = [n for n in KUSTOMIZATION_FILE_NAMES if (loader.root / n).is_file()]
    if not found:
        raise MissingFileError(
            str(loader.root),
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory",
        )
    if len(found) > 1:
        raise KustomizationError(str(loader.root), f"found multiple kustomization files: {', '.join(found)}")
    data, path = loader.read(found[0])
    docs = load_kustomization_documents(data, path)
    docs = [d for d in docs if d is not None]
    if not docs:
        raise KustomizationError(path, "kustomization is empty")
    if len(docs) > 1:
        raise MalformedYAMLError(path, "a kustomization file holds one document")
    k = docs[0]
    if not isinstance(k, dict):
        raise MalformedYAMLError(path, "a kustomization must be a mapping")
    check_kustomization(k, path)
    for field in list(k):
        if field not in _KNOWN_FIELDS:
            raise UnknownFieldError(path, str(field))
    for field in _UNSUPPORTED:
        if k.get(field):
            raise NotSupportedError(path, f"the {field!r} field is not supported by reconcilekit's engine")
    kind = k.get("kind") or "Kustomization"
    if kind not in ("Kustomization", "Component"):
        raise KustomizationError(path, f"kind {kind!r} is not Kustomization or Component")
    if set(k) <= {"apiVersion", "kind"}:
        raise KustomizationError(path, "kustomization is empty")
    for field in ("resources", "bases", "components", "patchesStrategicMerge", "buildMetadata"):
        if field in k and k[field] is not None and not isinstance(k[field], list):
            raise MalformedYAMLError(path, f"{field} must be a list")
    for field in (
        "patches",
        "patchesJson6902",
        "images",
        "imageTags",
        "replicas",
        "replacements",
        "labels",
        "configMapGenerator",
        "secretGenerator",
    ):
        value = k.get(field)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise MalformedYAMLError(path, f"{field} must be a list of mappings")
    for field in ("commonLabels", "commonAnnotations", "generatorOptions", "sortOptions"):
        if k.get(field) is not None and not isinstance(k[field], dict):
            raise MalformedYAMLError(path, f"{field} must be a mapping")
    for field in ("namespace", "namePrefix", "nameSuffix"):
        if k.get(field) is not None and not isinstance(k[field], str):
            raise MalformedYAMLError(path, f"{field} must be a string")
    # Legacy fields folded in as kustomize's FixKustomization does.
    k["resources"] = [*(k.get("resources") or []), *(k.get("bases") or [])]
    k["images"] = [*(k.get("images") or []), *(k.get("imageTags") or [])]
    return k, path


class _Target:
    def __init__(
        self, loader: RootLoader, origin_path: str | None, known_vars: dict[str, Any] | None = None
    ) -> None:
        self.loader = loader
        # vars of the whole build, by name (shared by every kustomization in it).
        self.known_vars: dict[str, Any] = {} if known_vars is None else known_vars
        self.k, self.path = _load_kustomization(loader)
        self.config = TransformerConfig()
        for ref in self.k.get("configurations") or []:
            data, source = loader.read(str(ref))
            for doc in load_documents(data, source):
                self.config.load(doc, source)
        self.kind = self.k.get("kind") or "Kustomization"
        # Relative directory for origin annotations (buildMetadata), None when not tracked.
        self.origin_path = origin_path
        self.build_metadata: list[str] = list(self.k.get("buildMetadata") or [])

    def _origin_for(self, ref: str) -> dict[str, Any] | None:
        if self.origin_path is None:
            return None
        origin = {"path": os.path.normpath(os.path.join(self.origin_path, ref))}
        if self.loader.repo is not None:
            # kustomize names the repository and ref of resources read from a remote base.
            origin.update(repo=self.loader.repo.repo_url, ref=self.loader.repo.ref)
        return origin

    def accumulate(self, acc: list[WorkResource]) -> list[WorkResource]:
        k = self.k
        for ref in k["resources"]:
            if not isinstance(ref, str):
                raise MalformedYAMLError(self.path, f"resources entries must be strings, got {ref!r}")
            self._accumulate_ref(acc, ref)
        acc = self._run_generators(acc)
        for ref in k.get("components") or []:
            sub_loader = self.loader.sub(str(ref))
            sub = _Target(sub_loader, self._sub_origin(str(ref)), self.known_vars)
            sub.build_metadata = self.build_metadata
            if sub.kind != "Component":
                raise KustomizationError(sub.path, f"expected kind 'Component' for path '{sub_loader.root}'")
            acc = sub.accumulate(acc)
            self.config.merge(sub.config)
        acc = self._run_transformers(acc)
        if k.get("vars"):
            if not isinstance(k["vars"], list):
                raise MalformedYAMLError(self.path, "vars must be a list")
            attach_vars(acc, k["vars"], self.known_vars, self.path)
        return acc

    def _sub_origin(self, ref: str) -> str | None:
        if self.origin_path is None:
            return None
        if is_remote(ref):
            # Inside a remote base, origin paths are relative to the repository's top.
            try:
                return parse_repo_spec(ref).path or "."
            except ValueError:
                return "."
        return os.path.normpath(os.path.join(self.origin_path, ref))

    def _accumulate_ref(self, acc: list[WorkResource], ref: str) -> None:
        remote = is_remote(ref)
        if remote:
            data = self.loader.read_remote_file(ref)
            if data is not None:
                try:
                    # The origin is the URL as kustomize writes it (its filepath.Join folds "//"), minus
                    # any credentials.
                    found = load_resources_text(data, redact(ref), self._origin_for(redact(ref)))
                except MalformedYAMLError:
                    # As kustomize: a page that is not a manifest (a forge's HTML) may name a repository.
                    if not parses_as_repo(ref):
                        raise
                else:
                    _append_all(acc, found, self.path)
                    return
        if remote or self.loader.resolve(ref)[1].is_dir():
            sub_loader = self.loader.sub(ref)
            sub = _Target(sub_loader, self._sub_origin(ref), self.known_vars)
            sub.build_metadata = self.build_metadata
            if sub.kind == "Component":
                raise KustomizationError(
                    sub.path, f"expected kind != 'Component' for path '{sub_loader.root}'"
                )
            _append_all(acc, sub.accumulate([]), self.path)
            self.config.merge(sub.config)
            return
        data, source = self.loader.read(ref)
        _append_all(acc, load_resources_text(data, source, self._origin_for(ref)), self.path)

    # -- generators ---------------------------------------------------------------------------------
    def _run_generators(self, acc: list[WorkResource]) -> list[WorkResource]:
        global_opts = self.k.get("generatorOptions")
        for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
            for args in self.k.get(field) or []:
                acc = self._generate(acc, args, kind, merge_options(args.get("options"), global_opts))
        for doc, source in plugin_documents(
            list(self.k.get("generators") or []), self.loader.read, self.path, GENERATOR_KINDS
        ):
            kind = "ConfigMap" if doc["kind"] == "ConfigMapGenerator" else "Secret"
            md = doc.get("metadata") or {}
            args = {**doc, "name": md.get("name"), "namespace": md.get("namespace")}
            acc = self._generate(acc, args, kind, merge_options(doc.get("options"), None), source)
        return acc

    def _generate(
        self,
        acc: list[WorkResource],
        args: Mapping[str, Any],
        kind: str,
        opts: Mapping[str, Any],
        source: str | None = None,
    ) -> list[WorkResource]:
        res = generate(args, kind=kind, read=self.loader.read, options=opts, source=source or self.path)
        if self.origin_path is not None:
            res.origin = {
                "configuredIn": os.path.normpath(os.path.join(self.origin_path, os.path.basename(self.path))),
                "configuredBy": {"apiVersion": "builtin", "kind": f"{kind}Generator"},
            }
            if self.loader.repo is not None:
                res.origin.update(repo=self.loader.repo.repo_url, ref=self.loader.repo.ref)
        return self._absorb(acc, res)

    def _absorb(self, acc: list[WorkResource], res: WorkResource) -> list[WorkResource]:
        key = res.cur_id().key()
        matches = [r for r in acc if any(i.key() == key for i in r.all_ids())]
        if not matches:
            if res.behavior in ("merge", "replace"):
                raise GeneratorConflictError(
                    self.path, f"id {res.cur_id()} does not exist; cannot merge or replace"
                )
            acc.append(res)
            return acc
        if len(matches) > 1:
            raise GeneratorConflictError(self.path, f"multiple matches for generated {res.cur_id()}")
        old = matches[0]
        if res.behavior == "create":
            raise GeneratorConflictError(
                self.path, f"id {res.cur_id()} exists; behavior must be merge or replace"
            )
        if res.behavior == "merge":
            for field in ("data", "binaryData"):
                merged = {**(old.obj.get(field) or {}), **(res.obj.get(field) or {})}
                if merged:
                    res.obj[field] = merged
        labels = {**old.labels(), **res.labels()}
        annotations = {**old.annotations(), **res.annotations()}
        md = res.metadata
        if labels:
            md["labels"] = labels
        if annotations:
            md["annotations"] = annotations
        md["name"] = old.name
        if old.namespace:
            md["namespace"] = old.namespace
        else:
            md.pop("namespace", None)
        res.prev_ids = list(old.prev_ids)
        res.origin = old.origin
        res.needs_hash = res.needs_hash
        acc[acc.index(old)] = res
        return acc

    # -- transformers -------------------------------------------------------------------------------
    def _patch_text(self, entry: Mapping[str, Any], field: str) -> tuple[str, str]:
        has_path = bool(entry.get("path"))
        has_patch = bool(entry.get("patch"))
        if has_path and has_patch:
            raise KustomizationError(self.path, f"{field}: patch and path can't be set at the same time")
        if has_path:
            data, source = self.loader.read(str(entry["path"]))
            try:
                return data.decode("utf-8"), source
            except UnicodeDecodeError:
                raise MalformedYAMLError(source, "patch file is not UTF-8") from None
        if has_patch:
            return str(entry["patch"]), self.path
        raise KustomizationError(self.path, f"{field}: must specify one of patch or path")

    def _record(self, acc: list[WorkResource], kind: str) -> None:
        if self.origin_path is None or "transformerAnnotations" not in self.build_metadata:
            return
        entry = {
            "configuredIn": os.path.normpath(os.path.join(self.origin_path, os.path.basename(self.path))),
            "configuredBy": {"apiVersion": "builtin", "kind": kind},
        }
        for res in acc:
            res.transformations.append(entry)

    def _run_transformers(self, acc: list[WorkResource]) -> list[WorkResource]:
        k = self.k
        # PatchStrategicMergeTransformer
        for entry in k.get("patchesStrategicMerge") or []:
            text = str(entry)
            if "\n" not in text and not text.lstrip().startswith(("{", "apiVersion")):
                data, source = self.loader.read(text.strip())
                docs = load_documents(data, source)
            else:
                source = self.path
                docs = load_documents(text, source)
            for doc in docs:
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise MalformedYAMLError(source, "a strategic merge patch must be a mapping")
                acc = apply_strategic_merge(acc, doc, target=None, source=source)
        if k.get("patchesStrategicMerge"):
            self._record(acc, "PatchStrategicMergeTransformer")
        # PatchTransformer
        for entry in k.get("patches") or []:
            text, source = self._patch_text(entry, "patches")
            target = Selector(entry["target"], self.path) if isinstance(entry.get("target"), dict) else None
            options = entry.get("options") or {}
            docs = [d for d in load_documents(text, source) if d is not None]
            if len(docs) == 1 and isinstance(docs[0], list):
                if target is None:
                    raise KustomizationError(source, "must specify a target for JSON patch")
                acc = apply_json6902(acc, docs[0], target=target, source=source)
                self._record(acc, "PatchTransformer")
                continue
            for doc in docs:
                if not isinstance(doc, dict):
                    raise MalformedYAMLError(source, "a patch must be a mapping or a JSON 6902 list")
                acc = apply_strategic_merge(acc, doc, target=target, source=source, options=options)
            self._record(acc, "PatchTransformer")
        if k.get("namespace"):
            acc = apply_namespace(acc, str(k["namespace"]), self.path, self.config.specs["namespace"])
            self._record(acc, "NamespaceTransformer")
        if k.get("namePrefix"):
            acc = apply_prefix_suffix(acc, str(k["namePrefix"]), "")
            self._record(acc, "PrefixTransformer")
        if k.get("nameSuffix"):
            acc = apply_prefix_suffix(acc, "", str(k["nameSuffix"]))
            self._record(acc, "SuffixTransformer")
        for entry in k.get("labels") or []:
            pairs = {str(a): _str(b) for a, b in (entry.get("pairs") or {}).items()}
            specs: tuple[FieldSpec, ...] = label_specs(
                include_selectors=bool(entry.get("includeSelectors")),
                include_templates=bool(entry.get("includeTemplates")),
            )
            extra = tuple(
                FieldSpec(
                    str(fs.get("path", "")),
                    kind=str(fs.get("kind") or ""),
                    group=str(fs.get("group") or ""),
                    version=str(fs.get("version") or ""),
                    create=bool(fs.get("create")),
                )
                for fs in entry.get("fields") or []
            )
            if entry.get("includeSelectors"):
                specs = (*specs, *self.config.specs["commonLabels"])
            acc = apply_labels(acc, pairs, extra + specs)
            self._record(acc, "LabelTransformer")
        if k.get("commonLabels"):
            pairs = {str(a): _str(b) for a, b in k["commonLabels"].items()}
            acc = apply_labels(acc, pairs, (*COMMON_LABEL_SPECS, *self.config.specs["commonLabels"]))
        if k.get("labels") or k.get("commonLabels"):
            # kustomize always adds one more LabelTransformer, for commonLabels (even when empty).
            self._record(acc, "LabelTransformer")
        if k.get("commonAnnotations"):
            acc = apply_annotations(
                acc,
                {str(a): _str(b) for a, b in k["commonAnnotations"].items()},
                (*ANNOTATION_SPECS, *self.config.specs["commonAnnotations"]),
            )
            self._record(acc, "AnnotationsTransformer")
        for entry in k.get("patchesJson6902") or []:
            text, source = self._patch_text(entry, "patchesJson6902")
            docs = [d for d in load_documents(text, source) if d is not None]
            if len(docs) != 1 or not isinstance(docs[0], list):
                raise MalformedYAMLError(source, "a JSON 6902 patch must be a list of operations")
            if not isinstance(entry.get("target"), dict):
                raise KustomizationError(self.path, "patchesJson6902 entries need a target")
            acc = apply_json6902(acc, docs[0], target=Selector(entry["target"], self.path), source=source)
            self._record(acc, "PatchJson6902Transformer")
        for replica in k.get("replicas") or []:
            acc = apply_replicas(acc, [replica], self.path, self.config.specs["replicas"])
            self._record(acc, "ReplicaCountTransformer")
        for image in k.get("images") or []:
            acc = apply_images(acc, [image], self.config.specs["images"])
            self._record(acc, "ImageTagTransformer")
        if k.get("replacements"):
            acc = apply_replacements(acc, self._replacements(), self.path)
            self._record(acc, "ReplacementTransformer")
        for doc, source in plugin_documents(
            list(k.get("transformers") or []), self.loader.read, self.path, TRANSFORMER_KINDS
        ):
            acc = run_transformer_plugin(acc, doc, source, self.loader.read)
            self._record(acc, str(doc["kind"]))
        return acc

    def _replacements(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in self.k.get("replacements") or []:
            if entry.get("path"):
                data, source = self.loader.read(str(entry["path"]))
                for doc in load_documents(data, source):
                    if doc is None:
                        continue
                    items = doc if isinstance(doc, list) else [doc]
                    for item in items:
                        if not isinstance(item, dict):
                            raise MalformedYAMLError(source, "a replacement must be a mapping")
                        out.append(item)
            else:
                out.append(dict(entry))
        return out


def _str(value: Any) -> str:
    # Label and annotation values are strings in kustomize's Go structs; YAML scalars print as Go would.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


_ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations"
_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# What kubectl's embedded kustomize (a development build) writes; the oracle is `kubectl kustomize`.
_MANAGED_BY = "kustomize-(devel)"


def _origin_text(origin: Mapping[str, Any]) -> str:
    # kustomize writes its Origin struct with go-yaml v3: fields in declaration order, not sorted.
    lines = [f"{key}: {origin[key]}" for key in ("path", "repo", "ref", "configuredIn") if origin.get(key)]
    by = origin.get("configuredBy")
    if isinstance(by, Mapping):
        lines.append("configuredBy:")
        lines += [f"  {key}: {by[key]}" for key in ("apiVersion", "kind", "name", "namespace") if by.get(key)]
    return "\n".join(lines) + "\n"


def build_work(
    path: str | os.PathLike[str],
    *,
    allow_remote: bool = False,
    restrict: bool = True,
    remote_auth: Mapping[str, GitAuth] | None = None,
) -> list[WorkResource]:
    """Run a full build and return the finished, sorted working resources."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(str(p))
    if not p.is_dir():
        raise MissingFileError(str(p), "must build at a directory holding a kustomization")
    root = p.resolve()
    fetcher = RemoteFetcher(remote_auth) if allow_remote else None
    loader = RootLoader(root, allow_remote=allow_remote, restrict=restrict, fetcher=fetcher)
    try:
        return _build_top(loader)
    finally:
        if fetcher is not None:
            # Everything fetched has been read into memory by now.
            fetcher.close()


def _stringify_annotations(res: WorkResource) -> None:
    """kustomize ends a build by writing every object's annotations back as a string map (when it drops
    its internal build annotations), so ``port: 80`` comes out as ``port: "80"``; labels are left alone."""
    annotations = res.metadata.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, value in annotations.items():
        if isinstance(value, str):
            continue
        if value is None:
            text = "null"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = go_format_float(value)
        elif isinstance(value, int):
            text = str(value)
        else:
            # A map or list has no scalar text: kyaml reads it as "".
            text = ""
        annotations[key] = text


def _build_top(loader: RootLoader) -> list[WorkResource]:
    top = _Target(loader, None)
    if top.kind == "Component":
        raise KustomizationError(
            top.path, "a Component cannot be built on its own; include it from a Kustomization"
        )
    if top.build_metadata:
        top.origin_path = ""
    acc = top.accumulate([])
    acc = add_hash_suffixes(acc)
    acc = fix_name_references(acc, top.path, top.config.name_references)
    resolve_vars(acc, top.known_vars, top.config.specs["varReference"])
    if "originAnnotations" in top.build_metadata:
        for res in acc:
            if res.origin is not None:
                res.metadata.setdefault("annotations", {})
                if not isinstance(res.metadata["annotations"], dict):
                    res.metadata["annotations"] = {}
                res.metadata["annotations"][_ORIGIN_ANNOTATION] = _origin_text(res.origin)
    if "transformerAnnotations" in top.build_metadata:
        for res in acc:
            if res.transformations:
                annotations = res.metadata.setdefault("annotations", {})
                annotations[_TRANSFORMATIONS_ANNOTATION] = "".join(
                    "- " + _origin_text(t).replace("\n", "\n  ").rstrip(" ") for t in res.transformations
                )
    if "managedByLabel" in top.build_metadata:
        for res in acc:
            labels = res.metadata.setdefault("labels", {})
            labels[_MANAGED_BY_LABEL] = _MANAGED_BY
    for res in acc:
        _stringify_annotations(res)
    sort_opts = top.k.get("sortOptions") or {}
    order = sort_opts.get("order") or "legacy"
    if order == "legacy":
        legacy = sort_opts.get("legacySortOptions") or {}
        if legacy.get("orderFirst") or legacy.get("orderLast"):
            acc = sort_resources(acc, legacy.get("orderFirst") or [], legacy.get("orderLast") or [])
        else:
            acc = sort_resources(acc)
    elif order != "fifo":
        raise KustomizationError(top.path, f"sortOptions.order must be 'legacy' or 'fifo', got {order!r}")
    return acc
