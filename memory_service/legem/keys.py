"""Afterstate node keys (o_i^t, u_i^t): exact bytes for small discrete observations, SimHash otherwise.

A key is a ``bytes`` object: the observation part (the raw float32 bytes, or the packed SimHash sign bits)
followed by the action as 8 little-endian bytes. Keys for a whole trajectory are built in one array pass.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.memory_service.legem.config import LegemConfig


def simhash_projection(obs_dim: int, bits: int, seed: int) -> np.ndarray:
    """The fixed Gaussian projection [bits, obs_dim] of SimHash (Charikar 2002).

    Drawn from ``np.random.default_rng((seed, obs_dim, bits))``, whose stream numpy keeps stable across
    processes and platforms, so the same observation gets the same key in every rollout worker and learner.
    """
    rng = np.random.default_rng((int(seed), int(obs_dim), int(bits)))
    return rng.standard_normal((bits, obs_dim))  # [k, O] float64


def simhash_bits(obs: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """Sign pattern of ``projection @ obs``: [..., k] bool. Observations at a small angle share most bits."""
    return (np.asarray(obs, dtype=np.float64) @ projection.T) > 0.0  # [..., k]


def _rows_to_bytes(rows: np.ndarray) -> list[bytes]:
    """One ``bytes`` per row of a 2-D array, without a Python loop over the row contents."""
    rows = np.ascontiguousarray(rows)
    if rows.shape[1] == 0:
        return [b""] * rows.shape[0]
    void = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))  # [L, 1]
    return void.ravel().tolist()


class KeyMaker:
    """Builds afterstate keys for one observation width; ``mode`` is "exact" or "simhash" once resolved."""

    def __init__(self, config: LegemConfig, obs_dim: int):
        self.obs_dim = int(obs_dim)
        if config.key == "auto":
            self.mode = "exact" if self.obs_dim <= config.exact_max_dim else "simhash"
        else:
            self.mode = config.key
        self.projection = (simhash_projection(self.obs_dim, config.simhash_bits, config.seed)
                           if self.mode == "simhash" else None)

    def keys(self, obs: np.ndarray, actions: np.ndarray) -> list[bytes]:
        """Keys of ``L`` afterstates: ``obs`` [L, O], ``actions`` [L] int -> list of L ``bytes``."""
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"LeGEM keys: observations must be [L, {self.obs_dim}], got shape {obs.shape}")
        if self.mode == "exact":
            # + 0.0 turns -0.0 into 0.0, so equal observations always give equal bytes
            head = np.ascontiguousarray(obs.astype(np.float32) + np.float32(0.0)).view(np.uint8)  # [L, 4 * O]
        else:
            head = np.packbits(simhash_bits(obs, self.projection), axis=1)  # [L, ceil(k / 8)]
        tail = np.ascontiguousarray(np.asarray(actions, dtype="<i8").reshape(-1, 1)).view(np.uint8)  # [L, 8]
        return _rows_to_bytes(np.concatenate([head, tail], axis=1))
