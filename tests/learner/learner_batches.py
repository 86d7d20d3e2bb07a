"""Synthetic episode batches in the layout of ``asyncmarl.platform.schema``, independent of replay's code:
random episodes with random action durations, consistent choosing / elapsed / action_end / segments, zero
padding after each episode's end, and the Mac-JERT view built from the same episodes."""
from __future__ import annotations

import numpy as np
import torch

from asyncmarl.platform.envs.base import EnvInfo


def random_episode(rng, length, n, A, O, S, max_dur=4, terminated=False):
    """One episode as a dict of numpy arrays (rows 0..length, steps 0..length-1)."""
    actions = np.zeros((length, n), np.int64)
    elapsed = np.zeros((length, n), np.int64)
    choosing = np.zeros((length + 1, n), bool)
    segs = [[] for _ in range(n)]
    for i in range(n):
        t = 0
        while t < length:
            dur = int(rng.integers(1, max_dur + 1))
            a = int(rng.integers(0, A))
            choosing[t, i] = True
            end = min(t + dur, length) - 1
            actions[t:end + 1, i] = a
            elapsed[t:end + 1, i] = np.arange(end + 1 - t)
            segs[i].append((t, end))
            t += dur
            if t <= length:
                choosing[t, i] = True if t == length else choosing[t, i]
    obs = rng.normal(size=(length + 1, n, O)).astype(np.float32)
    real = obs.copy()
    for i in range(n):  # macro-observations freeze while an action runs
        for t in range(1, length + 1):
            if not choosing[t, i]:
                obs[t, i] = obs[t - 1, i]
    mask = rng.random((length + 1, n, A)) < 0.8
    mask[..., 0] = True
    reward = rng.normal(size=length).astype(np.float32)
    term = np.zeros(length, np.float32)
    term[-1] = float(terminated)
    return {"state": rng.normal(size=(length + 1, S)).astype(np.float32), "obs": obs, "real_obs": real,
            "action_mask": mask, "choosing": choosing, "actions": actions, "elapsed": elapsed, "reward": reward,
            "terminated": term, "segments": segs}


def sjert_batch(episodes, gamma, K=None):
    """Pad episodes into a Mac-SJERT batch (torch tensors)."""
    B = len(episodes)
    T = max(len(e["reward"]) for e in episodes)
    n = episodes[0]["actions"].shape[1]
    K = K or max(len(s) for e in episodes for s in e["segments"])
    out = {
        "state": np.zeros((B, T + 1, episodes[0]["state"].shape[-1]), np.float32),
        "obs": np.zeros((B, T + 1) + episodes[0]["obs"].shape[1:], np.float32),
        "real_obs": np.zeros((B, T + 1) + episodes[0]["obs"].shape[1:], np.float32),
        "action_mask": np.zeros((B, T + 1) + episodes[0]["action_mask"].shape[1:], bool),
        "choosing": np.zeros((B, T + 1, n), bool),
        "actions": np.zeros((B, T, n), np.int64), "elapsed": np.zeros((B, T, n), np.int64),
        "action_end": np.zeros((B, T, n), bool),
        "reward": np.zeros((B, T), np.float32), "terminated": np.zeros((B, T), np.float32),
        "filled": np.zeros((B, T), np.float32),
        "seg_start": np.zeros((B, n, K), np.int64), "seg_end": np.zeros((B, n, K), np.int64),
        "seg_return": np.zeros((B, n, K), np.float32), "seg_mask": np.zeros((B, n, K), np.float32),
        "episode_id": np.arange(B, dtype=np.int64),
    }
    for b, e in enumerate(episodes):
        L = len(e["reward"])
        for k in ("state", "obs", "real_obs", "action_mask", "choosing"):
            out[k][b, :L + 1] = e[k]
        for k in ("actions", "elapsed", "reward", "terminated"):
            out[k][b, :L] = e[k]
        out["action_end"][b, :L] = e["choosing"][1:]
        out["filled"][b, :L] = 1
        for i, segs in enumerate(e["segments"]):
            for k, (s, t_end) in enumerate(segs):
                out["seg_start"][b, i, k], out["seg_end"][b, i, k] = s, t_end
                out["seg_return"][b, i, k] = sum(gamma ** (t - s) * e["reward"][t] for t in range(s, t_end + 1))
                out["seg_mask"][b, i, k] = 1
    return {k: torch.as_tensor(v) for k, v in out.items()}


def jert_batch(episodes, gamma):
    """The Mac-JERT (squeezed) view of the same episodes: rows where some agent chooses, discounted rewards
    accumulated until the next kept row, discount = gamma ** gap."""
    views = []
    for e in episodes:
        L = len(e["reward"])
        kept = [t for t in range(L) if e["choosing"][t].any()] + [L]
        v = {k: e[k][kept] for k in ("state", "obs", "real_obs", "action_mask", "choosing")}
        steps = kept[:-1]
        v["actions"], v["elapsed"] = e["actions"][steps], e["elapsed"][steps]
        v["reward"] = np.array([sum(gamma ** (t - a) * e["reward"][t] for t in range(a, c))
                                for a, c in zip(kept[:-1], kept[1:], strict=True)], np.float32)
        v["discount"] = np.array([gamma ** (c - a) for a, c in zip(kept[:-1], kept[1:], strict=True)], np.float32)
        v["terminated"] = np.zeros(len(steps), np.float32)
        v["terminated"][-1] = e["terminated"][-1]
        v["t"] = np.array(kept, np.int64)
        views.append(v)
    B, T = len(views), max(len(v["reward"]) for v in views)
    out = {}
    for k in views[0]:
        rows = T + 1 if k in ("state", "obs", "real_obs", "action_mask", "choosing", "t") else T
        arr = np.zeros((B, rows) + views[0][k].shape[1:], views[0][k].dtype)
        for b, v in enumerate(views):
            arr[b, :len(v[k])] = v[k]
        out[k] = torch.as_tensor(arr)
    out["filled"] = torch.as_tensor(np.array([[1.0 if t < len(v["reward"]) else 0.0 for t in range(T)]
                                              for v in views], np.float32))
    return out


def make_episodes(seed, B, T, n, A, O, S, max_dur=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(2, T // 2), T + 1, size=B)
    lengths[0] = T
    return [random_episode(rng, int(L), n, A, O, S, max_dur, terminated=bool(rng.random() < 0.5)) for L in lengths]


SMALL = EnvInfo("synthetic", n_agents=3, n_actions=5, obs_dim=6, state_dim=10, horizon=16)
