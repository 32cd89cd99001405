"""Bounded YAML reading of manifests, the way Flux and kustomize (kyaml, go-yaml v3) read them.

YAML 1.2 core scalars: ``yes``/``on`` stay strings, ``0x1F`` and ``012`` are Go integer literals, merge keys
work, unquoted dates become RFC 3339 strings. PyYAML's C parser does the tokenising (an order of magnitude
faster than the pure-Python one); only scalar resolution is ours.

Limits, checked before a consumer can exhaust memory or the stack: a file larger than :data:`MAX_FILE_BYTES`,
a document whose alias-expanded size exceeds :data:`MAX_EXPANDED_NODES` (the "billion laughs" bomb), or
nesting deeper than :data:`MAX_DEPTH` raises :class:`YAMLLimitError`.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

import yaml

from ._errors import ValidationError

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "YAMLError",
    "YAMLLimitError",
    "go_parse_int",
    "load_documents",
]

#: Largest file the loader reads, in bytes.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest number of nodes one document may expand to once aliases are followed.
MAX_EXPANDED_NODES = 2_000_000
#: Deepest nesting of mappings and sequences accepted in a document.
MAX_DEPTH = 500


class YAMLError(ValidationError):
    """A YAML file could not be parsed; names the file (and the position, when the parser gives one)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class YAMLLimitError(YAMLError):
    """A YAML file exceeds a limit (size, alias expansion, nesting depth)."""


_INT_RE = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$")
_FLOAT_RE = re.compile(
    r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
# An empty block value is null (kustomize prints `key:` back as `key: null`). go-yaml reads an empty value
# inside a flow mapping (`{k: }`) as "" instead; PyYAML's events cannot tell the two apart, so that rare
# form comes out as null here.
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# What kyaml actually turns into a time on reading (a lower-case "t" stays a string there).
_TS_RE = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?$"
)


class _Resolver12(yaml.resolver.BaseResolver):
    """Implicit tags as go-yaml v3 resolves plain scalars."""


_Resolver12.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_RE, list("tTfF"))
_Resolver12.add_implicit_resolver("tag:yaml.org,2002:int", _INT_RE, list("-+0123456789"))
_Resolver12.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))
_Resolver12.add_implicit_resolver("tag:yaml.org,2002:null", _NULL_RE, ["~", "n", "N", ""])
_Resolver12.add_implicit_resolver("tag:yaml.org,2002:timestamp", _TS_RE, list("0123456789"))
_Resolver12.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def go_parse_int(text: str) -> int | float:
    """An integer literal as Go's ``strconv.ParseInt(s, 0, 64)`` reads it (a leading ``0`` is octal)."""
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    low = body.lower()
    try:
        if low.startswith("0x"):
            value = int(body[2:], 16)
        elif low.startswith("0o"):
            value = int(body[2:], 8)
        elif low.startswith("0b"):
            value = int(body[2:], 2)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:], 8)
        else:
            value = int(body)
    except ValueError:
        # go-yaml falls back to a float parse ("09" is 9.0) and then to a string; a float is what Go keeps.
        return float(body) * sign
    value *= sign
    # go-yaml falls back to ParseUint, so values up to 2**64-1 stay integers.
    if not -(2**63) <= value < 2**64:
        return float(value)
    return value


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_go_int(self, node: yaml.Node) -> Any:
        return go_parse_int(str(self.construct_scalar(node)))  # type: ignore[arg-type]

    def construct_go_timestamp(self, node: yaml.Node) -> Any:
        value = str(self.construct_scalar(node))  # type: ignore[arg-type]
        return _go_timestamp(value)

    def construct_go_float(self, node: yaml.Node) -> Any:
        value = str(self.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
        low = value.lower()
        if low.endswith(".inf"):
            return -math.inf if value.startswith("-") else math.inf
        if low == ".nan":
            return math.nan
        return float(value)


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_go_int)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_go_float)  # type: ignore[type-var]
_Constructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", _Constructor.construct_go_timestamp
)


def _go_timestamp(value: str) -> str:
    # kyaml decodes an unquoted timestamp to time.Time and JSON prints it as RFC 3339 (UTC keeps "Z").
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", value)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        return f"{y:04d}-{mo:02d}-{d:02d}T00:00:00Z"
    try:
        norm = re.sub(r"[ \t]+", "T", value.strip(), count=1).replace("t", "T")
        norm = re.sub(r"[ \t]+", "", norm)
        if norm.endswith("Z"):
            norm = norm[:-1] + "+00:00"
        parsed = _dt.datetime.fromisoformat(norm)
    except ValueError:
        return value
    if parsed.tzinfo is None or parsed.utcoffset() == _dt.timedelta(0):
        base = parsed.replace(tzinfo=None).isoformat()
        suffix = "Z"
    else:
        base = parsed.replace(tzinfo=None).isoformat()
        off = parsed.utcoffset() or _dt.timedelta(0)
        total = int(off.total_seconds() // 60)
        sign = "+" if total >= 0 else "-"
        suffix = f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    if "." in base:
        base = base.rstrip("0").rstrip(".")
    return base + suffix


def _parser_class() -> Any:
    try:
        import yaml.cyaml
    except ImportError:  # pragma: no cover - PyYAML built without libyaml: slower, same results
        pass
    else:
        return yaml.cyaml.CParser  # type: ignore[attr-defined]
    from yaml.composer import Composer  # pragma: no cover
    from yaml.parser import Parser  # pragma: no cover
    from yaml.reader import Reader  # pragma: no cover
    from yaml.scanner import Scanner  # pragma: no cover

    class _PyParser(Reader, Scanner, Parser, Composer):  # pragma: no cover
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

    return _PyParser  # pragma: no cover


# libyaml's C parser does the tokenising (the Python one is ten times slower on large trees).
_CParser: Any = _parser_class()


class _Loader(_CParser, _Constructor, _Resolver12):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)
        _Constructor.__init__(self)
        _Resolver12.__init__(self)


def _check_shape(doc: Any, source: str) -> Any:
    """Reject alias bombs and absurd nesting; give aliased subtrees their own copies."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise YAMLLimitError(source, f"nesting deeper than {MAX_DEPTH} levels")
        key = id(node)
        if key in sizes:
            return sizes[key]
        total = 1
        if isinstance(node, dict):
            for v in node.values():
                total += size(v, depth + 1)
        elif isinstance(node, list):
            for v in node:
                total += size(v, depth + 1)
        if total > MAX_EXPANDED_NODES:
            raise YAMLLimitError(
                source, f"document expands to more than {MAX_EXPANDED_NODES} nodes (YAML aliases)"
            )
        if isinstance(node, dict | list):
            sizes[key] = total
        return total

    size(doc, 0)
    return _unshare(doc)


def _unshare(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _unshare(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unshare(v) for v in node]
    return node


_DEEP_FLOW = re.compile(r"[\[{]{200}")


def load_documents(text: str | bytes, source: str, *, keep_empty: bool = False) -> list[Any]:
    """Parse every document of a YAML stream as kyaml/go-yaml v3 would.

    Empty documents are dropped unless ``keep_empty``. Raises :class:`YAMLError` (or its subclass
    :class:`YAMLLimitError`) naming ``source``.
    """
    if len(text) > MAX_FILE_BYTES:
        raise YAMLLimitError(source, f"file larger than {MAX_FILE_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YAMLError(source, f"not UTF-8: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _DEEP_FLOW.search(text):
        # The C composer recurses per level; refuse before it can exhaust the stack.
        raise YAMLLimitError(source, "flow collections nested too deeply")
    loader = _Loader(text)
    docs: list[Any] = []
    # Only documents that could share subtrees (anchors) or nest deeply need the shape check.
    check = "&" in text or "*" in text or _max_depth_possible(text)
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            doc = loader.get_data()
            if check:
                doc = _check_shape(doc, source)
            if doc is not None or keep_empty:
                docs.append(doc)
    except yaml.YAMLError as exc:
        raise YAMLError(source, str(exc)) from None
    except RecursionError:
        raise YAMLLimitError(source, "document nested too deeply") from None
    finally:
        loader.dispose()
    return docs


def _max_depth_possible(text: str) -> bool:
    # Block nesting deeper than MAX_DEPTH needs lines indented by at least that many columns.
    return len(text) > MAX_DEPTH * 2 and (" " * MAX_DEPTH) in text
