#!/usr/bin/env bash
# A sweep as a Slurm job array: one shard per array task, then one merge job once every shard has ended.
#
#   bash Experiments/slurm/sweep-array.sh EXPERIMENT OUT SHARDS [sbatch options...]
#   bash Experiments/slurm/sweep-array.sh Experiments/theorem41.yaml out/theorem41 16 --time=1:00:00
#
# submits `forgetting sweep EXPERIMENT --out OUT/shard-I --shard I/SHARDS` for I = 0..SHARDS-1 (array
# tasks) and `forgetting merge --force OUT/merged OUT/shard-*` after them. OUT/merged then holds exactly
# the CSVs of `forgetting sweep EXPERIMENT --out DIR` (wall_seconds aside). Build the release binary first
# (`swift build -c release`) on a filesystem the nodes share; this script runs the binary beside it.
#
#   OUT/shard-I/           shard I's sweep (a task finding experiment.json there passes --resume)
#   OUT/merged/            the merged sweep
#   OUT/logs/shard-I.log   shard I's log, appended to (a requeued or resubmitted task adds to it)
#   OUT/logs/merge.log     the merge's log
#   OUT/logs/shards.jobid  the array job ids submitted for OUT, one a line
#   OUT/logs/merge.jobid   the current merge job id
#
# Settings (environment):
#   SWEEP_SHARDS=LIST          array indices to submit, e.g. 3 or 1,5-7 (default: all, 0-(SHARDS-1))
#   SWEEP_CPUS_PER_TASK=N      CPUs per shard task, passed on as --threads (default 2, or 1 if no node of
#                              the partition, -p/--partition or the default one, has 2)
#
# The sbatch options go to the shard tasks after the script's own, so they override them (--cpus-per-task,
# --output, --job-name, ...); --array is refused (use SWEEP_SHARDS). The merge job takes them before its
# own, which win: its name, one CPU, its log OUT/logs/merge.log (stdout and stderr) and its dependency on
# the shards. EXPERIMENT and OUT are made absolute first: resubmitting from another directory reaches the
# same shards.
#
# A task that is preempted or requeued (`scontrol requeue`) starts again with --resume and redoes only the
# runs it had not finished. The merge waits for every task to end however it ends (afterany), so a
# cancelled or failed shard never leaves it pending forever: it then fails, naming the unfinished shards and
# the command that resubmits them, e.g.
#
#   SWEEP_SHARDS=3 bash Experiments/slurm/sweep-array.sh Experiments/theorem41.yaml out/theorem41 16
#
# which runs shard 3 again with --resume and replaces a still-pending merge (cancels it, by the id in
# OUT/logs/merge.jobid) by one that also waits for the earlier array tasks still queued or running.
set -euo pipefail
usage="usage: sweep-array.sh EXPERIMENT OUT SHARDS [sbatch options...]"
fail() { echo "sweep-array.sh: $*" >&2; exit 1; }
[ $# -ge 3 ] || fail "$usage"
experiment=$1 out=$2 shards=$3
shift 3

[[ $shards =~ ^[1-9][0-9]{0,5}$ ]] || fail "SHARDS must be a whole number from 1 to 999999, got '$shards'"
cpus=${SWEEP_CPUS_PER_TASK:-}
[[ -z $cpus || $cpus =~ ^[1-9][0-9]{0,3}$ ]] || fail "SWEEP_CPUS_PER_TASK must be a whole number from 1 to 9999, got '$cpus'"
indices=${SWEEP_SHARDS:-0-$((shards - 1))}
[[ $indices =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
  fail "SWEEP_SHARDS must be array indices like 3 or 1,5-7, got '$indices'"
IFS=, read -ra ranges <<<"$indices"
for range in "${ranges[@]}"; do
  low=$((10#${range%-*})) high=$((10#${range#*-}))
  ((low <= high && high < shards)) || fail "SWEEP_SHARDS: '$range' is not within 0-$((shards - 1))"
done
for option in "$@"; do
  case $option in
    --array | --array=* | -a | -a?*) fail "sbatch option '$option': the script sets --array (use SWEEP_SHARDS=LIST)" ;;
  esac
done

[ -f "$experiment" ] || fail "EXPERIMENT '$experiment' is not a file"
[ -n "$out" ] || fail "OUT is empty"
# Absolute, normalized without resolving links (as the sweep normalizes instance paths).
experiment=$(realpath -s -e -- "$experiment")
out=$(realpath -s -m -- "$out")
script=$(realpath -s -e -- "$0")
forgetting="$(cd "$(dirname "$script")/../.." && pwd)/.build/release/forgetting"
[ -x "$forgetting" ] || fail "build first: swift build -c release ($forgetting missing)"
command -v sbatch >/dev/null || fail "sbatch not found (is this a Slurm submit host?)"
if [ -z "$cpus" ]; then
  # 2, or 1 if no node of the partition the tasks go to (the user's -p/--partition, else the default one)
  # has 2 CPUs: a task asking for more CPUs than any node has never starts.
  partition=""
  for ((k = 1; k <= $#; k++)); do
    option=${!k}
    case $option in
      --partition=*) partition=${option#--partition=} ;;
      -p?*) partition=${option#-p} ;;
      --partition | -p) next=$((k + 1)); partition=${!next:-} ;;
    esac
  done
  [ -n "$partition" ] || partition=$(sinfo -h -o %P 2>/dev/null | sed -n 's/\*$//p' | head -1) || true
  largest=$(sinfo -h -N ${partition:+-p "$partition"} -o %c 2>/dev/null | tr -dc '0-9\n' | sort -n | tail -1) || true
  if [[ $largest =~ ^[1-9][0-9]*$ ]] && ((largest < 2)); then cpus=$largest; else cpus=2; fi
fi
mkdir -p "$out/logs"

# The job scripts run under bash, with every value quoted by printf %q (paths may hold spaces or quotes).
values() {
  printf 'forgetting=%q experiment=%q out=%q shards=%q script=%q cpus=%q\n' "$forgetting" "$experiment" "$out" "$shards" "$script" "$cpus"
  printf 'options=('; [ $# -eq 0 ] || printf '%q ' "$@"; printf ')\n'
}
shard_script() {
  printf '#!/bin/bash\nset -euo pipefail\n'
  values "$@"
  cat <<'EOF'
i=$SLURM_ARRAY_TASK_ID
dir="$out/shard-$i"
resume=()
if [ -f "$dir/experiment.json" ]; then resume=(--resume); fi
echo "shard $i/$shards: job $SLURM_JOB_ID on $(hostname) at $(date -u +%FT%TZ), restart ${SLURM_RESTART_COUNT:-0}${resume:+, resuming}"
exec "$forgetting" sweep "$experiment" --out "$dir" --shard "$i/$shards" --threads "${SLURM_CPUS_PER_TASK:-1}" "${resume[@]}"
EOF
}
merge_script() {
  printf '#!/bin/bash\nset -euo pipefail\n'
  values "$@"
  cat <<'EOF'
dirs=() missing=()
for ((i = 0; i < shards; i++)); do
  dirs+=("$out/shard-$i")
  [ -f "$out/shard-$i/summary.csv" ] || missing+=("$i")
done
if [ ${#missing[@]} -gt 0 ]; then
  list=$(IFS=,; echo "${missing[*]}")
  echo "merge: shard(s) $list did not finish (see $out/logs/shard-I.log); resubmit them with: SWEEP_SHARDS=$list SWEEP_CPUS_PER_TASK=$cpus bash $(printf '%q ' "$script" "$experiment" "$out" "$shards" ${options[@]+"${options[@]}"})" >&2
  exit 1
fi
exec "$forgetting" merge --force "$out/merged" "${dirs[@]}"
EOF
}

# sbatch --parsable prints "id" or "id;cluster".
submit() {
  local reply
  reply=$(sbatch --parsable "$@") || exit 1
  reply=${reply%%;*}
  [[ $reply =~ ^[0-9]+$ ]] || fail "sbatch answered '$reply', not a job id"
  echo "$reply"
}

array_job=$(shard_script "$@" | submit --array="$indices" --cpus-per-task="$cpus" --job-name=sweep-shards \
  --open-mode=append --output="$out/logs/shard-%a.log" "$@")
# Earlier array jobs for OUT that still have tasks queued or running: the new merge waits for them too.
after=$array_job
if [ -f "$out/logs/shards.jobid" ]; then
  while read -r job; do
    [[ $job =~ ^[0-9]+$ ]] || continue
    if [ -n "$(squeue -h -j "$job" -o %i 2>/dev/null)" ]; then after+=":$job"; fi
  done <"$out/logs/shards.jobid"
fi
echo "$array_job" >>"$out/logs/shards.jobid"
# One merge per OUT: a pending merge from an earlier submission is replaced.
if [ -f "$out/logs/merge.jobid" ]; then
  old=$(<"$out/logs/merge.jobid")
  if [[ $old =~ ^[0-9]+$ ]] && [ -n "$(squeue -h -j "$old" -t PENDING -o %i 2>/dev/null)" ]; then
    scancel --state=PENDING "$old" && echo "cancelled the pending merge job $old"
  fi
fi
# The merge takes the user's options too (partition, account, time, ...), then its own, which win (sbatch
# keeps an option's last value): it must wait for the shards, log to OUT/logs/merge.log and needs one CPU.
merge_job=$(merge_script "$@" | submit "$@" --cpus-per-task=1 --job-name=sweep-merge --open-mode=append \
  --output="$out/logs/merge.log" --error="$out/logs/merge.log" --dependency=afterany:"$after")
echo "$merge_job" >"$out/logs/merge.jobid.tmp" && mv "$out/logs/merge.jobid.tmp" "$out/logs/merge.jobid"
echo "submitted shards $indices of $shards as job $array_job ($cpus CPUs per task unless the sbatch options say otherwise) and the merge as job $merge_job (after $after); logs in $out/logs"
