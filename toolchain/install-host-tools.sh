#!/usr/bin/env bash
# install-host-tools.sh: install what rcnn needs on an x86_64 Debian 12 (bookworm) or 13 (trixie) host:
# the host C/C++ compiler (pip builds the host ort_test), the riscv64 cross compiler, qemu user mode,
# cmake/ninja, the Debian archive keyring (for build-sysroot.sh) and, only if no usable one is on PATH,
# python3 with venv.
#
# Idempotent: checks first (command -v / files), runs apt-get (update + install) only for what is missing.
set -euo pipefail

readonly MIN_CMAKE=3.18      # cmake_minimum_required of the project
readonly MIN_PYTHON=3.10
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

usage() {
  cat <<EOF
Usage: toolchain/install-host-tools.sh [--check]

Installs with apt-get (only what is missing): g++ (host C/C++ compiler), qemu-user,
g++-riscv64-linux-gnu (with binutils-riscv64-linux-gnu), cmake (>= $MIN_CMAKE), ninja-build, debian-archive-keyring, and
python3 python3-venv python3-dev when no python3 >= $MIN_PYTHON with venv/ensurepip is on PATH.
Package names are the same on Debian 12 and 13.

  --check     only report what is missing; exit 1 if anything is
  -h, --help  show this help
EOF
}

die() { printf 'install-host-tools.sh: error: %s\n' "$*" >&2; exit 1; }

MISSING=()   # apt packages to install
REASONS=()   # why, for the report

want() {  # package reason
  local p
  for p in "${MISSING[@]}"; do [[ $p == "$1" ]] && return; done
  MISSING+=("$1")
  REASONS+=("$1 ($2)")
}

version_ge() {  # a b: a >= b (dpkg understands every version style we meet here)
  dpkg --compare-versions "$1" ge "$2"
}

check_cmake() {
  local v
  if ! command -v cmake >/dev/null; then
    want cmake "no cmake"
    return
  fi
  v=$(cmake --version | sed -n '1s/^cmake version \([0-9.]*\).*/\1/p')
  # An older cmake earlier on PATH would still shadow the package: say so rather than loop silently.
  if [[ -z $v ]] || ! version_ge "$v" "$MIN_CMAKE"; then
    want cmake "cmake ${v:-?} on PATH is older than $MIN_CMAKE"
  fi
}

# Usable = python3 >= 3.10 whose venv can bootstrap pip. Debian splits ensurepip into python3-venv,
# so "import ensurepip" fails without it and 'python3 -m venv' would then fail half way.
usable_python() {
  command -v python3 >/dev/null || return 1
  python3 - "$MIN_PYTHON" >/dev/null 2>&1 <<'EOF'
import sys, venv, ensurepip
ensurepip.version()
want = tuple(int(x) for x in sys.argv[1].split("."))
sys.exit(0 if sys.version_info[:2] >= want else 1)
EOF
}

collect_missing() {
  # Host C/C++ compiler for the host build (pip/scikit-build-core uses the gcc/g++ names Python was built with).
  command -v g++ >/dev/null && command -v gcc >/dev/null || want g++ "no host gcc/g++"
  command -v qemu-riscv64 >/dev/null || want qemu-user "no qemu-riscv64"
  command -v riscv64-linux-gnu-g++ >/dev/null || want g++-riscv64-linux-gnu "no riscv64-linux-gnu-g++"
  # GNU ld for riscv64: pulled in by g++-riscv64-linux-gnu; clang builds use it via -fuse-ld=bfd.
  command -v riscv64-linux-gnu-ld.bfd >/dev/null || want binutils-riscv64-linux-gnu "no riscv64-linux-gnu-ld.bfd"
  check_cmake
  command -v ninja >/dev/null || want ninja-build "no ninja"
  [[ -r $KEYRING ]] || want debian-archive-keyring "no $KEYRING"
  # build-sysroot.sh needs only essential tools: dpkg-deb (dpkg) unpacks xz/zstd .debs by itself, so
  # neither dpkg-dev nor xz-utils is required; flock is in util-linux.
  command -v dpkg-deb >/dev/null || want dpkg "no dpkg-deb"
  command -v flock >/dev/null || want util-linux "no flock"
  if ! usable_python; then
    want python3 "no python3 >= $MIN_PYTHON with venv on PATH"
    want python3-venv "python3 venv/ensurepip"
    want python3-dev "Python headers"
  elif ! python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    # The host build compiles a Python extension (rcnn._systolic) against this python3's headers.
    want python3-dev "no Python.h for $(command -v python3)"
  fi
}

# Runs a command as root: directly, or through sudo.
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "not root and no sudo: run as root: $*"
  fi
}

main() {
  local check_only=0
  case ${1:-} in
    "") ;;
    --check) check_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian 12/13 hosts"

  collect_missing
  if ((${#MISSING[@]} == 0)); then
    echo "host tools: all present (g++, qemu-riscv64, riscv64-linux-gnu-g++, cmake, ninja, keyring, python3)"
    return 0
  fi
  printf 'host tools: missing:\n'
  printf '  %s\n' "${REASONS[@]}"
  ((check_only)) && exit 1

  echo "installing: ${MISSING[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${MISSING[@]}"

  # Re-check: e.g. a too old cmake earlier on PATH still wins over the package just installed.
  MISSING=() REASONS=()
  collect_missing
  if ((${#MISSING[@]})); then
    printf '  %s\n' "${REASONS[@]}" >&2
    die "still missing after apt-get install (check PATH order)"
  fi
  echo "host tools: all present"
}

main "$@"
