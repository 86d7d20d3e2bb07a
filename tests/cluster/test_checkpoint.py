"""Checkpoint files: atomic writes, content hash, newest-first resolution, pruning."""
from __future__ import annotations

import pytest
import torch

from asyncmarl.cluster.checkpoint import (CheckpointError, list_checkpoints, load_checkpoint, resolve_checkpoint,
                                          save_checkpoint)


def test_round_trip_and_no_temp_files_left(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "counters": {"updates": 7}}
    path = save_checkpoint(tmp_path, 7, state)
    got = load_checkpoint(path)
    assert torch.equal(got["w"], state["w"]) and got["counters"] == {"updates": 7}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    path = save_checkpoint(tmp_path, 1, {"x": torch.ones(100)})
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="corrupt|bad header"):
        load_checkpoint(path)
    other = tmp_path / "ckpt_0000000002.pt"
    other.write_bytes(b"hello")
    with pytest.raises(CheckpointError, match="not an asyncmarl checkpoint"):
        load_checkpoint(other)


def test_keeps_newest_and_resolves_from_run_dir(tmp_path):
    folder = tmp_path / "checkpoints"
    for u in (5, 10, 15, 20):
        save_checkpoint(folder, u, {"u": u}, keep=2)
    assert [p.name for p in list_checkpoints(folder)] == ["ckpt_0000000015.pt", "ckpt_0000000020.pt"]
    assert load_checkpoint(resolve_checkpoint(tmp_path))["u"] == 20
    assert load_checkpoint(resolve_checkpoint(folder))["u"] == 20
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path / "nothing")
