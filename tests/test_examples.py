"""The examples run as shipped (the Quick start's main job is one of them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_memory_pipeline_example_heals_drift_and_applies_new_revisions() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "memory_pipeline.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert "2 created, 0 configured, 0 unchanged, 0 pruned" in lines[1]
    assert "1 drifted" in run.stdout
    assert "1 pruned" in run.stdout
    assert "Ready=True (ReconciliationSucceeded)" in run.stdout
    assert "'greeting': 'bonjour'" in run.stdout
