#!/usr/bin/env bash
# Sets up everything rcnn needs on a Debian 12 or 13 machine (root, or sudo-less apt as root); idempotent, and
# quick when nothing changed. Steps: host tools (apt) → riscv64 sysroot (Debian testing, else unstable, .debs with
# ONNX Runtime >= 1.23, locked; re-resolved by itself when a pinned .deb left the mirror) → .venv with the package
# (pip builds the host C++) → riscv64 C++ build (cross-compiled, runs under qemu-riscv64).
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
clean=()
# -DRCNN_WERROR=ON as the tests configure it (tests/test_ctest.py), so that their configure changes no flag and
# rebuilds nothing; the code compiles without warnings on Debian 12's and 13's cross compilers.
if [ ! -f build/riscv64/CMakeCache.txt ]; then
  cmake -S . -B build/riscv64 "${generator[@]}" --toolchain toolchain/riscv64.cmake -DRCNN_SYSROOT="$PWD/build/sysroot" \
    -DRCNN_WERROR=ON
elif ! grep -q '^RCNN_WERROR:BOOL=ON$' build/riscv64/CMakeCache.txt; then
  cmake -S . -B build/riscv64 -DRCNN_WERROR=ON
elif [ build/sysroot/.rcnn-sysroot-stamp -nt build/riscv64/CMakeCache.txt ]; then
  # A new sysroot (other ORT/GCC/glibc versions): its files keep the .debs' old mtimes, so neither cmake nor ninja
  # would notice. Reconfigure (the toolchain refreshes its cached -L) and rebuild everything against it.
  cmake -S . -B build/riscv64
  clean=(--clean-first)
fi
cmake --build build/riscv64 -j "$(nproc)" "${clean[@]}"

printf '\n== setup: done in %ss\n' "$((SECONDS - start))"
