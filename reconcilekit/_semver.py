"""Semantic versions and range constraints, shared by Git tag selection and image policies.

Flux parses tags with fluxcd/pkg ``version.ParseVersion`` (a leading ``v`` is dropped, then strict semver 2.0)
and checks them against Masterminds/semver v3 constraints. Both GitSource's ``semver=`` and the image policies
select "the highest tag in range" the same way, so they share this one parser instead of drifting apart.

Constraint grammar (Masterminds v3):

* comparators ``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=`` (also ``=>``, ``=<``), ``~`` / ``~>`` (patch-level
  changes), ``^`` (changes that keep the left-most non-zero part), and a bare version (equal, or tilde when it
  has a wildcard);
* wildcards ``x``, ``X``, ``*`` and partial versions (``1.2`` is ``1.2.x``);
* AND by ``,`` or whitespace, OR by ``||``, hyphen ranges ``1.2 - 1.4.5`` (``>= 1.2, <= 1.4.5``);
* prerelease versions only match an OR group in which some comparator carries a prerelease itself.

Example::

    >>> latest(["v1.0.0", "v1.2.0", "v2.0.0", "junk"], Constraint("^1.0"))
    'v1.2.0'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs

from ._errors import ValidationError

__all__ = ["Constraint", "InvalidConstraintError", "Version", "latest", "parse_version"]

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*"
_STRICT = re.compile(
    rf"^({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-((?:{_PRE_ID})(?:\.(?:{_PRE_ID}))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)


def _compare_prerelease(a: str, b: str) -> int:
    # semver 2.0 section 11: no prerelease sorts above any prerelease; identifiers compare numerically when
    # both are numbers, numbers sort below words, and a longer list wins when one is a prefix of the other.
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        xd, yd = x.isdigit(), y.isdigit()
        if xd and yd:
            return -1 if int(x) < int(y) else 1
        if xd:
            return -1
        if yd:
            return 1
        return -1 if x < y else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


@attrs.frozen(eq=False)
class Version:
    """A semantic version. Equality and order follow semver 2.0 (build metadata ignored).

    ``original`` is the string the version was parsed from (e.g. ``v1.2.3``), kept so a selected tag is
    returned exactly as written.
    """

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""
    original: str = ""

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` sorts below, equal to or above ``other``."""
        a = (self.major, self.minor, self.patch)
        b = (other.major, other.minor, other.patch)
        if a != b:
            return -1 if a < b else 1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.compare(other) == 0

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.prerelease))

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __le__(self, other: Version) -> bool:
        return self.compare(other) <= 0

    def __gt__(self, other: Version) -> bool:
        return self.compare(other) > 0

    def __ge__(self, other: Version) -> bool:
        return self.compare(other) >= 0

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += f"-{self.prerelease}"
        if self.build:
            s += f"+{self.build}"
        return s


def parse_version(tag: str) -> Version | None:
    """Parse ``tag`` as strict semver 2.0, allowing one leading ``v``; ``None`` when it is not one.

    Partial versions (``1.2``), leading zeros (``01.2.3``) and other prefixes are rejected, as Flux's
    ``version.ParseVersion`` does, so tags like ``latest`` or ``release-1`` are skipped, not guessed at.

    >>> parse_version("v1.2.3-rc.1").prerelease
    'rc.1'
    >>> parse_version("1.2") is None
    True
    """
    m = _STRICT.match(tag[1:] if tag.startswith("v") else tag)
    if m is None:
        return None
    return Version(int(m[1]), int(m[2]), int(m[3]), m[4] or "", m[5] or "", tag)


class InvalidConstraintError(ValidationError):
    """A semver range string does not parse."""

    def __init__(self, constraint: str, reason: str) -> None:
        super().__init__(f"invalid semver constraint {constraint!r}: {reason}")
        self.constraint = constraint
        self.reason = reason


# The regular expressions mirror Masterminds v3's so that the same strings are accepted; the empty alternative
# in _OPS is the bare-version comparator. Go's "$" is the end of the text, which is Python's "\Z" ("$" would
# also match before a trailing newline).
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_ONE = re.compile(rf"^\s*({_OPS})\s*({_CV})\s*\Z")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND = re.compile(rf"({_OPS})\s*({_CV})")
_VALID = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*\Z")


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


def _digits(part: str, constraint: str) -> int:
    try:
        return int(part)
    except ValueError:
        # The shape regex allows '|' and mixed digits/wildcards ("1x"); Masterminds rejects them when it
        # parses the version, and so do we.
        raise InvalidConstraintError(constraint, f"{part!r} is not a number") from None


@attrs.frozen
class _Comparator:
    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version) -> bool:
        return _OPERATORS[self.op](v, self)


def _parse_comparator(text: str, whole: str) -> _Comparator:
    m = _ONE.match(text)
    if m is None:
        raise InvalidConstraintError(whole, f"cannot parse {text.strip()!r}")
    op = m[1]
    major, minor, patch = m[3], (m[4] or "").lstrip("."), (m[5] or "").lstrip(".")
    pre = m[7] or ""
    dirty = minor_dirty = patch_dirty = False
    if _is_x(major) or major == "":
        con = Version(0, 0, 0, pre)
        dirty = True
    elif _is_x(minor) or minor == "":
        con = Version(_digits(major, whole), 0, 0, pre)
        dirty = minor_dirty = True
    elif _is_x(patch) or patch == "":
        con = Version(_digits(major, whole), _digits(minor, whole), 0, pre)
        dirty = patch_dirty = True
    else:
        con = Version(_digits(major, whole), _digits(minor, whole), _digits(patch, whole), pre)
    return _Comparator(op, con, dirty, minor_dirty, patch_dirty)


def _tilde(v: Version, c: _Comparator) -> bool:
    if v < c.con:
        return False
    con = c.con
    # ~0.0.0 (and * written as a bare version) accepts everything at or above it.
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _tilde_or_equal(v: Version, c: _Comparator) -> bool:
    return _tilde(v, c) if c.dirty else v == c.con


def _not_equal(v: Version, c: _Comparator) -> bool:
    con = c.con
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or con.prerelease:
                return _compare_prerelease(v.prerelease, con.prerelease) != 0
            return False
    return v != con


def _greater(v: Version, c: _Comparator) -> bool:
    con = c.con
    if not c.dirty:
        return v > con
    if v.major != con.major:
        return v.major > con.major
    if c.minor_dirty:
        # ">1" means 2.0.0 or above: 1.5.0 is not greater than "1".
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v > con


def _less(v: Version, c: _Comparator) -> bool:
    return v < c.con


def _greater_equal(v: Version, c: _Comparator) -> bool:
    return v >= c.con


def _less_equal(v: Version, c: _Comparator) -> bool:
    con = c.con
    if not c.dirty:
        return v <= con
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _caret(v: Version, c: _Comparator) -> bool:
    con = c.con
    if v < con:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_OPERATORS: dict[str, Callable[[Version, _Comparator], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": _less,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def _rewrite_ranges(text: str) -> str:
    out = text
    for m in _RANGE.finditer(text):
        out = out.replace(m[0], f">= {m[1]}, <= {m[11]} ", 1)
    return out


@attrs.frozen
class Constraint:
    """A Masterminds v3 semver range, e.g. ``">=1.0, <2.0"``, ``"^1.2"``, ``"1.x || >=3.0.0-rc.0"``.

    Raises :class:`InvalidConstraintError` (a :class:`~reconcilekit.ValidationError`) when the string does not
    parse (an empty string included: use ``"*"`` for "any release").

    Example::

        c = Constraint("~1.2")
        c.check(parse_version("1.2.9"))  # True
        c.check(parse_version("1.3.0"))  # False
    """

    range: str
    _groups: tuple[tuple[_Comparator, ...], ...] = attrs.field(init=False, repr=False, eq=False)
    _group_pre: tuple[bool, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        groups: list[tuple[_Comparator, ...]] = []
        pres: list[bool] = []
        for part in _rewrite_ranges(self.range).split("||"):
            if not _VALID.match(part):
                raise InvalidConstraintError(self.range, f"improper constraint {part.strip()!r}")
            comps = tuple(_parse_comparator(m[0], self.range) for m in _FIND.finditer(part))
            groups.append(comps)
            pres.append(any(c.con.prerelease for c in comps))
        object.__setattr__(self, "_groups", tuple(groups))
        object.__setattr__(self, "_group_pre", tuple(pres))

    @property
    def has_prerelease(self) -> bool:
        """True when some comparator names a prerelease, so prerelease versions may match (in its group)."""
        return any(self._group_pre)

    def check(self, version: Version) -> bool:
        """Whether ``version`` satisfies the constraint."""
        for group, pre in zip(self._groups, self._group_pre, strict=True):
            if version.prerelease and not pre:
                # Masterminds: a prerelease matches only an AND group that asks for prereleases.
                continue
            if all(c.check(version) for c in group):
                return True
        return False

    def __str__(self) -> str:
        return self.range


def latest(tags: Iterable[str], constraint: Constraint | str) -> str | None:
    """The tag with the highest version satisfying ``constraint``, as originally written; ``None`` if none.

    Tags that are not strict semver are skipped. When two tags have the same version (``v1.0.0`` and
    ``1.0.0``) the first one seen wins, as in Flux.
    """
    c = constraint if isinstance(constraint, Constraint) else Constraint(constraint)
    best: Version | None = None
    for tag in tags:
        v = parse_version(tag)
        if v is None or not c.check(v):
            continue
        if best is None or v > best:
            best = v
    return None if best is None else best.original
