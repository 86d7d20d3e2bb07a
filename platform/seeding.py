"""Every random stream of a run comes from one ``numpy.random.SeedSequence`` of the run seed.

A stream is named by a path of role names and indices, e.g. ``("rollout", worker_id, incarnation)``,
``("replay", shard_id)``, ``("learner", "init")``. ``stream(seed, *path)`` is the child
``SeedSequence(seed, spawn_key=key(path))``: what ``SeedSequence(seed).spawn`` would hand out, but chosen by name
instead of by call order, so adding a worker, restarting an actor or building roles in another order never shifts
another role's stream, and any process can derive any stream from the run seed alone. Names become spawn-key
entries by CRC-32 (stable across processes and Python versions, unlike ``hash``); a path may continue from a
``SeedSequence`` (a role derives its own sub-streams from the one it was handed).

The run's streams (``cluster.roles`` and ``cluster.topology`` derive them):

==============================================  ==================================================================
path from the run seed                          seeds
==============================================  ==================================================================
``rollout, worker_id, incarnation``             a rollout worker (``rollout_seed``); it derives ``envs``
                                                (environment resets and exploration), ``episode_ids``, ``net``
                                                (its network's initial weights) and ``evaluation`` from it
``replay, shard_id``                            a replay shard's sampling
``learner, init``                               the learner's initial weights (torch)
``learner, batch_split``                        how the learner host splits each batch across shards
==============================================  ==================================================================
"""
from __future__ import annotations

import zlib

import numpy as np

SeedLike = int | np.random.SeedSequence


def _key(part: str | int) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode())
    if isinstance(part, bool) or not isinstance(part, (int, np.integer)) or part < 0:
        raise ValueError(f"a stream path holds names and non-negative ints, got {part!r}")
    return int(part)


def stream(seed: SeedLike, *path: str | int) -> np.random.SeedSequence:
    """The child stream ``path`` of ``seed`` (an int run seed, or a SeedSequence to continue from)."""
    base = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(_root(seed))
    return np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(_key(p) for p in path),
                                  pool_size=base.pool_size)


def generator(seed: SeedLike, *path: str | int) -> np.random.Generator:
    """A numpy Generator on the stream ``path`` of ``seed``."""
    return np.random.default_rng(stream(seed, *path))


def integer(seed: SeedLike, *path: str | int) -> int:
    """One 63-bit integer from the stream ``path`` of ``seed``: for APIs that take an int (``torch.manual_seed``,
    a role's seed argument)."""
    return int(stream(seed, *path).generate_state(1, np.uint64)[0] >> np.uint64(1))


def rollout_seed(run_seed: int, worker_id: int, incarnation: int = 0) -> int:
    """The seed of rollout worker ``worker_id``'s ``incarnation``-th start: a restarted worker gets a fresh one
    (so fresh episode ids, never ones a shard has already closed)."""
    return integer(run_seed, "rollout", worker_id, incarnation)


def _root(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)
