"""LoadManifests: the plain loader - every YAML manifest under a directory of the artifact.

This is the first stage of a pipeline whose repository holds ready-to-apply manifests (no kustomization):
files are read in path order, ``List`` kinds are flattened, and nothing outside the artifact is ever read
(symlinks leaving it are refused).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from ._errors import ConfigurationError, ValidationError
from ._model import Context, InvalidResourceError, Resource, ResourceSet
from ._yaml import load_documents

__all__ = ["LoadManifests", "PathOutsideRootError"]


class PathOutsideRootError(ValidationError):
    """A path (through ``..`` or a symlink) leads outside the directory it must stay in."""

    def __init__(self, path: str, root: str) -> None:
        super().__init__(f"security: {path} is not in or below {root}")
        self.path = path
        self.root = root


def _flatten(doc: Any, source: str) -> Iterator[Resource]:
    if not isinstance(doc, Mapping):
        raise InvalidResourceError(f"document is a {type(doc).__name__}, not a mapping", source=source)
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _flatten(item, source)
        return
    try:
        yield Resource.from_dict(doc)
    except InvalidResourceError as exc:
        raise InvalidResourceError(exc.reason, source=source) from None


@attrs.frozen
class LoadManifests:
    """A Transformer that adds every ``*.yaml``/``*.yml``/``*.json`` manifest under ``path`` of the artifact.

    Args:
        path: directory inside the artifact (default: its root).
        recursive: descend into subdirectories (hidden ones, like ``.git``, are skipped).
    """

    path: str = "."
    recursive: bool = True

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return ``resources`` followed by the loaded manifests (a duplicate identity is an error)."""
        if context.artifact is None:
            raise ConfigurationError("LoadManifests needs an artifact in the context (use it in a Pipeline)")
        loaded = await anyio.to_thread.run_sync(self.load, context.artifact.path)
        return ResourceSet([*resources, *loaded])

    def load(self, artifact_root: Path) -> list[Resource]:
        """Read the manifests under ``artifact_root / path`` (blocking)."""
        root = artifact_root.resolve()
        base = (root / self.path).resolve()
        if not base.is_relative_to(root):
            raise PathOutsideRootError(self.path, str(root))
        if not base.is_dir():
            raise ValidationError(f"{self.path}: no such directory in the artifact {root}")
        out: list[Resource] = []
        pattern = "**/*" if self.recursive else "*"
        for file in sorted(base.glob(pattern)):
            rel = file.relative_to(base)
            if any(part.startswith(".") for part in rel.parts) or file.suffix not in {
                ".yaml",
                ".yml",
                ".json",
            }:
                continue
            if not file.resolve().is_relative_to(root):
                raise PathOutsideRootError(str(rel), str(root))
            if not file.is_file():
                continue
            for doc in load_documents(file.read_bytes(), str(rel)):
                out.extend(_flatten(doc, str(rel)))
        return out
