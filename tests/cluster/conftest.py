"""Shared fixtures: one tiny config builder and one Ray session (2 CPUs, loopback) for the slow tests."""
from __future__ import annotations

import os

import pytest

TINY = ["cluster.batch_size=8", "cluster.actor_cpus=0", "logging.progress=false"]


@pytest.fixture
def tiny(tmp_path):
    """``tiny(*overrides)``: the tiny preset writing runs under tmp_path, wandb off unless asked."""
    from asyncmarl.cluster.config import load_config

    def make(*overrides: str):
        return load_config("tiny", [*TINY, f"logging.run_root={tmp_path / 'runs'}", "logging.wandb_mode=disabled",
                                    *overrides])

    return make


@pytest.fixture(scope="session")
def ray_session():
    """One Ray instance for every test that needs one (started here unless one already runs)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()
