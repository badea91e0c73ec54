#!/usr/bin/env bash
# Stops what start.sh started (by the pid files it left in SCRATCH) and removes the config link.
#
#   .ci/slurm/stop.sh [SCRATCH]       (default: $PCGC_SLURM_DIR or /tmp/pcgc-slurm)
set -uo pipefail
SCRATCH="${1:-${PCGC_SLURM_DIR:-/tmp/pcgc-slurm}}"

stop() {  # stop NAME PIDFILE: TERM, then wait; a zombie (re-parented to PID 1) counts as stopped
    local name="$1" pidfile="$2" pid state
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 100); do
            state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
            [ -z "$state" ] || [ "$state" = "Z" ] && break
            sleep 0.1
        done
        [ -z "$state" ] || [ "$state" = "Z" ] || { echo "stop.sh: $name ($pid) still running; KILL" >&2; kill -KILL "$pid"; }
    fi
    rm -f "$pidfile"
}

stop slurmd "$SCRATCH/slurmd.pid"
stop slurmctld "$SCRATCH/slurmctld.pid"
stop munged "$SCRATCH/munged.pid"
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$(cd "$SCRATCH" 2>/dev/null && pwd)/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
