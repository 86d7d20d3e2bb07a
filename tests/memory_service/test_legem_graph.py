"""LeGEM graph construction: node keys, levels, visit counts, sub-graphs by return bucket, eviction, state."""
import io

import numpy as np
import pytest
import torch

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.synthetic import stag_hunter_episode


def one_hot_traj(cells, actions, choosing, reward, n_cells=4):
    """One agent walking over one-hot cells: obs row t = one_hot(cells[t]); T = len(actions)."""
    T = len(actions)
    obs = np.zeros((T + 1, 1, n_cells), np.float32)
    obs[np.arange(T + 1), 0, cells] = 1.0
    return {"episode_id": 0, "real_obs": obs, "obs": obs.copy(),
            "actions": np.asarray(actions, np.int64).reshape(T, 1),
            "choosing": np.asarray(choosing, bool).reshape(T + 1, 1),
            "reward": np.asarray(reward, np.float32), "return": float(np.sum(reward)), "length": T, "extras": {}}


def exact_key(obs_row, action):
    return np.asarray(obs_row, np.float32).tobytes() + np.int64(action).tobytes()


def test_nodes_are_afterstates_per_level_with_noop_while_busy():
    # agent commits action 2 at t=0 (busy at t=1), then action 3 at t=2
    traj = one_hot_traj([0, 1, 2, 3], actions=[2, 2, 3], choosing=[1, 0, 1, 1], reward=[0, 0, 1])
    mem = LegemMemory(LegemConfig(key="exact"))
    mem.add_episodes([traj])
    g = mem.graphs
    assert g.n_nodes == 3 and g.n_edges == 2
    obs = traj["real_obs"][:, 0]
    expected_actions = [2, 0, 3]  # busy at t=1: the no-op
    for t in range(3):
        row = g.lookup(0, 2, t, exact_key(obs[t], expected_actions[t]))
        assert row >= 0, f"missing afterstate node at level {t}"
        assert g.level[row] == t
    # graph index l = T - 1 = 2; a different length goes to another graph
    assert {k[:2] for k in g.node_keys} == {(0, 2)}
    # predecessor and successor links follow the trajectory
    rows = [g.lookup(0, 2, t, exact_key(obs[t], expected_actions[t])) for t in range(3)]
    bucket = mem.config.bucket(1.0)
    assert g.predecessors(rows[2], bucket)[0].tolist() == [rows[1]]
    assert g.successors(rows[0]).tolist() == [rows[1]]


def test_visit_counts_and_sub_graphs_by_return_bucket():
    cfg = LegemConfig(key="exact", return_edges=(0.0, 5.0))
    assert [cfg.bucket(r) for r in (-1.0, 0.0, 3.0, 5.0, 10.0)] == [0, 0, 1, 1, 2]
    a = one_hot_traj([0, 1, 2], actions=[1, 1], choosing=[1, 1, 1], reward=[0, 0])
    b = one_hot_traj([0, 1, 2], actions=[1, 1], choosing=[1, 1, 1], reward=[0, 10])
    c = one_hot_traj([0, 2, 2], actions=[1, 1], choosing=[1, 1, 1], reward=[3, 0])
    mem = LegemMemory(cfg)
    mem.add_episodes([a, a, b, c])
    g = mem.graphs
    obs = a["real_obs"][:, 0]
    root = g.lookup(0, 1, 0, exact_key(obs[0], 1))
    mid = g.lookup(0, 1, 1, exact_key(obs[1], 1))
    other = g.lookup(0, 1, 1, exact_key(c["real_obs"][1, 0], 1))
    assert g.visits[root].tolist() == [2, 1, 1]  # shared root: two returns of 0, one of 3, one of 10
    assert g.visits[mid].tolist() == [2, 0, 1]
    assert g.visits[other].tolist() == [0, 1, 0]
    # sub-graph of bucket 2 reaches mid from root; bucket 1 does not link them
    assert g.predecessors(mid, 2)[0].tolist() == [root]
    assert g.predecessors(mid, 2)[1].tolist() == [1]
    assert g.predecessors(mid, 1)[0].tolist() == []
    assert g.predecessors(mid, 0)[1].tolist() == [2]
    check_best_in(g)
    assert mem.stats()["legem/episodes"] == 4


def test_bad_inputs_and_settings_name_the_field():
    with pytest.raises(ValueError, match="legem.scheme"):
        LegemConfig(scheme="III")
    with pytest.raises(ValueError, match="legem.key"):
        LegemConfig(key="md5")
    with pytest.raises(ValueError, match="legem.return_edges"):
        LegemConfig(return_edges=(5.0, 1.0))
    with pytest.raises(ValueError, match="legem.node_cap"):
        LegemConfig(node_cap=0)
    mem = LegemMemory()
    traj = stag_hunter_episode([0, 5])
    with pytest.raises(ValueError, match="'choosing'"):
        mem.add_episodes([{k: v for k, v in traj.items() if k != "choosing"}])
    with pytest.raises(ValueError, match="'length'"):
        mem.add_episodes([{**traj, "length": 3}])
    mem.add_episodes([traj])
    wide = {**traj, "real_obs": np.zeros(traj["real_obs"].shape[:2] + (7,), np.float32)}
    with pytest.raises(ValueError, match="obs_dim 7"):
        mem.add_episodes([wide])


def check_best_in(g):
    """best_in[v, b] is an incoming edge of v with the largest count in sub-graph b (-1 when v has none)."""
    ev = g.edge_visits[: g.n_edges]
    for v in range(g.n_nodes):
        for b in range(g.n_buckets):
            counts = [int(ev[e, b]) for e in g.in_edges[v]]
            best = int(g.best_in[v, b])
            if max(counts, default=0) == 0:
                assert best == -1
            else:
                assert g.edge_dst[best] == v and ev[best, b] == max(counts)


def _stag_memory(cfg, n=400, seed=0):
    from asyncmarl.memory_service.legem.synthetic import random_shots

    rng = np.random.default_rng(seed)
    shots = random_shots(rng, n, 0.15)
    trajs = [stag_hunter_episode(s, episode_id=i) for i, s in enumerate(shots)]
    mem = LegemMemory(cfg)
    mem.add_episodes(trajs)
    return mem, trajs, shots


def _path_intact(mem, traj):
    steps = len(traj["reward"])
    for i in range(traj["actions"].shape[1]):
        acts = np.where(traj["choosing"][:-1, i], traj["actions"][:, i], 0)
        keys = mem.keymaker.keys(traj["real_obs"][:-1, i], acts)
        if any(mem.graphs.lookup(i, steps - 1, t, keys[t]) < 0 for t in range(steps)):
            return False
    return True


def test_eviction_drops_the_least_visited_nodes_and_keeps_counts():
    full, _, _ = _stag_memory(LegemConfig())
    mem, _, _ = _stag_memory(LegemConfig())
    g, cap = mem.graphs, 120
    assert g.n_nodes > cap  # the workload really overflows the cap
    g.node_cap = cap
    evicted_now = g.evict_if_needed()
    assert g.n_nodes == int(cap * (1 - mem.config.evict_fraction)) and evicted_now == full.graphs.n_nodes - g.n_nodes
    kept = g.visits[: g.n_nodes].sum(1)
    evicted = [full.graphs.visits[r].sum() for k, r in full.graphs.index.items() if k not in g.index]
    assert max(evicted) <= kept.min()
    for k, r in g.index.items():  # survivors keep their counts
        assert np.array_equal(g.visits[r], full.graphs.visits[full.graphs.index[k]])
    src, dst = g.edge_src[: g.n_edges], g.edge_dst[: g.n_edges]
    assert (dst < g.n_nodes).all() and (g.level[dst] == g.level[src] + 1).all()  # edges join survivors
    check_best_in(g)


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_memory_stays_within_cap_and_search_still_answers(scheme):
    cap = 120
    mem = LegemMemory(LegemConfig(node_cap=cap, scheme=scheme))
    from asyncmarl.memory_service.legem.synthetic import random_shots

    shots = random_shots(np.random.default_rng(0), 400, 0.15)
    trajs = [stag_hunter_episode(s, episode_id=i) for i, s in enumerate(shots)]
    for i in range(0, len(trajs), 50):
        mem.add_episodes(trajs[i: i + 50])
        assert mem.graphs.n_nodes <= cap  # evicted per episode: never more than cap after a call
    assert mem.graphs.evictions > 0
    check_best_in(mem.graphs)
    # search answers every caught episode; where its own path survived, with the decisive shot
    intact = 0
    for traj, s in zip(trajs, shots, strict=True):
        if traj["reward"].sum() == 0:
            continue
        t = int(np.flatnonzero(traj["reward"])[0])
        e = int(mem.pivots(traj)[0, t])
        assert 0 <= e <= t
        if _path_intact(mem, traj):
            intact += 1
            assert e == max(s)
    assert intact >= 1


@pytest.mark.parametrize("key", ["exact", "simhash"])
def test_state_dict_round_trip_is_exact(key):
    mem, trajs, _ = _stag_memory(LegemConfig(key=key, node_cap=80, scheme="II"), n=200)
    buf = io.BytesIO()
    torch.save(mem.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # plain tensors and Python values only
    twin = LegemMemory(LegemConfig(key=key, node_cap=80, scheme="II"))
    twin.load_state_dict(state)
    a, b = mem.state_dict(), twin.state_dict()
    assert a.keys() == b.keys() and a["config"] == b["config"] and a["counters"] == b["counters"]
    for k, v in a["graphs"].items():
        assert torch.equal(v, b["graphs"][k]) if isinstance(v, torch.Tensor) else v == b["graphs"][k], k
    caught = [t for t in trajs if t["reward"].sum() > 0]
    for t in caught:
        assert np.array_equal(mem.pivots(t), twin.pivots(t))
    # both keep evolving identically after the round trip
    mem.add_episodes(trajs[:50])
    twin.add_episodes(trajs[:50])
    assert torch.equal(mem.state_dict()["graphs"]["node_visits"], twin.state_dict()["graphs"]["node_visits"])
    with pytest.raises(ValueError, match="simhash_bits"):
        LegemMemory(LegemConfig(key=key, simhash_bits=8)).load_state_dict(state)
