"""LeGEM on macro-action scenarios: action 0 is a real macro-action there (BoxPushing: go to small box 0), so
busy steps are keyed with -1 and a commit of action 0 can be a pivot; off-beat games keep the wait 0 for both."""
import numpy as np
import pytest

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.episodes import from_trajectory
from asyncmarl.platform.envs import EnvInfo, env_info, make_batched


def info(family: str) -> EnvInfo:
    return EnvInfo("synthetic", 1, 3, 4, 4, 10, family)


def episode(first: int, reward: float) -> dict:
    """One agent commits ``first`` at t = 0 (observation 0), is busy at t = 1, 2 (observations 1, 2) and its
    action lands at t = 2 with ``reward``; then it chooses again (the episode ends after step 2)."""
    obs = np.zeros((4, 1, 4), np.float32)
    obs[np.arange(4), 0, np.arange(4)] = 1.0
    return {"real_obs": obs, "obs": obs, "actions": np.array([[first], [2], [2]], np.int64),
            "choosing": np.array([[True], [False], [False], [True]]), "reward": np.array([0, 0, reward], np.float32),
            "return": float(reward), "length": 3, "extras": {}}


def test_busy_steps_are_keyed_minus_one_on_macro_scenarios_and_zero_on_offbeat_games():
    e = episode(0, 1.0)
    assert from_trajectory(e, "real_obs", busy=-1).action[0, :, 0].tolist() == [0, -1, -1]
    assert from_trajectory(e, "real_obs").action[0, :, 0].tolist() == [0, 0, 0]
    assert LegemMemory(LegemConfig(), info("macro")).busy == -1
    assert LegemMemory(LegemConfig(), info("offbeat")).busy == 0 and LegemMemory().busy == 0


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_a_commit_of_action_0_is_a_pivot_on_a_macro_scenario(scheme):
    """Committing action 0 earns the reward, committing 1 does not: on a macro-action scenario the reward moves
    to the commit at t = 0; read as an off-beat game, action 0 is the wait, so no step qualifies and it stays."""
    data = [episode(0, 1.0), episode(1, 0.0)] * 5
    macro, offbeat = (LegemMemory(LegemConfig(scheme=scheme), info(f)) for f in ("macro", "offbeat"))
    for mem in (macro, offbeat):
        mem.add_episodes(data)
    won = data[0]
    assert macro.pivots(won)[0].tolist() == [0, 1, 0]  # e_t = t where no reward; the landing at t = 2 -> 0
    assert offbeat.pivots(won)[0].tolist() == [0, 1, 2]
    np.testing.assert_allclose(macro.redistribute(won), [1.0, 0.0, 0.01])  # eq. 2, beta = 0.01 stays


def test_checkpoint_of_another_family_is_refused():
    macro = LegemMemory(LegemConfig(), info("macro"))
    macro.add_episodes([episode(0, 1.0)])
    with pytest.raises(ValueError, match="keys busy steps with action -1, this memory with 0"):
        LegemMemory(LegemConfig(), info("offbeat")).load_state_dict(macro.state_dict())


def test_boxpushing_episodes_build_graphs_and_redistribute():
    """Random BoxPushing-6 play through the batched core: LeGEM keys busy steps apart from every macro-action,
    finds pivots and redistributes as eq. 2 says."""
    B, T = 16, 100
    env = make_batched("boxpushing-6", B)
    step = env.reset(seed=np.arange(B))
    rng = np.random.default_rng(0)
    obs, acts, choosing, rew = [step.real_obs], [], [step.choosing], []
    length = np.zeros(B, np.int64)  # each copy's first episode length (0: still running)
    for t in range(T):
        a = (rng.random(step.action_mask.shape) * step.action_mask).argmax(-1)  # [B, n] random valid actions
        step = env.step(a)
        obs.append(step.real_obs), acts.append(a), choosing.append(step.choosing), rew.append(step.reward)
        length = np.where((length == 0) & step.done, t + 1, length)
        if (length > 0).all():
            break
        if step.done.any():  # later episodes of a finished copy are not used
            step = env.reset(seed=np.arange(B), where=step.done)
    obs, acts, choosing, rew = (np.stack(x, 1) for x in (obs, acts, choosing, rew))  # [B, T(+1), ...]
    episodes = [{"real_obs": obs[b, :n + 1], "actions": acts[b, :n], "choosing": choosing[b, :n + 1],
                 "reward": rew[b, :n], "length": int(n), "episode_id": b} for b, n in enumerate(length)]
    mem = LegemMemory(LegemConfig(), env_info("boxpushing-6"))
    mem.add_episodes(episodes)
    assert mem.stats()["legem/episodes"] == B
    actions = {int(np.frombuffer(k[3][-8:], "<i8")[0]) for k in mem.graphs.node_keys}
    assert actions == set(range(-1, 8))  # busy steps (-1) apart from every macro-action, 0 included
    moved = 0
    for e in episodes:
        e_t = mem.pivots(e)[0]
        r, red = e["reward"].astype(np.float64), mem.redistribute(e)
        assert (e_t <= np.arange(len(e_t))).all()
        shifted = e_t != np.arange(len(e_t))
        moved += int(shifted.sum())
        # eq. 2: a moved reward lands at its pivot and leaves beta of itself in place; the others stay
        np.testing.assert_allclose(red.sum(), r.sum() + 0.01 * r[shifted].sum(), rtol=1e-5, atol=1e-5)
    assert moved > 0
