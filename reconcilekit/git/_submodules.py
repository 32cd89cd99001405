"""Submodules for ``GitSource(recurse_submodules=True)``: read ``.gitmodules``, fetch pinned commits.

The snapshot walk (:mod:`reconcilekit.git._snapshot`) meets a gitlink - a tree entry of mode ``160000`` naming
the submodule's commit - and asks :class:`SubmoduleFetcher` for that commit's tree. The fetcher:

1. reads ``.gitmodules`` at the commit of the repository holding the gitlink and finds the entry whose
   ``path`` is the gitlink's path (a path or name that could leave the checkout is refused, as git's fsck
   does);
2. resolves a relative URL (``./x``, ``../x.git``) against that repository's URL, as git does, and applies
   git's default protocol policy: ``file://`` and local paths only when the superproject itself is local
   (``protocol.file.allow=user``), no transport helpers (``ext::``);
3. fetches exactly the pinned commit into a bare cache repository per submodule URL - nothing at all when
   the cache already holds it; else the advertised ref at that commit (shallow), else the commit by id
   (shallow, servers that allow it), else every branch and tag in full - with the superproject's transport
   settings and credentials (credentials only to the superproject's own scheme, host and port, or over SSH
   whose host keys are pinned by ``known_hosts``).

Nested submodules resolve the same way, up to :data:`MAX_SUBMODULE_DEPTH` levels.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pygit2

from .._errors import redact_url
from ._errors import GitOperationError, RefNotFoundError, SubmoduleError, UnsafeContentError
from ._snapshot import RepoView
from ._transport import GitAuth, ProgressCallback, callbacks_for, is_ssh_url, map_errors, ssh_session

__all__ = [
    "MAX_SUBMODULE_DEPTH",
    "SubmoduleFetcher",
    "auth_for",
    "is_local_url",
    "parse_gitmodules",
    "resolve_submodule_url",
]

#: How deeply submodules may nest (a submodule of a submodule is depth 2). Deeper ones, and cycles, are
#: refused with :class:`SubmoduleError` instead of recursing without end.
MAX_SUBMODULE_DEPTH = 8

# libgit2's GIT_FETCH_DEPTH_UNSHALLOW: fetch the full history even into a shallow repository.
_UNSHALLOW = 2147483647

_REMOTE_SCHEMES = frozenset({"git", "http", "https", "ssh", "git+ssh", "ssh+git"})


def is_local_url(url: str) -> bool:
    """True for ``file://`` URLs and plain paths (neither ``scheme://`` nor scp-like ``user@host:path``)."""
    if url.lower().startswith("file://"):
        return True
    return "://" not in url and not is_ssh_url(url)


@attrs.frozen
class GitModule:
    """One ``[submodule "<name>"]`` section of ``.gitmodules``."""

    name: str
    path: str | None = None
    url: str | None = None
    update: str | None = None


_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)\s*(?:"((?:[^"\\]|\\.)*)")?\s*\]')
_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(=)?")


def _value(text: str) -> tuple[str, bool]:
    """Parse a git-config value; return it and whether it continues on the next line (trailing ``\\``)."""
    out: list[str] = []
    quoted = False
    pending_space = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                return "".join(out) + pending_space, True
            nxt = text[i + 1]
            out.append(pending_space + {"n": "\n", "t": "\t", "b": "\b"}.get(nxt, nxt))
            pending_space = ""
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "#;":
            break
        elif not quoted and c.isspace():
            # Whitespace inside a value is kept, at its ends it is not: hold it until more text follows.
            if out:
                pending_space += c
        else:
            out.append(pending_space + c)
            pending_space = ""
        i += 1
    return "".join(out), False


def parse_gitmodules(text: str) -> dict[str, GitModule]:
    """Parse ``.gitmodules`` (git-config syntax) into its submodule sections, by submodule name.

    Only ``[submodule "<name>"]`` sections are read; later values win, as in git. Includes are not followed
    (git does not follow them in ``.gitmodules`` either).
    """
    modules: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None or m.group(1).lower() != "submodule" or m.group(2) is None:
                current = None
                continue
            name = re.sub(r"\\(.)", r"\1", m.group(2))
            current = modules.setdefault(name, {})
            rest = line[m.end() :].strip()
            if not rest or rest[0] in "#;":
                continue
            line = rest  # a key may follow the header on the same line
        k = _KEY.match(line)
        if k is None:
            continue
        key = k.group(1).lower()
        if k.group(2) is None:
            value = "true"  # a bare key is a boolean true
        else:
            value, more = _value(line[k.end() :].lstrip())
            while more and i < len(lines):
                extra, more = _value(lines[i])
                value += extra
                i += 1
        if current is not None:
            current[key] = value
    return {
        name: GitModule(name, keys.get("path"), keys.get("url"), keys.get("update"))
        for name, keys in modules.items()
    }


def _unsafe_component(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    # "." and empty components are harmless (no tree path has them, so such an entry matches no gitlink).
    return any(p == ".." or p.lower() == ".git" for p in parts)


def check_module(module: GitModule) -> str | None:
    """Why git would refuse this entry (a name or path leaving the checkout, an option-like URL)."""
    if module.name.startswith("/") or any(p == ".." for p in module.name.replace("\\", "/").split("/")):
        return f"submodule name {module.name!r} may not contain '..' or start with '/'"
    if module.path is not None:
        if module.path.startswith(("/", "-")):
            return f"submodule path {module.path!r} must be a relative path"
        if _unsafe_component(module.path):
            return f"submodule path {module.path!r} may not contain '..' or '.git' components"
    if module.url is not None and module.url.startswith("-"):
        return f"submodule URL of {module.name!r} may not start with '-'"
    return None


def resolve_submodule_url(base: str, url: str) -> str:
    """Resolve a submodule URL against the URL of the repository holding it, as git does.

    Only ``./`` and ``../`` URLs are relative: each ``../`` drops one path component of ``base`` (whose
    trailing ``/`` is ignored), ``./`` none, and the rest is appended. ``../other.git`` against
    ``git://host/group/super.git`` gives ``git://host/group/other.git``. Climbing above the host (or above
    the start of a relative path) raises :class:`ValueError`.
    """
    if not url.startswith(("./", "../")):
        return url
    base = base.rstrip("/")
    if "://" in base:
        scheme, rest = base.split("://", 1)
        host, _, path = rest.partition("/")
        root = f"{scheme}://{host}/"
    elif is_ssh_url(base):
        host, _, path = base.partition(":")
        root = host + ":"
        if path.startswith("/"):
            root, path = root + "/", path.lstrip("/")
    else:
        root = "/" if base.startswith("/") else ""
        path = base.lstrip("/")
    parts = [p for p in path.split("/") if p]
    rel = url
    while True:
        if rel.startswith("./"):
            rel = rel[2:]
        elif rel.startswith("../"):
            rel = rel[3:]
            if not parts:
                raise ValueError(f"relative URL {url!r} climbs above the repository URL's root")
            parts.pop()
        else:
            break
    return root + "/".join([*parts, rel] if rel else parts)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    if "://" not in url:
        return None
    try:
        split = urlsplit(url)
        return split.scheme.lower(), (split.hostname or "").lower(), split.port
    except ValueError:
        return None


def auth_for(super_url: str, sub_url: str, auth: GitAuth | None) -> GitAuth | None:
    """The credentials to send to a submodule remote.

    Passwords and tokens go only where the superproject's went (same scheme, host and port): a
    ``.gitmodules`` written by anyone with push access must not be able to send them elsewhere. SSH keys are
    offered to any SSH remote - the host key must still match ``known_hosts``, and key auth reveals no
    secret. Trust settings (``ca_file``, ``known_hosts``) always apply.
    """
    if auth is None or is_ssh_url(sub_url):
        return auth
    here = _origin(super_url)
    if here is not None and here == _origin(sub_url):
        return auth
    return GitAuth(ca_file=auth.ca_file, known_hosts=auth.known_hosts)


class SubmoduleFetcher:
    """Resolves gitlinks to trees for the snapshot walk, fetching pinned commits into per-URL caches.

    One instance per :class:`GitSource`; called from its worker thread while the source's lock is held.
    """

    def __init__(
        self,
        *,
        url: str,
        cache_root: Path,
        auth: GitAuth | None,
        shallow: bool,
        progress: ProgressCallback | None,
        max_depth: int = MAX_SUBMODULE_DEPTH,
    ) -> None:
        self.url = url
        self.cache_root = cache_root
        self.auth = auth
        self.shallow = shallow
        self.progress = progress
        self.max_depth = max_depth
        self._repos: dict[str, pygit2.Repository] = {}
        self._modules: dict[tuple[str, str], dict[str, GitModule]] = {}
        # Redacted URLs of the latest submodule fetches that went to the network (for tests and logs).
        self.fetched: deque[str] = deque(maxlen=64)

    def begin(self) -> None:
        """Start a new snapshot: forget the ``.gitmodules`` read for earlier commits (bounded memory)."""
        self._modules.clear()

    def drop_cache(self) -> None:
        """Forget every submodule cache repository (after corrupt data was seen)."""
        self._repos.clear()
        self._modules.clear()
        shutil.rmtree(self.cache_root, ignore_errors=True)

    def __call__(self, parent: RepoView, path: str, commit: str) -> tuple[RepoView, pygit2.Tree] | None:
        where = parent.prefix + path
        if parent.depth >= self.max_depth:
            raise SubmoduleError(self.url, where, f"submodules nest deeper than {self.max_depth} levels")
        module = self._module(parent, path)
        if module.update == "none":
            return None  # as `git submodule update`: the submodule is left out
        if not module.url:
            raise SubmoduleError(self.url, where, f"submodule {module.name!r} has no url in .gitmodules")
        try:
            sub_url = resolve_submodule_url(parent.url, module.url)
        except ValueError as exc:
            raise SubmoduleError(self.url, where, str(exc)) from None
        self._check_protocol(where, sub_url)
        repo = self._open(sub_url)
        if not _has(repo, commit):
            self._fetch(repo, sub_url, commit, where)
        with map_errors(sub_url, "read submodule"):
            obj = repo.get(commit)
            target = obj.peel(pygit2.Commit) if obj is not None else None
        if target is None or str(target.id) != commit:
            raise RefNotFoundError(sub_url, f"commit {commit} pinned by submodule {where!r}")
        return RepoView(repo, sub_url, commit, where + "/", parent.depth + 1), target.tree

    def _module(self, parent: RepoView, path: str) -> GitModule:
        key = (parent.url, parent.commit)
        modules = self._modules.get(key)
        where_file = parent.prefix + ".gitmodules"
        if modules is None:
            with map_errors(parent.url, "read .gitmodules"):
                tree = parent.repo[parent.commit].peel(pygit2.Commit).tree
                entry = tree[".gitmodules"] if ".gitmodules" in tree else None  # noqa: SIM401
                text = ""
                if entry is not None and entry.filemode in (0o100644, 0o100755):
                    blob = parent.repo[entry.id].peel(pygit2.Blob)
                    text = blob.data.decode("utf-8", errors="replace")
            modules = parse_gitmodules(text)
            for module in modules.values():
                problem = check_module(module)
                if problem is not None:
                    raise UnsafeContentError(self.url, where_file, problem)
            self._modules[key] = modules
        for module in modules.values():
            if module.path is not None and module.path.rstrip("/") == path:
                return module
        raise SubmoduleError(
            self.url, parent.prefix + path, f"the gitlink has no entry with that path in {where_file}"
        )

    def _check_protocol(self, where: str, sub_url: str) -> None:
        shown = _shown(sub_url)
        if "::" in sub_url.split("://", 1)[0]:
            raise SubmoduleError(self.url, where, f"transport helper URL {shown} is not allowed")
        if is_local_url(sub_url):
            if not is_local_url(self.url):
                # git's protocol.file.allow=user: a remote repository must not make us read local ones.
                raise SubmoduleError(
                    self.url, where, f"local URL {shown} is only allowed in a local superproject"
                )
            return
        if "://" in sub_url and sub_url.split("://", 1)[0].lower() not in _REMOTE_SCHEMES:
            raise SubmoduleError(self.url, where, f"URL scheme of {shown} is not supported")

    def _open(self, sub_url: str) -> pygit2.Repository:
        repo = self._repos.get(sub_url)
        if repo is None:
            git_dir = self.cache_root / (hashlib.sha256(sub_url.encode()).hexdigest()[:24] + ".git")
            with map_errors(sub_url, "open submodule cache"):
                if (git_dir / "HEAD").exists():
                    repo = pygit2.Repository(str(git_dir))
                else:
                    git_dir.parent.mkdir(parents=True, exist_ok=True)
                    repo = pygit2.init_repository(str(git_dir), bare=True)
            self._repos[sub_url] = repo
        return repo

    def _fetch(self, repo: pygit2.Repository, sub_url: str, commit: str, where: str) -> None:
        auth = auth_for(self.url, sub_url, self.auth)
        local = is_local_url(sub_url)
        depth = 1 if self.shallow and not local else 0
        self.fetched.append(redact_url(sub_url))

        def fetch(refspecs: list[str], depth: int) -> None:
            remote = repo.remotes.create_anonymous(sub_url)
            cb = callbacks_for(sub_url, auth, self.progress)
            with map_errors(sub_url, "fetch submodule"), ssh_session(sub_url, auth):
                remote.fetch(refspecs, callbacks=cb, depth=depth)

        # 1. Usually the pinned commit is a branch or tag tip: fetch just that ref, shallow.
        remote = repo.remotes.create_anonymous(sub_url)
        with map_errors(sub_url, "ls-remote submodule"), ssh_session(sub_url, auth):
            heads = remote.list_heads(callbacks=callbacks_for(sub_url, auth))
        peeled = {h.name.removesuffix("^{}"): str(h.oid) for h in heads if h.name and h.name.endswith("^{}")}
        tips = [
            h.name
            for h in heads
            if h.name and h.name.startswith("refs/") and not h.name.endswith("^{}")
            and peeled.get(h.name, str(h.oid)) == commit
        ]  # fmt: skip
        if tips:
            spec = f"+{tips[0]}:refs/rk/{tips[0].removeprefix('refs/')}"
            try:
                fetch([spec], depth)
            except GitOperationError as exc:
                if depth == 0 or "shallow" not in exc.reason.lower():
                    raise
                fetch([spec], 0)  # the transport cannot serve shallow packs
            if _has(repo, commit):
                return
        # 2. By id: servers with uploadpack.allowReachableSHA1InWant (GitHub, GitLab) and local paths.
        # libgit2 refuses ("cannot fetch a specific object") when the server does not offer fetching
        # unadvertised objects, and some servers reject the want ("not our ref"): the full fetch decides.
        with contextlib.suppress(GitOperationError):
            fetch([f"+{commit}:refs/rk/pinned/{commit}"], depth)
        if _has(repo, commit):
            return
        # 3. As `git submodule update` does: every branch and tag, in full (unshallowed: the pinned commit may
        #    be an ancestor of a commit held shallow).
        fetch(
            ["+refs/heads/*:refs/rk/heads/*", "+refs/tags/*:refs/rk/tags/*"],
            _UNSHALLOW if repo.is_shallow else 0,
        )
        if not _has(repo, commit):
            raise RefNotFoundError(sub_url, f"commit {commit} pinned by submodule {where!r}")


def _has(repo: pygit2.Repository, oid: str) -> bool:
    try:
        return oid in repo.odb
    except (ValueError, pygit2.GitError):
        return False


def _shown(url: str) -> str:
    return redact_url(url)
