"""The rollout worker: steps a batched environment, acts for every copy and agent with one forward pass of the
agent network, and cuts per-agent segments as actions end.

Only agents whose action ended choose (epsilon-greedy on Q values, or sampling a stochastic policy mixed with
epsilon-uniform choices, while training; greedy in evaluation); busy agents keep running their action, as the
environments require. The centrally executed baselines act through :mod:`.central`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from asyncmarl.platform import seeding
from asyncmarl.platform.envs import EnvInfo, Step, make_batched, spec
from asyncmarl.platform.nets import AgentNetConfig, make_agent_net
from asyncmarl.platform.nets.joint import JointNet, JointNetConfig
from asyncmarl.platform.roles import RolloutResult
from asyncmarl.platform.schema import MAC_CERT, MAC_JERT, MAC_SJERT, VIEWS
from asyncmarl.rollout_workers.central import CentralPolicy
from asyncmarl.rollout_workers.config import RolloutConfig
from asyncmarl.rollout_workers.segments import SegmentCutter

POLICIES = ("greedy", "stochastic", "central_greedy", "central_stochastic")
TICKS = ("every", "any", "own")


class Policy:
    """The acting side of the agent network: hidden state, previous actions and the choice for ``B`` copies at
    once. ``obs_key`` picks the observation the learner trains on (real or macro); ``tick`` when the RNN
    advances: ``every`` step (Mac-SJERT), where ``any`` agent's action ended (Mac-JERT), or for each agent at
    its ``own`` decisions only (Mac-CERT). ``stochastic``: the network's outputs are policy logits, sampled
    (mixed with epsilon-uniform choices) instead of maximised."""

    def __init__(self, net: torch.nn.Module, info: EnvInfo, batch_size: int, obs_key: str, tick: str = "every",
                 stochastic: bool = False):
        if tick not in TICKS:
            raise ValueError(f"tick must be one of {TICKS}, got {tick!r}")
        self.net, self.info, self.B = net, info, batch_size
        self.obs_key = obs_key  # "real_obs" (Mac-SJERT learners) or "obs" (Mac-JERT / Mac-CERT learners)
        self.tick, self.stochastic = tick, bool(stochastic)
        self.hidden = net.initial_hidden(batch_size)  # [B, n, H]
        self.prev_action = np.full((batch_size, info.n_agents), -1, np.int64)  # [B, n]
        self.prev_elapsed = np.zeros((batch_size, info.n_agents), np.int64)  # [B, n]

    def reset(self, where: np.ndarray) -> None:
        idx = torch.as_tensor(np.flatnonzero(where))
        if len(idx):
            self.hidden[idx] = self.net.initial_hidden(len(idx))
        self.prev_action[where] = -1
        self.prev_elapsed[where] = 0

    @torch.no_grad()
    def act(self, step: Step, epsilon: float, rng: np.random.Generator, explore: bool = True) -> np.ndarray:
        """Actions [B, n] for the copies' choosing agents (others get their running action); ``explore=False``
        (evaluation): stochastic policies take their most likely action."""
        obs = getattr(step, self.obs_key)
        # single-copy steppers share read-only arrays between steps; torch only reads them, but warns on a view
        obs = torch.as_tensor(obs if obs.flags.writeable else obs.copy())  # [B, n, O]
        update = None
        if self.tick == "any":
            update = torch.as_tensor(step.choosing.any(1, keepdims=True)).expand(step.choosing.shape)
        elif self.tick == "own":
            update = torch.as_tensor(step.choosing)
        q, self.hidden = self.net.act(
            obs,
            torch.as_tensor(self.prev_action),
            torch.as_tensor(self.prev_elapsed),
            torch.as_tensor(step.t),
            self.hidden,
            update,
        )  # q: [B, n, A]
        mask = step.action_mask  # [B, n, A]
        q = q.numpy()
        if self.stochastic and explore:  # sample pi mixed with epsilon-uniform over the valid actions
            z = np.where(mask, q, -np.inf)
            p = np.exp(z - z.max(-1, keepdims=True))
            p = (1.0 - epsilon) * p / p.sum(-1, keepdims=True) + epsilon * mask / mask.sum(-1, keepdims=True)
            u = rng.random(mask.shape[:2] + (1,))
            chosen = np.minimum((p.cumsum(-1) < u).sum(-1), mask.shape[-1] - 1)
            return np.where(step.choosing, chosen, step.macro_action)
        greedy = np.where(mask, q, -np.inf).argmax(-1)  # [B, n]
        if epsilon > 0:
            random = (rng.random(mask.shape) * mask).argmax(-1)  # uniform over valid actions
            explore = rng.random(greedy.shape) < epsilon
            greedy = np.where(explore, random, greedy)
        return np.where(step.choosing, greedy, step.macro_action)

    def observe(self, step: Step) -> None:
        """Remember what ran during the step just taken (the next step's 'previous action')."""
        self.prev_action = step.macro_action.copy()
        self.prev_elapsed = step.elapsed.copy()


class RolloutWorker:
    """Steps ``rollout.num_envs`` copies of ``scenario`` and emits per-agent segments.

    Plain class: ``asyncmarl.cluster`` runs it in-process or as a Ray actor. It knows its own config section and
    what it is handed: the scenario and its settings, the agent network's config, the replay ``view`` the
    learner trains on (Mac-JERT learners act on the frozen macro-observations and tick the RNN only where some
    action ended), the ``gamma`` of R_m, its ``worker_id`` (tags its segments) out of ``num_workers`` (its
    share of the epsilon schedule when no run-wide step count is given), ``seed`` (environments, exploration,
    episode ids) and whether to emit finished ``trajectories`` (only LeGEM reads them; copying them costs).
    ``policy`` says how the learner's acting network acts (``LearnerConfig.policy``; the ``central_*`` ones use
    a joint network of ``joint_net``'s sizes). ``max_policy_lag`` (on-policy learners; None otherwise): when
    newer weights arrive, episodes begun by a policy more than that many versions older are restarted, since
    the learner would never train on them.
    """

    def __init__(self, rollout: RolloutConfig, scenario: str, agent_net: AgentNetConfig, *,
                 env_settings: Mapping[str, Any] | None = None, view: str = MAC_SJERT, gamma: float = 0.99,
                 worker_id: int = 0, num_workers: int = 1, seed: int = 0, trajectories: bool = False,
                 policy: str = "greedy", joint_net: JointNetConfig | None = None, max_policy_lag: int | None = None):
        if not isinstance(rollout, RolloutConfig):
            raise ValueError(f"rollout must be a RolloutConfig, got {type(rollout).__name__}")
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if max_policy_lag is not None and max_policy_lag < 0:
            raise ValueError(f"max_policy_lag must be None or >= 0, got {max_policy_lag}")
        self.policy_kind, self.max_policy_lag = policy, max_policy_lag
        if num_workers < 1 or not 0 <= worker_id < num_workers:
            raise ValueError(f"need 0 <= worker_id < num_workers, got worker_id={worker_id}, num_workers={num_workers}")
        self.config, self.scenario, self.env_settings = rollout, scenario, dict(env_settings or {})
        self.view, self.num_workers = view, int(num_workers)
        self.worker_id = int(worker_id)
        self.seed = int(seed)
        rc = rollout
        self.env = make_batched(scenario, rc.num_envs, **self.env_settings)
        self.info = EnvInfo.from_env(self.env, family=spec(scenario).family)
        torch.set_num_threads(rc.torch_threads)
        torch.manual_seed(seeding.integer(self.seed, "net"))  # its own streams, all from its seed
        if policy.startswith("central"):
            n, A = self.info.n_agents, self.info.n_actions
            self.net = JointNet(joint_net or JointNetConfig(), n * self.info.obs_dim, A ** n)
        else:
            self.net = make_agent_net(agent_net, self.info)
        self.net.eval()
        self.version = 0
        self.env_steps = 0  # joint steps taken by this worker
        self.episodes_done = 0
        self.rng = seeding.generator(self.seed, "envs")  # environment resets and exploration
        self._id_rng = seeding.generator(self.seed, "episode_ids")
        self.cutter = SegmentCutter(rc.num_envs, self.info.n_agents, gamma, self.worker_id, trajectories=trajectories)
        self.policy = self._policy(rc.num_envs)
        self._returns = np.zeros(rc.num_envs)
        self._versions = np.zeros(rc.num_envs, np.int64)
        self._first_version = np.zeros(rc.num_envs, np.int64)  # policy version each open episode began with
        self.restarted_episodes = 0  # open episodes restarted because they became too old (on-policy)
        self._step = self.env.reset(seed=self._seeds(rc.num_envs))
        self.cutter.begin(self._step, np.ones(rc.num_envs, bool), self._episode_ids(rc.num_envs))

    # ------------------------------------------------------------------ acting
    def _policy(self, batch_size: int) -> Policy | CentralPolicy:
        stochastic = self.policy_kind.endswith("stochastic")
        if self.policy_kind.startswith("central"):
            return CentralPolicy(self.net, self.info, batch_size, stochastic)
        tick = {MAC_SJERT: "every", MAC_JERT: "any", MAC_CERT: "own"}[self.view]
        return Policy(self.net, self.info, batch_size, "real_obs" if self.view == MAC_SJERT else "obs", tick,
                      stochastic)

    def _seeds(self, k: int) -> np.ndarray:
        return self.rng.integers(0, 2**31 - 1, size=k)

    def _episode_ids(self, k: int) -> np.ndarray:
        return self._id_rng.integers(1, 2**62, size=k, dtype=np.int64)

    def epsilon(self, global_steps: int | None = None) -> float:
        """Exploration rate at ``global_steps`` joint steps of the whole run (the driver's count, so a restarted
        worker continues the schedule); without it, this worker's own steps times the number of workers."""
        if global_steps is None:
            global_steps = self.env_steps * self.num_workers
        return self.config.epsilon(global_steps)

    def run(self, num_steps: int | None = None, global_steps: int | None = None) -> RolloutResult:
        """Step every copy ``num_steps`` times (default ``rollout.steps_per_call``); ``global_steps`` is the run's
        joint step count when the call starts (it sets epsilon)."""
        num_steps = num_steps or self.config.steps_per_call
        result = RolloutResult(segments=[])
        B = self.env.batch_size
        for k in range(num_steps):
            step = self._step
            eps = self.epsilon(None if global_steps is None else global_steps + k * B)
            actions = self.policy.act(step, eps, self.rng)
            self._versions = np.where(step.choosing.any(1), self.version, self._versions)
            step = self.env.step(actions)
            self.policy.observe(step)
            segments, trajectories = self.cutter.record(actions, step, self.version)
            result.segments.extend(segments)
            result.trajectories.extend(trajectories)
            self._returns += step.reward
            self.env_steps += B
            result.env_steps += B
            done = step.done
            if done.any():
                for b in np.flatnonzero(done):
                    result.episodes.append(self._episode_stats(step, int(b)))
                self.episodes_done += int(done.sum())
                self._returns[done] = 0.0
                step = self.env.reset(seed=self._seeds(B), where=done)
                self.cutter.begin(step, done, self._episode_ids(B))
                self.policy.reset(done)
                self._first_version[done] = self.version
            self._step = step
        return result

    def _episode_stats(self, step: Step, b: int) -> dict:
        stats = {
            "return": float(self._returns[b]),
            "length": int(step.t[b]),
            "terminated": bool(step.terminated[b]),
            "policy_version": int(self._versions[b]),
            "worker_id": self.worker_id,
        }
        stats.update({k: float(v[b]) for k, v in step.extras.items()})
        return stats

    def set_weights(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Load the acting network published as ``version`` (ignored if not newer). On-policy: restart the open
        episodes that began more than ``max_policy_lag`` versions before it."""
        if version > self.version:
            self.net.load_state_dict(weights)
            self.version = int(version)
            if self.max_policy_lag is not None:
                stale = self._first_version < self.version - self.max_policy_lag
                if stale.any():
                    self._restart(stale)

    def _restart(self, where: np.ndarray) -> None:
        """Drop the open episodes of copies ``where`` (never emitted whole) and start fresh ones."""
        B = self.env.batch_size
        self.cutter.abandon(where)
        self._returns[where] = 0.0
        self._step = self.env.reset(seed=self._seeds(B), where=where)
        self.cutter.begin(self._step, where, self._episode_ids(B))
        self.policy.reset(where)
        self._first_version[where] = self.version
        self.restarted_episodes += int(where.sum())

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, episodes: int, seed: int | None = None) -> dict[str, float]:
        """Greedy decentralised execution on fresh copies (stochastic policies: their most likely action, or a
        sample with ``rollout.eval_sample``): mean return, its 95% CI half-width and metrics."""
        B = min(episodes, self.config.num_envs * 4)
        env = make_batched(self.scenario, B, **self.env_settings)
        policy = self._policy(B)
        rng = np.random.default_rng(seeding.stream(self.seed, "evaluation") if seed is None else seed)
        step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B))
        returns = np.zeros(B)
        finished: list[dict] = []
        active = np.ones(B, bool)  # copies still needed to reach `episodes`
        started = B
        while len(finished) < episodes:
            actions = policy.act(step, self.config.eval_epsilon, rng, explore=self.config.eval_sample)
            step = env.step(actions)
            policy.observe(step)
            returns += step.reward
            done = step.done & active
            for b in np.flatnonzero(done):
                row = {"return": float(returns[b]), "length": int(step.t[b])}
                row.update({k: float(v[b]) for k, v in step.extras.items()})
                finished.append(row)
            if step.done.any():
                again = step.done & active
                more = max(0, episodes - started)
                restart = np.flatnonzero(again)[:more]
                keep = np.zeros(B, bool)
                keep[restart] = True
                active &= ~(again & ~keep)
                started += len(restart)
                returns[step.done] = 0.0
                step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B), where=step.done)
                policy.reset(step.t == 0)
        return summarize_episodes(finished[:episodes])

    @torch.no_grad()
    def render_episode(self, seed: int = 0, max_frames: int | None = None) -> list[np.ndarray]:
        """RGB frames of one greedy episode (for GIFs)."""
        env = make_batched(self.scenario, 1, **self.env_settings)
        policy = self._policy(1)
        rng = np.random.default_rng(seed)
        step = env.reset(seed=seed)
        frames = [env.render_rgb(0)]
        while not step.done[0] and (max_frames is None or len(frames) < max_frames):
            step = env.step(policy.act(step, 0.0, rng, explore=False))
            policy.observe(step)
            frames.append(env.render_rgb(0))
        return frames

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "version": self.version,
            "env_steps": self.env_steps,
            "episodes_done": self.episodes_done,
            "rng": self.rng.bit_generator.state,
            "id_rng": self._id_rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore counters and RNG streams; open episodes restart (they are never half-stored)."""
        self.version = int(state["version"])
        self.env_steps = int(state["env_steps"])
        self.episodes_done = int(state["episodes_done"])
        self.rng.bit_generator.state = state["rng"]
        self._id_rng.bit_generator.state = state["id_rng"]
        B = self.env.batch_size
        everything = np.ones(B, bool)
        self.cutter.abandon(everything)
        self._returns[:] = 0.0
        self._step = self.env.reset(seed=self._seeds(B))
        self.cutter.begin(self._step, everything, self._episode_ids(B))
        self.policy.reset(everything)
        self._first_version[:] = self.version


def summarize_episodes(rows: list[dict]) -> dict[str, float]:
    """Mean of every episode metric, plus the return's std and 95% confidence half-width."""
    if not rows:
        return {"episodes": 0}
    out: dict[str, float] = {"episodes": float(len(rows))}
    for key in rows[0]:
        vals = np.array([r[key] for r in rows], float)
        out[f"{key}_mean"] = float(vals.mean())
    ret = np.array([r["return"] for r in rows], float)
    out["return_std"] = float(ret.std(ddof=1)) if len(ret) > 1 else 0.0
    out["return_ci95"] = float(1.96 * out["return_std"] / np.sqrt(len(ret)))
    return out
