"""kustomize-compatible rendering in pure Python: the output of ``kubectl kustomize``, faster.

:func:`build` reads a kustomization tree and returns a :class:`~reconcilekit.ResourceSet`; :func:`to_yaml`
prints it exactly as ``kubectl kustomize`` (kustomize v5) does. Each builtin is also a
:class:`~reconcilekit.Transformer` usable alone (:class:`Namespace`, :class:`NamePrefix`, :class:`Labels`,
:class:`Images`, :class:`Patch`...), and :class:`Kustomize` composes them from a kustomization.yaml found in
the pipeline's artifact. :class:`Substitute` is Flux's post-build variable substitution.

Example::

    from reconcilekit.kustomize import build, to_yaml
    print(to_yaml(build("deploy/overlays/prod")), end="")

Supported kustomization fields: resources (files, multi-document files, ``*List`` kinds, directories,
nested bases), components, namespace, namePrefix, nameSuffix (with name-reference rewriting), labels,
commonLabels, commonAnnotations, images, replicas, patches, patchesStrategicMerge, patchesJson6902,
configMapGenerator, secretGenerator, generatorOptions, replacements, vars, configurations, sortOptions,
buildMetadata (originAnnotations, transformerAnnotations, managedByLabel), and generators/transformers
entries that configure kustomize's builtin plugins. Fields kustomize knows but this engine does not run
(helm, exec/KRM-function plugins, validators, crds, openapi) raise :class:`NotSupportedError`; unknown
fields raise :class:`UnknownFieldError`. kustomization.yaml is read
as kustomize reads it (YAML 1.1 into typed fields, names matched case-insensitively), so ``namespace: n``
or ``newTag: 1.10`` fail as they do there.

Security and limits:

* Root-only load restriction (kustomize's default): a file outside the kustomization's directory, through
  ``..`` or a symlink, raises :class:`FileOutsideRootError`. Bases (directories) may live elsewhere, as in
  kustomize, but a base that contains a kustomization already being built raises :class:`CycleError`.
* Remote bases (URLs) are refused unless ``allow_remote=True`` (:class:`NotSupportedError` naming the
  kustomization and the URL, credentials redacted). With it, ``resources`` and ``components`` entries may be
  Git URLs as kustomize reads them - ``https://host/org/repo.git//sub/dir?ref=v1.0.0``,
  ``https://host/org/repo//dir?ref=main``, ``git::https://...``, ``ssh://git@host/org/repo.git//dir``,
  ``git@host:org/repo.git//dir``, ``file:///abs/repo.git//dir``, ``github.com/org/repo/dir``, and also
  ``git://host/repo.git//dir`` - with ``?ref=`` (or ``?version=``) a tag, branch or full commit SHA (tags
  win over branches, as in ``git fetch``), ``?timeout=`` (seconds or a Go duration, default 27s, for the whole
  fetch) and ``?submodules=`` (default true: submodules are fetched too). Each repository@ref is fetched
  once per build (with :class:`~reconcilekit.git.GitSource`, into a temporary directory removed when the
  build ends); credentials come from ``remote_auth`` (by URL prefix) or the URL itself. The kustomization
  directory in the repository becomes a new root, always root-only restricted, and its bases must stay
  inside the repository (:class:`FileOutsideRootError`); cycles through remote bases raise
  :class:`CycleError`. An ``http(s)://`` URL without Git markers (``//``, ``.git``,
  ``_git/``, ``?ref=``) is first read as one manifest file, as kustomize does. Fetch failures raise
  :class:`RemoteBaseError` (:class:`RemoteRefNotFoundError` for a missing ref) or, when they may pass,
  :class:`RemoteUnavailableError` (a :class:`~reconcilekit.TemporaryError`).
* Inputs are bounded: files over 64 MiB (``MAX_FILE_BYTES``), documents expanding through YAML aliases to
  more than 2,000,000 nodes (``MAX_EXPANDED_NODES``) and nesting deeper than 500 levels (``MAX_DEPTH``)
  raise :class:`LimitExceededError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._model import DuplicateResourceError, ResourceSet
from .._public import publish
from ._errors import (
    CycleError,
    FileOutsideRootError,
    GeneratorConflictError,
    KustomizationError,
    LimitExceededError,
    MalformedYAMLError,
    MissingFileError,
    NotSupportedError,
    PatchTargetNotFoundError,
    RemoteBaseError,
    RemoteRefNotFoundError,
    RemoteUnavailableError,
    ResourceConflictError,
    UnknownFieldError,
)
from ._target import build_work
from ._transformers import (
    Annotations,
    ConfigMapGenerator,
    Image,
    Images,
    Kustomize,
    Labels,
    NamePrefix,
    Namespace,
    NameSuffix,
    Patch,
    Replacements,
    Replicas,
    SecretGenerator,
    Substitute,
    to_resource_set,
)
from ._yaml import MAX_DEPTH, MAX_EXPANDED_NODES, MAX_FILE_BYTES, dump_documents

if TYPE_CHECKING:
    from ..git import GitAuth

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "Annotations",
    "ConfigMapGenerator",
    "CycleError",
    "FileOutsideRootError",
    "GeneratorConflictError",
    "Image",
    "Images",
    "KustomizationError",
    "Kustomize",
    "Labels",
    "LimitExceededError",
    "MalformedYAMLError",
    "MissingFileError",
    "NamePrefix",
    "NameSuffix",
    "Namespace",
    "NotSupportedError",
    "Patch",
    "PatchTargetNotFoundError",
    "RemoteBaseError",
    "RemoteRefNotFoundError",
    "RemoteUnavailableError",
    "Replacements",
    "Replicas",
    "ResourceConflictError",
    "SecretGenerator",
    "Substitute",
    "UnknownFieldError",
    "build",
    "to_yaml",
]


def build(
    path: str | os.PathLike[str],
    *,
    load_restrictor: str = "root",
    allow_remote: bool = False,
    remote_auth: Mapping[str, GitAuth] | None = None,
) -> ResourceSet:
    """Build the kustomization in directory ``path``, as ``kubectl kustomize path`` does.

    Args:
        path: a directory holding ``kustomization.yaml`` (or ``.yml``, or ``Kustomization``).
        load_restrictor: ``"root"`` (default, kustomize's ``LoadRestrictionsRootOnly``): files must be
            in or below their kustomization's directory. ``"none"`` lifts that restriction.
        allow_remote: fetch remote bases (Git URLs) and remote manifest files; refused by default.
        remote_auth: credentials for remote bases, keyed by URL prefix (``"ssh://git@git.example/"``,
            ``"https://git.example/org/"``); the longest prefix that matches a repository URL up to a path
            boundary is used. SSH remotes need one, with ``known_hosts``. Credentials written in an
            ``https://user:token@host/...`` URL are used as well (and redacted from every message).

    Returns:
        The resources in kustomize's output order.

    Raises:
        KustomizationError: (or a subclass) naming the file at fault; all are
            :class:`~reconcilekit.ValidationError` s.
        RemoteUnavailableError: a remote base could not be fetched for a reason that may pass.
    """
    if load_restrictor not in ("root", "none"):
        raise ValueError(f"load_restrictor must be 'root' or 'none', got {load_restrictor!r}")
    work = build_work(
        path, allow_remote=allow_remote, restrict=load_restrictor == "root", remote_auth=remote_auth
    )
    try:
        return to_resource_set(work)
    except DuplicateResourceError as exc:
        # kustomize keys objects by group/version/kind; a ResourceSet by group/kind (API versions are
        # views of one object), so two versions of one object cannot be returned together.
        raise ResourceConflictError(
            os.path.abspath(path),
            f"{exc.ref} appears under two API versions; a resource set holds each object once",
        ) from None


def to_yaml(resources: ResourceSet) -> str:
    """Multi-document YAML exactly as ``kubectl kustomize`` prints it (documents joined by ``---``)."""
    return dump_documents([r.body for r in resources])


publish(globals(), __name__)
