"""Configs that would exhaust memory, stall the learner or carry non-finite numbers are refused at load time,
naming the key; broken YAML files name the file and line."""
import pytest

from asyncmarl.cluster import validation_memory
from asyncmarl.cluster.config import load_config, load_config_text, presets
from asyncmarl.cluster.validation import ConfigError, check_combinations
from asyncmarl.cluster.validation_memory import GB, batch_episode_bytes, check_memory, estimate, stored_step_bytes
from asyncmarl.platform.envs import env_info, names

BASE = ["logging.progress=false"]


@pytest.fixture
def budget(monkeypatch):
    """``budget(gb)``: pretend this machine has ``gb`` GB available."""
    def set_budget(gb: float):
        monkeypatch.setattr(validation_memory, "available_memory", lambda: int(gb * GB))
    return set_budget


def test_every_preset_loads_for_training_on_every_scenario_with_tiny():
    for name in presets():
        load_config(name)
    for scenario in names():  # tiny's replay holds min_episodes full-length episodes of any scenario
        load_config("tiny", [f"env.scenario={scenario}"])


def test_huge_batch_is_refused_naming_batch_size(budget):
    budget(8)
    with pytest.raises(ConfigError) as e:
        load_config("tiny", [*BASE, "cluster.batch_size=100000000"])
    msg = str(e.value)
    assert msg.startswith("cluster.batch_size=100000000 needs ~") and "per learner batch" in msg
    assert "more than the 8.0 GB available on this machine" in msg


def test_replay_capacity_is_bounded_per_shard_and_in_total(budget):
    budget(4)
    with pytest.raises(ConfigError, match=r"^replay.capacity=50000000 steps needs ~[\d,.]+ GB per replay shard"):
        load_config("tiny", [*BASE, "replay.capacity=50000000"])
    # each shard fits, four of them do not
    info = env_info("boxpushing-6")
    fits = int(1.5 * GB / stored_step_bytes(info))
    with pytest.raises(ConfigError, match=r"^the run needs ~[\d,.]+ GB on this machine \(replay 4 x "):
        load_config("tiny", [*BASE, f"replay.capacity={fits}", "cluster.num_replay_shards=4"])
    load_config("tiny", [*BASE, f"replay.capacity={fits}", "cluster.num_replay_shards=4", "cluster.memory_limit_gb=7"])


def test_existing_cluster_checks_each_piece_alone(budget, monkeypatch):
    budget(4)
    info = env_info("boxpushing-6")
    fits = int(1.5 * GB / stored_step_bytes(info))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    over = [*BASE, f"replay.capacity={fits}", "cluster.num_replay_shards=4", "cluster.runtime=ray"]
    with pytest.raises(ConfigError, match="the run needs"):
        load_config("tiny", over)
    load_config("tiny", [*over, "cluster.address=10.0.0.1:6379"])  # shards may land on four nodes


def test_memory_limit_gb_replaces_the_machine_and_is_named(budget):
    budget(1000)
    with pytest.raises(ConfigError, match=r"more than the 0.5 GB cluster.memory_limit_gb$"):
        load_config("tiny", [*BASE, "cluster.batch_size=100000", "cluster.memory_limit_gb=0.5"])


def test_rollout_and_legem_sizes_name_their_fields(budget):
    budget(2)
    with pytest.raises(ConfigError, match=r"^rollout.num_envs=10000000 needs"):
        load_config("tiny", [*BASE, "rollout.num_envs=10000000"])
    legem = ["env.scenario=stag-hunter", "learner.legem=true", "learner.n_step=1"]
    load_config("tiny", [*BASE, *legem])
    with pytest.raises(ConfigError, match=r"^legem.node_cap=100000000 needs ~[\d,.]+ GB for LeGEM"):
        load_config("tiny", [*BASE, *legem, "legem.node_cap=100000000"])


def test_estimate_matches_the_layout():
    info = env_info("boxpushing-10")  # 2 agents, obs 5, state 18, 8 actions
    # state 72 + obs and real_obs 80 + mask 16 + choosing 2 + actions 4 + elapsed 8 + reward 4 + 2 segments 80
    assert stored_step_bytes(info) == 266
    # README measures 215 bytes per stored joint step on BoxPushing-10: the estimate is an upper bound near it
    assert 215 <= stored_step_bytes(info) < 1.5 * 215
    one = batch_episode_bytes(info, 100)
    cfg = load_config("tiny", [*BASE, "cluster.batch_size=10"])
    assert estimate(cfg, info)["learner_batch"] == 10 * one
    windowed = load_config("tiny", [*BASE, "cluster.batch_size=10", "replay.window=20", "replay.burn_in=5"])
    assert estimate(windowed, info)["learner_batch"] == 10 * batch_episode_bytes(info, 25)


def test_unknown_memory_skips_the_check(monkeypatch):
    monkeypatch.setattr(validation_memory, "available_memory", lambda: None)
    cfg = load_config("tiny", [*BASE, "cluster.batch_size=100000000"], for_training=False)
    check_memory(cfg, env_info("boxpushing-6"))  # nothing to compare against: no error


def test_available_memory_reads_this_machine():
    got = validation_memory.available_memory()
    assert got is None or got > 0


@pytest.mark.parametrize("override, key", [
    ("env.settings.step_reward=.nan", "env.settings.step_reward"),
    ("env.settings.big_box_reward=.inf", "env.settings.big_box_reward"),
    ("cluster.actor_cpus=.inf", "cluster.actor_cpus"),
    ("replay.priority_beta=.nan", "replay.priority_beta"),
    ("cluster.memory_limit_gb=-.inf", "cluster.memory_limit_gb"),
])
def test_non_finite_numbers_are_refused_naming_the_key(override, key):
    with pytest.raises(ValueError) as e:
        load_config("tiny", [*BASE, override])
    assert key in str(e.value) and ("finite" in str(e.value) or ">= 0" in str(e.value))


def test_ints_beyond_int64_are_refused():
    with pytest.raises(ConfigError, match=r"'env.settings.horizon': 9223372036854775808 does not fit"):
        load_config("tiny", [*BASE, "env.settings.horizon=9223372036854775808"])


def test_replay_that_can_never_hold_min_episodes_is_refused():
    with pytest.raises(ConfigError) as e:
        load_config("tiny", [*BASE, "replay.capacity=200"])
    assert str(e.value).startswith("replay.capacity=200 steps holds 2 episode(s) of boxpushing-6's full length "
                                   "(100 steps) per shard, fewer than replay.min_episodes=4")
    assert "replay.capacity >= 400" in str(e.value)
    with pytest.raises(ValueError, match=r"replay.capacity=3 episodes can never hold replay.min_episodes=4"):
        load_config("tiny", [*BASE, "replay.capacity_unit=episodes", "replay.capacity=3"])
    # a finished run's config still loads for evaluation and plots
    assert load_config("tiny", [*BASE, "replay.capacity=200"], for_training=False).replay.capacity == 200


def test_learner_that_can_never_update_is_refused():
    with pytest.raises(ConfigError, match=r"cluster.total_env_steps=3 cannot finish replay.min_episodes=4"):
        load_config("tiny", [*BASE, "cluster.total_env_steps=3"])


def test_cuda_learner_in_process_without_cuda_is_refused(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = load_config("tiny", [*BASE, "learner.device=cuda"], for_training=False)
    with pytest.raises(ConfigError, match="learner.device='cuda' with cluster.runtime=local"):
        check_combinations(cfg, env_info("boxpushing-6"))
    ray_cfg = load_config("tiny", [*BASE, "learner.device=cuda", "cluster.runtime=ray"], for_training=False)
    check_combinations(ray_cfg, env_info("boxpushing-6"))  # a Ray cluster may bring the GPU


@pytest.mark.parametrize("override, needle", [
    ("seed=-1", "seed must be an int in [0, 2**32), got -1"),
    (f"seed={2**32}", "seed must be an int in [0, 2**32), got 4294967296"),
    ("name=../../x", "name must be a plain folder name"),
    ("name=/tmp/elsewhere", "name must be a plain folder name"),
    ("name=a/b", "name must be a plain folder name"),
    ("name=..", "name must be a plain folder name"),
    ("name=~x", "name must be a plain folder name"),
    ("name=" + "x" * 201, "name must be at most 200 bytes"),
])
def test_seed_and_name_are_checked_in_the_config(override, needle):
    with pytest.raises(ConfigError) as e:
        load_config("tiny", [*BASE, override])
    assert needle in str(e.value)


def test_plain_name_is_accepted():
    assert load_config("tiny", [*BASE, "name=my-run_1.2"]).name == "my-run_1.2"


def test_broken_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nlearner:\n  lr: [0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(bad))
    assert str(e.value).startswith(f"config file {bad}: not valid YAML at line ")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text, kind", [("- 1\n- 2\n", "list"), ("42\n", "int"), ("just words\n", "str")])
def test_yaml_that_is_not_a_mapping_names_the_file(tmp_path, text, kind):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file {f}: must be a mapping of sections .*got a YAML {kind}$"):
        load_config(str(f))


def test_empty_yaml_is_the_defaults_and_bad_base_is_named(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(str(empty), ["cluster.total_env_steps=100"]).seed == 0
    based = tmp_path / "based.yaml"
    based.write_text("base: [1, 2]\n")
    with pytest.raises(ConfigError, match=rf"config file {based}: 'base' must name a preset or YAML file"):
        load_config(str(based))


def test_unreadable_config_file_is_named(tmp_path):
    f = tmp_path / "binary.yaml"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=rf"config file {f}: cannot be read"):
        load_config(str(f))


def test_config_text_errors_name_their_source():
    with pytest.raises(ConfigError, match=r"^config file checkpoint x: not valid YAML at line 2, column 1"):
        load_config_text("seed: [1\n", source="checkpoint x")


def test_bad_override_value_is_one_line():
    with pytest.raises(ValueError) as e:
        load_config("tiny", [*BASE, "learner.lr=[0.1"])
    assert "\n" not in str(e.value) and "learner.lr=[0.1" in str(e.value)
