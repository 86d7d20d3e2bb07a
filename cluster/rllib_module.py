"""The RLModule RLlib's PPO trains over :class:`asyncmarl.platform.envs.rllib.MacroActionMultiAgentEnv`: a masked
categorical policy on the agent's macro-observation and a value function on the same observation (independent
PPO) or on the global state (``central_critic``: MAPPO's centralised critic; execution stays decentralised,
only the value function reads the state, and only while training).

Masked actions get the logit ``FLOAT_MIN``, so their probability is exactly 0: they are never sampled, and a
greedy argmax never picks them.
"""
from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.utils.torch_utils import FLOAT_MIN
from torch import nn

MODEL_DEFAULTS = {"hidden_dim": 64, "num_layers": 2, "central_critic": False}


def mlp(in_dim: int, hidden_dim: int, num_layers: int, out_dim: int) -> nn.Sequential:
    """``num_layers`` tanh hidden layers of ``hidden_dim`` units, then a linear output layer."""
    layers: list[nn.Module] = []
    for k in range(num_layers):
        layers += [nn.Linear(in_dim if k == 0 else hidden_dim, hidden_dim), nn.Tanh()]
    layers.append(nn.Linear(hidden_dim if num_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``logits`` ``[..., A]`` with every action whose ``mask`` entry is 0 set to ``FLOAT_MIN``."""
    return logits.masked_fill(mask < 0.5, FLOAT_MIN)


class MaskedPPOModule(TorchRLModule, ValueFunctionAPI):
    """Policy and value networks over the adapter's ``{"observations", "action_mask"[, "state"]}`` observation.

    ``model_config``: ``hidden_dim``, ``num_layers`` (both networks), ``central_critic`` (value on ``"state"``).
    """

    def setup(self):
        # RLlib adds keys of its own (e.g. vf_share_layers) to model_config: read ours, ignore the rest.
        cfg = {**MODEL_DEFAULTS, **dict(self.model_config or {})}
        space = self.observation_space
        if not hasattr(space, "spaces") or not {"observations", "action_mask"} <= set(space.spaces):
            raise ValueError("MaskedPPOModule needs a Dict observation space with 'observations' and 'action_mask' "
                             f"(MacroActionMultiAgentEnv's), got {space}")
        self.central_critic = bool(cfg["central_critic"])
        if self.central_critic and "state" not in space.spaces:
            raise ValueError("MaskedPPOModule central_critic needs the global state in the observation: set "
                             "env_config global_state=True")
        hidden, depth = int(cfg["hidden_dim"]), int(cfg["num_layers"])
        obs_dim = space["observations"].shape[0]
        self.pi = mlp(obs_dim, hidden, depth, self.action_space.n)
        critic_in = space["state"].shape[0] if self.central_critic else obs_dim
        self.vf = mlp(critic_in, hidden, depth, 1)

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        obs = batch[Columns.OBS]
        logits = self.pi(obs["observations"])  # [B, A]
        return {Columns.ACTION_DIST_INPUTS: masked_logits(logits, obs["action_mask"])}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        obs = batch[Columns.OBS]
        x = obs["state"] if self.central_critic else obs["observations"]
        return self.vf(x).squeeze(-1)  # [B] (or [B, T])

    @torch.no_grad()
    def greedy(self, observations: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        """The most probable allowed action per row: ``[..., obs_dim]``, ``[..., A]`` -> ``[...]`` int64."""
        return masked_logits(self.pi(observations), action_mask).argmax(-1)
