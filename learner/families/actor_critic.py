"""Xiao et al.'s macro-action actor-critic baselines (yuchen-x/MacroMARL ``cores/pg_based``), trained on-policy:
each update is one batch of fresh episodes (``replay.on_policy``) used for ``learner.epochs`` gradient steps.

* ``mac_iac``: decentralised actor and critic per agent on its own Mac-CERT.
* ``mac_cac``: one actor over joint macro-actions, conditioned on the running ones (agents inside an action
  keep it), with a centralised critic, both along the Mac-JERT rows; centralised execution.
* ``mac_niacc`` (Naive Mac-IACC): decentralised actors, one centralised critic V(joint history) trained on the
  Mac-JERT rows; agent i's advantage uses it where its own action starts and (target network) where it ends.
* ``mac_iaicc``: decentralised actors; agent i's own centralised critic V_i over the joint history along the
  Mac-JERT rows, evaluated where agent i's actions start and trained on agent i's returns.

Returns along agent i's decisions (IAC, NIACC, IAICC): G = r_i + gamma^tau (1 - terminal) V'(next decision),
r_i accumulated over the action and discounted inside it, tau its duration in primitive steps; ``learner.n_step``
> 1 chains n such transitions (the reference's ``n_step_TD``; its 0 is our 1). Actor loss
-sum gamma^t log mu(m | h) (G - V) / #valid with t the decision's primitive step and mu the policy the rollouts
sampled (pi mixed with epsilon-uniform choices, as the reference; pi when the batch has no ``epsilon``), plus
``entropy_weight`` H(pi);
critic loss masked MSE. One gradient step per epoch on actor + critic losses (disjoint parameters, their own
learning rates ``lr`` and ``critic_lr``; the reference steps the critic first and then the actor with the
updated critic).

``learner.critic: state`` feeds the global state to an MLP critic instead of the joint observation history to a
GRU (Mac-IASC / Naive Mac-IASC, which the reference's BoxPushing scripts run). Networks: the actors are the
shared agent network (agent-id input) with logits as outputs; agent i's own critics (IAICC, and IAC on the
state) are the heads of one network with an output per agent; IAC's history critic is the agent network with a
one-value head.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asyncmarl.learner.families.base import Family, Losses
from asyncmarl.learner.families.sequences import at_agent_rows, at_rows, cert_sequences, joint_obs, per_agent_nstep
from asyncmarl.learner.targets import NEG, nstep_returns, sanitize_available
from asyncmarl.platform.nets import make_agent_net
from asyncmarl.platform.nets.joint import JointNet, joint_allowed, joint_index


def make_joint_actor(cfg, info) -> JointNet:
    """Mac-CAC's actor: joint observation in, one logit per joint macro-action out."""
    return JointNet(cfg.joint_net, info.n_agents * info.obs_dim, info.n_actions ** info.n_agents)


def masked_log_softmax(logits, avail):
    """log pi over the available entries (``avail`` bool, same shape); rows with nothing available allow all."""
    return F.log_softmax(logits.masked_fill(~sanitize_available(avail), NEG), dim=-1)


def entropy(logp):
    return -(logp.exp() * logp).sum(-1)


def behaviour_log_probs(logp, avail, b):
    """log of the policy the rollouts sampled: pi mixed with ``epsilon``-uniform choices over the available
    entries when the batch carries the rollouts' ``epsilon`` (the reference differentiates this mixture, so
    exploratory choices do not push pi around), else log pi."""
    if "epsilon" not in b:
        return logp
    eps = b["epsilon"].to(logp.dtype).reshape((-1,) + (1,) * (logp.dim() - 1))  # [B, 1, ...]
    valid = sanitize_available(avail)
    uniform = torch.log(valid / valid.sum(-1, keepdim=True))  # -inf where unavailable
    return torch.logaddexp(torch.log1p(-eps) + logp, torch.log(eps) + uniform)


class ActorCriticFamily(Family):
    """mac_iac | mac_cac | mac_niacc | mac_iaicc."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.algo = cfg.algo
        self.acting = "joint" if cfg.algo == "mac_cac" else "agent"

    @property
    def epochs(self) -> int:
        return self.cfg.epochs

    def build(self) -> nn.ModuleDict:
        cfg, info = self.cfg, self.info
        n, O, S = info.n_agents, info.obs_dim, info.state_dim
        nets = {"joint" if self.algo == "mac_cac" else "agent":
                make_joint_actor(cfg, info) if self.algo == "mac_cac" else make_agent_net(cfg.agent_net, info)}
        own = self.algo in ("mac_iac", "mac_iaicc")  # one value per agent
        if self.algo == "mac_iac" and cfg.critic == "history":
            critic = make_agent_net(cfg.agent_net, info)  # the agent network over its own history ...
            critic.head = nn.Linear(cfg.agent_net.hidden_dim, 1)  # ... with one value out
        elif cfg.critic == "history":
            critic = JointNet(cfg.joint_net, n * O, n if own else 1)
        else:
            critic = JointNet(cfg.joint_net, S, n if own else 1, recurrent=False)
        nets["critic"] = critic
        return nn.ModuleDict(nets)

    def param_groups(self, online) -> list[dict]:
        actor = [p for k, m in online.items() if k != "critic" for p in m.parameters()]
        return [{"params": actor, "lr": self.cfg.lr},
                {"params": list(online["critic"].parameters()), "lr": self.cfg.critic_lr}]

    def losses(self, online, target, b, version) -> Losses:
        if self.algo == "mac_cac":
            return self._central(online, target, b)
        return self._decentral(online, target, b)

    # ------------------------------------------------------------------ critics
    def _critic_rows(self, net, b):
        """Critic values of every squeezed row ``[B, T+1, n or 1]`` (joint history or state)."""
        return net(joint_obs(b) if self.cfg.critic == "history" else b["state"])

    def _agent_values(self, net, b, c, feats):
        """Each agent's critic value at its decision rows ``[B, K+1, n]``."""
        if self.algo == "mac_iac" and self.cfg.critic == "history":
            return net.q_values(net.hiddens_from_features(feats)).squeeze(-1)  # its own history
        rows = self._critic_rows(net, b)  # [B, T+1, n or 1]
        if rows.shape[-1] == 1:  # NIACC: the one joint critic at each agent's rows
            return at_rows(rows.squeeze(-1), c["rows"])
        return at_agent_rows(rows, c["rows"])  # agent i's own output at agent i's rows

    # ------------------------------------------------------------------ decentralised actors
    def _decentral(self, online, target, b) -> Losses:
        cfg = self.cfg
        c = cert_sequences(b)
        mask = c["mask"]  # [B, K, n]
        K = mask.shape[1]
        count = mask.sum().clamp(min=1.0)
        zeros = torch.zeros_like(c["prev_action"])
        feats = online["agent"].features(c["obs"], c["prev_action"], zeros, zeros[..., 0])  # [B, K+1, n, F]
        v = self._agent_values(online["critic"], b, c, feats)  # [B, K+1, n]
        with torch.no_grad():
            tv = self._agent_values(target["critic"], b, c, feats)
            G = per_agent_nstep(c["reward"], c["discount"], c["terminated"], mask, tv[:, 1:], cfg.n_step)  # [B, K, n]
        if self.algo == "mac_niacc":  # the joint critic learns on the joint rows
            critic_loss = self._joint_td(online["critic"], target["critic"], b)
        else:
            critic_loss = (((G - v[:, :K]) * mask) ** 2).sum() / count
        adv = (G - v[:, :K]).detach()  # [B, K, n]
        self.last_targets = {"returns": G, "values": v[:, :K].detach(), "advantages": adv}  # [B, K, n] each
        agent = online["agent"]
        logp_all = masked_log_softmax(agent.q_values(agent.hiddens_from_features(feats))[:, :K], c["avail"][:, :K])
        behaviour = behaviour_log_probs(logp_all, c["avail"][:, :K], b)
        logp = behaviour.gather(-1, c["action"].clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [B, K, n]
        return self._finish(logp, entropy(logp_all), adv, mask, c["t_start"], critic_loss, v[:, :K], G)

    def _joint_td(self, critic, critic_target, b):
        """Masked MSE of the joint critic on the Mac-JERT rows (n-step over the squeezed rows)."""
        filled = b["filled"]
        T = filled.shape[1]
        v = self._critic_rows(critic, b)  # [B, T+1, 1]
        with torch.no_grad():
            tv = self._critic_rows(critic_target, b)
            y = nstep_returns(b["reward"], b["discount"], b["terminated"], filled, tv[:, 1:], self.cfg.n_step)
        return (((y - v[:, :T]) * filled.unsqueeze(-1)) ** 2).sum() / filled.sum().clamp(min=1.0)

    # ------------------------------------------------------------------ centralised actor (Mac-CAC)
    def _central(self, online, target, b) -> Losses:
        A, cfg = self.info.n_actions, self.cfg
        actions, filled = b["actions"], b["filled"]  # [B, T, n], [B, T]
        T = actions.shape[1]
        v = self._critic_rows(online["critic"], b)  # [B, T+1, 1]
        with torch.no_grad():
            tv = self._critic_rows(target["critic"], b)
            G = nstep_returns(b["reward"], b["discount"], b["terminated"], filled, tv[:, 1:], cfg.n_step)[..., 0]
        critic_loss = (((G - v[:, :T, 0]) * filled) ** 2).sum() / filled.sum().clamp(min=1.0)
        adv = (G - v[:, :T, 0]).detach()  # [B, T]
        self.last_targets = {"returns": G, "values": v[:, :T, 0].detach(), "advantages": adv}  # [B, T] each
        # the policy over the joint actions the running agents allow (the one it sampled from)
        allowed = joint_allowed(b["action_mask"][:, :T], b["choosing"][:, :T], actions)  # [B, T, A^n]
        logp_all = masked_log_softmax(online["joint"](joint_obs(b))[:, :T], allowed)
        behaviour = behaviour_log_probs(logp_all, allowed, b)
        logp = behaviour.gather(-1, joint_index(actions, A).unsqueeze(-1)).squeeze(-1)  # [B, T]
        t = b["t"][:, :T]
        return self._finish(logp, entropy(logp_all), adv, filled, t, critic_loss, v[:, :T, 0], G)

    def _finish(self, logp, ent, adv, mask, t, critic_loss, v, G) -> Losses:
        cfg = self.cfg
        count = mask.sum().clamp(min=1.0)
        weight = cfg.gamma ** t.to(logp.dtype) * mask  # gamma^t of the decision's primitive step
        actor_loss = -(weight * (logp * adv + cfg.entropy_weight * ent)).sum() / count
        metrics = {"losses/actor": actor_loss.detach(), "losses/critic": critic_loss.detach(),
                   "policy/entropy": (ent * mask).sum().detach() / count,
                   "critic/value_mean": (v * mask).sum().detach() / count,
                   "critic/return_mean": (G * mask).sum().detach() / count,
                   "critic/advantage_abs_mean": (adv.abs() * mask).sum() / count}
        loss = actor_loss + critic_loss
        metrics["losses/total"] = loss.detach()
        return Losses(loss, metrics)
