#!/usr/bin/env bash
# Runs the sweep on the cluster kubectl points at: the results volume, the Indexed Job of shards, then (when every
# index succeeded) the merge Job, and prints the merge's output. The image vmm:latest must be where the nodes can
# pull it (docker build -f deploy/k8s/Dockerfile -t REGISTRY/vmm:TAG . && docker push ..., then set image: in both Jobs).
#   deploy/k8s/run.sh [TIMEOUT_SECONDS]     (default 3600 per Job)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout=${1:-3600}

# Kubernetes has no dependency between Jobs: wait for Complete, and stop at Failed rather than at the timeout.
finished() {
  local job=$1 waited=0 conditions
  while [ "$waited" -lt "$timeout" ]; do
    conditions=$(kubectl get "job/$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
    case " $conditions " in
      *" Complete "*) return 0 ;;
      *" Failed "*) echo "job/$job failed:" >&2; kubectl logs "job/$job" --tail=20 >&2 || true; return 1 ;;
    esac
    sleep 5
    waited=$((waited + 5))
  done
  echo "job/$job did not finish in ${timeout} s" >&2
  return 1
}

kubectl apply -f "$here/results-pvc.yaml"
kubectl delete job vmm-compare vmm-merge --ignore-not-found
kubectl apply -f "$here/compare-job.yaml"
finished vmm-compare
kubectl apply -f "$here/merge-job.yaml"
finished vmm-merge
kubectl logs job/vmm-merge
