"""A scripted 2m-vs-1z team that wins with 9-step attacks: a witness that the battle can be won, and a source of
winning episodes for LeGEM diagnostics (``benchmarks/marines_vs_zealot_table.py --pivots``).

The Marine nearer the Zealot (the one it chases) runs, preferring moves that keep it about ``orbit`` units from
its teammate, so the Zealot follows it round the teammate; the other Marine attacks when the Zealot is in range
and at least ``margin`` nearer the runner (so the Zealot will not turn on it during the 10 steps it is busy),
otherwise it moves to stay about 5 units from the Zealot. Deterministic; one Python pass per copy and agent
(a reference policy, not a hot path).
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.offbeat.marines_vs_zealot import ATTACK, DIRECTIONS, NOOP, WEST, ZEALOT


def kiting_actions(env, step, orbit: float = 5.0, margin: float = 2.0) -> np.ndarray:
    """[B, 2] actions of the scripted team for every copy of ``env`` (a ``MarinesVsZealot``) at ``step``
    (its last Step); busy Marines get 0 (ignored by the core)."""
    B = env.batch_size
    acts = np.zeros((B, 2), np.int64)
    stride = env._move[0]
    dist = np.where(env.hp[:, :2] > 0, env._distances(), np.inf)  # [B, 2]
    for b in range(B):
        bait = int(dist[b].argmin())
        z = env.pos[b, ZEALOT]
        for i in range(2):
            mask = step.action_mask[b, i]
            if not step.choosing[b, i] or mask[NOOP]:
                continue
            p, mate = env.pos[b, i], env.pos[b, 1 - i]
            moves = [a for a in range(1, WEST + 1) if mask[a]]  # stop and the open directions
            to = {a: p + DIRECTIONS[a] * stride for a in moves}
            if i == bait:
                acts[b, i] = max(moves, key=lambda a, to=to, mate=mate, z=z: np.linalg.norm(to[a] - z)
                                 - abs(np.linalg.norm(to[a] - mate) - orbit))
            elif mask[ATTACK] and dist[b, i] > dist[b, bait] + margin:
                acts[b, i] = ATTACK
            else:
                acts[b, i] = max(moves, key=lambda a, to=to, z=z: -abs(np.linalg.norm(to[a] - z) - 5.0))
    return acts
