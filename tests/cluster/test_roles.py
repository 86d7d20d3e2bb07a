"""The role contracts of ``asyncmarl.platform.roles`` are what the default constructors build: every member the
platform calls exists on the real classes, with the contract's parameters; each role is built from its own
config section plus what ``cluster.roles`` hands it."""
from __future__ import annotations

import inspect

import pytest

from asyncmarl.cluster.roles import Roles, legem_enabled
from asyncmarl.platform import roles as contracts

CONTRACTS = {"rollout": contracts.RolloutWorker, "shard": contracts.ReplayShard, "learner": contracts.Learner,
             "legem": contracts.LegemMemory}


def build(cfg, role: str):
    roles, info = Roles(), Roles().env_info(cfg)
    return {"rollout": lambda: roles.rollout(cfg, 1, 7), "shard": lambda: roles.shard(cfg, 0, info),
            "learner": lambda: roles.learner(cfg, info), "legem": lambda: roles.legem(cfg, info)}[role]()


def contract_members(proto) -> dict:
    return {k: v for k, v in vars(proto).items() if not k.startswith("_") and callable(v)}


@pytest.mark.parametrize("role", list(CONTRACTS))
def test_default_roles_fulfil_their_contracts(tiny, role):
    cfg = tiny("env.scenario=stag-hunter", "learner.legem=true", "learner.n_step=1", "cluster.num_rollout_workers=2")
    obj = build(cfg, role)
    proto = CONTRACTS[role]
    assert isinstance(obj, proto)
    for name, member in contract_members(proto).items():  # the platform calls them positionally
        want = list(inspect.signature(member).parameters.values())[1:]  # past self
        have = list(inspect.signature(getattr(obj, name)).parameters.values())
        where = f"{type(obj).__name__}.{name}"
        assert len(have) >= len(want), f"{where} takes fewer parameters than the contract's {want}"
        for w, h in zip(want, have, strict=True):
            assert (w.default is inspect.Parameter.empty) == (h.default is inspect.Parameter.empty), \
                f"{where}: parameter {h.name} and the contract's {w.name} disagree on having a default"
        assert all(h.default is not inspect.Parameter.empty for h in have[len(want):]), f"{where}: extra required"


def test_the_rollout_worker_gets_its_section_and_what_it_is_handed(tiny):
    cfg = tiny("env.scenario=stag-hunter", "cluster.num_rollout_workers=3", "learner.buffer=mac_jert")
    w = build(cfg, "rollout")
    assert not hasattr(w, "cfg")  # no run config inside: it cannot read another role's settings
    assert w.config == cfg.rollout and w.scenario == "stag-hunter" and w.view == "mac_jert"
    assert (w.worker_id, w.num_workers, w.seed) == (1, 3, 7)
    assert w.cutter.gamma == cfg.learner.gamma and w.cutter.trajectories == legem_enabled(cfg) is False
    with_legem = tiny("env.scenario=stag-hunter", "learner.legem=true", "learner.n_step=1",
                      "cluster.num_rollout_workers=2")
    assert build(with_legem, "rollout").cutter.trajectories
