"""Checking an episode batch against the environment's dimensions and moving what the learner uses to its
device (``asyncmarl.platform.roles`` documents the layout)."""
from __future__ import annotations

import torch
from torch import Tensor

from asyncmarl.platform.envs.base import EnvInfo

STEP_KEYS = ("state", "action_mask", "choosing", "actions", "elapsed", "reward", "terminated", "filled")
SJERT_KEYS = ("real_obs", "seg_start", "seg_end", "seg_return", "seg_mask")
JERT_KEYS = ("obs", "discount")
OPTIONAL = ("t", "reward_redistributed", "burn_in", "weight")  # weight: prioritised sampling, [B]


def prepare_batch(batch: dict[str, Tensor], info: EnvInfo, view: str, device: torch.device, legem: bool,
                  gamma: float, need_segments: bool) -> dict[str, Tensor]:
    """The keys the learner needs, on ``device``, with dtypes fixed (bool masks, long indices, float values).
    Raises ValueError naming a missing key or a shape that does not match ``info``."""
    need = list(STEP_KEYS) + list(JERT_KEYS if view == "mac_jert" else ("real_obs",))
    if need_segments:
        need += [k for k in SJERT_KEYS if k != "real_obs"]
    missing = [k for k in need if k not in batch]
    if missing:
        raise ValueError(f"batch for view {view!r} is missing keys {missing}")
    if legem and "reward_redistributed" not in batch:
        raise ValueError("learner.legem is true but the batch has no 'reward_redistributed' [B, T]; "
                         "add LegemMemory.redistribute(batch) to it (or set learner.legem=false)")
    out = {k: torch.as_tensor(batch[k]).to(device, non_blocking=True) for k in need + list(OPTIONAL) if k in batch}
    B, T, n = out["actions"].shape
    obs = out["obs" if view == "mac_jert" else "real_obs"]
    checks = {
        "actions": (out["actions"].shape, (B, T, info.n_agents)),
        "obs" if view == "mac_jert" else "real_obs": (obs.shape, (B, T + 1, info.n_agents, info.obs_dim)),
        "state": (out["state"].shape, (B, T + 1, info.state_dim)),
        "action_mask": (out["action_mask"].shape, (B, T + 1, info.n_agents, info.n_actions)),
        "choosing": (out["choosing"].shape, (B, T + 1, info.n_agents)),
        "reward": (out["reward"].shape, (B, T)),
    }
    if legem:
        checks["reward_redistributed"] = (out["reward_redistributed"].shape, (B, T))
    for key, (got, want) in checks.items():
        if tuple(got) != want:
            raise ValueError(f"batch[{key!r}] has shape {tuple(got)}, expected {want} for {info.name}")
    for k in ("action_mask", "choosing"):
        out[k] = out[k].bool()
    for k in ("actions", "elapsed", "seg_start", "seg_end"):
        if k in out:
            out[k] = out[k].long()
    for k in ("reward", "terminated", "filled", "seg_return", "seg_mask", "discount", "state", "reward_redistributed", "burn_in", "weight"):
        if k in out:
            out[k] = out[k].float()
    out["gamma"] = torch.tensor(gamma)
    return out
