"""Learner settings: one frozen dataclass (plus the ATPG sub-config), loaded by ``asyncmarl.cluster.config`` from
YAML with ``key=value`` overrides. Every bad value raises a ValueError naming ``learner.<field>``."""
from __future__ import annotations

from dataclasses import dataclass, field

from asyncmarl.learner.ppo_config import PpoConfig
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.joint import JointNetConfig

SYNC_ALGOS = ("iql", "vdn", "qmix", "qplex")  # every step a decision step; busy agents take the no-op (action 0)
DDRQN_ALGOS = ("mac_dec_ddrqn", "mac_cen_ddrqn", "mac_dec_maddrqn")  # Xiao et al.'s value-based baselines
AC_ALGOS = ("mac_iac", "mac_cac", "mac_niacc", "mac_iaicc")  # Xiao et al.'s actor-critic baselines (on-policy)
ALGOS = ("tomacvf", "avf", *SYNC_ALGOS, "rllib_ppo", *DDRQN_ALGOS, *AC_ALGOS)
# the replay view each baseline trains on: centralised ones the joint (Mac-JERT) rows, the others add their
# agents' own decision rows (Mac-CERT)
BASELINE_VIEWS = {"mac_cen_ddrqn": "mac_jert", "mac_cac": "mac_jert", **{a: "mac_cert" for a in
                  ("mac_dec_ddrqn", "mac_dec_maddrqn", "mac_iac", "mac_niacc", "mac_iaicc")}}
CENTRALISED_ACTING = ("mac_cen_ddrqn", "mac_cac")  # one policy over joint macro-actions (centralised execution)
MIXERS = ("qmix", "vdn", "qplex", "qtran")
BUFFERS = ("mac_sjert", "mac_jert", "mac_cert")
CRITICS = ("history", "state")
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
    algo: str = "tomacvf"  # tomacvf | avf | iql | vdn | qmix | qplex | rllib_ppo | mac_dec_ddrqn | mac_cen_ddrqn |
        # mac_dec_maddrqn | mac_iac | mac_cac | mac_niacc | mac_iaicc
    mixer: str = "qmix"  # mixer of tomacvf/avf: qmix | vdn | qplex | qtran (sync algos use their own name's)
    mixing_embed_dim: int = 32  # width of the mixer's hidden layer (QMIX) / hypernetwork output
    hypernet_dim: int = 64  # hidden width of the state hypernetworks
    atpg: bool = True  # tomacvf: mixer first layer from ATPG (False: QMIX hypernetworks on the state)
    buffer: str = "mac_sjert"  # replay view trained on: mac_sjert | mac_jert | mac_cert
        # (avf: mac_jert; baselines: their own)
    gamma: float = 0.99  # discount per timestep
    lr: float = 5e-4  # learning rate
    optimiser: str = "adam"  # adam | rmsprop
    grad_clip: float = 10.0  # max global gradient norm (0: no clipping)
    n_step: int = 5  # n of the n-step micro-TD targets (paper Tables 3-4: 5)
    td_lambda: float | None = None  # TD(lambda) targets instead of n-step when set (in [0, 1])
    double_q: bool = True  # online net picks the (conditional) argmax, target net evaluates it
    target_update: str = "hard"  # hard copies every target_update_interval updates, or polyak every update
    target_update_interval: int = 4  # updates between hard target copies
    tau: float = 0.005  # polyak rate: target <- (1 - tau) target + tau online
    macro_td_weight: float = 1.0  # weight of the macro-TD loss (eq. 14) next to the micro-TD loss (eq. 13)
    avf_scheme: str = "D0"  # avf only: D0 all agents, D1 detach busy agents' utilities, D2 zero them
    priority_eta: float = 0.9  # episode priority = eta * max_t |TD| + (1 - eta) * mean_t |TD| (R2D2's mix)
    legem: bool = False  # train on batch["reward_redistributed"] (LeGEM off-beat TD) instead of batch["reward"]
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    target_process: bool | None = None  # value factorisation on CPU: the target networks' forward in a second
        # process, overlapped with the online forward (same floats); null: when this process may use 2+ cores and
        # is not a Ray actor (Ray schedules those CPUs)
    hysteretic: float = 1.0  # mac_dec_ddrqn/mac_dec_maddrqn Q_i: weight of negative TD errors at the start
        # (1: plain MSE)
    hysteretic_end: float = 1.0  # ... annealed linearly to this over hysteretic_anneal_updates
    hysteretic_anneal_updates: int = 0  # updates to anneal the hysteretic weight over (0: hysteretic_end at once)
    critic: str = "history"  # actor-critic critics: history (GRU over the joint observation) | state (MLP on the state)
    critic_lr: float = 3e-3  # actor-critic: critic learning rate (lr is the actor's)
    epochs: int = 1  # actor-critic: gradient steps on each on-policy batch (one learner update)
    entropy_weight: float = 0.0  # actor-critic: weight of the policy-entropy bonus in the actor loss
    joint_net: JointNetConfig = field(default_factory=JointNetConfig)  # centralised Q/actor/critic networks
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
            raise ValueError(
                f"learner.mixer must be one of ['vdn', 'qmix', 'qplex'] for algo 'avf', got {self.mixer!r}")
        if self.atpg and self.algo != "tomacvf":
            raise ValueError(f"learner.atpg is ToMacVF's module; set learner.atpg=false for algo {self.algo!r}")
        if self.algo in SYNC_ALGOS and self.buffer != "mac_sjert":
            raise ValueError(f"learner.buffer must be 'mac_sjert' for synchronous algo {self.algo!r}")
        if self.algo == "rllib_ppo" and self.legem:
            raise ValueError("learner.legem trains value-based learners on redistributed rewards; set "
                             "learner.legem=false for algo 'rllib_ppo'")
        if self.atpg and self.mixer == "qtran":
            raise ValueError("learner.mixer 'qtran' has no first mixing layer for ATPG; set learner.atpg=false")
        if self.critic not in CRITICS:
            raise ValueError(f"learner.critic must be one of {list(CRITICS)}, got {self.critic!r}")
        if not 0.0 < self.critic_lr <= 1.0:
            raise ValueError(f"learner.critic_lr must be in (0, 1], got {self.critic_lr}")
        for name in ("hysteretic", "hysteretic_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"learner.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.epochs < 1 or self.hysteretic_anneal_updates < 0 or self.entropy_weight < 0:
            raise ValueError(f"learner.epochs must be >= 1 and learner.hysteretic_anneal_updates and "
                             f"learner.entropy_weight >= 0, got {self.epochs}, {self.hysteretic_anneal_updates}, "
                             f"{self.entropy_weight}")
        if self.algo in BASELINE_VIEWS:
            want = BASELINE_VIEWS[self.algo]
            if self.buffer != want:
                raise ValueError(f"learner.buffer must be {want!r} for algo {self.algo!r}, got {self.buffer!r}")
            if self.agent_net.temporal or self.legem:
                raise ValueError(f"algo {self.algo!r} uses the plain recurrent agent network without LeGEM: set "
                                 f"learner.agent_net.temporal=false and learner.legem=false")
            if self.td_lambda is not None:
                raise ValueError(f"algo {self.algo!r} takes n-step targets (learner.n_step), not TD(lambda): set "
                                 f"learner.td_lambda=null")
        elif self.buffer == "mac_cert":
            raise ValueError(f"learner.buffer 'mac_cert' is for the decentralised baselines "
                             f"{[a for a, v in BASELINE_VIEWS.items() if v == 'mac_cert']}, not {self.algo!r}")

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

    @property
    def on_policy(self) -> bool:
        """Actor-critic baselines: trained on fresh episodes only (``replay.on_policy``)."""
        return self.algo in AC_ALGOS

    @property
    def policy(self) -> str:
        """How rollout workers act: ``greedy`` (epsilon-greedy on per-agent Q values), ``stochastic`` (sample
        per-agent policies), ``central_greedy`` / ``central_stochastic`` (one network over joint actions)."""
        central = self.algo in CENTRALISED_ACTING
        stochastic = self.algo in AC_ALGOS
        return ("central_" if central else "") + ("stochastic" if stochastic else "greedy")
