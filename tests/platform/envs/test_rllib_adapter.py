"""The RLlib adapter presents the macro-action decision process: agents appear only when they choose, with the
team reward discounted and summed since their previous decision; masked actions never reach the env; RLlib's
PPO trains on it (two iterations on every scenario, slow)."""
import numpy as np
import pytest

from asyncmarl.platform.envs import make_batched, names
from asyncmarl.platform.envs.rllib import MacroActionMultiAgentEnv, RllibEnvConfig


def test_stag_hunter_scripted_rewards_are_regrouped_per_decision():
    """Hunter 0 shoots at t = 0 (arrow flight 8), hunter 1 waits 5 steps then shoots (flight 3): both arrows land
    at step 8, +10, terminated. Hunter 0's only decision collects 0.9^8 * 10; hunter 1 gets 0 for each of its 5
    waits and 0.9^3 * 10 for its shot."""
    env = MacroActionMultiAgentEnv({"scenario": "stag-hunter", "gamma": 0.9})
    obs, infos = env.reset(seed=0)
    assert sorted(obs) == ["agent_0", "agent_1"]
    seen = []
    plan = {0: {"agent_0": 1, "agent_1": 0}, 5: {"agent_1": 1}}
    for t in range(9):
        act = plan.get(t, {"agent_1": 0} if t < 5 else {})
        assert sorted(act) == sorted(obs)  # exactly the agents that were asked to choose
        obs, rewards, terms, truncs, infos = env.step(act)
        seen.append((sorted(obs), rewards))
    for t in range(5):
        assert seen[t] == (["agent_1"], {"agent_1": 0.0})
    for t in (5, 6, 7):
        assert seen[t] == ([], {})  # both hunters' arrows in flight: nobody chooses
    final_agents, final_rewards = seen[8]
    assert final_agents == ["agent_0", "agent_1"]
    assert final_rewards["agent_0"] == pytest.approx(10 * 0.9 ** 8)
    assert final_rewards["agent_1"] == pytest.approx(10 * 0.9 ** 3)
    assert terms == {"agent_0": True, "agent_1": True, "__all__": True}
    assert truncs == {"agent_0": False, "agent_1": False, "__all__": False}
    assert infos["agent_0"]["team_return"] == 10.0 and infos["agent_0"]["length"] == 9
    assert infos["agent_0"]["catch_rate"] == 1.0


def _regroup(rewards, choosing, gamma):
    """Reference regrouping: for each agent, the discounted sum of the team rewards between its decisions.
    ``rewards`` [T], ``choosing`` [T, n] (after each step). Returns, per step, {agent index: reward} for the
    agents that choose after that step (all agents after the last step)."""
    T, n = choosing.shape
    out, start = [], [0] * n
    for t in range(T):
        ready = [i for i in range(n) if choosing[t, i] or t == T - 1]
        out.append({i: sum(gamma ** (k - start[i]) * rewards[k] for k in range(start[i], t + 1)) for i in ready})
        for i in ready:
            start[i] = t + 1
    return out


@pytest.mark.parametrize("name", names())
def test_rewards_equal_the_core_rewards_regrouped(name):
    gamma = 0.95
    env = MacroActionMultiAgentEnv({"scenario": name, "gamma": gamma, "global_state": True})
    twin = make_batched(name, 1)  # the same scenario stepped directly, for the reference
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=7)
    step = twin.reset(seed=7)
    rewards, choosing, got = [], [], []
    for _ in range(twin.horizon + 1):
        act = {}
        for a, o in obs.items():
            assert set(o) == {"observations", "action_mask", "state"}
            allowed = np.flatnonzero(o["action_mask"])
            act[a] = int(rng.choice(allowed))
        full = np.zeros((1, twin.n_agents), np.int64)
        for a, v in act.items():
            full[0, int(a.split("_")[1])] = v
        step = twin.step(full)
        obs, r, terms, truncs, infos = env.step(act)
        np.testing.assert_array_equal(obs_agents := sorted(obs), sorted(
            f"agent_{i}" for i in range(twin.n_agents) if step.choosing[0, i] or step.done[0]))
        for a in obs_agents:
            i = int(a.split("_")[1])
            np.testing.assert_array_equal(obs[a]["observations"], step.obs[0, i])
            np.testing.assert_array_equal(obs[a]["state"], step.state[0])
        rewards.append(float(step.reward[0]))
        choosing.append(step.choosing[0].copy())
        got.append({int(a.split("_")[1]): v for a, v in r.items()})
        if step.done[0]:
            break
    assert step.done[0]
    expected = _regroup(np.array(rewards), np.array(choosing), gamma)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert sorted(g) == sorted(e)
        for i in g:
            assert g[i] == pytest.approx(e[i], rel=1e-9, abs=1e-9)
    term, trunc = bool(step.terminated[0]), bool(step.truncated[0]) and not bool(step.terminated[0])
    assert terms == {**{a: term for a in env.possible_agents}, "__all__": term}
    assert truncs == {**{a: trunc for a in env.possible_agents}, "__all__": trunc}
    assert infos["agent_0"]["team_return"] == pytest.approx(sum(rewards))


def test_a_masked_action_is_refused_before_the_env_steps():
    env = MacroActionMultiAgentEnv({"scenario": "wtd-a"})
    obs, _ = env.reset(seed=0)
    mask = obs["agent_0"]["action_mask"]
    masked = int(np.flatnonzero(mask == 0)[0])
    act = {a: int(np.flatnonzero(o["action_mask"])[0]) for a, o in obs.items()}
    t_before = int(env.core.last.t[0])
    with pytest.raises(ValueError, match=rf"action {masked} is masked for agent_0; allowed: \["):
        env.step({**act, "agent_0": masked})
    assert int(env.core.last.t[0]) == t_before  # nothing reached the core
    with pytest.raises(ValueError, match="missing action for agent_1, which must choose"):
        env.step({a: v for a, v in act.items() if a != "agent_1"})
    with pytest.raises(ValueError, match="action for agent_0 must be an int"):
        env.step({**act, "agent_0": 1.5})
    with pytest.raises(ValueError, match=r"unknown agents \['ghost'\]"):
        env.step({**act, "ghost": 0})
    env.step(act)


def test_an_action_for_a_busy_agent_is_refused():
    env = MacroActionMultiAgentEnv({"scenario": "stag-hunter"})
    env.reset(seed=0)
    env.step({"agent_0": 1, "agent_1": 0})  # hunter 0's arrow is in flight for 8 steps
    with pytest.raises(ValueError, match="agent_0 is inside its action and was not asked to choose"):
        env.step({"agent_0": 0, "agent_1": 0})


def test_spaces_and_config_errors():
    env = MacroActionMultiAgentEnv({"scenario": "overcooked-a", "global_state": True})
    core = env.core
    space = env.observation_spaces["agent_2"]
    assert space["observations"].shape == (core.obs_dim,)
    assert space["action_mask"].shape == (core.n_actions,) and space["action_mask"].dtype == np.float32
    assert space["state"].shape == (core.state_dim,)
    assert env.action_spaces["agent_0"].n == core.n_actions
    obs, _ = env.reset(seed=0)
    assert all(space.contains(o) for o in obs.values())
    with pytest.raises(ValueError, match=r"env_config has unknown keys \['gama'\]"):
        MacroActionMultiAgentEnv({"scenario": "boxpushing-6", "gama": 0.9})
    with pytest.raises(ValueError, match=r"env_config.gamma must be in \(0, 1\]"):
        RllibEnvConfig(gamma=1.5)
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        MacroActionMultiAgentEnv({"scenario": "nope"})
    with pytest.raises(RuntimeError, match="call reset"):
        MacroActionMultiAgentEnv({"scenario": "boxpushing-6"}).step({})


def test_render_modes():
    env = MacroActionMultiAgentEnv({"scenario": "boxpushing-6", "render_mode": "ansi"})
    env.reset(seed=0)
    assert env.render() == env.core.render_ansi(0)
    env = MacroActionMultiAgentEnv({"scenario": "boxpushing-6", "render_mode": "rgb_array"})
    env.reset(seed=0)
    assert env.render().ndim == 3


# ---------------------------------------------------------------------------------------------- RLlib's PPO
@pytest.fixture(scope="module")
def ray_cpus2():
    """One Ray session (2 CPUs) for every PPO test of this module (started here unless one already runs)."""
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


CHOICES: list[tuple[np.ndarray, int]] = []  # (mask, action) of every choice RLlib sent, recorded in-process


class RecordingEnv(MacroActionMultiAgentEnv):
    """The adapter, recording what RLlib asks of it before the adapter's own checks run."""

    def step(self, action_dict):
        last = self.core.last
        for a, v in action_dict.items():
            i = self.possible_agents.index(a)
            CHOICES.append((last.action_mask[0, i].copy(), int(v), bool(last.choosing[0, i])))
        return super().step(action_dict)


def _tiny_ppo(name, **overrides):
    from asyncmarl.cluster.config import load_config
    from asyncmarl.cluster.rllib_run import ppo_config

    cfg = load_config("boxpushing6_rllib_ppo", [f"env.scenario={name}", "learner.ppo.train_batch_size=64",
                                                "learner.ppo.minibatch_size=32", "learner.ppo.num_epochs=1",
                                                "learner.ppo.hidden_dim=8", "learner.ppo.num_layers=1",
                                                *[f"{k}={v}" for k, v in overrides.items()]])
    return cfg, ppo_config(cfg, env_cls=RecordingEnv)


@pytest.mark.slow
@pytest.mark.parametrize("name", names())
def test_rllib_ppo_trains_two_iterations(ray_cpus2, name):
    cfg, conf = _tiny_ppo(name, **({"learner.ppo.central_critic": "true"} if name.startswith("wtd") else {}))
    assert conf.num_env_runners == 0
    CHOICES.clear()
    algo = conf.build_algo()
    try:
        results = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    assert [r["training_iteration"] for r in results] == [1, 2]
    assert results[-1]["env_runners"]["num_env_steps_sampled_lifetime"] >= 128
    learner = results[-1]["learners"]["shared"]
    assert np.isfinite(learner["policy_loss"]) and np.isfinite(learner["vf_loss"])
    # masked actions never reach the env: every action RLlib sent was an allowed choice of a choosing agent
    assert CHOICES and all(choosing and mask[a] for mask, a, choosing in CHOICES)


@pytest.mark.slow
def test_rllibs_own_action_masking_module_runs_on_the_adapter(ray_cpus2):
    """RLlib's example masking module reads the same {"observations", "action_mask"} layout."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    _, conf = _tiny_ppo("wtd-a")
    conf = conf.rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={"shared": RLModuleSpec(
        module_class=ActionMaskingTorchRLModule, model_config={"fcnet_hiddens": [8]})}))
    CHOICES.clear()
    algo = conf.build_algo()
    try:
        result = algo.train()
    finally:
        algo.stop()
    assert result["training_iteration"] == 1
    assert CHOICES and all(choosing and mask[a] for mask, a, choosing in CHOICES)
