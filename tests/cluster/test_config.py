"""Run configuration: presets load, overrides apply, and every bad input names the key before anything starts."""
import pytest

from asyncmarl.cluster.config import config_from_dict, config_group_key, config_to_dict, load_config, presets

SCEN = "env.scenario=stag-hunter"  # a registered scenario that is quick to build


def test_every_preset_loads_and_overrides_apply():
    assert "boxpushing6_tomacvf" in presets()
    for name in presets():
        cfg = load_config(name, [SCEN])
        assert cfg.replay.gamma == cfg.learner.gamma  # replay discounts with the learner's gamma
    cfg = load_config("boxpushing6_avf", [SCEN, "learner.lr=0.002", "seed=7", "learner.agent_net.hidden_dim=8"])
    assert (cfg.learner.algo, cfg.learner.buffer, cfg.learner.lr, cfg.seed) == ("avf", "mac_jert", 0.002, 7)
    assert cfg.learner.agent_net.hidden_dim == 8 and cfg.learner.agent_net.temporal is False


@pytest.mark.parametrize("override, needle", [
    ("learner.nope=1", "learner.nope"),
    ("learner.algo=sarsa", "learner.algo must be one of"),
    ("env.scenario=nowhere", "unknown scenario 'nowhere'"),
    ("rollout.num_envs=many", "rollout.num_envs"),
    ("cluster.runtime=k8s", "cluster.runtime must be one of ['local', 'ray']"),
    ("env.settings.bogus=1", "unknown settings ['bogus']"),
])
def test_bad_values_name_the_key(override, needle):
    with pytest.raises(ValueError) as e:
        load_config("boxpushing6_tomacvf", [SCEN, override])
    assert needle in str(e.value)


def test_unknown_key_lists_valid_keys_and_bad_preset_lists_presets():
    with pytest.raises(ValueError, match="valid keys here: .*'lr'"):
        load_config(None, [SCEN, "learner.lrr=0.1"])
    with pytest.raises(ValueError, match="presets: .*boxpushing6_tomacvf"):
        load_config("no_such_preset")
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, [SCEN, "seed"])


def test_round_trip_and_group_key_ignores_seed():
    a = load_config("boxpushing6_tomacvf", [SCEN, "seed=1"])
    b = load_config("boxpushing6_tomacvf", [SCEN, "seed=2"])
    assert config_from_dict(config_to_dict(a)) == a
    assert config_group_key(a) == config_group_key(b)
    assert config_group_key(a) != config_group_key(load_config("boxpushing6_avf", [SCEN]))
