"""One preset system: every scenario x method preset loads for training and carries its scenario's table values
and its method's settings; ``base:`` lists compose; a derived field cannot be set."""
from __future__ import annotations

import json

import pytest
import yaml

from asyncmarl.cluster.cli import main
from asyncmarl.cluster.config import config_to_dict, load_config, load_config_text, presets
from asyncmarl.cluster.presets import (
    PRESET_DIR,
    REFERENCE_DIR,
    composed_presets,
    method_presets,
    read_layers,
    reference_presets,
    scenario_presets,
)
from asyncmarl.cluster.validation import ConfigError
from asyncmarl.platform.envs import names, spec


def test_every_preset_loads_for_training_with_its_scenario_and_method():
    composed = composed_presets()
    assert len(composed) >= 150 and {"boxpushing6_tomacvf", "wtde_tomacvf", "overcookedb_tomacvf_no_atpg_mac_jert",
                                      "overcookeda_tomacvf_qtran", "staghunter_qmix_legem"} <= set(composed)
    for name in presets():
        cfg = load_config(name)  # also the combination and memory checks
        assert cfg.replay.gamma == cfg.learner.gamma
        if name not in composed:
            continue
        stem, method = composed[name]
        assert cfg.env.scenario == scenario_presets()[stem]
        method_learner = {}
        for _, node in read_layers(f"methods/{method}"):
            method_learner.update({k: v for k, v in node.get("learner", {}).items() if k != "agent_net"})
        if name in reference_presets():  # the reference script's values win over the method file's defaults
            for key in read_layers(name)[-1][1].get("learner", {}):
                method_learner.pop(key, None)
        assert method_learner and all(getattr(cfg.learner, k) == v for k, v in method_learner.items()), name


def test_every_scenario_has_presets_and_every_method_a_family():
    families = {spec(n).family for n in names()}
    assert set(scenario_presets().values()) == set(names())  # one scenario file per registered scenario
    for method, applies in method_presets().items():
        assert applies and set(applies) <= families, method
    for stem, scenario in scenario_presets().items():
        wanted = ["tomacvf"] + (["avf", "tomacvf_no_atpg", "tomacvf_mac_jert", "tomacvf_no_atpg_mac_jert",
                                 "tomacvf_vdn", "tomacvf_qplex", "tomacvf_qtran"]
                                if spec(scenario).family == "macro" else ["iql", "qmix_legem"])
        assert all(f"{stem}_{m}" in composed_presets() for m in wanted), stem


@pytest.mark.parametrize("name, key, value", [
    ("boxpushing12_tomacvf", "learner.lr", 0.0005),  # Table 2, 12x12
    ("boxpushing10_avf", "learner.agent_net.hidden_dim", 48),  # Table 2, 10x10 rnn size
    ("boxpushing14_tomacvf", "learner.target_update_interval", 144),  # Table 2: every 144 episodes
    ("overcookeda_tomacvf", "cluster.batch_size", 64),  # Table 3, map A
    ("overcookedc_tomacvf_vdn", "cluster.batch_size", 128),  # Table 3, map C
    ("overcookedb_tomacvf", "env.settings", {}),  # the reference's "go to counter" timing
    ("wtde_tomacvf", "learner.lr", 0.0001),  # Table 4, Warehouse E
    ("wtde_tomacvf", "rollout.epsilon_end", 0.01),
    ("wtdd_avf", "learner.target_update_interval", 8),  # Table 4: 64 / 8
    ("wtda_tomacvf", "learner.gamma", 1.0),  # MacroMARL Warehouse scripts
    ("wtda_tomacvf", "learner.agent_net.hidden_dim", 64),  # Table 4 rnn size, not BoxPushing-6's 32
    ("boxpushing6_avf", "learner.target_update", "polyak"),
    ("boxpushing6_avf", "learner.agent_net.temporal", False),
    ("overcookedb_tomacvf_qplex", "learner.mixer", "qplex"),
    ("staghunter_vdn_legem", "learner.n_step", 1),
    ("quarry_tomacvf_legem", "learner.legem", True),
])
def test_table_and_method_values_reach_the_config(name, key, value):
    node = config_to_dict(load_config(name, for_training=False))
    for part in key.split("."):
        node = node[part]
    assert node == value


def test_the_measured_presets_resolve_as_when_they_were_measured():
    """boxpushing6_tomacvf (README "Learning", the default run) and overcookeda_tomacvf keep every value they
    were measured with; the off-beat presets are the off-beat tables' settings (benchmarks/offbeat_runs.py)."""
    bp = load_config("boxpushing6_tomacvf", for_training=False)
    assert (bp.env.scenario, bp.rollout.num_envs, bp.rollout.epsilon_end, bp.rollout.epsilon_anneal_steps) == \
        ("boxpushing-6", 16, 0.1, 100_000)
    assert (bp.learner.algo, bp.learner.atpg, bp.learner.buffer, bp.learner.gamma, bp.learner.lr, bp.learner.n_step,
            bp.learner.target_update_interval, bp.learner.agent_net.hidden_dim) == \
        ("tomacvf", True, "mac_sjert", 0.98, 0.001, 5, 32, 32)
    assert (bp.replay.capacity, bp.replay.capacity_unit, bp.replay.sampler, bp.replay.priority_alpha) == \
        (200_000, "steps", "prioritized", 1.0)
    assert (bp.cluster.total_env_steps, bp.cluster.updates_per_iteration, bp.cluster.batch_size) == (150_000, 16, 32)
    oc = load_config("overcookeda_tomacvf", for_training=False)
    assert (oc.rollout.num_envs, oc.rollout.epsilon_anneal_steps, oc.learner.target_update_interval,
            oc.replay.capacity, oc.cluster.total_env_steps, oc.cluster.updates_per_iteration) == \
        (64, 1_500_000, 16, 1_500_000, 5_000_000, 2)
    sh = load_config("staghunter_qmix_legem", for_training=False)
    assert (sh.learner.algo, sh.learner.legem, sh.learner.n_step, sh.learner.atpg, sh.learner.agent_net.temporal,
            sh.cluster.updates_per_iteration, sh.rollout.epsilon_anneal_steps, sh.cluster.eval_episodes,
            sh.cluster.total_env_steps, sh.legem.scheme) == (
        "qmix", True, 1, False, False, 4, 100_000, 64, 200_000, "II")


def test_base_list_composes_like_the_preset_name(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: [scenarios/wtde, methods/avf]\nseed: 3\n")
    mine = load_config(str(f), for_training=False)
    assert config_to_dict(mine) == config_to_dict(load_config("wtde_avf", ["seed=3"], for_training=False))
    f.write_text("base: [scenarios/wtde, 7]\n")
    with pytest.raises(ConfigError, match=r"'base' must name a preset or YAML file \(or a list of them\)"):
        load_config(str(f))


def test_unknown_and_mismatched_presets_name_the_parts():
    with pytest.raises(ConfigError) as e:
        load_config("chess_tomacvf")
    msg = str(e.value)
    assert "presets: <scenario>_<method>" in msg and "'wtde'" in msg and "'tomacvf_no_atpg'" in msg and "'tiny'" in msg
    with pytest.raises(ConfigError, match="method 'iql' is meant for \\['offbeat'\\] scenarios and boxpushing-6 is "
                                          "'macro'"):
        load_config("boxpushing6_iql")


def test_replay_gamma_is_derived_and_cannot_be_set(tmp_path):
    cfg = load_config("wtda_tomacvf", ["learner.gamma=0.9"], for_training=False)
    assert cfg.replay.gamma == 0.9
    with pytest.raises(ConfigError, match=r"^replay.gamma cannot be set \(in the overrides\): it is derived from "
                                          r"learner.gamma, its one source; set learner.gamma instead$"):
        load_config("tiny", ["replay.gamma=0.9"])
    f = tmp_path / "p.yaml"
    f.write_text("base: tiny\nreplay:\n  gamma: 0.9\n")
    with pytest.raises(ConfigError, match=rf"replay.gamma cannot be set \(in {f}\)"):
        load_config(str(f))
    # a saved run config repeats the derived value next to its source: it loads, and a resume may change gamma
    plain = json.loads(json.dumps(config_to_dict(cfg)))  # as a run directory's config.yaml holds it
    assert plain["replay"]["gamma"] == plain["learner"]["gamma"] == 0.9
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(plain))
    assert load_config(str(saved), for_training=False) == cfg
    assert load_config(str(saved), ["learner.gamma=0.8"], for_training=False).replay.gamma == 0.8
    assert load_config_text(saved.read_text()) == cfg
    plain["replay"]["gamma"] = 0.5
    with pytest.raises(ConfigError, match="replay.gamma cannot be set"):
        load_config_text(yaml.safe_dump(plain))


def test_list_prints_every_scenario_with_its_methods(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines() if line.startswith("  ")
            and line.split()[0].endswith("_")}
    assert set(rows) == {f"{s}_" for s in scenario_presets()}
    assert "tomacvf_no_atpg_mac_jert" in rows["wtde_"] and "qmix_legem" in rows["staghunter_"]
    assert "tiny" in out.split("other presets:")[1]
    assert sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) == sorted(out.split("other presets:")[1].split())


def test_reference_presets_are_scenario_method_presets_with_the_scripts_values():
    """reference/<scenario>_<method>.yaml replaces the composed preset of that name, on the same base."""
    refs = reference_presets()
    assert len(refs) >= 56  # BoxPushing 6-14, Overcooked A-C and WTD A-E for the actor-critic baselines, and more
    composed = composed_presets()
    for name in refs:
        assert name in composed, name
        layers = read_layers(name)
        stem, method = composed[name]
        assert [s for s, _ in layers][-1] == f"{REFERENCE_DIR}/{name}"
        assert [s for s, _ in layers][:-1] == [s for s, _ in read_layers(f"scenarios/{stem}")] + \
            [s for s, _ in read_layers(f"methods/{method}")], name
        assert set(layers[-1][1]) <= {"rollout", "learner", "cluster"}, name  # no scenario setting changes
        text = (PRESET_DIR / REFERENCE_DIR / f"{name}.yaml").read_text()
        assert "yuchen-x/MacroMARL" in text or "MacDec-via-Cen" in text, name  # each says which script it follows
    for fam, keys in {"boxpushing": (8, 10, 14), "overcooked": "abc", "wtd": "abcde"}.items():
        for k in keys:
            for m in ("mac_cac", "mac_iac", "mac_iaicc", "mac_niacc"):
                assert f"{fam}{k}_{m}" in refs


@pytest.mark.parametrize("name, values", [
    # experiments/BoxPushing/mac_iaicc.sh, 14x14: --n_env=48 --train_freq=48 --a_lr=0.0005 --c_target_update_freq=48
    ("boxpushing14_mac_iaicc", {"rollout.num_envs": 48, "cluster.batch_size": 48, "learner.lr": 0.0005,
                                "learner.target_update_interval": 1, "learner.critic": "state", "learner.n_step": 1,
                                "learner.agent_net.hidden_dim": 32, "cluster.total_env_steps": 500_000,
                                "rollout.epsilon_anneal_steps": 100_000, "learner.gamma": 0.98}),
    # experiments/BoxPushing/mac_iac.sh, 8x8: --n_env=48 --c_target_update_freq=48 --n_step_TD=3
    ("boxpushing8_mac_iac", {"rollout.num_envs": 48, "learner.target_update_interval": 1, "learner.n_step": 3,
                             "learner.critic": "history", "learner.lr": 0.0005}),
    # experiments/Overcooked/mac_naive_iacc.sh, map B: --n_env=8 --c_target_update_freq=16 (the map A block: 4)
    ("overcookedb_mac_niacc", {"rollout.num_envs": 8, "learner.target_update_interval": 2,
                               "learner.joint_net.embed_dim": 128, "learner.joint_net.hidden_dim": 64}),
    ("overcookeda_mac_niacc", {"rollout.num_envs": 4, "learner.target_update_interval": 4}),
    # experiments/Warehouse/mac_iaicc.sh, Warehouse-E: --n_env=8 --c_target_update_freq=64, a_rnn 32, c_rnn 64
    ("wtde_mac_iaicc", {"rollout.num_envs": 8, "learner.target_update_interval": 8, "learner.n_step": 5,
                        "learner.agent_net.hidden_dim": 32, "learner.joint_net.hidden_dim": 64,
                        "rollout.epsilon_end": 0.01, "rollout.epsilon_anneal_steps": 200_000, "learner.gamma": 1.0}),
    # experiments/Warehouse/mac_dec_q.sh, Warehouse-B: --l_rate=0.00005, hysteretic 0.2 -> 0.4; the family's loop
    ("wtdb_mac_dec_ddrqn", {"learner.lr": 0.00005, "cluster.batch_size": 32, "learner.hysteretic": 0.2,
                            "learner.hysteretic_end": 0.4, "learner.hysteretic_anneal_updates": 625}),
    ("wtdc_mac_cen_ddrqn", {"learner.lr": 0.00005, "learner.joint_net.hidden_dim": 64}),
])
def test_reference_script_values_reach_the_config(name, values):
    node = config_to_dict(load_config(name, for_training=False))
    for key, value in values.items():
        got = node
        for part in key.split("."):
            got = got[part]
        assert got == value, key


def test_list_marks_the_presets_with_reference_values(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split() and line.split()[0] == "wtde_")
    assert "mac_iaicc*" in row and "tomacvf*" not in row and " tomacvf," in row
    assert "* the method's reference-script values" in out
