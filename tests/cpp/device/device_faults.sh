#!/bin/sh
# Fault tests of device mode: device_faults.sh LAUNCHER GUEST...
#   LAUNCHER  a host rcnn_device;  GUEST  the test_device_e2e command line (with qemu-riscv64 -L SYSROOT in front
#   in the riscv64 tree). Each case checks exit statuses, timing, and that no /dev/shm/rcnn-device-<pid>-* file of
#   the launcher is left.
set -u
launcher=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
no_file_left() {  # $1: launcher pid
  for f in /dev/shm/rcnn-device-"$1"-*; do
    [ -e "$f" ] && fail "$f left behind"
  done
}
now_ms() { date +%s%3N; }

# 1. The device is SIGKILLed while the guest runs ops: the guest's Client throws within 3 s (the guest checks and
#    writes its verdict to a file, as its launcher is gone), the launcher dies by the signal.
"$launcher" -- "$@" --fault kill-device "$work/kill-device" &
pid=$!
wait $pid
rc=$?
[ $rc -eq 137 ] || fail "kill-device: launcher exit $rc, expected 137"
for _ in $(seq 100); do [ -s "$work/kill-device" ] && break; sleep 0.1; done
verdict=$(cat "$work/kill-device" 2>/dev/null)
case "$verdict" in ok*) echo "kill-device: $verdict" ;; *) fail "kill-device: guest said '$verdict'" ;; esac
no_file_left $pid

# 2. The guest SIGKILLs itself after connecting: the launcher exits at once with 128 + 9.
t0=$(now_ms)
"$launcher" -- "$@" --fault kill-self &
pid=$!
wait $pid
rc=$?
t=$(($(now_ms) - t0))
[ $rc -eq 137 ] || fail "kill-self: launcher exit $rc, expected 137"
echo "kill-self: launcher exited $rc after ${t} ms (guest start-up included)"
no_file_left $pid

# 3. Signals reach the child; exit statuses pass through; a child that never connects just runs.
"$launcher" -- sleep 30 &
pid=$!
sleep 0.3
t0=$(now_ms)
kill -TERM $pid
wait $pid
rc=$?
t=$(($(now_ms) - t0))
[ $rc -eq 143 ] || fail "SIGTERM forwarding: exit $rc, expected 143"
[ $t -lt 2000 ] || fail "SIGTERM forwarding took $t ms"
no_file_left $pid
"$launcher" -- sh -c 'exit 7'
rc=$?
[ $rc -eq 7 ] || fail "exit status: $rc, expected 7"
"$launcher" -- /nonexistent/command 2>/dev/null
rc=$?
[ $rc -eq 127 ] || fail "missing command: $rc, expected 127"
"$launcher" --window-mb 0 -- true 2>/dev/null
rc=$?
[ $rc -eq 2 ] || fail "usage error: $rc, expected 2"

# 4. Four launchers at once, each with its own window and guest.
pids=""
for i in 1 2 3 4; do
  "$launcher" -- "$@" --quick > "$work/concurrent$i" 2>&1 &
  pids="$pids $!"
done
i=0
for p in $pids; do
  i=$((i + 1))
  wait "$p" || fail "concurrent launcher $i: exit $? ($(tail -3 "$work/concurrent$i"))"
  no_file_left "$p"
done

if [ $failures -eq 0 ]; then echo "device_faults: all passed"; else echo "device_faults: $failures failure(s)"; fi
[ $failures -eq 0 ]
