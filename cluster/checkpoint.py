"""Atomic, verified checkpoint files that cannot run code when loaded.

A checkpoint is one file ``ckpt_<updates>.pt``::

    ASYNCMARL-CKPT-2\\n
    <SHA-256 of everything below, 64 hex digits>\\n
    <manifest length, 8 bytes little-endian><manifest: UTF-8 JSON><padding><array blobs, each 64-byte aligned>

The manifest is the state tree in JSON: lists are JSON arrays; every other container or array is a JSON object
with a ``"t"`` tag (``dict`` with typed keys, ``tuple``, ``tensor``, ``ndarray``, ``scalar``, ``bytes``); arrays
name a dtype from a fixed list, a shape and their byte range in the blob area. Loading parses JSON and copies raw
bytes into arrays: there is no pickle, so a crafted file can at worst be refused, never execute anything. Files
of the old pickled format (``ASYNCMARL-CKPT-1``) are refused for the same reason.

Writing streams the blobs to a temporary file in the same folder (no in-memory copy of a replay-sized buffer),
hashes as it goes, fsyncs, renames over the final name and fsyncs the folder: a crash leaves the old file or the
new one, never half of one, and a failed write (disk full, read-only) removes its temporary file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

MAGIC = b"ASYNCMARL-CKPT-2\n"
LEGACY_MAGIC = b"ASYNCMARL-CKPT-1\n"
_ALIGN = 64
_NAME = re.compile(r"^ckpt_(\d+)\.pt$")

# The only element types a checkpoint may hold; anything else is refused when saving and when loading.
_NP_DTYPES = {name: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64")}
_TORCH_DTYPES = {"bool": torch.bool, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
                 "int64": torch.int64, "uint8": torch.uint8, "float16": torch.float16, "bfloat16": torch.bfloat16,
                 "float32": torch.float32, "float64": torch.float64}
_TORCH_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, unsafe, or does not belong to the run being resumed."""


# ---------------------------------------------------------------------------------------------- encoding
class _Encoder:
    """Turns a state tree into a JSON-able manifest and a list of byte buffers laid out at aligned offsets."""

    def __init__(self):
        self.blobs: list[tuple[int, memoryview]] = []  # (offset in the blob area, bytes)
        self.size = 0

    def _blob(self, buf: memoryview) -> dict:
        off = self.size
        self.blobs.append((off, buf))
        self.size = off + -(-buf.nbytes // _ALIGN) * _ALIGN
        return {"off": off, "len": buf.nbytes}

    def encode(self, x: Any, where: str) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, (int, float)) and not isinstance(x, (np.generic,)):
            return x
        if isinstance(x, dict):
            return {"t": "dict", "items": [[self._key(k, where), self.encode(v, f"{where}.{k}")]
                                           for k, v in x.items()]}
        if isinstance(x, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, tuple):
            return {"t": "tuple", "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            if t.dtype not in _TORCH_NAMES:
                raise CheckpointError(f"cannot checkpoint {where}: tensor dtype {t.dtype} is not supported")
            raw = t.reshape(-1).view(torch.uint8).numpy() if t.numel() else np.empty(0, np.uint8)
            return {"t": "tensor", "dtype": _TORCH_NAMES[t.dtype], "shape": list(t.shape),
                    **self._blob(memoryview(raw).cast("B"))}
        if isinstance(x, np.ndarray):
            a = np.ascontiguousarray(x)
            if a.dtype.name not in _NP_DTYPES:
                raise CheckpointError(f"cannot checkpoint {where}: array dtype {a.dtype} is not supported")
            return {"t": "ndarray", "dtype": a.dtype.name, "shape": list(a.shape),
                    **self._blob(memoryview(a.reshape(-1)).cast("B"))}
        if isinstance(x, np.generic):
            if x.dtype.name not in _NP_DTYPES:
                raise CheckpointError(f"cannot checkpoint {where}: scalar dtype {x.dtype} is not supported")
            return {"t": "scalar", "dtype": x.dtype.name, "value": x.item()}
        if isinstance(x, bytes):
            return {"t": "bytes", **self._blob(memoryview(x))}
        raise CheckpointError(f"cannot checkpoint {where}: values of type {type(x).__name__} are not supported "
                              "(use tensors, numpy arrays, numbers, strings, lists, tuples and dicts)")

    @staticmethod
    def _key(k: Any, where: str) -> Any:
        if isinstance(k, (str, int, float, bool)) or k is None:
            return k
        if isinstance(k, np.integer):
            return int(k)
        raise CheckpointError(f"cannot checkpoint {where}: dict key {k!r} of type {type(k).__name__}")


class _Decoder:
    """The inverse of :class:`_Encoder`, over a verified blob area; every field is checked before use."""

    def __init__(self, blobs: memoryview, path: Path):
        self.blobs, self.path = blobs, path

    def _bad(self, msg: str) -> CheckpointError:
        return CheckpointError(f"{self.path} is not a valid asyncmarl checkpoint: {msg}")

    def _bytes(self, node: dict, nbytes: int | None = None) -> memoryview:
        off, ln = node.get("off"), node.get("len")
        if not (isinstance(off, int) and isinstance(ln, int)) or off < 0 or ln < 0 or off + ln > len(self.blobs):
            raise self._bad(f"array range {off}+{ln} outside the file")
        if nbytes is not None and nbytes != ln:
            raise self._bad(f"array of {ln} bytes does not match its shape and dtype ({nbytes} bytes)")
        return self.blobs[off:off + ln]

    def _shape(self, node: dict) -> tuple[int, ...]:
        shape = node.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise self._bad(f"bad array shape {shape!r}")
        return tuple(shape)

    def decode(self, x: Any) -> Any:
        if x is None or isinstance(x, (bool, str, int, float)):
            return x
        if isinstance(x, list):
            return [self.decode(v) for v in x]
        if not isinstance(x, dict) or "t" not in x:
            raise self._bad("untagged object in the manifest")
        tag = x["t"]
        if tag == "dict":
            return {k: self.decode(v) for k, v in x["items"]}
        if tag == "tuple":
            return tuple(self.decode(v) for v in x["items"])
        if tag == "ndarray":
            dtype = _NP_DTYPES.get(x.get("dtype"))
            if dtype is None:
                raise self._bad(f"array dtype {x.get('dtype')!r} is not allowed")
            shape = self._shape(x)
            raw = self._bytes(x, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if tag == "tensor":
            dtype = _TORCH_DTYPES.get(x.get("dtype"))
            if dtype is None:
                raise self._bad(f"tensor dtype {x.get('dtype')!r} is not allowed")
            shape = self._shape(x)
            itemsize = torch.empty((), dtype=dtype).element_size()
            raw = self._bytes(x, int(np.prod(shape, dtype=np.int64)) * itemsize)
            if len(raw) == 0:
                return torch.empty(shape, dtype=dtype)
            return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)
        if tag == "scalar":
            dtype = _NP_DTYPES.get(x.get("dtype"))
            if dtype is None:
                raise self._bad(f"scalar dtype {x.get('dtype')!r} is not allowed")
            return dtype.type(x["value"])
        if tag == "bytes":
            return bytes(self._bytes(x))
        raise self._bad(f"unknown tag {tag!r}")


# ---------------------------------------------------------------------------------------------- files
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _header_len(manifest_len: int) -> int:
    """Bytes from the file start to the blob area: magic, digest line, length, manifest, padding."""
    raw = len(MAGIC) + 65 + 8 + manifest_len
    return -(-raw // _ALIGN) * _ALIGN


def save_checkpoint(folder: str | Path, updates: int, state: dict, keep: int = 3) -> Path:
    """Write ``state`` as ``folder/ckpt_<updates>.pt`` atomically; keep the newest ``keep`` files.

    ``state`` may hold tensors, numpy arrays and scalars, numbers, strings, bytes, lists, tuples and dicts
    (keys: str, int, float, bool or None); anything else raises :class:`CheckpointError` naming its place.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    enc = _Encoder()
    manifest = json.dumps(enc.encode(state, "state"), separators=(",", ":")).encode()
    start = _header_len(len(manifest))
    pad = start - (len(MAGIC) + 65 + 8 + len(manifest))
    final = folder / f"ckpt_{updates:010d}.pt"
    tmp = folder / f".{final.name}.tmp-{os.getpid()}"
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + b"0" * 64 + b"\n")

            def put(b) -> None:
                h.update(b)
                f.write(b)

            put(struct.pack("<Q", len(manifest)))
            put(manifest)
            put(b"\0" * pad)
            pos = 0
            for off, buf in enc.blobs:  # blobs in offset order; pad between them to keep alignment
                if off > pos:
                    put(b"\0" * (off - pos))
                put(buf)
                pos = off + buf.nbytes
            f.seek(len(MAGIC))
            f.write(h.hexdigest().encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full or read-only disk leaves nothing half-written behind
        raise
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
    """Read and verify one checkpoint file; :class:`CheckpointError` if it is not one, is corrupt or unsafe.

    Nothing in the file is executed: the manifest is JSON and arrays are raw bytes of a fixed list of dtypes.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    size = path.stat().st_size
    data = bytearray(size)
    with open(path, "rb") as f:
        got = f.readinto(data)
    view = memoryview(data)[:got]
    if view[:len(LEGACY_MAGIC)] == LEGACY_MAGIC:
        raise CheckpointError(f"{path} is a checkpoint of the old pickled format, which can run code when "
                              "loaded; it is refused. Retrain, or convert a file you trust with "
                              "`asyncmarl convert-checkpoint --trust`")
    head = len(MAGIC)
    if view[:head] != MAGIC or got < head + 65 + 8:
        raise CheckpointError(f"{path} is not an asyncmarl checkpoint (bad header)")
    digest = bytes(view[head:head + 64])
    body = view[head + 65:]
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt: its content hash does not match (truncated or "
                              "modified file); resume from an older checkpoint in the same folder")
    (mlen,) = struct.unpack("<Q", body[:8])
    if 8 + mlen > len(body):
        raise CheckpointError(f"{path} is not a valid asyncmarl checkpoint: manifest length {mlen} too large")
    try:
        manifest = json.loads(bytes(body[8:8 + mlen]))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not a valid asyncmarl checkpoint: manifest is not JSON ({e})") from None
    blobs = view[_header_len(mlen):]
    try:
        state = _Decoder(blobs, path).decode(manifest)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path} is not a valid asyncmarl checkpoint: {e}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a valid asyncmarl checkpoint: the top level is not a dict")
    return state


def convert_legacy_checkpoint(path: str | Path, out: str | Path) -> Path:
    """Rewrite an old pickled checkpoint (``ASYNCMARL-CKPT-1``) in the current format.

    This UNPICKLES the old file, which runs any code it carries: call it only on files you made yourself.
    """
    import io

    path, out = Path(path), Path(out)
    data = path.read_bytes()
    if not data.startswith(LEGACY_MAGIC):
        raise CheckpointError(f"{path} is not an old-format asyncmarl checkpoint")
    payload = data[len(LEGACY_MAGIC) + 65:]
    if hashlib.sha256(payload).hexdigest().encode() != data[len(LEGACY_MAGIC):len(LEGACY_MAGIC) + 64]:
        raise CheckpointError(f"checkpoint {path} is corrupt: its content hash does not match")
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    m = _NAME.match(out.name)
    if m is None:
        raise CheckpointError(f"output name {out.name} must look like ckpt_<updates>.pt")
    return save_checkpoint(out.parent, int(m.group(1)), state, keep=0)


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
