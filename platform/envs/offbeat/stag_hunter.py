"""Stag-Hunter with off-beat shots (LeGEM paper, Fig. 1), registered as ``stag-hunter``.

The paper describes the game only in prose and Fig. 1; the rules below are **our design** from that
description (the paper's appendix with the exact rules is not public):

* ``n_hunters`` hunters (default 2) and one stag all of them see. Each hunter has one arrow.
* Actions: 0 wait (duration 0: it occupies only the step it is chosen in), 1 shoot, whose duration is that
  hunter's arrow flight time (``arrow_flight``, default 8 steps for hunter 0 and 3 for hunter 1). Shooting a
  spent arrow is masked.
* When arrows land (the step their shot's duration ends, see :mod:`.durations`): if every hunter's arrow lands
  in the same step the stag is caught (+``catch_reward``, default 10, terminated); an arrow that lands without
  all the others scares the stag off (reward 0, terminated). Why: the paper's reward is earned only when the
  completions are synchronised, and a lone hit ending the hunt makes a single failed attempt final, so the
  hunters must time their shots, as in Fig. 1.
* Horizon 20. Arrows still in flight at the horizon never land.
* Observation (5 values per hunter): one-hot own arrow state (ready, in flight, spent), stag visible (1 until
  the stag is caught or flees), t / T. A hunter does not see the other hunters' arrows, nor durations.
  ``observe_time=False`` drops t / T (4 values per hunter, the same first four): the paper's hunters have only
  partial observations and cannot communicate, so they must count steps with their recurrent state; with t / T
  a hunter can learn "shoot at t = 5" without any credit assignment. The global state keeps t / T either way
  (it is the centralised mixer's input, never an acting agent's).
* Global state (4 n + 2): per hunter the arrow one-hot and its remaining flight steps / T; stag present; t / T.
* ``catch_rate`` in ``Step.extras``: 1.0 for a copy whose stag was caught.

With the defaults the catching schedules are exactly those where hunter 1 shoots 5 steps after hunter 0
(8 - 3); the earliest, hunter 0 at t = 0 and hunter 1 at t = 5, is optimal under any discount < 1 (Fig. 1).
``benchmarks/offbeat_optimum.py`` checks this by enumerating every joint schedule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.offbeat import render
from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings, check_int, check_int_tuple
from asyncmarl.platform.envs.registry import register

WAIT, SHOOT = 0, 1
READY, FLYING, SPENT = 0, 1, 2  # arrow states
PRESENT, CAUGHT, FLED = 0, 1, 2  # stag states


@dataclass(frozen=True)
class StagHunterSettings(OffbeatSettings):
    """Stag-Hunter settings (our design from the paper's description; defaults give Fig. 1)."""

    horizon: int = 20  # episode limit in steps
    n_hunters: int = 2  # number of hunters (agents); each has one arrow
    arrow_flight: tuple = (8, 3)  # per hunter, the shoot action's duration (steps until its arrow lands)
    catch_reward: float = 10.0  # team reward when every arrow lands in the same step
    observe_time: bool = True  # t / T in each hunter's observation (False: 4 features, hunters count steps)

    def __post_init__(self):
        super().__post_init__()
        n = check_int("n_hunters", self.n_hunters, 1)
        check_int_tuple("arrow_flight", self.arrow_flight, 0, length=n)
        if not isinstance(self.observe_time, (bool, np.bool_)):
            raise ValueError(f"observe_time must be true or false, got {self.observe_time!r}")


class StagHunter(OffbeatEnv):
    """Batched Stag-Hunter core (see the module docstring for the rules)."""

    _game_keys = ("arrow", "stag")

    def __init__(self, batch_size: int, settings: StagHunterSettings):
        self.name = "stag-hunter"
        self.n_agents = settings.n_hunters
        self.n_actions = 2
        self.obs_dim = 5 if settings.observe_time else 4
        self.state_dim = 4 * settings.n_hunters + 2
        self.action_names = (("wait", "shoot"),) * settings.n_hunters
        super().__init__(batch_size, settings)

    def _default_durations(self) -> np.ndarray:
        flight = np.asarray(self.settings.arrow_flight, np.int64)
        return np.stack([np.zeros_like(flight), flight], axis=1)  # [n, 2]: wait 0, shoot = flight time

    def _alloc_game(self) -> None:
        self.arrow = np.zeros((self.batch_size, self.n_agents), np.int64)  # [B, n] READY / FLYING / SPENT
        self.stag = np.zeros(self.batch_size, np.int64)  # [B] PRESENT / CAUGHT / FLED

    def _reset_game(self, where: np.ndarray) -> None:
        self.arrow[where] = READY
        self.stag[where] = PRESENT

    def _commit(self, commit: np.ndarray, action: np.ndarray) -> None:
        self.arrow = np.where(commit & (action == SHOOT), FLYING, self.arrow)

    def _land(self, action: np.ndarray, lands: np.ndarray):
        hits = lands & (action == SHOOT)  # [B, n] arrows arriving this step
        self.arrow = np.where(hits, SPENT, self.arrow)
        any_hit, all_hit = hits.any(1), hits.all(1)  # [B]
        self.stag = np.where(all_hit, CAUGHT, np.where(any_hit, FLED, self.stag))
        return all_hit * np.float32(self.settings.catch_reward), any_hit

    def _real_obs(self) -> np.ndarray:
        B, n = self.arrow.shape
        obs = np.zeros((B, n, self.obs_dim), np.float32)
        obs[..., :3] = self.arrow[..., None] == np.arange(3)
        obs[..., 3] = (self.stag == PRESENT)[:, None]
        if self.settings.observe_time:
            obs[..., 4] = self._time_feature()[:, None]
        return obs

    def _global_state(self) -> np.ndarray:
        B, n = self.arrow.shape
        per_hunter = np.zeros((B, n, 4), np.float32)
        per_hunter[..., :3] = self.arrow[..., None] == np.arange(3)
        per_hunter[..., 3] = np.where(self.arrow == FLYING, self.remaining(), 0) / self.horizon
        extra = np.stack([self.stag == PRESENT, self._time_feature()], axis=1).astype(np.float32)  # [B, 2]
        return np.concatenate([per_hunter.reshape(B, 4 * n), extra], axis=1)

    def _action_mask(self) -> np.ndarray:
        return np.stack([np.ones_like(self.arrow, bool), self.arrow == READY], axis=-1)  # [B, n, 2]

    def _extras(self) -> dict[str, np.ndarray]:
        return {"catch_rate": (self.stag == CAUGHT).astype(np.float32)}

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, index: int = 0) -> str:
        b = index
        stag = ("present", "caught", "fled")[int(self.stag[b])]
        lines = [f"stag-hunter  t={int(self.t[b])}/{self.horizon}  stag: {stag}  reward: {float(self.reward[b]):g}"]
        for i in range(self.n_agents):
            state = int(self.arrow[b, i])
            if state == FLYING:
                m, e = int(self.duration[b, i]), int(self.elapsed[b, i])
                desc = f"arrow in flight {e}/{m} " + "-" * e + ">" + "." * (m - e)
            else:
                desc = ("arrow ready", "", "arrow spent")[state]
            lines.append(f"  agent_{i}: {desc}")
        return "\n".join(lines)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        return render.stag_hunter(self, index)


register(
    "stag-hunter",
    StagHunter,
    StagHunterSettings,
    preset={},
    family="offbeat",
    description="Two hunters with different arrow flight times must land their arrows on the same step (LeGEM).",
)
