"""LegemMemory: the LeGEM role (plain class; ``asyncmarl.cluster`` may wrap it as a Ray actor).

Rollout workers' finished episodes go in with :meth:`LegemMemory.add_episodes`; the learner turns an episode
batch's rewards into off-beat TD rewards with :meth:`LegemMemory.redistribute` (``batch["reward_redistributed"]``).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from asyncmarl.memory_service.legem.config import LegemConfig
from asyncmarl.memory_service.legem.episodes import Episodes, from_batch, from_trajectory
from asyncmarl.memory_service.legem.graph import LevelledGraphs
from asyncmarl.memory_service.legem.keys import KeyMaker
from asyncmarl.memory_service.legem.redistribute import redistribute_numpy, redistribute_torch
from asyncmarl.memory_service.legem.search import NONE, PivotSearch, rank

# config fields that change what the stored graphs mean; a checkpoint must agree on them
_STRUCTURAL = ("key", "exact_max_dim", "simhash_bits", "seed", "return_edges", "obs_field")


class LegemMemory:
    """Per-agent levelled graph episodic memory with pivot search and reward redistribution (paper Sec. 4-5)."""

    def __init__(self, config: LegemConfig | None = None, info=None):
        """``info`` (an ``EnvInfo``, optional) fixes the agent count and observation width up front; otherwise
        the first episode seen fixes them. Its family sets how busy steps are keyed: off-beat games (and no
        ``info``) key them with the wait 0, which is never a commit; macro-action scenarios have no wait (action 0
        is a macro-action), so busy steps get the key action -1 and every real action is a commit."""
        self.config = config or LegemConfig()
        self.busy = 0 if info is None or info.family == "offbeat" else -1
        self.graphs = LevelledGraphs(self.config.n_buckets, self.config.node_cap, self.config.evict_fraction)
        self.n_agents: int | None = None if info is None else int(info.n_agents)
        self.keymaker: KeyMaker | None = None if info is None else KeyMaker(self.config, int(info.obs_dim))
        self._counters = dict(episodes=0, steps=0, insert_s=0.0, searches=0, search_s=0.0, search_calls=0)

    # ------------------------------------------------------------------ input
    def _episodes(self, data) -> Episodes:
        if isinstance(data, dict) and isinstance(data.get("reward"), torch.Tensor):
            ep = from_batch(data, self.config.obs_field, self.busy)
        elif isinstance(data, dict):
            ep = from_trajectory(data, self.config.obs_field, self.busy)
        else:
            raise ValueError(f"LeGEM: expected an episode Batch (dict of tensors) or a trajectory (dict of numpy "
                             f"arrays), got {type(data).__name__}")
        n, obs_dim = ep.action.shape[2], ep.obs.shape[3]
        if self.n_agents is None or self.keymaker is None:
            self.n_agents, self.keymaker = n, KeyMaker(self.config, obs_dim)
        elif n != self.n_agents or obs_dim != self.keymaker.obs_dim:
            raise ValueError(f"LeGEM: episodes have {n} agents with obs_dim {obs_dim}; this memory holds "
                             f"{self.n_agents} agents with obs_dim {self.keymaker.obs_dim}")
        return ep

    def _keys(self, ep: Episodes, b: int, agent: int) -> list[bytes]:
        length = int(ep.lengths[b])
        return self.keymaker.keys(ep.obs[b, :length, agent], ep.action[b, :length, agent])

    # ------------------------------------------------------------------ insert
    def add_episodes(self, trajectories: list[dict]) -> None:
        """Insert finished episodes (rollout trajectories) into every agent's graph (paper Alg. 3)."""
        start = time.perf_counter()
        for traj in trajectories:
            ep = self._episodes(traj)
            length = int(ep.lengths[0])
            if length == 0:
                continue
            bucket = self.config.bucket(ep.returns[0])
            for agent in range(self.n_agents):
                self.graphs.insert(agent, self._keys(ep, 0, agent), bucket)
            self._counters["episodes"] += 1
            self._counters["steps"] += length
            self.graphs.evict_if_needed()  # per episode: the cap is exceeded by at most one episode's nodes
        self._counters["insert_s"] += time.perf_counter() - start

    # ------------------------------------------------------------------ search
    def agent_pivots(self, data) -> np.ndarray:
        """Each agent's pivot candidate e_t^i for every rewarded step: [B, T, n] int64, -1 where the agent
        abstains (no pattern, node unknown to the memory, or, with ``ranking="ended"``, no action of the agent
        ended at t) and on steps without reward."""
        ep = self._episodes(data)
        start = time.perf_counter()
        b_size, t_size = ep.reward.shape
        out = np.full((b_size, t_size, self.n_agents), NONE, dtype=np.int64)
        search = PivotSearch(self.graphs, self.config.path_cap, self.config.scheme1_counts,
                             self.config.scheme2_normalise, self.config.commit_only, no_commit=(self.busy,))
        run = search.scheme1 if self.config.scheme == "I" else search.scheme2
        only_ended = self.config.ranking == "ended"
        own_path = self.config.scheme == "II" and self.config.scheme2_path == "own"
        for b in range(b_size):
            steps = np.flatnonzero(ep.reward[b] != 0)
            if steps.size == 0:
                continue
            length, bucket = int(ep.lengths[b]), self.config.bucket(ep.returns[b])
            for agent in range(self.n_agents):
                keys = self._keys(ep, b, agent)
                own = None
                for t in steps.tolist():
                    if only_ended and not ep.ended[b, t, agent]:
                        continue  # no action of this agent landed at t: it cannot have earned r_t
                    node = self.graphs.lookup(agent, length - 1, t, keys[t])
                    if node < 0:
                        continue
                    if own_path:
                        if own is None:  # this episode's nodes of this agent, levels 0..length-1
                            own = [self.graphs.lookup(agent, length - 1, s, k) for s, k in enumerate(keys)]
                        out[b, t, agent] = search.scheme2_own(own[:t + 1], bucket)
                    else:
                        out[b, t, agent] = run(node, bucket)
            self._counters["searches"] += int(steps.size)
        self._counters["search_s"] += time.perf_counter() - start
        self._counters["search_calls"] += 1
        return out

    def pivots(self, data) -> np.ndarray:
        """Joint pivot e_t of every step (eq. 1 over :meth:`agent_pivots`): [B, T] int64, e_t = t where no
        reward or no agent found a pivot."""
        cand = self.agent_pivots(data)  # [B, T, n]
        t = np.broadcast_to(np.arange(cand.shape[1])[None, :], cand.shape[:2])
        return rank(cand, t)

    def redistribute(self, data):
        """Off-beat TD rewards (eq. 2): a Batch gives a tensor [B, T] (same dtype/device as ``reward``); one
        numpy trajectory gives a numpy array [T]."""
        e = self.pivots(data)  # [B, T]
        if isinstance(data.get("reward"), torch.Tensor):
            return redistribute_torch(data["reward"], e, self.config.beta)
        reward = np.asarray(data["reward"])
        return redistribute_numpy(reward[None], e, self.config.beta)[0]

    # ------------------------------------------------------------------ metrics and state
    def stats(self) -> dict[str, float]:
        """Memory use and search cost (``legem/...`` metrics)."""
        c, g = self._counters, self.graphs
        return {
            "legem/episodes": float(c["episodes"]),
            "legem/steps_inserted": float(c["steps"]),
            "legem/nodes": float(g.n_nodes),
            "legem/edges": float(g.n_edges),
            "legem/graphs": float(len({k[:2] for k in g.node_keys})),
            "legem/bytes": float(g.nbytes()),
            "legem/evicted_nodes": float(g.evictions),
            "legem/insert_s": c["insert_s"],
            "legem/insert_us_per_step": 1e6 * c["insert_s"] / max(c["steps"], 1),
            "legem/searches": float(c["searches"]),
            "legem/search_s": c["search_s"],
            "legem/search_us_per_reward": 1e6 * c["search_s"] / max(c["searches"], 1),
        }

    def state_dict(self) -> dict:
        """Everything needed to resume: config, graphs, counters (tensors and plain Python values only)."""
        return {
            "config": self.config.to_dict(),
            "n_agents": -1 if self.n_agents is None else self.n_agents,
            "obs_dim": -1 if self.keymaker is None else self.keymaker.obs_dim,
            "busy": self.busy,
            "graphs": self.graphs.state_dict(),
            "counters": dict(self._counters),
        }

    def load_state_dict(self, state: dict) -> None:
        saved = state["config"]
        mine = self.config.to_dict()
        bad = [f for f in _STRUCTURAL if tuple(np.atleast_1d(saved[f])) != tuple(np.atleast_1d(mine[f]))]
        if bad:
            raise ValueError(f"LeGEM checkpoint was built with different legem.{bad}: "
                             f"{ {f: saved[f] for f in bad} } vs this config { {f: mine[f] for f in bad} }")
        if int(state.get("busy", 0)) != self.busy:
            raise ValueError(f"LeGEM checkpoint keys busy steps with action {state.get('busy', 0)}, this memory with "
                             f"{self.busy}: it was built for a scenario of another family")
        self.graphs.load_state_dict(state["graphs"])
        n, obs_dim = int(state["n_agents"]), int(state["obs_dim"])
        self.n_agents = None if n < 0 else n
        self.keymaker = None if obs_dim < 0 else KeyMaker(self.config, obs_dim)
        self._counters = dict(state["counters"])
