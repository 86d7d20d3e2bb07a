"""Centralised execution for the centrally executed baselines (Mac-Cen-DDRQN, Mac-CAC): one network over the
joint observation chooses a joint macro-action, conditioned on the running ones; only the agents whose action
ended take their part of it. The network ticks and the choice is recomputed only when some agent's action
ends (a Mac-JERT row), as its learner sees the data."""
from __future__ import annotations

import numpy as np
import torch

from asyncmarl.platform.envs import EnvInfo, Step
from asyncmarl.platform.nets.joint import JointNet, joint_allowed, joint_input, joint_unravel


class CentralPolicy:
    """Acting with a :class:`~asyncmarl.platform.nets.joint.JointNet` for ``B`` copies: epsilon-greedy on joint
    Q values (``stochastic=False``) or sampling the joint policy's logits mixed with epsilon-uniform choices over
    the allowed joint actions (``stochastic=True``, the reference's exploration for actor-critics)."""

    def __init__(self, net: JointNet, info: EnvInfo, batch_size: int, stochastic: bool):
        self.net, self.info, self.B, self.stochastic = net, info, batch_size, stochastic
        self.hidden = net.initial_hidden(batch_size)  # [B, H]

    def reset(self, where: np.ndarray) -> None:
        idx = torch.as_tensor(np.flatnonzero(where))
        if len(idx):
            self.hidden[idx] = self.net.initial_hidden(len(idx))

    @torch.no_grad()
    def act(self, step: Step, epsilon: float, rng: np.random.Generator, explore: bool = True) -> np.ndarray:
        """Actions ``[B, n]``: the joint choice's parts for choosing agents, the running action for the others;
        ``explore=False`` (evaluation): a stochastic policy takes its most likely joint action."""
        n, A = self.info.n_agents, self.info.n_actions
        update = torch.as_tensor(step.choosing.any(1))  # [B] some action ended: a Mac-JERT row
        out, self.hidden = self.net.step(joint_input(torch.tensor(step.obs)), self.hidden, update)  # [B, A^n]
        allowed = joint_allowed(torch.tensor(step.action_mask), torch.tensor(step.choosing),
                                torch.tensor(step.macro_action)).numpy()  # [B, A^n] (copies: the env's are read-only)
        out = out.numpy()
        if self.stochastic and explore:  # softmax over the allowed joint actions, then the epsilon mixture
            z = np.where(allowed, out, -np.inf)
            p = np.exp(z - z.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            if epsilon > 0:
                p = (1.0 - epsilon) * p + epsilon * allowed / allowed.sum(-1, keepdims=True)
            u = rng.random((self.B, 1))
            joint = np.minimum((p.cumsum(-1) < u).sum(-1), p.shape[-1] - 1)
        else:
            joint = np.where(allowed, out, -np.inf).argmax(-1)
            if epsilon > 0:
                random = (rng.random(allowed.shape) * allowed).argmax(-1)  # uniform over the allowed ones
                joint = np.where(rng.random(self.B) < epsilon, random, joint)
        parts = joint_unravel(torch.as_tensor(joint), n, A).numpy()  # [B, n]
        return np.where(step.choosing, parts, step.macro_action)

    def observe(self, step: Step) -> None:
        """Nothing to remember: the joint network reads only the joint observation."""
