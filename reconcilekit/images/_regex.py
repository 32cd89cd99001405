"""Go (RE2) regular expressions in Python: pattern translation and ``Regexp.Expand``.

Flux compiles ``filterTags.pattern`` with Go's ``regexp`` package and builds the value a policy orders
with ``Regexp.ExpandString``. Users copy those patterns from Flux manifests, so
:class:`~reconcilekit.images.TagFilter` accepts RE2 syntax and rejects what RE2 rejects (backreferences,
lookaround), instead of silently giving Python's meaning to the same characters. The translation is purely
syntactic; RE2 and Python's ``re`` agree on leftmost-first matching, which is all a tag filter needs.
"""

from __future__ import annotations

import re

__all__ = ["RE2SyntaxError", "compile_re2", "expand"]


class RE2SyntaxError(ValueError):
    """The pattern is not valid RE2, or uses RE2 syntax Python cannot express."""


# POSIX classes RE2 accepts inside brackets, as Python class bodies (ASCII, as in RE2).
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])")
_NAME = re.compile(r"\(\?P?<([^>]*)>")
_HEX = re.compile(r"\\x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))")
# Letters RE2 accepts after a backslash, outside and inside brackets; any other letter is an error there.
_ESCAPES = frozenset("aftnrvxAbBdDsSwWzQpPC")
_CLASS_ESCAPES = frozenset("aftnrvxdDsSwWpP")
_MAX_REPEAT = 1000  # RE2's limit; larger counts are a compile error in Go


def _char(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\U{cp:08x}"


def _escape(p: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at ``p[i] == '\\\\'``; return (python text, next index)."""
    if i + 1 >= len(p):
        raise RE2SyntaxError("trailing backslash at end of expression")
    c = p[i + 1]
    if c == "Q" and not in_class:
        end = p.find("\\E", i + 2)
        literal = p[i + 2 :] if end < 0 else p[i + 2 : end]
        return re.escape(literal), len(p) if end < 0 else end + 2
    if c in "pP":
        raise RE2SyntaxError(f"Unicode class \\{c} is not supported (Python's re has no \\p)")
    if c == "C":
        raise RE2SyntaxError("\\C (any byte) is not supported")
    if c == "z" and not in_class:
        return "\\Z", i + 2
    if c.isascii() and c.isalpha() and c not in (_CLASS_ESCAPES if in_class else _ESCAPES):
        raise RE2SyntaxError(f"invalid escape sequence \\{c}")
    if c == "x":
        m = _HEX.match(p, i)
        if m is None:
            raise RE2SyntaxError("invalid escape sequence \\x")
        cp = int(m[1] or m[2], 16)
        if cp > 0x10FFFF:
            raise RE2SyntaxError(f"invalid escape sequence {m[0]}")
        return _char(cp), m.end()
    if c.isdigit():
        # RE2: a lone non-zero digit is a backreference (unsupported); otherwise up to three octal digits.
        j = i + 1
        if c in "89":
            raise RE2SyntaxError(f"invalid escape sequence \\{c}")
        if c != "0" and (j + 1 >= len(p) or p[j + 1] not in "01234567"):
            raise RE2SyntaxError(f"backreference \\{c} is not supported in RE2")
        digits = ""
        while j < len(p) and len(digits) < 3 and p[j] in "01234567":
            digits += p[j]
            j += 1
        return _char(int(digits, 8)), j
    return p[i : i + 2], i + 2


def _char_class(p: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at ``p[i] == '['``."""
    out = ["["]
    j = i + 1
    if j < len(p) and p[j] == "^":
        out.append("^")
        j += 1
    first = True
    while True:
        if j >= len(p):
            raise RE2SyntaxError("missing closing ]")
        c = p[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        first = False
        if c == "[" and p.startswith("[:", j):
            end = p.find(":]", j + 2)
            if end < 0:
                out.append("\\[")
                j += 1
                continue
            name = p[j + 2 : end]
            if name.startswith("^"):
                raise RE2SyntaxError(f"negated POSIX class [:{name}:] is not supported")
            if name not in _POSIX:
                raise RE2SyntaxError(f"invalid character class range [:{name}:]")
            out.append(_POSIX[name])
            j = end + 2
            continue
        if c == "\\":
            text, j = _escape(p, j, in_class=True)
            out.append(text)
            continue
        # Python warns about (and may one day change) set operations `[[`, `--`, `&&`, `~~`, `||` inside
        # classes; escaping these characters keeps RE2's plain meaning.
        if c in "[&~|" or (c == "-" and p.startswith("--", j)):
            out.append("\\" + c)
        else:
            out.append(c)
        j += 1


def translate(pattern: str) -> str:
    """Translate RE2 ``pattern`` into Python ``re`` syntax; :class:`RE2SyntaxError` when it is invalid."""
    p = pattern
    out: list[str] = []
    # One entry per open group: how many extra ")" must be emitted when it closes (scoped inline flags).
    groups: list[int] = [0]
    i = 0
    after_quantifier = False
    while i < len(p):
        c = p[i]
        if c == "\\":
            text, i = _escape(p, i, in_class=False)
            out.append(text)
            after_quantifier = False
            continue
        if c == "[":
            text, i = _char_class(p, i)
            out.append(text)
            after_quantifier = False
            continue
        if c == "(":
            if p.startswith("(?", i):
                m = _FLAGS.match(p, i)
                nm = _NAME.match(p, i)
                if nm is not None:
                    name = nm[1]
                    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
                        raise RE2SyntaxError(f"invalid named capture {nm[0]!r}")
                    out.append(f"(?P<{name}>")
                    groups.append(0)
                    i = nm.end()
                elif m is not None and (m[1] or m[2] is not None or m[3] == ":"):
                    on, off, end = m[1], m[2] or "", m[3]
                    if "U" in on or "U" in off:
                        raise RE2SyntaxError("the U (ungreedy) flag is not supported")
                    if m[2] is not None and not off:
                        raise RE2SyntaxError(f"missing flags after '-' in {m[0]!r}")
                    flags = on + (f"-{off}" if off else "")
                    if end == ":":
                        out.append(f"(?{flags}:" if flags else "(?:")
                        groups.append(0)
                    elif i == 0 and not off:
                        out.append(f"(?{on})")  # a leading global flag group means the same in Python
                    else:
                        # Python allows global flags only at the start; RE2 applies them to the rest of
                        # the enclosing group, which a scoped group closed with that group expresses.
                        out.append(f"(?{flags}:")
                        groups[-1] += 1
                    i = m.end()
                else:
                    raise RE2SyntaxError(f"invalid or unsupported group syntax at {p[i : i + 4]!r}")
            else:
                out.append("(")
                groups.append(0)
                i += 1
            after_quantifier = False
            continue
        if c == ")":
            if len(groups) == 1:
                raise RE2SyntaxError("unexpected )")
            out.append(")" * (groups.pop() + 1))
            i += 1
            after_quantifier = False
            continue
        if c == "{":
            m = _REPEAT.match(p, i)
            if m is None:
                out.append("\\{")  # RE2 reads a brace that does not start a repeat as a literal
                i += 1
                after_quantifier = False
                continue
            lo, hi = int(m[1]), m[3]
            if lo > _MAX_REPEAT or (hi and int(hi) > _MAX_REPEAT) or (hi and int(hi) < lo):
                raise RE2SyntaxError(f"invalid repeat count {m[0]}")
            if after_quantifier:
                raise RE2SyntaxError(f"invalid nested repetition operator {m[0]}")
            out.append(m[0])
            i = m.end()
            after_quantifier = True
            if i < len(p) and p[i] == "?":
                out.append("?")
                i += 1
            continue
        if c in "*+?":
            if after_quantifier:
                raise RE2SyntaxError(f"invalid nested repetition operator {p[i - 1 : i + 1]!r}")
            out.append(c)
            i += 1
            after_quantifier = True
            if i < len(p) and p[i] == "?":
                out.append("?")
                i += 1
            continue
        if c == "}":
            out.append("\\}")
            i += 1
            after_quantifier = False
            continue
        out.append(c)
        i += 1
        after_quantifier = False
    if len(groups) != 1:
        raise RE2SyntaxError("missing closing )")
    out.append(")" * groups[0])
    return "".join(out)


def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Python's ``re``; ASCII classes, as RE2's ``\\d``, ``\\w``, ``\\s``."""
    translated = translate(pattern)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as exc:
        raise RE2SyntaxError(str(exc)) from None


def _extract(template: str) -> tuple[str, int, str] | None:
    # Go's regexp.extract: a name is the longest run of letters, digits and underscores, so "$1x" names
    # the group "1x" (which does not exist) rather than group 1 followed by "x".
    brace = template.startswith("{")
    s = template[1:] if brace else template
    i = 0
    while i < len(s) and (s[i].isalpha() or s[i].isdecimal() or s[i] == "_"):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = -1
    if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
        num = int(name)
    return name, num, s[i:]


def expand(template: str, match: re.Match[str]) -> str:
    """Expand ``$1``, ``$name``, ``${name}``, ``$$`` in ``template`` from ``match`` as Go's ``Regexp.Expand``.

    A reference to a group that does not exist or did not take part in the match expands to the empty string;
    a ``$`` that starts no valid reference is kept as is.
    """
    out: list[str] = []
    rest = template
    groupindex = match.re.groupindex
    ngroups = match.re.groups
    while True:
        before, sep, after = rest.partition("$")
        if not sep:
            break
        out.append(before)
        rest = after
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        ref = _extract(rest)
        if ref is None:
            out.append("$")
            continue
        name, num, rest = ref
        index = num if num >= 0 else groupindex.get(name, -1)
        if 0 <= index <= ngroups:
            value = match.group(index)
            if value is not None:
                out.append(value)
    out.append(rest)
    return "".join(out)
