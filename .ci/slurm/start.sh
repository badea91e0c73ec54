#!/usr/bin/env bash
# Starts a one-node SLURM cluster (munge, slurmctld, slurmd) for tests/test_slurm.py, as root.
#
#   .ci/slurm/start.sh [SCRATCH]      (default: $PCGC_SLURM_DIR or /tmp/pcgc-slurm)
#
# Everything the daemons write (state, spool, logs, pid files, the job completion record) lives
# under SCRATCH; SCRATCH/env says where, for the test. No accounting database: jobs are followed
# with `squeue` (the executor plugin's --slurm-status-command squeue), and slurmctld writes one
# line per finished job to SCRATCH/jobcomp.txt (jobcomp/filetxt), the scheduler's own record of
# what ran. stop.sh stops what this started.
set -euo pipefail
SCRATCH="${1:-${PCGC_SLURM_DIR:-/tmp/pcgc-slurm}}"
HOST="$(hostname -s)"
CPUS="$(nproc)"
# Leave the machine 2 GiB; the test's jobs ask for far less.
MEMORY_MB="$(awk '/MemAvailable/ {print int($2 / 1024) - 2048}' /proc/meminfo)"

for tool in slurmctld slurmd munged sinfo sbatch; do
    command -v "$tool" >/dev/null || { echo "start.sh: $tool not found (run .ci/slurm/install.sh)" >&2; exit 1; }
done
if [ -e "$SCRATCH/slurmctld.pid" ]; then
    echo "start.sh: $SCRATCH already holds a running cluster (stop.sh $SCRATCH first)" >&2
    exit 1
fi
mkdir -p "$SCRATCH"/{state,spool,log}
SCRATCH="$(cd "$SCRATCH" && pwd)"

cat > "$SCRATCH/slurm.conf" <<CONF
ClusterName=pcgc-ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=${SCRATCH}/state
SlurmdSpoolDir=${SCRATCH}/spool
SlurmctldLogFile=${SCRATCH}/log/slurmctld.log
SlurmdLogFile=${SCRATCH}/log/slurmd.log
SlurmctldPidFile=${SCRATCH}/slurmctld.pid
SlurmdPidFile=${SCRATCH}/slurmd.pid
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${SCRATCH}/jobcomp.txt
# Finished jobs stay visible to squeue and scontrol for an hour: the executor reads their state.
MinJobAge=3600
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEMORY_MB} State=UNKNOWN
PartitionName=ci Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONF

# SLURM's tools read the compiled-in /etc/slurm/slurm.conf; SLURM_CONF alone does not reach the
# executor's inner srun (it drops SLURM_* variables).
mkdir -p /etc/slurm
if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
    echo "start.sh: /etc/slurm/slurm.conf is a real file; refusing to replace it" >&2
    exit 1
fi
ln -sfn "$SCRATCH/slurm.conf" /etc/slurm/slurm.conf

# munge: a munged already running (the system's) is used and left alone; one started here is
# stopped by stop.sh through the pid file it wrote.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    cp /run/munge/munged.pid "$SCRATCH/munged.pid"
fi
munge -n | unmunge >/dev/null

/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 120); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && break
    sleep 0.5
done
state="$(sinfo -h -o %t 2>/dev/null || true)"
if [ "$state" != "idle" ]; then
    echo "start.sh: the node is '${state}', not idle; see $SCRATCH/log" >&2
    exit 1
fi
printf 'PCGC_SLURM_DIR=%s\n' "$SCRATCH" > "$SCRATCH/env"
echo "SLURM up: node $HOST ($CPUS CPUs, $MEMORY_MB MiB), partition ci, scratch $SCRATCH"
