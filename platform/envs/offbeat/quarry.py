"""Quarry with off-beat strikes (LeGEM paper, Sec. 6), registered as ``quarry``.

The paper names the game but its rules are in a non-public appendix; these are **our design**:

* Miners with different tools: a strike takes ``strike_durations[i]`` steps for miner ``i`` (default 2, 4, 6:
  three miners). Rocks of hardness ``hardness`` (default 1, 2, 3: K = 3 rocks).
* Actions: 0 wait (duration 0), ``k + 1`` strike rock ``k``. Nothing is masked: striking a broken rock is
  allowed and wasted, because an agent committing a strike cannot know whether the rock will still be intact
  when the strike lands (a teammate's strike may land first), and learning that is part of the game.
* A rock breaks when at least its hardness in strikes complete on it **in the same step**: reward
  ``reward_per_hardness`` x hardness (default 5 x hardness), paid in that step. Strikes that complete out of
  step (too few in one step, or on a broken rock) are wasted. Why: the hardest rock needs all three tools,
  whose durations differ, to be committed at staggered times, the off-beat coordination the paper studies.
* The episode terminates when every rock is broken, and at the horizon 40 (``terminal_horizon``, default):
  every observation and the state hold t / T, so the horizon is part of the game's state and its last step
  is terminal, not a time-limit cut (Pardo et al. 2018). A learner bootstraps a truncated step from the value
  of a state after the horizon, which no TD row ever trains; the value estimates then drift upwards.
* Observation (K + 2 values per miner): own tool busy flag, each rock intact (1) or broken (0) (no
  progress: strikes leave no trace), t / T.
* Global state (n (K + 2) + K + 1): per miner busy, remaining steps of its strike / T, one-hot target rock;
  rocks intact; t / T.
* ``success`` in ``Step.extras``: 1.0 when every rock is broken.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.offbeat import render
from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings, check_int_tuple
from asyncmarl.platform.envs.registry import register


@dataclass(frozen=True)
class QuarrySettings(OffbeatSettings):
    """Quarry settings (our design from the paper's description)."""

    horizon: int = 40  # episode limit in steps
    strike_durations: tuple = (2, 4, 6)  # per miner, the duration of a strike (one miner per entry)
    hardness: tuple = (1, 2, 3)  # per rock, strikes that must land on it in one step to break it
    reward_per_hardness: float = 5.0  # a broken rock pays this times its hardness
    terminal_horizon: bool = True  # the horizon ends the game (terminated: t is observed); false: truncated

    def __post_init__(self):
        super().__post_init__()
        check_int_tuple("strike_durations", self.strike_durations, 0)
        check_int_tuple("hardness", self.hardness, 1)
        if self.terminal_horizon not in (True, False):
            raise ValueError(f"terminal_horizon must be true or false, got {self.terminal_horizon!r}")


class Quarry(OffbeatEnv):
    """Batched Quarry core (see the module docstring for the rules)."""

    _game_keys = ("intact",)

    def __init__(self, batch_size: int, settings: QuarrySettings):
        self.name = "quarry"
        self.n_agents = len(settings.strike_durations)
        self.n_rocks = len(settings.hardness)
        self.n_actions = 1 + self.n_rocks
        self.obs_dim = self.n_rocks + 2
        self.state_dim = self.n_agents * (self.n_rocks + 2) + self.n_rocks + 1
        self.action_names = (("wait",) + tuple(f"strike rock {k}" for k in range(self.n_rocks)),) * self.n_agents
        self._hardness = np.asarray(settings.hardness, np.int64)  # [K]
        super().__init__(batch_size, settings)

    def _default_durations(self) -> np.ndarray:
        strike = np.asarray(self.settings.strike_durations, np.int64)[:, None]  # [n, 1]
        return np.concatenate([np.zeros_like(strike), np.repeat(strike, self.n_rocks, 1)], axis=1)  # [n, 1+K]

    def _alloc_game(self) -> None:
        self.intact = np.ones((self.batch_size, self.n_rocks), bool)  # [B, K]

    def _reset_game(self, where: np.ndarray) -> None:
        self.intact[where] = True

    def _land(self, action: np.ndarray, lands: np.ndarray):
        strikes = lands & (action > 0)  # [B, n] strikes completing this step
        on_rock = strikes[..., None] & (action[..., None] - 1 == np.arange(self.n_rocks))  # [B, n, K]
        count = on_rock.sum(1)  # [B, K]
        breaks = self.intact & (count >= self._hardness)  # [B, K]
        self.intact = self.intact & ~breaks
        reward = (breaks * self._hardness).sum(1) * np.float32(self.settings.reward_per_hardness)
        return reward, ~self.intact.any(1) | self._horizon_ends()

    def _horizon_ends(self) -> np.ndarray:
        """[B] this step is the last one and the horizon ends the game (``terminal_horizon``)."""
        return (self.t + 1 >= self.horizon) & bool(self.settings.terminal_horizon)

    def _real_obs(self) -> np.ndarray:
        B, n, K = self.batch_size, self.n_agents, self.n_rocks
        obs = np.empty((B, n, K + 2), np.float32)
        obs[..., 0] = ~self.choosing
        obs[..., 1:K + 1] = self.intact[:, None, :]
        obs[..., K + 1] = self._time_feature()[:, None]
        return obs

    def _global_state(self) -> np.ndarray:
        B, n, K = self.batch_size, self.n_agents, self.n_rocks
        busy = ~self.choosing
        per = np.zeros((B, n, K + 2), np.float32)
        per[..., 0] = busy
        per[..., 1] = self.remaining() / self.horizon
        per[..., 2:] = busy[..., None] & (self.action[..., None] - 1 == np.arange(K))
        return np.concatenate([per.reshape(B, n * (K + 2)), self.intact, self._time_feature()[:, None]], axis=1)

    def _action_mask(self) -> np.ndarray:
        return np.ones((self.batch_size, self.n_agents, self.n_actions), bool)  # nothing is ever masked

    def _extras(self) -> dict[str, np.ndarray]:
        return {"success": (~self.intact.any(1)).astype(np.float32)}

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, index: int = 0) -> str:
        b = index
        rocks = "  ".join(
            f"rock{k}(h{int(h)}):{'intact' if self.intact[b, k] else 'broken'}" for k, h in enumerate(self._hardness)
        )
        lines = [f"quarry  t={int(self.t[b])}/{self.horizon}  reward: {float(self.reward[b]):g}", f"  {rocks}"]
        for i in range(self.n_agents):
            if self.choosing[b, i]:
                desc = "idle (chooses next step)"
            else:
                e, m = int(self.elapsed[b, i]), int(self.duration[b, i])
                desc = f"striking rock {int(self.action[b, i]) - 1}, {e}/{m}"
            lines.append(f"  agent_{i}: {desc}")
        return "\n".join(lines)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        return render.quarry(self, index)


register(
    "quarry",
    Quarry,
    QuarrySettings,
    preset={},
    family="offbeat",
    description="Three miners with strike durations 2, 4, 6 break rocks of hardness 1-3 by synchronised strikes.",
)
