"""2m_vs_1z with off-beat attacks (LeGEM paper, Sec. 6 "SMAC"), registered as ``2m-vs-1z``.

The paper runs SMAC's ``2m_vs_1z`` (two Marines against one Zealot) with the attack action given a duration of
9 steps and SimHash keys for LeGEM. That needs the StarCraft II binary; this is a small numpy re-creation of the
battle from public unit statistics and SMAC's interface. **Every rule here is ours**; docs/offbeat.md
("2m-vs-1z") lists each one, its source and where it differs from StarCraft II.

* One step is SMAC's ``step_mul`` = 8 game loops = 8 / 22.4 s at the "faster" game speed (0.357 s). Units
  move ``speed x step_seconds`` per step (3.15 x 0.357 = 1.125 for both unit types) in a ``map_size`` square.
* Marines (agents 0 and 1): 45 HP, 0 armour, 6 damage a shot, one shot per 0.61 s (1.708 steps), SMAC's
  shooting range 6 and sight range 9 (centre distances, as SMAC's masks and observations use them).
* The Zealot (SC2's built-in AI in SMAC; scripted here): 100 HP + 50 shields, 1 armour, 2 x 8 damage per
  attack every 0.857 s (2.4 steps), melee (range 0.1 between unit edges; radii 0.5 and 0.375). Every step it
  attacks the nearest living Marine if in reach and its weapon is ready, else walks towards it.
* Damage: shields absorb first (no armour); what a shot leaves over after the shields hits HP less armour;
  each shot on HP does ``max(damage - armour, 0.5)`` (SC2's minimum).
* Actions (SMAC's): 0 no-op (the only action of a dead Marine, never available to a living one), 1 stop,
  2..5 move north / south / east / west, 6 attack the Zealot (only while it is alive and within the shooting
  range). Durations: 0 for all but attack, whose duration is ``attack_duration`` (9; a setting).
* An attack of duration ``m`` keeps the Marine standing and firing at its weapon's rate for the ``m + 1``
  steps it occupies (while the Zealot is alive and in range); the damage of those shots lands together when the
  attack completes (step ``t + m``), with its reward. With ``m = 0`` this is SMAC's per-step attack. A Marine
  killed before its attack lands deals none of it.
* Order within a step: Marines' moves land; attacking Marines fire; completed attacks land their damage;
  the Zealot (if alive) attacks or walks; Marines at 0 HP die.
* Reward (SMAC's ``reward_only_positive``): damage dealt to the Zealot's HP + shields, + 10 for the kill,
  + 200 for the win, divided by ``max_reward / 20`` with ``max_reward = 150 + 10 + 200`` (SMAC's scaling):
  a won battle returns exactly 20. Terminated when the Zealot dies (won) or both Marines die; truncated at
  the episode limit, 150 steps (SMAC's ``2m_vs_1z`` limit).
* Observation (16, SMAC's layout, no unit-type bits): move feats (4 move availabilities); enemy feats
  (attack available, distance, dx, dy over the sight range, health, shield as fractions; zeros unless alive and
  within sight); ally feats (visible, distance, dx, dy, health); own health. A dead Marine sees zeros.
* State (26, SMAC's layout): per Marine health, weapon cooldown / 15 game loops, x, y relative to the map
  centre over the map size; Zealot health, x, y, shield; each agent's running action one-hot.
* ``success`` in ``Step.extras``: 1.0 for a won battle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings, check_int
from asyncmarl.platform.envs.registry import register

NOOP, STOP, NORTH, SOUTH, EAST, WEST, ATTACK = range(7)
ACTION_NAMES = ("no-op", "stop", "move north", "move south", "move east", "move west", "attack zealot")
DIRECTIONS = np.array([[0, 0], [0, 0], [0, 1], [0, -1], [1, 0], [-1, 0], [0, 0]], np.float64)  # [7, 2]
N_MARINES, ZEALOT = 2, 2  # units 0, 1 are the Marines (agents), unit 2 the Zealot
GAME_LOOPS_PER_STEP = 8  # SMAC's step_mul
MAX_COOLDOWN_LOOPS = 15  # SMAC's normaliser of a Marine's weapon cooldown in the state
REACH_TOLERANCE = 1e-6  # distance units: rounding must not leave a Zealot forever just outside its reach


@dataclass(frozen=True)
class MarinesVsZealotSettings(OffbeatSettings):
    """2m-vs-1z settings (our re-creation; sources in docs/offbeat.md)."""

    horizon: int = 150  # episode limit in steps (SMAC's 2m_vs_1z limit)
    attack_duration: int = 9  # duration of the attack action in steps (the LeGEM paper's 9)
    step_seconds: float = 8 / 22.4  # game time per step: 8 game loops at 22.4 loops/s ("faster" speed)
    map_size: float = 32.0  # side of the square arena (SMAC's 2m_vs_1z map is 32 x 32)
    marine_start: tuple = ((9.0, 15.0), (9.0, 17.0))  # (x, y) of each Marine at reset
    zealot_start: tuple = (17.0, 16.0)  # (x, y) of the Zealot at reset
    marine_hp: float = 45.0  # Marine hit points
    marine_armour: float = 0.0  # Marine armour
    marine_damage: float = 6.0  # damage of one Marine shot
    marine_cooldown: float = 0.61  # seconds between Marine shots
    marine_speed: float = 3.15  # Marine speed, distance per second
    marine_radius: float = 0.375  # Marine radius (drawing only; ranges are SMAC's centre distances)
    shoot_range: float = 6.0  # centre distance within which a Marine may attack and fires (SMAC's 6)
    sight_range: float = 9.0  # centre distance within which a Marine observes units (SMAC's 9)
    zealot_hp: float = 100.0  # Zealot hit points
    zealot_shield: float = 50.0  # Zealot shields
    zealot_armour: float = 1.0  # Zealot armour (shields take no armour reduction)
    zealot_damage: float = 8.0  # damage of one Zealot blade hit
    zealot_hits: int = 2  # blade hits per Zealot attack
    zealot_cooldown: float = 0.857  # seconds between Zealot attacks
    zealot_speed: float = 3.15  # Zealot speed, distance per second
    zealot_range: float = 0.1  # Zealot melee range between unit edges
    zealot_radius: float = 0.5  # Zealot radius (its reach is zealot_range + both radii)
    reward_death_value: float = 10.0  # reward for killing the Zealot (SMAC's default)
    reward_win: float = 200.0  # reward for winning (SMAC's default)
    reward_scale_rate: float = 20.0  # rewards are divided by max_reward / this (SMAC's default)

    def __post_init__(self):
        super().__post_init__()
        check_int("attack_duration", self.attack_duration, 0)
        check_int("zealot_hits", self.zealot_hits, 1)
        for name in ("step_seconds", "map_size", "marine_hp", "marine_damage", "marine_cooldown", "marine_speed",
                     "shoot_range", "sight_range", "zealot_hp", "zealot_damage", "zealot_cooldown", "zealot_speed"):
            _check_number(name, getattr(self, name), positive=True)
        for name in ("marine_armour", "marine_radius", "zealot_shield", "zealot_armour", "zealot_range",
                     "zealot_radius", "reward_death_value", "reward_win"):
            _check_number(name, getattr(self, name), positive=False)
        _check_number("reward_scale_rate", self.reward_scale_rate, positive=True)
        _check_points("marine_start", self.marine_start, N_MARINES, self.map_size)
        _check_points("zealot_start", (self.zealot_start,), 1, self.map_size)


def _check_number(name: str, value, positive: bool) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _check_points(name: str, value, n: int, size: float) -> None:
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold {n} (x, y) pairs of numbers, got {value!r}") from None
    if arr.shape != (n, 2) or not np.isfinite(arr).all() or (arr < 0).any() or (arr > size).any():
        raise ValueError(f"{name} must hold {n} (x, y) pair(s) inside the map [0, {size}], got {value!r}")


class MarinesVsZealot(OffbeatEnv):
    """Batched 2m-vs-1z core (see the module docstring for the rules)."""

    _game_keys = ("pos", "hp", "shield", "ready", "pending")

    def __init__(self, batch_size: int, settings: MarinesVsZealotSettings):
        self.name = "2m-vs-1z"
        self.n_agents = N_MARINES
        self.n_actions = len(ACTION_NAMES)
        self.obs_dim = 4 + 6 + 5 + 1  # move, enemy, ally, own feats
        self.state_dim = N_MARINES * 4 + 4 + N_MARINES * self.n_actions
        self.action_names = (ACTION_NAMES,) * N_MARINES
        s = settings
        self._move = np.array([s.marine_speed, s.zealot_speed]) * s.step_seconds  # distance per step
        self._cooldown = np.array([s.marine_cooldown] * N_MARINES + [s.zealot_cooldown]) / s.step_seconds  # [3]
        self._reach = s.zealot_range + s.zealot_radius + s.marine_radius  # Zealot strikes within this distance
        self._max_reward = s.zealot_hp + s.zealot_shield + s.reward_death_value + s.reward_win
        self._scale = np.float32(s.reward_scale_rate / self._max_reward)
        super().__init__(batch_size, settings)

    def _default_durations(self) -> np.ndarray:
        table = np.zeros((N_MARINES, self.n_actions), np.int64)
        table[:, ATTACK] = self.settings.attack_duration
        return table

    def _alloc_game(self) -> None:
        B = self.batch_size
        self.pos = np.zeros((B, 3, 2))  # [B, 3, 2] unit positions (Marines 0, 1; Zealot 2)
        self.hp = np.zeros((B, 3))  # [B, 3] hit points (0 = dead)
        self.shield = np.zeros(B)  # [B] Zealot shields
        self.ready = np.zeros((B, 3))  # [B, 3] step (fractional) at which each unit's weapon is ready again
        self.pending = np.zeros((B, N_MARINES), np.int64)  # [B, 2] shots fired by the running attack, not landed

    def _reset_game(self, where: np.ndarray) -> None:
        s = self.settings
        self.pos[where] = np.concatenate([np.asarray(s.marine_start, np.float64),
                                          np.asarray(s.zealot_start, np.float64)[None]], axis=0)
        self.hp[where] = (s.marine_hp, s.marine_hp, s.zealot_hp)
        self.shield[where] = s.zealot_shield
        self.ready[where] = 0.0
        self.pending[where] = 0

    def _commit(self, commit: np.ndarray, action: np.ndarray) -> None:
        self.pending = np.where(commit, 0, self.pending)

    # ------------------------------------------------------------------ rules
    def _distances(self) -> np.ndarray:
        """[B, 2] centre distance of each Marine to the Zealot."""
        return np.linalg.norm(self.pos[:, :N_MARINES] - self.pos[:, ZEALOT:], axis=-1)

    def _shots_damage(self, shots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New (hp, shield) [B] of the Zealot after ``shots`` [B] Marine shots (shields first, then armour)."""
        s = self.settings
        d, hp, sh = s.marine_damage, self.hp[:, ZEALOT], self.shield
        on_hp = max(d - s.zealot_armour, 0.5)  # a shot that meets no shield
        whole = np.minimum(shots, np.floor(sh / d))  # shots fully absorbed by the shields
        sh_left = sh - whole * d
        rest = shots - whole  # shots that reach the HP, the first possibly through the last shields
        spill = np.where((rest > 0) & (sh_left > 0), np.maximum(d - sh_left - s.zealot_armour, 0.0), 0.0)
        straight = np.where(sh_left > 0, np.maximum(rest - 1, 0), rest)
        new_sh = np.where(rest > 0, 0.0, sh_left)
        new_hp = np.maximum(hp - spill - straight * on_hp, 0.0)
        return new_hp, new_sh

    def _land(self, action: np.ndarray, lands: np.ndarray):
        s, t = self.settings, self.t.astype(np.float64)  # [B] index of this step
        marine_alive = self.hp[:, :N_MARINES] > 0  # [B, 2]
        zealot_alive = self.hp[:, ZEALOT] > 0  # [B]
        # Marines' moves (duration 0 by default: they land in the step they are chosen)
        moves = lands & marine_alive & (action >= NORTH) & (action <= WEST)  # [B, 2]
        step = DIRECTIONS[action] * self._move[0]  # [B, 2, 2]
        self.pos[:, :N_MARINES] = np.where(moves[..., None], np.clip(self.pos[:, :N_MARINES] + step, 0.0,
                                                                      s.map_size), self.pos[:, :N_MARINES])
        # attacking Marines fire while their target is alive and within range; the shots are held
        dist = self._distances()  # [B, 2]
        fire_at = np.maximum(self.ready[:, :N_MARINES], t[:, None])  # [B, 2]
        fires = ((action == ATTACK) & marine_alive & zealot_alive[:, None] & (dist <= s.shoot_range)
                 & (fire_at < t[:, None] + 1))
        self.pending = self.pending + fires
        self.ready[:, :N_MARINES] = np.where(fires, fire_at + self._cooldown[:N_MARINES], self.ready[:, :N_MARINES])
        # completed attacks land all their shots at once
        hit = lands & (action == ATTACK) & marine_alive  # [B, 2]
        shots = np.where(hit, self.pending, 0).sum(1)  # [B]
        self.pending = np.where(hit, 0, self.pending)
        before = self.hp[:, ZEALOT] + self.shield  # [B]
        new_hp, new_sh = self._shots_damage(shots)
        killed = zealot_alive & (new_hp <= 0)
        self.hp[:, ZEALOT], self.shield = new_hp, np.where(killed, 0.0, new_sh)
        dealt = np.where(zealot_alive, before - self.hp[:, ZEALOT] - self.shield, 0.0)  # killed: all it had
        # the Zealot strikes the nearest living Marine within reach, or walks towards it
        self._zealot_acts(t, marine_alive, zealot_alive & ~killed)
        died = marine_alive & (self.hp[:, :N_MARINES] <= 0)
        self.pending = np.where(died, 0, self.pending)
        lost = ~(self.hp[:, :N_MARINES] > 0).any(1) & ~killed
        raw = dealt + killed * (s.reward_death_value + s.reward_win)
        return (raw * self._scale).astype(np.float32), killed | lost

    def _zealot_acts(self, t: np.ndarray, marine_alive: np.ndarray, acts: np.ndarray) -> None:
        s = self.settings
        dist = np.where(marine_alive, self._distances(), np.inf)  # [B, 2]
        target = dist.argmin(1)  # [B] nearest living Marine (ties: agent 0)
        d = dist[np.arange(self.batch_size), target]  # [B]
        acts = acts & np.isfinite(d)
        fire_at = np.maximum(self.ready[:, ZEALOT], t)
        in_reach = d <= self._reach + REACH_TOLERANCE  # a walk that stops at the reach lands a hair short of it
        strikes = acts & in_reach & (fire_at < t + 1)
        per_attack = s.zealot_hits * max(s.zealot_damage - s.marine_armour, 0.5)
        struck = strikes[:, None] & (np.arange(N_MARINES) == target[:, None])  # [B, 2]
        self.hp[:, :N_MARINES] = np.maximum(self.hp[:, :N_MARINES] - struck * per_attack, 0.0)
        self.ready[:, ZEALOT] = np.where(strikes, fire_at + self._cooldown[ZEALOT], self.ready[:, ZEALOT])
        walks = acts & ~in_reach
        towards = self.pos[np.arange(self.batch_size), target] - self.pos[:, ZEALOT]  # [B, 2]
        length = np.minimum(self._move[1], np.where(walks, d - self._reach, 0.0))  # stop once within reach
        self.pos[:, ZEALOT] += towards * (length / np.where(np.isfinite(d) & (d > 0), d, 1.0))[:, None]

    # ------------------------------------------------------------------ what agents see
    def _move_available(self) -> np.ndarray:
        """[B, 2, 4] SMAC's move check: the point 1 unit away in that direction lies inside the map."""
        probe = self.pos[:, :N_MARINES, None, :] + DIRECTIONS[NORTH:WEST + 1]  # [B, 2, 4, 2]
        inside = ((probe >= 0) & (probe < self.settings.map_size)).all(-1)
        return inside & (self.hp[:, :N_MARINES, None] > 0)

    def _attack_available(self) -> np.ndarray:
        """[B, 2] the Zealot is alive and within shooting range of a living Marine."""
        alive = self.hp[:, :N_MARINES] > 0
        return alive & (self.hp[:, ZEALOT:] > 0) & (self._distances() <= self.settings.shoot_range)

    def _action_mask(self) -> np.ndarray:
        alive = self.hp[:, :N_MARINES] > 0  # [B, 2]
        return np.concatenate([~alive[..., None], alive[..., None], self._move_available(),
                               self._attack_available()[..., None]], axis=-1)  # [B, 2, 7]

    def _real_obs(self) -> np.ndarray:
        s = self.settings
        B, sr = self.batch_size, s.sight_range
        alive = self.hp[:, :N_MARINES] > 0  # [B, 2]
        obs = np.zeros((B, N_MARINES, self.obs_dim), np.float32)
        obs[..., :4] = self._move_available()
        rel = self.pos[:, ZEALOT:] - self.pos[:, :N_MARINES]  # [B, 2, 2] Zealot relative to each Marine
        dist = np.linalg.norm(rel, axis=-1)
        seen = alive & (self.hp[:, ZEALOT:] > 0) & (dist < sr)  # [B, 2]
        enemy = np.concatenate([self._attack_available()[..., None], dist[..., None] / sr, rel / sr,
                                np.repeat((self.hp[:, ZEALOT] / s.zealot_hp)[:, None, None], N_MARINES, 1),
                                np.repeat((self.shield / max(s.zealot_shield, 1e-9))[:, None, None], N_MARINES, 1)],
                               axis=-1)  # [B, 2, 6]
        obs[..., 4:10] = np.where(seen[..., None], enemy, 0.0)
        other = self.pos[:, [1, 0]]  # [B, 2, 2] each Marine's ally
        rel_a = other - self.pos[:, :N_MARINES]
        dist_a = np.linalg.norm(rel_a, axis=-1)
        hp_other = self.hp[:, [1, 0]]  # [B, 2]
        seen_a = alive & (hp_other > 0) & (dist_a < sr)
        ally = np.concatenate([np.ones_like(dist_a)[..., None], dist_a[..., None] / sr, rel_a / sr,
                               (hp_other / s.marine_hp)[..., None]], axis=-1)  # [B, 2, 5]
        obs[..., 10:15] = np.where(seen_a[..., None], ally, 0.0)
        obs[..., 15] = self.hp[:, :N_MARINES] / s.marine_hp
        return np.where(alive[..., None], obs, 0.0).astype(np.float32)

    def _global_state(self) -> np.ndarray:
        s = self.settings
        B, c = self.batch_size, s.map_size / 2
        alive = self.hp > 0  # [B, 3]
        cooldown = np.maximum(self.ready[:, :N_MARINES] - self.t[:, None], 0.0) * GAME_LOOPS_PER_STEP
        marines = np.stack([self.hp[:, :N_MARINES] / s.marine_hp, cooldown / MAX_COOLDOWN_LOOPS,
                            (self.pos[:, :N_MARINES, 0] - c) / s.map_size,
                            (self.pos[:, :N_MARINES, 1] - c) / s.map_size], axis=-1)  # [B, 2, 4]
        marines = np.where(alive[:, :N_MARINES, None], marines, 0.0)
        zealot = np.stack([self.hp[:, ZEALOT] / s.zealot_hp, (self.pos[:, ZEALOT, 0] - c) / s.map_size,
                           (self.pos[:, ZEALOT, 1] - c) / s.map_size,
                           self.shield / max(s.zealot_shield, 1e-9)], axis=-1)  # [B, 4]
        zealot = np.where(alive[:, ZEALOT:], zealot, 0.0)
        last = (self.action[..., None] == np.arange(self.n_actions)) & (self.t > 0)[:, None, None]  # [B, 2, 7]
        return np.concatenate([marines.reshape(B, -1), zealot, last.reshape(B, -1)], axis=1).astype(np.float32)

    def _extras(self) -> dict[str, np.ndarray]:
        won = (self.hp[:, ZEALOT] <= 0) & (self.hp[:, :N_MARINES] > 0).any(1)
        return {"success": won.astype(np.float32)}

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, index: int = 0) -> str:
        b = index
        lines = [f"2m-vs-1z  t={int(self.t[b])}/{self.horizon}  reward: {float(self.reward[b]):g}"]
        for i in range(N_MARINES):
            x, y = self.pos[b, i]
            state = f"hp {self.hp[b, i]:g}" if self.hp[b, i] > 0 else "dead"
            act = ACTION_NAMES[int(self.action[b, i])] if self.t[b] > 0 else "-"
            extra = (f" {int(self.elapsed[b, i])}/{int(self.duration[b, i])}, {int(self.pending[b, i])} shots held"
                     if int(self.action[b, i]) == ATTACK and self.t[b] > 0 else "")
            lines.append(f"  marine {i} at ({x:.2f}, {y:.2f}) {state}; {act}{extra}")
        x, y = self.pos[b, ZEALOT]
        z = f"hp {self.hp[b, ZEALOT]:g} shield {self.shield[b]:g}" if self.hp[b, ZEALOT] > 0 else "dead"
        lines.append(f"  zealot at ({x:.2f}, {y:.2f}) {z}")
        return "\n".join(lines)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        from asyncmarl.platform.envs.offbeat.marines_vs_zealot_render import draw

        return draw(self, index)


register(
    "2m-vs-1z",
    MarinesVsZealot,
    MarinesVsZealotSettings,
    preset={},
    family="offbeat",
    description="Two Marines against one Zealot (SMAC 2m_vs_1z re-created in numpy); attacks take 9 steps to land.",
)
