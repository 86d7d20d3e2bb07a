"""Centralised networks over the joint observation, and the joint macro-action space they act in.

Xiao et al.'s centralised baselines (Mac-Cen-DDRQN's Q, Mac-CAC's actor, the centralised critics) read the
concatenation of every agent's macro-observation (or the global state) and, for Q networks and actors, output
one value per *joint* macro-action: the product of the agents' action sets, ``A ** n`` entries, agent 0's
action the most significant digit (``np.ravel_multi_index`` order). Acting and learning choose among the joint
actions the running agents allow: :func:`joint_allowed` keeps the agents whose action has not ended on their
running action (the conditional argmax of Xiao et al., To-Mac-IGM in the ToMacVF paper) and the others on their
available actions.

Network: fc(in -> embed) -> GRU(hidden) -> fc(hidden -> embed) -> fc(embed -> out), leaky ReLU (the reference's
actor/critic shape with one MLP layer on each side of the GRU); ``recurrent=False`` replaces the GRU by a linear
layer (the reference's state critics are MLPs).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class JointNetConfig:
    embed_dim: int = 32  # width of the layers before and after the GRU (reference: mlp_layer_size)
    hidden_dim: int = 64  # GRU hidden size (reference: rnn_h_size / c_rnn_layer_size)

    def __post_init__(self):
        for name in ("embed_dim", "hidden_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"joint_net.{name} must be >= 1, got {getattr(self, name)}")


class JointNet(nn.Module):
    """``out_dim`` outputs per row from inputs ``[B, L, in_dim]`` (sequences from a zero GRU state)."""

    def __init__(self, cfg: JointNetConfig, in_dim: int, out_dim: int, recurrent: bool = True):
        super().__init__()
        if not isinstance(cfg, JointNetConfig):
            raise ValueError(f"joint_net must be a JointNetConfig, got {type(cfg).__name__}")
        self.cfg, self.in_dim, self.out_dim, self.recurrent = cfg, int(in_dim), int(out_dim), bool(recurrent)
        self.fc_in = nn.Linear(self.in_dim, cfg.embed_dim)
        self.core = nn.GRU(cfg.embed_dim, cfg.hidden_dim) if recurrent else nn.Linear(cfg.embed_dim, cfg.hidden_dim)
        self.fc_mid = nn.Linear(cfg.hidden_dim, cfg.embed_dim)
        self.fc_out = nn.Linear(cfg.embed_dim, self.out_dim)

    def _head(self, h: Tensor) -> Tensor:
        return self.fc_out(F.leaky_relu(self.fc_mid(h)))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, L, out_dim]`` for ``x`` ``[B, L, in_dim]``."""
        z = F.leaky_relu(self.fc_in(x.float()))
        if self.recurrent:
            h, _ = self.core(z.transpose(0, 1))  # time-major [L, B, H]
            h = h.transpose(0, 1)
        else:
            h = F.leaky_relu(self.core(z))
        return self._head(h)

    def initial_hidden(self, batch_size: int) -> Tensor:
        """Zero GRU state ``[B, H]``."""
        return torch.zeros(batch_size, self.cfg.hidden_dim, device=self.fc_in.weight.device)

    def step(self, x: Tensor, hidden: Tensor, update: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One acting step: x ``[B, in_dim]``, hidden ``[B, H]``, update ``[B]`` bool (where False the old
        hidden is kept: the network ticks only at rows its learner trains on). Returns (out ``[B, out_dim]``,
        new hidden)."""
        dev = self.fc_in.weight.device
        z = F.leaky_relu(self.fc_in(x.to(dev).float()))
        if self.recurrent:
            _, h = self.core(z.unsqueeze(0), hidden.to(dev).unsqueeze(0))
            h = h.squeeze(0)
            if update is not None:
                h = torch.where(update.to(dev).bool().unsqueeze(-1), h, hidden.to(dev))
        else:
            h = F.leaky_relu(self.core(z))
        return self._head(h), h


def joint_input(obs: Tensor) -> Tensor:
    """The joint observation ``[..., n * O]`` from per-agent macro-observations ``[..., n, O]``."""
    return obs.flatten(-2).float()


def joint_index(actions: Tensor, n_actions: int) -> Tensor:
    """Joint macro-action index ``[...]`` of per-agent actions ``[..., n]`` (agent 0 most significant)."""
    n = actions.shape[-1]
    place = n_actions ** torch.arange(n - 1, -1, -1, device=actions.device)  # [n]
    return (actions.long() * place).sum(-1)


def joint_unravel(index: Tensor, n_agents: int, n_actions: int) -> Tensor:
    """Per-agent actions ``[..., n]`` of joint indices ``[...]`` (inverse of :func:`joint_index`)."""
    place = n_actions ** torch.arange(n_agents - 1, -1, -1, device=index.device)  # [n]
    return (index.long().unsqueeze(-1) // place) % n_actions


def joint_allowed(avail: Tensor, choosing: Tensor, running: Tensor) -> Tensor:
    """Joint actions allowed ``[..., A ** n]`` (bool): agents that choose (``choosing`` ``[..., n]``) any of
    their available actions (``avail`` ``[..., n, A]``), the others their ``running`` action ``[..., n]``.
    Rows where nothing would be allowed (padding) allow everything, so maxima stay finite."""
    n, A = avail.shape[-2:]
    own = F.one_hot(running.long().clamp(0, A - 1), A).bool()  # [..., n, A]
    per_agent = torch.where(choosing.unsqueeze(-1), avail.bool(), own)  # [..., n, A]
    lead = per_agent.shape[:-2]
    allowed = torch.ones(lead + (1,), dtype=torch.bool, device=avail.device)
    for i in range(n):  # outer AND, agent 0 most significant (n is 2-4: the product is the loop, not the data)
        allowed = (allowed.unsqueeze(-1) & per_agent[..., i, :].unsqueeze(-2)).flatten(-2)
    return allowed | ~allowed.any(-1, keepdim=True)
