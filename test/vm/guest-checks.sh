#!/bin/sh
# Runs inside the cgroup v2 test VM (busybox sh, chrooted into the guest root by guest-init.sh):
# sets up and starts the joblet daemon, then runs the checks through rnx.
#
# Output contract (parsed by test/vm/cgroup-v2.test.ts):
#   CHECK <name> PASS
#   CHECK <name> FAIL <reason>      exactly one CHECK line per check
#   CHECKS DONE                     after the last check
# Any other line is diagnostics (indented with "    " or prefixed "GUEST:").
#
# Adding a check: write a shell function that returns 0 on success; on failure its last
# non-empty output line is the reason (`fail "reason"` does both). Then add a line
#   check my-name my_function [args...]
# in the CHECKS section below. The test picks the name up from this file by itself.
#
# Helpers for checks:
#   job ARGS...     rnx job run -f ARGS (follows the output, exits with the job's exit code);
#                   sets JOB_RC (rnx exit code), JOB_OUT (stdout), JOB_ERR (stderr) and
#                   returns JOB_RC. JOB_TIMEOUT (seconds, default 180) bounds it.
#   rnx_ ARGS...    rnx --config $RNX ARGS with the same timeout, output not captured
#   fail MSG...     print MSG and return 1:  [ "$JOB_OUT" = hi ] || fail "got '$JOB_OUT'"
#   daemon_log      the daemon's log file, for grep
# Tools in the guest: busybox applets in /bin; static programs in /usr/local/bin: busy,
# memhog, forkcount, probe (see test/vm/programs and test/fixtures/probe).

export PATH=/opt/joblet/bin:/usr/local/bin:/bin
export HOME=/root TMPDIR=/tmp
umask 022

ETC=/etc/joblet
CONFIG=$ETC/joblet-config.yml
RNX=$ETC/rnx-config.yml
LOGDIR=/var/log/joblet
DAEMON_LOG=$LOGDIR/joblet.log     # logging.outputs file
DAEMON_OUT=$LOGDIR/serve.out      # stdout and stderr of `joblet serve`
CHECK_OUT=/var/log/vm-checks
DAEMON_START_TIMEOUT=${DAEMON_START_TIMEOUT:-120}
JOB_TIMEOUT=${JOB_TIMEOUT:-180}
PORT=50051
FAILED=0
DAEMON_PID=

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "GUEST: $*"; }
fail() {
  echo "$*"
  return 1
}
daemon_log() { cat "$DAEMON_LOG" "$DAEMON_OUT" 2>/dev/null; }

daemon_tail() {
  echo "    --- daemon log, last 40 lines ($DAEMON_LOG) ---"
  tail -n 40 "$DAEMON_LOG" 2>/dev/null | sed 's/^/    | /'
  if [ -s "$DAEMON_OUT" ]; then
    echo "    --- daemon stdout/stderr, last 20 lines ---"
    tail -n 20 "$DAEMON_OUT" | sed 's/^/    | /'
  fi
}

# check NAME COMMAND [ARGS...]: runs COMMAND (in this shell, so it may be a function) and prints
# exactly one CHECK line; on failure, the command's output and the daemon's log tail follow,
# indented.
check() {
  _name=$1
  shift
  _out=$CHECK_OUT/$_name.out
  _t0=$(up)
  "$@" >"$_out" 2>&1 </dev/null
  _rc=$?
  _secs=$(awk -v a="$_t0" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }')
  if [ $_rc -eq 0 ]; then
    echo "CHECK $_name PASS"
    echo "    ($_secs s)"
  else
    FAILED=$((FAILED + 1))
    _reason=$(grep -v '^[[:space:]]*$' "$_out" | tail -n 1 | cut -c1-300)
    echo "CHECK $_name FAIL ${_reason:-exit status $_rc}"
    echo "    ($_secs s, exit status $_rc) output:"
    tail -n 40 "$_out" | sed 's/^/    > /'
    daemon_tail
  fi
}

rnx_() { timeout "$JOB_TIMEOUT" rnx --config "$RNX" "$@"; }

job() {
  timeout "$JOB_TIMEOUT" rnx --config "$RNX" job run -f "$@" >"$CHECK_OUT/.job.stdout" 2>"$CHECK_OUT/.job.stderr"
  JOB_RC=$?
  JOB_OUT=$(cat "$CHECK_OUT/.job.stdout")
  JOB_ERR=$(cat "$CHECK_OUT/.job.stderr")
  echo "job $* -> exit $JOB_RC"
  [ -n "$JOB_OUT" ] && echo "$JOB_OUT" | sed 's/^/  stdout: /'
  [ -n "$JOB_ERR" ] && echo "$JOB_ERR" | sed 's/^/  stderr: /'
  return $JOB_RC
}

# ---------------------------------------------------------------------------------------------
# Setup: configuration, certificates, daemon.
mkdir -p "$ETC" "$LOGDIR" "$CHECK_OUT" /var/lib/joblet
say "checks start at uptime $(up)s"

# The daemon configuration for the guest; `joblet certs init` then embeds the server
# certificate and CA into it and writes the admin rnx-config.yml next to it.
cat >"$CONFIG" <<EOF
version: "3.0"
server:
  address: "127.0.0.1"
  port: $PORT
security:
  audit:
    enabled: true
    log_file: "$LOGDIR/audit.log"
logging:
  level: "debug"
  format: "text"
  outputs:
    - type: "file"
      path: "$DAEMON_LOG"
filesystem:
  baseDir: "/var/lib/joblet/jobs"
  tmpDir: "/var/lib/joblet/tmp"
persist:
  storage:
    local:
      logs:
        directory: "/var/lib/joblet/logs"
EOF

# runtime-config.yml is looked up next to joblet-config.yml: mount what this guest has.
{
  echo "runtime:"
  echo "  allowed_mounts:"
  for d in /bin /sbin /lib /lib64 /usr; do
    [ -e "$d" ] && echo "    - \"$d\""
  done
} >"$ETC/runtime-config.yml"

t0=$(up)
# --address 127.0.0.1: the client config then names an IP, not "localhost": for a host name
# rnx's gRPC resolver also asks DNS (a TXT lookup), and with no DNS server in the guest the
# process lingers ~20 s after its call until that lookup gives up.
if ! joblet certs init --out "$ETC" --address 127.0.0.1 --port "$PORT" >"$CHECK_OUT/certs-init.out" 2>&1; then
  say "joblet certs init failed:"
  sed 's/^/    | /' "$CHECK_OUT/certs-init.out"
fi
say "certs init took $(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }') s"

joblet serve --config="$CONFIG" >"$DAEMON_OUT" 2>&1 &
DAEMON_PID=$!
DAEMON_T0=$(up)
say "daemon started as pid $DAEMON_PID"

listening() {
  # 127.0.0.1:50051 in LISTEN state (0A) in /proc/net/tcp
  grep -qi "0100007F:$(printf '%04X' "$PORT") 00000000:0000 0A" /proc/net/tcp
}

# daemon-started: the port listens and `rnx monitor status` answers
daemon_started() {
  i=0
  while ! listening; do
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited before listening" || return 1
    [ $i -ge $((DAEMON_START_TIMEOUT * 5)) ] && { fail "not listening on 127.0.0.1:$PORT after $DAEMON_START_TIMEOUT s"; return 1; }
    sleep 0.2
    i=$((i + 1))
  done
  echo "listening after $(awk -v a="$DAEMON_T0" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }') s"
  rnx_ monitor status || fail "rnx monitor status failed (exit $?)"
}

cgroup2_unified() {
  c=$(cat /sys/fs/cgroup/cgroup.controllers) || fail "no /sys/fs/cgroup/cgroup.controllers" || return 1
  echo "cgroup.controllers: $c"
  for want in cpu cpuset io memory pids; do
    case " $c " in *" $want "*) ;; *) fail "controller $want missing from cgroup.controllers: $c" || return 1 ;; esac
  done
  v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts)
  [ -z "$v1" ] || fail "cgroup v1 hierarchies are mounted: $v1"
}

job_runs() {
  job sh -c 'echo hi' || fail "rnx exited $JOB_RC: $(echo "$JOB_ERR" | tail -n 1)" || return 1
  [ "$JOB_OUT" = hi ] || fail "expected output 'hi', got '$JOB_OUT'"
}

job_exit_code() {
  job sh -c 'exit 3'
  [ "$JOB_RC" = 3 ] || fail "expected rnx to exit 3, got $JOB_RC: $(echo "$JOB_ERR" | tail -n 1)"
}

# driver-v2: the daemon logs which cgroup driver it chose (a line with "cgroup driver" and "v2")
driver_v2() {
  lines=$(daemon_log | grep -i 'cgroup driver')
  [ -n "$lines" ] || fail "not implemented" || return 1
  echo "$lines"
  echo "$lines" | grep -q 'v2' || fail "the daemon did not choose v2: $(echo "$lines" | tail -n 1)"
}

# ---------------------------------------------------------------------------------------------
# CHECKS (one line each; see the header)
check daemon-started daemon_started
check cgroup2-unified cgroup2_unified
check job-runs job_runs
check job-exit-code job_exit_code
check driver-v2 driver_v2

# ---------------------------------------------------------------------------------------------
# Diagnostics, then stop the daemon.
say "cgroup tree after the checks:"
find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d 2>/dev/null | sed 's/^/    /'
say "daemon log: $(wc -l <"$DAEMON_LOG" 2>/dev/null || echo 0) lines; warnings and errors:"
grep -iE 'warn|error|fail' "$DAEMON_LOG" "$DAEMON_OUT" 2>/dev/null | tail -n 30 | sed 's/^/    | /'

if kill -0 "$DAEMON_PID" 2>/dev/null; then
  kill -TERM "$DAEMON_PID"
  i=0
  while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    say "the daemon ignored SIGTERM for 30 s: SIGKILL"
    kill -KILL "$DAEMON_PID"
  fi
  wait "$DAEMON_PID"
  say "daemon exited with status $? at uptime $(up)s"
else
  say "the daemon was not running at the end"
fi
say "$FAILED check(s) failed"
echo "CHECKS DONE"
exit "$FAILED"
