#!/usr/bin/env bash
# Quick start, whole test suite: on a fresh clone, install everything the tests need and run them all.
#   bash tools/test.sh [pytest args...]
# Steps: system packages for the real test servers, a virtual environment with reconcilekit[dev], the envtest
# binaries (kube-apiserver built once into ~/.cache/reconcilekit and reused), then ruff, mypy --strict and
# pytest. Exits non-zero on any failure. With CI=true no real-server test may skip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS

bash tools/system-deps.sh
# shellcheck source=tools/venv.sh
source "$root/tools/venv.sh"
KUBEBUILDER_ASSETS="$(bash tools/envtest/build.sh | tail -n 1)"
export KUBEBUILDER_ASSETS
echo "setup: done in $((SECONDS - start)) s (envtest binaries in $KUBEBUILDER_ASSETS)" >&2

"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
"$venv/bin/python" -m pytest "$@"
