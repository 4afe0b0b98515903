"""toolchain/build-sysroot.sh: the committed lock's shape, self-recovery from a stale lock, and the one-line error
when no allowed Debian suite has ONNX Runtime >= the minimum.

The network tests use the host's Debian mirror (as setup.sh does) and the user's .deb cache (filled by setup.sh), so
they download one index (~10 MB) and extract the sysroot once: about 15-25 s together. The sysroot they build goes to
a temporary folder; build/sysroot and toolchain/sysroot.lock are never touched (a copy of the lock is used)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "toolchain" / "build-sysroot.sh"
LOCK = ROOT / "toolchain" / "sysroot.lock"
DEFAULT_SUITES = ("testing", "unstable")
MIN_ORT = (1, 23)
LINE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+)=(?P<version>\S+) (?P<sha>[0-9a-f]{64}) (?P<size>[0-9]+) "
                  r"(?P<file>\S+\.deb)$")

needs_apt = pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None,
                               reason="build-sysroot.sh needs a Debian host (apt-get, dpkg-deb)")


def parse_lock(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, str, int, str]]]:
    """(header fields, {package: (version, sha256, size, file)}); asserts every line's shape."""
    fields: dict[str, str] = {}
    pins: dict[str, tuple[str, str, int, str]] = {}
    names = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            m = re.match(r"^# (suite|roots): (.+)$", line)
            if m:
                fields[m.group(1)] = m.group(2)
            continue
        m = LINE.match(line)
        assert m, f"malformed lock line: {line!r}"
        name, version = m.group("name"), m.group("version")
        assert m.group("file").startswith(f"{name}_{version.replace(':', '%3a')}_"), line
        pins[name] = (version, m.group("sha"), int(m.group("size")), m.group("file"))
        names.append(name)
    assert names == sorted(names), "lock lines must be sorted by package name"
    return fields, pins


def check_lock(path: Path, suites: tuple[str, ...] = DEFAULT_SUITES) -> dict[str, tuple[str, str, int, str]]:
    """The invariants every lock the script writes must have; returns the pins."""
    fields, pins = parse_lock(path)
    assert fields.get("suite") in suites, fields
    roots = fields["roots"].split()
    m = re.fullmatch(r"libonnxruntime(\d+)\.(\d+)", roots[0])
    assert m and (int(m.group(1)), int(m.group(2))) >= MIN_ORT, roots
    gcc = {r.split("-")[1] for r in roots if re.fullmatch(r"lib(stdc\+\+|gcc)-\d+-dev", r)}
    assert len(gcc) == 1, f"libstdc++-N-dev and libgcc-N-dev must be of one GCC: {roots}"
    n = gcc.pop()
    assert roots == [roots[0], "libonnxruntime-dev", "libc6", "libc6-dev", "libstdc++6", f"libstdc++-{n}-dev",
                     "libgcc-s1", f"libgcc-{n}-dev", "linux-libc-dev", "libstb-dev"]
    assert set(roots) <= set(pins), f"roots missing from the closure: {set(roots) - set(pins)}"
    ort_minor = roots[0].removeprefix("libonnxruntime")
    assert pins["libonnxruntime-dev"][0].startswith(ort_minor + "."), "runtime and -dev must be one ORT version"
    assert "libonnxruntime-providers" in pins, "ORT >= 1.23 loads its providers library"
    return pins


def test_committed_lock_is_one_suites_ort_1_23_or_newer() -> None:
    pins = check_lock(LOCK)
    assert len(pins) >= 20


def test_help_documents_the_overrides() -> None:
    out = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    for word in ("RCNN_SYSROOT_SUITES", "RCNN_SYSROOT_MIN_ORT", "RCNN_SYSROOT_LOCK", "--lock", "--update", "--dest",
                 "--cache", "testing unstable"):
        assert word in out, word


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the network tests: they share the private apt state (index fetched once) beside the sysroot."""
    return tmp_path_factory.mktemp("sysroot")


def run_script(work: Path, lock: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RCNN_SYSROOT")}
    full_env.update(env)
    return subprocess.run(["bash", str(SCRIPT), "--dest", str(work / "sysroot"), "--lock", str(lock)],
                          capture_output=True, text=True, env=full_env, timeout=900)


def stale_copy_of_the_lock(dest: Path, package: str) -> tuple[Path, str]:
    """A copy of the committed lock with one pin rewritten to a version (and sha256) that no mirror has."""
    _, pins = parse_lock(LOCK)
    version, _, size, _ = pins[package]
    gone = "0.0~rcnn.gone-1"
    text = LOCK.read_text()
    old = next(line for line in text.splitlines() if line.startswith(f"{package}={version} "))
    new = f"{package}={gone} {'0' * 64} {size} {package}_{gone}_riscv64.deb"
    dest.write_text(text.replace(old, new))
    return dest, gone


@needs_apt
def test_a_pin_gone_from_the_mirror_is_re_resolved_by_itself(work: Path) -> None:
    lock, gone = stale_copy_of_the_lock(work / "stale.lock", "libstb-dev")
    t0 = time.monotonic()
    r = run_script(work, lock)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # it said why, what changed, and built
    assert "libstb-dev=" + gone in r.stderr and "re-resolving" in r.stderr, r.stderr
    assert re.search(rf"^  ~ libstb-dev {re.escape(gone)} -> \S+$", r.stdout, re.M), r.stdout
    assert "sysroot ready" in r.stdout
    # the rewritten lock is valid and no longer has the bad pin
    pins = check_lock(lock)
    assert pins["libstb-dev"][0] != gone and pins["libstb-dev"][1] != "0" * 64
    sysroot = work / "sysroot"
    api = re.search(r"^#define ORT_API_VERSION (\d+)", (sysroot / "usr/include/onnxruntime/onnxruntime_c_api.h")
                    .read_text(), re.M)
    assert api and int(api.group(1)) >= MIN_ORT[1]
    assert (sysroot / "usr/include/onnxruntime/onnxruntime_ep_c_api.h").is_file()  # the plugin-EP API
    assert (sysroot / "usr/include/stb/stb_image.h").is_file()
    assert (sysroot / "lib/ld-linux-riscv64-lp64d.so.1").exists()
    assert list((sysroot / "usr/lib/riscv64-linux-gnu").glob("libonnxruntime.so.1.*"))
    print(f"recovery run: {time.monotonic() - t0:.1f} s")

    # a second run with the rewritten lock is a quick no-op without network
    t0 = time.monotonic()
    again = run_script(work, lock, RCNN_DEBIAN_MIRROR="http://127.0.0.1:9/unreachable")
    assert again.returncode == 0 and again.stdout.strip() == f"sysroot up to date: {sysroot}", again
    assert time.monotonic() - t0 < 5


@needs_apt
def test_an_expired_release_file_is_retried_without_valid_until(work: Path, tmp_path: Path) -> None:
    """A lagging mirror serves testing's Release past its Valid-Until (seen on a clean Debian 13 here): apt refuses
    it, the script says so and retries without that check (signatures and the lock's sha256 still hold). apt is made
    to see every Release as expired: the host's apt.conf.d without its Valid-Until settings, a validity of 1 s."""
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    for f in Path("/etc/apt/apt.conf.d").iterdir():
        if f.is_file() and "valid-until" not in f.read_text(errors="replace").lower():
            shutil.copy(f, parts / f.name)
    config = tmp_path / "apt.conf"
    config.write_text(f'Dir::Etc::Parts "{parts}";\nAcquire::Check-Valid-Until "true";\n'
                      'Acquire::Max-ValidTime "1";\n')
    lock = work / "expired.lock"
    shutil.copy(LOCK, lock)
    r = subprocess.run(["bash", str(SCRIPT), "--dest", str(work / "sysroot"), "--lock", str(lock), "--update"],
                       capture_output=True, text=True, timeout=900,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("RCNN_SYSROOT")},
                            "APT_CONFIG": str(config)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "serves an expired testing Release file; retrying without the Valid-Until check" in r.stdout + r.stderr
    check_lock(lock)


@needs_apt
@pytest.mark.parametrize("suites,min_ort", [("testing", "99.0"),     # the allowed suite has ORT, but too old
                                            ("trixie", None)])       # Debian 13 has only ORT 1.21
def test_no_allowed_suite_with_the_minimum_ort_is_a_one_line_error(work: Path, suites: str,
                                                                   min_ort: str | None) -> None:
    lock = work / f"valid-{suites}.lock"
    shutil.copy(LOCK, lock)
    env = {"RCNN_SYSROOT_SUITES": suites, **({"RCNN_SYSROOT_MIN_ORT": min_ort} if min_ort else {})}
    stamp = work / "sysroot" / ".rcnn-sysroot-stamp"
    before = stamp.read_text() if stamp.exists() else None
    r = run_script(work, lock, **env)
    assert r.returncode != 0, r.stdout
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, r.stderr
    assert errors[0].startswith("build-sysroot.sh: error: no allowed Debian suite"), errors
    assert f"({suites})" in errors[0] and f">= {min_ort or '1.23'}" in errors[0], errors
    assert lock.read_bytes() == LOCK.read_bytes(), "a failed resolution must not rewrite the lock"
    assert (stamp.read_text() if stamp.exists() else None) == before, "a failed resolution must not touch the sysroot"
    assert not [p for p in work.iterdir() if ".new." in p.name or ".old." in p.name], "no half-built trees left"
