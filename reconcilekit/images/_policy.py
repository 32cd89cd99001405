"""Image policies: pick the newest tag from a registry's tag list, as Flux's image-reflector-controller does.

A scan (:class:`~reconcilekit.images.RegistryClient`) yields tags; an :class:`ImagePolicy` optionally narrows
and rewrites them with a :class:`TagFilter`, lets its ordering policy (:class:`SemverPolicy`,
:class:`AlphabeticalPolicy` or :class:`NumericalPolicy`) pick the latest value, and reports the *original*
tag, which the setters then write into YAML.

Semantics follow fluxcd/image-reflector-controller ``internal/policy``: semver tags are parsed strictly (one
leading ``v`` allowed; anything else is skipped) and checked against a Masterminds v3 range, the highest wins
and the first seen wins ties; alphabetical order is byte-wise (``asc`` picks the greatest, ``desc`` the
least); numerical order needs every tag to be a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs

from .._semver import Constraint, InvalidConstraintError, Version, parse_version
from ._errors import InvalidPolicyError, NoMatchingTag
from ._regex import RE2SyntaxError, compile_re2, expand

__all__ = [
    "AlphabeticalPolicy",
    "ImagePolicy",
    "NumericalPolicy",
    "Order",
    "SemverPolicy",
    "TagFilter",
    "TagPolicy",
]

Order = Literal["asc", "desc"]


def _order(value: str, policy: str) -> Order:
    # Flux spells the orders ASC/DESC and treats an empty order as ascending; accept its spelling too.
    low = value.lower()
    if low in ("", "asc"):
        return "asc"
    if low == "desc":
        return "desc"
    raise InvalidPolicyError(f"{policy} order", value, "must be 'asc' or 'desc'")


def _alphabetical_order(value: str) -> Order:
    return _order(value, "alphabetical")


def _numerical_order(value: str) -> Order:
    return _order(value, "numerical")


@runtime_checkable
class TagPolicy(Protocol):
    """What an ordering policy does: return the latest of ``tags`` or raise :class:`NoMatchingTag`."""

    def latest(self, tags: Sequence[str]) -> str:
        """The latest tag, as written in ``tags``."""
        ...


# A superset of strict semver used to reject most tags before the exact parse: every tag that
# parse_version accepts matches it with the same major, minor, patch and prerelease-ness.
_LOOSE_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(-[^+]*)?(?:\+.*)?\Z", re.ASCII | re.DOTALL)


@attrs.frozen
class SemverPolicy:
    """The highest tag that is a semantic version within ``range`` (a Masterminds v3 constraint).

    Tags are parsed strictly (``1.2.3``, ``v1.2.3-rc.1+build``); ``1.2``, ``1.0.0.1`` or ``latest`` are
    skipped. Prereleases match only when the range names one (``>=1.0.0-0``). The tag is reported as written,
    and when two tags are the same version (``1.0.0`` and ``v1.0.0``) the first one wins.

    Raises :class:`~reconcilekit.images.InvalidPolicyError` for an invalid range.

    Example::

        SemverPolicy("1.0.x").latest(["1.0.0", "1.0.1", "1.2.0"])  # "1.0.1"
    """

    range: str
    _constraint: Constraint = attrs.field(init=False, repr=False, eq=False)
    _edge_majors: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        try:
            constraint = Constraint(self.range)
        except InvalidConstraintError as exc:
            raise InvalidPolicyError("semver range", self.range, exc.reason) from None
        object.__setattr__(self, "_constraint", constraint)
        # Every comparator of a Masterminds range is true on a union of version intervals whose ends lie in
        # a major version named in the range, the one after it, or 0/1 (caret's special cases). Within any
        # other major the answer for release versions is therefore the same for all of them, and one check
        # per such major is enough (the differential tests against _semver.latest guard this).
        numbers = {int(n) for n in re.findall(r"\d+", self.range)}
        edges = {str(n) for n in numbers} | {str(n + 1) for n in numbers} | {"0", "1"}
        object.__setattr__(self, "_edge_majors", frozenset(edges))

    def latest(self, tags: Sequence[str]) -> str:
        """The highest tag within the range; :class:`NoMatchingTag` when none is (or ``tags`` is empty)."""
        if not tags:
            raise NoMatchingTag(repr(self), "the tag list is empty")
        constraint = self._constraint
        allow_pre = constraint.has_prerelease
        edges = self._edge_majors
        by_major: dict[str, bool] = {}  # release-version check result per major outside the range's edges
        best: Version | None = None
        best_key: tuple[int, int, int] | None = None
        best_is_release = False
        # Profiled over 100,000 tags: the exact parse and the constraint check dominate, so a cheap superset
        # match rejects most tags first, a major already known to fail is skipped, and a tag whose
        # major.minor.patch is below the best so far is skipped without parsing (a prerelease only ever
        # sorts lower than its release).
        for m in map(_LOOSE_SEMVER.match, tags):
            if m is None:
                continue
            major, minor, patch, pre = m.groups()
            known: bool | None = None
            if pre is not None:
                if not allow_pre:
                    continue  # Masterminds: a prerelease never matches a range that names none
            else:
                known = by_major.get(major)
                if known is False:
                    continue
            key = (int(major), int(minor), int(patch))
            # Below the best: never higher. Equal to a best release: a release ties (first wins), a
            # prerelease sorts lower. Equal to a best prerelease: may be higher, so check it fully.
            if best_key is not None and (key < best_key or (key == best_key and best_is_release)):
                continue
            version = parse_version(m.string)
            if version is None:
                continue
            ok = known if known is not None else constraint.check(version)
            if known is None and pre is None and major not in edges:
                by_major[major] = ok
            if ok and (best is None or version > best):
                best, best_key, best_is_release = version, key, not version.prerelease
        if best is None:
            raise NoMatchingTag(repr(self), f"none of {len(tags)} tags is a version within the range")
        return best.original


@attrs.frozen
class AlphabeticalPolicy:
    """The greatest tag in byte-wise order (``order="asc"``, the default) or the least (``"desc"``).

    Example::

        AlphabeticalPolicy("desc").latest(["xenial", "zesty", "artful"])  # "artful"
    """

    order: Order = attrs.field(default="asc", converter=_alphabetical_order)

    def latest(self, tags: Sequence[str]) -> str:
        """The latest tag in this order; :class:`NoMatchingTag` when ``tags`` is empty."""
        if not tags:
            raise NoMatchingTag(repr(self), "the tag list is empty")
        # Python compares str by code point, which is the byte order of their UTF-8 encodings (Go's order).
        return max(tags) if self.order == "asc" else min(tags)


# Go's strconv.ParseFloat grammar (decimal and hexadecimal floats, "_" between digits, inf/infinity/nan);
# Python's float() differs at the edges (whitespace, "+nan", hex), and a numerical policy must reject what
# Flux rejects.
_D = r"\d(?:_?\d)*"
_H = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_DECIMAL = re.compile(rf"[+-]?(?:{_D}(?:\.(?:{_D})?)?|\.{_D})(?:[eE][+-]?{_D})?\Z", re.ASCII)
_GO_HEX = re.compile(rf"[+-]?0[xX]_?(?:{_H}(?:\.(?:{_H})?)?|\.{_H})[pP][+-]?{_D}\Z", re.ASCII)
_GO_SPECIAL = re.compile(r"(?:[+-]?inf(?:inity)?|nan)\Z", re.IGNORECASE | re.ASCII)


def parse_go_float(text: str) -> float | None:
    """``text`` as Go's ``strconv.ParseFloat(text, 64)`` reads it; ``None`` where Go returns an error.

    Out-of-range values (``1e400``) are errors in Go, so they are ``None`` here too.
    """
    try:
        if _GO_DECIMAL.match(text):
            value = float(text.replace("_", ""))
        elif _GO_HEX.match(text):
            value = float.fromhex(text.replace("_", ""))
        elif _GO_SPECIAL.match(text):
            return float(text)
        else:
            return None
    except OverflowError:  # float.fromhex raises for exponents beyond range; Go reports ErrRange
        return None
    return None if math.isinf(value) else value


@attrs.frozen
class NumericalPolicy:
    """The greatest number (``order="asc"``, the default) or the least (``"desc"``); every tag must be one.

    Any tag that is not a number makes :meth:`latest` raise :class:`NoMatchingTag` (Flux fails the policy
    rather than guessing); use a :class:`TagFilter` to pick the numeric tags first.

    Example::

        NumericalPolicy().latest(["1606234201", "1606364286"])  # "1606364286"
    """

    order: Order = attrs.field(default="asc", converter=_numerical_order)

    def latest(self, tags: Sequence[str]) -> str:
        """The latest tag in this order; :class:`NoMatchingTag` on an empty list or a non-number."""
        if not tags:
            raise NoMatchingTag(repr(self), "the tag list is empty")
        asc = self.order == "asc"
        latest = ""
        previous = 0.0
        for i, tag in enumerate(tags):
            value = parse_go_float(tag)
            if value is None:
                raise NoMatchingTag(repr(self), f"tag {tag!r} is not a number")
            # Same comparisons as Flux, so equal values (and NaN) resolve the same way: the later tag wins.
            if i > 0 and ((asc and value < previous) or (not asc and value > previous)):
                continue
            latest, previous = tag, value
        return latest


@attrs.frozen
class TagFilter:
    """Keep the tags matching ``pattern`` (RE2 syntax, unanchored), optionally rewritten with ``extract``.

    ``extract`` is a Go ``Regexp.Expand`` template: ``$1``, ``$name``, ``${name}``, ``$$`` for a dollar sign
    (``$1x`` means the group named ``1x``; write ``${1}x``). The policy then orders the extracted values and
    the original tag is reported. When two tags extract to the same value the last one wins, as in Flux.

    Raises :class:`~reconcilekit.images.InvalidPolicyError` when the pattern is not valid RE2 (Python-only
    syntax such as lookahead or backreferences is rejected, as Flux would).

    Example::

        f = TagFilter(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract="$ts")
        f.apply(["main-abc123-1606234201"])  # {"1606234201": "main-abc123-1606234201"}
    """

    pattern: str
    extract: str | None = None
    _regex: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        try:
            regex = compile_re2(self.pattern)
        except RE2SyntaxError as exc:
            raise InvalidPolicyError("tag filter pattern", self.pattern, str(exc)) from None
        object.__setattr__(self, "_regex", regex)

    def apply(self, tags: Iterable[str]) -> dict[str, str]:
        """Map each kept value (extracted, or the tag itself) to its original tag, in first-seen order."""
        search = self._regex.search
        template = self.extract
        kept: dict[str, str] = {}
        for tag in tags:
            m = search(tag)
            if m is None:
                continue
            kept[expand(template, m) if template else tag] = tag
        return kept


@attrs.frozen
class ImagePolicy:
    """An ordering policy with an optional :class:`TagFilter`: Flux's ``ImagePolicy`` ``spec.policy`` and
    ``spec.filterTags``.

    Example::

        policy = ImagePolicy(SemverPolicy(">=1.0.0"), TagFilter(r"^v"))
        policy.latest(["v1.0.0", "1.2.0", "v1.1.0"])  # "v1.1.0"
    """

    policy: TagPolicy
    filter: TagFilter | None = None

    def latest(self, tags: Iterable[str]) -> str:
        """The original tag the policy picks; :class:`NoMatchingTag` when none qualifies."""
        if self.filter is None:
            return self.policy.latest(tags if isinstance(tags, Sequence) else list(tags))
        kept = self.filter.apply(tags)
        if not kept:
            raise NoMatchingTag(repr(self), f"no tag matches the filter pattern {self.filter.pattern!r}")
        return kept[self.policy.latest(list(kept))]
