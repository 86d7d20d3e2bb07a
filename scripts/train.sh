#!/usr/bin/env bash
# Sets up .venv (reused when present) and runs the main job: ToMacVF on BoxPushing-6 (preset
# boxpushing6_tomacvf), in this process, logging to runs/ and to wandb (offline unless WANDB_API_KEY is set).
# Extra arguments are key=value overrides, e.g. `bash scripts/train.sh cluster.runtime=ray seed=1`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export RAY_USAGE_STATS_ENABLED=0
exec .venv/bin/asyncmarl train boxpushing6_tomacvf "$@"
