"""Atomic, verified checkpoint files.

A checkpoint is one file ``ckpt_<updates>.pt``: a magic line, the SHA-256 of the payload, then the payload (a
``torch.save`` of a plain dict). It is written to a temporary file in the same folder, fsynced, renamed over the
final name and the folder fsynced, so a crash leaves either the old file or the new one, never half of one. A
reader recomputes the hash and refuses a file that does not match.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import torch

MAGIC = b"ASYNCMARL-CKPT-1\n"
_NAME = re.compile(r"^ckpt_(\d+)\.pt$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not belong to the run being resumed."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(folder: str | Path, updates: int, state: dict, keep: int = 3) -> Path:
    """Write ``state`` as ``folder/ckpt_<updates>.pt`` atomically; keep the newest ``keep`` files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getbuffer()  # a view, not a copy: with replay inside, the payload can be gigabytes
    digest = hashlib.sha256(payload).hexdigest().encode()
    final = folder / f"ckpt_{updates:010d}.pt"
    tmp = folder / f".{final.name}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(MAGIC + digest + b"\n")
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(folder)
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return final


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: str | Path) -> dict:
    """Read and verify one checkpoint file; :class:`CheckpointError` if it is not one or is corrupt."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    data = path.read_bytes()
    head = len(MAGIC)
    if not data.startswith(MAGIC) or len(data) < head + 65:
        raise CheckpointError(f"{path} is not an asyncmarl checkpoint (bad header)")
    digest, payload = data[head:head + 64], data[head + 65:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt: its content hash does not match (truncated or "
                              "modified file); resume from an older checkpoint in the same folder")
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file from a file path, a checkpoints folder, or a run directory (its newest checkpoint)."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path / "checkpoints", path):
        found = list_checkpoints(folder)
        if found:
            return found[-1]
    raise CheckpointError(f"no checkpoint found at {path} (expected a ckpt_*.pt file or a run directory "
                          "holding checkpoints/)")
