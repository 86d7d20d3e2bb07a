"""Building the padded episode batch (layout in :mod:`asyncmarl.platform.roles`) from stored episodes.

Every field is gathered with one scatter into a zero-padded ``[B, T(+1), ...]`` array (keys, dtypes and shapes
in :mod:`asyncmarl.platform.schema`). Temporal encodings are not built here: the agent network computes f_e(t)
and f_e(t_m) from ``t`` ``[B, T+1]`` (absolute step of each row; windows and the Mac-JERT view make it differ
from the row index; on padding rows it keeps counting so differences stay positive) and ``elapsed``.
"""
from __future__ import annotations

import numpy as np
import torch

from asyncmarl.memory_service.replay.storage import Episode
from asyncmarl.platform.schema import ACTION_FIELDS, BATCH_DTYPES, FINAL_FIELDS


def choose_window(ep: Episode, window: int, burn_in: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """(lo, hi, burn): steps lo..hi-1 (observation rows lo..hi) of ``ep``; the first ``burn`` are warm-up."""
    if not window or ep.T <= window:
        return 0, ep.T, 0
    w0 = int(rng.integers(0, ep.T - window + 1))
    lo = max(0, w0 - burn_in)
    return lo, w0 + window, w0 - lo


def _scatter(parts: list[np.ndarray], rows: int, dtype) -> np.ndarray:
    """Stack variable-length ``parts`` ([L_b, ...]) into a zero-padded ``[B, rows, ...]`` array. One contiguous
    copy per episode (measured faster than concatenating and scattering with a flat index)."""
    out = np.zeros((len(parts), rows) + parts[0].shape[1:], dtype)
    for b, p in enumerate(parts):
        out[b, : len(p)] = p
    return out


def build_rows(episodes: list[Episode], cuts: list[tuple[int, int, int]], n_agents: int) -> dict[str, np.ndarray]:
    """The Mac-SJERT batch as numpy arrays."""
    L = np.array([hi - lo for lo, hi, _ in cuts], np.int64)  # [B] steps per row of the batch
    T = int(L.max())
    out = {f: _scatter([e.rows[f][lo : hi + 1] for e, (lo, hi, _) in zip(episodes, cuts, strict=True)], T + 1,
                       BATCH_DTYPES[f])
           for f in FINAL_FIELDS}
    for f in ACTION_FIELDS:  # stored compact, widened to the batch dtype here
        out[f] = _scatter([e.rows[f][lo:hi] for e, (lo, hi, _) in zip(episodes, cuts, strict=True)], T, BATCH_DTYPES[f])
    t = np.arange(T + 1)
    lo = np.array([c[0] for c in cuts], np.int64)
    out["t"] = lo[:, None] + t[None]  # [B, T+1] absolute step; keeps counting on padding (use filled)
    filled = t[None, :T] < L[:, None]  # [B, T]
    out["filled"] = filled.astype(BATCH_DTYPES["filled"])
    out["burn_in"] = (t[None, :T] < np.array([c[2] for c in cuts])[:, None]).astype(BATCH_DTYPES["burn_in"])
    ends_episode = np.array([hi == e.T for e, (_, hi, _) in zip(episodes, cuts, strict=True)])  # [B]
    last = (t[None, :T] == L[:, None] - 1) & ends_episode[:, None]  # [B, T] the episode's last step
    term = np.array([e.terminated for e in episodes])
    out["terminated"] = (last & term[:, None]).astype(BATCH_DTYPES["terminated"])
    # An action ends where its agent chooses next, and every action ends with the episode.
    out["action_end"] = (out["choosing"][:, 1:] | last[..., None]) & filled[..., None]  # [B, T, n]
    out["episode_id"] = np.array([e.episode_id for e in episodes], BATCH_DTYPES["episode_id"])
    out["policy_version"] = np.array([e.policy_version for e in episodes], BATCH_DTYPES["policy_version"])
    out.update(_segment_tables(episodes, cuts, n_agents))
    return out


def _segment_tables(episodes, cuts, n_agents) -> dict[str, np.ndarray]:
    """Per-agent tables [B, n, K] of the segments that lie wholly inside each row's window."""
    bs, ags, ks, starts, ends, rets = [], [], [], [], [], []
    for b, (e, (lo, hi, _)) in enumerate(zip(episodes, cuts, strict=True)):
        s = e.seg
        sel = (s["start"] >= lo) & (s["end"] < hi)
        agent = s["agent"][sel]
        _, first, inverse = np.unique(agent, return_index=True, return_inverse=True)
        ks.append(np.arange(len(agent)) - first[inverse])  # k relative to the first kept action of each agent
        bs.append(np.full(len(agent), b))
        ags.append(agent)
        starts.append(s["start"][sel] - lo)
        ends.append(s["end"][sel] - lo)
        rets.append(s["ret"][sel])
    b, a, k = (np.concatenate(x) for x in (bs, ags, ks))
    K = int(k.max(initial=0)) + 1
    tables = {f: np.zeros((len(episodes), n_agents, K), BATCH_DTYPES[f])
              for f in ("seg_start", "seg_end", "seg_return", "seg_mask")}
    tables["seg_start"][b, a, k] = np.concatenate(starts)
    tables["seg_end"][b, a, k] = np.concatenate(ends)
    tables["seg_return"][b, a, k] = np.concatenate(rets)
    tables["seg_mask"][b, a, k] = 1.0
    return tables


def to_torch(out: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Tensors sharing the arrays' memory (read-only arrays, e.g. fetched from Ray's object store, are copied)."""
    return {k: torch.from_numpy(v if v.flags.writeable and v.flags.c_contiguous else np.array(v))
            for k, v in out.items()}
