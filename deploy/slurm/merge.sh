#!/usr/bin/env bash
# Merges the shards of a sweep once every array task has succeeded (submit.sh submits it with --dependency=afterok):
#   sbatch --dependency=afterok:ARRAY_JOB_ID deploy/slurm/merge.sh RESULTS_DIR REPORT_DIR [vmm merge arguments...]
# Writes REPORT_DIR/compare.md, .csv, .json (and whatever else the arguments ask for, e.g. --plot, --store runs.db).
#SBATCH --job-name=vmm-merge
#SBATCH --output=slurm-vmm-merge-%j.out
set -euo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: sbatch --dependency=afterok:ARRAY_JOB_ID $0 RESULTS_DIR REPORT_DIR [vmm merge arguments...]" >&2
  exit 2
fi
results=$1
report=$2
shift 2
read -r -a vmm <<< "${VMM:-vmm}"

exec "${vmm[@]}" merge "$results" --export md,csv,json --output "$report" "$@"
