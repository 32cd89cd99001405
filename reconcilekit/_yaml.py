"""Bounded YAML parsing of manifests (many documents per file), shared by the loaders.

PyYAML's C loader is used when present (an order of magnitude faster than pure Python). Two attacks are
bounded before any object is built: oversized input (``MAX_BYTES``) and alias bombs ("billion laughs"),
whose few hundred bytes expand to gigabytes when a consumer walks the tree - documents using more than
``MAX_ALIASES`` aliases are refused. Manifests almost never use anchors, so the alias count is only taken
when the text contains ``&``.
"""

from __future__ import annotations

from typing import Any

import yaml

from ._errors import ValidationError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "YAMLError", "load_documents"]

#: Largest YAML text accepted in one file (bytes).
MAX_BYTES = 64 * 1024 * 1024
#: Most aliases (``*name``) accepted in one file.
MAX_ALIASES = 1000

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
            aliases = sum(1 for e in yaml.parse(text, Loader=_Loader) if isinstance(e, yaml.AliasEvent))
            if aliases > MAX_ALIASES:
                raise YAMLError(
                    source, f"{aliases} YAML aliases, over the limit of {MAX_ALIASES} (alias bomb?)"
                )
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        raise YAMLError(source, f"invalid YAML: {exc}") from None
