"""Every shipped preset builds a valid LearnerConfig and RolloutConfig, and carries the tables' values."""
import pytest
from omegaconf import OmegaConf

from asyncmarl.learner.config import LearnerConfig
from asyncmarl.learner.preset import preset_overrides, scenario_preset
from asyncmarl.platform.envs import names
from asyncmarl.rollout_workers.config import RolloutConfig

SCENARIOS = [f"boxpushing-{s}" for s in (6, 8, 10, 12, 14)] + [f"overcooked-{m}" for m in "abc"] + \
    [f"wtd-{m}" for m in "abcde"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_presets_build_valid_configs(scenario):
    assert scenario in names()
    p = scenario_preset(scenario)
    learner = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LearnerConfig), p["learner"]))
    rollout = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RolloutConfig), p["rollout"]))
    assert learner.algo == "tomacvf" and learner.n_step == 5
    assert rollout.epsilon_start == 1.0
    assert p["replay"]["batch_size"] in (32, 64, 128)
    assert all("=" in o for o in preset_overrides(scenario))


def test_table_values_reach_the_config():
    assert scenario_preset("boxpushing-12")["learner"]["lr"] == 0.0005  # Table 2
    assert scenario_preset("overcooked-a")["replay"]["batch_size"] == 64  # Table 3
    assert scenario_preset("wtd-e")["learner"]["lr"] == 0.0001  # Table 4
    assert scenario_preset("wtd-e")["rollout"]["epsilon_end"] == 0.01


def test_unknown_scenario_is_named():
    with pytest.raises(ValueError, match="no learner preset for scenario 'chess'"):
        scenario_preset("chess")
