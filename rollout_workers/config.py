"""Settings of a rollout worker."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RolloutConfig:
    num_envs: int = 8  # environment copies one worker steps together (one forward pass for all)
    steps_per_call: int = 25  # timesteps per run() call before segments are handed over
    epsilon_start: float = 1.0  # exploration at the first step
    epsilon_end: float = 0.05  # exploration after annealing
    epsilon_anneal_steps: int = 50_000  # joint env steps (all workers together) to anneal over, linearly
    eval_epsilon: float = 0.0  # exploration during evaluation (greedy by default)
    eval_sample: bool = False  # actor-critic policies sample at evaluation (the reference does) instead of their argmax
    torch_threads: int = 1  # intra-op threads for acting; tiny forward passes are slowest multi-threaded

    def __post_init__(self):
        for name in ("num_envs", "steps_per_call", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"rollout.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"rollout.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.epsilon_anneal_steps < 0:
            raise ValueError(f"rollout.epsilon_anneal_steps must be >= 0, got {self.epsilon_anneal_steps}")

    def epsilon(self, env_steps: int) -> float:
        """Linearly annealed epsilon after ``env_steps`` joint steps."""
        if self.epsilon_anneal_steps == 0:
            return self.epsilon_end
        frac = min(1.0, env_steps / self.epsilon_anneal_steps)
        return self.epsilon_start + frac * (self.epsilon_end - self.epsilon_start)
