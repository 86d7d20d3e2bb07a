"""The recurrent agent network Q_i(h^i, m, t_m), shared across agents (agent-id input).

ToMacVF's temporal agent network (section 3.1 eq. 2-3, section 3.3): the macro-observation with f_e(t), and the
previous macro-action one-hot with f_e(t) and f_e(t_m) of that action, go through an MLP and a GRU; the Q head is
conditioned on the elapsed time t_m of the action being evaluated (t_m = 0 when choosing a new action). With
``temporal=False`` it is the usual RNN agent of QMIX/AVF (observation + last action + agent id -> MLP -> GRU ->
Q over actions).

Our choices where the paper is silent: f_e(t) is fed once (the paper concatenates it to both the observation and
the action, but both feed the same first linear layer, so a second copy adds nothing); the t_m-conditioned head
is a one-hidden-layer MLP on [h, f_e(t_m)]; a missing previous action (-1, first step) is an all-zero one-hot.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asyncmarl.platform.envs.base import EnvInfo
from asyncmarl.platform.nets.gru import gru_packed, gru_sequence
from asyncmarl.platform.temporal import positional_encoding


@dataclass(frozen=True)
class AgentNetConfig:
    hidden_dim: int = 64  # GRU hidden size (the paper's "rnn-layer size")
    embed_dim: int = 64  # width of the MLP layer before the GRU
    pe_dim: int = 16  # size of the temporal encoding f_e (even)
    temporal: bool = True  # f_e(t), f_e(t_m) inputs and a t_m-conditioned head (ToMacVF); False: plain RNN agent
    last_action: bool = True  # feed the previous action (one-hot) as input
    agent_id: bool = True  # feed a one-hot agent id (one network shared by all agents)

    def __post_init__(self):
        for name in ("hidden_dim", "embed_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"agent_net.{name} must be >= 1, got {getattr(self, name)}")
        if self.pe_dim < 2 or self.pe_dim % 2:
            raise ValueError(f"agent_net.pe_dim must be an even integer >= 2, got {self.pe_dim}")


class AgentNet(nn.Module):
    """One network for all agents. Shapes: ``B`` batch (envs or episodes), ``n`` agents, ``A`` actions,
    ``O`` observation size, ``H`` hidden size."""

    def __init__(self, cfg: AgentNetConfig, info: EnvInfo):
        super().__init__()
        self.cfg, self.info = cfg, info
        self.n, self.A = info.n_agents, info.n_actions
        pe = cfg.pe_dim if cfg.temporal else 0
        in_dim = info.obs_dim + pe  # observation (+ f_e(t))
        if cfg.last_action:
            in_dim += self.A + pe  # previous action one-hot (+ f_e(t_m) of that action)
        if cfg.agent_id:
            in_dim += self.n
        self.input_dim = in_dim
        self.fc = nn.Linear(in_dim, cfg.embed_dim)
        self.gru = nn.GRU(cfg.embed_dim, cfg.hidden_dim)  # time-major: [L, B*n, .] needs no transposes
        if cfg.temporal:
            self.head = nn.Sequential(nn.Linear(cfg.hidden_dim + pe, cfg.hidden_dim), nn.ReLU(),
                                      nn.Linear(cfg.hidden_dim, self.A))
        else:
            self.head = nn.Linear(cfg.hidden_dim, self.A)

    # ------------------------------------------------------------------ building blocks
    def _pe(self, t: Tensor) -> Tensor:
        return positional_encoding(t, self.cfg.pe_dim)

    def features(self, obs: Tensor, prev_action: Tensor, prev_elapsed: Tensor, t: Tensor) -> Tensor:
        """Network inputs ``[..., n, input_dim]`` from obs ``[..., n, O]``, prev_action/prev_elapsed ``[..., n]``
        (long, -1 = no previous action) and t ``[...]`` (long). Any leading shape."""
        lead = obs.shape[:-2]
        parts = [obs.float()]
        if self.cfg.temporal:
            parts.append(self._pe(t).unsqueeze(-2).expand(*lead, self.n, self.cfg.pe_dim))
        if self.cfg.last_action:
            prev = prev_action.long()
            onehot = F.one_hot(prev.clamp(min=0), self.A).to(obs.dtype if obs.is_floating_point() else torch.float32)
            parts.append(onehot * (prev >= 0).unsqueeze(-1))  # -1 (none yet) -> zeros
            if self.cfg.temporal:
                parts.append(self._pe(prev_elapsed.long()))
        if self.cfg.agent_id:
            eye = torch.eye(self.n, device=obs.device)
            parts.append(eye.expand(*lead, self.n, self.n))
        return torch.cat([p.float() for p in parts], dim=-1)

    def q_values(self, hidden: Tensor, elapsed: Tensor | None = None) -> Tensor:
        """Q_i(h, ., t_m) ``[..., A]`` for hidden ``[..., H]`` and the elapsed time ``[...]`` (long) of the action
        being evaluated; ``None`` means t_m = 0 (choosing). Ignored by non-temporal networks."""
        if not self.cfg.temporal:
            return self.head(hidden)
        if elapsed is None:
            elapsed = torch.zeros(hidden.shape[:-1], dtype=torch.long, device=hidden.device)
        return self.head(torch.cat([hidden, self._pe(elapsed)], dim=-1))

    def initial_hidden(self, batch_size: int) -> Tensor:
        """Zero GRU state ``[B, n, H]``."""
        return torch.zeros(batch_size, self.n, self.cfg.hidden_dim, device=self.fc.weight.device)

    # ------------------------------------------------------------------ acting
    def act(self, obs: Tensor, prev_action: Tensor, prev_elapsed: Tensor, t: Tensor, hidden: Tensor,
            update: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One batched step for all envs and agents.

        obs ``[B, n, O]``; prev_action ``[B, n]`` (-1 = none yet); prev_elapsed ``[B, n]`` (t_m of the previous
        action); t ``[B]``; hidden ``[B, n, H]``; update ``[B, n]`` bool or None (where False the old hidden is
        kept, so Mac-JERT learners tick the RNN only at squeezed steps). Returns (q ``[B, n, A]`` for choosing a
        new action, t_m = 0; new hidden ``[B, n, H]``).
        """
        B = obs.shape[0]
        dev = self.fc.weight.device
        x = self.features(obs.to(dev), prev_action.to(dev), prev_elapsed.to(dev), t.to(dev))  # [B, n, in]
        x = F.relu(self.fc(x)).reshape(1, B * self.n, -1)
        h0 = hidden.to(dev).reshape(1, B * self.n, -1)
        _, h1 = self.gru(x, h0)
        h1 = h1.reshape(B, self.n, -1)  # [B, n, H]
        if update is not None:
            h1 = torch.where(update.to(dev).bool().unsqueeze(-1), h1, hidden.to(dev))
        return self.q_values(h1), h1

    # ------------------------------------------------------------------ training
    def hiddens(self, obs: Tensor, prev_action: Tensor, prev_elapsed: Tensor, t: Tensor) -> Tensor:
        """GRU states ``[B, L, n, H]`` over whole sequences (from a zero state): obs ``[B, L, n, O]``,
        prev_action/prev_elapsed ``[B, L, n]``, t ``[B, L]``. One fused GRU call for all agents."""
        return self.hiddens_from_features(self.features(obs, prev_action, prev_elapsed, t))

    def hiddens_from_features(self, feats: Tensor, steps: Sequence[int] | None = None) -> Tensor:
        """GRU states ``[B, L, n, H]`` from :meth:`features` ``[B, L, n, input_dim]``; with ``steps`` (a
        :class:`~asyncmarl.platform.nets.packing.RowPacking`'s), ``[R, n, H]`` from packed features
        ``[R, n, input_dim]`` (episodes of different lengths, no padding)."""
        if steps is not None:
            R = feats.shape[0]
            x = F.relu(self.fc(feats)).reshape(R * self.n, -1)  # each step's rows: its episodes x agents
            return gru_packed(x, [s * self.n for s in steps], self.gru).view(R, self.n, -1)
        B, L = feats.shape[:2]
        x = F.relu(self.fc(feats.transpose(0, 1)))  # [L, B, n, E]
        out = gru_sequence(x.reshape(L, B * self.n, -1), self.gru)  # [L, B*n, H]; hand-written backward
        return out.reshape(L, B, self.n, -1).transpose(0, 1)  # [B, L, n, H]

    def unroll(self, batch: dict[str, Tensor], view: str = "mac_sjert") -> Tensor:
        """Q-values ``[B, T+1, n, A]`` along an episode batch (``asyncmarl.platform.roles`` layout).

        Row t is evaluated at the elapsed time of the action the agent runs at t: 0 for choosing agents (the
        values to choose with), the running action's t_m for busy ones; at row T busy agents are evaluated at
        ``elapsed[T-1] + 1``. Inputs mirror the rollout worker: ``real_obs`` on ``mac_sjert`` batches, the frozen
        ``obs`` on ``mac_jert`` ones (whose rows are the squeezed steps).
        """
        inp = sequence_inputs(batch, view)
        h = self.hiddens(inp["obs"], inp["prev_action"], inp["prev_elapsed"], inp["t"])  # [B, T+1, n, H]
        return self.q_values(h, inp["eval_elapsed"])


def sequence_inputs(batch: dict[str, Tensor], view: str) -> dict[str, Tensor]:
    """Per-row network inputs of a batch: obs ``[B, T+1, n, O]``, prev_action/prev_elapsed ``[B, T+1, n]``,
    absolute time t ``[B, T+1]`` and eval_elapsed ``[B, T+1, n]`` (t_m each row's running action is evaluated at).

    Absolute time: ``batch["t"]`` (replay's batches always carry it; a ``mac_sjert`` batch without it is read
    as starting at step 0, a ``mac_jert`` one needs it).
    """
    if view not in ("mac_sjert", "mac_jert"):
        raise ValueError(f"view must be 'mac_sjert' or 'mac_jert', got {view!r}")
    actions, elapsed, choosing = batch["actions"], batch["elapsed"], batch["choosing"]  # [B,T,n] [B,T,n] [B,T+1,n]
    B, T, n = actions.shape
    obs = batch["real_obs" if view == "mac_sjert" else "obs"]
    none = torch.full((B, 1, n), -1, dtype=torch.long, device=actions.device)
    prev_action = torch.cat([none, actions.long()], dim=1)  # [B, T+1, n]
    if "t" in batch:
        t = batch["t"].long()
    elif view == "mac_sjert":
        t = torch.arange(T + 1, device=actions.device).expand(B, T + 1)
    else:
        raise ValueError("a mac_jert batch needs 't' [B, T+1], the absolute step of each kept row")
    gap = (t[:, 1:] - t[:, :-1]).clamp(min=1).unsqueeze(-1)  # [B, T, 1] steps between consecutive rows
    # elapsed at the env step just before row r: the action of row r-1 ran gap - 1 more steps (0 per-step)
    prev_elapsed = torch.cat([torch.zeros_like(none), elapsed.long() + gap - 1], dim=1)  # [B, T+1, n]
    # t_m each row's running action is evaluated at, from the previous row (so final observation rows of
    # shorter, padded episodes get elapsed + 1 too); 0 for choosing agents
    advanced = torch.cat([elapsed[:, :1].long(), elapsed.long() + gap], dim=1)  # [B, T+1, n]
    eval_elapsed = torch.where(choosing, torch.zeros_like(advanced), advanced)
    return {"obs": obs, "prev_action": prev_action, "prev_elapsed": prev_elapsed, "t": t,
            "eval_elapsed": eval_elapsed}


def make_agent_net(cfg: AgentNetConfig, info: EnvInfo) -> AgentNet:
    """Build the agent network for ``info``'s dimensions."""
    if not isinstance(cfg, AgentNetConfig):
        raise ValueError(f"agent_net must be an AgentNetConfig, got {type(cfg).__name__}")
    return AgentNet(cfg, info)
