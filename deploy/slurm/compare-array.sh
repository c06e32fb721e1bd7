#!/usr/bin/env bash
# One shard of a vmm compare sweep per array task. Submit with submit.sh, or by hand:
#   sbatch --array=0-3 deploy/slurm/compare-array.sh RESULTS_DIR [vmm compare arguments...]
# Task I of an array 0..N-1 runs vmm compare --shard I/N and writes RESULTS_DIR/compare-shard-I-of-N.json;
# RESULTS_DIR must be on a file system every node sees. VMM names the vmm command (default: vmm on PATH).
#SBATCH --job-name=vmm-compare
#SBATCH --output=slurm-vmm-compare-%A_%a.out
#SBATCH --cpus-per-task=1
set -euo pipefail

: "${SLURM_ARRAY_TASK_ID:?not an array task; submit with sbatch --array=0-(N-1) $0 RESULTS_DIR ...}"
if [ "$#" -lt 1 ]; then
  echo "usage: sbatch --array=0-(N-1) $0 RESULTS_DIR [vmm compare arguments...]" >&2
  exit 2
fi
results=$1
shift
# N is the array's size when it counts 0..N-1 (the array's highest index + 1); SHARDS overrides it for arrays
# resubmitted in part (sbatch --array=2,5 with SHARDS=8 reruns shards 2 and 5 of 8).
if [ "${SLURM_ARRAY_TASK_MIN:-0}" != 0 ] && [ -z "${SHARDS:-}" ]; then
  echo "$0: the array starts at ${SLURM_ARRAY_TASK_MIN}, not 0; shards count from 0 (--array=0-(N-1)), or set SHARDS=N" >&2
  exit 2
fi
shards=${SHARDS:-$((SLURM_ARRAY_TASK_MAX + 1))}
read -r -a vmm <<< "${VMM:-vmm}"

# --force: a requeued or resubmitted task rewrites its own slice (the same runs give the same file).
exec "${vmm[@]}" compare "$@" --shard "${SLURM_ARRAY_TASK_ID}/${shards}" --output "$results" --jobs "${SLURM_CPUS_PER_TASK:-1}" --force
