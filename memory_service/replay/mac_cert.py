"""Mac-CERT, the decentralised baselines' buffer, as a view of the same stored episodes.

Following Xiao et al.'s decentralised learners (yuchen-x/MacroMARL ``mac_dec_ddrqn``, ``mac_iaicc``): agent i
trains on its own decision steps only. Its k-th transition runs from the row where it chose its k-th action to
the row where it chooses again (or the episode's final observation row) and carries

* ``cert_return[b, i, k] = sum_{t=start}^{end} gamma^(t - start) r_t``: the joint reward accumulated over the
  action, restarting at the step after the agent's previous action ended (the reference's ``accu_rewards``);
* ``cert_discount[b, i, k] = gamma^(end - start + 1)``: the discount of the bootstrap, gamma to the power of the
  action's duration in primitive steps.

Every row where some agent decides is a kept row of the Mac-JERT view, so each agent's decision rows are a
subsequence of the squeezed rows. The batch is therefore the Mac-JERT batch (:func:`.mac_jert.squeeze`) plus
these two tables over its re-indexed segment tables: agent i's k-th action starts at squeezed row
``seg_start[b, i, k]``, runs the squeezed transitions ``seg_start .. seg_end`` and its next decision is at
squeezed row ``seg_end + 1``. Centralised critics and Q networks read the joint rows, decentralised ones gather
their agent's rows; nothing is stored twice.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.memory_service.replay.mac_jert import squeeze


def cert_view(rows: dict[str, np.ndarray], gamma: float) -> dict[str, np.ndarray]:
    """The Mac-CERT batch (numpy) from a Mac-SJERT one built by ``batch.build_rows``."""
    m = rows["seg_mask"] > 0  # [B, n, K]
    duration = (rows["seg_end"] - rows["seg_start"] + 1).astype(np.float64)  # [B, n, K] primitive steps
    out = squeeze(rows, gamma)
    out["cert_return"] = np.where(m, rows["seg_return"], 0.0).astype(np.float32)  # discounted from the start
    out["cert_discount"] = np.where(m, gamma ** duration, 0.0).astype(np.float32)
    return out
