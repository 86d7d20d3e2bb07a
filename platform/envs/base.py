"""The batched asynchronous environment contract every scenario implements.

Both families of asynchrony reduce to one shape: at every timestep each agent is either *choosing* (its
action ended at the previous step, or the episode just began) or *busy* inside a temporally extended action
(a macro-action, or an off-beat action whose effect has not landed yet) with an ``elapsed`` counter.

A :class:`BatchedEnv` steps ``B`` independent copies of one scenario with numpy arrays. The PettingZoo view
(:mod:`asyncmarl.platform.envs.parallel`) is a thin wrapper at ``B = 1``.

Conventions shared by all scenarios (tests rely on them):

* ``reset`` and ``step`` return a :class:`Step`. ``Step.choosing[b, i]`` says whether agent ``i`` must pick a
  new action at the *next* ``step`` call (``macro_done`` of this step; all ``True`` after reset).
* ``Step.macro_action[b, i]`` is the action agent ``i`` executed during the step just taken and
  ``Step.elapsed[b, i]`` how many steps of it had already run before this step (0 on its first step).
  After ``reset`` both are 0 and meaningless.
* ``Step.obs`` is the *macro-observation*: frozen for an agent until its action ends, as the reference
  implementations give it. ``Step.real_obs`` is the real observation of this step (what Mac-SJERT stores).
  At decision points the two are equal.
* ``Step.reward`` is the joint team reward of the step. ``terminated`` is task completion, ``truncated`` the
  horizon. After either, that copy must be reset (``reset(where=...)``) before it is stepped again.
* Actions of busy agents are ignored (any integer may be sent). Choosing agents must send an index in
  ``[0, n_actions)`` that their ``action_mask`` allows; anything else raises ``ValueError`` naming the agent,
  the copy and the allowed range, and leaves every copy's state unchanged.
"""
from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Step:
    """One batched timestep. Leading axis ``B`` (copies), then ``n`` (agents) where per-agent."""

    obs: np.ndarray  # [B, n, obs_dim] float32, macro-observation (frozen while busy)
    real_obs: np.ndarray  # [B, n, obs_dim] float32, the real observation of this step
    state: np.ndarray  # [B, state_dim] float32, global state
    reward: np.ndarray  # [B] float32, joint reward of the step just taken (0 after reset)
    terminated: np.ndarray  # [B] bool, task finished
    truncated: np.ndarray  # [B] bool, horizon reached
    choosing: np.ndarray  # [B, n] bool, agent chooses at the next step (macro_done)
    macro_action: np.ndarray  # [B, n] int64, action executed during the step just taken
    elapsed: np.ndarray  # [B, n] int64, steps of that action run before this step
    action_mask: np.ndarray  # [B, n, n_actions] bool, actions a choosing agent may pick
    t: np.ndarray  # [B] int64, timestep counter after this step (0 after reset)
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # per-copy metrics, e.g. success [B]

    @property
    def done(self) -> np.ndarray:
        """[B] bool: the copy's episode is over (terminated or truncated)."""
        return self.terminated | self.truncated

    # ------------------------------------------------------------------ single-copy steppers
    # At B = 1 each numpy array costs about a microsecond to build, as much as a plain-Python stepper's whole
    # rule update; a PettingZoo user reads neither the state nor the per-agent arrays (the view reads Python
    # lists), so single-copy steppers may leave those fields to be built when first read.
    @classmethod
    def lazy(cls, fill: Callable[[], dict], lists: tuple[list, list, list] | None, obs: np.ndarray,
             real_obs: np.ndarray, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
             action_mask: np.ndarray, extras: dict[str, np.ndarray]) -> Step:
        """A Step with the given fields set now and the others (``LAZY_FIELDS``: state, choosing, macro_action,
        elapsed, t) built by ``fill()`` (a dict of them) when first read. ``fill`` must only use values captured
        when the step was taken. ``lists``: copy 0's (choosing, macro_action, elapsed) as Python lists, for
        :meth:`agent_lists` (or None)."""
        step = cls.__new__(cls)
        step.__dict__.update(obs=obs, real_obs=real_obs, reward=reward, terminated=terminated, truncated=truncated,
                             action_mask=action_mask, extras=extras, _fill=fill)
        if lists is not None:
            step.__dict__["_lists"] = lists
        return step

    def __getattr__(self, name: str):  # reached only for attributes not set: a lazy Step's missing fields
        fill = self.__dict__.get("_fill")
        if fill is None or name not in LAZY_FIELDS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        del self.__dict__["_fill"]
        self.__dict__.update(fill())
        return self.__dict__[name]

    def __getstate__(self) -> dict:  # pickling and copying see a complete Step
        if "_fill" in self.__dict__:
            self.state  # noqa: B018 - builds every lazy field
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def agent_lists(self) -> tuple[list, list, list]:
        """Copy 0's (choosing, macro_action, elapsed) as Python lists (bool, int, int), without building arrays
        when a single-copy stepper kept them."""
        lists = self.__dict__.get("_lists")
        if lists is not None:
            return lists
        return self.choosing[0].tolist(), self.macro_action[0].tolist(), self.elapsed[0].tolist()


LAZY_FIELDS = frozenset({"state", "choosing", "macro_action", "elapsed", "t"})  # fields Step.lazy may defer


class BatchedEnv(abc.ABC):
    """``B`` copies of one scenario stepped together with numpy arrays.

    Subclasses set the class-level shape attributes in ``__init__`` and implement ``_reset``, ``_step``,
    ``render_rgb`` and ``render_ansi``. Validation of actions happens here, before any state changes.
    """

    name: str  # registered scenario name
    n_agents: int
    n_actions: int  # size of the (shared, padded) action space; per-agent masks restrict it
    obs_dim: int
    state_dim: int
    horizon: int  # episode limit in timesteps (truncation)
    action_names: tuple[tuple[str, ...], ...]  # per agent, per action index, a readable name

    def __init__(self, batch_size: int):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self._last: Step | None = None

    # ----------------------------------------------------------------- public API
    @property
    def agents(self) -> list[str]:
        return [f"agent_{i}" for i in range(self.n_agents)]

    def reset(self, seed: int | np.ndarray | list[int] | None = None, where: np.ndarray | None = None) -> Step:
        """Reset all copies, or only those where ``where[b]`` is True; returns the full batch's Step.

        ``seed`` is one int (copy ``b`` gets ``seed + b``) or one seed per copy (``[B]``); copies that are reset
        with the same seed behave identically whatever the batch size.
        """
        where_arr = np.ones(self.batch_size, bool) if where is None else np.asarray(where, bool)
        if where_arr.shape != (self.batch_size,):
            raise ValueError(f"where must have shape ({self.batch_size},), got {where_arr.shape}")
        if seed is None:
            seeds = np.random.SeedSequence().generate_state(self.batch_size).astype(np.int64)
        elif np.ndim(seed) == 0:
            seeds = int(seed) + np.arange(self.batch_size, dtype=np.int64)
        else:
            seeds = np.asarray(seed, np.int64)
            if seeds.shape != (self.batch_size,):
                raise ValueError(f"seed must be an int or have shape ({self.batch_size},), got {seeds.shape}")
        self._last = self._reset(where_arr, seeds)
        return self._last

    def step(self, actions: np.ndarray) -> Step:
        """Advance every copy one timestep. ``actions``: [B, n] integer indices (busy agents' are ignored)."""
        if self._last is None:
            raise RuntimeError(f"{self.name}: call reset() before step()")
        actions = self.validate_actions(actions)
        self._last = self._step(actions)
        return self._last

    def step_row(self, row: list[int]) -> Step:
        """``B = 1`` only: :meth:`step` with one Python int per agent (the PettingZoo view's path). Same checks,
        errors and result as ``step(np.array([row]))``; cores with a plain-Python single-copy stepper override it
        to skip building and reading back the action array."""
        return self.step(np.array([row], np.int64))

    @property
    def last(self) -> Step:
        """The most recent Step (after reset or step)."""
        if self._last is None:
            raise RuntimeError(f"{self.name}: call reset() first")
        return self._last

    def validate_actions(self, actions) -> np.ndarray:
        """Check types, shape, range and masks of the choosing agents' actions; return them as int64."""
        arr = np.asarray(actions)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{self.name}: actions must be integers, got dtype {arr.dtype}")
        if arr.shape != (self.batch_size, self.n_agents):
            raise ValueError(
                f"{self.name}: actions must have shape (batch_size, n_agents) = "
                f"({self.batch_size}, {self.n_agents}), got {arr.shape}"
            )
        last = self.last
        if np.any(last.done):
            b = int(np.flatnonzero(last.done)[0])
            raise ValueError(f"{self.name}: copy {b} finished its episode; reset(where=...) it before stepping")
        choosing = last.choosing
        in_range = (arr >= 0) & (arr < self.n_actions)  # in the given dtype: a uint64 2**63 must not wrap first
        bad = choosing & ~in_range
        if bad.any():
            b, i = map(int, np.argwhere(bad)[0])
            raise ValueError(
                f"{self.name}: action {int(arr[b, i])} for agent_{i} (copy {b}) is out of range; "
                f"valid actions are 0..{self.n_actions - 1}"
            )
        # busy agents' actions are ignored; any beyond int64 (uint64 input) become 0 rather than wrap
        arr = (np.where(in_range, arr, 0) if arr.dtype == np.uint64 else arr).astype(np.int64)
        safe = np.where(in_range, arr, 0)
        allowed = np.take_along_axis(last.action_mask, safe[..., None], axis=-1)[..., 0]
        bad = choosing & ~allowed
        if bad.any():
            b, i = map(int, np.argwhere(bad)[0])
            valid = np.flatnonzero(last.action_mask[b, i]).tolist()
            raise ValueError(
                f"{self.name}: action {int(arr[b, i])} is masked for agent_{i} (copy {b}); allowed: {valid}"
            )
        return arr

    # ----------------------------------------------------------------- to implement
    @abc.abstractmethod
    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        """Reset copies where ``where`` is True (seeded by ``seeds[b]``); return the whole batch's Step."""

    @abc.abstractmethod
    def _step(self, actions: np.ndarray) -> Step:
        """Advance all copies with validated ``actions`` [B, n] int64; return the Step."""

    @abc.abstractmethod
    def render_rgb(self, index: int = 0) -> np.ndarray:
        """An [H, W, 3] uint8 image of copy ``index`` a person can read."""

    @abc.abstractmethod
    def render_ansi(self, index: int = 0) -> str:
        """A text frame of copy ``index``."""


@dataclass(frozen=True)
class EnvInfo:
    """The dimensions learners and networks are built from (plain data, cheap to ship to Ray actors)."""

    name: str
    n_agents: int
    n_actions: int
    obs_dim: int
    state_dim: int
    horizon: int
    family: str = "macro"  # "macro" (macro-actions) or "offbeat" (off-beat actions; action 0 is the no-op)

    @classmethod
    def from_env(cls, env: BatchedEnv, family: str = "macro") -> EnvInfo:
        return cls(env.name, env.n_agents, env.n_actions, env.obs_dim, env.state_dim, env.horizon, family)
