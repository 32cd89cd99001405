#!/usr/bin/env bash
# Quick start, main job: set up a virtual environment on a fresh clone and run the default pipeline.
#   bash tools/run.sh [python-script [args...]]     (default: examples/memory_pipeline.py)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/venv.sh
source "$root/tools/venv.sh"
cd "$root"
if [[ $# -eq 0 ]]; then
    set -- examples/memory_pipeline.py
fi
exec "$venv/bin/python" "$@"
