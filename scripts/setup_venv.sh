#!/usr/bin/env bash
# Creates (or reuses) the virtual environment .venv in the repository root and installs asyncmarl into it.
# Re-installs only when pyproject.toml or setup.py changed since the last install (stamp .venv/.asyncmarl-installed).
#
# torch is pinned to 2.13.0. Which build pip picks is pip's choice, not ours: from PyPI on Linux that is the CUDA
# build (with its nvidia-* wheels, several GB of downloads) whether or not the machine has a GPU; a machine whose
# pip is configured with a local wheel (as our CI machine is) gets that wheel. For the CPU-only build (its wheel
# is 192 MB for Python 3.11 on x86-64 Linux) point pip at PyTorch's CPU index:
#   ASYNCMARL_TORCH_INDEX=https://download.pytorch.org/whl/cpu bash scripts/setup_venv.sh
# Other variables: PYTHON (the interpreter that creates .venv, default python3; must be >= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  version=$("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo "not runnable")
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: asyncmarl needs Python >= 3.10, but $PY is $version; run with PYTHON=/path/to/python3.10-or-newer" >&2
    exit 2
  fi
  echo "creating .venv with Python $version ($PY)"
  "$PY" -m venv .venv
fi
stamp=.venv/.asyncmarl-installed
want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  torch_args=("torch==2.13.0")
  if [ -n "${ASYNCMARL_TORCH_INDEX:-}" ]; then
    torch_args+=(--index-url "$ASYNCMARL_TORCH_INDEX")
    echo "installing torch 2.13.0 from $ASYNCMARL_TORCH_INDEX"
  else
    echo "installing torch 2.13.0 with pip's own settings (from PyPI on Linux: the CUDA build, several GB;"
    echo "  CPU-only instead: ASYNCMARL_TORCH_INDEX=https://download.pytorch.org/whl/cpu bash scripts/setup_venv.sh)"
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install "${torch_args[@]}"
  echo "installing asyncmarl and its dependencies (ray, wandb, pettingzoo, matplotlib, ...)"
  .venv/bin/python -m pip install -e ".[dev]"
  echo "$want" > "$stamp"
  echo "installed: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__, "CUDA" if torch.version.cuda else "CPU-only")')"
fi
