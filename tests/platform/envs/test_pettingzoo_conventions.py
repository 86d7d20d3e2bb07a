"""PettingZoo conventions on every scenario: int8 action masks that ``action_space(a).sample(mask)`` accepts, the
``{"observation", "action_mask"}`` dict observation, and PettingZoo's own AEC, render and seed tests."""
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test
from pettingzoo.utils.conversions import parallel_to_aec

from asyncmarl.platform.envs import make, make_batched, names

ALL = names()


@pytest.mark.parametrize("name", ALL)
def test_info_masks_are_int8_and_sample_obeys_them(name):
    env = make(name)
    obs, infos = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(40):
        actions = {}
        for a in env.agents:
            mask = infos[a]["action_mask"]
            assert mask.dtype == np.int8 and set(np.unique(mask)) <= {0, 1}
            act = env.action_space(a).sample(mask)  # PettingZoo's idiom: must not raise
            assert mask[act] == 1
            actions[a] = act
        obs, rewards, terms, truncs, infos = env.step(actions)  # a masked action would raise here
        if not env.agents:
            obs, infos = env.reset(seed=int(rng.integers(1000)))


@pytest.mark.parametrize("name", ALL)
def test_dict_observations_hold_the_macro_observation_and_mask(name):
    env, plain = make(name, dict_obs=True), make(name)
    obs, infos = env.reset(seed=5)
    obs_plain, _ = plain.reset(seed=5)
    core = plain.core
    for i, a in enumerate(env.possible_agents):
        space = env.observation_space(a)
        assert set(space.spaces) == {"observation", "action_mask"}
        assert space["action_mask"].dtype == np.int8 and space["action_mask"].shape == (core.n_actions,)
        assert space.contains(obs[a])
        np.testing.assert_array_equal(obs[a]["observation"], obs_plain[a])
        np.testing.assert_array_equal(obs[a]["action_mask"], core.last.action_mask[0, i].astype(np.int8))
    # a choosing agent's sample from its observation's mask is a legal action
    actions = {a: env.action_space(a).sample(obs[a]["action_mask"]) for a in env.agents}
    obs, *_ = env.step(actions)
    plain.step(actions)
    for a in env.possible_agents:
        np.testing.assert_array_equal(obs[a]["observation"], plain.core.last.obs[0, int(a.split("_")[1])])


def test_dict_obs_must_be_a_bool():
    with pytest.raises(ValueError, match="dict_obs must be True or False"):
        make("boxpushing-6", dict_obs="yes")


@pytest.mark.parametrize("name", ALL)
def test_aec_api_test(name):
    api_test(parallel_to_aec(make(name)), num_cycles=60)
    api_test(parallel_to_aec(make(name, dict_obs=True)), num_cycles=30)


@pytest.mark.parametrize("name", ALL)
def test_parallel_api_test_with_dict_observations(name):
    parallel_api_test(make(name, dict_obs=True), num_cycles=60)


@pytest.mark.parametrize("name", ALL)
def test_render_test_every_mode(name, capsys):
    render_test(lambda render_mode=None: parallel_to_aec(make(name, render_mode=render_mode)))
    printed = capsys.readouterr().out
    assert printed  # human mode printed frames to the terminal


def test_human_mode_prints_the_ansi_frame(capsys):
    env = make("boxpushing-6", render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    reference = make_batched("boxpushing-6", 1)
    reference.reset(seed=0)
    assert capsys.readouterr().out == reference.render_ansi(0) + "\n"


@pytest.mark.parametrize("name", ALL)
def test_parallel_seed_test(name):
    parallel_seed_test(lambda: make(name))


# SuperSuit's parallel wrappers that apply to Box observations and Discrete actions. Not listed: normalize_obs
# (needs finite observation bounds) and black_death_v3 (SuperSuit 3.11 ends an episode only when every agent is
# both terminated and truncated, so it never ends one of any env that sets just one of the two).
SUPERSUIT = {
    "dtype": lambda ss, env: ss.dtype_v0(env, np.float64),
    "clip_reward": lambda ss, env: ss.clip_reward_v0(env, -1, 1),
    "frame_stack": lambda ss, env: ss.frame_stack_v1(env, 3),
    "pad_observations": lambda ss, env: ss.pad_observations_v0(env),
    "pad_action_space": lambda ss, env: ss.pad_action_space_v0(env),
    "agent_indicator": lambda ss, env: ss.agent_indicator_v0(env),
}


@pytest.mark.parametrize("wrapper", sorted(SUPERSUIT))
@pytest.mark.parametrize("name", ["boxpushing-6", "wtd-a", "overcooked-a", "stag-hunter"])
def test_supersuit_wrappers_work_unchanged(name, wrapper):
    import supersuit

    env = SUPERSUIT[wrapper](supersuit, make(name))
    obs, infos = env.reset(seed=0)
    for _ in range(60):
        actions = {a: env.action_space(a).sample(infos[a]["action_mask"]) for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())
        if not env.agents:
            obs, infos = env.reset(seed=1)
