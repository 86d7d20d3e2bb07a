"""Action durations of the off-beat games: settings, the per-agent/per-action table, and its random draw.

Timing convention (**our design**; the paper defines a duration ``m >= 0`` fixed when the action is committed,
and says ``m = 0`` everywhere is an ordinary Dec-POMDP, but not how ``m`` maps onto environment steps):

* An agent that is *choosing* at step ``t`` (``Step.choosing`` after step ``t - 1``, or after reset) commits
  action ``a``; its duration ``m`` is drawn then (deterministic by default). Step ``t`` reports
  ``macro_action = a``, ``elapsed = 0``.
* The agent is busy during steps ``t + 1 .. t + m`` (``elapsed = 1 .. m``); whatever it sends is ignored.
* The action's **effect and the reward it earns land in step** ``t + m`` (the step whose ``elapsed == m``),
  and that step reports ``choosing = True`` (``macro_done``), so the agent commits again at step ``t + m + 1``.
  An action of duration ``m`` therefore occupies ``m + 1`` steps.
* ``m = 0``: the effect and reward land in the step the action is committed and the agent chooses again at the
  next step: every agent chooses every step, ``elapsed`` is always 0, ``obs == real_obs``: an ordinary
  synchronous game (the paper's Remark 2). The wait action (index 0) has duration 0 by default: the spec's
  "wait (1 step)" is an action that occupies exactly the one step it is committed in.
* Actions still running when the episode ends never land (no effect, no reward).

Reason for this mapping: it is the only one in which ``m = 0`` is legal and means "immediate", it makes
``macro_done`` coincide with the step an action's effect lands, and a reward displaced by ``m`` steps sits
exactly ``m`` steps after the step whose decision earned it (what LeGEM's pivot search looks for).

Random durations (**our design** for the paper's "distribution A(m | u, i)"): a categorical table
``duration_probs[i][a][k] = P(m = k)``. Draws are a counter-based hash of (copy seed, t, agent), so a copy
behaves the same whatever the batch size and the draw needs no per-copy random generator (no Python loop).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


def _as_tuple(x):
    """Nested lists (from YAML or a command line) to nested tuples, so settings stay hashable and frozen."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return tuple(_as_tuple(v) for v in x)
    return x


@dataclass(frozen=True)
class OffbeatSettings:
    """Settings every off-beat game shares (each game's settings class extends this one)."""

    horizon: int = 20  # episode limit in steps (truncation)
    durations: tuple | None = None  # optional [n_agents][n_actions] ints >= 0 overriding the game's default table
    duration_probs: tuple | None = None  # optional [n_agents][n_actions][M+1] P(duration = 0..M); replaces `durations`

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (list, tuple, np.ndarray)):
                object.__setattr__(self, f.name, _as_tuple(v))
        if not isinstance(self.horizon, (int, np.integer)) or isinstance(self.horizon, bool) or self.horizon < 1:
            raise ValueError(f"horizon must be a positive int, got {self.horizon!r}")


def check_int_tuple(name: str, value, minimum: int, length: int | None = None) -> tuple[int, ...]:
    """Validate a tuple of ints >= ``minimum`` (of ``length`` if given); ValueError naming the setting."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(f"{name} must be a non-empty tuple of ints, got {value!r}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have {length} entries, got {arr.size}: {value!r}")
    if (arr < minimum).any():
        raise ValueError(f"{name} entries must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in arr)


def check_int(name: str, value, minimum: int) -> int:
    """Validate one int >= ``minimum``; ValueError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def duration_table(settings: OffbeatSettings, default: np.ndarray, scenario: str):
    """The deterministic table [n, A] int64 and the cumulative distribution [n, A, M+1] (or None).

    ``default`` is the game's own table (built from its compact settings such as ``arrow_flight``).
    """
    n, a = default.shape
    table = np.asarray(default, np.int64)
    if settings.durations is not None:
        arr = np.asarray(settings.durations)
        if arr.shape != (n, a) or not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
            raise ValueError(
                f"{scenario}: durations must be an [n_agents][n_actions] = [{n}][{a}] table of ints, "
                f"got shape {arr.shape} ({arr.dtype})"
            )
        if (arr < 0).any():
            raise ValueError(f"{scenario}: durations must be >= 0, got {settings.durations!r}")
        table = arr.astype(np.int64)
    cdf = None
    if settings.duration_probs is not None:
        try:
            p = np.asarray(settings.duration_probs, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{scenario}: duration_probs must be a numeric [n_agents][n_actions][M+1] table") from None
        if p.ndim != 3 or p.shape[:2] != (n, a):
            raise ValueError(
                f"{scenario}: duration_probs must have shape [n_agents][n_actions][M+1] = [{n}][{a}][M+1], "
                f"got {p.shape}"
            )
        if (p < 0).any() or not np.allclose(p.sum(-1), 1.0, atol=1e-6):
            raise ValueError(f"{scenario}: each duration_probs[agent][action] must be >= 0 and sum to 1")
        cdf = np.cumsum(p / p.sum(-1, keepdims=True), axis=-1)
        cdf[..., -1] = 1.0  # guard against rounding: a draw u in [0, 1) always falls inside
        table = (p * np.arange(p.shape[-1])).sum(-1).round().astype(np.int64)  # the mean, for display only
    return table, cdf


# splitmix64 constants (Steele, Lea and Flood 2014): a cheap, well-mixed 64-bit hash.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def hashed_uniforms(seed: np.ndarray, t: np.ndarray, n_agents: int) -> np.ndarray:
    """[B, n] floats in [0, 1), a function of (seed[b], t[b], agent) only."""
    counter = t.astype(np.uint64)[:, None] * np.uint64(n_agents) + np.arange(n_agents, dtype=np.uint64)  # [B, n]
    h = _splitmix64(_splitmix64(seed.astype(np.uint64))[:, None] ^ _splitmix64(counter))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def draw_durations(table: np.ndarray, cdf: np.ndarray | None, actions: np.ndarray, seed: np.ndarray,
                   t: np.ndarray) -> np.ndarray:
    """Durations [B, n] of ``actions`` [B, n] committed at step ``t`` [B] (deterministic when ``cdf`` is None)."""
    agent = np.arange(actions.shape[1])[None, :]  # [1, n]
    if cdf is None:
        return table[agent, actions]
    u = hashed_uniforms(seed, t, actions.shape[1])  # [B, n]
    return (u[..., None] >= cdf[agent, actions]).sum(-1).astype(np.int64)  # [B, n]
