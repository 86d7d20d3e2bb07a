"""The batched core shared by the off-beat games: per-agent action timing and displaced-effect bookkeeping.

A game subclasses :class:`OffbeatEnv` and supplies only its rules: what happens when actions are committed
(``_commit``) and when they complete (``_land``), its observations, state, masks, metrics and rendering.
This class owns the timing (see :mod:`.durations` for the exact convention), so the three games agree on when
an effect and its reward land.

Every per-copy array has leading axis ``B``; a step is a handful of array operations over all copies and agents.
``snapshot``/``load`` expose the full per-copy state so a search (``benchmarks/offbeat_optimum.py``) can
step arbitrary sets of states with the same core.
"""
from __future__ import annotations

import abc

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv, Step
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings, draw_durations, duration_table

# The timing arrays every off-beat core holds (each game adds its own names in `_game_keys`).
TIMING_KEYS = ("t", "action", "elapsed", "duration", "choosing", "seed", "reward", "terminated", "truncated",
               "macro_obs")


class OffbeatEnv(BatchedEnv):
    """``B`` copies of an off-beat game: actions with per-agent, per-action durations and displaced effects.

    Subclasses set ``name``, ``n_agents``, ``n_actions``, ``obs_dim``, ``state_dim``, ``action_names`` and
    ``_game_keys`` before calling ``super().__init__``. Action 0 is always the no-op (wait).
    """

    _game_keys: tuple[str, ...] = ()

    def __init__(self, batch_size: int, settings: OffbeatSettings):
        super().__init__(batch_size)
        self.settings = settings
        self.horizon = int(settings.horizon)
        self.durations, self._duration_cdf = duration_table(settings, self._default_durations(), self.name)
        B, n = self.batch_size, self.n_agents
        self.t = np.zeros(B, np.int64)  # [B] steps taken in the episode
        self.action = np.zeros((B, n), np.int64)  # [B, n] action in execution (or last executed)
        self.elapsed = np.zeros((B, n), np.int64)  # [B, n] steps of it run before the last step
        self.duration = np.zeros((B, n), np.int64)  # [B, n] its drawn duration m (lands when elapsed == m)
        self.choosing = np.ones((B, n), bool)  # [B, n] commits a new action at the next step
        self.seed = np.zeros(B, np.uint64)  # [B] the copy's reset seed (drives random durations)
        self.reward = np.zeros(B, np.float32)  # [B] reward of the last step
        self.terminated = np.zeros(B, bool)  # [B]
        self.truncated = np.zeros(B, bool)  # [B]
        self.macro_obs = np.zeros((B, n, self.obs_dim), np.float32)  # [B, n, obs_dim] frozen while busy
        self._alloc_game()

    # ------------------------------------------------------------------ what a game implements
    @abc.abstractmethod
    def _default_durations(self) -> np.ndarray:
        """[n_agents, n_actions] int durations from the game's compact settings."""

    @abc.abstractmethod
    def _alloc_game(self) -> None:
        """Allocate the game's per-copy arrays (names listed in ``_game_keys``)."""

    @abc.abstractmethod
    def _reset_game(self, where: np.ndarray) -> None:
        """Put the game arrays of copies ``where`` [B] in their initial state."""

    def _commit(self, commit: np.ndarray, action: np.ndarray) -> None:
        """Actions ``action`` [B, n] start where ``commit`` [B, n] (before any lands this step)."""

    @abc.abstractmethod
    def _land(self, action: np.ndarray, lands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the effects of the actions completing this step (``lands`` [B, n]) and the game's own dynamics.

        Returns (reward [B] float, terminated [B] bool)."""

    @abc.abstractmethod
    def _real_obs(self) -> np.ndarray:
        """[B, n, obs_dim] float32 observations of the current state (after the last step)."""

    @abc.abstractmethod
    def _global_state(self) -> np.ndarray:
        """[B, state_dim] float32."""

    @abc.abstractmethod
    def _action_mask(self) -> np.ndarray:
        """[B, n, n_actions] bool: what each agent may commit when it next chooses."""

    @abc.abstractmethod
    def _extras(self) -> dict[str, np.ndarray]:
        """The game's success metric(s), [B] float32 each (read at episode end)."""

    # ------------------------------------------------------------------ the shared machinery
    def remaining(self) -> np.ndarray:
        """[B, n] steps until each agent's running action lands (0 for choosing agents)."""
        return np.where(self.choosing, 0, self.duration - self.elapsed)

    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        self.seed[where] = seeds[where].astype(np.uint64)
        self.t[where] = 0
        for arr in (self.action, self.elapsed, self.duration):
            arr[where] = 0
        self.choosing[where] = True
        self.reward[where] = 0.0
        self.terminated[where] = False
        self.truncated[where] = False
        self._reset_game(where)
        return self._make_step()

    def _step(self, actions: np.ndarray) -> Step:
        commit = self.choosing  # [B, n] agents that start a new action this step
        action = np.where(commit, actions, self.action)  # [B, n]
        drawn = draw_durations(self.durations, self._duration_cdf, action, self.seed, self.t)  # [B, n]
        self.duration = np.where(commit, drawn, self.duration)
        self.elapsed = np.where(commit, 0, self.elapsed + 1)
        self.action = action
        lands = self.elapsed >= self.duration  # [B, n] the action completes in this step
        self._commit(commit, action)
        reward, terminated = self._land(action, lands)
        self.t = self.t + 1
        self.choosing = lands
        self.reward = np.asarray(reward, np.float32)
        self.terminated = np.asarray(terminated, bool)
        self.truncated = (self.t >= self.horizon) & ~self.terminated
        return self._make_step()

    def _make_step(self) -> Step:
        real = self._real_obs()  # [B, n, obs_dim]
        self.macro_obs = np.where(self.choosing[..., None], real, self.macro_obs)
        return Step(
            obs=self.macro_obs.copy(),
            real_obs=real,
            state=self._global_state(),
            reward=self.reward.copy(),
            terminated=self.terminated.copy(),
            truncated=self.truncated.copy(),
            choosing=self.choosing.copy(),
            macro_action=self.action.copy(),
            elapsed=self.elapsed.copy(),
            action_mask=self._action_mask(),
            t=self.t.copy(),
            extras=self._extras(),
        )

    # ------------------------------------------------------------------ search support
    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of every per-copy array (timing and game), each with leading axis ``B``."""
        return {k: getattr(self, k).copy() for k in TIMING_KEYS + self._game_keys}

    def load(self, snap: dict[str, np.ndarray]) -> Step:
        """Replace the state of all copies by ``snap`` (a snapshot, or rows gathered from several); returns its Step."""
        keys = set(TIMING_KEYS + self._game_keys)
        if set(snap) != keys:
            raise ValueError(f"{self.name}: snapshot keys must be {sorted(keys)}, got {sorted(snap)}")
        for k, v in snap.items():
            cur = getattr(self, k)
            if v.shape != cur.shape:
                raise ValueError(f"{self.name}: snapshot[{k!r}] must have shape {cur.shape}, got {v.shape}")
            setattr(self, k, np.array(v, dtype=cur.dtype))
        self._last = self._make_step()
        return self._last

    # ------------------------------------------------------------------ helpers for games
    def _time_feature(self) -> np.ndarray:
        """[B] normalised time t / T."""
        return (self.t / self.horizon).astype(np.float32)
