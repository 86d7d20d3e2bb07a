"""The Learner: what every algorithm family shares -- device, online and target networks, one optimiser, the version
counter, target updates, replay priorities, the checkpoint format and the published acting network -- around
one family's training step, chosen once from ``learner.algo``:

* value factorisation (:mod:`.families.value_factorisation`): ToMacVF, AVF, IQL/VDN/QMIX/QPLEX;
* DDRQN (:mod:`.families.ddrqn`): Mac-Dec-DDRQN, Mac-Cen-DDRQN, Mac-Dec-MADDRQN;
* actor-critic (:mod:`.families.actor_critic`): Mac-IAC, Mac-CAC, Mac-NIACC, Mac-IAICC (on-policy).
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import Tensor, nn

from asyncmarl.learner.batch import prepare_batch
from asyncmarl.learner.config import LearnerConfig
from asyncmarl.learner.families import make_family
from asyncmarl.learner.target_process import TargetProcess, inside_ray_actor, usable_cores
from asyncmarl.platform.envs.base import EnvInfo


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("learner.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


class Learner:
    """Owns the family's networks, their targets and the optimiser. Plain class (see roles.Learner)."""

    def __init__(self, cfg: LearnerConfig, info: EnvInfo):
        if not isinstance(cfg, LearnerConfig):
            raise ValueError(f"cfg must be a LearnerConfig, got {type(cfg).__name__}")
        self.cfg, self.info = cfg, info
        self.device = resolve_device(cfg.device)
        self.family = make_family(cfg, info)
        self.view = self.family.view
        self.online = self.family.build().to(self.device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.family.target_runner = self._target_process()
        groups = self.family.param_groups(self.online)
        # one fused (Adam) or multi-tensor (RMSprop) kernel over all parameters instead of a Python loop over them
        if cfg.optimiser == "adam":
            self.optimiser = torch.optim.Adam(groups, lr=cfg.lr, fused=True)
        else:
            self.optimiser = torch.optim.RMSprop(groups, lr=cfg.lr, foreach=True)
        self.version = 0  # completed updates; published with the weights
        self._last_td: tuple[Tensor, Tensor] | None = None  # (TD errors [B, T, X], counted rows [B, T])

    def _target_process(self) -> TargetProcess | None:
        """The family's target forward in a second process (``learner.target_process``), or None."""
        want = self.cfg.target_process  # True, False or None (automatic)
        if want and self.family.target_forward is None:
            raise ValueError(f"learner.target_process=true is not supported by learner.algo={self.cfg.algo!r} "
                             f"(value factorisation only); use null or false")
        if want and self.device.type != "cpu":
            raise ValueError("learner.target_process=true needs learner.device=cpu (on a GPU the target forward is "
                             "queued on the device already); use null or false")
        if want is False or self.family.target_forward is None or self.device.type != "cpu":
            return None
        if want is None and (usable_cores() < 2 or inside_ray_actor()):
            return None
        return TargetProcess(self.target, self.family.target_forward)

    def close(self) -> None:
        """Stop the target process, if any (the Learner keeps working, in one process)."""
        if self.family.target_runner is not None:
            self.family.target_runner.close()
            self.family.target_runner = None

    # ------------------------------------------------------------------ public API
    def update(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One update on an episode batch (one gradient step; ``learner.epochs`` steps for the on-policy
        actor-critic families); returns namespaced metrics (of the last step)."""
        b = prepare_batch(batch, self.info, self.view, self.device, self.cfg.legem,
                          need_segments=self.family.needs_segments)
        self.online.train()
        for _ in range(self.family.epochs):
            out, grad_norm = self._step(b)
        self.version += 1
        self._update_target()
        if out.td is not None:
            self._last_td = (out.td.detach(), out.valid)  # priorities are computed only when asked for (no sync)
        metrics = out.metrics
        out = {k: float(v) for k, v in metrics.items()}
        out.update({"learner/grad_norm": float(grad_norm), "learner/version": float(self.version),
                    "learner/lr": self.cfg.lr})
        return out

    @property
    def last_priorities(self) -> np.ndarray | None:
        """Per-episode replay priorities [B] from the last update's micro-TD errors: eta * max + (1 - eta) *
        mean of |TD| over the episode's counted rows (a small floor keeps every episode drawable)."""
        if self._last_td is None:
            return None
        td, valid = self._last_td  # [B, T, X] (zero on rows that do not count), [B, T]
        err = td.abs()
        count = (valid.sum(1) * td.shape[-1]).clamp(min=1.0)  # [B]
        eta = self.cfg.priority_eta
        pr = eta * err.amax((1, 2)) + (1.0 - eta) * err.sum((1, 2)) / count
        return (pr + 1e-3).cpu().numpy()

    def _step(self, b: dict[str, Tensor]):
        """One gradient step of the family's losses: (Losses, gradient norm before clipping)."""
        out = self.family.losses(self.online, self.target, b, self.version)
        self.optimiser.zero_grad(set_to_none=True)
        out.loss.backward()
        clip = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        grad_norm = nn.utils.clip_grad_norm_(self.online.parameters(), clip)
        self.optimiser.step()
        return out, grad_norm

    def get_weights(self) -> tuple[int, dict[str, Tensor]]:
        """(version, CPU state_dict of the acting network) for rollout workers: the agent network, or the
        centralised network of the centrally executed baselines."""
        net = self.online[self.family.acting]
        return self.version, {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}

    def state_dict(self) -> dict:
        """Networks, targets, optimiser and counters (a deep copy: safe to keep while training goes on)."""
        return copy.deepcopy({"online": self.online.state_dict(), "target": self.target.state_dict(),
                              "optimiser": self.optimiser.state_dict(), "version": self.version,
                              "config": dataclasses.asdict(self.cfg)})

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (exact round trip)."""
        missing = [k for k in ("online", "target", "optimiser", "version") if k not in state]
        if missing:
            raise ValueError(f"learner checkpoint is missing {missing}")
        saved = state.get("config", {})
        for key in ("algo", "mixer", "atpg", "buffer"):
            if key in saved and saved[key] != getattr(self.cfg, key):
                raise ValueError(f"learner checkpoint was trained with learner.{key}={saved[key]!r}, this learner "
                                 f"has {getattr(self.cfg, key)!r}")
        state = copy.deepcopy(state)
        try:
            self.online.load_state_dict(state["online"])
            self.target.load_state_dict(state["target"])
        except RuntimeError as e:
            raise ValueError(f"learner checkpoint does not match this learner's networks: {e}") from None
        kernels = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in self.optimiser.param_groups]
        self.optimiser.load_state_dict(state["optimiser"])
        # how to step is ours, not the file's
        for group, kernel in zip(self.optimiser.param_groups, kernels, strict=True):
            group.update(kernel)
        self.version = int(state["version"])

    # ------------------------------------------------------------------ training step
    def _update_target(self) -> None:
        with torch.no_grad():
            if self.cfg.target_update == "polyak":
                for tp, p in zip(self.target.parameters(), self.online.parameters(), strict=True):
                    tp.lerp_(p, self.cfg.tau)
            elif self.version % self.cfg.target_update_interval == 0:
                self.target.load_state_dict(self.online.state_dict())
