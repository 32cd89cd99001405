"""The ``reconcilekit`` command: ``build`` output, errors, and a light start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconcilekit.cli import main
from reconcilekit.kustomize import build, to_yaml

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n"


@pytest.fixture
def kust(tmp_path: Path) -> Path:
    (tmp_path / "cm.yaml").write_text(CM)
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: p-\n")
    return tmp_path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconcilekit", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_module_build_prints_to_yaml(kust: Path) -> None:
    proc = run("build", str(kust))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == to_yaml(build(kust))
    assert "name: p-cm" in proc.stdout


def test_build_defaults_to_current_directory(kust: Path) -> None:
    proc = run("build", cwd=kust)
    assert proc.returncode == 0, proc.stderr
    assert "name: p-cm" in proc.stdout


def test_error_prints_nothing_on_stdout_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    proc = run("build", str(tmp_path))
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "missing.yaml" in proc.stderr


def test_malformed_resource_after_good_ones_prints_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CM)
    (tmp_path / "b.yaml").write_text("kind: [\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml, b.yaml]\n")
    proc = run("build", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "b.yaml" in proc.stderr


def test_main_in_process(kust: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(kust)]) == 0
    out, err = capsys.readouterr()
    assert out == to_yaml(build(kust))
    assert err == ""


def test_main_writes_output_file_only_on_success(kust: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    assert main(["build", str(kust), "-o", str(target)]) == 0
    assert target.read_text() == to_yaml(build(kust))


def test_load_restrictor_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shared.yaml").write_text(CM)
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text("resources: [../shared.yaml]\n")
    assert main(["build", str(app)]) == 1
    assert "is not in or below" in capsys.readouterr().err
    assert main(["build", str(app), "--load-restrictor", "LoadRestrictionsNone"]) == 0
    assert "name: cm" in capsys.readouterr().out


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "build" in capsys.readouterr().err


def test_console_script_is_installed(kust: Path) -> None:
    script = Path(sys.executable).with_name("reconcilekit")
    if not script.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{script} is missing: install the package (pip install -e .) in CI")
        pytest.skip("the reconcilekit console script is not installed next to this interpreter")
    proc = subprocess.run([str(script), "build", str(kust)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "name: p-cm" in proc.stdout


def test_start_up_does_not_import_cluster_or_git_clients(kust: Path) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['reconcilekit', 'build', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('reconcilekit', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes_asyncio', 'pygit2'))\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(kust)], capture_output=True, text=True, check=False
    )
    assert proc.stderr.endswith("[]"), proc.stderr
