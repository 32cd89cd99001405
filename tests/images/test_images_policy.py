"""Image policies: every case published in fluxcd/image-reflector-controller internal/policy/*_test.go and
internal/controller/policy_test.go, plus RE2 and Go Expand details and a differential check of the semver
fast path against reconcilekit._semver.latest."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcilekit import ConfigurationError, ReconcileKitError, TerminalError
from reconcilekit._semver import latest as semver_latest
from reconcilekit.images import (
    AlphabeticalPolicy,
    ImagePolicy,
    InvalidPolicyError,
    NoMatchingTag,
    NumericalPolicy,
    SemverPolicy,
    TagFilter,
)
from reconcilekit.images._policy import parse_go_float
from reconcilekit.images._regex import RE2SyntaxError, compile_re2, translate

# -- the cases named in the issue -------------------------------------------------------------------------


def test_issue_cases() -> None:
    tags = ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"]
    assert SemverPolicy("1.0.x").latest(tags) == "1.0.1"
    names = ["xenial", "yakkety", "zesty", "artful", "bionic"]
    assert AlphabeticalPolicy(order="desc").latest(names) == "artful"
    numbers = ["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"]
    assert NumericalPolicy(order="asc").latest(numbers) == "73"
    with pytest.raises(NoMatchingTag):
        NumericalPolicy().latest(["0", "1a", "b"])


def test_no_matching_tag_is_a_terminal_reconcilekit_error() -> None:
    assert issubclass(NoMatchingTag, ReconcileKitError)
    assert issubclass(NoMatchingTag, TerminalError)
    assert issubclass(InvalidPolicyError, ConfigurationError)


# -- semver_test.go ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rng", ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"])
def test_new_semver_valid(rng: str) -> None:
    assert SemverPolicy(rng).range == rng


@pytest.mark.parametrize("rng", ["1.0.0p", "1x", "x1", "-1", "a", "", "*-*"])
def test_new_semver_invalid(rng: str) -> None:
    with pytest.raises(InvalidPolicyError) as exc:
        SemverPolicy(rng)
    assert repr(rng) in str(exc.value)


@pytest.mark.parametrize(
    ("rng", "tags", "expected"),
    [
        ("1.0.x", ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"], "1.0.1"),  # Regular
        ("1.0.x", ["v1.2.3", "v1.0.0", "v0.1.0"], "v1.0.0"),  # Regular with prefix
        ("1.0.x", ["b1.2.3", "b1.0.0", "b0.1.0"], None),  # With invalid prefix
        ("1.0.x", [], None),  # With empty list
        ("1.0.x", ["1.2.0"], None),  # With non-matching version list
        # internal/controller/policy_test.go: calculateImageFromRepoTags
        ("1.0.x", ["0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"], "1.0.2"),
    ],
)
def test_semver_latest(rng: str, tags: list[str], expected: str | None) -> None:
    policy = SemverPolicy(rng)
    if expected is None:
        with pytest.raises(NoMatchingTag):
            policy.latest(tags)
    else:
        assert policy.latest(tags) == expected


def test_semver_details() -> None:
    # Prereleases only when the range names one; the original string is reported; first seen wins ties.
    assert SemverPolicy(">=1.0.0").latest(["1.0.0", "1.1.0-rc.1"]) == "1.0.0"
    assert SemverPolicy(">=1.0.0-0").latest(["1.0.0", "1.1.0-rc.1"]) == "1.1.0-rc.1"
    assert SemverPolicy("^1.x-0").latest(["1.2.0-rc.1", "1.1.0", "2.0.0-rc.1"]) == "1.2.0-rc.1"
    assert SemverPolicy("*").latest(["v1.0.0", "1.0.0"]) == "v1.0.0"
    assert SemverPolicy("*").latest(["1.0.0+b", "1.0.0+a"]) == "1.0.0+b"
    assert SemverPolicy("~1.2").latest(["1.2.9", "1.3.0", "1.2.10"]) == "1.2.10"
    assert SemverPolicy(">=1.0, <2.0").latest(["2.0.0", "1.9.9", "0.9.0"]) == "1.9.9"
    # fluxcd/pkg version_test.go: what strict parsing accepts and rejects.
    accepted = [
        "v1.2.3",
        "v1.2.0-x.Y.0+metadata",
        "v1.2.0-x.Y.0+metadata-width-hypen",
        "v1.2.3-rc1-with-hypen",
    ]
    rejected = ["v1.0", "v1", "v1.2.beta", "v1.2-5", "v1.2-beta.5", "\nv1.2", "v1.2.3.4"]
    for tag in accepted:
        assert SemverPolicy(">=0.0.0-0").latest([tag]) == tag
    for tag in rejected:
        with pytest.raises(NoMatchingTag):
            SemverPolicy(">=0.0.0-0").latest([tag])


def test_semver_rejects_trailing_newline() -> None:
    # Go's regexp "$" (no m flag) is the end of the text, so Masterminds rejects "1.2.3\n".
    with pytest.raises(NoMatchingTag):
        SemverPolicy("*").latest(["1.2.3\n"])


_part = st.integers(min_value=0, max_value=12).map(str)
# Majors spread more widely, so the per-major shortcut of SemverPolicy.latest is exercised.
_major = st.integers(min_value=0, max_value=15).map(str)
_tag = st.one_of(
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _major, _part, _part),
    st.builds(lambda a, b, c: f"v{a}.{b}.{c}", _major, _part, _part),
    st.builds(
        lambda a, b, c, p: f"{a}.{b}.{c}-{p}",
        _part,
        _part,
        _part,
        st.sampled_from(["rc.1", "rc.2", "alpha", "0"]),
    ),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}+build.{a}", _part, _part, _part),
    st.sampled_from(["latest", "01.2.3", "1.2", "1.2.3.4", "main-abc", "v", "1.2.3-", "vv1.2.3"]),
)


@settings(max_examples=600, deadline=None)
@given(
    tags=st.lists(_tag, max_size=30),
    rng=st.sampled_from(
        [
            "*",
            ">=1.0.0",
            "1.x",
            "~2.3",
            "^0.4",
            ">=1.0.0-0 <3.0.0",
            "!=4.4.4",
            "1.2.3 - 5.6.7",
            "^5.0",
            "^0.0.3",
            ">3",
            ">3.x",
            "<=4.1",
            "<=4",
            "!=3.x",
            "~0",
            "^0",
            "=2.1",
            "2.x || >=9.0.1",
            "^1.x-0",
            "~>3.2",
            "<3.0.0-0",
            ">=0.0.0",
            ">11",
            "<2 || >10",
        ]
    ),
)
def test_semver_fast_path_matches_shared_parser(tags: list[str], rng: str) -> None:
    expected = semver_latest(tags, rng)
    if expected is None:
        with pytest.raises(NoMatchingTag):
            SemverPolicy(rng).latest(tags)
    else:
        assert SemverPolicy(rng).latest(tags) == expected


_RANGES = [
    "*", ">=1.0.0", "1.x", "~2.3", "^0.4", ">=1.0.0-0 <3.0.0", "!=4.4.4", "1.2.3 - 5.6.7", "^5.0", "^0.0.3",
    ">3", ">3.x", "<=4.1", "<=4", "!=3.x", "~0", "^0", "=2.1", "2.x || >=9.0.1", "^1.x-0", "~>3.2",
    "<3.0.0-0", ">11", "<2 || >10", "^12.3.4", "~7", "7.1.x", ">=6 <6.5", "<=0.0.9",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_semver_fast_path_on_large_lists(seed: int) -> None:
    rnd = random.Random(seed)
    tags = []
    for _ in range(3000):
        a, b, c = rnd.randint(0, 14), rnd.randint(0, 9), rnd.randint(0, 12)
        tags.append(rnd.choice([f"{a}.{b}.{c}", f"v{a}.{b}.{c}", f"{a}.{b}.{c}-rc.{c}", f"{a}.{b}", "x"]))
    for rng in _RANGES:
        expected = semver_latest(tags, rng)
        if expected is None:
            with pytest.raises(NoMatchingTag):
                SemverPolicy(rng).latest(tags)
        else:
            assert SemverPolicy(rng).latest(tags) == expected, rng


# -- alphabetical_test.go ---------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["", "asc", "desc", "ASC", "DESC"])
def test_new_alphabetical_valid(order: str) -> None:
    AlphabeticalPolicy(order)


def test_new_alphabetical_invalid() -> None:
    with pytest.raises(InvalidPolicyError, match="invalid"):
        AlphabeticalPolicy("invalid")


_CALVER = ["16.04", "16.04.1", "16.10", "20.04", "20.10"]
_NAMES = ["xenial", "yakkety", "zesty", "artful", "bionic"]
_STAMPS = ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"]


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        ("asc", _CALVER, "20.10"),
        ("desc", _CALVER, "16.04"),
        ("asc", _NAMES, "zesty"),
        ("desc", _NAMES, "artful"),
        ("asc", _STAMPS, "1606364286"),
        ("desc", _STAMPS, "1606234201"),
        ("asc", [f"rel-{s}" for s in _STAMPS], "rel-1606364286"),
        ("asc", [], None),
    ],
)
def test_alphabetical_latest(order: str, tags: list[str], expected: str | None) -> None:
    policy = AlphabeticalPolicy(order)
    if expected is None:
        with pytest.raises(NoMatchingTag):
            policy.latest(tags)
    else:
        assert policy.latest(tags) == expected


def test_alphabetical_is_bytewise() -> None:
    assert AlphabeticalPolicy().latest(["Z", "a", "B"]) == "a"
    assert AlphabeticalPolicy().latest(["é", "z"]) == "é"  # UTF-8 byte order, as Go compares strings


# -- numerical_test.go ------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["", "asc", "desc"])
def test_new_numerical_valid(order: str) -> None:
    NumericalPolicy(order)


def test_new_numerical_invalid() -> None:
    with pytest.raises(InvalidPolicyError):
        NumericalPolicy("invalid")


def _shuffled(values: list[str]) -> list[str]:
    out = list(values)
    random.Random(len(values)).shuffle(out)
    return out


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        ("asc", ["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"], "73"),
        ("desc", ["5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"], "-78"),
        (
            "asc",
            [
                "47.40896403322944",
                "-27.8520927455902",
                "-27.930666514224427",
                "-31.352485948094568",
                "-50.41072694704882",
                "-21.962849842263736",
                "24.71884721436865",
                "-39.99177354004344",
                "53.47333823144817",
                "3.2008658570411086",
            ],
            "53.47333823144817",
        ),
        (
            "desc",
            [
                "-65.27202780220686",
                "57.82948329142309",
                "22.40184684363291",
                "-86.36934305697784",
                "-90.29082099756083",
                "-12.041712603564264",
                "77.70488240399305",
                "-38.98425003883552",
                "16.06867070412028",
                "53.735674335181216",
            ],
            "-90.29082099756083",
        ),
        ("asc", _STAMPS, "1606364286"),
        ("desc", _STAMPS, "1606234201"),
        ("asc", ["1"], "1"),
        ("desc", ["1"], "1"),
        ("asc", ["0", "1a", "b"], None),
        ("asc", [], None),
    ],
)
def test_numerical_latest(order: str, tags: list[str], expected: str | None) -> None:
    policy = NumericalPolicy(order)
    if expected is None:
        with pytest.raises(NoMatchingTag):
            policy.latest(_shuffled(tags))
    else:
        assert policy.latest(_shuffled(tags)) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1_23.50_0_0e+1_2", 1.235e14),
        ("0x1p-2", 0.25),
        ("-Infinity", float("-inf")),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e-400", 0.0),
        ("-_123.5e+12", None),
        ("123_.5e+12", None),
        ("0x1e2", None),  # a hex mantissa needs a 'p' exponent
        ("+nan", None),
        (" 1", None),
        ("1e400", None),  # out of range: an error in Go
    ],
)
def test_go_parse_float(text: str, value: float | None) -> None:
    assert parse_go_float(text) == value


def test_numerical_ties_take_the_later_tag_as_go_does() -> None:
    assert NumericalPolicy().latest(["1", "1.0", "01"]) == "01"


# -- filter_test.go and the controller's filterTags cases -------------------------------------------------


def test_regex_filter_cases() -> None:
    assert TagFilter("").apply(["a"]) == {"a": "a"}
    assert list(TagFilter("^ver").apply(["ver1", "ver2", "ver3", "rel1"])) == ["ver1", "ver2", "ver3"]
    kept = TagFilter(r"ver(\d+)", extract="$1").apply(["ver1", "ver2", "ver3", "rel1"])
    assert kept == {"1": "ver1", "2": "ver2", "3": "ver3"}


def test_filter_tags_with_semver() -> None:
    tags = ["test-0.1.0", "test-0.1.1", "dev-0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"]
    policy = ImagePolicy(SemverPolicy(">=0.x"), TagFilter("^test-(.*)$", extract="$1"))
    assert policy.latest(tags) == "test-0.1.1"


def test_invalid_filter_pattern() -> None:
    with pytest.raises(InvalidPolicyError, match="pattern"):
        TagFilter("^test-(.*", extract="$1")


def test_filter_matching_nothing_is_no_matching_tag() -> None:
    with pytest.raises(NoMatchingTag, match="filter"):
        ImagePolicy(AlphabeticalPolicy(), TagFilter("^nothing$")).latest(["a", "b"])


def test_filter_timestamps_numerical() -> None:
    tags = ["main-3a4f6e7-1606234201", "main-b2c9e10-1606364286", "feature-x-1706364286", "latest"]
    policy = ImagePolicy(NumericalPolicy(), TagFilter(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract="$ts"))
    assert policy.latest(tags) == "main-b2c9e10-1606364286"


def test_duplicate_extracted_values_last_wins() -> None:
    kept = TagFilter(r"^(\d+)-", extract="$1").apply(["1-a", "1-b", "2-c"])
    assert kept == {"1": "1-b", "2": "2-c"}


# -- Go Regexp.Expand -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "template", "tag", "expected"),
    [
        (r"(\d+)-(?P<name>\w+)", "$1", "12-abc", "12"),
        (r"(\d+)-(?P<name>\w+)", "$name", "12-abc", "abc"),
        (r"(\d+)-(?P<name>\w+)", "${name}", "12-abc", "abc"),
        (r"(\d+)-(?P<name>\w+)", "$1x", "12-abc", ""),  # "$1x" is the group named "1x"
        (r"(\d+)-(?P<name>\w+)", "${1}x", "12-abc", "12x"),
        (r"(\d+)-(?P<name>\w+)", "$$1", "12-abc", "$1"),
        (r"(\d+)-(?P<name>\w+)", "v$1.$2", "12-abc", "v12.abc"),
        (r"(\d+)-(?P<name>\w+)", "$9", "12-abc", ""),  # no such group
        (r"(\d+)-(?P<name>\w+)", "${name", "12-abc", "${name"),  # malformed: kept
        (r"(\d+)-(?P<name>\w+)", "$-", "12-abc", "$-"),
        (r"(\d+)-(?P<name>\w+)", "$01", "12-abc", ""),  # leading zero: a name, not a number
        (r"(a)|(b)", "[$1][$2]", "b", "[][b]"),  # a group outside the match is empty
        (r"(?<year>\d{4})", "$year", "r2024", "2024"),  # Go 1.22's (?<name>) syntax
    ],
)
def test_expand(pattern: str, template: str, tag: str, expected: str) -> None:
    assert TagFilter(pattern, extract=template).apply([tag]) == {expected: tag}


# -- RE2 syntax ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?=x)",  # lookahead
        r"(?!x)",
        r"(?<=x)y",
        r"(?<!x)y",
        r"(a)\1",  # backreference
        r"a++",  # possessive
        r"a**",
        r"(?U)a+",  # ungreedy flag
        r"\pL",  # Unicode classes are valid RE2 but Python's re cannot express them
        r"\Z",
        r"a{1001}",
        r"[[:^alpha:]]",
        r"[[:nope:]]",
        r"(",
        r")",
        "\\",
    ],
)
def test_re2_rejections(pattern: str) -> None:
    with pytest.raises(RE2SyntaxError):
        compile_re2(pattern)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        (r"^v\d+$", ["v1", "v22"], ["v", "x1", "v\u0661"]),  # ASCII digits only, as RE2's \d
        (r"a{,2}", ["a{,2}"], ["aa"]),  # not a repeat in RE2: literal braces
        (r"^[[:alpha:]]+-[[:digit:]]+$", ["rel-12"], ["rel-x"]),
        (r"\Qa.b\E", ["a.b"], ["axb"]),
        (r"^a(?i)b$", ["aB", "ab"], ["AB"]),  # flags apply to the rest of the group
        (r"^(?i:A)b$", ["ab"], ["aB"]),
        (r"[a-c&&]", ["&", "b"], ["d"]),
        (r"^\x41\x{42}\101$", ["ABA"], ["AB"]),
        (r"^a\z", ["a"], ["a\n"]),
        (r"^(?s).$", ["\n"], []),
        (r"^[]a]+$", ["]a"], ["b"]),
    ],
)
def test_re2_translation(pattern: str, matches: list[str], misses: list[str]) -> None:
    rx = compile_re2(pattern)
    for text in matches:
        assert rx.search(text), (pattern, translate(pattern), text)
    for text in misses:
        assert not rx.search(text), (pattern, translate(pattern), text)
