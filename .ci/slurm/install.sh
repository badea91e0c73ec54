#!/usr/bin/env bash
# Installs a single-node SLURM from Debian's packages (for the CI test tests/test_slurm.py).
# Needs root and apt. Without systemd the packages' own start-up fails harmlessly: start.sh
# starts the daemons.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
