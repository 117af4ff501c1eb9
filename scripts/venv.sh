# Sourced by scripts/up and scripts/test: the repo's .venv, created with Python >= 3.11 if missing,
# with Playdeck installed into it in editable mode. Expects the repo root as the working directory.

playdeck_python_ok() {
    # Run the interpreter for real: a pyenv shim can exist and still fail ("command not found").
    # ensurepip too: without it (Debian's python3 without python3-venv) "-m venv" fails half-way.
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

ensure_venv() {
    if [ -x .venv/bin/python ] && playdeck_python_ok .venv/bin/python; then
        return
    fi
    local candidate
    # The distribution's interpreter first: distributions build it with profile-guided optimisation
    # and LTO, pyenv and a plain "./configure" do not. Measured on one machine (issue 7): a pure-Python
    # loop 1.6x faster, and an API request of the web 30 % less CPU, than pyenv's 3.11.
    for candidate in /usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.11 python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null && playdeck_python_ok "$candidate"; then
            echo "Creating .venv with $(command -v "$candidate") ($("$candidate" --version))"
            rm -rf .venv
            "$candidate" -m venv .venv
            return
        fi
    done
    echo "Playdeck needs Python 3.11 or newer with the venv module (Debian: apt-get install python3-venv)." >&2
    exit 1
}

# install_playdeck [EXTRAS]: editable install, so the checkout is what runs.
install_playdeck() {
    local target="."
    [ -n "${1:-}" ] && target=".[$1]"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
}
