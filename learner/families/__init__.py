"""Algorithm families behind :class:`asyncmarl.learner.Learner`, one module each, chosen once from
``learner.algo``."""
from __future__ import annotations

from asyncmarl.learner.config import AC_ALGOS, DDRQN_ALGOS, LearnerConfig
from asyncmarl.learner.families.base import Family, Losses
from asyncmarl.platform.envs.base import EnvInfo


def make_family(cfg: LearnerConfig, info: EnvInfo) -> Family:
    """The family that trains ``cfg.algo``."""
    if cfg.algo == "rllib_ppo":
        raise ValueError("learner.algo 'rllib_ppo' trains through RLlib (cluster/rllib_run.py), not this Learner")
    if cfg.algo in DDRQN_ALGOS:
        from asyncmarl.learner.families.ddrqn import DDRQNFamily

        return DDRQNFamily(cfg, info)
    if cfg.algo in AC_ALGOS:
        from asyncmarl.learner.families.actor_critic import ActorCriticFamily

        return ActorCriticFamily(cfg, info)
    from asyncmarl.learner.families.value_factorisation import ValueFactorisation

    return ValueFactorisation(cfg, info)


__all__ = ["Family", "Losses", "make_family"]
