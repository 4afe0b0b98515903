#!/usr/bin/env bash
# build-sysroot.sh: assemble the riscv64 sysroot (one Debian suite's packages: ONNX Runtime >= 1.23 with the
# plugin-EP API, glibc, libstdc++ and the -dev of the suite's default GCC, stb) that toolchain/riscv64.cmake
# compiles against and qemu-riscv64 -L runs with.
#
# apt runs with a private configuration (own sources list, state, cache, empty dpkg status, riscv64 only),
# so the host's apt/dpkg state is never touched. The suite, versions and .deb checksums are pinned in
# toolchain/sysroot.lock; downloaded .debs are cached outside the repository so fresh clones re-use them.
#
# Suites. Debian stable (trixie) has only ORT 1.21, so the sysroot comes from testing, else unstable:
#   - testing first: its packages migrated from unstable after a few days without release-critical bugs and
#     only with their whole dependency set (library transitions such as abseil/re2 land in testing at once),
#     so its closure is installable more often and its versions change less often (the lock stays valid longer);
#   - unstable second: when testing has no installable ORT >= the minimum (removed from testing for a bug,
#     or a newer ORT still waiting to migrate), unstable usually has it.
# The aliases (not the codenames forky/sid) are used so that the lock follows Debian's moving targets.
# The sysroot is always ONE suite's whole closure: packages of different suites are never mixed
# (same-named libraries such as libre2-11 are built against different abseil ABIs).
#
# Self-recovery. Testing and unstable drop superseded versions from the mirror (no snapshot archive is
# reachable), so a lock goes stale. When a pinned .deb is neither cached nor on the mirror (gone from the
# signed index, or a 404), the script re-resolves within the allowed suites in order, rewrites the lock,
# prints what changed and builds: the run still succeeds. It fails (one line, exit 1) only when no allowed
# suite has an installable ONNX Runtime >= the minimum.
set -euo pipefail

# Allowed suites, tried in this order, and the minimum ONNX Runtime (1.23: first release whose plugin-EP API
# can run a graph, ORT_API_VERSION 23). Both overridable through the environment (documented in --help).
readonly DEFAULT_SUITES="testing unstable"
readonly DEFAULT_MIN_ORT=1.23
readonly ARCH=riscv64
readonly TRIPLET=riscv64-linux-gnu
# Root packages; the lock holds their full dependency closure (Depends/Pre-Depends, no Recommends).
# @ORT@ = the newest libonnxruntimeX.Y (X.Y >= minimum) of the suite, found in its index (the package name
# changes with every ORT release); @GCC@ = the major version of the suite's default GCC (from the
# Depends of its g++ metapackage), so that libstdc++-N-dev/libgcc-N-dev match the suite's libstdc++6.
# libonnxruntime-providers (needed to load ORT >= 1.23) comes in as a dependency of the runtime.
readonly ROOT_TEMPLATE=(@ORT@ libonnxruntime-dev libc6 libc6-dev libstdc++6 libstdc++-@GCC@-dev
                        libgcc-s1 libgcc-@GCC@-dev linux-libc-dev libstb-dev)
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Bump when extraction/pruning changes, so existing sysroots are rebuilt although the lock is unchanged.
# 2: suites testing/unstable with ORT >= 1.23 (replaces the trixie/ORT 1.21 sysroots of layout 1).
readonly LAYOUT=2
readonly STAMP_NAME=.rcnn-sysroot-stamp

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
LOCK=${RCNN_SYSROOT_LOCK:-$SCRIPT_DIR/sysroot.lock}
APT_ETC=/etc/apt   # the host's apt configuration (tests that source this file point it elsewhere)
START=$EPOCHREALTIME

usage() {
  cat <<EOF
Usage: toolchain/build-sysroot.sh [--dest DIR] [--update] [--cache DIR] [--lock FILE]

Build the riscv64 sysroot from the Debian packages pinned in toolchain/sysroot.lock: one suite's
(first of: $DEFAULT_SUITES) ONNX Runtime >= $DEFAULT_MIN_ORT runtime and -dev, glibc, libstdc++ and the -dev of
the suite's default GCC, libgcc, linux-libc-dev, stb, and their dependency closure. Root template:
  ${ROOT_TEMPLATE[*]}
A second run with an unchanged lock is a quick no-op (no network).

When a pinned package has left the mirror (testing/unstable drop superseded versions), or the lock
is for another suite, ORT or root set, the closure is re-resolved by itself (as with --update), the
lock rewritten, the changes printed (+ added, - removed, ~ changed) and the sysroot built: exit 0.
Exit 1 with a one-line error only if no allowed suite has an installable ONNX Runtime >= the minimum.

Options:
  --dest DIR    sysroot to create (default: \$RCNN_SYSROOT, else <repo>/build/sysroot).
                Private apt state goes to DIR-apt (beside it, never inside).
  --update      re-resolve the closure from the mirror's current indices, rewrite the lock, build.
  --cache DIR   where downloaded .debs are kept (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/rcnn/debs).
  --lock FILE   the lock to read and (re)write (default: \$RCNN_SYSROOT_LOCK, else toolchain/sysroot.lock).
  -h, --help    show this help.

Environment:
  RCNN_SYSROOT          default for --dest
  RCNN_SYSROOT_LOCK     default for --lock
  RCNN_SYSROOT_SUITES   allowed Debian suites, in the order tried (default: "$DEFAULT_SUITES")
  RCNN_SYSROOT_MIN_ORT  minimum ONNX Runtime version X.Y (default: $DEFAULT_MIN_ORT)
  RCNN_DEBIAN_MIRROR    Debian archive URI to use instead of the one in the host's apt sources

The mirror is read from the host's apt sources (deb822 *.sources or one-line *.list); signatures are
checked with $KEYRING.
EOF
}

# ---------------------------------------------------------------------------------------------- helpers

log() {  # progress line with the elapsed time since start
  printf '[%5.1fs] %s\n' "$(elapsed)" "$*"
}
warn() { printf 'build-sysroot.sh: warning: %s\n' "$*" >&2; }
die() { printf 'build-sysroot.sh: error: %s\n' "$*" >&2; exit 1; }

elapsed() {
  awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

mb() {  # bytes -> "12.3 MB"
  awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'
}

fetched() {  # "9528 kB downloaded" from apt's "Fetched 9528 kB in 1s" log line
  sed -n 's/^Fetched \(.*\) in .*/\1 downloaded/p' "$1" | tail -n 1 | grep . || echo "unchanged"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Runs a command with its output in a log file; on failure shows the log's end and stops.
run_logged() {  # logfile what command...
  local logfile=$1 what=$2
  shift 2
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 15 "$logfile" >&2
    die "$what failed (full log: $logfile)"
  fi
}

require_tools() {
  local t missing=()
  for t in apt-get apt-cache apt-config dpkg-deb sha256sum flock realpath du awk; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing host tools: ${missing[*]} (run toolchain/install-host-tools.sh)"
}

# ---------------------------------------------------------------------------------------------- mirror

# Debian suites (codename or alias, optionally -updates/-backports): distinguishes the Debian archive
# from third-party repositories (nodesource, cloud SDKs, ...) that may also appear in the host's sources.
readonly DEBIAN_SUITE_RE='^(oldoldstable|oldstable|stable|testing|unstable|sid|experimental|buster|bullseye|bookworm|trixie|forky|duke)(-updates|-backports|-backports-sloppy|-proposed-updates)?$'

# awk helpers shared by both source formats. A stanza/line is usable when all its suites are Debian
# suites that are not security ones and the URI is not the debian-security archive (different layout).
readonly AWK_SUITES='
function usable_suites(s,   n, a, i, ok) {
  n = split(s, a, /[ \t]+/); ok = 0
  for (i = 1; i <= n; i++) {
    if (a[i] == "") continue
    if (a[i] ~ /-security$/ || a[i] ~ /\/updates$/) return 0
    if (a[i] ~ re) ok = 1
  }
  return ok
}
function first_uri(u,   n, a, i) {
  n = split(u, a, /[ \t]+/)
  for (i = 1; i <= n; i++) if (a[i] != "" && a[i] !~ /debian-security/) return a[i]
  return ""
}'

# Prints the first usable archive URI of a deb822 .sources file (stanzas separated by blank lines,
# "Field: value", continuation lines start with white space, "Enabled: no" disables a stanza).
uri_from_deb822() {
  awk -v re="$DEBIAN_SUITE_RE" "$AWK_SUITES"'
    function flush(   uri) {
      gsub(/[ \t]/, "", enabled)
      if (!done && (" " types " ") ~ /[ \t]deb[ \t]/ && tolower(enabled) !~ /^(no|false)$/ && usable_suites(suites)) {
        uri = first_uri(uris)
        if (uri != "") { print uri; done = 1 }
      }
      types = uris = suites = enabled = field = ""
    }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ {
      if (field == "types") types = types " " $0
      else if (field == "uris") uris = uris " " $0
      else if (field == "suites") suites = suites " " $0
      next
    }
    index($0, ":") > 0 {
      field = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
      if (field == "types") types = val
      else if (field == "uris") uris = val
      else if (field == "suites") suites = val
      else if (field == "enabled") enabled = val
    }
    END { flush() }
  ' "$1"
}

# Prints the first usable archive URI of a one-line-format file: "deb [opts] URI SUITE COMPONENTS...".
uri_from_one_line() {
  awk -v re="$DEBIAN_SUITE_RE" "$AWK_SUITES"'
    /^[ \t]*deb[ \t]/ {
      line = $0; sub(/^[ \t]*deb[ \t]+/, "", line); opts = ""
      if (line ~ /^\[/) { opts = substr(line, 2, index(line, "]") - 2); line = substr(line, index(line, "]") + 1) }
      if (opts ~ /enabled=no/) next
      sub(/^[ \t]+/, "", line); n = split(line, f, /[ \t]+/)
      if (n >= 2 && f[1] !~ /debian-security/ && usable_suites(f[2])) { print f[1]; exit }
    }
  ' "$1"
}

# Sets MIRROR and MIRROR_FROM: RCNN_DEBIAN_MIRROR, else the first usable entry of the host's sources in
# apt's own reading order (sources.list, then sources.list.d/ sorted). apt ignores files with other
# extensions (*.disabled, *.save, ...), and so do we.
find_mirror() {
  if [[ -n ${RCNN_DEBIAN_MIRROR:-} ]]; then
    MIRROR=$RCNN_DEBIAN_MIRROR MIRROR_FROM=RCNN_DEBIAN_MIRROR
    return
  fi
  local f uri
  for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*; do
    [[ -f $f ]] || continue
    case $f in
      */sources.list | *.list) uri=$(uri_from_one_line "$f") ;;
      *.sources) uri=$(uri_from_deb822 "$f") ;;
      *) continue ;;
    esac
    if [[ -n $uri ]]; then
      MIRROR=$uri MIRROR_FROM=$f
      return
    fi
  done
  die "no Debian mirror found in $APT_ETC/sources.list or $APT_ETC/sources.list.d/*.{list,sources}; set RCNN_DEBIAN_MIRROR (e.g. http://deb.debian.org/debian)"
}

ensure_keyring() {
  [[ -r $KEYRING ]] && return
  if ((EUID == 0)); then
    log "installing debian-archive-keyring ($KEYRING is missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debian-archive-keyring >/dev/null ||
      die "could not install debian-archive-keyring; install it by hand (apt-get install debian-archive-keyring)"
    [[ -r $KEYRING ]] || die "$KEYRING still missing after installing debian-archive-keyring"
  else
    die "$KEYRING is missing: run 'sudo apt-get install debian-archive-keyring'"
  fi
}

# ---------------------------------------------------------------------------------------------- private apt

# Selects SUITE's private apt state ($APT_BASE/<suite>) and sets APT_DIR and APT_OPTS: every path apt reads
# or writes points into $APT_DIR, the dpkg status is empty and the only architecture is riscv64. One state
# per suite, so that an index never sees another suite's packages (no mixing). The host's apt.conf.d is
# still read on purpose (proxy, TLS, validity settings of this network), but everything that would change
# what we fetch or resolve is overridden.
use_suite() {
  SUITE=$1
  APT_DIR=$APT_BASE/$SUITE
  if ((!APT_READY)); then
    find_mirror
    log "mirror: $MIRROR (from $MIRROR_FROM)"
    ensure_keyring
    APT_READY=1
  fi
  mkdir -p "$APT_DIR"/{etc/parts.d,state/lists/partial,cache/archives/partial,log}
  : >"$APT_DIR/state/status"
  : >"$APT_DIR/etc/preferences"
  printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$APT_DIR/etc/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT_DIR/etc/sources.list"
    -o "Dir::Etc::SourceParts=$APT_DIR/etc/parts.d"
    -o "Dir::Etc::Preferences=$APT_DIR/etc/preferences"
    -o "Dir::Etc::PreferencesParts=$APT_DIR/etc/parts.d"
    -o "Dir::State=$APT_DIR/state"
    -o "Dir::State::Lists=$APT_DIR/state/lists"
    -o "Dir::State::status=$APT_DIR/state/status"
    -o "Dir::State::extended_states=$APT_DIR/state/extended_states"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Cache::Archives=$APT_DIR/cache/archives"
    -o "Dir::Cache::pkgcache="     # no 2x40 MB binary caches: building them in memory is as fast
    -o "Dir::Cache::srcpkgcache="
    -o "Dir::Log=$APT_DIR/log"
    -o "APT::Architecture=$ARCH"
    -o "APT::Architectures=$ARCH"
    -o "APT::Default-Release="
    -o "APT::Install-Recommends=false"
    -o "APT::Install-Suggests=false"
    -o "Acquire::Languages=none"
    -o "APT::Sandbox::User=root"   # as root: no "_apt cannot access" warnings for our private dirs
    -o "Debug::NoLocking=1"        # private state: never take (or wait for) the host's dpkg/apt locks
  )
  # Fetch only Packages indices: the host may enable extra index targets (apt-file Contents, appstream
  # DEP-11, ...) that would download tens of MB we never use.
  local t
  for t in $(apt-config dump | sed -n 's/^Acquire::IndexTargets::deb::\([^: ]*\) .*/\1/p' | sort -u); do
    [[ $t == Packages ]] || APT_OPTS+=(-o "Acquire::IndexTargets::deb::$t::DefaultEnabled=false")
  done
}

# Fetches the current SUITE's index (once per run and suite). apt is set up only when needed: a build from
# fully cached .debs works offline and without any apt sources on the host.
apt_update() {
  [[ -n ${APT_UPDATED[$SUITE]:-} ]] && return
  log "apt-get update: $MIRROR $SUITE main ($ARCH)"
  if ! apt-get "${APT_OPTS[@]}" -q update >"$APT_DIR/log/update.log" 2>&1; then
    # A mirror or proxy cache that lags behind serves a Release file past its Valid-Until (testing's and
    # unstable's expire within days). Its signature is still checked, and every .deb is pinned by sha256 in the
    # lock, so an out-of-date index can only make the resolution older, never feed us other bytes: retry once.
    grep -q 'is expired' "$APT_DIR/log/update.log" || { tail -n 15 "$APT_DIR/log/update.log" >&2
      die "apt-get update ($SUITE) failed (full log: $APT_DIR/log/update.log)"; }
    log "note: $MIRROR serves an expired $SUITE Release file; retrying without the Valid-Until check"
    APT_OPTS+=(-o "Acquire::Check-Valid-Until=false")
    run_logged "$APT_DIR/log/update.log" "apt-get update ($SUITE)" apt-get "${APT_OPTS[@]}" -q update
  fi
  # apt only warns (exit 0) about some fetch failures; without an index nothing below can work.
  compgen -G "$APT_DIR/state/lists/*_${SUITE}_main_binary-${ARCH}_Packages*" >/dev/null ||
    die "no $SUITE/main/$ARCH index fetched from $MIRROR (see $APT_DIR/log/update.log)"
  log "index: $(fetched "$APT_DIR/log/update.log")"
  APT_UPDATED[$SUITE]=1
}

# Prints "name version sha256 size arch" for each given name=version found in the index (first record).
index_records() {
  apt-cache "${APT_OPTS[@]}" show "$@" 2>/dev/null | awk '
    /^Package: / { p = $2 } /^Version: / { v = $2 } /^Architecture: / { a = $2 }
    /^SHA256: / { s = $2 } /^Size: / { z = $2 }
    /^$/ { if (p != "" && !seen[p " " v]++) print p, v, s, z, a; p = v = s = z = a = "" }
    END { if (p != "" && !seen[p " " v]++) print p, v, s, z, a }' || true
}

# apt-get download names files name_version_arch.deb with ":" (epochs) quoted as %3a.
deb_filename() {  # name version arch
  printf '%s_%s_%s.deb' "$1" "${2//:/%3a}" "$3"
}

# The suite's codename from its signed Release file (testing -> forky, unstable -> sid), for the lock.
suite_codename() {
  local f
  f=$(compgen -G "$APT_DIR/state/lists/*_dists_${SUITE}_InRelease" | head -n 1) || true
  [[ -n $f ]] && sed -n 's/^Codename: *//p' "$f" | head -n 1
}

# ---------------------------------------------------------------------------------------------- roots

version_ge() {  # a b: is version a >= b (X.Y[.Z], numeric)
  [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1) == "$2" ]]
}

# Prints the suite's ONNX Runtime runtime packages libonnxruntimeX.Y with X.Y >= MIN_ORT, newest first
# (the name carries the SONAME version and changes with each ORT release, so it is looked up, not fixed).
ort_candidates() {
  local name
  apt-cache "${APT_OPTS[@]}" pkgnames libonnxruntime 2>/dev/null |
    sed -n 's/^libonnxruntime\([0-9][0-9]*\.[0-9][0-9]*\)$/\1/p' | sort -uVr |
    while read -r name; do
      version_ge "$name" "$MIN_ORT" && echo "libonnxruntime$name"
    done
}

# Prints the major version of the suite's default GCC: g++ (gcc-defaults) depends on g++-N.
default_gcc() {
  local pkg
  for pkg in g++ gcc; do
    apt-cache "${APT_OPTS[@]}" show "$pkg" 2>/dev/null |
      sed -n "s/^Depends:.*\\b$pkg-\\([0-9][0-9]*\\) .*/\\1/p" | head -n 1 | grep . && return 0   # BRE: + is literal
  done
  return 1
}

# Prints the root packages for an ORT package and a GCC major version.
roots_for() {  # ort gcc
  local r
  for r in "${ROOT_TEMPLATE[@]}"; do
    r=${r//@ORT@/$1}
    printf '%s\n' "${r//@GCC@/$2}"
  done
}

# Is "$*" (a lock's roots line) an instance of ROOT_TEMPLATE with an ORT >= MIN_ORT? Sets WHY when not.
roots_acceptable() {
  local -a got=($*)
  local ort=${got[0]:-} gcc
  [[ $ort =~ ^libonnxruntime([0-9]+\.[0-9]+)$ ]] || { WHY="its roots have no libonnxruntimeX.Y"; return 1; }
  version_ge "${BASH_REMATCH[1]}" "$MIN_ORT" || { WHY="it has ONNX Runtime ${BASH_REMATCH[1]} < $MIN_ORT"; return 1; }
  gcc=$(printf '%s\n' "${got[@]}" | sed -n 's/^libstdc++-\([0-9][0-9]*\)-dev$/\1/p' | head -n 1)
  [[ -n $gcc && $* == "$(roots_for "$ort" "$gcc" | tr '\n' ' ' | sed 's/ $//')" ]] ||
    { WHY="its roots ($*) are not the current root set (${ROOT_TEMPLATE[*]})"; return 1; }
}

# ---------------------------------------------------------------------------------------------- lock

lock_header() {  # suite codename roots...
  local suite=$1 codename=$2
  shift 2
  cat <<EOF
# toolchain/sysroot.lock: riscv64 sysroot for rcnn = Debian $suite${codename:+ ($codename)} packages, full dependency
# closure of the roots below (Depends/Pre-Depends, no Recommends), resolved by apt on an empty dpkg status.
# Written by toolchain/build-sysroot.sh (--update, or by itself when a pinned package left the mirror); do not
# edit by hand. Format, one package a line, sorted by name:
#   <package>=<version> <sha256 of the .deb> <size in bytes> <.deb file name>
# suite: $suite
# roots: $*
EOF
}

# Tries to resolve the closure in the current SUITE: the newest ORT >= MIN_ORT that apt can install with
# the suite's default GCC's libstdc++ -dev. Writes $APT_DIR/sysroot.lock.new and sets NEW_LOCK on success;
# returns 2 if the suite has no ORT >= MIN_ORT at all, 1 if it has one but nothing resolves.
resolve_suite() {
  apt_update
  local -a orts roots pins
  mapfile -t orts < <(ort_candidates)
  if ((${#orts[@]} == 0)); then
    log "$SUITE: no libonnxruntimeX.Y >= $MIN_ORT in the index"
    return 2
  fi
  local gcc
  if ! gcc=$(default_gcc); then
    warn "$SUITE: no default GCC found (g++/gcc metapackages missing from the index)"
    return 1
  fi
  local ort sim=$APT_DIR/log/resolve.log
  for ort in "${orts[@]}"; do
    mapfile -t roots < <(roots_for "$ort" "$gcc")
    log "$SUITE: resolving the dependency closure of ${roots[*]}"
    if ! apt-get "${APT_OPTS[@]}" -s install --no-install-recommends "${roots[@]}" >"$sim" 2>&1; then
      warn "$SUITE: $ort is not installable with GCC $gcc's libstdc++ ($(grep -m1 -E 'Depends:|Unable to locate|E: ' "$sim" | sed 's/^ *//'); full log: $sim)"
      continue
    fi
    mapfile -t pins < <(awk '$1 == "Inst" { n = $2; sub(/:.*/, "", n); v = $3; sub(/^\(/, "", v); print n "=" v }' "$sim" | sort)
    ((${#pins[@]} > 0)) || die "apt resolved no packages (see $sim)"
    NEW_LOCK=$APT_DIR/sysroot.lock.new
    {
      lock_header "$SUITE" "$(suite_codename)" "${roots[@]}"
      index_records "${pins[@]}" | while read -r name ver sha size arch; do
        printf '%s=%s %s %s %s\n' "$name" "$ver" "$sha" "$size" "$(deb_filename "$name" "$ver" "$arch")"
      done | LC_ALL=C sort -t= -k1,1
    } >"$NEW_LOCK"
    local got
    got=$(grep -vc '^#' "$NEW_LOCK" || true)
    ((got == ${#pins[@]})) || die "$SUITE index has records for $got of ${#pins[@]} resolved packages"
    log "$SUITE: ${#pins[@]} packages, $ort, GCC $gcc"
    return 0
  done
  return 1
}

# Resolves the closure on the allowed suites' current indices, in order (the first that works wins), and
# writes the lock (only if it changed), printing what changed.
update_lock() {
  local suite rc any_ort=0
  NEW_LOCK=
  for suite in "${SUITES[@]}"; do
    use_suite "$suite"
    rc=0
    resolve_suite || rc=$?
    ((rc == 0)) && break
    ((rc == 1)) && any_ort=1
  done
  if [[ -z $NEW_LOCK ]]; then
    ((any_ort)) &&
      die "no allowed Debian suite (${SUITES[*]}) has an installable ONNX Runtime >= $MIN_ORT for $ARCH on $MIRROR (see the warnings above)"
    die "no allowed Debian suite (${SUITES[*]}) has ONNX Runtime >= $MIN_ORT for $ARCH on $MIRROR (RCNN_SYSROOT_SUITES, RCNN_SYSROOT_MIN_ORT)"
  fi

  if [[ -f $LOCK ]] && cmp -s "$NEW_LOCK" "$LOCK"; then
    log "lock unchanged: $(grep -vc '^#' "$LOCK") packages"
    rm -f "$NEW_LOCK"
    return
  fi
  if [[ -f $LOCK ]]; then
    local old_suite
    old_suite=$(lock_field suite "$LOCK")
    [[ $old_suite == "$SUITE" ]] || log "lock suite: ${old_suite:-?} -> $SUITE"
    log "lock changes:"
    report_lock_changes "$LOCK" "$NEW_LOCK"
  fi
  mkdir -p "$(dirname "$LOCK")"
  mv "$NEW_LOCK" "$LOCK"
  log "wrote $LOCK: $(grep -vc '^#' "$LOCK") packages from $SUITE"
}

lock_field() {  # field lock: the value of a "# field: value" header line
  sed -n "s/^# $1: //p" "$2" | head -n 1
}

report_lock_changes() {  # old new: one line per added/removed/changed package
  awk '/^#/ { next }
       { split($1, nv, "="); if (FILENAME == ARGV[1]) old[nv[1]] = nv[2]; else new[nv[1]] = nv[2] }
       END {
         for (p in new) if (!(p in old)) print "  + " p " " new[p]; else if (old[p] != new[p]) print "  ~ " p " " old[p] " -> " new[p]
         for (p in old) if (!(p in new)) print "  - " p " " old[p]
       }' "$1" "$2" | LC_ALL=C sort -k2
}

# Fills parallel arrays L_PIN (name=version), L_SHA, L_SIZE, L_FILE and L_SUITE from the lock. Returns 1
# with the reason in WHY when the lock cannot be used as it is (old format, a suite that is not allowed,
# another root set, ORT < MIN_ORT, malformed lines): the caller then re-resolves.
read_lock() {
  L_PIN=() L_SHA=() L_SIZE=() L_FILE=() WHY=
  [[ -f $LOCK ]] || { WHY="there is no lock yet"; return 1; }
  L_SUITE=$(lock_field suite "$LOCK")
  [[ -n $L_SUITE ]] || { WHY="it names no suite (old format)"; return 1; }
  local s ok=0
  for s in "${SUITES[@]}"; do [[ $s == "$L_SUITE" ]] && ok=1; done
  ((ok)) || { WHY="its suite $L_SUITE is not one of the allowed suites (${SUITES[*]})"; return 1; }
  roots_acceptable $(lock_field roots "$LOCK") || return 1
  local n=0 pin sha size file extra
  while read -r pin sha size file extra; do
    n=$((n + 1))
    [[ -z $pin || $pin == \#* ]] && continue
    [[ $pin == ?*=?* && $sha =~ ^[0-9a-f]{64}$ && $size =~ ^[0-9]+$ && $file == *.deb && -z $extra ]] ||
      { WHY="line $n is malformed: '$pin $sha $size $file $extra'"; return 1; }
    L_PIN+=("$pin") L_SHA+=("$sha") L_SIZE+=("$size") L_FILE+=("$file")
  done <"$LOCK"
  ((${#L_PIN[@]} > 0)) || { WHY="it lists no packages"; return 1; }
}

# ---------------------------------------------------------------------------------------------- .debs

# Makes sure every locked .deb is in the cache with the locked sha256. Cached files are re-verified on
# every build; a corrupt one is deleted and downloaded again. Downloads go to a private staging dir
# and are moved into the cache only after verification, so the cache never holds partial files.
# Returns 1 with the reason in WHY when the lock is stale (a pinned version is no longer on the mirror):
# the caller re-resolves.
fetch_debs() {
  mkdir -p "$CACHE"
  local i missing=() bytes=0
  for i in "${!L_PIN[@]}"; do
    local f=$CACHE/${L_FILE[i]}
    if [[ -f $f ]]; then
      [[ $(sha256_of "$f") == "${L_SHA[i]}" ]] && continue
      warn "cached ${L_FILE[i]} does not match the lock's sha256 (corrupt?): deleting it and downloading again"
      rm -f "$f"
    fi
    missing+=("$i")
    bytes=$((bytes + L_SIZE[i]))
  done
  if ((${#missing[@]} == 0)); then
    log "all ${#L_PIN[@]} .debs cached and verified in $CACHE"
    return 0
  fi
  log "$((${#L_PIN[@]} - ${#missing[@]})) of ${#L_PIN[@]} .debs cached; downloading ${#missing[@]} ($(mb "$bytes"))"
  use_suite "$L_SUITE"
  apt_update
  locked_versions_available "${missing[@]}" || return 1

  STAGING=$(mktemp -d "$CACHE/.download.XXXXXX")
  local pins=() t0=$EPOCHREALTIME
  for i in "${missing[@]}"; do pins+=("${L_PIN[i]}"); done
  if ! (cd "$STAGING" && apt-get "${APT_OPTS[@]}" -q download "${pins[@]}") >"$APT_DIR/log/download.log" 2>&1; then
    # A 404 for a version the index still lists: the mirror dropped it between index and download.
    if grep -q '404' "$APT_DIR/log/download.log"; then
      rm -rf "$STAGING"
      STAGING=
      WHY="a pinned .deb is no longer on the mirror ($(grep -m1 '404' "$APT_DIR/log/download.log" | sed 's/^ *//'))"
      return 1
    fi
    tail -n 15 "$APT_DIR/log/download.log" >&2
    die "apt-get download failed (full log: $APT_DIR/log/download.log)"
  fi
  for i in "${missing[@]}"; do
    local f=$STAGING/${L_FILE[i]} got
    [[ -f $f ]] || die "apt-get download did not produce ${L_FILE[i]} for ${L_PIN[i]}"
    got=$(sha256_of "$f")
    [[ $got == "${L_SHA[i]}" ]] ||
      die "sha256 mismatch for ${L_PIN[i]}: lock and signed index have ${L_SHA[i]}, downloaded ${L_FILE[i]} has $got"
    mv -f "$f" "$CACHE/${L_FILE[i]}"
  done
  rm -rf "$STAGING"
  STAGING=
  log "downloaded ${#missing[@]} .debs, $(mb "$bytes") in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s; sha256 verified"
}

# Is every given locked version (indices into L_*) in the suite's signed index with the locked sha256?
# If not, the lock is stale: testing/unstable drop superseded versions, and a lock whose sha256 disagrees
# with the signed index for the same version was not written from it. Sets WHY, returns 1.
locked_versions_available() {
  local i pins=() name ver sha rest
  for i in "$@"; do pins+=("${L_PIN[i]}"); done
  declare -A index_sha=()
  while read -r name ver sha rest; do index_sha[$name=$ver]=$sha; done < <(index_records "${pins[@]}")
  local gone=() differ=()
  for i in "$@"; do
    local pin=${L_PIN[i]}
    if [[ -z ${index_sha[$pin]:-} ]]; then
      gone+=("$pin")
    elif [[ ${index_sha[$pin]} != "${L_SHA[i]}" ]]; then
      differ+=("$pin")
    fi
  done
  if ((${#gone[@]})); then
    WHY="locked version(s) no longer on $MIRROR $SUITE: ${gone[*]}"
    return 1
  fi
  if ((${#differ[@]})); then
    WHY="the lock's sha256 of ${differ[*]} differs from $MIRROR $SUITE's signed index"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------- sysroot

# The stamp also holds the allowed suites and the minimum ORT: a run with other RCNN_SYSROOT_SUITES /
# RCNN_SYSROOT_MIN_ORT is not a no-op (the lock is checked against them).
expected_stamp() {
  printf 'lock-sha256 %s layout %s suites %s min-ort %s\n' "$(sha256_of "$LOCK")" "$LAYOUT" "${SUITES[*]}" "$MIN_ORT"
}

sysroot_up_to_date() {
  [[ -f $LOCK && -f $DEST/$STAMP_NAME ]] && [[ $(<"$DEST/$STAMP_NAME") == "$(expected_stamp)" ]]
}

# Packages ship files below /usr only (merged /usr), but the riscv64 ELF interpreter is looked up as
# /lib/ld-linux-riscv64-lp64d.so.1. base-files would normally create these links.
merge_usr() {
  local root=$1 d
  for d in lib bin; do
    if [[ -d $root/$d && ! -L $root/$d ]]; then
      # a package shipped a real /lib (or /bin): fold it into /usr so the symlink can exist
      mkdir -p "$root/usr/$d"
      cp -a "$root/$d/." "$root/usr/$d/"
      rm -rf "${root:?}/$d"
    fi
    [[ -e $root/$d ]] || ln -s "usr/$d" "$root/$d"
  done
}

# We only ever link dynamically, and for -lfoo the linker takes libfoo.so over libfoo.a from the same
# directory, so a static archive next to a shared library of the same name is never used: that drops
# libstdc++.a, libc.a, libm.a, the sanitizer archives (~115 MB). Archives without a shared twin stay
# (libc_nonshared.a, which libc.so references; libgcc.a, libgcc_eh.a; the empty libpthread.a stub
# that -lpthread resolves to; libstdc++fs.a/libstdc++exp.a). Documentation is dropped too.
prune_tree() {
  local root=$1 before after a
  before=$(du -sb "$root" | cut -f1)
  while IFS= read -r -d '' a; do
    [[ -e ${a%.a}.so ]] && rm -f "$a"
  done < <(find "$root/usr/lib" -name 'lib*.a' -print0)
  rm -rf "$root"/usr/share/{doc,man,info,lintian,bug,locale}
  after=$(du -sb "$root" | cut -f1)
  log "pruned $(mb $((before - after))) (static archives shadowed by shared libraries, docs)"
}

# DEST is replaced wholesale, so refuse anything that does not look like a sysroot (a mistyped --dest
# must never delete unrelated files).
check_replaceable() {
  [[ -e $DEST ]] || return 0
  [[ -d $DEST && ! -L $DEST ]] || die "$DEST exists and is not a directory"
  if [[ -f $DEST/$STAMP_NAME || -d $DEST/usr/lib/$TRIPLET ]] || [[ -z $(ls -A "$DEST") ]]; then
    return 0
  fi
  die "refusing to replace $DEST: not empty and not a sysroot made by this script"
}

# Extracts every locked .deb into a fresh directory beside DEST, then swaps it in with two renames,
# so DEST is never a half-built sysroot.
build_sysroot() {
  NEW_TREE=$(mktemp -d "$DEST.new.XXXXXX")
  chmod 755 "$NEW_TREE"
  log "extracting ${#L_FILE[@]} packages"
  local f
  for f in "${L_FILE[@]}"; do dpkg-deb -x "$CACHE/$f" "$NEW_TREE"; done
  merge_usr "$NEW_TREE"
  [[ -f $NEW_TREE/usr/include/onnxruntime/onnxruntime_cxx_api.h && -e $NEW_TREE/lib/ld-linux-riscv64-lp64d.so.1 ]] ||
    die "extracted tree lacks ONNX Runtime headers or the riscv64 dynamic loader"
  # The headers' API version must be the minimum ORT's (1.23 -> ORT_API_VERSION 23) or newer.
  local api
  api=$(sed -n 's/^#define ORT_API_VERSION \([0-9][0-9]*\).*/\1/p' "$NEW_TREE/usr/include/onnxruntime/onnxruntime_c_api.h")
  [[ -n $api ]] && ((api >= ${MIN_ORT#*.})) ||
    die "extracted ONNX Runtime headers have ORT_API_VERSION '${api}', expected >= ${MIN_ORT#*.}"
  prune_tree "$NEW_TREE"
  expected_stamp >"$NEW_TREE/$STAMP_NAME"
  if [[ -e $DEST ]]; then
    local old=$DEST.old.$$
    mv -T "$DEST" "$old"
    mv -T "$NEW_TREE" "$DEST"
    rm -rf "$old"
  else
    mv -T "$NEW_TREE" "$DEST"
  fi
  NEW_TREE=
}

cleanup() {
  [[ -n ${NEW_TREE:-} ]] && rm -rf "$NEW_TREE"
  [[ -n ${STAGING:-} ]] && rm -rf "$STAGING"
  return 0
}

# ---------------------------------------------------------------------------------------------- main

parse_args() {
  DEST=${RCNN_SYSROOT:-$REPO/build/sysroot}
  CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/rcnn/debs
  UPDATE=0
  while (($#)); do
    case $1 in
      --dest) (($# >= 2)) || die "--dest needs a directory"; DEST=$2; shift ;;
      --dest=*) DEST=${1#*=} ;;
      --cache) (($# >= 2)) || die "--cache needs a directory"; CACHE=$2; shift ;;
      --cache=*) CACHE=${1#*=} ;;
      --lock) (($# >= 2)) || die "--lock needs a file"; LOCK=$2; shift ;;
      --lock=*) LOCK=${1#*=} ;;
      --update) UPDATE=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ -n $DEST && -n $CACHE && -n $LOCK ]] || die "--dest, --cache and --lock must not be empty"
  DEST=$(realpath -m "$DEST")
  CACHE=$(realpath -m "$CACHE")
  LOCK=$(realpath -m "$LOCK")
  [[ $DEST != / ]] || die "--dest / is not allowed"
  APT_BASE=$DEST-apt
  read -r -a SUITES <<<"${RCNN_SYSROOT_SUITES:-$DEFAULT_SUITES}"
  ((${#SUITES[@]} > 0)) || die "RCNN_SYSROOT_SUITES is empty"
  local s
  for s in "${SUITES[@]}"; do
    [[ $s =~ $DEBIAN_SUITE_RE && $s != *-* ]] || die "RCNN_SYSROOT_SUITES: '$s' is not a Debian suite"
  done
  MIN_ORT=${RCNN_SYSROOT_MIN_ORT:-$DEFAULT_MIN_ORT}
  [[ $MIN_ORT =~ ^[0-9]+\.[0-9]+$ ]] || die "RCNN_SYSROOT_MIN_ORT must be X.Y, not '$MIN_ORT'"
}

main() {
  parse_args "$@"
  # Fast path first: no apt, no network, no lock taken.
  if ((!UPDATE)) && sysroot_up_to_date; then
    echo "sysroot up to date: $DEST"
    return 0
  fi
  require_tools
  mkdir -p "$APT_BASE" "$(dirname "$DEST")"
  # One build per DEST at a time; the loser re-checks and usually finds the winner's result.
  exec 9>"$APT_BASE/.lock"
  flock -w 1800 9 || die "timed out waiting for another build-sysroot.sh on $DEST"
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP   # make signals run the EXIT trap too (no stray temp trees)
  if ((!UPDATE)) && sysroot_up_to_date; then
    echo "sysroot up to date: $DEST"
    return 0
  fi
  # Layout 1 kept one suite's apt state directly in DEST-apt: now it is DEST-apt/<suite>.
  [[ -f $APT_BASE/state/status ]] && rm -rf "${APT_BASE:?}"/{etc,state,cache,log}

  log "sysroot: $DEST ($ARCH; allowed suites: ${SUITES[*]}; ONNX Runtime >= $MIN_ORT); lock: $LOCK; .deb cache: $CACHE"
  check_replaceable
  APT_READY=0
  declare -gA APT_UPDATED=()
  if ((UPDATE)); then
    update_lock
  elif ! read_lock; then
    log "re-resolving the lock: $WHY"
    update_lock
  fi
  read_lock || die "$LOCK as just written is unusable: $WHY"
  if sysroot_up_to_date; then   # --update found the same closure
    echo "sysroot up to date: $DEST"
    return 0
  fi
  if ! fetch_debs; then
    # Self-recovery: the lock is stale. Re-resolve (all allowed suites, in order), then fetch again;
    # a second failure is a real error.
    warn "$WHY: re-resolving the lock"
    update_lock
    read_lock || die "$LOCK as just written is unusable: $WHY"
    fetch_debs || die "$WHY (right after re-resolving the lock)"
  fi
  build_sysroot
  log "sysroot ready: $DEST ($(du -sm "$DEST" | cut -f1) MB, ${#L_PIN[@]} packages from $L_SUITE, $(lock_field roots "$LOCK" | cut -d' ' -f1)) in $(elapsed) s"
}

# Sourcing the file (for tests) only defines the functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
