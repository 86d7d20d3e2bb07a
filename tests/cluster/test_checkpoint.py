"""Checkpoint files: atomic writes, content hash, newest-first resolution, pruning, and no code execution."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import struct

import numpy as np
import pytest
import torch

from asyncmarl.cluster import cli
from asyncmarl.cluster.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)


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


def test_every_supported_type_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "tensors": {"f32": torch.randn(3, 4), "bf16": torch.randn(5).bfloat16(), "i64": torch.arange(7),
                    "bool": torch.tensor([True, False]), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)},
        "arrays": [np.arange(10, dtype=np.int32).reshape(2, 5), rng.random((2, 3)).astype(np.float16),
                   np.zeros((0, 4), np.uint8), np.array([True, False])],
        "optimizer": {0: {"step": torch.tensor(3.0)}, 1: {"step": torch.tensor(4.0)}},  # int keys stay ints
        "rng": rng.bit_generator.state,  # 128-bit integers
        "numbers": (1, 2.0, float("inf"), None, "x", True, np.float32(1.5), np.int64(-3)),
        "raw": b"\x00\x01",
    }
    got = load_checkpoint(save_checkpoint(tmp_path, 1, state))
    for k, v in state["tensors"].items():
        assert got["tensors"][k].dtype == v.dtype and torch.equal(got["tensors"][k], v), k
    for a, b in zip(got["arrays"], state["arrays"], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    assert list(got["optimizer"]) == [0, 1] and got["optimizer"][1]["step"].item() == 4.0
    assert got["rng"] == state["rng"]
    assert got["numbers"] == state["numbers"] and type(got["numbers"][6]) is np.float32
    assert got["raw"] == b"\x00\x01"
    got["arrays"][0][0, 0] = 99  # loaded arrays are writable copies
    np.random.default_rng(1).bit_generator.state = got["rng"]


def test_unsupported_values_are_refused_when_saving_and_nothing_is_written(tmp_path):
    with pytest.raises(CheckpointError, match=r"state\.learner\.f.*function"):
        save_checkpoint(tmp_path, 1, {"learner": {"f": print}})
    with pytest.raises(CheckpointError, match="dtype object"):
        save_checkpoint(tmp_path, 1, {"a": np.array([{}], dtype=object)})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def disk_full(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(tmp_path, 1, {"x": torch.ones(10)})
    assert list(tmp_path.iterdir()) == []


class _Payload:
    """Pickles to a call of ``pathlib.Path.touch`` on a marker file: what an attacker's file would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path(self.marker).touch, ())


def _craft_pickled(path, marker, magic):
    buf = io.BytesIO()
    torch.save({"config": {}, "learner": _Payload(marker)}, buf)
    payload = buf.getvalue()
    path.write_bytes(magic + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


@pytest.mark.parametrize("magic", [b"ASYNCMARL-CKPT-1\n", b"ASYNCMARL-CKPT-2\n"])
def test_a_pickled_payload_with_a_valid_hash_is_refused_and_never_run(tmp_path, magic):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "ckpt_0000000005.pt"
    marker = tmp_path / "pwned"
    _craft_pickled(ckpt, marker, magic)
    with pytest.raises(CheckpointError):
        load_checkpoint(ckpt)
    for argv in (["evaluate", str(run), "--episodes", "1"], ["render", str(ckpt), "--out", str(tmp_path / "x.gif")],
                 ["train", "--resume", str(run)]):
        assert cli.main(argv) == 2, argv
    assert not marker.exists()


def test_a_crafted_manifest_cannot_reach_outside_its_file_or_use_other_dtypes(tmp_path):
    def write(manifest):
        m = json.dumps(manifest).encode()
        body = struct.pack("<Q", len(m)) + m + b"\0" * 256
        p = tmp_path / "ckpt_0000000001.pt"
        p.write_bytes(b"ASYNCMARL-CKPT-2\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        return p

    cases = [({"t": "ndarray", "dtype": "object", "shape": [1], "off": 0, "len": 8}, "not allowed"),
             ({"t": "ndarray", "dtype": "int64", "shape": [10 ** 9], "off": 0, "len": 8}, "does not match"),
             ({"t": "tensor", "dtype": "float32", "shape": [1], "off": 10 ** 6, "len": 4}, "outside the file"),
             ({"t": "global", "name": "os.system"}, "unknown tag"), ([1, 2], "top level")]
    for manifest, msg in cases:
        with pytest.raises(CheckpointError, match=msg):
            load_checkpoint(write(manifest))


def test_legacy_conversion_needs_trust(tmp_path):
    old = tmp_path / "old.pt"
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2), "config": {"seed": 1}}, buf)
    payload = buf.getvalue()
    old.write_bytes(b"ASYNCMARL-CKPT-1\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    out = tmp_path / "ckpt_0000000003.pt"
    assert cli.main(["convert-checkpoint", str(old), str(out)]) == 2 and not out.exists()
    assert cli.main(["convert-checkpoint", str(old), str(out), "--trust"]) == 0
    assert torch.equal(load_checkpoint(out)["w"], torch.ones(2))
