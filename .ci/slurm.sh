#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm executor's tests.
#
#   .ci/slurm.sh start    install slurm-wlm + munge if missing, write slurm.conf,
#                         start munged, slurmctld, slurmd; wait for an idle node
#   .ci/slurm.sh stop     stop, by recorded pid, what `start` started
#   .ci/slurm.sh status   say what runs (exit 0 when the node answers, 1 if not)
#   .ci/slurm.sh bench    time srun, sbatch throughput, a 20-job chain and a
#                         200-job fan-out of `true` on the running cluster
#
# Idempotent: `start` on a running cluster and `stop` on a stopped one do
# nothing. State (config, pid files, logs, Slurm's state and spool) lives in
# $PIPELINE_CI_STATE/slurm (default /tmp/pipeline-ci/slurm). Clients (sinfo,
# sbatch, the tests) find the config through /etc/slurm/slurm.conf, a link to
# ours written only when no other config is there; otherwise export
# SLURM_CONF=$PIPELINE_CI_STATE/slurm/slurm.conf.
#
# SLURM_TUNING=fast (default) sets the scheduler parameters measured in
# docs/distributed.md for quick job turnaround; SLURM_TUNING=default keeps
# Slurm's defaults (to measure the difference: stop, start, bench).
set -euo pipefail

state="${PIPELINE_CI_STATE:-/tmp/pipeline-ci}/slurm"
conf="$state/slurm.conf"
system_conf=/etc/slurm/slurm.conf
tuning="${SLURM_TUNING:-fast}"

# Prints "<what> took <seconds>s" after running the rest of the arguments.
timed() {
  local what="$1" start end
  shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  printf 'slurm: %s took %.2fs\n' "$what" "$(echo "$end - $start" | bc)"
}

# The pid recorded in $state/$1.pid if that process still runs and is the
# program $1, else nothing. A pid file left from another boot (a machine
# restored from a snapshot keeps /tmp) may name a pid now used by another
# program; that one is not ours.
live_pid() {
  local name="$1" file="$state/$1.pid" pid
  [[ -s "$file" ]] || return 1
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$name" || return 1
  echo "$pid"
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {
  local host cpus memory scheduler
  host=$(hostname)
  cpus=$(nproc)
  # Memory Slurm may hand out: all but 1 GiB, shared evenly by default.
  memory=$(($(free -m | awk '/^Mem:/ {print $2}') - 1024))
  mkdir -p "$state/state" "$state/spool" "$state/log"
  case "$tuning" in
    fast)
      # Schedule at every event without throttling, at submit time, and run the
      # full queue every second; batch jobs are not held back for batching.
      scheduler="SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,sched_interval=1,default_queue_depth=1000"
      ;;
    default) scheduler="" ;;
    *) echo "slurm: SLURM_TUNING must be fast or default, not '$tuning'" >&2; exit 2 ;;
  esac
  cat >"$conf" <<EOF
# Written by .ci/slurm.sh (tuning: $tuning). A single-node cluster on $host.
ClusterName=local
SlurmctldHost=$host
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((memory / cpus))
ReturnToService=2
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
JobAcctGatherType=jobacct_gather/none
SlurmUser=root
$scheduler
EOF
  if [[ "$tuning" == fast ]]; then
    cat >>"$conf" <<EOF
# Completed jobs stay visible to squeue/scontrol for 60 s (not 300), and a
# killed job's processes get 2 s between SIGTERM and SIGKILL (not 30).
MinJobAge=60
KillWait=2
EOF
  fi
  # Clients read /etc/slurm/slurm.conf: point it at ours unless another is there.
  if [[ ! -e "$system_conf" && ! -L "$system_conf" ]] \
    || [[ -L "$system_conf" && "$(readlink "$system_conf")" == "$conf" ]]; then
    mkdir -p "$(dirname "$system_conf")"
    ln -sfn "$conf" "$system_conf"
  elif [[ "$(readlink -f "$system_conf")" != "$conf" ]]; then
    echo "slurm: $system_conf exists and is not ours: export SLURM_CONF=$conf for clients" >&2
  fi
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0 # a munged answers already (ours or the system's)
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  [[ -s /etc/munge/munge.key ]] || (umask 077 && mungekey --create --keyfile=/etc/munge/munge.key && chown munge:munge /etc/munge/munge.key)
  munged --force --pid-file="$state/munged.pid" 2>>"$state/log/munged.err"
  until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do sleep 0.05; done
}

# Starts daemon $1 (slurmctld or slurmd) unless its recorded pid still runs.
start_daemon() {
  local daemon="$1"
  if live_pid "$daemon" >/dev/null; then
    return 0
  fi
  SLURM_CONF="$conf" "$daemon" -f "$conf"
  until live_pid "$daemon" >/dev/null; do sleep 0.05; done
}

# Forgets the jobs of an earlier cluster. Slurm saves its queue in
# StateSaveLocation and recovers it at start: on a machine restored from a
# snapshot taken while jobs ran, a recovered "running" job holds a CPU whose
# process is gone until the node is declared failed, half an hour later
# (seen in CI: the two-job concurrency test then ran its jobs one at a time).
# Only done when no controller of ours runs.
clear_old_state() {
  if live_pid slurmctld >/dev/null || live_pid slurmd >/dev/null; then
    return 0
  fi
  rm -rf "$state/state" "$state/spool"
  mkdir -p "$state/state" "$state/spool"
}

# The node's state as sinfo reports it, or nothing (sinfo retries for a
# minute when the config is missing, so that case is answered here).
node_state() {
  [[ -f "$conf" ]] || return 0
  SLURM_CONF="$conf" timeout 15 sinfo -h -N -o %t 2>/dev/null | head -1
}

wait_idle() {
  local deadline=$((SECONDS + 60)) now
  until [[ "$(node_state)" == idle || "$(node_state)" == mix ]]; do
    if ((SECONDS > deadline)); then
      echo "slurm: the node is not idle after 60 s (state: '$(node_state)'); logs in $state/log" >&2
      exit 1
    fi
    now=$(node_state)
    # A node that came back from an earlier run may be DOWN: return it.
    if [[ "$now" == down* || "$now" == drain* ]]; then
      SLURM_CONF="$conf" scontrol update NodeName="$(hostname)" State=RESUME 2>/dev/null || true
    fi
    sleep 0.1
  done
}

cmd_start() {
  mkdir -p "$state"
  timed "install slurm-wlm and munge" install_packages
  timed "write $conf" write_config
  timed "start munged" start_munge
  timed "clear the state of an earlier cluster" clear_old_state
  timed "start slurmctld" start_daemon slurmctld
  timed "start slurmd" start_daemon slurmd
  timed "wait for an idle node" wait_idle
  echo "slurm: running (config $conf, tuning $tuning)"
}

# Stops the process recorded in $state/$1.pid, waiting for it to exit.
stop_daemon() {
  local name="$1" pid i
  if pid=$(live_pid "$name"); then
    kill "$pid"
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$state/$name.pid"
}

cmd_stop() {
  # Cancel what is left so slurmd has no job steps to wait for.
  if live_pid slurmctld >/dev/null; then
    SLURM_CONF="$conf" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
  fi
  timed "stop slurmd" stop_daemon slurmd
  timed "stop slurmctld" stop_daemon slurmctld
  timed "stop munged" stop_daemon munged
  if [[ -L "$system_conf" && "$(readlink "$system_conf")" == "$conf" ]]; then
    rm -f "$system_conf"
  fi
  echo "slurm: stopped"
}

cmd_status() {
  local name pid
  for name in munged slurmctld slurmd; do
    if pid=$(live_pid "$name"); then
      echo "slurm: $name running (pid $pid)"
    else
      echo "slurm: $name not started by this script"
    fi
  done
  local node
  node=$(node_state || true)
  if [[ -n "$node" ]]; then
    echo "slurm: node $(hostname) is $node"
  else
    echo "slurm: no controller answers"
    return 1
  fi
}

# Waits until none of the job ids given is in the queue.
wait_jobs() {
  local ids
  ids=$(IFS=,; echo "$*")
  while [[ -n "$(SLURM_CONF="$conf" squeue -h -j "$ids" -t PD,R,CG,CF -o %i 2>/dev/null)" ]]; do
    sleep 0.02
  done
}

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

cmd_bench() {
  export SLURM_CONF="$conf"
  local out="$state/bench"
  mkdir -p "$out"
  cd "$out"
  local t i ids prev
  echo "slurm bench: $(head -1 "$conf" | sed 's/.*(tuning: \(.*\)).*/tuning \1/'), $(nproc) CPUs"

  t=$(now)
  for i in $(seq 20); do srun -N1 -n1 --quiet true; done
  printf 'chain of 20 srun -N1 true: %.3f s each\n' "$(echo "$(since "$t") / 20" | bc -l)"

  t=$(now)
  ids=()
  for i in $(seq 20); do ids+=("$(sbatch --parsable --wrap true)"); done
  printf 'sbatch --wrap true, 20 submissions: %.3f s each to submit\n' "$(echo "$(since "$t") / 20" | bc -l)"
  wait_jobs "${ids[@]}"
  printf 'sbatch 20 independent jobs, submit to all done: %.2f s\n' "$(since "$t")"

  t=$(now)
  for i in $(seq 20); do sbatch --wait --quiet --wrap true >/dev/null; done
  printf 'chain of 20, coordinator-driven (sbatch --wait each): %.2f s (%.3f s a job)\n' "$(since "$t")" "$(echo "$(since "$t") / 20" | bc -l)"

  t=$(now)
  for i in $(seq 20); do wait_jobs "$(sbatch --parsable --wrap true)"; done
  printf 'chain of 20, coordinator-driven (sbatch, then poll squeue every 20 ms): %.2f s (%.3f s a job)\n' "$(since "$t")" "$(echo "$(since "$t") / 20" | bc -l)"

  t=$(now)
  prev=$(sbatch --parsable --wrap true)
  ids=("$prev")
  for i in $(seq 19); do
    prev=$(sbatch --parsable --dependency=afterok:"$prev" --wrap true)
    ids+=("$prev")
  done
  wait_jobs "${ids[@]}"
  printf 'chain of 20, --dependency=afterok: %.2f s (%.3f s a job)\n' "$(since "$t")" "$(echo "$(since "$t") / 20" | bc -l)"

  t=$(now)
  seq 200 | xargs -P "$(nproc)" -I{} srun -N1 -n1 --quiet true
  printf 'fan-out of 200 srun, %s at a time: %.2f s (%.3f s a job)\n' "$(nproc)" "$(since "$t")" "$(echo "$(since "$t") / 200" | bc -l)"

  t=$(now)
  ids=()
  for i in $(seq 200); do ids+=("$(sbatch --parsable --wrap true)"); done
  local submitted
  submitted=$(since "$t")
  wait_jobs "${ids[@]}"
  printf 'fan-out of 200 sbatch jobs: %.2f s to submit, %.2f s until all done (%.3f s a job)\n' \
    "$submitted" "$(since "$t")" "$(echo "$(since "$t") / 200" | bc -l)"

  t=$(now)
  ids=$(sbatch --parsable --array=1-200 --wrap true)
  wait_jobs "$ids"
  printf 'fan-out of 200 as one job array: %.2f s until all done\n' "$(since "$t")"
  rm -f "$out"/slurm-*.out
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bench) cmd_bench ;;
  *)
    echo "usage: $0 start|stop|status|bench" >&2
    exit 2
    ;;
esac
