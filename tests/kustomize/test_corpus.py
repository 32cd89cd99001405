"""Differential tests: reconcilekit.kustomize against ``kubectl kustomize`` (kustomize v5.5.0).

Every directory under ``cases/`` is one case: an input tree, an optional ``case.yaml`` (see
tools/record_kustomize_cases.py for its keys) and the recorded output of ``kubectl kustomize`` -
``expected.yaml`` for a build that succeeds, ``expected-error.txt`` for one that fails. The recordings are
committed, so the comparisons run where kubectl is absent; where it is present,
:func:`test_recordings_match_live_kubectl` re-runs it on every case to prove the recordings are current.

Checks per success case: the parsed documents of ``build()`` and of ``to_yaml(build())`` equal kubectl's, in
the same order (the contract); the text is byte-identical (the aim, kept as a separate test so a formatting
difference never hides a semantic one). Per error case: ``build()`` raises a ReconcileKitError naming the
file, and the CLI exits non-zero with nothing on stdout.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

import reconcilekit
from reconcilekit import kustomize

try:  # libyaml's parser when PyYAML was built with it: ~10x faster on the big expected files
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

CASES_DIR = Path(__file__).resolve().parent / "cases"
REPO_ROOT = CASES_DIR.parents[2]
KUSTOMIZE_VERSION = "v5.5.0"


# kustomize writes through go-yaml v3, whose plain scalars follow YAML 1.2 more than 1.1: only true/false
# (in three spellings) are booleans, there are no timestamps ("2001-12-14 21:59:43.10 -5" stays a string)
# and floats need no dot ("1e+20", "1e-07"). PyYAML's SafeLoader is YAML 1.1, so the expected output is
# read with a copy of it that has 1.2 booleans and floats and no timestamp resolver; everything else that
# is ambiguous is quoted by kustomize anyway.
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DROPPED_TAGS = {_BOOL_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp"}


class KustomizeOutputLoader(_BaseLoader):
    """Reads ``kubectl kustomize`` output with go-yaml v3's notion of plain scalars."""


KustomizeOutputLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
KustomizeOutputLoader.add_implicit_resolver(
    _BOOL_TAG,
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
KustomizeOutputLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def parse_documents(text: str) -> list[Any]:
    """The documents of a multi-document YAML stream, empty ones dropped (as kustomize reads them)."""
    return [doc for doc in yaml.load_all(text, Loader=KustomizeOutputLoader) if doc is not None]


@attrs.frozen
class Case:
    """One corpus case, read from its directory."""

    name: str
    directory: Path
    build_dir: Path
    error: bool
    mentions: tuple[str, ...]
    description: str

    @property
    def expected_text(self) -> str:
        return (self.directory / "expected.yaml").read_text(encoding="utf-8")

    @property
    def expected_documents(self) -> list[Any]:
        return parse_documents(self.expected_text)


def _read_case(directory: Path) -> Case:
    cfg_file = directory / "case.yaml"
    cfg: dict[str, Any] = {}
    if cfg_file.exists():
        cfg = yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}
    mentions = cfg.get("error_mentions", [])
    if isinstance(mentions, str):
        mentions = [mentions]
    return Case(
        name=directory.name,
        directory=directory,
        build_dir=directory / str(cfg.get("path", "input")),
        error=bool(cfg.get("error", False)),
        mentions=tuple(str(m) for m in mentions),
        description=str(cfg.get("description", "")),
    )


ALL_CASES = [_read_case(d) for d in sorted(CASES_DIR.iterdir()) if d.is_dir()]
SUCCESS_CASES = [c for c in ALL_CASES if not c.error]
ERROR_CASES = [c for c in ALL_CASES if c.error]


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in cases]


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        md = doc.get("metadata") or {}
        return f"{doc.get('kind')}/{md.get('namespace') or ''}/{md.get('name')}"
    return repr(doc)[:80]


def _assert_documents_equal(actual: list[Any], expected: list[Any], what: str) -> None:
    """Compare document lists and, on a difference, say which document and show a YAML diff of it."""
    if actual == expected:
        return
    got_ids = [_describe(d) for d in actual]
    want_ids = [_describe(d) for d in expected]
    if got_ids != want_ids:
        diff = "\n".join(difflib.unified_diff(want_ids, got_ids, "kubectl", what, lineterm=""))
        pytest.fail(f"{what}: documents differ in identity or order:\n{diff}")
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        if got != want:
            diff = "\n".join(
                difflib.unified_diff(
                    yaml.safe_dump(want, sort_keys=True, allow_unicode=True).splitlines(),
                    yaml.safe_dump(got, sort_keys=True, allow_unicode=True).splitlines(),
                    "kubectl",
                    what,
                    lineterm="",
                )
            )
            pytest.fail(f"{what}: document {i} ({want_ids[i]}) differs:\n{diff}")


def _text_diff(expected: str, actual: str, limit: int = 60) -> str:
    """A unified diff, cut at ``limit`` lines, plus the first differing lines as repr (shows whitespace)."""
    want, got = expected.splitlines(keepends=True), actual.splitlines(keepends=True)
    lines = list(difflib.unified_diff(want, got, "kubectl", "reconcilekit"))
    shown = "".join(line if line.endswith("\n") else line + "\\ no newline\n" for line in lines[:limit])
    if len(lines) > limit:
        shown += f"... {len(lines) - limit} more diff lines\n"
    first = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
    )
    w = want[first] if first < len(want) else "<end>"
    g = got[first] if first < len(got) else "<end>"
    return shown + f"first difference at line {first + 1}: kubectl {w!r} vs reconcilekit {g!r}\n"


def test_corpus_is_well_formed() -> None:
    """Every case has exactly the recording its case.yaml promises, and enough cases exist."""
    assert len(SUCCESS_CASES) >= 40
    assert len(ERROR_CASES) >= 8
    problems = []
    for case in ALL_CASES:
        has_ok = (case.directory / "expected.yaml").exists()
        has_err = (case.directory / "expected-error.txt").exists()
        if not case.build_dir.is_dir():
            problems.append(f"{case.name}: build dir {case.build_dir} missing")
        if case.error and (has_ok or not has_err):
            problems.append(f"{case.name}: error case needs expected-error.txt only")
        if not case.error and (has_err or not has_ok):
            problems.append(f"{case.name}: success case needs expected.yaml only")
        if case.error and not case.mentions:
            problems.append(f"{case.name}: error case without error_mentions")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", _params(SUCCESS_CASES))
def test_build_documents_equal_kubectl(case: Case) -> None:
    """The contract: same documents, same order, as ``kubectl kustomize``."""
    expected = case.expected_documents
    resources = kustomize.build(case.build_dir)
    assert isinstance(resources, reconcilekit.ResourceSet)
    _assert_documents_equal([dict(r.body) for r in resources], expected, "build()")
    _assert_documents_equal(parse_documents(kustomize.to_yaml(resources)), expected, "to_yaml(build())")


@pytest.mark.parametrize("case", _params(SUCCESS_CASES))
def test_output_bytes_identical_to_kubectl(case: Case) -> None:
    """The aim: byte-identical text (key order, quoting, block scalars, line folding)."""
    actual = kustomize.to_yaml(kustomize.build(case.build_dir))
    expected = case.expected_text
    if actual != expected:
        pytest.fail(f"output text differs from kubectl's:\n{_text_diff(expected, actual)}")


def _mentions_missing(case: Case, text: str) -> list[str]:
    # "a|b" accepts either spelling (kustomize and the engine may name a cycle by either end).
    return [m for m in case.mentions if not any(alt in text for alt in m.split("|"))]


@pytest.mark.parametrize("case", _params(ERROR_CASES))
def test_error_raises_typed_error_naming_the_file(case: Case) -> None:
    """Bad input raises a ReconcileKitError (a ValidationError) whose message names the file."""
    with pytest.raises(reconcilekit.ReconcileKitError) as info:
        kustomize.build(case.build_dir)
    assert isinstance(info.value, reconcilekit.ValidationError), type(info.value)
    message = str(info.value)
    assert not _mentions_missing(case, message), (
        f"message lacks {_mentions_missing(case, message)}: {message}"
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, "-m", "reconcilekit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize("case", _params(ERROR_CASES))
def test_cli_error_exits_nonzero_with_empty_stdout(case: Case) -> None:
    """``python -m reconcilekit build`` on bad input: non-zero exit, nothing on stdout, the file on stderr."""
    proc = _cli("build", str(case.build_dir))
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not _mentions_missing(case, proc.stderr), f"stderr lacks {_mentions_missing(case, proc.stderr)}"


CLI_SAMPLE = ["01-resources-single-file", "45-full-stack-three-levels", "53-empty-and-comment-only"]


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_build_prints_the_same_documents(name: str) -> None:
    """The CLI writes what ``to_yaml(build())`` returns, and exits 0."""
    case = next(c for c in SUCCESS_CASES if c.name == name)
    proc = _cli("build", str(case.build_dir))
    assert proc.returncode == 0, proc.stderr
    _assert_documents_equal(parse_documents(proc.stdout), case.expected_documents, "CLI stdout")
    assert proc.stdout == kustomize.to_yaml(kustomize.build(case.build_dir))


def test_console_script_builds() -> None:
    """The installed ``reconcilekit`` command (next to the interpreter) is the same CLI."""
    script = Path(sys.executable).with_name("reconcilekit")
    if not script.exists():
        _skip_or_fail(f"no console script at {script} (package not installed with its entry points)")
    case = SUCCESS_CASES[0]
    proc = subprocess.run(
        [str(script), "build", str(case.build_dir)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert parse_documents(proc.stdout) == case.expected_documents


def _skip_or_fail(message: str) -> None:
    # Outside CI a missing tool is a reason to skip; in CI (CI=true) nothing may skip silently.
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        _skip_or_fail(f"kubectl (kustomize {KUSTOMIZE_VERSION}) is not on PATH: recordings not checked live")
        raise AssertionError("unreachable")
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, check=False)
    if f"Kustomize Version: {KUSTOMIZE_VERSION}" not in version.stdout:
        _skip_or_fail(f"kubectl bundles another kustomize than {KUSTOMIZE_VERSION}:\n{version.stdout}")
    return kubectl


def _run_kubectl(kubectl: str, case: Case) -> tuple[Case, subprocess.CompletedProcess[bytes]]:
    rel = case.build_dir.relative_to(case.directory)
    proc = subprocess.run(
        [kubectl, "kustomize", str(rel)], cwd=case.directory, capture_output=True, timeout=120, check=False
    )
    return case, proc


def test_recordings_match_live_kubectl() -> None:
    """Guards the recordings: kubectl, run now on every case, prints exactly what was recorded.

    One test over all cases, in a few threads, so the ~75 kubectl runs cost a few seconds. Error cases
    only need kubectl to fail (its wording is not part of the contract).
    """
    kubectl = _kubectl()
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for case, proc in pool.map(lambda c: _run_kubectl(kubectl, c), ALL_CASES):
            if case.error:
                if proc.returncode == 0:
                    problems.append(f"{case.name}: kubectl succeeded but the case expects an error")
            elif proc.returncode != 0:
                problems.append(f"{case.name}: kubectl failed: {proc.stderr.decode(errors='replace')}")
            elif proc.stdout != (case.directory / "expected.yaml").read_bytes():
                problems.append(f"{case.name}: expected.yaml is stale (run tools/record_kustomize_cases.py)")
    assert not problems, "\n".join(problems)
