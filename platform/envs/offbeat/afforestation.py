"""Afforestation with off-beat planting and watering (LeGEM paper, Sec. 6), registered as ``afforestation``.

The paper names the game but its rules are in a non-public appendix; these are **our design**:

* A row of ``n_plots`` plots (default 6), ``n_planters`` planters (default 2; agents 0..) and ``n_waterers``
  waterers (default 1; the last agents). Planting takes ``plant_duration`` (3), watering ``water_duration`` (2).
* Actions: 0 wait (duration 0), ``1 + p`` plant plot ``p``, ``1 + P + p`` water plot ``p``. Planters may only
  wait or plant, waterers only wait or water (the rest is masked). Acting on a plot in the wrong state is
  allowed and wasted (the agent cannot know the plot's state when its action lands).
* Plot states: empty, sapling, watered, mature, dead. Within a step, in this order (all our design):
  1. every plot's age (steps since its state last changed) grows by 1;
  2. a sapling older than ``water_window`` (4) dies: it had to be watered within 4 steps after planting completed;
  3. plantings that land on an empty plot make a sapling (age 0); others are wasted;
  4. waterings that land on a sapling make it watered (age 0); others are wasted. Because planting lands
     first, a watering landing in the same step as the planting counts (window 0..4 steps);
  5. a watered sapling ``mature_time`` (6) steps after its watering landed becomes mature and pays
     ``mature_reward`` (+1) in that step: the reward is displaced from the decisive plant and water actions.
  Dead is final (no replanting). Why: a missed watering must cost something the horizon cannot undo, so the
  waterer's timing matters; with replanting the horizon of 50 would let the team retry every plot.
* The episode terminates when every plot is mature or dead, and at the horizon 50 (``terminal_horizon``,
  default; as in Quarry: t / T is observed, so the last step is terminal, not a time-limit cut).
* Observation (6 P + 2 per agent, position-free): per plot one-hot over empty, sapling aged
  0..``water_window // 2``, sapling older (wilting), watered, mature, dead; own busy flag; t / T.
* Global state (6 P + n (5 + P) + 1): per plot one-hot state (5) and age / T; per agent busy, remaining steps
  / T, one-hot kind of its running action (wait, plant, water), one-hot target plot; t / T.
* ``success`` in ``Step.extras``: the fraction of plots mature.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.offbeat import render
from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings, check_int
from asyncmarl.platform.envs.registry import register

EMPTY, SAPLING, WATERED, MATURE, DEAD = range(5)  # plot states


@dataclass(frozen=True)
class AfforestationSettings(OffbeatSettings):
    """Afforestation settings (our design from the paper's description)."""

    horizon: int = 50  # episode limit in steps
    n_plots: int = 6  # plots in the row
    n_planters: int = 2  # agents that plant (the first agents)
    n_waterers: int = 1  # agents that water (the last agents)
    plant_duration: int = 3  # duration of a plant action
    water_duration: int = 2  # duration of a water action
    water_window: int = 4  # a sapling dies unless a watering lands within this many steps after planting landed
    mature_time: int = 6  # steps from the watering landing until the tree matures and pays
    mature_reward: float = 1.0  # team reward per tree that matures
    terminal_horizon: bool = True  # the horizon ends the game (terminated: t is observed); false: truncated

    def __post_init__(self):
        super().__post_init__()
        check_int("n_plots", self.n_plots, 1)
        check_int("n_planters", self.n_planters, 0)
        check_int("n_waterers", self.n_waterers, 0)
        if self.n_planters + self.n_waterers < 1:
            raise ValueError("n_planters + n_waterers must be >= 1")
        for name in ("plant_duration", "water_duration", "water_window", "mature_time"):
            check_int(name, getattr(self, name), 0)
        if self.terminal_horizon not in (True, False):
            raise ValueError(f"terminal_horizon must be true or false, got {self.terminal_horizon!r}")


class Afforestation(OffbeatEnv):
    """Batched Afforestation core (see the module docstring for the rules)."""

    _game_keys = ("status", "age")

    def __init__(self, batch_size: int, settings: AfforestationSettings):
        s = settings
        self.name = "afforestation"
        self.n_plots = P = s.n_plots
        self.n_agents = n = s.n_planters + s.n_waterers
        self.n_actions = 1 + 2 * P
        self.obs_dim = 6 * P + 2
        self.state_dim = 6 * P + n * (5 + P) + 1
        names = ("wait",) + tuple(f"plant plot {p}" for p in range(P)) + tuple(f"water plot {p}" for p in range(P))
        self.action_names = (names,) * n
        self.is_waterer = np.arange(n) >= s.n_planters  # [n]
        super().__init__(batch_size, settings)

    def _default_durations(self) -> np.ndarray:
        s, P = self.settings, self.n_plots
        row = np.concatenate([[0], np.full(P, s.plant_duration), np.full(P, s.water_duration)])
        return np.tile(row.astype(np.int64), (self.n_agents, 1))  # [n, 1 + 2P]

    def _alloc_game(self) -> None:
        self.status = np.zeros((self.batch_size, self.n_plots), np.int64)  # [B, P] EMPTY..DEAD
        self.age = np.zeros((self.batch_size, self.n_plots), np.int64)  # [B, P] steps since the state changed

    def _reset_game(self, where: np.ndarray) -> None:
        self.status[where] = EMPTY
        self.age[where] = 0

    def action_kind(self) -> np.ndarray:
        """[B, n] 0 wait, 1 plant, 2 water for each agent's current action."""
        return np.where(self.action == 0, 0, np.where(self.action <= self.n_plots, 1, 2))

    def action_plot(self) -> np.ndarray:
        """[B, n] the plot each agent's current action targets (-1 for wait)."""
        return np.where(self.action == 0, -1, (self.action - 1) % self.n_plots)

    def _land(self, action: np.ndarray, lands: np.ndarray):
        s, P = self.settings, self.n_plots
        status, age = self.status, self.age + 1
        dies = (status == SAPLING) & (age > s.water_window)  # [B, P]
        status = np.where(dies, DEAD, status)
        on_plot = action[..., None] - 1 == np.arange(P)  # [B, n, P] plant targets
        planted = (lands[..., None] & on_plot).any(1) & (status == EMPTY)  # [B, P]
        status = np.where(planted, SAPLING, status)
        on_plot = action[..., None] - 1 - P == np.arange(P)  # [B, n, P] water targets
        watered = (lands[..., None] & on_plot).any(1) & (status == SAPLING)
        status = np.where(watered, WATERED, status)
        matures = (status == WATERED) & (age >= s.mature_time) & ~watered
        if s.mature_time == 0:
            matures |= watered
        status = np.where(matures, MATURE, status)
        self.age = np.where(dies | planted | watered | matures, 0, age)
        self.status = status
        reward = matures.sum(1) * np.float32(s.mature_reward)
        return reward, ((status == MATURE) | (status == DEAD)).all(1) | self._horizon_ends()

    def _horizon_ends(self) -> np.ndarray:
        """[B] this step is the last one and the horizon ends the game (``terminal_horizon``)."""
        return (self.t + 1 >= self.horizon) & bool(self.settings.terminal_horizon)

    def _real_obs(self) -> np.ndarray:
        B, n, P = self.batch_size, self.n_agents, self.n_plots
        cats = np.where(self.status >= WATERED, self.status + 1, self.status)  # empty 0, sapling 1, watered 3, ...
        cats = cats + ((self.status == SAPLING) & (self.age > self.settings.water_window // 2))  # wilting: 2
        plots = (cats[..., None] == np.arange(6)).reshape(B, 6 * P).astype(np.float32)  # [B, 6P]
        obs = np.empty((B, n, 6 * P + 2), np.float32)
        obs[..., : 6 * P] = plots[:, None, :]
        obs[..., 6 * P] = ~self.choosing
        obs[..., 6 * P + 1] = self._time_feature()[:, None]
        return obs

    def _global_state(self) -> np.ndarray:
        B, n, P = self.batch_size, self.n_agents, self.n_plots
        plots = np.concatenate(
            [self.status[..., None] == np.arange(5), (self.age / self.horizon)[..., None]], axis=-1
        ).reshape(B, 6 * P)
        busy = ~self.choosing
        kind = np.where(busy, self.action_kind(), -1)
        target = np.where(busy, self.action_plot(), -1)
        agents = np.concatenate(
            [busy[..., None], (self.remaining() / self.horizon)[..., None], kind[..., None] == np.arange(3),
             target[..., None] == np.arange(P)], axis=-1,
        ).reshape(B, n * (5 + P))
        return np.concatenate([plots, agents, self._time_feature()[:, None]], axis=1).astype(np.float32)

    def _action_mask(self) -> np.ndarray:
        if not hasattr(self, "_mask"):  # roles never change: build the [B, n, A] mask once
            P = self.n_plots
            kind = np.concatenate([[0], np.ones(P, np.int64), np.full(P, 2)])  # [A] wait / plant / water
            allowed = (kind == 0) | (kind == np.where(self.is_waterer, 2, 1)[:, None])  # [n, A]
            self._mask = np.broadcast_to(allowed, (self.batch_size, self.n_agents, self.n_actions)).copy()
        return self._mask.copy()

    def _extras(self) -> dict[str, np.ndarray]:
        return {"success": (self.status == MATURE).mean(1).astype(np.float32)}

    # ------------------------------------------------------------------ rendering
    _NAMES = ("empty", "sapling", "watered", "mature", "dead")

    def render_ansi(self, index: int = 0) -> str:
        b = index
        plots = " ".join(
            f"{p}:{self._NAMES[int(st)]}" + (f"({int(a)})" if st in (SAPLING, WATERED) else "")
            for p, (st, a) in enumerate(zip(self.status[b], self.age[b], strict=True))
        )
        lines = [f"afforestation  t={int(self.t[b])}/{self.horizon}  reward: {float(self.reward[b]):g}", f"  {plots}"]
        kinds, plots_ = self.action_kind()[b], self.action_plot()[b]
        for i in range(self.n_agents):
            role = "waterer" if self.is_waterer[i] else "planter"
            if self.choosing[b, i]:
                desc = "idle (chooses next step)"
            else:
                verb = ("waiting", "planting", "watering")[int(kinds[i])]
                desc = f"{verb} plot {int(plots_[i])}, {int(self.elapsed[b, i])}/{int(self.duration[b, i])}"
            lines.append(f"  agent_{i} ({role}): {desc}")
        return "\n".join(lines)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        return render.afforestation(self, index)


register(
    "afforestation",
    Afforestation,
    AfforestationSettings,
    preset={},
    family="offbeat",
    description="Planters plant, a waterer must water each sapling within 4 steps; trees pay 6 steps later.",
)
