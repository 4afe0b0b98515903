#!/usr/bin/env python3
"""Run transport_bench's measurements: the native host side spawns the riscv64 guest under qemu-riscv64.

    ep/device/bench/run_transport_bench.py [--host-bin build/dev/bench/transport_bench]
        [--rv64-bin build/dev-rv64/bench/transport_bench] [--sysroot build/sysroot] [--n 10000]
        [--repeat 3] [--native] [--tests spin,futex,futex0,pipe,eventfd,atomic,bw,host-death,guest-death]

Each test is one `transport_bench host --guest "qemu-riscv64 -L SYSROOT RV64BIN" --test T` run (each well under
30 s); the 1-minute load average is printed before each, as spinning results depend on what else runs.
--native adds the same runs with a native guest (both sides x86_64) as a baseline. futex0 = futex without the
spin phase (--spin-us 0). Exit status: non-zero if any run failed (payload/atomicity errors included).
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TESTS = {  # name -> extra arguments
    "atomic": ["--test", "atomic", "--n", "2000000"],
    "spin": ["--test", "spin"],
    "futex": ["--test", "futex", "--spin-us", "50"],
    "futex0": ["--test", "futex", "--spin-us", "0"],
    "pipe": ["--test", "pipe"],
    "eventfd": ["--test", "eventfd"],
    "bw": ["--test", "bw"],
    "host-death": ["--test", "host-death"],
    "guest-death": ["--test", "guest-death"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host-bin", default=os.path.join(ROOT, "build/dev/bench/transport_bench"))
    ap.add_argument("--rv64-bin", default=os.path.join(ROOT, "build/dev-rv64/bench/transport_bench"))
    ap.add_argument("--sysroot", default=os.environ.get("RCNN_SYSROOT", os.path.join(ROOT, "build/sysroot")))
    ap.add_argument("--qemu", default=shutil.which("qemu-riscv64") or "qemu-riscv64")
    ap.add_argument("--n", type=int, default=10000, help="round trips per latency run")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--idle-ms", type=int, default=1000)
    ap.add_argument("--guest-thread", action="store_true", help="guest starts a helper thread first")
    ap.add_argument("--native", action="store_true", help="also run with a native guest (baseline)")
    ap.add_argument("--tests", default=",".join(TESTS))
    a = ap.parse_args()

    if not os.path.exists(os.path.join(a.sysroot, "lib")):
        sys.exit(f"no riscv64 sysroot at {a.sysroot} (--sysroot DIR or env RCNN_SYSROOT)")
    for path in (a.host_bin, a.rv64_bin):
        if not os.access(path, os.X_OK):
            sys.exit(f"not built: {path} (see ep/device/README.md)")
    guests = [("qemu", f"{shlex.quote(a.qemu)} -L {shlex.quote(a.sysroot)} {shlex.quote(a.rv64_bin)}")]
    if a.native:
        guests.append(("native", shlex.quote(a.host_bin)))
    print(subprocess.run([a.qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    failed = 0
    for name in a.tests.split(","):
        extra = list(TESTS[name])
        if name in ("spin", "futex", "futex0", "pipe", "eventfd"):
            extra += ["--n", str(a.n), "--idle-ms", str(a.idle_ms)]
        if a.guest_thread:
            extra.append("--guest-thread")
        for kind, guest in guests:
            for _ in range(a.repeat):
                load = os.getloadavg()[0]
                t0 = time.monotonic()
                r = subprocess.run([a.host_bin, "host", "--guest", guest, *extra], capture_output=True, text=True,
                                   timeout=120)
                lines = [ln for ln in r.stdout.splitlines() if not ln.startswith("guest up")]
                print(f"--- {name} [{kind} guest] load {load:.1f}, {time.monotonic() - t0:.1f} s, exit {r.returncode}")
                for ln in lines:
                    print("   ", ln)
                if r.returncode != 0:
                    failed += 1
                    sys.stdout.write(r.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
