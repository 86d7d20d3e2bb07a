"""RLlib ``MultiAgentEnv`` over any scenario, as the macro-action decision process (the SMDP) RLlib should see.

Per-step environments hand RLlib every agent at every step, so RLlib trains on the steps where a busy agent's
action is ignored. Here an agent appears in the observation dict only at steps where it chooses (after reset,
and at the step its action ends); its reward is the team reward discounted and summed over every step since
its previous decision, ``sum_k gamma^k r_{t0+k}`` (``gamma`` a setting). RLlib's own ``gamma`` then discounts
decision to decision: a constant per decision, where the exact SMDP discount would be ``gamma`` to the power of
the action's duration (our approximation, stated in docs/rllib.md).

Observations are ``{"observations": macro-observation, "action_mask": 0/1 float32}`` (plus ``"state"``, the
global state, with ``global_state=True`` for a centralised critic): the layout RLlib's action-masking RLModule
example reads, and :class:`asyncmarl.cluster.rllib_run.MaskedPPOModule`. A masked or missing action of a
choosing agent raises ``ValueError`` naming the agent before the core is stepped. At episode end every agent,
busy or not, gets its last observation, its pending discounted reward and the episode's terminated/truncated
flags (RLlib needs a final observation to bootstrap a truncated agent).

This module imports Ray; the scenario registry skips it, so ``asyncmarl.platform.envs`` stays Ray-free.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from asyncmarl.platform.envs.base import Step
from asyncmarl.platform.envs.registry import make_batched


@dataclass(frozen=True)
class RllibEnvConfig:
    """Settings of :class:`MacroActionMultiAgentEnv` (RLlib passes them as the ``env_config`` dict)."""

    scenario: str = "boxpushing-6"  # a registered scenario name (asyncmarl.platform.envs.names())
    settings: dict[str, Any] = field(default_factory=dict)  # scenario settings overriding its preset
    gamma: float = 0.99  # per-timestep discount of the rewards summed inside one agent's action
    global_state: bool = False  # add the global state under "state" to every observation (centralised critic)
    render_mode: str | None = None  # None, "ansi" or "rgb_array"

    def __post_init__(self):
        if not isinstance(self.gamma, (int, float)) or not math.isfinite(self.gamma) or not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"env_config.gamma must be in (0, 1], got {self.gamma!r}")
        if self.render_mode not in (None, "ansi", "rgb_array"):
            raise ValueError(f"env_config.render_mode must be None, 'ansi' or 'rgb_array', got {self.render_mode!r}")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> RllibEnvConfig:
        """From RLlib's ``env_config`` (a dict or ``EnvContext``); unknown keys raise naming the valid ones."""
        config = dict(config or {})
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(valid))
        if unknown:
            raise ValueError(f"env_config has unknown keys {unknown}; valid keys: {valid}")
        return cls(**config)


class MacroActionMultiAgentEnv(MultiAgentEnv):
    """One copy of a scenario as an RLlib multi-agent env in which agents act only when they choose."""

    def __init__(self, config: Mapping[str, Any] | RllibEnvConfig | None = None):
        super().__init__()
        self.config = config if isinstance(config, RllibEnvConfig) else RllibEnvConfig.from_mapping(config)
        self.core = make_batched(self.config.scenario, 1, **self.config.settings)
        self.render_mode = self.config.render_mode
        core = self.core
        self.possible_agents = list(core.agents)
        self.agents = list(self.possible_agents)
        spaces = {"observations": gymnasium.spaces.Box(-np.inf, np.inf, (core.obs_dim,), np.float32),
                  "action_mask": gymnasium.spaces.Box(0.0, 1.0, (core.n_actions,), np.float32)}
        if self.config.global_state:
            spaces["state"] = gymnasium.spaces.Box(-np.inf, np.inf, (core.state_dim,), np.float32)
        obs_space = gymnasium.spaces.Dict(spaces)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: gymnasium.spaces.Discrete(core.n_actions) for a in self.possible_agents}
        n = core.n_agents
        self._pending = np.zeros(n)  # [n] discounted team reward since each agent's last decision
        self._discount = np.ones(n)  # [n] gamma^(steps since each agent's last decision)
        self._return = 0.0  # undiscounted team return of the episode so far
        self._needs_reset = True

    # ------------------------------------------------------------------ RLlib API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed, options=options)
        step = self.core.reset(seed=seed)
        self._pending[:] = 0.0
        self._discount[:] = 1.0
        self._return = 0.0
        self._needs_reset = False
        self.agents = list(self.possible_agents)
        every = np.ones(self.core.n_agents, bool)
        return self._obs(step, every), self._infos(step, every)

    def step(self, action_dict: Mapping[str, Any]):
        if self._needs_reset:
            raise RuntimeError(f"{self.core.name}: call reset() before step() (and after an episode ends)")
        actions = self._actions(action_dict)
        step = self.core.step(actions)
        r = float(step.reward[0])
        self._return += r
        self._pending += self._discount * r
        self._discount *= self.config.gamma
        done = bool(step.done[0])
        ready = np.ones(self.core.n_agents, bool) if done else step.choosing[0].copy()  # [n]
        obs, infos = self._obs(step, ready), self._infos(step, ready)
        rewards = {a: float(self._pending[i]) for i, a in enumerate(self.possible_agents) if ready[i]}
        self._pending[ready] = 0.0
        self._discount[ready] = 1.0
        if done:
            term = bool(step.terminated[0])
            trunc = bool(step.truncated[0]) and not term
            terminateds = {**{a: term for a in self.possible_agents}, "__all__": term}
            truncateds = {**{a: trunc for a in self.possible_agents}, "__all__": trunc}
            self._needs_reset = True
            self.agents = []
        else:
            terminateds, truncateds = {"__all__": False}, {"__all__": False}
        return obs, rewards, terminateds, truncateds, infos

    def render(self):
        if self.render_mode == "ansi":
            return self.core.render_ansi(0)
        if self.render_mode == "rgb_array":
            return self.core.render_rgb(0)
        return None

    # ------------------------------------------------------------------ helpers
    def _actions(self, action_dict: Mapping[str, Any]) -> np.ndarray:
        """[1, n] int64 for the core; every choosing agent's action checked against its mask first."""
        core, last = self.core, self.core.last
        unknown = sorted(set(action_dict) - set(self.possible_agents))
        if unknown:
            raise ValueError(f"{core.name}: unknown agents {unknown}; agents are {self.possible_agents}")
        out = np.zeros((1, core.n_agents), np.int64)
        for i, a in enumerate(self.possible_agents):
            allowed = np.flatnonzero(last.action_mask[0, i]).tolist()
            if not last.choosing[0, i]:
                if a in action_dict:
                    raise ValueError(f"{core.name}: {a} is inside its action and was not asked to choose; "
                                     f"send actions only for agents in the last observation dict")
                continue
            if a not in action_dict:
                raise ValueError(f"{core.name}: missing action for {a}, which must choose; allowed: {allowed}")
            v = action_dict[a]
            if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
                v = v.reshape(()).item() if np.issubdtype(v.dtype, np.integer) else v
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{core.name}: action for {a} must be an int, got {v!r} ({type(v).__name__})")
            if int(v) not in allowed:
                raise ValueError(f"{core.name}: action {int(v)} is masked for {a}; allowed: {allowed}")
            out[0, i] = int(v)
        return out

    def _obs(self, step: Step, who: np.ndarray) -> dict:
        masks = step.action_mask[0].astype(np.float32)  # [n, A]
        out = {}
        for i, a in enumerate(self.possible_agents):
            if who[i]:
                o = {"observations": step.obs[0, i].copy(), "action_mask": masks[i]}
                if self.config.global_state:
                    o["state"] = step.state[0].copy()
                out[a] = o
        return out

    def _infos(self, step: Step, who: np.ndarray) -> dict:
        out = {}
        for i, a in enumerate(self.possible_agents):
            if who[i]:
                info = {"macro_action": int(step.macro_action[0, i]), "elapsed": int(step.elapsed[0, i])}
                if step.done[0]:  # the episode's undiscounted team return and length, and scenario metrics
                    info.update({"team_return": self._return, "length": int(step.t[0])})
                    info.update({k: float(v[0]) for k, v in step.extras.items()})
                out[a] = info
        return out
