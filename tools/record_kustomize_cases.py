"""Re-record the expected output of the kustomize differential corpus with ``kubectl kustomize``.

Each case is a directory ``tests/kustomize/cases/<NN-name>/`` holding an input tree and, optionally, a
``case.yaml`` with:

``path``
    the directory to build, relative to the case directory (default ``input``).
``error``
    ``true`` when the build must fail; the recorder refuses to record a success for such a case (and
    the reverse), so a typo in the input cannot silently turn an error case into a success case.
``error_mentions``
    strings the engine's error message (and the CLI's stderr) must all contain, usually a file name and
    the object concerned; ``a|b`` accepts either.
``description``
    what the case covers, for people.

A success case gets ``expected.yaml`` (kubectl's exact stdout); an error case gets ``expected-error.txt``
(kubectl's stderr, for reference only: the engine's wording differs; klog's timestamp prefix and the
absolute case path are normalised away so re-recording gives stable files). The files are committed, so
the tests still compare against kustomize where kubectl is absent.

Usage::

    python tools/record_kustomize_cases.py            # every case
    python tools/record_kustomize_cases.py 05 14-foo  # cases whose name starts with one of these
    python tools/record_kustomize_cases.py --check    # compare only, exit 1 on any difference
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CASES = Path(__file__).resolve().parent.parent / "tests" / "kustomize" / "cases"
EXPECTED = "expected.yaml"
EXPECTED_ERROR = "expected-error.txt"
# The version the recordings come from; a different kubectl may format or order things differently.
KUSTOMIZE_VERSION = "v5.5.0"


# klog's line prefix: severity, date, time, pid, source ("E1126 05:31:09.958989   26726 run.go:72] ").
_KLOG_PREFIX = re.compile(rb"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ \S+:\d+\] ", re.MULTILINE)


def normalise_stderr(case: Path, stderr: bytes) -> bytes:
    """kubectl's stderr without klog prefixes or Go pointers, the case's absolute path as ``<case>``."""
    text = _KLOG_PREFIX.sub(b"", stderr)
    # Go prints some values as pointers ("&{0xc000952000 <nil>}"), different on every run.
    text = re.sub(rb"0xc[0-9a-f]{9,}", b"0xPTR", text)
    return text.replace(str(case.resolve()).encode(), b"<case>")


def case_config(case: Path) -> dict[str, Any]:
    """The case's ``case.yaml`` (empty when absent)."""
    cfg_file = case / "case.yaml"
    if not cfg_file.exists():
        return {}
    cfg = yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}
    if not isinstance(cfg, dict):
        raise SystemExit(f"{cfg_file}: expected a mapping")
    unknown = set(cfg) - {"path", "error", "error_mentions", "description"}
    if unknown:
        raise SystemExit(f"{cfg_file}: unknown keys {sorted(unknown)}")
    return cfg


def build_dir(case: Path) -> Path:
    """The directory ``kubectl kustomize`` is run on."""
    return case / str(case_config(case).get("path", "input"))


def run_kubectl(case: Path, kubectl: str = "kubectl") -> subprocess.CompletedProcess[bytes]:
    """Run ``kubectl kustomize`` on the case, from the case directory so messages hold relative paths."""
    rel = build_dir(case).relative_to(case)
    return subprocess.run(
        [kubectl, "kustomize", str(rel)], cwd=case, capture_output=True, timeout=120, check=False
    )


def record(case: Path, kubectl: str, check: bool) -> str | None:
    """Record (or with ``check`` compare) one case; returns a problem description or ``None``."""
    cfg = case_config(case)
    want_error = bool(cfg.get("error", False))
    proc = run_kubectl(case, kubectl)
    failed = proc.returncode != 0
    if failed != want_error:
        what = proc.stderr.decode(errors="replace").strip() if failed else "succeeded"
        return f"{case.name}: case.yaml says error={want_error} but kubectl {what}"
    if failed:
        name, data = EXPECTED_ERROR, normalise_stderr(case, proc.stderr)
    else:
        name, data = EXPECTED, proc.stdout
    target = case / name
    other = case / (EXPECTED if failed else EXPECTED_ERROR)
    if check:
        if not target.exists() or target.read_bytes() != data:
            return f"{case.name}: {name} differs from kubectl's output"
        return None
    target.write_bytes(data)
    other.unlink(missing_ok=True)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "prefixes", nargs="*", help="only cases whose directory name starts with one of these"
    )
    parser.add_argument("--check", action="store_true", help="compare with the recordings, write nothing")
    parser.add_argument("--kubectl", default="kubectl", help="kubectl binary (default: from PATH)")
    args = parser.parse_args(argv)
    kubectl = shutil.which(args.kubectl)
    if kubectl is None:
        sys.stderr.write(f"{args.kubectl} not found on PATH\n")
        return 2
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, check=False)
    if f"Kustomize Version: {KUSTOMIZE_VERSION}" not in version.stdout:
        sys.stderr.write(f"warning: recordings come from kustomize {KUSTOMIZE_VERSION}; kubectl says:\n")
        sys.stderr.write(version.stdout)
    cases = sorted(p for p in CASES.iterdir() if p.is_dir())
    if args.prefixes:
        cases = [c for c in cases if any(c.name.startswith(p) for p in args.prefixes)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(lambda c: record(c, kubectl, args.check), cases) if p]
    for problem in problems:
        sys.stderr.write(problem + "\n")
    sys.stdout.write(
        f"{len(cases) - len(problems)}/{len(cases)} cases {'match' if args.check else 'recorded'}\n"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
