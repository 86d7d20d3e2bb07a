"""The contract between :class:`~asyncmarl.learner.Learner` and an algorithm family.

The Learner owns what every family shares: the device, the online and target module dicts, one optimiser over
the family's parameter groups, the version counter, target updates, priorities, the checkpoint format and the
published weights. A family says which networks exist, which replay view it reads, which module the rollout
workers act with, and computes one training step's losses.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from asyncmarl.learner.config import LearnerConfig
from asyncmarl.platform.envs.base import EnvInfo


@dataclass
class Losses:
    """One step's loss, its metrics, and (off-policy families) per-row TD errors for replay priorities."""

    loss: Tensor  # scalar to minimise
    metrics: dict[str, Tensor]  # namespaced (``losses/...``, ``q/...``), detached
    td: Tensor | None = None  # [B, L, X] TD errors, zero where not counted (None: no priorities)
    valid: Tensor | None = None  # [B, L] rows that count in ``td``


class Family:
    """One algorithm family. Subclasses set ``acting`` (the key of the module rollout workers act with) and
    implement :meth:`build` and :meth:`losses`."""

    acting = "agent"

    def __init__(self, cfg: LearnerConfig, info: EnvInfo):
        self.cfg, self.info = cfg, info
        self.last_targets: dict[str, Tensor] = {}  # the last step's targets and chosen actions (tests, analysis)
        self.target_runner = None  # a TargetProcess running target_forward, set by the Learner (or None)

    # the target networks' forward as a pure function fn(target, *inputs, **extra) -> tensors, for a
    # families that can run it in a second process (learner.target_process); None: always in process
    target_forward = None

    @property
    def view(self) -> str:
        """The replay view it trains on."""
        return self.cfg.buffer

    @property
    def needs_segments(self) -> bool:
        """Whether batches must carry the segment tables (``learner.batch.prepare_batch``)."""
        return self.view == "mac_cert"

    @property
    def epochs(self) -> int:
        """Gradient steps per update (per batch)."""
        return 1

    def build(self) -> nn.ModuleDict:
        """The online networks (the Learner deep-copies them for the targets)."""
        raise NotImplementedError

    def param_groups(self, online: nn.ModuleDict) -> list[dict]:
        """Optimiser parameter groups (one learning rate each)."""
        return [{"params": list(online.parameters()), "lr": self.cfg.lr}]

    def losses(self, online: nn.ModuleDict, target: nn.ModuleDict, b: dict[str, Tensor], version: int) -> Losses:
        """The loss of one gradient step on the prepared batch ``b`` (``version``: updates done so far)."""
        raise NotImplementedError
