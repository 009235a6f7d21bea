# Sourced by the scripts: make sure .venv exists and holds the project with its dev extras.
# The install is skipped while pyproject.toml is unchanged since the last one.

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$_root/.venv}"

_python_for_venv() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

venv_ready() {
    if [ ! -x "$VENV/bin/python" ]; then
        local python
        python="$(_python_for_venv)" || return 1
        echo "==> creating $VENV with $python"
        "$python" -m venv "$VENV" || return 1
    fi
    local stamp="$VENV/.authsuite-installed" want
    want="$(cat "$_root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> pip install -e \".[dev]\""
        (cd "$_root" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -e ".[dev]") || return 1
        echo "$want" >"$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}
