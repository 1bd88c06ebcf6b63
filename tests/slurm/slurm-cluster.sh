#!/bin/bash
# A one-node Slurm cluster on localhost for the tests and for developers:
#   tests/slurm/slurm-cluster.sh start DIR   # munged, slurmctld, slurmd; config in DIR
#   tests/slurm/slurm-cluster.sh stop DIR
# With --optional after DIR, a machine without root or Slurm gets no cluster and no error.
# Clients then need SLURM_CONF=DIR/slurm.conf. $HPAI_SLURM_PLUGSTACK, if set, becomes
# DIR/plugstack.conf (SPANK plugins). Needs root and the Debian packages
# slurmctld slurmd slurm-client munge. Everything but munged's socket lives in DIR.
set -euo pipefail
cmd=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm-cluster.sh start|stop DIR}")

stop() {
  for d in slurmd slurmctld; do
    if [ -f "$dir/$d.pid" ]; then
      pid=$(cat "$dir/$d.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/$d.pid"
    fi
  done
  rm -f "$dir/slurm.conf"  # the tests' sign that a cluster runs
}

optional=${3:-}
# --optional: without root or the packages, say why and leave no cluster (tests skip).
unavailable() {
  if [ "$optional" = --optional ]; then echo "slurm-cluster.sh: no cluster: $*"; rm -f "$dir/slurm.conf"; exit 0; fi
  echo "slurm-cluster.sh: $*" >&2
  exit 1
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: slurm-cluster.sh start|stop DIR" >&2; exit 64; }
[ "$(id -u)" = 0 ] || unavailable "needs root (slurmd runs jobs as their users)"
for p in munged slurmctld slurmd srun; do
  command -v $p >/dev/null || unavailable "$p missing (apt-get install slurmctld slurmd slurm-client munge)"
done

stop
rm -rf "$dir/state"  # a fresh cluster each time (an old state's cluster name would stop slurmctld)
mkdir -p "$dir/state" "$dir/spool"
rm -f "$dir/slurm.conf"
chmod 755 "$dir" "$dir/spool"

# munge: one daemon per machine; start it unless one answers already.
if ! munge -n </dev/null >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || create-munge-key -f; chown munge:munge /etc/munge/munge.key; }
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
fi

# Free ports and a name of this cluster's own, so that two suites (two build trees) on
# one machine each run theirs side by side.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
cluster="hpai-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"

cat >"$dir/slurm.conf" <<CONF
ClusterName=$cluster
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
# The time-limit test: slurmctld looks for expired jobs often, and SIGKILL follows SIGTERM after 2 s.
KillWait=2
OverTimeLimit=0
MessageTimeout=30
SlurmdParameters=config_overrides
PlugStackConfig=$dir/plugstack.conf
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
echo "# cgroups are not used" >"$dir/cgroup.conf"
# SPANK plugins: $HPAI_SLURM_PLUGSTACK is plugstack.conf's text (the suite loads hpai's
# plugin this way, as a site would: every srun of the suite runs with it loaded).
printf '%s\n' "${HPAI_SLURM_PLUGSTACK:-# no SPANK plugins}" >"$dir/plugstack.conf"

export SLURM_CONF="$dir/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
slurmd -N localhost -f "$SLURM_CONF"
for _ in $(seq 100); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  case "$state" in idle*|mixed*|allocated*) echo "slurm up: SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  sleep 0.2
done
rm -f "$SLURM_CONF"
echo "slurm-cluster.sh: the node did not come up (state: ${state:-none}); logs in $dir" >&2
tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
