#!/bin/sh
# shellcheck disable=SC2317,SC2086  # check functions are called through `check`
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
# Boot with VM_VERBOSE=1 (test/vm/run.sh) to see the output of passing checks too.
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
VERBOSE=0
grep -q 'joblet_vm_verbose' /proc/cmdline && VERBOSE=1

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
    [ "$VERBOSE" = 1 ] && sed 's/^/    > /' "$_out"
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
  http_port: 0   # no HTTPS endpoint: the extra daemons below take 50052 and 50053
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
      metrics:
        directory: "/var/lib/joblet/metrics"
state:
  local:
    directory: "/var/lib/joblet/state"
telemetry:
  metrics_interval: "1s"
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
  job sh -c 'echo hi' || fail "rnx exited $JOB_RC${JOB_ERR:+: $(echo "$JOB_ERR" | tail -n 1)}" || return 1
  [ "$JOB_OUT" = hi ] || fail "expected output 'hi', got '$JOB_OUT'"
}

job_exit_code() {
  job sh -c 'exit 3'
  [ "$JOB_RC" = 3 ] || fail "expected rnx to exit 3, got $JOB_RC${JOB_ERR:+: $(echo "$JOB_ERR" | tail -n 1)}"
}

# driver-v2: the daemon logs which cgroup driver it chose (a line with "cgroup driver" and "v2")
driver_v2() {
  lines=$(daemon_log | grep -i 'cgroup driver')
  [ -n "$lines" ] || fail "not implemented" || return 1
  echo "$lines"
  echo "$lines" | grep -q 'v2' || fail "the daemon did not choose v2: $(echo "$lines" | tail -n 1)"
}

JOBS_ROOT=/sys/fs/cgroup/joblet-$PORT

# The job id rnx printed for a job started without -f.
started_id() { echo "$1" | sed -n 's/^ID: *//p'; }

# v2-limit-files: a running job's cgroup holds exactly the limits it asked for
v2_limit_files() {
  out=$(rnx_ job run --max-cpu=20 --max-memory=64 --max-iobps=5242880 --max-pids=40 --cpu-cores=1 sleep 30) || fail "rnx job run failed" || return 1
  id=$(started_id "$out")
  dir=$JOBS_ROOT/job-$id
  [ -d "$dir" ] || fail "no cgroup $dir" || return 1
  for f in cpu.max memory.max memory.high memory.swap.max io.max pids.max cpuset.cpus; do echo "$f: $(cat "$dir/$f")"; done
  [ "$(cat "$dir/cpu.max")" = "20000 100000" ] || fail "cpu.max is $(cat "$dir/cpu.max")" || return 1
  [ "$(cat "$dir/memory.max")" = $((64 * 1024 * 1024)) ] || fail "memory.max is $(cat "$dir/memory.max")" || return 1
  [ "$(cat "$dir/memory.high")" = max ] || fail "memory.high is $(cat "$dir/memory.high") (no throttling below memory.max)" || return 1
  [ "$(cat "$dir/memory.swap.max")" = 0 ] || fail "memory.swap.max is $(cat "$dir/memory.swap.max")" || return 1
  grep -q "rbps=5242880 wbps=5242880" "$dir/io.max" || fail "io.max is $(cat "$dir/io.max")" || return 1
  [ "$(cat "$dir/pids.max")" = 40 ] || fail "pids.max is $(cat "$dir/pids.max")" || return 1
  [ "$(cat "$dir/cpuset.cpus")" = 1 ] || fail "cpuset.cpus is $(cat "$dir/cpuset.cpus")" || return 1
  # born in it: every process of the job is in this cgroup (CLONE_INTO_CGROUP, nothing else)
  procs=$(cat "$dir/cgroup.procs" | wc -l)
  [ "$procs" -ge 2 ] || fail "expected init and sleep in $dir/cgroup.procs, found $procs" || return 1
  rnx_ job stop "$id" >/dev/null || fail "stop failed" || return 1
  i=0
  while [ -d "$dir" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  [ ! -d "$dir" ] || fail "$dir still exists after the job stopped"
}

# v2-pids: forks stop at pids.max (init and forkcount count too)
v2_pids() {
  job --max-pids=32 forkcount
  echo "$JOB_OUT" | grep -q 'errno=EAGAIN' || fail "forkcount did not hit the limit: $JOB_OUT" || return 1
  n=$(echo "$JOB_OUT" | sed -n 's/.*forked=\([0-9]*\).*/\1/p')
  [ "$n" -le 30 ] && [ "$n" -ge 20 ] || fail "forked=$n, expected 20-30 under pids.max=32"
}

# v2-oom: a memory hog past memory.max is OOM-killed and reported so
v2_oom() {
  job --max-memory=32 memhog 200
  [ "$JOB_RC" = 137 ] || fail "expected exit 137, got $JOB_RC" || return 1
  echo "$JOB_ERR" | grep -q 'OOM_KILLED' || fail "no OOM_KILLED in: $JOB_ERR"
}

# v2-cpu: a busy loop at max_cpu=20 gets 15-25% of a core
v2_cpu() {
  job --max-cpu=20 busy 3
  cpu=$(echo "$JOB_OUT" | sed -n 's/cpu=\([0-9.]*\) wall=\([0-9.]*\)/\1 \2/p')
  [ -n "$cpu" ] || fail "no output from busy: $JOB_OUT" || return 1
  echo "$cpu" | awk '{ r = $1 / $2; print "share " r; exit !(r >= 0.15 && r <= 0.25) }' || fail "cpu share outside 15-25%: $JOB_OUT"
}

# v2-cpuset: cpu_cores pins the job
v2_cpuset() {
  job --cpu-cores=1 sh -c 'grep Cpus_allowed_list /proc/self/status'
  echo "$JOB_OUT" | grep -qE 'Cpus_allowed_list:[[:space:]]+1$' || fail "got: $JOB_OUT"
}

# v2-io: O_DIRECT writes on the workspace disk are held to io.max (5 MiB/s → at most 6 MB/s)
v2_io() {
  job --max-iobps=5242880 sh -c 't0=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero of=/work/f bs=1048576 count=10 oflag=direct 2>/dev/null; t1=$(cut -d" " -f1 /proc/uptime); echo "$t0 $t1"'
  echo "$JOB_OUT" | awk '{ s = $2 - $1; r = 10485760 / s / 1000000; print "wrote 10 MiB in " s " s: " r " MB/s"; exit !(r <= 6) }' || fail "IO above the limit: $JOB_OUT"
}

# v2-invalid: values this host cannot honour are refused, naming the field
v2_invalid() {
  out=$(rnx_ job run --cpu-cores=5-7 true 2>&1)
  echo "$out" | grep -q 'cpu_cores: CPU 5, 6, 7 does not exist' || fail "got: $out"
}

# v2-metrics: samples come from the job's cgroup (memory in use, its limit)
v2_metrics() {
  out=$(rnx_ job run --max-memory=128 memhog 40) || fail "rnx job run failed" || return 1
  id=$(started_id "$out")
  sleep 1
  m=$(rnx_ job metrics "$id" --json) || fail "rnx job metrics failed" || return 1
  echo "$m" | tail -n 3
  echo "$m" | grep -q "\"memory_limit\": *$((128 * 1024 * 1024))" || echo "$m" | grep -q "\"memory_limit\":$((128 * 1024 * 1024))" || fail "no sample with the 128 MB limit"
}

# v2-no-leftovers: once jobs end, no job cgroup remains
v2_no_leftovers() {
  sleep 1
  left=$(find "$JOBS_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'job-*')
  [ -z "$left" ] || fail "left behind: $left"
}

# v2-delegated: a daemon started inside a cgroup of its own (as systemd Delegate=yes does) moves
# itself into a "daemon" leaf, runs jobs below its cgroup, and leaves it as it found it
v2_delegated() {
  svc=/sys/fs/cgroup/svc
  mkdir -p "$svc" /var/lib/joblet2
  sed -e "s/port: $PORT/port: 50052/" -e "s#/var/lib/joblet/#/var/lib/joblet2/#g" -e "s#$DAEMON_LOG#$LOGDIR/joblet2.log#" "$CONFIG" >"$ETC/joblet2.yml"
  cp "$ETC/runtime-config.yml" "$ETC/runtime-config2.yml"
  sed "s/:$PORT\"/:50052\"/; s/:$PORT\$/:50052/" "$RNX" >"$ETC/rnx2.yml"
  sh -c "echo \$\$ >$svc/cgroup.procs; exec joblet serve --config=$ETC/joblet2.yml" >"$LOGDIR/serve2.out" 2>&1 &
  pid2=$!
  i=0
  while ! grep -qi "0100007F:$(printf '%04X' 50052) 00000000:0000 0A" /proc/net/tcp; do
    kill -0 $pid2 2>/dev/null || { cat "$LOGDIR/serve2.out"; fail "the second daemon exited"; return 1; }
    [ $i -ge 600 ] && { tail -n 20 "$LOGDIR/serve2.out" "$LOGDIR/joblet2.log"; cat "$svc/cgroup.procs" "$svc/daemon/cgroup.procs" 2>&1; kill -KILL $pid2; fail "the second daemon is not listening"; return 1; }
    sleep 0.2
    i=$((i + 1))
  done
  grep -qx "$pid2" "$svc/daemon/cgroup.procs" || fail "the daemon did not move into $svc/daemon" || return 1
  out=$(timeout "$JOB_TIMEOUT" rnx --config "$ETC/rnx2.yml" job run sleep 30) || fail "job run on the second daemon failed: $out" || return 1
  id=$(started_id "$out")
  [ -d "$svc/joblet-50052/job-$id" ] || fail "no job cgroup under $svc/joblet-50052" || return 1
  echo "subtree_control of $svc: $(cat $svc/cgroup.subtree_control)"
  kill -TERM $pid2
  wait $pid2
  rc=$?
  [ $rc -eq 0 ] || fail "the second daemon exited $rc" || return 1
  left=$(find "$svc" -mindepth 1 -type d)
  [ -z "$left" ] || fail "left in $svc: $left" || return 1
  [ -z "$(cat $svc/cgroup.subtree_control)" ] || fail "$svc/cgroup.subtree_control still enables: $(cat $svc/cgroup.subtree_control)" || return 1
  rmdir "$svc"
}

# v2-basedir: with a cgroup.baseDir an administrator created (delegated), jobs go below it and the
# daemon stays where it is
v2_basedir() {
  base=/sys/fs/cgroup/joblet.slice
  mkdir -p "$base" /var/lib/joblet3
  sed -e "s/port: $PORT/port: 50053/" -e "s#/var/lib/joblet/#/var/lib/joblet3/#g" -e "s#$DAEMON_LOG#$LOGDIR/joblet3.log#" "$CONFIG" >"$ETC/joblet3.yml"
  printf 'cgroup:\n  baseDir: "%s"\n' "$base" >>"$ETC/joblet3.yml"
  sed "s/:$PORT\"/:50053\"/; s/:$PORT\$/:50053/" "$RNX" >"$ETC/rnx3.yml"
  joblet serve --config="$ETC/joblet3.yml" >"$LOGDIR/serve3.out" 2>&1 &
  pid3=$!
  i=0
  while ! grep -qi "0100007F:$(printf '%04X' 50053) 00000000:0000 0A" /proc/net/tcp; do
    kill -0 $pid3 2>/dev/null || { cat "$LOGDIR/serve3.out"; fail "the third daemon exited"; return 1; }
    [ $i -ge 600 ] && { kill -KILL $pid3; fail "the third daemon is not listening"; return 1; }
    sleep 0.2
    i=$((i + 1))
  done
  out=$(timeout "$JOB_TIMEOUT" rnx --config "$ETC/rnx3.yml" job run sleep 30) || fail "job run on the third daemon failed: $out" || return 1
  id=$(started_id "$out")
  [ -d "$base/joblet-50053/job-$id" ] || fail "no job cgroup under $base/joblet-50053" || return 1
  grep -q "^0::/\$" "/proc/$pid3/cgroup" || fail "the daemon moved: $(cat /proc/$pid3/cgroup)" || return 1
  kill -TERM $pid3
  wait $pid3 || fail "the third daemon exited $?" || return 1
  [ ! -d "$base/joblet-50053" ] || fail "$base/joblet-50053 left behind" || return 1
  rmdir "$base"
}

# daemon-stops: SIGTERM stops the daemon with status 0 within 30 s
daemon_stops() {
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon was not running" || return 1
  kill -TERM "$DAEMON_PID"
  i=0
  while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID"
    wait "$DAEMON_PID"
    fail "the daemon ignored SIGTERM for 30 s (killed)"
    return 1
  fi
  wait "$DAEMON_PID"
  rc=$?
  DAEMON_PID=
  [ $rc -eq 0 ] || fail "the daemon exited with status $rc after SIGTERM"
}

# ---------------------------------------------------------------------------------------------
# CHECKS (one line each; see the header). daemon-stops stays last.
check daemon-started daemon_started
check cgroup2-unified cgroup2_unified
check job-runs job_runs
check job-exit-code job_exit_code
check driver-v2 driver_v2
check v2-limit-files v2_limit_files
check v2-pids v2_pids
check v2-oom v2_oom
check v2-cpu v2_cpu
check v2-cpuset v2_cpuset
check v2-io v2_io
check v2-invalid v2_invalid
check v2-metrics v2_metrics
check v2-no-leftovers v2_no_leftovers
check v2-delegated v2_delegated
check v2-basedir v2_basedir

say "cgroups while the daemon runs:"
find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d 2>/dev/null | sed 's/^/    /'
check daemon-stops daemon_stops

# ---------------------------------------------------------------------------------------------
# Diagnostics.
if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID"
fi
say "cgroups left after the daemon stopped:"
find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d 2>/dev/null | sed 's/^/    /'
say "daemon log: $(cat "$DAEMON_LOG" 2>/dev/null | wc -l) lines; warnings and errors:"
grep -iE 'warn|error' "$DAEMON_LOG" "$DAEMON_OUT" 2>/dev/null | tail -n 30 | sed 's/^/    | /'
say "$FAILED check(s) failed, at uptime $(up)s"
echo "CHECKS DONE"
exit "$FAILED"
