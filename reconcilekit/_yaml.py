"""Bounded YAML parsing of manifests (many documents per file), shared by the loaders.

PyYAML's C loader is used when present (an order of magnitude faster than pure Python). Two attacks are
bounded before any object is built: oversized input (``MAX_BYTES``) and alias bombs ("billion laughs"),
whose few hundred bytes expand to gigabytes when a consumer walks the tree. For the latter the parser's
event stream is walked and every alias counted at the size of the node it repeats; a file whose expanded
size exceeds ``ALIAS_EXPANSION`` times its literal size (plus ``ALIAS_ALLOWANCE`` nodes) is refused.
Manifests almost never use anchors, so the walk only happens when the text contains ``&``.
"""

from __future__ import annotations

from typing import Any

import yaml

from ._errors import ValidationError

__all__ = ["ALIAS_ALLOWANCE", "ALIAS_EXPANSION", "MAX_BYTES", "YAMLError", "load_documents"]

#: Largest YAML text accepted in one file (bytes).
MAX_BYTES = 64 * 1024 * 1024
#: Aliases may make a file's expanded tree at most this many times larger than its literal tree...
ALIAS_EXPANSION = 10
#: ... plus this many nodes, so small files may use anchors freely.
ALIAS_ALLOWANCE = 100_000

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YAMLError(ValidationError):
    """A YAML file could not be parsed, or exceeded a limit; names the file and position."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def load_documents(text: str | bytes, source: str) -> list[Any]:
    """Parse every document of ``text``; empty documents are dropped. ``source`` names the file in errors."""
    if len(text) > MAX_BYTES:
        raise YAMLError(source, f"file is {len(text)} bytes, over the limit of {MAX_BYTES}")
    has_anchor = (b"&" in text) if isinstance(text, bytes) else ("&" in text)
    try:
        if has_anchor:
            _check_alias_expansion(text, source)
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        raise YAMLError(source, f"invalid YAML: {exc}") from None


def _check_alias_expansion(text: str | bytes, source: str) -> None:
    literal = 0  # nodes written in the file
    expanded = 0  # nodes a consumer walking the tree would visit, finished top-level nodes only
    anchored: dict[str, int] = {}  # anchor -> expanded size of the node it names
    open_sizes: list[int] = []  # expanded size so far of each open collection
    open_anchors: list[str | None] = []
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            literal += 1
            open_sizes.append(1)
            open_anchors.append(event.anchor)
            continue
        if isinstance(event, yaml.ScalarEvent):
            literal += 1
            size = 1
            if event.anchor:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            size = anchored.get(event.anchor or "", 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            size = open_sizes.pop()
            anchor = open_anchors.pop()
            if anchor:
                anchored[anchor] = size
        else:
            continue
        if open_sizes:
            open_sizes[-1] += size
        else:
            expanded += size
        outermost = open_sizes[0] if open_sizes else 0
        if expanded + outermost > ALIAS_EXPANSION * literal + ALIAS_ALLOWANCE:
            raise YAMLError(source, "YAML aliases expand the document beyond the allowed size (alias bomb?)")
