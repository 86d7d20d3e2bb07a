"""Learner settings: one frozen dataclass (plus the ATPG sub-config), loaded by ``asyncmarl.cluster.config`` from
YAML with ``key=value`` overrides. Every bad value raises a ValueError naming ``learner.<field>``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from asyncmarl.learner.ppo_config import PpoConfig
from asyncmarl.platform.nets import AgentNetConfig

ALGOS = ("tomacvf", "avf", "iql", "vdn", "qmix", "qplex", "rllib_ppo")
SYNC_ALGOS = ("iql", "vdn", "qmix", "qplex")  # every step a decision step; busy agents take the no-op (action 0)
MIXERS = ("qmix", "vdn", "qplex", "qtran")
BUFFERS = ("mac_sjert", "mac_jert")
OPTIMISERS = ("adam", "rmsprop")
TARGET_UPDATES = ("hard", "polyak")
AVF_SCHEMES = ("D0", "D1", "D2")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class AtpgConfig:
    embed_dim: int = 32  # d: width of the temporal and agent-oriented attention (eq. 9-11)
    delta: float = 0.05  # minimum interdependence: agent-attention weights below it are set to 0 (eq. 10)
    generator_dim: int = 64  # hidden width of the parameter generators f_w1, f_b1 (eq. 12)

    def __post_init__(self):
        if self.embed_dim < 1 or self.generator_dim < 1:
            raise ValueError(f"atpg_net.embed_dim and atpg_net.generator_dim must be >= 1, got "
                             f"{self.embed_dim}, {self.generator_dim}")
        if not 0.0 <= self.delta < 1.0:
            raise ValueError(f"atpg_net.delta must be in [0, 1), got {self.delta}")


@dataclass(frozen=True)
class LearnerConfig:
    algo: str = "tomacvf"  # tomacvf | avf | iql | vdn | qmix | qplex | rllib_ppo (RLlib's PPO over macro-actions)
    mixer: str = "qmix"  # mixer of tomacvf/avf: qmix | vdn | qplex | qtran (sync algos use their own name's)
    mixing_embed_dim: int = 32  # width of the mixer's hidden layer (QMIX) / hypernetwork output
    hypernet_dim: int = 64  # hidden width of the state hypernetworks
    atpg: bool = True  # tomacvf: mixer first layer from ATPG (False: QMIX hypernetworks on the state)
    buffer: str = "mac_sjert"  # replay view trained on: mac_sjert | mac_jert (avf: always mac_jert)
    gamma: float = 0.99  # discount per timestep
    lr: float = 5e-4  # learning rate
    optimiser: str = "adam"  # adam | rmsprop
    grad_clip: float = 10.0  # max global gradient norm (0: no clipping)
    n_step: int = 5  # n of the n-step micro-TD targets (paper Tables 3-4: 5)
    td_lambda: Optional[float] = None  # TD(lambda) targets instead of n-step when set (in [0, 1])
    double_q: bool = True  # online net picks the (conditional) argmax, target net evaluates it
    target_update: str = "hard"  # hard copies every target_update_interval updates, or polyak every update
    target_update_interval: int = 4  # updates between hard target copies
    tau: float = 0.005  # polyak rate: target <- (1 - tau) target + tau online
    macro_td_weight: float = 1.0  # weight of the macro-TD loss (eq. 14) next to the micro-TD loss (eq. 13)
    avf_scheme: str = "D0"  # avf only: D0 all agents, D1 detach busy agents' utilities, D2 zero them
    priority_eta: float = 0.9  # episode priority = eta * max_t |TD| + (1 - eta) * mean_t |TD| (R2D2's mix)
    legem: bool = False  # train on batch["reward_redistributed"] (LeGEM off-beat TD) instead of batch["reward"]
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    agent_net: AgentNetConfig = field(default_factory=AgentNetConfig)  # the acting network (rollouts use it too)
    atpg_net: AtpgConfig = field(default_factory=AtpgConfig)  # ATPG sizes
    ppo: PpoConfig = field(default_factory=PpoConfig)  # rllib_ppo only: PPO settings (learner/ppo_config.py)

    def __post_init__(self):
        def one_of(name, valid):
            if getattr(self, name) not in valid:
                raise ValueError(f"learner.{name} must be one of {list(valid)}, got {getattr(self, name)!r}")

        for name, valid in (("algo", ALGOS), ("mixer", MIXERS), ("buffer", BUFFERS), ("optimiser", OPTIMISERS),
                            ("target_update", TARGET_UPDATES), ("avf_scheme", AVF_SCHEMES), ("device", DEVICES)):
            one_of(name, valid)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"learner.gamma must be in (0, 1], got {self.gamma}")
        for name in ("lr", "tau"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"learner.{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("n_step", "target_update_interval", "mixing_embed_dim", "hypernet_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"learner.{name} must be >= 1, got {getattr(self, name)}")
        if self.grad_clip < 0 or self.macro_td_weight < 0:
            raise ValueError(f"learner.grad_clip and learner.macro_td_weight must be >= 0, got "
                             f"{self.grad_clip}, {self.macro_td_weight}")
        if not 0.0 <= self.priority_eta <= 1.0:
            raise ValueError(f"learner.priority_eta must be in [0, 1], got {self.priority_eta}")
        if self.legem and (self.n_step != 1 or self.td_lambda is not None):
            raise ValueError(f"learner.legem trains with LeGEM's one-step off-beat TD (paper eq. 4): set "
                             f"learner.n_step=1 and learner.td_lambda=null (got n_step={self.n_step}, td_lambda="
                             f"{self.td_lambda}; multi-step targets on redistributed rewards credit the exploratory "
                             f"choices inside the window and failed on Stag-Hunter, docs/legem.md)")
        if self.td_lambda is not None and not 0.0 <= self.td_lambda <= 1.0:
            raise ValueError(f"learner.td_lambda must be null or in [0, 1], got {self.td_lambda}")
        if self.algo == "avf" and self.buffer != "mac_jert":
            raise ValueError("learner.buffer must be 'mac_jert' for algo 'avf' (AVF trains on the squeezed view)")
        if self.algo == "avf" and self.mixer not in ("vdn", "qmix", "qplex"):
            raise ValueError(f"learner.mixer must be one of ['vdn', 'qmix', 'qplex'] for algo 'avf', got {self.mixer!r}")
        if self.atpg and self.algo != "tomacvf":
            raise ValueError(f"learner.atpg is ToMacVF's module; set learner.atpg=false for algo {self.algo!r}")
        if self.algo in SYNC_ALGOS and self.buffer != "mac_sjert":
            raise ValueError(f"learner.buffer must be 'mac_sjert' for synchronous algo {self.algo!r}")
        if self.algo == "rllib_ppo" and self.legem:
            raise ValueError("learner.legem trains value-based learners on redistributed rewards; set "
                             "learner.legem=false for algo 'rllib_ppo'")
        if self.atpg and self.mixer == "qtran":
            raise ValueError("learner.mixer 'qtran' has no first mixing layer for ATPG; set learner.atpg=false")

    @property
    def mixer_name(self) -> str:
        """The mixer actually used: ``mixer`` for tomacvf/avf, the algo's own for the synchronous ones
        (``none`` for IQL)."""
        if self.algo in SYNC_ALGOS:
            return "none" if self.algo == "iql" else self.algo
        return self.mixer

    @property
    def synchronous(self) -> bool:
        return self.algo in SYNC_ALGOS
