"""asyncmarl: a Ray actor-learner platform for asynchronous cooperative multi-agent RL.

Parts: ``asyncmarl.platform`` (environments, data types, encodings, networks, config),
``asyncmarl.rollout_workers``, ``asyncmarl.memory_service``, ``asyncmarl.learner`` and
``asyncmarl.cluster`` (topology, CLI, logging, checkpoints).
"""
from pathlib import Path as _Path

__version__ = "0.1.0"

# In an editable install setuptools resolves our parts through a meta-path finder that cannot resolve a
# namespace sub-package, and `platform/` is one on purpose (no top-level __init__.py, so it never shadows the
# standard library's `platform`). Adding the checkout root to our __path__ lets the ordinary path finder find
# `asyncmarl.platform` there. A regular install copies the folders under asyncmarl/ and needs none of this.
_root = _Path(__file__).resolve().parents[2]
if (_root / "platform").is_dir() and (_root / "cluster" / "_asyncmarl").is_dir():
    __path__.append(str(_root))
