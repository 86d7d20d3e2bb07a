#!/usr/bin/env bash
# Sets up .venv (reused when present), lints with ruff and runs the test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow"` to skip the slower integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
.venv/bin/ruff check .  # lint first (rules in pyproject.toml [tool.ruff]): a finding fails the run
export WANDB_MODE=${WANDB_MODE:-disabled}
export RAY_USAGE_STATS_ENABLED=0
exec .venv/bin/python -m pytest -q --timeout=900 "$@"
