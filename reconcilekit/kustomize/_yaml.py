"""YAML in and out, the way kustomize reads and prints it.

Reading follows go-yaml v3 (what kustomize's kyaml parses with): YAML 1.2 core scalars (``yes``/``on`` are
strings, ``0x1F`` and ``012`` are Go integer literals), merge keys, unquoted dates become RFC 3339 strings.
PyYAML's C parser does the tokenising; only scalar resolution is ours.

Writing follows ``sigs.k8s.io/yaml`` + go-yaml v2 (kustomize prints ``JSONToYAML(json.Marshal(obj))``): map
keys in go-yaml v2's "natural" order, block style, indentless sequences, strings quoted only when a YAML 1.1
reader would misread them, plain and quoted scalars folded past column 80, multi-line strings as ``|`` blocks.
The emitter below is a small port of libyaml's scalar writers (go-yaml v2 is itself a libyaml port), so the
text is byte-identical for the documents kustomize handles.

Limits (documented in the package docstring): a file larger than :data:`MAX_FILE_BYTES`, a document whose
alias-expanded size exceeds :data:`MAX_EXPANDED_NODES`, or nesting deeper than :data:`MAX_DEPTH` is rejected
before it can exhaust memory (the "billion laughs" alias bomb).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from yaml.emitter import Emitter as _PyEmitter

from .. import _yaml as _core
from .._yaml import _DEEP_FLOW, MAX_DEPTH, MAX_EXPANDED_NODES, MAX_FILE_BYTES, go_parse_int
from ._errors import LimitExceededError, MalformedYAMLError

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "dump_documents",
    "dump_one",
    "go_format_float",
    "go_parse_int",
    "load_documents",
    "load_kustomization_documents",
]


def load_documents(text: str | bytes, source: str) -> list[Any]:
    """Parse every document of a YAML stream (empty ones kept) with the shared bounded reader.

    Raises :class:`LimitExceededError` or :class:`MalformedYAMLError` naming ``source``.
    """
    try:
        return _core.load_documents(text, source, keep_empty=True)
    except _core.YAMLLimitError as exc:
        raise LimitExceededError(source, exc.reason) from None
    except _core.YAMLError as exc:
        raise MalformedYAMLError(source, exc.reason) from None


def _check_shape(doc: Any, source: str) -> Any:
    try:
        return _core._check_shape(doc, source)
    except _core.YAMLLimitError as exc:
        raise LimitExceededError(source, exc.reason) from None


_SafeLoaderBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _V2Loader(_SafeLoaderBase):  # type: ignore[misc]
    """YAML 1.1 as go-yaml v2 reads it: PyYAML's SafeLoader plus y/Y/n/N booleans and 1e3 floats."""


_V2Loader.yaml_implicit_resolvers = {k: list(v) for k, v in _SafeLoaderBase.yaml_implicit_resolvers.items()}
_V2Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
_V2Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def _v2_bool(loader: Any, node: yaml.Node) -> bool:
    return str(loader.construct_scalar(node)).lower() in ("y", "yes", "true", "on")


_V2Loader.add_constructor("tag:yaml.org,2002:bool", _v2_bool)
_SafeLoader: Any = _V2Loader


def load_kustomization_documents(text: bytes, source: str) -> list[Any]:
    """A kustomization file, read as kustomize reads it: YAML 1.1 (sigs.k8s.io/yaml), so ``yes`` is a
    boolean and ``1.10`` a number - the typed checks then reject them where a string is needed."""
    if len(text) > MAX_FILE_BYTES:
        raise LimitExceededError(source, f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedYAMLError(source, f"not UTF-8: {exc}") from None
    if _DEEP_FLOW.search(decoded):
        raise LimitExceededError(source, "flow collections nested too deeply")
    try:
        docs = list(yaml.load_all(decoded, Loader=_SafeLoader))
    except yaml.YAMLError as exc:
        raise MalformedYAMLError(source, str(exc)) from None
    if "&" in decoded or "*" in decoded:
        docs = [_check_shape(d, source) for d in docs]
    return docs


# ---------------------------------------------------------------------------------------------------------
# Writing: go-yaml v2 output.

# The layouts go-yaml accepts for an unquoted timestamp (time.Parse with 2006-1-2T15:4:5.999999999Z07:00,
# the same with a lower-case t, 2006-1-2 15:4:5.999999999, and 2006-1-2).
_V2_TS = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?$"
)

_BEST_WIDTH = 80

# Strings go-yaml v2 would read back as something else, so it double-quotes them.
_V2_SPECIAL = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "~",
        "null",
        "Null",
        "NULL",
        ".inf",
        ".Inf",
        ".INF",
        "+.inf",
        "+.Inf",
        "+.INF",
        "-.inf",
        "-.Inf",
        "-.INF",
        ".nan",
        ".NaN",
        ".NAN",
        "<<",
    ]
)
_V2_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_V2_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_GO_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")


def _v2_misreads(s: str) -> bool:
    if s == "" or s in _V2_SPECIAL:
        return True
    c = s[0]
    if c in "-+.0123456789":
        plain = s.replace("_", "")
        if _GO_INT.match(plain) and not (plain.startswith(("+", "-")) and plain[1:2] == "_"):
            return True
        if _V2_FLOAT.match(plain) or _V2_BASE60.match(s):
            return True
        if _V2_TS.match(s):
            # go-yaml v2 only resolves the timestamp formats time.Parse accepts.
            return True
    return False


# Strings that are certainly written plain, without folding: no spaces, no indicators, v2-safe.
_FAST_PLAIN = re.compile(r"^[A-Za-z0-9_./$(][A-Za-z0-9_./@=+$()-]*(?::[A-Za-z0-9_./@=+$()-]+)*\Z")

_analyzer = _PyEmitter(None)  # type: ignore[arg-type]
_analyzer.allow_unicode = True


@functools.lru_cache(maxsize=65536)
def _analysis(s: str) -> Any:
    return _analyzer.analyze_scalar(s)


_ESCAPES = {
    "\0": "0",
    "\x07": "a",
    "\x08": "b",
    "\x09": "t",
    "\x0a": "n",
    "\x0b": "v",
    "\x0c": "f",
    "\x0d": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}


def _printable(ch: str) -> bool:
    # go-yaml v2's is_printable: no NEL and nothing beyond the BMP (those are escaped, e.g. \U0001F680).
    return (
        ch == "\n" or "\x20" <= ch <= "\x7e" or "\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
    ) and ch != "\ufeff"


_NOT_GO_PRINTABLE = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")


class _Out:
    """A tiny libyaml-style writer that tracks the column for folding."""

    __slots__ = ("column", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.column = 0

    def write(self, s: str) -> None:
        self.parts.append(s)
        self.column += len(s)

    def newline(self, indent: int) -> None:
        self.parts.append("\n" + " " * indent)
        self.column = indent


def _write_plain(out: _Out, s: str, indent: int, allow_breaks: bool) -> None:
    spaces = False
    n = len(s)
    i = 0
    buf: list[str] = []
    while i < n:
        ch = s[i]
        if ch == " ":
            if (
                allow_breaks
                and not spaces
                and out.column + len(buf) > _BEST_WIDTH
                and (i + 1 >= n or s[i + 1] != " ")
            ):
                out.write("".join(buf))
                buf = []
                out.newline(indent)
            else:
                buf.append(ch)
            spaces = True
        else:
            buf.append(ch)
            spaces = False
        i += 1
    out.write("".join(buf))


def _write_single(out: _Out, s: str, indent: int, allow_breaks: bool) -> None:
    out.write("'")
    spaces = False
    breaks = False
    n = len(s)
    i = 0
    while i < n:
        ch = s[i]
        if ch == " ":
            if (
                allow_breaks
                and not spaces
                and out.column > _BEST_WIDTH
                and i != 0
                and i != n - 1
                and not (i + 1 < n and s[i + 1] == " ")
            ):
                out.newline(indent)
            else:
                out.write(ch)
            spaces = True
        elif ch == "\n":
            # Only reached for strings with leading/trailing line breaks (libyaml's write_single_quoted).
            if not breaks and ch == "\n":
                out.parts.append("\n")
            out.parts.append("\n")
            out.column = 0
            breaks = True
            if i + 1 < n and s[i + 1] != "\n":
                out.newline(indent)
                out.parts[-1] = " " * indent
        else:
            if breaks:
                breaks = False
            if ch == "'":
                out.write("'")
            out.write(ch)
            spaces = False
        i += 1
    out.write("'")


def _write_double(out: _Out, s: str, indent: int, allow_breaks: bool) -> None:
    out.write('"')
    spaces = False
    n = len(s)
    for i, ch in enumerate(s):
        if not _printable(ch) or ch in '"\\' or ch == "\n" or ch in "\x85\u2028\u2029":
            esc = _ESCAPES.get(ch)
            if esc is not None:
                out.write("\\" + esc)
            else:
                code = ord(ch)
                if code <= 0xFF:
                    out.write(f"\\x{code:02X}")
                elif code <= 0xFFFF:
                    out.write(f"\\u{code:04X}")
                else:
                    out.write(f"\\U{code:08X}")
            spaces = False
        elif ch == " ":
            if allow_breaks and not spaces and out.column > _BEST_WIDTH and i != 0 and i != n - 1:
                out.newline(indent)
                if i + 1 < n and s[i + 1] == " ":
                    out.write("\\")
            else:
                out.write(ch)
            spaces = True
        else:
            out.write(ch)
            spaces = False
    out.write('"')


def _write_literal(out: _Out, s: str, indent: int) -> None:
    hints = ""
    if s[:1] in (" ", "\n"):
        hints += "2"
    if not s.endswith("\n"):
        hints += "-"
    elif len(s) == 1 or s[-2] == "\n":
        hints += "+"
    out.write("|" + hints)
    lines = s.split("\n")
    if s.endswith("\n"):
        lines = lines[:-1]
    pad = " " * indent
    for line in lines:
        out.parts.append("\n" + pad + line if line else "\n")
    out.column = 0 if not lines or not lines[-1] else indent + len(lines[-1])


def _scalar(out: _Out, s: str, indent: int, simple_key: bool) -> None:
    """Write a string with go-yaml v2's style choice at the current column."""
    if _FAST_PLAIN.match(s) and not _v2_misreads(s):
        out.write(s)
        return
    misread = _v2_misreads(s)
    if _NOT_GO_PRINTABLE.search(s.replace("\n", "")):
        # Characters go-yaml v2 will not print raw force double quotes with escapes.
        _write_double(out, s, indent, not simple_key)
        return
    if "\n" in s and not simple_key:
        a = _analysis(s)
        if a.allow_block:
            _write_literal(out, s, indent)
            return
        _write_double(out, s, indent, True)
        return
    if misread:
        _write_double(out, s, indent, not simple_key)
        return
    a = _analysis(s)
    if a.allow_block_plain and not (simple_key and a.multiline):
        _write_plain(out, s, indent, not simple_key)
    elif a.allow_single_quoted:
        _write_single(out, s, indent, not simple_key)
    else:
        _write_double(out, s, indent, not simple_key)


def go_format_float(f: float) -> str:
    """A float as JSON-then-go-yaml-v2 prints it (``1000`` for 1e3, ``1.5e+06`` for 1500000.5...)."""
    if math.isnan(f) or math.isinf(f):
        return ".nan" if math.isnan(f) else (".inf" if f > 0 else "-.inf")
    if f.is_integer() and -(2.0**63) <= f < 2.0**64:
        # JSON prints it without a fraction and go-yaml reads that back as an (unsigned) 64-bit integer.
        return str(int(f))
    r = repr(f)
    mant, _, exp_s = r.partition("e")
    exp = int(exp_s) if exp_s else 0
    neg = mant.startswith("-")
    mant = mant.lstrip("-")
    int_part, _, frac = mant.partition(".")
    digits = (int_part + frac).lstrip("0")
    # Decimal exponent of the first significant digit.
    if int_part.strip("0"):
        dexp = len(int_part.lstrip("0")) - 1 + exp
    else:
        dexp = -(len(frac) - len(frac.lstrip("0")) + 1) + exp
    digits = digits.rstrip("0") or "0"
    sign = "-" if neg else ""
    # JSON prints the number, go-yaml v2 reads it back and formats it with %g: exponent form below 1e-4
    # and from 1e6 on (integral values that fit 64 bits came back as integers above).
    if dexp < -4 or dexp >= 6 or f.is_integer():
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'+' if dexp >= 0 else '-'}{abs(dexp):02d}"
    if dexp >= 0:
        if len(digits) <= dexp + 1:
            return sign + digits + "0" * (dexp + 1 - len(digits))
        return sign + digits[: dexp + 1] + "." + digits[dexp + 1 :]
    return sign + "0." + "0" * (-dexp - 1) + digits


def _scalar_text(value: Any) -> str | None:
    """Text for non-string scalars (always plain), or None for strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_format_float(value)
    return None


def _natural_cmp(a: str, b: str) -> int:
    # go-yaml v2 keyList.Less: letters compare by code point, a non-letter sorts before a letter, and runs
    # of digits compare by numeric value.
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        ca, cb = ar[i], br[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return -1 if ca < cb else 1
        if al or bl:
            return -1 if bl else 1
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(ar[ai])
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(br[bi])
            bi += 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if ca < cb else 1
    if len(ar) == len(br):
        return 0
    return -1 if len(ar) < len(br) else 1


_natural_key = functools.cmp_to_key(_natural_cmp)
_SIMPLE_KEY = re.compile(r"^[A-Za-z]*\Z")
_order_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def _sorted_keys(m: Mapping[Any, Any]) -> tuple[Any, ...]:
    keys = tuple(m)
    cached = _order_cache.get(keys)
    if cached is not None:
        return cached
    if all(isinstance(k, str) for k in keys):
        if all(_SIMPLE_KEY.match(k) for k in keys):
            result = tuple(sorted(keys))
        else:
            result = tuple(sorted(keys, key=_natural_key))
    else:
        result = tuple(sorted(keys, key=lambda k: _natural_key(str(k))))
    if len(_order_cache) < 100_000:
        _order_cache[keys] = result
    return result


def _key_text(out: _Out, key: Any, indent: int) -> None:
    text = _scalar_text(key)
    if text is not None:
        out.write(text)
    else:
        _scalar(out, str(key), indent, True)


def _emit_mapping(out: _Out, m: Mapping[Any, Any], indent: int, first_inline: bool) -> None:
    first = True
    for key in _sorted_keys(m):
        if first and first_inline:
            first = False
        else:
            out.newline(indent)
        first = False
        if isinstance(key, str) and (len(key.encode("utf-8")) > 128 or "\n" in key):
            _emit_complex_entry(out, key, m[key], indent)
            continue
        _key_text(out, key, indent)
        out.write(":")
        _emit_value(out, m[key], indent)


def _emit_complex_entry(out: _Out, key: str, value: Any, indent: int) -> None:
    # libyaml writes a key longer than 128 bytes (or spanning lines) as an explicit "? key" / ": value".
    out.write("? ")
    _scalar(out, key, indent + 2, False)
    out.newline(indent)
    out.write(":")
    if isinstance(value, Mapping) and value:
        out.write(" ")
        _emit_mapping(out, value, indent + 2, True)
    elif isinstance(value, list | tuple) and value:
        out.write(" ")
        _emit_sequence(out, list(value), indent + 2, True)
    else:
        out.write(" ")
        _emit_scalar_value(out, value, indent + 2)


def _emit_sequence(out: _Out, seq: list[Any], indent: int, first_inline: bool) -> None:
    first = True
    for item in seq:
        if first and first_inline:
            first = False
        else:
            out.newline(indent)
        first = False
        out.write("- ")
        if isinstance(item, Mapping) and item:
            _emit_mapping(out, item, indent + 2, True)
        elif isinstance(item, list) and item:
            _emit_sequence(out, item, indent + 2, True)
        else:
            _emit_scalar_value(out, item, indent + 2)


def _emit_value(out: _Out, value: Any, indent: int) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.write(" {}")
            return
        out.newline(indent + 2)
        _emit_mapping(out, value, indent + 2, True)
    elif isinstance(value, list | tuple):
        if not value:
            out.write(" []")
            return
        # go-yaml v2 writes a sequence inside a mapping without extra indentation.
        out.newline(indent)
        _emit_sequence(out, list(value), indent, True)
    else:
        out.write(" ")
        _emit_scalar_value(out, value, indent + 2)


def _emit_scalar_value(out: _Out, value: Any, indent: int) -> None:
    if isinstance(value, Mapping):
        out.write("{}")
        return
    if isinstance(value, list | tuple):
        out.write("[]")
        return
    text = _scalar_text(value)
    if text is not None:
        out.write(text)
    else:
        _scalar(out, str(value), indent, False)


def dump_one(doc: Any) -> str:
    """One document as go-yaml v2 (via sigs.k8s.io/yaml) prints it, ending with a newline."""
    out = _Out()
    if isinstance(doc, Mapping):
        if not doc:
            return "{}\n"
        _emit_mapping(out, doc, 0, True)
    elif isinstance(doc, list | tuple):
        if not doc:
            return "[]\n"
        _emit_sequence(out, list(doc), 0, True)
    else:
        _emit_scalar_value(out, doc, 0)
    out.parts.append("\n")
    return "".join(out.parts)


def dump_documents(docs: Iterator[Any] | list[Any]) -> str:
    """Documents joined by ``---`` lines, as ``kustomize build`` prints a resource map."""
    return "---\n".join(dump_one(d) for d in docs)
