"""Value factorisation: ToMacVF, AVF and the synchronous IQL/VDN/QMIX/QPLEX, one training step read top to bottom
in :meth:`ValueFactorisation.losses`.

* ToMacVF (``algo: tomacvf``, ToMacVF Algorithm 1): temporal agent network, ATPG-generated mixer first layer,
  micro-TD at every step (eq. 13, n-step or TD(lambda)) plus macro-TD at each agent's segment end with
  gamma ** duration (eq. 14), conditional double-Q argmax of To-Mac-IGM: only agents whose action ends choose in
  the max, the others keep their running action evaluated at their advanced t_m. One gradient step on
  micro + macro_td_weight * macro (Algorithm 1 takes the macro step separately; one combined step is our choice).
* AVF (``algo: avf``, Marchesini, Xiao & Amato): the Mac-JERT (squeezed) view, the batch's per-row ``discount``
  gamma ** tau, conditional double-Q target, update schemes D0/D1/D2 for agents still inside an action.
* Synchronous (``iql|vdn|qmix|qplex``): every step a decision step; busy agents are treated as taking the no-op
  (action 0, the only available action).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asyncmarl.learner.atpg import ATPG
from asyncmarl.learner.families.base import Family, Losses
from asyncmarl.learner.mixers import make_mixer
from asyncmarl.learner.targets import (
    NEG,
    conditional_argmax,
    discounted_segment_returns,
    gather_rows,
    lambda_returns,
    macro_targets,
    nstep_returns,
    sanitize_available,
)
from asyncmarl.platform.nets import make_agent_net
from asyncmarl.platform.nets.agent import sequence_inputs
from asyncmarl.platform.nets.packing import RowPacking


class ValueFactorisation(Family):
    """tomacvf | avf | iql | vdn | qmix | qplex: agent network + mixer (+ ATPG), acting with the agent network."""

    def build(self) -> nn.ModuleDict:
        cfg, info = self.cfg, self.info
        mixer = make_mixer(cfg.mixer_name, info.n_agents, info.n_actions, info.state_dim, cfg.mixing_embed_dim,
                           cfg.hypernet_dim)
        online = nn.ModuleDict({"agent": make_agent_net(cfg.agent_net, info), "mixer": mixer})
        if cfg.atpg:
            online["atpg"] = ATPG(cfg.atpg_net, online["agent"].input_dim, info.state_dim, mixer.first_width)
        return online

    @property
    def needs_segments(self) -> bool:
        return self._macro_td

    @staticmethod
    def target_forward(nets, *inputs, **extra):
        """The target networks' forward (:func:`target_forward`), run by the Learner's target process."""
        return target_forward(nets, *inputs, **extra)

    def losses(self, online, target, b, version) -> Losses:
        self.online, self.target = online, target
        loss, metrics, td = self._losses(b)
        valid = b["filled"] * (1.0 - b["burn_in"]) if "burn_in" in b else b["filled"]
        return Losses(loss, metrics, td, valid)

    @property
    def _macro_td(self) -> bool:
        return self.cfg.algo == "tomacvf" and self.cfg.buffer == "mac_sjert" and self.cfg.macro_td_weight > 0

    def _losses(self, b: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """(loss, metrics, micro-TD errors [B, T, X] on counted rows)."""
        cfg = self.cfg
        B, T, n = b["actions"].shape
        A = self.info.n_actions
        inp = sequence_inputs(b, self.view)
        agent = self.online["agent"]
        state = b["state"]  # [B, T+1, S]
        # the networks see each episode's real rows only (steps and final observation row), not the padding
        packing = RowPacking.of_batch(b["filled"])
        rows = (inp["obs"], inp["prev_action"], inp["prev_elapsed"], inp["t"], inp["eval_elapsed"], state)
        if packing is not None:
            rows = tuple(packing.pack(x) for x in rows)  # [R, ...]
        feats = agent.features(*rows[:4])  # [B, T+1, n, F] or [R, n, F]
        net_in = (feats, rows[4], rows[5])
        runner = self.target_runner  # the target forward in a second process, overlapped with the online one
        if runner is not None:
            runner.submit((*net_in, None if packing is None else packing.rows), L=0 if packing is None else packing.L)
        q_all, first = forward_nets(self.online, *net_in, packing)
        if runner is not None:
            tq_all, tw1, tb1 = runner.result()
            tfirst = None if tw1 is None else (tw1, tb1)
        else:
            with torch.no_grad():
                tq_all, tfirst = forward_nets(self.target, *net_in, packing)

        # what the agents did and could do; synchronous learners see busy agents take the no-op
        choosing, avail, actions = b["choosing"], b["action_mask"], b["actions"]  # [B,T+1,n] [B,T+1,n,A] [B,T,n]
        if cfg.synchronous:
            noop = F.one_hot(torch.zeros_like(choosing, dtype=torch.long), A).bool()
            actions = torch.where(choosing[:, :T], actions, 0)
            avail = torch.where(choosing.unsqueeze(-1), avail, noop)
            choosing = torch.ones_like(choosing)
        avail = sanitize_available(avail)

        # ---- prediction Q_tot(h_t, m_t, t_m) at rows 0..T-1
        q_taken = q_all[:, :T].gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [B, T, n]
        v_greedy = q_all[:, :T].masked_fill(~avail[:, :T], NEG).max(-1).values  # [B, T, n]
        busy = ~choosing[:, :T]
        vs = torch.where(busy, q_taken, v_greedy)
        q_in = q_taken
        if cfg.algo == "avf" and cfg.avf_scheme == "D1":  # no gradient into agents still inside an action
            q_in, vs = torch.where(busy, q_taken.detach(), q_taken), torch.where(busy, vs.detach(), vs)
        elif cfg.algo == "avf" and cfg.avf_scheme == "D2":  # their utilities do not enter Q_tot
            q_in, vs = q_taken.masked_fill(busy, 0.0), vs.masked_fill(busy, 0.0)
        onehot = F.one_hot(actions, A).float()  # [B, T, n, A]
        mixer = self.online["mixer"]
        q_tot = _mix(mixer, q_in, vs, onehot, net_in[2], first, packing, 0)  # [B, T, X]

        # ---- bootstrap values of rows 1..T: conditional (double-Q) argmax, target networks
        with torch.no_grad():
            select = q_all[:, 1:] if cfg.double_q else tq_all[:, 1:]
            a_next = conditional_argmax(select, avail[:, 1:], choosing[:, 1:], actions)  # [B, T, n]
            tq_next = tq_all[:, 1:].gather(-1, a_next.unsqueeze(-1)).squeeze(-1)  # [B, T, n]
            if cfg.algo == "avf" and cfg.avf_scheme == "D2":
                tq_next = tq_next.masked_fill(~choosing[:, 1:], 0.0)
            v_next = _mix(self.target["mixer"], tq_next, tq_next, F.one_hot(a_next, A).float(), net_in[2], tfirst,
                          packing, 1)  # [B, T, X]
            reward = b["reward_redistributed"] if cfg.legem else b["reward"]  # [B, T]
            discount = b["discount"] if self.cfg.buffer == "mac_jert" else torch.full_like(reward, cfg.gamma)
            args = (reward, discount, b["terminated"], b["filled"], v_next)
            if cfg.td_lambda is not None:
                target = lambda_returns(*args, cfg.td_lambda)
            else:
                target = nstep_returns(*args, cfg.n_step)  # [B, T, X]

        # rows that count: real steps after any burn-in warm-up, weighted by prioritised-sampling weights
        valid = b["filled"] * (1.0 - b["burn_in"]) if "burn_in" in b else b["filled"]  # [B, T]
        weight = b["weight"].reshape(B, 1) if "weight" in b else torch.ones_like(valid[:, :1])  # [B, 1]
        filled = valid.unsqueeze(-1)  # [B, T, 1]
        X = q_tot.shape[-1]
        denom = filled.sum().clamp(min=1.0) * X
        td = (q_tot - target) * filled
        micro = (td ** 2 * weight.unsqueeze(-1)).sum() / denom
        loss = micro
        metrics = {"losses/micro_td": micro.detach(), "td/abs_error_mean": td.abs().sum().detach() / denom,
                   "q/taken_mean": (q_taken * filled).sum().detach() / (filled.sum().clamp(min=1.0) * n),
                   "q/total_mean": (q_tot * filled).sum().detach() / denom,
                   "q/target_mean": (target * filled).sum().detach() / denom}

        if self._macro_td:  # eq. 14 at each agent's segment end
            seg_return = b["seg_return"]
            if cfg.legem:
                seg_return = discounted_segment_returns(reward, b["seg_start"], b["seg_end"], cfg.gamma)
            start, m_target = macro_targets(b["seg_start"], b["seg_end"], seg_return, b["terminated"], v_next,
                                            cfg.gamma)  # [B, n, K], [B, n, K, X]
            m_pred = gather_rows(q_tot, start)
            m_mask = b["seg_mask"]  # [B, n, K]
            if "burn_in" in b:  # segments that start inside the warm-up do not count
                m_mask = m_mask * (1.0 - b["burn_in"].gather(1, start.reshape(B, -1)).reshape(start.shape))
            m_err = ((m_pred - m_target) ** 2).sum(-1) * m_mask * weight.unsqueeze(-1)
            macro = m_err.sum() / (m_mask.sum().clamp(min=1.0) * X)
            loss = loss + cfg.macro_td_weight * macro
            metrics["losses/macro_td"] = macro.detach()

        if cfg.mixer_name == "qtran":  # Qtran-base's L_opt and L_nopt tie sum_i Q_i to Q_jt
            a_greedy = conditional_argmax(q_all[:, :T].detach(), avail[:, :T], choosing[:, :T], actions)
            q_greedy = q_all[:, :T].gather(-1, a_greedy.unsqueeze(-1)).squeeze(-1)  # [B, T, n]
            q_jt_greedy = mixer(q_greedy.detach(), state[:, :T], actions=F.one_hot(a_greedy, A).float())
            v_jt = mixer.v(state[:, :T])
            opt = q_greedy.sum(-1, keepdim=True) - q_jt_greedy.detach() + v_jt
            nopt = (q_taken.sum(-1, keepdim=True) - q_tot.detach() + v_jt).clamp(max=0.0)
            l_opt = ((opt * filled) ** 2 * weight.unsqueeze(-1)).sum() / denom
            l_nopt = ((nopt * filled) ** 2 * weight.unsqueeze(-1)).sum() / denom
            loss = loss + l_opt + l_nopt
            metrics.update({"losses/qtran_opt": l_opt.detach(), "losses/qtran_nopt": l_nopt.detach()})

        metrics["losses/total"] = loss.detach()
        return loss, metrics, td


def forward_nets(nets: nn.ModuleDict, feats: Tensor, eval_elapsed: Tensor, state: Tensor,
                 packing: RowPacking | None):
    """q ``[B, T+1, n, A]`` and ATPG's (w1 ``[B, T+1, n, E]``, b1 ``[B, T+1, E]``) or None. With ``packing``
    the inputs are the packed real rows ``[R, ...]``, q is zero on padding rows and w1, b1 stay packed."""
    steps = packing.steps if packing is not None else None
    h = nets["agent"].hiddens_from_features(feats, steps)  # [B, T+1, n, H] or [R, n, H]
    q = nets["agent"].q_values(h, eval_elapsed)  # [B, T+1, n, A] or [R, n, A]
    first = nets["atpg"](feats, state, packing) if "atpg" in nets else None  # ([.., n, E], [.., E])
    if packing is not None:
        q = packing.unpack(q)  # the losses read q padded; ATPG's parameters stay packed for the mixer
    return q, first


def target_forward(nets: nn.ModuleDict, feats: Tensor, eval_elapsed: Tensor, state: Tensor, rows: Tensor | None,
                   L: int = 0) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """:func:`forward_nets` as the target process runs it: the packing rebuilt from its rows per episode
    ``[B]`` (None: no packing), ATPG's parameters flattened to (w1, b1) or (None, None)."""
    packing = None if rows is None else RowPacking(rows.long(), L)
    q, first = forward_nets(nets, feats, eval_elapsed, state, packing)
    return (q, None, None) if first is None else (q, *first)


def _rows(first, lo: int, hi: int):
    """Rows lo..hi-1 of ATPG's (w1, b1), or None."""
    if first is None:
        return None
    w1, b1 = first
    return w1[:, lo:hi], b1[:, lo:hi]


def _mix(mixer: nn.Module, qs: Tensor, vs: Tensor, actions: Tensor, state: Tensor, first, packing: RowPacking | None,
         lo: int) -> Tensor:
    """Q_tot ``[B, T, X]`` at rows lo..lo+T-1 of the T+1 rows (0: predictions, 1: bootstrap values) from
    qs/vs ``[B, T, n]`` and actions ``[B, T, n, A]``; state and ATPG's ``first`` cover rows 0..T, padded or,
    with ``packing``, packed: then the mixer runs on the real rows only."""
    T = qs.shape[1]
    if packing is None:
        return mixer(qs, state[:, lo:lo + T], vs=vs, actions=actions, first=_rows(first, lo, lo + T))

    def rows(x: Tensor) -> Tensor:  # [B, T, ...] -> packed rows of [B, T+1, ...] (the row not mixed is zero)
        z = torch.zeros_like(x[:, :1])
        return packing.pack(torch.cat([x, z] if lo == 0 else [z, x], dim=1))

    out = mixer(rows(qs), state, vs=rows(vs), actions=rows(actions), first=first)  # [R, X]
    return packing.unpack(out)[:, lo:lo + T]
