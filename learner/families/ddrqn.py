"""Xiao et al.'s value-based macro-action baselines (yuchen-x/MacroMARL ``mac_dec_q``/``mac_cen_q``,
yuchen-x/MacDec-via-Cen ``MA_dec_cen_hddrqn``), one readable step each.

* ``mac_dec_ddrqn``: every agent a recurrent double-DQN on its own Mac-CERT,
  y_i = r_i + gamma^tau_i (1 - term) Q_i'(h'_i, argmax_m Q_i(h'_i, m)), hysteretic TD.
* ``mac_cen_ddrqn``: one recurrent Q over the joint observation with an output per joint macro-action, on the
  Mac-JERT rows: y = r_joint + gamma^k (1 - term) Q'(h', a*), a* the *conditional* argmax of the online network
  (agents whose action has not ended at h' keep their running action, the others maximise). Plain MSE.
* ``mac_dec_maddrqn``: both; each Q_i's target uses a*_i, agent i's component of the centralised conditional
  argmax at the joint row where its action ended: y_i = r_i + gamma^tau_i (1 - term) Q_i'(h'_i, a*_i).

The decentralised Q_i share one agent network (agent-id input, as every learner here does); the reference
trains one network per agent. n-step targets (``learner.n_step``) run along each agent's own decisions or the
joint rows; the reference's value-based runs use one step (the presets set ``n_step: 1``).
"""
from __future__ import annotations

import torch
from torch import nn

from asyncmarl.learner.families.base import Family, Losses
from asyncmarl.learner.families.sequences import cert_sequences, joint_obs, per_agent_nstep
from asyncmarl.learner.targets import NEG, nstep_returns, sanitize_available
from asyncmarl.platform.nets import make_agent_net
from asyncmarl.platform.nets.joint import JointNet, joint_allowed, joint_index, joint_unravel


def make_joint_q(cfg, info) -> JointNet:
    """Mac-Cen-DDRQN's Q network: joint observation in, one Q value per joint macro-action out."""
    return JointNet(cfg.joint_net, info.n_agents * info.obs_dim, info.n_actions ** info.n_agents)


class DDRQNFamily(Family):
    """mac_dec_ddrqn | mac_cen_ddrqn | mac_dec_maddrqn."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.decentral = cfg.algo in ("mac_dec_ddrqn", "mac_dec_maddrqn")
        self.central = cfg.algo in ("mac_cen_ddrqn", "mac_dec_maddrqn")
        self.acting = "agent" if self.decentral else "joint"  # Mac-Cen-DDRQN executes centrally

    def build(self) -> nn.ModuleDict:
        nets = {}
        if self.decentral:
            nets["agent"] = make_agent_net(self.cfg.agent_net, self.info)
        if self.central:
            nets["joint"] = make_joint_q(self.cfg, self.info)
        return nn.ModuleDict(nets)

    def hysteretic(self, version: int) -> float:
        """Weight of negative TD errors after ``version`` updates (linear from ``hysteretic`` to its end)."""
        cfg = self.cfg
        if cfg.hysteretic_anneal_updates == 0:
            return cfg.hysteretic_end
        frac = min(1.0, version / cfg.hysteretic_anneal_updates)
        return cfg.hysteretic + frac * (cfg.hysteretic_end - cfg.hysteretic)

    def losses(self, online, target, b, version) -> Losses:
        weight = b["weight"] if "weight" in b else None  # [B] prioritised-sampling weights
        metrics, loss, out = {}, 0.0, None
        a_next = None
        if self.central:
            c_loss, a_next, td, valid = self._central(online, target, b, weight, metrics)
            loss, out = loss + c_loss, Losses(c_loss, metrics, td, valid)
        if self.decentral:
            d_loss, td, valid = self._decentral(online, target, b, weight, metrics, version,
                                                a_next if self.central else None)
            loss, out = loss + d_loss, Losses(d_loss, metrics, td, valid)
        metrics["losses/total"] = loss.detach()
        out.loss = loss
        return out

    # ------------------------------------------------------------------ centralised Q (Mac-JERT rows)
    def _central(self, online, target, b, weight, metrics):
        A, cfg = self.info.n_actions, self.cfg
        actions, filled = b["actions"], b["filled"]  # [B, T, n], [B, T]
        T = actions.shape[1]
        x = joint_obs(b)  # [B, T+1, n*O]
        q = online["joint"](x)  # [B, T+1, A^n]
        q_taken = q[:, :T].gather(-1, joint_index(actions, A).unsqueeze(-1))  # [B, T, 1]
        with torch.no_grad():
            tq = target["joint"](x)
            # conditional argmax at the next row: agents still inside their action keep it
            allowed = joint_allowed(b["action_mask"][:, 1:], b["choosing"][:, 1:], actions)  # [B, T, A^n]
            select = q[:, 1:] if cfg.double_q else tq[:, 1:]
            a_next = select.masked_fill(~allowed, NEG).argmax(-1)  # [B, T] joint index
            v_next = tq[:, 1:].gather(-1, a_next.unsqueeze(-1))  # [B, T, 1]
            y = nstep_returns(b["reward"], b["discount"], b["terminated"], filled, v_next, cfg.n_step)
        td = (q_taken - y) * filled.unsqueeze(-1)  # [B, T, 1]
        w = weight.reshape(-1, 1, 1) if weight is not None else 1.0
        loss = (td ** 2 * w).sum() / filled.sum().clamp(min=1.0)
        self.last_targets.update({"central": y.squeeze(-1), "central_action": a_next})  # [B, T] each
        metrics.update({"losses/cen_td": loss.detach(),
                        "q/cen_taken_mean": (q_taken.squeeze(-1) * filled).sum().detach() / filled.sum().clamp(min=1.0),
                        "q/cen_target_mean": (y.squeeze(-1) * filled).sum().detach() / filled.sum().clamp(min=1.0)})
        return loss, a_next, td.detach(), filled

    # ------------------------------------------------------------------ decentralised Q_i (Mac-CERTs)
    def _decentral(self, online, target, b, weight, metrics, version, a_central):
        cfg, n = self.cfg, self.info.n_agents
        c = cert_sequences(b)
        mask = c["mask"]  # [B, K, n]
        K = mask.shape[1]
        zeros = torch.zeros_like(c["prev_action"])
        feats = online["agent"].features(c["obs"], c["prev_action"], zeros, zeros[..., 0])  # [B, K+1, n, F]
        q = online["agent"].q_values(online["agent"].hiddens_from_features(feats))  # [B, K+1, n, A]
        q_taken = q[:, :K].gather(-1, c["action"].clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [B, K, n]
        with torch.no_grad():
            tq = target["agent"].q_values(target["agent"].hiddens_from_features(feats))
            if a_central is None:  # double-Q: the online Q_i picks at the next decision, the target evaluates
                select = q[:, 1:] if cfg.double_q else tq[:, 1:]
                a_next = select.masked_fill(~sanitize_available(c["avail"][:, 1:]), NEG).argmax(-1)  # [B, K, n]
            else:  # agent i's part of the centralised conditional argmax where its action ended
                end = b["seg_end"].clamp(min=0)  # [B, n, K] last squeezed transition of each action
                joint = a_central.gather(1, end.reshape(end.shape[0], -1)).reshape(end.shape)  # [B, n, K]
                own = joint_unravel(joint, n, self.info.n_actions)  # [B, n, K, n]
                a_next = own.diagonal(dim1=1, dim2=3)  # [B, K, n]: own[b, i, k, i], agent i's own component
            v_next = tq[:, 1:].gather(-1, a_next.unsqueeze(-1)).squeeze(-1)  # [B, K, n]
            y = per_agent_nstep(c["reward"], c["discount"], c["terminated"], mask, v_next, cfg.n_step)
        self.last_targets.update({"decentral": y, "decentral_action": a_next})  # [B, K, n] each
        td = (y - q_taken) * mask
        h = self.hysteretic(version)
        td_h = torch.where(td < 0, h * td, td)  # hysteretic: negative errors count h times (max(h td, td))
        w = weight.reshape(-1, 1, 1) if weight is not None else 1.0
        loss = (td_h ** 2 * w).sum() / mask.sum().clamp(min=1.0)
        count = mask.sum().clamp(min=1.0)
        metrics.update({"losses/dec_td": loss.detach(), "q/taken_mean": (q_taken * mask).sum().detach() / count,
                        "q/target_mean": (y * mask).sum().detach() / count, "learner/hysteretic": torch.tensor(h)})
        return loss, (-td).detach(), mask.amax(-1)
