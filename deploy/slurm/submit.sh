#!/usr/bin/env bash
# Submits a sweep as a job array of N shards and a merge job that runs when all of them succeeded:
#   deploy/slurm/submit.sh N RESULTS_DIR REPORT_DIR [vmm compare arguments...]
# e.g. deploy/slurm/submit.sh 16 /shared/sweep1/shards /shared/sweep1/report --repeat 20 --set boot.pages=4096
# vmm compare --plan with the same arguments suggests N. Prints the two job ids. VMM, SBATCH_* variables and
# extra sbatch options in SBATCH_ARGS (e.g. "--partition=short --time=30") are passed through.
set -euo pipefail

if [ "$#" -lt 3 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N RESULTS_DIR REPORT_DIR [vmm compare arguments...]  (N shards, 1 or more)" >&2
  exit 2
fi
shards=$1
results=$2
report=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
read -r -a extra <<< "${SBATCH_ARGS:-}"
mkdir -p "$results"

array=$(sbatch --parsable "${extra[@]}" --array="0-$((shards - 1))" "$here/compare-array.sh" "$results" "$@")
array=${array%%;*}
merge=$(sbatch --parsable "${extra[@]}" --dependency="afterok:${array}" --kill-on-invalid-dep=yes "$here/merge.sh" "$results" "$report")
merge=${merge%%;*}
echo "array job ${array} (${shards} shards into ${results}), merge job ${merge} (report into ${report})"
