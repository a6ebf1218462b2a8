#!/usr/bin/env bash
# Set up the development environment on a fresh machine: uv (from PyPI) and .venv (uv sync).
#
# Idempotent and quiet on success. Needs python3 (3.11 or 3.12) and network access to PyPI
# only: uv is installed with pip (or, without pip, from its wheel on PyPI), and uv is told
# never to download a Python interpreter.
#
# Environment: PYTHON3 (default python3); UV (a command that runs uv, tried first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON3="${PYTHON3:-python3}"
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
export UV_PROJECT_ENVIRONMENT=.venv   # the Makefile runs .venv/bin/...
export UV_NO_PROGRESS=1
unset VIRTUAL_ENV

say() { echo "bootstrap: $*" >&2; }
die() { say "$*"; exit 1; }

command -v "$PYTHON3" >/dev/null 2>&1 || die "$PYTHON3 not found; install Python 3.11 or 3.12"

user_bin() { "$PYTHON3" -c 'import site, os; print(os.path.join(site.getuserbase(), "bin"))'; }

# Print a command that runs uv (possibly several words), or fail.
find_uv() {
    local candidate
    if [[ -n "${UV:-}" ]] && ${UV} --version >/dev/null 2>&1; then echo "${UV}"; return 0; fi
    if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
        command -v uv; return 0
    fi
    for candidate in "$(user_bin 2>/dev/null)/uv" "$HOME/.local/bin/uv"; do
        if [[ -x "$candidate" ]] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    if "$PYTHON3" -m uv --version >/dev/null 2>&1; then echo "$PYTHON3 -m uv"; return 0; fi
    return 1
}

# Without pip (Debian's python3 without python3-pip): fetch uv's wheel from PyPI and unpack
# the uv binary into the user's bin directory.
install_uv_from_wheel() {
    local dest
    dest="$(user_bin)"
    "$PYTHON3" - "$dest" <<'PY'
import io, json, os, platform, stat, sys, urllib.request, zipfile

dest = sys.argv[1]
machine = platform.machine().lower()
arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
libc = "musllinux" if "musl" in (platform.libc_ver()[0] or "").lower() else "manylinux"
with urllib.request.urlopen("https://pypi.org/pypi/uv/json", timeout=60) as resp:
    files = json.load(resp)["urls"]
wheels = [
    f for f in files
    if f["packagetype"] == "bdist_wheel" and libc in f["filename"] and arch in f["filename"]
]
if not wheels:
    sys.exit(f"no uv wheel on PyPI for {libc} {arch}")
with urllib.request.urlopen(wheels[0]["url"], timeout=300) as resp:
    data = resp.read()
with zipfile.ZipFile(io.BytesIO(data)) as wheel:
    member = next(n for n in wheel.namelist() if n.endswith(".data/scripts/uv"))
    os.makedirs(dest, exist_ok=True)
    target = os.path.join(dest, "uv")
    with open(target + ".tmp", "wb") as out:
        out.write(wheel.read(member))
    os.chmod(target + ".tmp", os.stat(target + ".tmp").st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(target + ".tmp", target)
PY
}

install_uv() {
    local out pip=("$PYTHON3" -m pip install --quiet --disable-pip-version-check)
    say "uv not found; installing it from PyPI"
    if "$PYTHON3" -m pip --version >/dev/null 2>&1; then
        # --user first; PEP 668 ("externally managed") systems need --break-system-packages
        # even for --user; inside a virtualenv --user is refused, so plain install last.
        out="$("${pip[@]}" --user uv 2>&1)" \
            || out="$("${pip[@]}" --user --break-system-packages uv 2>&1)" \
            || out="$("${pip[@]}" uv 2>&1)" \
            || { echo "$out" >&2; die "pip could not install uv"; }
    else
        install_uv_from_wheel || die "could not install uv from PyPI (no pip either)"
    fi
}

UV_CMD="$(find_uv)" || { install_uv; UV_CMD="$(find_uv)" || die "uv was installed but cannot be run"; }
read -r -a uv <<<"$UV_CMD"

if [[ -f uv.lock ]]; then
    UV_COMPILE_BYTECODE=1 "${uv[@]}" sync --frozen --quiet
else
    UV_COMPILE_BYTECODE=1 "${uv[@]}" sync --quiet
fi

[[ -x .venv/bin/python ]] || die "uv sync did not create .venv/bin/python"
