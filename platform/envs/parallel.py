"""PettingZoo ``ParallelEnv`` view of a batched core at ``B = 1``.

Observations: ``observations[agent]`` is the agent's **macro-observation** (frozen until its action ends, as
the reference implementations give it). ``infos[agent]`` carries, every step:

* ``macro_obs`` (the frozen macro-observation: the very array ``observations[agent]`` is) and ``real_obs`` (the
  real observation of this step);
* ``macro_done`` (its action ended at this step: it chooses at the next step), ``macro_action`` (the index it
  executed), ``elapsed`` (steps of that action run before this step), ``action_mask`` (what it may choose, as
  PettingZoo expects it: ``np.int8`` 0/1, so ``env.action_space(a).sample(infos[a]["action_mask"])`` works;
  read-only, and shared between steps while it does not change);
* at episode end, the scenario's metrics (``success``, ``catch_rate``, ...) when the scenario reports them.

With ``dict_obs=True`` observations take PettingZoo's common masked form ``{"observation": macro-observation,
"action_mask": int8 mask}`` (the classic games' layout, which masking wrappers and libraries look for).
Agents inside an action may omit theirs (or send anything); a choosing agent must send a valid one.
The batched core keeps ``bool`` masks: rollout workers and replay index with them.

Speed: a step costs what the core's single-copy step costs plus a few microseconds here (one array operation
per field for all agents, Python lists from the core where it keeps them); ``benchmarks/env_throughput.py``
measures it side by side with the reference implementations.
"""
from __future__ import annotations

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from asyncmarl.platform.envs.base import BatchedEnv, Step

# numpy integer types accepted on the fast path (converted to int); anything else takes the checked path
_NUMPY_INTS = frozenset({np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8})


class AgentActionSpace(gymnasium.spaces.Discrete):
    """``Discrete(n_actions)`` whose ``sample()`` draws among the actions the agent may choose right now."""

    def __init__(self, n: int, mask_fn, seed=None):
        super().__init__(n, seed=seed)
        self._mask_fn = mask_fn

    def sample(self, mask=None, probability=None):
        if mask is None and probability is None:
            mask = self._mask_fn().astype(np.int8)
            if not mask.any():  # nothing to choose (busy agent): any index is ignored
                mask = None
        return super().sample(mask=mask, probability=probability)


class AsyncParallelEnv(ParallelEnv):
    """A PettingZoo parallel environment over one copy of a :class:`BatchedEnv`."""

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "name": "asyncmarl", "is_parallelizable": True}

    def __init__(self, core: BatchedEnv, render_mode: str | None = None, dict_obs: bool = False):
        if core.batch_size != 1:
            raise ValueError(f"AsyncParallelEnv wraps a core with batch_size 1, got {core.batch_size}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        if not isinstance(dict_obs, (bool, np.bool_)):
            raise ValueError(f"dict_obs must be True or False, got {dict_obs!r}")
        self.core = core
        self.render_mode = render_mode
        self.dict_obs = bool(dict_obs)
        self.metadata = {**self.metadata, "name": core.name}
        self.possible_agents = list(core.agents)
        self._n = len(self.possible_agents)
        self._indexed = list(enumerate(self.possible_agents))
        self._false = dict.fromkeys(self.possible_agents, False)  # copied for the flags of a step that goes on
        self._mask_src, self._mask_rows = None, None  # a read-only core mask array and its int8 rows (see _masks)
        self.agents: list[str] = []
        obs_space = gymnasium.spaces.Box(-np.inf, np.inf, (core.obs_dim,), np.float32)
        if self.dict_obs:
            mask_space = gymnasium.spaces.Box(0, 1, (core.n_actions,), np.int8)
            obs_space = gymnasium.spaces.Dict({"observation": obs_space, "action_mask": mask_space})
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {
            a: AgentActionSpace(core.n_actions, self._mask_getter(i)) for i, a in enumerate(self.possible_agents)
        }
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, (core.state_dim,), np.float32)

    def _mask_getter(self, i: int):
        def mask() -> np.ndarray:
            if self.core._last is None:
                return np.ones(self.core.n_actions, bool)
            last = self.core.last
            return last.action_mask[0, i] if last.choosing[0, i] else np.zeros(self.core.n_actions, bool)

        return mask

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            for i, a in enumerate(self.possible_agents):
                self._act_spaces[a].seed(int(seed) + i)
        step = self.core.reset(seed=seed)
        self.agents = list(self.possible_agents)
        return self._outputs(step, False)

    def step(self, actions: dict):
        agents = self.agents
        if not agents:
            raise RuntimeError(f"{self.core.name}: the episode is over; call reset()")
        row = self._fast_row(actions)
        step = self.core.step_row(row) if row is not None else self.core.step(self._checked_actions(actions))
        term, trunc = bool(step.terminated[0]), bool(step.truncated[0])
        obs, infos = self._outputs(step, term or trunc)
        rewards = dict.fromkeys(agents, step.reward.item())
        if term or trunc:
            self.agents = []
            return obs, rewards, dict.fromkeys(agents, term), dict.fromkeys(agents, not term), infos
        return obs, rewards, self._false.copy(), self._false.copy(), infos  # agents == possible_agents here

    def _fast_row(self, actions) -> list[int] | None:
        """Every agent's action as a Python int when all are present and plain ints (or numpy integers) in range,
        else None (the checked path then builds the array and the detailed error)."""
        if type(actions) is not dict or len(actions) != self._n:
            return None
        try:
            row = list(map(actions.__getitem__, self.possible_agents))
        except KeyError:
            return None
        n_actions = self.core.n_actions
        for v in row:
            if type(v) is not int or not 0 <= v < n_actions:
                break
        else:
            return row
        if not all(type(v) in _NUMPY_INTS or type(v) is int for v in row):
            return None
        row = [int(v) for v in row]
        return row if min(row) >= 0 and max(row) < n_actions else None

    def _checked_actions(self, actions: dict) -> np.ndarray:
        """[1, n] int64 actions with every check of the dictionary (unknown, missing, non-integer, out of range)."""
        unknown = sorted(set(actions) - set(self.possible_agents))
        if unknown:
            raise ValueError(f"{self.core.name}: unknown agents {unknown}; agents are {self.possible_agents}")
        last = self.core.last
        arr = np.zeros((1, self.core.n_agents), np.int64)
        for i, a in enumerate(self.possible_agents):
            if a in actions:
                v = actions[a]
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) and not (
                    isinstance(v, np.ndarray) and v.shape == () and np.issubdtype(v.dtype, np.integer)
                ):
                    raise ValueError(
                        f"{self.core.name}: action for {a} must be an int in 0..{self.core.n_actions - 1}, "
                        f"got {v!r} ({type(v).__name__})"
                    )
                iv = int(v)
                if last.choosing[0, i] and not 0 <= iv < self.core.n_actions:  # before int64 could overflow
                    raise ValueError(f"{self.core.name}: action {iv} for {a} is out of range; valid actions are "
                                     f"0..{self.core.n_actions - 1}")
                arr[0, i] = iv if -2**63 <= iv < 2**63 else 0  # a busy agent's action is ignored whatever it is
            elif last.choosing[0, i]:
                allowed = np.flatnonzero(last.action_mask[0, i]).tolist()
                raise ValueError(f"{self.core.name}: missing action for {a}, which must choose; allowed: {allowed}")
        return arr

    def state(self) -> np.ndarray:
        return self.core.last.state[0].copy()

    def render(self):
        if self.render_mode == "human":  # a terminal is what every scenario can draw on: print the text frame
            print(self.core.render_ansi(0), flush=True)
            return None
        if self.render_mode == "ansi":
            return self.core.render_ansi(0)
        if self.render_mode == "rgb_array":
            return self.core.render_rgb(0)
        return None

    def close(self):
        pass

    # ------------------------------------------------------------------ helpers
    # One array operation per field for all agents, then per-agent rows: at B = 1 the per-call cost of numpy,
    # not the data, is what a step pays. Observations are fresh copies the core never sees again (the
    # observation and infos["macro_obs"] are one array: the same values by definition); masks are read-only,
    # so the int8 rows of a core's unchanging (read-only) mask array are made once and shared.
    def _masks(self, step: Step) -> list[np.ndarray]:
        src = step.action_mask
        if src is self._mask_src:
            return self._mask_rows
        m = src[0].astype(np.int8)
        m.flags.writeable = False
        rows = [m[i] for i in range(self._n)]
        if not src.flags.writeable:  # the core will not change it in place: same object, same masks
            self._mask_src, self._mask_rows = src, rows
        return rows

    def _outputs(self, step: Step, over: bool) -> tuple[dict, dict[str, dict]]:
        """(observations, infos) of ``step``; ``over``: the episode ended (infos get the scenario's metrics)."""
        o, r = step.obs[0].copy(), step.real_obs[0].copy()
        choosing, macro_action, elapsed = step.agent_lists()
        masks = self._masks(step)
        obs, infos = {}, {}
        dict_obs = self.dict_obs
        for i, a in self._indexed:
            oi, k = o[i], masks[i]
            obs[a] = {"observation": oi, "action_mask": k} if dict_obs else oi
            infos[a] = {"macro_done": choosing[i], "macro_action": macro_action[i], "elapsed": elapsed[i],
                        "action_mask": k, "macro_obs": oi, "real_obs": r[i]}
        if over and step.extras:
            metrics = {k: float(v[0]) for k, v in step.extras.items()}
            for info in infos.values():
                info.update(metrics)
        return obs, infos
