#!/usr/bin/env bash
# Sets up .venv (reused when present) and runs the main job on the default scenario.
# Extra arguments go to the job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export RAY_USAGE_STATS_ENABLED=0
exec .venv/bin/python -m asyncmarl.cluster.demo "$@"
