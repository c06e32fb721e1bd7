#!/usr/bin/env bash
# Self-test of the Slurm scripts on this one machine, as root: installs Slurm and MUNGE from the distribution's
# packages (Debian: slurm-wlm, munge), writes a one-node slurm.conf into a scratch directory, starts munged,
# slurmctld and slurmd, runs a sweep in one process, then the same sweep as a job array of 4 shards with a
# dependent merge job (submit.sh), and checks the merged compare.json and compare.csv equal the one process's
# byte for byte (cmp). Stops the daemons it started and removes the scratch directory on the way out.
#   deploy/slurm/selftest.sh [vmm compare arguments...]    (default: every stack and workload, --repeat 2)
# VMM names the vmm command (default: dotnet hosts/Vmm.Cli/bin/Debug/net10.0/vmm.dll, built if missing).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/deploy/slurm"
shards=4
sweep=("$@")
[ "${#sweep[@]}" -gt 0 ] || sweep=(--repeat 2)

if [ "$(id -u)" != 0 ]; then
  echo "selftest: run as root (it installs packages and starts munged, slurmctld and slurmd)" >&2
  exit 2
fi
say() { printf 'selftest: %s\n' "$*"; }
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge >/dev/null
fi
say "$(slurmctld -V), $(munged --version 2>&1 | awk '{print $1; exit}')"

if [ -z "${VMM:-}" ]; then
  dll="$repo/hosts/Vmm.Cli/bin/Debug/net10.0/vmm.dll"
  [ -f "$dll" ] || (cd "$repo" && dotnet build hosts/Vmm.Cli >/dev/null)
  VMM="dotnet $dll"
fi
export VMM
read -r -a vmm <<< "$VMM"

work=$(mktemp -d /tmp/vmm-slurm-selftest.XXXXXX)
started=()
cleanup() {
  status=$?
  set +e
  [ -n "${SLURM_CONF:-}" ] && command -v scancel >/dev/null && scancel --quiet --user root 2>/dev/null
  # Only what this script started, by pid, newest first.
  for (( i=${#started[@]}-1; i>=0; i-- )); do
    name=${started[i]%%:*}
    pidfile=${started[i]#*:}
    pid=$(cat "$pidfile" 2>/dev/null)
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      say "stopped $name"
    fi
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

mkdir -p "$work"/{state,spool,munge,single,shards,report}
chmod 755 "$work"

# MUNGE with its own socket and pid file, so that a munged already running here is left alone.
chown munge:munge "$work/munge"
socket="$work/munge/munge.socket"
runuser -u munge -- munged --socket="$socket" --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"
started+=("munged:$work/munge/munged.pid")
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null
say "munged is up"

host=$(hostname -s)
cpus=$(nproc)
cat > "$work/slurm.conf" <<CONF
ClusterName=vmm-selftest
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=${socket}
CredType=cred/munge
StateSaveLocation=${work}/state
SlurmdSpoolDir=${work}/spool
SlurmctldPidFile=${work}/slurmctld.pid
SlurmdPidFile=${work}/slurmd.pid
SlurmctldLogFile=${work}/slurmctld.log
SlurmdLogFile=${work}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=selftest Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"

slurmctld -f "$SLURM_CONF"
started+=("slurmctld:$work/slurmctld.pid")
slurmd -f "$SLURM_CONF"
started+=("slurmd:$work/slurmd.pid")
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1)
  [[ $state == idle* ]] && break
  sleep 1
done
[[ ${state:-} == idle* ]] || { say "the node did not become idle (state '${state:-none}'); slurmd.log:"; tail -20 "$work/slurmd.log"; exit 1; }
say "slurmctld and slurmd are up: $(sinfo -h -o '%P %D node, %c CPUs, %t')"

say "vmm compare ${sweep[*]}, plan:"
(cd "$repo" && "${vmm[@]}" compare "${sweep[@]}" --plan) | sed -n '1p;/^suggested/p' | sed 's/^/  /'

say "one process (--jobs $cpus)"
start=$(now)
(cd "$repo" && "${vmm[@]}" compare "${sweep[@]}" --jobs "$cpus" --export json,csv --output "$work/single" >/dev/null 2>"$work/single.err")
single=$(seconds "$start" "$(now)")
say "one process: ${single} s wall"

say "job array of $shards shards and a dependent merge job"
start=$(now)
submitted=$(cd "$repo" && SBATCH_ARGS="--chdir=$work" "$here/submit.sh" "$shards" "$work/shards" "$work/report" "${sweep[@]}")
say "$submitted"
merge=$(sed -E 's/.*merge job ([0-9]+).*/\1/' <<< "$submitted")
array=$(sed -E 's/^array job ([0-9]+).*/\1/' <<< "$submitted")
for _ in $(seq 900); do
  state=$(scontrol show job "$merge" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2)
  case $state in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  sleep 1
done
sharded=$(seconds "$start" "$(now)")
scontrol -o show job "$array" 2>/dev/null | sort | while read -r line; do
  echo "  array task $(grep -oE 'ArrayTaskId=[^ ]+' <<< "$line" | cut -d= -f2): $(grep -oE 'JobState=[^ ]+' <<< "$line" | cut -d= -f2) after $(grep -oE ' RunTime=[^ ]+' <<< "$line" | cut -d= -f2)"
done
say "merge job $merge: ${state:-unknown}"
for log in "$work"/slurm-vmm-*.out; do
  [ -f "$log" ] || continue
  say "$(basename "$log"):"
  grep -E '^(shard |vmm: |[0-9]+ workloads )' "$log" | sed 's/^/  /' || true
done
[ "$state" = COMPLETED ] || { say "FAILED: the merge job ended $state"; exit 1; }
for shard in "$work"/shards/compare-shard-*.json; do
  say "$(basename "$shard"): $(grep -oE '"wallSeconds": [0-9.]+' "$shard" | awk '{printf "%.1f s", $2}') in the shard, $(grep -c '"run":' "$shard") runs"
done
say "array of $shards and merge: ${sharded} s wall from submission to the merge job's end (one process: ${single} s)"

for file in compare.json compare.csv; do
  if cmp "$work/single/$file" "$work/report/$file"; then
    say "cmp $file: the merged file equals the one process's ($(wc -c < "$work/report/$file") bytes)"
  else
    say "FAILED: the merged $file differs from the one process's"
    exit 1
  fi
done
say "PASSED"
