"""ImageUpdateAutomation: the reconciler that scans registries, picks tags, writes them into Git and pushes.

One run (:meth:`ImageUpdateAutomation.reconcile`):

1. scan every repository named by an :class:`ImageUpdatePolicy` (each repository once) and let its
   :class:`~reconcilekit.images.ImagePolicy` pick a tag (optionally resolved to a digest);
2. check out the Git branch (a :class:`~reconcilekit.git.GitWriter` or anything with the same two methods);
3. :func:`~reconcilekit.images.apply_setters` under ``path`` in the checkout;
4. when something changed, commit with the message template and push (to the checkout branch, or to the
   writer's ``push_branch`` for review). Nothing changed: no commit.

Any error before the commit (registry, policy, marker, YAML) is raised: nothing is committed or pushed, and
the setters write no file when any file fails. The next run starts from a fresh checkout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import anyio
import attrs

from .._errors import ConfigurationError
from .._model import Request, Result
from ._policy import ImagePolicy
from ._registry import ImageRepository, RegistryClient
from ._setters import Change, apply_setters

__all__ = [
    "DEFAULT_COMMIT_MESSAGE",
    "AutomationRun",
    "CommitMessageTemplate",
    "GitCheckout",
    "ImageUpdateAutomation",
    "ImageUpdatePolicy",
]

DEFAULT_COMMIT_MESSAGE = "Update images\n\n{changes}\n"
"""The commit message used when none is given: a title, then one line per changed field."""


@runtime_checkable
class GitCheckout(Protocol):
    """What the automation needs from Git; :class:`~reconcilekit.git.GitWriter` provides it."""

    async def checkout(self) -> Path:
        """A working tree at the remote head of the branch, with earlier local edits discarded."""
        ...

    async def commit_and_push(self, message: str) -> str | None:
        """Commit every change in the tree and push it; ``None`` when there was nothing to commit."""
        ...


def _optional_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class ImageUpdatePolicy:
    """A named policy over one image repository: what a marker ``{"$imagepolicy": "<name>"}`` refers to.

    This is Flux's ``ImagePolicy`` object (with its ``ImageRepository``): ``name`` is ``namespace:name`` as
    the markers spell it, ``image`` the repository as written in YAML (``registry/path``), ``client`` the
    :class:`~reconcilekit.images.RegistryClient` for that registry.

    Args:
        name: ``"namespace:name"``.
        image: image name without tag, e.g. ``"127.0.0.1:5000/team/app"``.
        policy: picks the tag.
        client: talks to the registry of ``image``.
        reflect_digest: write ``image:tag@sha256:…`` instead of ``image:tag`` (Flux's
            ``digestReflectionPolicy``).
        exclusion_list: overrides the client's exclusion list for this repository.
    """

    name: str
    image: str
    policy: ImagePolicy
    client: RegistryClient = attrs.field(eq=False)
    reflect_digest: bool = False
    exclusion_list: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    repository: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        parts = self.name.split(":")
        if len(parts) != 2 or not all(parts):
            raise ConfigurationError(f"image policy name {self.name!r} must be 'namespace:name'")
        if "@" in self.image or ":" in self.image.rpartition("/")[2]:
            raise ConfigurationError(f"image {self.image!r} must be a repository without tag or digest")
        ref = ImageRepository(self.image)
        client_host = urlsplit(self.client.url).netloc
        if ref.registry != client_host:
            raise ConfigurationError(
                f"image {self.image!r} is in registry {ref.registry}, "
                f"but its client talks to {self.client.url}"
            )
        object.__setattr__(self, "repository", ref.repository)


@attrs.frozen
class AutomationRun:
    """What one run did: the images chosen, the fields changed and the pushed commit (``None``: no commit)."""

    images: Mapping[str, str]
    changes: tuple[Change, ...]
    commit: str | None


_FIELD = re.compile(r"\{\{|\}\}|\{([a-z_]*)\}|[{}]")
_FIELDS = ("changes", "images", "files", "count")


@attrs.frozen
class CommitMessageTemplate:
    """A commit message with placeholders, checked when constructed.

    Placeholders: ``{changes}`` (one ``- file: field: old -> new`` line per change, with the object when the
    document is a Kubernetes object), ``{images}`` (one ``- image`` line per new image reference),
    ``{files}`` (one ``- path`` line per changed file), ``{count}`` (number of changed fields). ``{{`` and
    ``}}`` are literal braces. Any other ``{...}`` is a :class:`~reconcilekit.ConfigurationError`.

    Example::

        CommitMessageTemplate("chore: update {count} image fields\\n\\n{images}\\n")
    """

    template: str

    def __attrs_post_init__(self) -> None:
        for m in _FIELD.finditer(self.template):
            if m[0] in ("{{", "}}"):
                continue
            if m[1] not in _FIELDS:
                raise ConfigurationError(
                    f"commit message template: unknown placeholder {m[0]!r} (known: "
                    + ", ".join("{" + f + "}" for f in _FIELDS)
                    + "; write {{ and }} for braces)"
                )

    def render(self, changes: Sequence[Change]) -> str:
        """The message for ``changes``."""
        values = {
            "changes": "\n".join(_describe(c) for c in changes),
            "images": "\n".join(
                f"- {i}" for i in dict.fromkeys(c.new for c in changes if c.setter == "image")
            ),
            "files": "\n".join(f"- {f}" for f in dict.fromkeys(c.file for c in changes)),
            "count": str(len(changes)),
        }

        def field(m: re.Match[str]) -> str:
            if m[0] == "{{":
                return "{"
            if m[0] == "}}":
                return "}"
            return values[m[1]]

        return _FIELD.sub(field, self.template)


def _describe(change: Change) -> str:
    where = f" ({change.object})" if change.object is not None else ""
    return f"- {change.file}{where} {change.field}: {change.old} -> {change.new}"


class ImageUpdateAutomation:
    """Keeps image references in a Git branch up to date with registries, on an interval.

    Args:
        git: where to write: a :class:`~reconcilekit.git.GitWriter` (its ``push_branch`` selects pushing to a
            separate branch for review).
        policies: the named policies markers may refer to.
        path: sub-directory of the checkout to update (Flux's ``spec.update.path``); ``"."`` for all.
        interval: seconds between runs, returned as ``Result(requeue_after=interval)``.
        commit_message: a :class:`CommitMessageTemplate` or its text (default :data:`DEFAULT_COMMIT_MESSAGE`).
        unknown_policy: what a marker naming a policy not in ``policies`` does: ``"error"`` (default) or
            ``"skip"`` (Flux's behaviour).

    The outcome of the latest run is kept in :attr:`last_run`.

    Example::

        client = RegistryClient("ghcr.io", auth=RegistryAuth("bot", token))
        app = ImageUpdatePolicy("flux-system:app", "ghcr.io/org/app", ImagePolicy(SemverPolicy("^1")), client)
        automation = ImageUpdateAutomation(
            GitWriter(url, branch="main", push_branch="image-updates"),
            [app],
            path="clusters/prod",
            interval=300,
        )
        controller = Controller(automation, ...)
    """

    def __init__(
        self,
        git: GitCheckout,
        policies: Sequence[ImageUpdatePolicy],
        *,
        path: str = ".",
        interval: float = 300.0,
        commit_message: str | CommitMessageTemplate = DEFAULT_COMMIT_MESSAGE,
        unknown_policy: Literal["error", "skip"] = "error",
    ) -> None:
        if interval <= 0:
            raise ConfigurationError(f"ImageUpdateAutomation interval must be > 0, got {interval!r}")
        names = [p.name for p in policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigurationError(f"ImageUpdateAutomation: duplicate policy names {duplicates}")
        rel = Path(path)
        if rel.is_absolute() or ".." in rel.parts:
            raise ConfigurationError(f"update path {path!r} must be relative to the checkout, without '..'")
        if unknown_policy not in ("error", "skip"):
            raise ConfigurationError(f"unknown_policy must be 'error' or 'skip', got {unknown_policy!r}")
        self.git = git
        self.policies = tuple(policies)
        self.path = rel
        self.interval = interval
        self.commit_message = (
            commit_message
            if isinstance(commit_message, CommitMessageTemplate)
            else CommitMessageTemplate(commit_message)
        )
        self.unknown_policy = unknown_policy
        self.last_run: AutomationRun | None = None
        """The outcome of the latest successful run."""

    async def evaluate(self) -> dict[str, str]:
        """Scan the registries and return ``policy name → full image reference`` (no Git involved)."""
        tags_by_repo: dict[tuple[int, str, tuple[str, ...] | None], list[str]] = {}
        for p in self.policies:
            tags_by_repo.setdefault((id(p.client), p.repository, p.exclusion_list), [])
        by_key = {(id(p.client), p.repository, p.exclusion_list): p for p in self.policies}

        failures: dict[tuple[int, str, tuple[str, ...] | None], Exception] = {}

        async def scan(key: tuple[int, str, tuple[str, ...] | None]) -> None:
            p = by_key[key]
            try:
                tags_by_repo[key] = await p.client.list_tags(p.repository, exclusion_list=p.exclusion_list)
            except Exception as exc:  # re-raised below, so callers see our typed error, not a group
                failures[key] = exc

        async with anyio.create_task_group() as tg:
            for key in tags_by_repo:
                tg.start_soon(scan, key)
        for key in tags_by_repo:  # the first failure in policy order, not an ExceptionGroup
            if key in failures:
                raise failures[key]

        images: dict[str, str] = {}
        for p in self.policies:
            tag = p.policy.latest(tags_by_repo[(id(p.client), p.repository, p.exclusion_list)])
            ref = f"{p.image}:{tag}"
            if p.reflect_digest:
                ref += "@" + await p.client.resolve_digest(p.repository, tag)
            images[p.name] = ref
        return images

    async def reconcile(self, request: Request) -> Result:
        """One run: scan, evaluate, set, commit and push if anything changed; requeue after the interval."""
        images = await self.evaluate()
        tree = await self.git.checkout()
        root = (tree / self.path).resolve()
        if not root.is_relative_to(tree.resolve()):
            raise ConfigurationError(f"update path {str(self.path)!r} leaves the checkout")
        if not root.is_dir():
            raise ConfigurationError(f"update path {str(self.path)!r} is not a directory in the checkout")
        changes = await anyio.to_thread.run_sync(_apply, root, images, self.unknown_policy)
        if self.path != Path("."):
            changes = [attrs.evolve(c, file=f"{self.path.as_posix()}/{c.file}") for c in changes]
        commit = None
        if changes:
            commit = await self.git.commit_and_push(self.commit_message.render(changes))
        self.last_run = AutomationRun(images=images, changes=tuple(changes), commit=commit)
        return Result(requeue_after=self.interval)


def _apply(root: Path, images: Mapping[str, str], unknown_policy: Literal["error", "skip"]) -> list[Change]:
    return apply_setters(root, images, unknown_policy=unknown_policy)
