#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, for the grid's Slurm tests and CI.
#
#   Tests/Support/slurm-local.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf when the node is idle
#   Tests/Support/slurm-local.sh stop DIR    # stops exactly the daemons `start` launched
#   Tests/Support/slurm-local.sh install     # only installs slurm-wlm and munge when missing (CI)
#
# `start` installs slurm-wlm and munge from Debian when they are missing (root only),
# writes a munge key and a slurm.conf under DIR (proctrack/linuxproc, task/none, this node's
# real CPU count and memory from `slurmd -C`, state and spool under DIR, ports of its own so
# a system Slurm is left alone), starts munged, slurmctld and slurmd in the foreground as
# background processes, records their pids in DIR/pids and waits until `sinfo` shows the
# node idle. Exit 3 when Slurm cannot run here (not root, packages missing); the message
# says why.
set -euo pipefail
command=${1:?usage: slurm-local.sh start|stop DIR, or install}

install() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "slurm-local: slurm-wlm and munge are not installed and this is not root" >&2; exit 3; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq slurm-wlm munge >/dev/null \
      || { echo "slurm-local: apt-get install slurm-wlm munge failed" >&2; exit 3; }
  fi
}
if [ "$command" = install ]; then install; exit 0; fi
dir=${2:?usage: slurm-local.sh start|stop DIR}

stop() {
  [ -f "$dir/pids" ] || return 0
  # Reverse start order: slurmd, slurmctld, then munged. Only the pids this script wrote.
  for pid in $(tac "$dir/pids"); do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $(tac "$dir/pids"); do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$dir/pids"
}

if [ "$command" = stop ]; then stop; exit 0; fi
[ "$command" = start ] || { echo "slurm-local: unknown command $command (start|stop)" >&2; exit 2; }

install
if [ "$(id -u)" != 0 ]; then echo "slurm-local: slurmd must run as root to start jobs (this is uid $(id -u))" >&2; exit 3; fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stop   # a previous cluster in the same folder
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir" "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"

host=$(hostname -s)
# This node as slurmd sees it (CPUs, sockets, cores, threads, memory), so the controller
# never drains it for a configuration mismatch.
node=$(slurmd -C | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
# Ports of our own, away from the defaults (6817/6818), chosen by the folder's path.
base=$(( 20000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 20000 ))
cat > "$dir/slurm.conf" <<CONF
# Throwaway one-node cluster written by Tests/Support/slurm-local.sh.
ClusterName=cilbench-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$(( base + 1 ))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MaxArraySize=10001
# Finished jobs stay listed for an hour: a test requeues a cancelled array task, which needs its record.
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf

: > "$dir/pids"
munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket.2" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
  >>"$dir/log/munged.out" 2>&1 &
echo $! >> "$dir/pids"
for _ in $(seq 1 100); do [ -S "$dir/munge/munge.socket.2" ] && break; sleep 0.1; done
[ -S "$dir/munge/munge.socket.2" ] || { echo "slurm-local: munged did not start: $(tail -3 "$dir/log/munged.log" "$dir/log/munged.out" 2>/dev/null)" >&2; stop; exit 3; }

slurmctld -D -c -f "$dir/slurm.conf" >>"$dir/log/slurmctld.out" 2>&1 &
echo $! >> "$dir/pids"
slurmd -D -f "$dir/slurm.conf" -N "$host" >>"$dir/log/slurmd.out" 2>&1 &
echo $! >> "$dir/pids"

for _ in $(seq 1 120); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  [ "$state" = idle ] && { echo "SLURM_CONF=$dir/slurm.conf"; exit 0; }
  for pid in $(cat "$dir/pids"); do
    kill -0 "$pid" 2>/dev/null || { echo "slurm-local: a daemon (pid $pid) exited: $(tail -3 "$dir"/log/*.log "$dir"/log/*.out 2>/dev/null | tr '\n' ' ')" >&2; stop; exit 3; }
  done
  sleep 0.5
done
echo "slurm-local: the node did not become idle within 60 s (state '${state:-none}'): $(tail -5 "$dir/log/slurmctld.log" | tr '\n' ' ')" >&2
stop
exit 3
