"""The brute-force optimum search of ``benchmarks/offbeat_optimum.py``: Fig. 1 of the paper, and pruning that
loses nothing (checked against the unpruned search on Quarry, where that is cheap)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[3] / "benchmarks" / "offbeat_optimum.py"


@pytest.fixture(scope="module")
def opt():
    spec = importlib.util.spec_from_file_location("offbeat_optimum", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stag_hunter_only_shots_five_apart_catch_and_fig1_is_optimal(opt):
    sched, rewards = opt.stag_schedules()
    assert len(sched) == 21 * 21
    caught = rewards.sum(1) > 0
    gap = sched[:, 1] - sched[:, 0]
    assert caught.any() and (gap[caught] == 5).all()
    # every gap-5 schedule whose arrows land within the horizon (t0 + 8 <= 19) catches
    assert caught.sum() == ((gap == 5) & (sched[:, 0] + 8 <= 19)).sum()
    discounted = (rewards * 0.99 ** np.arange(rewards.shape[1])).sum(1)
    assert sched[np.argmax(discounted)].tolist() == [0, 5]
    assert np.isclose(discounted, discounted.max()).sum() == 1


@pytest.mark.parametrize("gamma", [0.95])
def test_quarry_pruned_search_matches_unpruned(opt, gamma):
    pruned = opt.search("quarry", opt.quarry_rules, gamma)
    full = opt.search("quarry", opt.quarry_rules, gamma, prune=False)
    assert pruned["best"] == pytest.approx(full["best"])
    assert pruned["expanded"] < full["expanded"]
    replayed, extras = opt.replay("quarry", pruned["plan"], gamma)
    assert replayed == pytest.approx(pruned["best"]) and extras["success"] == 1.0


def test_afforestation_pruned_search_matches_unpruned_on_a_small_instance(opt):
    # The unpruned search of the default game is out of reach (millions of states by t = 11); the pruning rules
    # do not depend on the number of plots or the horizon, so check them where the full search is cheap.
    small = {"n_plots": 2, "horizon": 18}
    pruned = opt.search("afforestation", opt.afforestation_rules, 0.95, **small)
    full = opt.search("afforestation", opt.afforestation_rules, 0.95, prune=False, **small)
    assert pruned["best"] == pytest.approx(full["best"]) and pruned["best"] > 0
    replayed, extras = opt.replay("afforestation", pruned["plan"], 0.95, **small)
    assert replayed == pytest.approx(pruned["best"]) and extras["success"] == 1.0
