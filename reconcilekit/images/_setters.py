"""Setters: write chosen image references into YAML files at fields marked ``# {"$imagepolicy": "ns:name"}``.

This is the last step of image automation before the commit: policies picked a tag per ``namespace:name``,
and :func:`apply_setters` rewrites every marked field under a directory. Flux's image-automation-controller
re-serialises the YAML it touches; here only the bytes of the changed scalar are replaced, so a commit diff
shows exactly the image change and nothing else.

How a marker is found: a file is read only if it contains ``$imagepolicy``; it is composed with PyYAML's
libyaml parser, which gives every scalar's exact start and end offset; a comment is a ``#`` outside every
scalar and preceded by white space; a marker is a comment holding a JSON object with a ``"$imagepolicy"`` key,
and it marks the scalar value that ends on its line just before it (only white space, ``,``, ``]`` or ``}``
between). The new text keeps the scalar's quoting style; a plain scalar is quoted only when the new value
would otherwise read as something else (``1.10`` would be a float). Every changed file is parsed again and
the marked fields checked before anything is written; all files are checked before the first is written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml

from .._errors import ConfigurationError
from .._model import ObjectRef
from ._errors import (
    InvalidImageReferenceError,
    InvalidYAMLError,
    MalformedMarkerError,
    SetterError,
    UnknownPolicyError,
)

__all__ = ["Change", "ImageReference", "SetterKind", "apply_setters", "parse_image_reference"]

SetterKind = Literal["image", "tag", "name", "digest"]

MARKER_KEY = "$imagepolicy"
_TOKEN = MARKER_KEY.encode()
_YAML_SUFFIXES = (".yaml", ".yml")
_BOM = "\ufeff"
_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED: dict[tuple[str, bool, bool], str] = {}


class _Loader(_BaseLoader):  # type: ignore[misc] # PyYAML's loaders are untyped
    """libyaml's composer with the implicit-tag resolution of scalars memoised.

    Profiling the setters over 2,000 manifests showed PyYAML's Python resolver (a regex per scalar) as the
    largest cost after parsing itself; the same keys and values repeat across manifests, and the safe
    loader has no path-dependent resolvers, so the tag depends on the text alone.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers or len(value) > 200:
            return super().resolve(kind, value, implicit)
        key = (value, implicit[0], implicit[1])
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED) < 50_000:  # bounded (and short values only): a memo, not a leak
                _RESOLVED[key] = tag
        return tag


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# Characters that may sit between a marked scalar and its comment: white space and the ends of flow
# collections (``image: {name: a, tag: v1} # marker`` marks ``v1``).
_BETWEEN = re.compile(r"[ \t,\]}]*")
# A plain scalar must not start with an indicator, contain ": " or " #", or carry edge white space.
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Lines as libyaml counts them (so its marks and our line numbers agree): str.splitlines would also break
# at form feeds and other separators that are ordinary characters to YAML.
_LINE_BREAK = re.compile(r"(?<=\r\n)|(?<=[\n\x85\u2028\u2029])|(?<=\r)(?!\n)")


@attrs.frozen
class ImageReference:
    """An image reference split as the setters need it: ``name[:tag][@digest]``.

    ``name`` is everything before the tag and digest (registry host and port included).
    """

    reference: str
    name: str
    tag: str | None
    digest: str | None


def parse_image_reference(reference: str) -> ImageReference:
    """Split ``reference`` into name, tag and digest.

    >>> parse_image_reference("127.0.0.1:5000/app:v1.2@sha256:abc").tag
    'v1.2'

    Raises :class:`~reconcilekit.images.InvalidImageReferenceError` when there is no name, or white space.
    """
    if not reference or any(c.isspace() for c in reference):
        raise InvalidImageReferenceError(reference, "empty or contains white space")
    rest, at, digest = reference.partition("@")
    if at and not digest:
        raise InvalidImageReferenceError(reference, "empty digest after '@'")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    # A colon before the last slash belongs to the registry's port (localhost:5000/app), not to a tag.
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if not tag:
            raise InvalidImageReferenceError(reference, "empty tag after ':'")
    else:
        name, tag = rest, None
    if not name:
        raise InvalidImageReferenceError(reference, "no image name")
    return ImageReference(reference, name, tag, digest or None)


@attrs.frozen
class Change:
    """One field the setters changed.

    Attributes:
        file: the file, relative to the root given to :func:`apply_setters`, with ``/`` separators.
        line: 1-based line of the field in the original file.
        object: the Kubernetes object holding the field (``None`` when the document is not one).
        field: the field path inside the document, e.g. ``spec.template.spec.containers[0].image``.
        policy: the ``namespace:name`` the marker names.
        setter: what was written: the full ``image`` reference, its ``tag``, ``name`` or ``digest``.
        old: the value before.
        new: the value written.
    """

    file: str
    line: int
    object: ObjectRef | None
    field: str
    policy: str
    setter: SetterKind
    old: str
    new: str


@attrs.frozen
class _Edit:
    start: int
    end: int
    text: str
    change: Change
    path: tuple[str | int, ...]
    doc: int
    tag: str  # the tag the edited scalar must resolve to: str, or the explicit tag it carries


def _format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _object_ref(doc: yaml.Node) -> ObjectRef | None:
    if not isinstance(doc, yaml.MappingNode):
        return None
    top = {k.value: v for k, v in doc.value if isinstance(k, yaml.ScalarNode)}
    api, kind, meta = top.get("apiVersion"), top.get("kind"), top.get("metadata")
    if not isinstance(api, yaml.ScalarNode) or not isinstance(kind, yaml.ScalarNode):
        return None
    if not isinstance(meta, yaml.MappingNode):
        return None
    md = {k.value: v for k, v in meta.value if isinstance(k, yaml.ScalarNode)}
    name, ns = md.get("name"), md.get("namespace")
    if not isinstance(name, yaml.ScalarNode) or not name.value:
        return None
    namespace = ns.value if isinstance(ns, yaml.ScalarNode) and ns.value else None
    group = api.value.rpartition("/")[0]
    return ObjectRef(group, kind.value, namespace, name.value)


def _plain_ok(value: str, flow: bool) -> bool:
    if not value or value != value.strip() or value[0] in _PLAIN_BAD_START:
        return False
    if ": " in value or " #" in value or value.endswith(":") or "\n" in value or "\t" in value:
        return False
    if flow and any(c in value for c in ",[]{}"):
        return False
    # PyYAML's resolver is untyped; it returns the tag a plain scalar with this text would get.
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


def _render(value: str, style: str | None, flow: bool) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style in (None, "") and _plain_ok(value, flow):
        return value
    # JSON string syntax is valid YAML double-quoted syntax.
    return json.dumps(value, ensure_ascii=False)


class _Scanner:
    """Finds the markers of one file and the edits they ask for."""

    def __init__(self, rel: str, text: str, images: Mapping[str, str], skip_unknown: bool) -> None:
        self.rel = rel
        self.text = text
        self.images = images
        self.skip_unknown = skip_unknown
        self.base = 1 if text.startswith(_BOM) else 0
        self.body = text[self.base :]

    def _fail_yaml(self, exc: yaml.YAMLError) -> InvalidYAMLError:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return InvalidYAMLError(self.rel, line, f"invalid YAML: {problem}")

    def compose(self) -> list[yaml.Node]:
        try:
            return [d for d in yaml.compose_all(self.body, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            raise self._fail_yaml(exc) from None

    def edits(self) -> list[_Edit]:
        body = self.body
        lines = _LINE_BREAK.split(body)
        marker_lines = {i for i, line in enumerate(lines) if MARKER_KEY in line}
        if not marker_lines:
            return []
        docs = self.compose()
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        # Scalars relevant to marker lines: spans covering them (a '#' inside is content) and values ending on
        # them (the candidates a marker may set).
        spans: dict[int, list[tuple[int, int]]] = {}
        enders: dict[int, list[tuple[yaml.ScalarNode, tuple[str | int, ...], int, bool]]] = {}
        block_headers: set[int] = set()
        for d, doc in enumerate(docs):
            for node, path, is_value, flow in _walk(doc):
                s, e = node.start_mark, node.end_mark
                start = s.index
                if node.style in ("|", ">"):
                    # The header line (``key: | # comment``) holds no content; the content starts below it.
                    block_headers.add(s.line)
                    start = starts[s.line + 1] if s.line + 1 < len(starts) else e.index
                for ln in marker_lines:
                    if s.line <= ln <= e.line:
                        spans.setdefault(ln, []).append((start, e.index))
                # An empty value (``image:``) has no text to replace; such a marker marks no scalar.
                if is_value and e.line in marker_lines and e.index > s.index:
                    enders.setdefault(e.line, []).append((node, path, d, flow))
        refs = [_object_ref(doc) for doc in docs]
        out: list[_Edit] = []
        for ln in sorted(marker_lines):
            comment = self._comment(lines[ln], starts[ln], spans.get(ln, []))
            if comment is None:
                continue
            hash_at, text = comment
            if not lines[ln][: hash_at - starts[ln]].strip():
                continue  # a comment on a line of its own belongs to no field (a commented-out line, notes)
            policy, setter = self._parse_marker(ln, text)
            if policy is None:
                continue
            target = None
            for node, path, d, flow in enders.get(ln, []):
                end = node.end_mark.index
                if (
                    end <= hash_at
                    and _BETWEEN.fullmatch(body, end, hash_at)
                    and (target is None or end > target[0].end_mark.index)
                ):
                    target = (node, path, d, flow)
            if target is None:
                if ln in block_headers:
                    reason = "a block scalar (| or >) cannot be set by a marker"
                    raise MalformedMarkerError(self.rel, ln + 1, reason)
                raise MalformedMarkerError(self.rel, ln + 1, "the marker does not follow a scalar value")
            edit = self._edit(ln, policy, setter, target, refs)
            if edit is not None:
                out.append(edit)
        return out

    def _comment(self, line: str, line_start: int, spans: list[tuple[int, int]]) -> tuple[int, str] | None:
        pos = -1
        while True:
            pos = line.find("#", pos + 1)
            if pos < 0:
                return None
            if pos > 0 and line[pos - 1] not in " \t":
                continue
            at = line_start + pos
            if any(s <= at < e for s, e in spans):
                continue
            return at, line[pos + 1 :].strip()

    def _parse_marker(self, ln: int, text: str) -> tuple[str | None, SetterKind]:
        if not text.startswith("{") or MARKER_KEY not in text:
            return None, "image"  # an ordinary comment that merely mentions the word
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MalformedMarkerError(self.rel, ln + 1, f"marker is not valid JSON: {exc}") from None
        value = data.get(MARKER_KEY) if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise MalformedMarkerError(self.rel, ln + 1, f'marker needs a string "{MARKER_KEY}" value')
        parts = value.split(":")
        setter = parts[2] if len(parts) == 3 else "image"
        if len(parts) not in (2, 3) or not all(parts) or setter not in ("image", "tag", "name", "digest"):
            raise MalformedMarkerError(
                self.rel,
                ln + 1,
                f"marker {value!r} is not 'namespace:name', optionally with ':tag', ':name' or ':digest'",
            )
        return f"{parts[0]}:{parts[1]}", setter  # type: ignore[return-value]

    def _edit(
        self,
        ln: int,
        policy: str,
        setter: SetterKind,
        target: tuple[yaml.ScalarNode, tuple[str | int, ...], int, bool],
        refs: list[ObjectRef | None],
    ) -> _Edit | None:
        node, path, d, flow = target
        reference = self.images.get(policy)
        if reference is None:
            if self.skip_unknown:
                return None
            raise UnknownPolicyError(self.rel, ln + 1, policy)
        try:
            ref = parse_image_reference(reference)
        except InvalidImageReferenceError as exc:
            raise SetterError(self.rel, ln + 1, str(exc)) from None
        new = {"image": ref.reference, "tag": ref.tag, "name": ref.name, "digest": ref.digest}[setter]
        if new is None:
            raise SetterError(self.rel, ln + 1, f"image reference {reference!r} for {policy} has no {setter}")
        # Node properties (``&anchor``, ``!tag``) come before the scalar's text and stay as they are.
        start = node.start_mark.index
        explicit_tag = False
        while self.body[start] in "&!":
            explicit_tag = explicit_tag or self.body[start] == "!"
            while start < len(self.body) and not self.body[start].isspace():
                start += 1
            while start < len(self.body) and self.body[start].isspace():
                start += 1
        tag = node.tag if explicit_tag else _STR_TAG
        if node.value == new and node.tag == tag:
            return None
        change = Change(
            file=self.rel,
            line=node.start_mark.line + 1,
            object=refs[d],
            field=_format_path(path),
            policy=policy,
            setter=setter,
            old=node.value,
            new=new,
        )
        text = _render(new, node.style, flow)
        return _Edit(self.base + start, self.base + node.end_mark.index, text, change, path, d, tag)

    def verify(self, new_text: str, edits: list[_Edit]) -> None:
        """Parse the edited text and check every edited field now holds its new string, at the same path."""
        checker = _Scanner(self.rel, new_text, self.images, self.skip_unknown)
        try:
            docs = checker.compose()
        except InvalidYAMLError:
            raise SetterError(self.rel, None, "the new values would make the file invalid YAML") from None
        for edit in edits:
            node = _find(docs[edit.doc], edit.path) if edit.doc < len(docs) else None
            if not isinstance(node, yaml.ScalarNode) or node.value != edit.change.new or node.tag != edit.tag:
                reason = f"cannot write {edit.change.new!r} at {edit.change.field} safely"
                raise SetterError(self.rel, edit.change.line, reason)


def _walk(
    node: yaml.Node,
) -> Iterator[tuple[yaml.ScalarNode, tuple[str | int, ...], bool, bool]]:
    """Every scalar under ``node``, in document order: (node, path, is a value, is in a flow collection).

    A node reached again through an alias is skipped: it is reported once, where its anchor defines it.
    """
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str | int, ...], bool, bool]] = [(node, (), True, False)]
    while stack:
        cur, path, is_value, flow = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, yaml.ScalarNode):
            yield cur, path, is_value, flow
            continue
        inner = flow or bool(getattr(cur, "flow_style", False))
        children: list[tuple[yaml.Node, tuple[str | int, ...], bool, bool]] = []
        if isinstance(cur, yaml.MappingNode):
            for k, v in cur.value:
                sub = (*path, k.value if isinstance(k, yaml.ScalarNode) else "?")
                children.append((k, sub, False, inner))
                children.append((v, sub, True, inner))
        elif isinstance(cur, yaml.SequenceNode):
            children = [(item, (*path, i), True, inner) for i, item in enumerate(cur.value)]
        stack.extend(reversed(children))


def _find(node: yaml.Node, path: tuple[str | int, ...]) -> yaml.Node | None:
    cur: yaml.Node | None = node
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, yaml.SequenceNode) or part >= len(cur.value):
                return None
            cur = cur.value[part]
        else:
            if not isinstance(cur, yaml.MappingNode):
                return None
            cur = next((v for k, v in cur.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
    return cur


def _yaml_files(root: Path) -> Iterator[Path]:
    # Symbolic links are not followed: a link inside the tree points at a file the walk reaches anyway, or
    # outside the root, which must never be written.
    stack = [root]
    while stack:
        current = stack.pop()
        with os.scandir(current) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name != ".git":
                    stack.append(Path(entry.path))
            elif entry.name.endswith(_YAML_SUFFIXES) and entry.is_file():
                yield Path(entry.path)


def _write_atomic(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_setters(
    root: str | os.PathLike[str],
    images: Mapping[str, str],
    *,
    unknown_policy: Literal["error", "skip"] = "error",
    dry_run: bool = False,
) -> list[Change]:
    """Write image references into every marked YAML field under ``root``; return what changed.

    Args:
        root: directory to scan: every ``*.yaml`` and ``*.yml`` below it (``.git`` and symlinks skipped).
        images: policy reference ``"namespace:name"`` → full image reference (``registry/app:1.2.3``,
            optionally ``@sha256:…``). A marker ``# {"$imagepolicy": "ns:name"}`` gets the full reference,
            ``"ns:name:tag"`` the tag, ``"ns:name:name"`` the name, ``"ns:name:digest"`` the digest.
        unknown_policy: ``"error"`` (default) raises :class:`~reconcilekit.images.UnknownPolicyError` for a
            marker naming a policy not in ``images``; ``"skip"`` leaves such fields alone, as Flux does.
        dry_run: compute and return the changes without writing.

    Only the bytes of each changed scalar change; files without a change are not written. Nothing is written
    when any file fails (:class:`~reconcilekit.images.SetterError` subclasses name the file and line).

    Example::

        changes = apply_setters("clusters/prod", {"flux-system:app": "ghcr.io/org/app:1.4.0"})
        for c in changes:
            print(f"{c.file}: {c.field} {c.old} -> {c.new}")
    """
    base = Path(root)
    if not base.is_dir():
        raise ConfigurationError(f"setters root {str(base)!r} is not a directory")
    if unknown_policy not in ("error", "skip"):
        raise ConfigurationError(f"unknown_policy must be 'error' or 'skip', got {unknown_policy!r}")
    pending: list[tuple[Path, bytes]] = []
    changes: list[Change] = []
    for path in _yaml_files(base):
        data = path.read_bytes()
        if _TOKEN not in data:
            continue
        rel = path.relative_to(base).as_posix()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidYAMLError(rel, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        scanner = _Scanner(rel, text, images, unknown_policy == "skip")
        edits = scanner.edits()
        if not edits:
            continue
        new_text = text
        for edit in sorted(edits, key=lambda e: e.start, reverse=True):
            new_text = new_text[: edit.start] + edit.text + new_text[edit.end :]
        scanner.verify(new_text, edits)
        changes.extend(e.change for e in sorted(edits, key=lambda e: e.start))
        pending.append((path, new_text.encode("utf-8")))
    if not dry_run:
        for path, new_data in pending:
            _write_atomic(path, new_data)
    return changes
