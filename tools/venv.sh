# Sourced by tools/run.sh and tools/test.sh: create (or reuse) the project's virtual environment and install
# reconcilekit with its dev extra into it. Sets $venv.
venv="${RECONCILEKIT_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    "$python" -m venv "$venv"
fi
stamp="$venv/.reconcilekit-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: installing reconcilekit[dev] into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$root[dev]"
    echo "$want" > "$stamp"
fi
