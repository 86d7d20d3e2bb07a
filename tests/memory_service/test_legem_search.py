"""LeGEM pivot search (Scheme I, Scheme II), ranking (eq. 1) and redistribution (eq. 2) on Stag-Hunter."""
import numpy as np
import pytest
import torch

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.redistribute import redistribute_numpy
from asyncmarl.memory_service.legem.search import NONE, low_up, rank, summarize, up_low
from asyncmarl.memory_service.legem.synthetic import random_shots, stag_hunter_episode


def shot_times(traj):
    """Step at which each hunter committed its shot (action 1), None if it never did."""
    committed = traj["choosing"][:-1] & (traj["actions"] == 1)  # [T, n]
    return [int(np.flatnonzero(c)[0]) if c.any() else None for c in committed.T]


def scripted_dataset(n=800, seed=0):
    rng = np.random.default_rng(seed)
    return [stag_hunter_episode(s, episode_id=i) for i, s in enumerate(random_shots(rng, n, 0.15))]


def real_env_dataset(n_episodes=800, seed=0, p_shoot=0.15):
    """Episodes of the real ``stag-hunter`` environment under exploring hunters, cut by the rollout cutter."""
    from asyncmarl.platform.envs import make_batched
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = make_batched("stag-hunter", batch_size=64)
    rng = np.random.default_rng(seed)
    step = env.reset(seed=seed)
    cutter = SegmentCutter(env.batch_size, env.n_agents, gamma=0.99)
    next_id = env.batch_size
    cutter.begin(step, np.ones(env.batch_size, bool), np.arange(env.batch_size))
    out = []
    while len(out) < n_episodes:
        shoot = (rng.random((env.batch_size, env.n_agents)) < p_shoot) & step.action_mask[..., 1]
        actions = shoot.astype(np.int64)
        step = env.step(actions)
        _, trajs = cutter.record(actions, step)
        out.extend(trajs)
        done = step.done
        if done.any():
            step = env.reset(seed=int(rng.integers(1 << 30)), where=done)
            ids = next_id + np.arange(env.batch_size)
            next_id += env.batch_size
            cutter.begin(step, done, ids)
    return out[:n_episodes]


# ---------------------------------------------------------------------- building blocks
def test_up_low_and_low_up_on_count_sequences():
    # waits at 9, decisive commit drops to 3, the node only that commit reaches repeats 3, later merges rise
    c = np.array([9, 9, 9, 3, 3, 5, 7])
    assert up_low(c) == 3  # end of the decrease, resolved to its plateau's first level
    assert low_up(c) == 3
    assert up_low(np.array([4, 4, 4, 4])) == NONE  # no pattern on a flat path
    assert low_up(np.array([4, 4, 4, 4])) == NONE
    assert up_low(np.array([5, 6, 7])) == NONE  # never decreases from level 0 ...
    assert low_up(np.array([5, 6, 7])) == 0  # ... but rises all the way from level 0: the commit at 0
    assert up_low(np.array([9, 5, 2])) == NONE and low_up(np.array([9, 5, 2])) == NONE  # minimum at t itself


def test_summarize_most_frequent_then_first_found():
    assert summarize([4, 2, 2, NONE, NONE, NONE]) == 2  # abstaining paths do not vote
    assert summarize([4, 2, 4, 2]) == 4  # tie: the candidate the best-first order found first
    assert summarize([NONE, NONE]) == NONE


def test_rank_takes_the_latest_agent_pivot_and_ignores_abstentions():
    cand = np.array([[[0, 5], [NONE, NONE], [3, NONE]]])  # [B=1, T=3, n=2]
    t = np.array([[8, 1, 6]])
    assert rank(cand, t).tolist() == [[5, 1, 3]]


# ---------------------------------------------------------------------- Stag-Hunter
def check_finds_decisive_shots(trajs, scheme):
    mem = LegemMemory(LegemConfig(scheme=scheme))
    mem.add_episodes(trajs)
    caught = [tr for tr in trajs if tr["reward"].sum() > 0]
    assert len(caught) >= 10, "the exploring hunters must catch the stag a few times"
    for tr in caught:
        shots = shot_times(tr)
        t = int(np.flatnonzero(tr["reward"])[0])
        agent = mem.agent_pivots(tr)[0, t]  # [n]
        assert agent.tolist() == shots, f"each hunter's pivot is its own shot (t={t})"
        assert mem.pivots(tr)[0, t] == max(shots)  # ranking: the decisive (latest) shot
        # nothing else moves: every other step's pivot is itself
        others = np.delete(mem.pivots(tr)[0], t)
        assert others.tolist() == np.delete(np.arange(len(tr["reward"])), t).tolist()
    return mem, caught


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_schemes_find_the_decisive_shot_on_scripted_stag_hunter(scheme):
    check_finds_decisive_shots(scripted_dataset(), scheme)


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_schemes_find_the_decisive_shot_on_the_real_stag_hunter(scheme):
    check_finds_decisive_shots(real_env_dataset(), scheme)


@pytest.mark.parametrize("shots", [[0, 5], [0, None], [None, None], [3, 4], [6, 11]])
def test_scripted_episodes_match_the_real_environment(shots):
    """The scripted generator and the registered game agree (caught, fled, horizon), so both tests test one thing."""
    from asyncmarl.platform.envs import make_batched
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = make_batched("stag-hunter", batch_size=1)
    step = env.reset(seed=0)
    cutter = SegmentCutter(1, 2, gamma=0.99)
    cutter.begin(step, np.ones(1, bool), np.zeros(1, np.int64))
    trajs, t = [], 0
    while not trajs:
        actions = np.array([[int(t == s) for s in shots]]) & step.action_mask[..., 1]
        step = env.step(actions)
        trajs = cutter.record(actions, step)[1]
        t += 1
    real, scripted = trajs[0], stag_hunter_episode(shots)
    for key in ("real_obs", "obs", "actions", "choosing", "reward"):
        assert np.array_equal(real[key], scripted[key]), key


# ---------------------------------------------------------------------- redistribution
def test_worked_example_redistribution_exact():
    # hunter 0 shoots at 0 (flight 8), hunter 1 at 5 (flight 3): both land in step 8, reward 10 there
    beta = 0.25  # exactly representable, so the result is asserted exactly
    trajs = scripted_dataset() + [stag_hunter_episode([0, 5])]
    mem = LegemMemory(LegemConfig(beta=beta, scheme="II"))
    mem.add_episodes(trajs)
    ep = stag_hunter_episode([0, 5])
    assert ep["reward"].tolist() == [0] * 8 + [10.0]
    assert mem.agent_pivots(ep)[0, 8].tolist() == [0, 5]
    out = mem.redistribute(ep)
    assert out.dtype == np.float32
    assert out.tolist() == [0, 0, 0, 0, 0, 10.0, 0, 0, 2.5]  # r_8 moved to e_8 = 5, beta * r_8 left at 8
    default = LegemMemory(LegemConfig(scheme="II"))
    default.add_episodes(trajs)
    out = default.redistribute(ep)
    assert out[5] == np.float32(10.0) and out[8] == np.float32(10.0) * np.float32(0.01)


def test_rewards_mapping_to_one_pivot_add_up():
    reward = np.array([[0, 1, 0, 2, 0, 4, 8]], np.float32)
    pivots = np.array([[0, 1, 2, 1, 4, 1, 3]])  # r_3 and r_5 go to 1 (which keeps its own r_1); r_6 to 3
    out = redistribute_numpy(reward, pivots, beta=0.5)
    assert out.tolist() == [[0, 1 + 2 + 4, 0, 1 + 8, 0, 2, 4]]


def to_batch(trajs, T):
    """A padded torch episode Batch (the replay layout's keys LeGEM reads) from trajectories."""
    B, n, O = len(trajs), trajs[0]["actions"].shape[1], trajs[0]["real_obs"].shape[2]
    batch = {"real_obs": torch.zeros(B, T + 1, n, O), "obs": torch.zeros(B, T + 1, n, O),
             "actions": torch.zeros(B, T, n, dtype=torch.int64), "choosing": torch.zeros(B, T + 1, n, dtype=torch.bool),
             "reward": torch.zeros(B, T), "filled": torch.zeros(B, T)}
    for b, tr in enumerate(trajs):
        L = len(tr["reward"])
        for k in ("real_obs", "obs", "choosing"):
            batch[k][b, : L + 1] = torch.as_tensor(tr[k])
        batch["actions"][b, :L] = torch.as_tensor(tr["actions"])
        batch["reward"][b, :L] = torch.as_tensor(tr["reward"])
        batch["filled"][b, :L] = 1.0
    return batch


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_batch_and_trajectory_give_the_same_rewards(scheme):
    trajs = scripted_dataset(500)
    mem = LegemMemory(LegemConfig(scheme=scheme))
    mem.add_episodes(trajs)
    sample = [tr for tr in trajs if tr["reward"].sum() > 0][:4] + trajs[:4]
    batch = to_batch(sample, T=20)
    out = mem.redistribute(batch)
    assert out.shape == (8, 20) and out.dtype == torch.float32
    for b, tr in enumerate(sample):
        L = len(tr["reward"])
        assert torch.equal(out[b, :L], torch.as_tensor(mem.redistribute(tr)))
        assert (out[b, L:] == 0).all()
    moved = out[:4].sum(1) - batch["reward"][:4].sum(1)
    assert torch.allclose(moved, 0.01 * batch["reward"][:4].sum(1))  # the paper's beta share on top
    with pytest.raises(ValueError, match="filled"):
        mem.redistribute({**batch, "filled": torch.flip(batch["filled"], dims=[1])})
    # replay's absolute step per row: whole episodes pass, windows (or the squeezed Mac-JERT view) are refused
    time = torch.arange(21).expand(8, 21)
    assert torch.equal(mem.redistribute({**batch, "t": time}), out)
    with pytest.raises(ValueError, match="whole episodes"):
        mem.redistribute({**batch, "t": time + 3})


def test_env_info_fixes_agents_and_observation_width():
    from asyncmarl.platform.envs import env_info

    mem = LegemMemory(LegemConfig(), env_info("stag-hunter"))
    assert (mem.n_agents, mem.keymaker.obs_dim) == (2, 5)
    with pytest.raises(ValueError, match="obs_dim 4"):
        ep = stag_hunter_episode([0, 5])
        mem.add_episodes([{**ep, "real_obs": ep["real_obs"][..., :4]}])


def test_unknown_episodes_are_left_unchanged():
    mem = LegemMemory()
    ep = stag_hunter_episode([0, 5])
    assert mem.redistribute(ep).tolist() == ep["reward"].tolist()  # empty memory: nobody finds a pivot
    mem.add_episodes(scripted_dataset(300))
    longer = stag_hunter_episode([4, 9])  # a length no stored caught episode of this seed may have
    assert mem.pivots(longer).shape == (1, len(longer["reward"]))


def cells_episode(cells, reward_last):
    """One agent over one-hot cells (6), always choosing action 1; reward only at the last step."""
    T = len(cells)
    obs = np.zeros((T + 1, 1, 6), np.float32)
    obs[np.arange(T), 0, cells] = 1.0
    reward = np.zeros(T, np.float32)
    reward[-1] = reward_last
    return {"real_obs": obs, "obs": obs, "actions": np.ones((T, 1), np.int64), "choosing": np.ones((T + 1, 1), bool),
            "reward": reward, "return": float(reward_last), "length": T, "extras": {}}


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_search_on_a_hand_computed_graph(scheme):
    """Rewarded A = cells 0,1,3,4 (x3) and B = 0,2,3,4 (x1); unrewarded 0,1,3,5 (x3) and 0,2,3,4 (x6).

    Graph visits along A's path: 13, 6, 13, 10 (B's: 13, 7, 13, 10): UL ends at level 1 on both (Scheme I).
    Rewarded share along the most visited rewarded path, which is A's (edge 1->3 seen 3 times, 2->3 once):
    4/13, 3/6, 4/13, 4/10: maximum at level 1 (Scheme II). B's own path (4/13, 1/7, 4/13, 4/10) would give
    level 3 = t, i.e. nothing: Scheme II reads the most visited path, not the query's.
    """
    A, B = cells_episode([0, 1, 3, 4], 1.0), cells_episode([0, 2, 3, 4], 1.0)
    fail_a, fail_b = cells_episode([0, 1, 3, 5], 0.0), cells_episode([0, 2, 3, 4], 0.0)
    # every agent ranked: these synthetic actions have duration 0, so no action ever "ends" after its commit
    mem = LegemMemory(LegemConfig(scheme=scheme, key="exact", ranking="all", scheme2_path="most_visited"))
    mem.add_episodes([A] * 3 + [B] + [fail_a] * 3 + [fail_b] * 6)
    g = mem.graphs
    node = {(t, c): g.lookup(0, 3, t, exact(c)) for t, c in [(0, 0), (1, 1), (1, 2), (2, 3), (3, 4)]}
    assert [int(g.visits[node[k]].sum()) for k in [(0, 0), (1, 1), (2, 3), (3, 4)]] == [13, 6, 13, 10]
    assert [int(g.visits[node[k], 1]) for k in [(0, 0), (1, 1), (1, 2), (2, 3), (3, 4)]] == [4, 3, 1, 4, 4]
    assert mem.agent_pivots(A)[0, 3, 0] == 1
    assert mem.agent_pivots(B)[0, 3, 0] == 1
    assert mem.redistribute(B).tolist() == [0, 1.0, 0, np.float32(0.01)]


def exact(cell):
    obs = np.zeros(6, np.float32)
    obs[cell] = 1.0
    return obs.tobytes() + np.int64(1).tobytes()


def test_redistribute_on_replay_batches_of_the_real_game():
    """The learner's path: rollout cutter -> replay shard -> sampled Batch -> LegemMemory.redistribute."""
    from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
    from asyncmarl.platform.envs import env_info, make_batched
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = make_batched("stag-hunter", batch_size=64)
    rng = np.random.default_rng(0)
    step = env.reset(seed=0)
    cutter = SegmentCutter(64, 2, gamma=ReplayConfig().gamma)
    cutter.begin(step, np.ones(64, bool), np.arange(64))
    shard, mem = ReplayShard(ReplayConfig(), seed=0), LegemMemory(LegemConfig(), env_info("stag-hunter"))
    next_id, episodes = 64, 0
    while episodes < 800:
        actions = ((rng.random((64, 2)) < 0.15) & step.action_mask[..., 1]).astype(np.int64)
        step = env.step(actions)
        segments, trajs = cutter.record(actions, step)
        shard.add(segments)
        mem.add_episodes(trajs)
        episodes += len(trajs)
        if step.done.any():
            done = step.done
            step = env.reset(seed=int(rng.integers(1 << 30)), where=done)
            cutter.begin(step, done, next_id + np.arange(64))
            next_id += 64
    moved = 0
    for _ in range(10):
        batch = shard.sample(64, "mac_sjert")
        red = mem.redistribute(batch)  # [B, T]
        assert red.shape == batch["reward"].shape and red.dtype == batch["reward"].dtype
        rewarded = (batch["reward"] != 0).any(1)  # [B] caught episodes
        assert torch.equal((red != batch["reward"]).any(1), rewarded)  # every caught episode moves, none else
        for b in torch.nonzero(rewarded).flatten().tolist():
            length = int(batch["filled"][b].sum())
            t = int(torch.nonzero(batch["reward"][b]).flatten()[0])
            committed = batch["choosing"][b, :length] & (batch["actions"][b, :length] == 1)  # [L, n]
            decisive = max(int(torch.nonzero(committed[:, i]).flatten()[0]) for i in range(2))
            assert red[b, decisive] == batch["reward"][b, t] and red[b, t] == batch["reward"][b, t] * 0.01
            moved += 1
    assert moved > 0
