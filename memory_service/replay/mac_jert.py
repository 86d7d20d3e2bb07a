"""Mac-JERT, the baselines' buffer, as a view of the same stored episodes.

Following the reference value-based ``mac_cen_q`` runner and its squeezing learner (yuchen-x/MacroMARL):
only the rows where some agent's action ended are kept (plus the first row and the final observation row).
Squeezed transition ``g`` runs from kept row ``tau_g`` to ``tau_{g+1}`` and carries

* the rows of ``tau_g`` (state, frozen macro-observations ``obs``, joint action, masks, elapsed);
* ``reward[g] = sum_{t=tau_g}^{tau_{g+1}-1} gamma^(t - tau_g) r_t``: the joint reward accumulated since the last
  row where any action ended, discounted from that row and reset there (the reference's ``accu_joint_rewards``);
* ``discount[g] = gamma^(tau_{g+1} - tau_g)``, so the target is ``reward + discount * Q'(tau_{g+1})`` (the
  reference's ``discount * mac_joint_gamma`` with ``mac_joint_gamma = gamma^(k-1)`` for a k-step transition).

Segment tables are re-indexed to squeezed steps; ``seg_return`` becomes what Mac-JERT credits the action
with: the accumulated reward of the squeezed transition in which it ended (ToMacVF Figure 1(3)).
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.schema import ACTION_FIELDS, FIELDS, MAC_JERT, OBS_ROWS

_KEPT_ROWS = tuple(f.name for f in FIELDS if f.rows == OBS_ROWS and MAC_JERT in f.views)  # copied from kept rows
_AT_START = tuple(f for f in ACTION_FIELDS if f != "reward")  # a transition's actions/elapsed are its first step's


def squeeze(rows: dict[str, np.ndarray], gamma: float) -> dict[str, np.ndarray]:
    """The Mac-JERT batch (numpy, no encodings) from a Mac-SJERT one built by ``batch.build_rows``."""
    filled = rows["filled"] > 0  # [B, T]
    B, T = filled.shape
    L = filled.sum(1)  # [B] steps
    t = np.arange(T + 1)
    rowvalid = t[None] <= L[:, None]  # [B, T+1]
    keep = rowvalid & (rows["choosing"].any(-1) | (t[None] == 0) | (t[None] == L[:, None]))  # [B, T+1]
    pos = np.cumsum(keep, 1) - 1  # [B, T+1] squeezed index of the last kept row at or before t
    Lq = keep.sum(1) - 1  # [B] squeezed transitions
    Tq = int(Lq.max())
    bk, tk = np.nonzero(keep)
    pk = pos[bk, tk]
    out: dict[str, np.ndarray] = {}
    for f in _KEPT_ROWS:
        out[f] = np.zeros((B, Tq + 1) + rows[f].shape[2:], rows[f].dtype)
        out[f][bk, pk] = rows[f][bk, tk]
    tau = np.zeros((B, Tq + 1), np.int64)  # row (in the unsqueezed batch) of each kept row
    tau[bk, pk] = tk
    # padding rows keep counting time from the final row, as unsqueezed batches do
    tq = np.arange(Tq + 1)[None]
    out["t"] = np.where(tq <= Lq[:, None], out["t"], out["t"][np.arange(B), Lq][:, None] + tq - Lq[:, None])
    step = tk < L[bk]  # kept rows that start a transition
    bs, ts, ps = bk[step], tk[step], pk[step]
    for f in _AT_START:
        out[f] = np.zeros((B, Tq) + rows[f].shape[2:], rows[f].dtype)
        out[f][bs, ps] = rows[f][bs, ts]
    # accumulated discounted reward of every squeezed transition, one bincount for the whole batch
    bf, tf = np.nonzero(filled)
    g = pos[bf, tf]
    w = gamma ** (tf - tau[bf, g]).astype(np.float64) * rows["reward"][bf, tf]
    out["reward"] = np.bincount(bf * Tq + g, weights=w, minlength=B * Tq).reshape(B, Tq).astype(np.float32)
    fq = np.arange(Tq)[None] < Lq[:, None]  # [B, Tq]
    out["filled"] = fq.astype(np.float32)
    nxt = np.where(fq, tau[:, 1:], 1)  # [B, Tq] next kept row
    out["discount"] = np.where(fq, gamma ** (nxt - tau[:, :-1]).astype(np.float64), 0.0).astype(np.float32)
    last_step = np.maximum(nxt - 1, 0)  # [B, Tq] last unsqueezed step of each transition
    rb = np.arange(B)[:, None]
    out["terminated"] = rows["terminated"][rb, last_step] * fq
    out["action_end"] = rows["action_end"][rb, last_step] & fq[..., None]
    out["burn_in"] = rows["burn_in"][rb, np.minimum(tau[:, :-1], T - 1)] * fq
    out["episode_id"], out["policy_version"] = rows["episode_id"], rows["policy_version"]
    m = rows["seg_mask"] > 0  # [B, n, K]
    b3 = np.broadcast_to(rb[:, :, None], m.shape)
    s_q = np.where(m, pos[b3, rows["seg_start"]], 0)
    e_q = np.where(m, pos[b3, np.minimum(rows["seg_end"] + 1, T)] - 1, 0)
    out["seg_start"], out["seg_end"], out["seg_mask"] = s_q, e_q, rows["seg_mask"]
    out["seg_return"] = np.where(m, out["reward"][b3, e_q], 0.0).astype(np.float32)
    return out
