#!/bin/bash
# A second one-node cluster beside the suite's own (which runs during the tests): its
# own ports and name, so both come up and run a job. Exit 77 (skipped) without root
# or Slurm. Usage: second-cluster-test.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
out=$("$here/slurm-cluster.sh" start "$dir" --optional)
echo "$out"
case "$out" in *"no cluster"*) exit 77 ;; esac
trap '"$here/slurm-cluster.sh" stop "$dir"' EXIT
export SLURM_CONF=$dir/slurm.conf
grep -E '^(ClusterName|SlurmctldPort|SlurmdPort)=' "$SLURM_CONF"
timeout 60 srun -n 1 echo second-cluster-ran | grep -qx second-cluster-ran
echo "second-cluster-test: ok"
