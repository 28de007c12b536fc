#!/usr/bin/env bash
# A sweep as a Slurm job array: one shard per array task, then one merge job once all shards succeed.
#
#   bash Experiments/slurm/sweep-array.sh Experiments/theorem41.yaml out/theorem41 16
#
# submits `forgetting sweep EXPERIMENT --out OUT/shard-I --shard I/N` for I = 0..N-1 (array tasks; each
# restartable with --resume if preempted) and `forgetting merge OUT OUT/shard-*` after them. The merged
# CSVs equal those of `forgetting sweep EXPERIMENT --out OUT` (wall_seconds aside). Build the release
# binary first (`swift build -c release`) on a filesystem the nodes share.
set -euo pipefail
experiment=${1:?usage: sweep-array.sh EXPERIMENT OUT SHARDS [sbatch options...]}
out=${2:?usage: sweep-array.sh EXPERIMENT OUT SHARDS}
shards=${3:?usage: sweep-array.sh EXPERIMENT OUT SHARDS}
shift 3
forgetting="$(cd "$(dirname "$0")/../.." && pwd)/.build/release/forgetting"
[ -x "$forgetting" ] || { echo "build first: swift build -c release ($forgetting missing)" >&2; exit 1; }
mkdir -p "$out/logs"

array_job=$(sbatch --parsable "$@" --array=0-$((shards - 1)) --cpus-per-task=2 \
  --job-name=sweep-shards --output="$out/logs/shard-%a.log" \
  --wrap="dir=$out/shard-\$SLURM_ARRAY_TASK_ID; \
          if [ -f \$dir/experiment.json ]; then resume=--resume; else resume=; fi; \
          $forgetting sweep $experiment --out \$dir --shard \$SLURM_ARRAY_TASK_ID/$shards --threads \$SLURM_CPUS_PER_TASK \$resume")

shard_dirs=$(for i in $(seq 0 $((shards - 1))); do printf '%s ' "$out/shard-$i"; done)
merge_job=$(sbatch --parsable "$@" --dependency=afterok:"$array_job" --job-name=sweep-merge \
  --output="$out/logs/merge.log" --wrap="$forgetting merge $out $shard_dirs")
echo "submitted shards as job $array_job and the merge as job $merge_job"
