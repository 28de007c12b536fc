#!/usr/bin/env bash
# Runs Experiments/slurm/sweep-array.sh on a real single-node Slurm cluster started just for this test.
#
#   bash Experiments/slurm/test-local.sh        (as root, on Debian; .ci/run calls it)
#
# Installs munge, slurmctld, slurmd and slurm-client if missing (apt-get), builds the release binary, starts
# munged (as the munge user), slurmctld and slurmd with every file in a fresh /tmp/forgetting-slurm.XXXXXX
# and on free ports of their own (no systemd, no cgroups: proctrack/linuxproc, task/none), so neither an
# installed cluster nor daemons left by an earlier run are touched. On Experiments/slurm/test-local.yaml
# (120 runs, 4 shards, paths with spaces) it checks:
#   A. shards submitted from one directory with user options (--cpus-per-task=1 --job-name=...) that
#      override the script's; one shard cancelled mid-run and resubmitted alone from another directory
#      (SWEEP_SHARDS=1, relative paths): it resumes, the pending merge is replaced, not doubled, and the
#      merged CSVs equal a direct `forgetting sweep`'s (summary.csv's wall_seconds column aside);
#   B. one running shard requeued (what preemption does) and one cancelled (SWEEP_CPUS_PER_TASK=1): the
#      merge waits for the requeued shard, then fails naming the cancelled one instead of pending forever;
#      the requeued shard's log holds both attempts; the cancelled shard resubmitted by the command the
#      merge's message gives, the merge equals the direct sweep;
#   C. the default CPUs per task (2 here) with -p naming the partition, and a user --dependency that the
#      merge's own overrides: it still waits for its shards and equals the direct sweep.
# Every wait has a timeout; the cluster part takes about a minute. The daemons it started are stopped by
# their process ids on exit, however it exits. If they cannot start it says so in one line, naming the
# kept logs, and exits 1; a later failure also prints the last lines of the daemons' logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=$SECONDS
say() { printf 'slurm-test [%3d s]: %s\n' $((SECONDS - started)) "$*"; }
fail() { printf 'slurm-test [%3d s]: FAILED: %s\n' $((SECONDS - started)) "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages and starts munged and slurmd)"
# Settings of an enclosing Slurm job or of the user must not reach this cluster's commands.
for variable in $(compgen -e); do
  case $variable in SLURM_* | SBATCH_* | SQUEUE_* | SINFO_* | SCANCEL_* | SCONTROL_*) unset "$variable" ;; esac
done

packages=(munge slurmctld slurmd slurm-client)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed"
fi
for command in munged munge slurmctld slurmd sbatch squeue scontrol scancel sinfo setpriv realpath; do
  command -v "$command" >/dev/null || fail "$command not found after installing ${packages[*]}"
done
id munge >/dev/null 2>&1 || fail "no munge user (the munge package creates it)"

work=$(mktemp -d /tmp/forgetting-slurm.XXXXXX)
chmod 755 "$work" # munged runs as munge and needs to reach its directory
daemons=()        # process ids of the daemons this script started, in start order
conf=$work/slurm/slurm.conf
controller_up=false
cluster_up=false # until then a failure is one line (it names the logs, which are kept)

stop() {
  local status=$? pid i
  trap - ERR
  set +e
  if $controller_up; then
    # Every job of this private cluster is this test's: cancel them and give them time to end.
    SLURM_CONF=$conf scancel --user=root >/dev/null 2>&1
    for ((i = 0; i < 50; i++)); do
      [ -z "$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
    pid=${daemons[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  cd /
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  elif $cluster_up; then
    for log in "$work"/slurm/*.log "$work"/munge/munged.out; do
      [ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -15 "$log" >&2; }
    done
    echo "slurm-test: kept $work for inspection" >&2
  fi
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP
set -E # any other failing command: one line saying which
trap 'fail "line $LINENO: $BASH_COMMAND exited with status $?"' ERR

say "building the release binary"
swift build -c release --package-path "$root" >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log" >&2; fail "swift build -c release failed"; }
forgetting=$root/.build/release/forgetting

# Polls COMMAND... every 0.2 s until it succeeds; fails after SECONDS.
wait_until() {
  local limit=$((SECONDS + $1)) seconds=$1 what=$2
  shift 2
  until "$@"; do
    ((SECONDS < limit)) || fail "timed out after $seconds s waiting for $what"
    sleep 0.2
  done
}

# --- munge: own key, socket, pid, log and seed files.
mkdir -m 755 "$work/munge"
head -c 1024 /dev/urandom >"$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
chown -R munge:munge "$work/munge"
socket=$work/munge/munge.socket
setpriv --reuid=munge --regid=munge --init-groups munged --foreground --socket="$socket" \
  --key-file="$work/munge/munge.key" --log-file="$work/munge/munged.log" \
  --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" >"$work/munge/munged.out" 2>&1 &
daemons+=($!)
munge_works() { munge --socket="$socket" --no-input >/dev/null 2>&1; }
wait_until 15 "munged to answer on its socket (munged could not start; see $work/munge/munged.out)" munge_works

# --- slurm: two free ports, all state in $work/slurm.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 100); do
  port=$((20000 + RANDOM % 20000))
  port_free "$port" && port_free $((port + 1)) && break
done
mkdir -p "$work/slurm/state" "$work/slurm/spool"
host=$(hostname -s)
cat >"$conf" <<EOF
ClusterName=fgtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits this long before it may start again (default 120 s).
AuthInfo=socket=$socket,cred_expire=5
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/slurm/state
SlurmdSpoolDir=$work/slurm/spool
SlurmctldPidFile=$work/slurm/slurmctld.pid
SlurmdPidFile=$work/slurm/slurmd.pid
SlurmctldLogFile=$work/slurm/slurmctld.log
SlurmdLogFile=$work/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=fgnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=fgpart Nodes=fgnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf
slurmctld -D -f "$conf" >"$work/slurm/slurmctld.out" 2>&1 &
daemons+=($!)
controller_up=true
slurmd -D -N fgnode -f "$conf" >"$work/slurm/slurmd.out" 2>&1 &
daemons+=($!)
node_idle() { [ "$(sinfo -h -n fgnode -o %t 2>/dev/null)" = idle ]; }
wait_until 30 "the node to come up (slurmctld or slurmd could not start; see the .out and .log files in $work/slurm)" node_idle
cluster_up=true
say "cluster up: munged, slurmctld and slurmd (pids ${daemons[*]}), ports $port-$((port + 1)), $(nproc) CPUs, in $work"

# --- the experiment, in a directory whose name holds a space, and the direct sweep to compare with.
mkdir -p "$work/exp dir/slurm" "$work/out dir"
cp Experiments/slurm/test-local.yaml "$work/exp dir/slurm/"
cp -r Experiments/instances "$work/exp dir/"
experiment="$work/exp dir/slurm/test-local.yaml"
"$forgetting" sweep "$experiment" --out "$work/direct" --threads "$(nproc)" 2>"$work/direct.log" ||
  { cat "$work/direct.log" >&2; fail "the direct sweep failed"; }
runs=$(($(wc -l <"$work/direct/summary.csv") - 1))
say "direct sweep: $runs runs"

sweep_array() { bash "$root/Experiments/slurm/sweep-array.sh" "$@"; }
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
ended() { case $(state "$1") in PENDING | RUNNING | REQUEUED | COMPLETING | CONFIGURING | SUSPENDED | "") return 1 ;; esac; }
running_with_parts() { # JOB DIR: the task runs and has finished at least two runs
  [ "$(state "$1")" = RUNNING ] && [ "$(find "$2/parts" -name 'run-*.summary.csv' 2>/dev/null | wc -l)" -ge 2 ]
}
live_merges() { squeue -h -r -o '%K' | grep -c 'N/A' || true; } # jobs that are not array tasks
expect_state() { local s; s=$(state "$1"); [ "$s" = "$2" ] || fail "job $1 ($3) is $s, expected $2"; }
same_as_direct() { # DIR: the merged CSVs equal the direct sweep's, summary.csv's wall_seconds column aside
  cmp -s "$work/direct/trajectories.csv" "$1/trajectories.csv" || fail "$1/trajectories.csv differs from the direct sweep's"
  cmp -s <(sed 's/,[^,]*$//' "$work/direct/summary.csv") <(sed 's/,[^,]*$//' "$1/summary.csv") ||
    fail "$1/summary.csv differs from the direct sweep's (wall_seconds aside)"
  say "$1: trajectories.csv and summary.csv equal the direct sweep's ($runs runs)"
}
resumed() { # LOG: the last attempt resumed and ran fewer than the shard's 30 runs
  grep -q 'resuming$' "$1" && grep -Eq '30 runs \(([0-9]|[12][0-9]) run now' "$1" ||
    { cat "$1" >&2; fail "$1 shows no resumed attempt that skipped finished runs"; }
}

# --- A: user options override, a cancelled shard resubmitted from elsewhere, one merge.
a="$work/out dir/a"
(cd "$work" && sweep_array "exp dir/slurm/test-local.yaml" "out dir/a" 4 --cpus-per-task=1 --job-name=fg-a) ||
  fail "sweep-array.sh (A) failed"
shards_a=$(tail -1 "$a/logs/shards.jobid") merge_a=$(<"$a/logs/merge.jobid")
[ "$(field "${shards_a}_0" NumCPUs)" = 1 ] && [ "$(field "${shards_a}_0" JobName)" = fg-a ] ||
  fail "the user's --cpus-per-task=1 --job-name=fg-a did not override the script's (scontrol: $(field "${shards_a}_0" NumCPUs) CPUs, name $(field "${shards_a}_0" JobName))"
say "A: shards job $shards_a, merge job $merge_a; user options override the script's (1 CPU, name fg-a)"
wait_until 120 "shard 1 of A to run and finish two runs" running_with_parts "${shards_a}_1" "$a/shard-1"
scancel "${shards_a}_1"
wait_until 60 "cancelled shard 1 of A to end" ended "${shards_a}_1"
expect_state "${shards_a}_1" CANCELLED "shard 1 of A"
[ "$(state "$merge_a")" = PENDING ] || fail "merge $merge_a should still wait for shards 2 and 3, is $(state "$merge_a")"
reply=$(cd "$work/out dir" && SWEEP_SHARDS=1 sweep_array "../exp dir/slurm/test-local.yaml" a 4 --cpus-per-task=1 --job-name=fg-a) ||
  fail "resubmitting shard 1 of A failed"
echo "$reply" | grep -q "cancelled the pending merge job $merge_a" || fail "the resubmission did not replace merge $merge_a: $reply"
merge_a2=$(<"$a/logs/merge.jobid")
[ "$merge_a2" != "$merge_a" ] && [ "$(live_merges)" = 1 ] || fail "expected one live merge job after resubmitting, found $(live_merges)"
expect_state "$merge_a" CANCELLED "the replaced merge of A"
say "A: shard 1 cancelled mid-run and resubmitted from another directory; merge $merge_a replaced by $merge_a2"
wait_until 180 "the merge of A to end" ended "$merge_a2"
expect_state "$merge_a2" COMPLETED "merge of A"
resumed "$a/logs/shard-1.log"
same_as_direct "$a/merged"

# --- B: a requeued running shard, a cancelled shard, the merge fails instead of pending forever.
b="$work/out dir/b"
SWEEP_CPUS_PER_TASK=1 sweep_array "$experiment" "$b" 4 --job-name=fg-b >/dev/null || fail "sweep-array.sh (B) failed"
shards_b=$(tail -1 "$b/logs/shards.jobid") merge_b=$(<"$b/logs/merge.jobid")
[ "$(field "${shards_b}_0" NumCPUs)" = 1 ] || fail "SWEEP_CPUS_PER_TASK=1 gave $(field "${shards_b}_0" NumCPUs) CPUs"
scancel "${shards_b}_3"
wait_until 120 "shard 0 of B to run and finish two runs" running_with_parts "${shards_b}_0" "$b/shard-0"
scontrol requeue "${shards_b}_0" || fail "scontrol requeue ${shards_b}_0 failed"
say "B: shards job $shards_b (1 CPU each from SWEEP_CPUS_PER_TASK), shard 3 cancelled, shard 0 requeued mid-run"
wait_until 180 "the merge of B to end" ended "$merge_b"
expect_state "$merge_b" FAILED "merge of B after a cancelled shard"
grep -q 'shard(s) 3 did not finish' "$b/logs/merge.log" || { cat "$b/logs/merge.log" >&2; fail "merge.log does not name shard 3"; }
[ -f "$b/shard-0/summary.csv" ] || fail "the merge of B ran before requeued shard 0 finished"
[ "$(grep -c '^shard 0/4: ' "$b/logs/shard-0.log")" = 2 ] && grep -q 'restart 1, resuming$' "$b/logs/shard-0.log" ||
  { cat "$b/logs/shard-0.log" >&2; fail "shard-0.log does not hold both attempts of the requeued task"; }
resumed "$b/logs/shard-0.log"
say "B: merge $merge_b failed naming shard 3; requeued shard 0 resumed, its log kept both attempts"
# The command the merge's message gives, run as it stands.
hint=$(sed -n 's/.*resubmit them with: //p' "$b/logs/merge.log" | tail -1)
case $hint in "SWEEP_SHARDS=3 SWEEP_CPUS_PER_TASK=1 bash "*" --job-name=fg-b ") ;; *) fail "unexpected resubmission command in merge.log: $hint" ;; esac
bash -c "$hint" >/dev/null || fail "the merge's resubmission command failed: $hint"
say "B: resubmitted with the merge's command: $hint"
merge_b2=$(<"$b/logs/merge.jobid")
wait_until 180 "the second merge of B to end" ended "$merge_b2"
expect_state "$merge_b2" COMPLETED "merge of B"
same_as_direct "$b/merged"

# --- C: the default CPUs per task (2 on this 2-CPU node, read for the partition -p names), and the merge's own
# options winning over the user's: a --dependency on a job that has ended would let it start at once.
c="$work/out dir/c"
sweep_array "$experiment" "$c" 2 -p fgpart --dependency=afterany:"$shards_b" >/dev/null || fail "sweep-array.sh (C) failed"
shards_c=$(tail -1 "$c/logs/shards.jobid") merge_c=$(<"$c/logs/merge.jobid")
[ "$(field "${shards_c}_0" NumCPUs)" = 2 ] || fail "the default gave $(field "${shards_c}_0" NumCPUs) CPUs per task on a 2-CPU node"
[ "$(field "$merge_c" NumCPUs)" = 1 ] || fail "the merge of C has $(field "$merge_c" NumCPUs) CPUs, not its own 1"
case $(field "$merge_c" Dependency) in *"$shards_c"*) ;; *) fail "the merge of C depends on '$(field "$merge_c" Dependency)', not on its shards $shards_c" ;; esac
wait_until 180 "the merge of C to end" ended "$merge_c"
expect_state "$merge_c" COMPLETED "merge of C"
same_as_direct "$c/merged"
say "C: 2 CPUs per task by default; the merge kept its own CPUs and dependency over the user's options"
say "all checks passed"
