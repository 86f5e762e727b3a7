#!/usr/bin/env bash
# test/vm/run.sh OUT_DIR JOBLET_BINARY
#
# Builds the cgroup v2 test VM (test/vm/build.sh, cached in OUT_DIR) and boots it under qemu TCG
# (no KVM on these machines; no network device), with the console in OUT_DIR/console.log. Prints
# the console log and two timing lines:
#   VM-TIME build=<s>
#   VM-TIME boot=<s>        qemu start to exit
# Exits non-zero if the build or qemu fails, qemu is killed on the time limit (VM_TIMEOUT,
# default 600 s), or the guest's end marker "JOBLET-VM END" is missing.
# VM_VERBOSE=1 also prints the output of passing checks; VM_MEMORY (MB) and VM_SMP size the VM.
set -euo pipefail
exec 2>&1

[ $# -eq 2 ] || { echo "usage: $0 OUT_DIR JOBLET_BINARY" >&2; exit 2; }
OUT=$(realpath -m "$1")
JOBLET=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_MEMORY=${VM_MEMORY:-2048}
VM_SMP=${VM_SMP:-2}
MARKER="JOBLET-VM END"
APPEND="console=ttyS0 quiet panic=-1 rdinit=/init cgroup_no_v1=all"
[ "${VM_VERBOSE:-0}" = 1 ] && APPEND="$APPEND joblet_vm_verbose"

command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

t0=$(date +%s%N)
"$HERE/build.sh" "$OUT" "$JOBLET"
t1=$(date +%s%N)
echo "VM-TIME build=$(secs "$t0" "$t1")"

LOG="$OUT/console.log"
: >"$LOG"
QPID=
# Stops qemu: SIGTERM through timeout(1) (QPID), then SIGKILL to qemu itself and to timeout.
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    local qemu
    qemu=$(cat "/proc/$QPID/task/$QPID/children" 2>/dev/null || true)
    kill -TERM "$QPID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$QPID" 2>/dev/null || break
      sleep 0.5
    done
    # shellcheck disable=SC2086
    kill -KILL $qemu "$QPID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# KVM is a PVM nested hypervisor here: it initialises and then fails at run time, so always TCG.
# timeout(1) bounds qemu even if this script is killed before its own clean-up runs.
timeout -k 10 $((VM_TIMEOUT + 60)) qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "$VM_SMP" -m "$VM_MEMORY" \
  -nodefaults -no-user-config -display none -no-reboot -nic none \
  -serial "file:$LOG" -monitor none \
  -kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio.gz" \
  -drive "file=$OUT/guest-root.img,if=virtio,format=raw" \
  -append "$APPEND" \
  </dev/null >"$OUT/qemu.out" 2>&1 &
QPID=$!

# Wait for qemu to exit; kill it on the time limit, or if it lingers after the end marker.
start=$(date +%s)
marker_at=
reason=
while kill -0 "$QPID" 2>/dev/null; do
  now=$(date +%s)
  if [ $((now - start)) -ge "$VM_TIMEOUT" ]; then
    reason="time limit of $VM_TIMEOUT s reached: qemu killed"
    break
  fi
  if [ -z "$marker_at" ] && grep -q "$MARKER" "$LOG"; then marker_at=$now; fi
  if [ -n "$marker_at" ] && [ $((now - marker_at)) -ge 20 ]; then
    reason="qemu did not exit 20 s after the end marker: killed"
    break
  fi
  sleep 1
done
if [ -n "$reason" ]; then
  cleanup
  wait "$QPID" 2>/dev/null || true
  qrc=124
else
  set +e
  wait "$QPID"
  qrc=$?
  set -e
fi
QPID=
t2=$(date +%s%N)

echo "----- VM console ($LOG) -----"
tr -d '\r' <"$LOG"
echo "----- end of VM console -----"
if [ -s "$OUT/qemu.out" ]; then
  echo "qemu output:"
  cat "$OUT/qemu.out"
fi
echo "VM-TIME boot=$(secs "$t1" "$t2")"

if [ -n "$reason" ]; then
  echo "run.sh: $reason" >&2
  exit 1
fi
if [ "$qrc" != 0 ]; then
  echo "run.sh: qemu exited with status $qrc" >&2
  exit 1
fi
if ! grep -q "$MARKER" "$LOG"; then
  echo "run.sh: the guest's end marker \"$MARKER\" is missing" >&2
  exit 1
fi
