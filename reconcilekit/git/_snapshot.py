"""Materialize a Git tree as an immutable snapshot directory, applying ignore rules and safety limits.

The snapshot is what a :class:`GitSource` hands downstream as ``Artifact.path``: plain files (read-only),
directories and in-snapshot symlinks, never ``.git``. Ignore rules follow Flux: its default exclusions, then
every ``.sourceignore`` file (gitignore syntax, scoped to its own directory), then the caller's ``ignore``
patterns; the last matching pattern wins, and ``!pattern`` re-includes.

Digest (``sha256:<hex>``): SHA-256 over one record per materialized entry, in byte order of the
snapshot-relative POSIX path: ``path NUL mode NUL sha256(content) LF`` - ``mode`` is the Git mode in octal
(``100644``, ``100755`` or ``120000``), ``sha256(content)`` the lowercase hex SHA-256 of the file bytes or of
the symlink target. Only content enters the digest (no times, owners or umask), so the same tree gives the
same digest on any machine; per-file hashes let a new snapshot reuse the unchanged files of the previous one
(hard links, no re-read) and still produce the digest.

Submodules: without a resolver, gitlinks (mode ``160000``) are left out. With one (``recurse_submodules``),
each gitlink the ignore rules keep is handed to it, and the pinned commit's tree it returns is walked in
place, as a checkout would lay it out: its files get superproject-relative paths in the digest, the ignore
rules and ``.sourceignore`` files apply inside it as anywhere else, and its files count toward the same
limits.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs
import pygit2
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from ._errors import LimitExceededError, RefNotFoundError, UnsafeContentError

__all__ = ["DEFAULT_EXCLUSIONS", "IGNORE_FILE", "RepoView", "Snapshot", "SubmoduleResolver", "materialize"]

IGNORE_FILE = ".sourceignore"

#: Flux's default exclusions (fluxcd/pkg sourceignore: VCS, file extensions, CI, extra), lowest priority.
DEFAULT_EXCLUSIONS: tuple[str, ...] = (
    # VCS
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    # binary file extensions
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    # CI
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    # extra
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
)

_MODE_TREE = 0o040000
_MODE_LINK = 0o120000
_MODE_EXEC = 0o100755
_MODE_COMMIT = 0o160000


def parse_patterns(lines: Iterable[str]) -> list[GitIgnoreSpecPattern]:
    """Compile gitignore-syntax lines, skipping blanks and comments."""
    out = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        pat = GitIgnoreSpecPattern(line.rstrip("\r"))
        if pat.include is not None:
            out.append(pat)
    return out


def _combine(patterns: tuple[GitIgnoreSpecPattern, ...]) -> re.Pattern[str] | None:
    # Without negations the last-match-wins order does not matter, so one alternation answers "ignored?" in
    # one regex search instead of one per pattern (the defaults alone are 25 patterns, for every path).
    if not patterns or any(not p.include or p.regex is None for p in patterns):
        return None
    parts = [str(p.regex.pattern).replace("(?P<ps_d>/)", "/") for p in patterns]  # type: ignore[union-attr]
    return re.compile("|".join(f"(?:{part})" for part in parts))


@attrs.frozen
class _Rules:
    """Patterns with the repository-relative directory (``""`` or ``"a/b/"``) they are scoped to."""

    domain: str
    patterns: tuple[GitIgnoreSpecPattern, ...]
    combined: re.Pattern[str] | None = attrs.field(init=False, eq=False)

    @combined.default
    def _combined(self) -> re.Pattern[str] | None:
        return _combine(self.patterns)


def _ignored(path: str, is_dir: bool, layers: list[_Rules]) -> bool:
    result = False
    probe = path + "/" if is_dir else path
    for rules in layers:
        if not probe.startswith(rules.domain):
            continue
        rel = probe[len(rules.domain) :]
        if rules.combined is not None:
            if rules.combined.search(rel) is not None:
                result = True
            continue
        for pat in rules.patterns:
            if pat.match_file(rel) is not None:
                result = bool(pat.include)
    return result


@attrs.frozen
class _DirRecord:
    """One materialized directory: its tree, the ignore context it was filtered with, and what it holds."""

    tree: str
    context: tuple[str, ...]
    files: list[tuple[str, bytes]]
    links: list[tuple[str, bytes]]
    subdirs: list[str]


@attrs.frozen(eq=False)
class RepoView:
    """The repository a part of the snapshot comes from: the superproject, or a submodule inside it.

    ``prefix`` is where this repository's root sits in the superproject's tree (``""`` or ``"vendor/lib/"``),
    ``depth`` how deeply it is nested (0 for the superproject).
    """

    repo: pygit2.Repository
    url: str
    commit: str
    prefix: str = ""
    depth: int = 0


#: Given the repository holding a gitlink, the gitlink's path relative to that repository's root and the
#: pinned commit, return the submodule's repository and the commit's tree - or ``None`` to leave it out.
SubmoduleResolver = Callable[[RepoView, str, str], "tuple[RepoView, pygit2.Tree] | None"]


class _ReuseFailedError(Exception):
    """The previous snapshot cannot be linked from (removed, other file system): build from scratch."""


@attrs.frozen
class SnapshotIndex:
    """What a snapshot holds, per snapshot-relative path: ``(blob id, mode, sha256 hex of content, size)``.

    Kept by the source so the next snapshot can hard-link unchanged files from this one.
    """

    root: Path
    entries: dict[bytes, tuple[str, int, str, int]]
    dirs: dict[str, _DirRecord] = attrs.field(factory=dict)

    @property
    def root_str(self) -> str:
        """``root`` as a string (hot path)."""
        return str(self.root)


@attrs.frozen
class Snapshot:
    """A materialized tree: its directory, digest and size."""

    path: Path
    digest: str
    files: int
    bytes: int
    index: SnapshotIndex


class _Builder:
    def __init__(
        self,
        url: str,
        root: Path,
        base: str,
        user: list[_Rules],
        defaults: list[_Rules],
        max_files: int,
        max_bytes: int,
        previous: SnapshotIndex | None,
        submodules: SubmoduleResolver | None,
    ) -> None:
        self.previous = previous
        self.submodules = submodules
        self.url = url
        self.root = root
        self.base = base  # repository-relative prefix of the snapshot root ("" or "deploy/")
        self.user = user
        self.defaults = defaults
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.files = 0
        self.bytes = 0
        self.records: dict[bytes, tuple[str, int, str, int]] = {}
        self.dirs: dict[str, _DirRecord] = {}
        self.links: list[str] = []

    def _count(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.max_files:
            raise LimitExceededError(self.url, "files", self.max_files)
        if self.bytes > self.max_bytes:
            raise LimitExceededError(self.url, "bytes", self.max_bytes)

    def walk(
        self,
        view: RepoView,
        tree: pygit2.Tree,
        repo_dir: str,
        out_dir: str,
        stack: list[_Rules],
        context: tuple[str, ...],
    ) -> None:
        rel_dir = repo_dir[len(self.base) :]
        tree_id = str(tree.id)
        prev = self.previous.dirs.get(rel_dir) if self.previous is not None else None
        if prev is not None and prev.tree == tree_id and prev.context == context:
            # Same tree filtered by the same ignore files: the previous snapshot's directory is what this one
            # would be. Link it file by file without reading the tree again. (A tree id also pins the commits
            # of the gitlinks below it, so this holds for submodule content too.)
            self._reuse_dir(rel_dir, out_dir)
            return
        record = _DirRecord(tree_id, context, [], [], [])
        self.dirs[rel_dir] = record
        repo = view.repo
        layers = stack
        child_context = context
        # pygit2's Tree has no .get()
        ignore_entry = tree[IGNORE_FILE] if IGNORE_FILE in tree else None  # noqa: SIM401
        if ignore_entry is not None and ignore_entry.filemode != _MODE_TREE:
            text = repo[ignore_entry.id].peel(pygit2.Blob).data.decode("utf-8", errors="replace")
            layers = [*stack, _Rules(repo_dir, tuple(parse_patterns(text.splitlines())))]
            child_context = (*context, f"{repo_dir}:{ignore_entry.id}")
        all_layers = [*self.defaults, *layers, *self.user]
        for entry in tree:
            name = entry.name
            if not name or name in (".", "..") or "/" in name or "\0" in name or "\\" in name:
                raise UnsafeContentError(self.url, repo_dir + (name or ""), "invalid path name in tree")
            repo_path = repo_dir + name
            mode = entry.filemode
            if mode == _MODE_COMMIT and self.submodules is None:
                continue  # submodules only when asked for (recurse_submodules)
            is_dir = mode in (_MODE_TREE, _MODE_COMMIT)
            if _ignored(repo_path, is_dir, all_layers):
                continue
            target = out_dir + "/" + name
            if mode == _MODE_COMMIT:
                assert self.submodules is not None
                found = self.submodules(view, repo_path[len(view.prefix) :], str(entry.id))
                if found is None:
                    continue
                os.mkdir(target)
                record.subdirs.append(name)
                self.walk(found[0], found[1], repo_path + "/", target, layers, child_context)
                continue
            if is_dir:
                os.mkdir(target)
                record.subdirs.append(name)
                self.walk(
                    view, repo[entry.id].peel(pygit2.Tree), repo_path + "/", target, layers, child_context
                )
                continue
            rel = repo_path[len(self.base) :].encode()
            oid = str(entry.id)
            if mode == _MODE_LINK:
                data = repo[entry.id].peel(pygit2.Blob).data
                self._count(len(data))
                link = os.fsdecode(data)
                if "\0" in link or not link:
                    raise UnsafeContentError(self.url, repo_path, "invalid symlink target")
                os.symlink(link, target)
                self.links.append(target)
                record.links.append((name, rel))
                self.records[rel] = (oid, _MODE_LINK, hashlib.sha256(data).hexdigest(), len(data))
                continue
            git_mode = _MODE_EXEC if mode == _MODE_EXEC else 0o100644
            record.files.append((name, rel))
            if self.previous is not None and self._reuse(rel, oid, git_mode, target):
                continue
            data = repo[entry.id].peel(pygit2.Blob).data
            self._count(len(data))
            # Created read-only in one call: the snapshot is immutable from the start.
            fd = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o555 if git_mode == _MODE_EXEC else 0o444
            )
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            self.records[rel] = (oid, git_mode, hashlib.sha256(data).hexdigest(), len(data))

    def _reuse_dir(self, rel_dir: str, out_dir: str) -> None:
        prev = self.previous
        assert prev is not None
        record = prev.dirs[rel_dir]
        self.dirs[rel_dir] = record
        root = prev.root_str
        try:
            for name, rel in record.files:
                entry = prev.entries[rel]
                os.link(root + "/" + os.fsdecode(rel), out_dir + "/" + name)
                self._count(entry[3])
                self.records[rel] = entry
            for name, rel in record.links:
                target = out_dir + "/" + name
                os.symlink(os.readlink(root + "/" + os.fsdecode(rel)), target)
                self._count(prev.entries[rel][3])
                self.links.append(target)
                self.records[rel] = prev.entries[rel]
            for name in record.subdirs:
                os.mkdir(out_dir + "/" + name)
                self._reuse_dir(rel_dir + name + "/", out_dir + "/" + name)
        except (OSError, KeyError) as exc:
            raise _ReuseFailedError(str(exc)) from None

    def _reuse(self, rel: bytes, oid: str, mode: int, target: str) -> bool:
        prev = self.previous
        assert prev is not None
        old = prev.entries.get(rel)
        if old is None or old[0] != oid or old[1] != mode:
            return False
        try:
            os.link(prev.root_str + "/" + os.fsdecode(rel), target)
        except OSError:
            # The previous snapshot was removed or is on another file system: write the file instead.
            return False
        self._count(old[3])
        self.records[rel] = old
        return True

    def check_links(self) -> None:
        # Resolve with the real file system once everything exists: lexical checks miss chains such as a
        # link to "sub/d/../.." where sub/d is itself a link to "..".
        real_root = os.path.realpath(self.root)
        for link in self.links:
            resolved = os.path.realpath(link)
            if resolved != real_root and not resolved.startswith(real_root + os.sep):
                rel = os.path.relpath(link, self.root)
                raise UnsafeContentError(self.url, self.base + rel, "symlink points outside the snapshot")

    def digest(self) -> str:
        h = hashlib.sha256()
        for rel in sorted(self.records):
            _, mode, content, _ = self.records[rel]
            h.update(b"%s\0%o\0%s\n" % (rel, mode, content.encode()))
        return "sha256:" + h.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def materialize(
    repo: pygit2.Repository,
    commit: pygit2.Commit,
    *,
    url: str,
    dest_parent: Path,
    subpath: str | None,
    ignore: str | None,
    max_files: int,
    max_bytes: int,
    previous: SnapshotIndex | None = None,
    submodules: SubmoduleResolver | None = None,
) -> Snapshot:
    """Write ``commit``'s tree (or its ``subpath`` subtree) under ``dest_parent/<digest>`` and return it.

    Snapshots are content-addressed: an existing directory with the same digest is reused as is. Files that
    ``previous`` holds with the same blob and mode are hard-linked from it instead of written again. With
    ``submodules``, gitlinks are resolved through it and their trees materialized in place (``subpath`` may
    lead into a submodule); without it they are left out.
    """
    view = RepoView(repo, url, str(commit.id))
    tree = commit.tree
    base = ""
    stack: list[_Rules] = []
    stack_ids: list[tuple[_Rules, str]] = []
    if subpath:
        parts = [p for p in subpath.strip("/").split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeContentError(url, subpath, "path may not contain '..'")
        for part in parts:
            if IGNORE_FILE in tree and tree[IGNORE_FILE].filemode != _MODE_TREE:
                blob = view.repo[tree[IGNORE_FILE].id].peel(pygit2.Blob)
                text = blob.data.decode("utf-8", errors="replace")
                stack.append(_Rules(base, tuple(parse_patterns(text.splitlines()))))
                stack_ids.append((stack[-1], str(tree[IGNORE_FILE].id)))
            mode = tree[part].filemode if part in tree else None
            if mode == _MODE_COMMIT and submodules is not None:
                found = submodules(view, (base + part)[len(view.prefix) :], str(tree[part].id))
                if found is None:
                    raise RefNotFoundError(url, f"directory {subpath!r} at commit {commit.id}")
                view, tree = found
            elif mode == _MODE_TREE:
                tree = view.repo[tree[part].id].peel(pygit2.Tree)
            else:
                raise RefNotFoundError(url, f"directory {subpath!r} at commit {commit.id}")
            base += part + "/"
    defaults = [_Rules(base, tuple(parse_patterns(DEFAULT_EXCLUSIONS)))]
    user = [_Rules(base, tuple(parse_patterns(ignore.splitlines())))] if ignore else []

    dest_parent.mkdir(parents=True, exist_ok=True)
    context = tuple(f"{rules.domain}:{oid}" for rules, oid in stack_ids)
    start = _Start(view, tree, base, stack, context, user, defaults)
    try:
        return _build(start, url, dest_parent, max_files, max_bytes, previous, submodules)
    except _ReuseFailedError:
        return _build(start, url, dest_parent, max_files, max_bytes, None, submodules)


@attrs.frozen
class _Start:
    """Where the walk begins: the (sub)tree at ``subpath``, the repository it is in, and the ignore rules."""

    view: RepoView
    tree: pygit2.Tree
    base: str
    stack: list[_Rules]
    context: tuple[str, ...]
    user: list[_Rules]
    defaults: list[_Rules]


def _build(
    start: _Start,
    url: str,
    dest_parent: Path,
    max_files: int,
    max_bytes: int,
    previous: SnapshotIndex | None,
    submodules: SubmoduleResolver | None,
) -> Snapshot:
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest_parent))
    try:
        builder = _Builder(
            url, tmp, start.base, start.user, start.defaults, max_files, max_bytes, previous, submodules
        )
        builder.walk(start.view, start.tree, start.base, str(tmp), start.stack, start.context)
        builder.check_links()
        digest = builder.digest()
        final = dest_parent / digest.removeprefix("sha256:")
        if final.exists():
            shutil.rmtree(tmp)
        else:
            tmp.chmod(0o755)
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Snapshot(
        final, digest, builder.files, builder.bytes, SnapshotIndex(final, builder.records, builder.dirs)
    )
