"""Semver parsing and Masterminds v3 constraint semantics (cases from Masterminds' documented ranges)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcilekit import ValidationError
from reconcilekit._semver import Constraint, InvalidConstraintError, Version, latest, parse_version


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", (1, 2, 3, "", "")),
        ("v1.2.3", (1, 2, 3, "", "")),
        ("1.2.3-rc.1+build.5", (1, 2, 3, "rc.1", "build.5")),
        ("0.0.0", (0, 0, 0, "", "")),
        ("10.20.30-alpha-1.0", (10, 20, 30, "alpha-1.0", "")),
    ],
)
def test_parse_version_accepts_strict_semver(tag: str, expected: tuple[object, ...]) -> None:
    v = parse_version(tag)
    assert v is not None
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == expected
    assert v.original == tag


@pytest.mark.parametrize(
    "tag",
    [
        "1.2",
        "1",
        "v1",
        "01.2.3",
        "1.02.3",
        "1.2.3-01",
        "vv1.2.3",
        "V1.2.3",
        "latest",
        "1.2.3-",
        "1.2.3.4",
        "",
    ],
)
def test_parse_version_rejects_non_strict(tag: str) -> None:
    assert parse_version(tag) is None


def test_version_order_follows_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    versions = [parse_version(t) for t in ordered]
    assert all(v is not None for v in versions)
    vs: list[Version] = [v for v in versions if v is not None]
    assert sorted(random.sample(vs, len(vs))) == vs
    for a, b in itertools.pairwise(vs):
        assert a < b
        assert b > a
    assert parse_version("1.0.0+a") == parse_version("1.0.0+b")


CASES: list[tuple[str, str, bool]] = [
    # equality and bare versions
    ("1.2.3", "1.2.3", True),
    ("=1.2.3", "1.2.4", False),
    ("1.2", "1.2.9", True),  # partial version is a wildcard
    ("1.2", "1.3.0", False),
    ("1.2.x", "1.2.0", True),
    ("1.2.x", "1.3.0", False),
    ("1.x", "1.9.9", True),
    ("1.x", "2.0.0", False),
    ("*", "0.0.1", True),
    ("*", "9.9.9", True),
    ("*", "1.0.0-rc.1", False),
    # comparisons
    (">1.2.3", "1.2.4", True),
    (">1.2.3", "1.2.3", False),
    (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True),
    (">1", "1.9.0", False),
    (">1", "2.0.0", True),
    (">=1.2.3", "1.2.3", True),
    ("=>1.2.3", "1.2.2", False),
    ("<1.2.3", "1.2.2", True),
    ("<1.2", "1.2.0", False),
    ("<1.2", "1.1.9", True),
    ("<=1.2.3", "1.2.3", True),
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    ("=<1", "1.9.0", True),
    ("!=1.2.3", "1.2.4", True),
    ("!=1.2.3", "1.2.3", False),
    ("!=1.x", "1.5.0", False),
    ("!=1.x", "2.0.0", True),
    # tilde
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.0", True),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("~>1.2", "1.2.5", True),
    ("~0.0.0", "5.0.0", True),
    # caret
    ("^1.2.3", "1.9.9", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^1.0", "1.5.0", True),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.2", "0.2.0", True),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.0", True),
    ("^0", "1.0.0", False),
    # AND, OR, hyphen ranges
    (">=1.0, <2.0", "1.5.0", True),
    (">=1.0, <2.0", "2.0.0", False),
    (">=1.0 <2.0", "1.0.0", True),
    ("<1.0 || >=3.0", "0.5.0", True),
    ("<1.0 || >=3.0", "2.0.0", False),
    ("<1.0 || >=3.0", "3.1.0", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("1.2 - 1.4.5", "1.1.9", False),
    ("1.2.3 - 2", "2.9.0", True),
    # prereleases only when the group asks for them
    (">=1.0.0", "1.1.0-rc.1", False),
    (">=1.0.0-0", "1.1.0-rc.1", True),
    (">=1.0.0-0, <2.0.0", "1.1.0-rc.1", True),
    (">=1.0.0-0 || >=3.0.0", "3.1.0-rc.1", True),
    (">=0.1.0 || >=3.0.0-0", "0.2.0-rc.1", False),  # the prerelease group does not cover it
    ("^1.0.0-rc.1", "1.0.0-rc.2", True),
    ("^1.0.0-rc.1", "1.0.0-beta", False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("v1.2.x", "1.2.7", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CASES)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    v = parse_version(version)
    assert v is not None
    assert Constraint(constraint).check(v) is expected


@pytest.mark.parametrize("bad", ["", "   ", "latest", ">= foo", "1.2.3 ||", "=> 1.x.y", "~1.2.3.4", "1|2"])
def test_invalid_constraints_raise_typed_error(bad: str) -> None:
    with pytest.raises(InvalidConstraintError) as info:
        Constraint(bad)
    assert isinstance(info.value, ValidationError)
    assert repr(bad) in str(info.value)


def test_has_prerelease() -> None:
    assert Constraint(">=1.0.0-rc.0").has_prerelease
    assert not Constraint(">=1.0.0").has_prerelease


def test_latest_keeps_original_string_and_skips_non_semver() -> None:
    tags = ["latest", "v1.0.0", "1.1.0", "v1.2.0-rc.1", "v2.0.0", "1.2", "release-3"]
    assert latest(tags, "^1.0") == "1.1.0"
    assert latest(tags, ">=1.2.0-0, <2.0.0") == "v1.2.0-rc.1"
    assert latest(tags, "*") == "v2.0.0"
    assert latest(tags, ">=5") is None
    assert latest([], "*") is None


def test_latest_first_seen_wins_on_equal_versions() -> None:
    assert latest(["v1.0.0", "1.0.0"], "*") == "v1.0.0"
    assert latest(["1.0.0+b", "v1.0.0+a"], "*") == "1.0.0+b"


_nums = st.integers(min_value=0, max_value=30)


@given(_nums, _nums, _nums, _nums, _nums, _nums)
def test_caret_and_tilde_equal_their_expansions(a: int, b: int, c: int, x: int, y: int, z: int) -> None:
    v = Version(x, y, z)
    if a > 0:
        assert Constraint(f"^{a}.{b}.{c}").check(v) == Constraint(f">={a}.{b}.{c}, <{a + 1}.0.0").check(v)
    assert Constraint(f"~{a}.{b}.{c}").check(v) == Constraint(f">={a}.{b}.{c}, <{a}.{b + 1}.0").check(v)
    assert Constraint(f"{a}.{b}.x").check(v) == Constraint(f">={a}.{b}.0, <{a}.{b + 1}.0").check(v)


def test_trailing_newline_is_not_a_version() -> None:
    # Go's "$" is the end of the text: Masterminds and Flux reject "1.2.3\n".
    assert parse_version("1.2.3\n") is None
    assert parse_version("v1.2.3\n") is None
    assert latest(["1.2.3\n"], "*") is None
