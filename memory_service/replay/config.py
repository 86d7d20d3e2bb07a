"""Settings of a replay shard."""
from __future__ import annotations

from dataclasses import dataclass

from asyncmarl.platform.schema import VIEWS  # noqa: F401 - re-exported: the batch views a shard builds

SAMPLERS = ("uniform", "prioritized")
CAPACITY_UNITS = ("episodes", "steps")


@dataclass(frozen=True)
class ReplayConfig:
    capacity: int = 5000  # how much one shard holds, in `capacity_unit`; oldest episodes go first (FIFO)
    capacity_unit: str = "episodes"  # "episodes" or "steps" (joint timesteps)
    min_episodes: int = 32  # complete episodes a shard needs before sample() returns a batch
    gamma: float = 0.98  # discount of R_m and of the Mac-JERT accumulated reward (must match the rollout's)
    sampler: str = "uniform"  # "uniform" over episodes, or "prioritized" (proportional to priority^alpha)
    priority_alpha: float = 0.6  # prioritized sampler: exponent on priorities
    priority_beta: float = 0.4  # prioritized sampler: importance-weight exponent (returned as batch["weight"])
    samples_per_insert: float = 0.0  # max episodes sampled per episode inserted (0: no limit)
    rate_slack: int = 0  # episodes that may be sampled beyond samples_per_insert * episodes inserted
    window: int = 0  # sample fixed-length windows of this many steps from long episodes (0: whole episodes)
    burn_in: int = 0  # steps before each window handed over to warm up recurrent state (marked in batch["burn_in"])
    incomplete_timeout_s: float = 300.0  # drop an open episode's segments after this long without a new one
    check_overlap_rows: bool = True  # verify that joint rows delivered by several agents' segments agree
    ret_tolerance: float = 1e-3  # max |Segment.ret - R_m recomputed from its rewards| accepted
    on_policy: bool = False  # FIFO of fresh episodes: each handed out once, oldest first (actor-critic learners)
    max_policy_lag: int = 0  # on_policy: drop episodes acted by a policy more than this many versions old
        # (0: only the newest)

    def __post_init__(self):
        if self.capacity < 1:
            raise ValueError(f"replay.capacity must be >= 1, got {self.capacity}")
        if self.capacity_unit not in CAPACITY_UNITS:
            raise ValueError(f"replay.capacity_unit must be one of {CAPACITY_UNITS}, got {self.capacity_unit!r}")
        if self.min_episodes < 1:
            raise ValueError(f"replay.min_episodes must be >= 1, got {self.min_episodes}")
        if self.capacity_unit == "episodes" and self.capacity < self.min_episodes:
            raise ValueError(f"replay.capacity={self.capacity} episodes can never hold replay.min_episodes="
                             f"{self.min_episodes} episodes, so sampling would never start; raise replay.capacity")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"replay.gamma must be in [0, 1], got {self.gamma}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"replay.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.samples_per_insert < 0 or self.rate_slack < 0:
            raise ValueError(
                f"replay.samples_per_insert and replay.rate_slack must be >= 0, got "
                f"{self.samples_per_insert}, {self.rate_slack}"
            )
        if self.window < 0 or self.burn_in < 0 or (self.burn_in and not self.window):
            raise ValueError(
                f"replay.window and replay.burn_in must be >= 0 and burn_in needs a window, got window="
                f"{self.window}, burn_in={self.burn_in}"
            )
        if self.max_policy_lag < 0:
            raise ValueError(f"replay.max_policy_lag must be >= 0 versions, got {self.max_policy_lag}")
        if self.on_policy and (self.sampler != "uniform" or self.window or self.samples_per_insert):
            raise ValueError(f"replay.on_policy hands out whole fresh episodes once, oldest first: it needs "
                             f"replay.sampler=uniform, replay.window=0 and replay.samples_per_insert=0 (got "
                             f"{self.sampler!r}, {self.window}, {self.samples_per_insert})")
        if self.incomplete_timeout_s <= 0:
            raise ValueError(f"replay.incomplete_timeout_s must be > 0, got {self.incomplete_timeout_s}")
