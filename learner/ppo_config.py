"""Settings of the RLlib PPO baseline (``learner.algo: rllib_ppo``), the ``learner.ppo`` section.

The discount is ``learner.gamma`` (used twice: inside an agent's action by the adapter, and decision to decision
by RLlib's GAE), the learning rate ``learner.lr`` and the gradient clip ``learner.grad_clip``; everything
PPO-specific lives here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PpoConfig:
    train_batch_size: int = 2000  # joint env steps sampled per PPO iteration (one "update" in our metrics)
    minibatch_size: int = 256  # agent decisions per SGD minibatch
    num_epochs: int = 10  # passes of SGD over each iteration's batch
    gae_lambda: float = 0.95  # GAE lambda over the agent's decisions
    clip_param: float = 0.2  # PPO ratio clip
    vf_clip_param: float = 1000.0  # value-loss clip (returns here reach the hundreds)
    vf_loss_coeff: float = 0.5  # weight of the value loss
    entropy_coeff: float = 0.01  # entropy bonus
    hidden_dim: int = 64  # width of the policy and value MLPs
    num_layers: int = 2  # hidden layers of the policy and value MLPs
    central_critic: bool = False  # MAPPO style: the value function reads the global state (policy stays local)
    num_envs_per_runner: int = 8  # environment copies each RLlib env runner steps (vectorised: 7x faster than 1)

    def __post_init__(self):
        for name in ("train_batch_size", "minibatch_size", "num_epochs", "hidden_dim", "num_envs_per_runner"):
            if getattr(self, name) < 1:
                raise ValueError(f"learner.ppo.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_layers < 0:
            raise ValueError(f"learner.ppo.num_layers must be >= 0, got {self.num_layers}")
        for name in ("gae_lambda", "clip_param", "vf_clip_param", "vf_loss_coeff", "entropy_coeff"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"learner.ppo.{name} must be a finite number >= 0, got {v}")
        if self.gae_lambda > 1.0:
            raise ValueError(f"learner.ppo.gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.minibatch_size > self.train_batch_size:  # RLlib refuses it when the algorithm is built
            raise ValueError(f"learner.ppo.minibatch_size ({self.minibatch_size}) must be <= "
                             f"learner.ppo.train_batch_size ({self.train_batch_size})")
        if self.clip_param <= 0:
            raise ValueError(f"learner.ppo.clip_param must be > 0, got {self.clip_param}")
