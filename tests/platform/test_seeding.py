"""One SeedSequence per run: named streams are reproducible, independent of each other and of call order, and
continue from a handed-over stream; bad seeds and paths are refused."""
import zlib

import numpy as np
import pytest

from asyncmarl.platform import seeding


def state(seq) -> list[int]:
    return seq.generate_state(4).tolist()


def test_a_stream_is_the_named_child_of_the_run_seed():
    seq = seeding.stream(3, "replay", 1)
    assert state(seq) == state(np.random.SeedSequence(3, spawn_key=(zlib.crc32(b"replay"), 1)))
    assert state(seq) == state(seeding.stream(3, "replay", 1))  # any process derives the same
    assert state(seeding.stream(seeding.stream(3, "replay"), 1)) == state(seq)  # continuing from a handed stream
    others = [seeding.stream(3, "replay", 0), seeding.stream(4, "replay", 1), seeding.stream(3, "learner", 1),
              seeding.stream(3, "replay", 1, 0)]
    assert all(state(o) != state(seq) for o in others)


def test_rollout_seeds_are_fresh_per_restart_and_never_collide_across_runs():
    seeds = {(run, w, k): seeding.rollout_seed(run, w, k) for run in range(3) for w in range(4) for k in range(3)}
    assert len(set(seeds.values())) == len(seeds)
    assert seeding.rollout_seed(1, 0) != seeding.rollout_seed(0, 1000)  # the old seed * 1000 + worker clash
    assert all(0 <= s < 2**63 for s in seeds.values())
    a, b = seeding.generator(5, "x").integers(1 << 30, size=8), seeding.generator(5, "x").integers(1 << 30, size=8)
    assert a.tolist() == b.tolist()


def test_bad_seeds_and_paths_are_refused():
    with pytest.raises(ValueError, match="non-negative int"):
        seeding.stream(-1, "replay")
    with pytest.raises(ValueError, match="non-negative int"):
        seeding.stream(1.5, "replay")
    with pytest.raises(ValueError, match="names and non-negative ints"):
        seeding.stream(1, "replay", -2)
