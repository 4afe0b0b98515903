#!/usr/bin/env bash
# Sets up everything rcnn needs on a Debian 12 or 13 machine (root, or sudo-less apt as root); idempotent, and
# quick when nothing changed. Steps: host tools (apt) → riscv64 sysroot (Debian trixie .debs, locked) → .venv with
# the package (pip builds the host C++) → riscv64 C++ build (cross-compiled, runs under qemu-riscv64).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
start=$SECONDS
step() { printf '\n== setup: %s\n' "$*"; }

step "host tools"
toolchain/install-host-tools.sh

step "riscv64 sysroot"
toolchain/build-sysroot.sh

step "python environment (.venv) and host build"
[ -x .venv/bin/python ] || python3 -m venv .venv
# Build requirements first so the editable install can reuse this venv (no isolated rebuild of the build env).
.venv/bin/python -m pip install -q --disable-pip-version-check "scikit-build-core>=0.10" "pybind11>=2.13" onnxruntime==1.31.1
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e '.[test,models]'

step "riscv64 build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
[ -f build/riscv64/CMakeCache.txt ] ||
  cmake -S . -B build/riscv64 "${generator[@]}" --toolchain toolchain/riscv64.cmake -DRCNN_SYSROOT="$PWD/build/sysroot"
cmake --build build/riscv64 -j "$(nproc)"

printf '\n== setup: done in %ss\n' "$((SECONDS - start))"
