"""What LeGEM reads from episodes, as numpy arrays, from either input it accepts.

* a rollout worker's finished-episode trajectory: a dict of numpy arrays {"real_obs"/"obs" [T+1, n, O],
  "actions" [T, n], "choosing" [T+1, n], "reward" [T], "length", ...};
* a replay episode Batch (``asyncmarl.platform.roles``): torch tensors with keys "real_obs"/"obs"
  [B, T+1, n, O], "actions" [B, T, n], "choosing" [B, T+1, n], "reward" [B, T], "filled" [B, T]; each row must be
  a whole episode from its step 0 (``filled`` a prefix of ones).

The afterstate action of agent i at step t is ``actions[t, i]`` when the agent committed an action at t
(``choosing[t, i]``) and ``busy`` otherwise: a busy agent has no choice to make (the paper's footnote 5 gives
every agent a NO-OP; the spec maps a busy step onto it). ``busy`` is the no-op 0 on the off-beat games (action 0
is their wait) and -1 on scenarios without a no-op (macro-action scenarios such as BoxPushing, whose action 0 is
a real macro-action), so a busy step never shares a key with a commit there.

An agent's running action *ended* at step t when the agent was busy at t (committed earlier) and chooses again
at t + 1: that is the step its effect landed (docs/offbeat.md, "Durations and timing"). The ranking of eq. 1
reads it (``legem.ranking``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Episodes:
    """B episodes padded to T steps."""

    obs: np.ndarray  # [B, T, n, O] observation at each step (rows after an episode's end are padding)
    action: np.ndarray  # [B, T, n] int64 afterstate action (``busy`` while busy: 0 off-beat, -1 macro)
    reward: np.ndarray  # [B, T] float64 joint reward (0 on padding)
    lengths: np.ndarray  # [B] int64 steps of each episode
    ended: np.ndarray  # [B, T, n] bool: the agent's action committed before t ended (landed) at step t

    @property
    def returns(self) -> np.ndarray:
        """[B] undiscounted episode return (what the return buckets read)."""
        return self.reward.sum(axis=1)


def _need(data: dict, name: str, where: str):
    if name not in data:
        raise ValueError(f"LeGEM: {where} lacks {name!r}; needs keys {sorted(_KEYS)} (and 'filled' for a Batch)")
    return data[name]


_KEYS = ("actions", "choosing", "reward")


def _build(obs, actions, choosing, reward, lengths, where: str, busy: int = 0) -> Episodes:
    b, t = reward.shape
    if actions.ndim != 3 or actions.shape[:2] != (b, t):
        raise ValueError(f"LeGEM: {where} 'actions' must be [B, T, n] with [B, T] = {(b, t)}, got {actions.shape}")
    n = actions.shape[2]
    if obs.ndim != 4 or obs.shape[:3] not in ((b, t + 1, n), (b, t, n)):
        raise ValueError(f"LeGEM: {where} observations must be [B, T+1, n, O] = [{b}, {t + 1}, {n}, O], "
                         f"got {obs.shape}")
    if choosing.shape[:3] not in ((b, t + 1, n), (b, t, n)):
        raise ValueError(f"LeGEM: {where} 'choosing' must be [B, T+1, n] = {(b, t + 1, n)}, got {choosing.shape}")
    if (lengths < 0).any() or (lengths > t).any():
        raise ValueError(f"LeGEM: {where} episode lengths must lie in [0, {t}], got {lengths.tolist()}")
    steps = np.arange(t)[None, :] < lengths[:, None]  # [B, T]
    choosing = np.asarray(choosing[:, :t + 1]).astype(bool)
    action = np.where(choosing[:, :t], actions, busy).astype(np.int64)  # [B, T, n]
    # without the row after the last step, the last step's endings are unknown: count every agent as ended there
    after = choosing[:, 1:] if choosing.shape[1] == t + 1 else np.concatenate(
        [choosing[:, 1:], np.ones_like(choosing[:, :1])], axis=1)  # [B, T, n] chooses again at t + 1
    ended = ~choosing[:, :t] & after & steps[..., None]  # [B, T, n]
    return Episodes(obs=np.asarray(obs[:, :t], dtype=np.float32), action=action,
                    reward=np.where(steps, reward, 0.0).astype(np.float64), lengths=lengths.astype(np.int64),
                    ended=ended)


def from_trajectory(traj: dict, obs_field: str, busy: int = 0) -> Episodes:
    """One rollout trajectory (numpy dict) as B = 1 episodes; busy steps keyed with action ``busy``."""
    where = f"trajectory {traj.get('episode_id', '?')}"
    reward = np.asarray(_need(traj, "reward", where), dtype=np.float64)
    if reward.ndim != 1:
        raise ValueError(f"LeGEM: {where} 'reward' must be [T], got shape {reward.shape}")
    length = int(traj.get("length", reward.shape[0]))
    if length != reward.shape[0]:
        raise ValueError(f"LeGEM: {where} 'length' = {length} but 'reward' has {reward.shape[0]} steps")
    return _build(np.asarray(_need(traj, obs_field, where))[None], np.asarray(_need(traj, "actions", where))[None],
                  np.asarray(_need(traj, "choosing", where))[None], reward[None], np.asarray([length]), where,
                  busy)


def from_batch(batch: dict, obs_field: str, busy: int = 0) -> Episodes:
    """A torch episode Batch (rows are whole episodes from step 0, padding masked by ``filled``); busy steps
    keyed with action ``busy``."""
    def arr(name):
        v = _need(batch, name, "batch")
        return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    filled = arr("filled") > 0  # [B, T]
    lengths = filled.sum(axis=1)
    if (filled != (np.arange(filled.shape[1])[None, :] < lengths[:, None])).any():
        raise ValueError("LeGEM: batch 'filled' must be a prefix of ones per row (whole episodes from step 0)")
    if "t" in batch:  # replay's absolute step of each row: windows and the Mac-JERT view break row == step
        time = arr("t")[:, : filled.shape[1]]  # [B, T]
        if (np.where(filled, time != np.arange(filled.shape[1])[None, :], False)).any():
            raise ValueError("LeGEM: batch rows must be whole episodes, one row per step from step 0 (replay "
                             "window = 0 and the 'mac_sjert' view); got rows whose 't' is not 0, 1, 2, ...")
    return _build(arr(obs_field), arr("actions"), arr("choosing"), arr("reward").astype(np.float64), lengths,
                  "batch", busy)
