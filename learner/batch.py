"""Checking an episode batch against the environment's dimensions and moving what the learner uses to its
device. Which keys the learner reads per view, their dtypes and shapes come from :mod:`asyncmarl.platform.schema`."""
from __future__ import annotations

import torch
from torch import Tensor

from asyncmarl.platform.envs.base import EnvInfo
from asyncmarl.platform.schema import FIELDS, K, learner_fields

_TORCH_DTYPES = {"float32": torch.float32, "int64": torch.long, "bool": torch.bool}
_OPTIONAL = tuple(f for f in FIELDS if f.optional)


def prepare_batch(batch: dict[str, Tensor], info: EnvInfo, view: str, device: torch.device, legem: bool,
                  need_segments: bool) -> dict[str, Tensor]:
    """The keys the learner needs, on ``device``, with the schema's dtypes (bool masks, long indices, float
    values). Raises ValueError naming a missing key or a shape that does not match ``info``."""
    need = learner_fields(view, need_segments)
    missing = [f.name for f in need if f.name not in batch]
    if missing:
        raise ValueError(f"batch for view {view!r} is missing keys {missing}")
    if legem and "reward_redistributed" not in batch:
        raise ValueError("learner.legem is true but the batch has no 'reward_redistributed' [B, T]; "
                         "add LegemMemory.redistribute(batch) to it (or set learner.legem=false)")
    fields = need + tuple(f for f in _OPTIONAL if f.name in batch and f not in need)
    out = {f.name: torch.as_tensor(batch[f.name]).to(device, non_blocking=True) for f in fields}
    B, T, _ = out["actions"].shape
    dims = {"n_agents": info.n_agents, "n_actions": info.n_actions, "obs_dim": info.obs_dim,
            "state_dim": info.state_dim}
    if "seg_mask" in out:
        dims[K] = out["seg_mask"].shape[-1]
    for f in fields:
        want = f.lead(B, T) + f.tail(dims)
        if tuple(out[f.name].shape) != want:
            raise ValueError(f"batch[{f.name!r}] has shape {tuple(out[f.name].shape)}, expected {want} for {info.name}")
        out[f.name] = out[f.name].to(_TORCH_DTYPES[f.dtype])
    return out
