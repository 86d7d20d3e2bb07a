"""Asynchronous multi-agent environments: macro-action (BoxPushing, Warehouse Tool Delivery, Overcooked) and
off-beat (Stag-Hunter, Quarry, Afforestation) scenarios, each a batched numpy core with a PettingZoo view."""
from asyncmarl.platform.envs.base import BatchedEnv, EnvInfo, Step
from asyncmarl.platform.envs.registry import env_info, make, make_batched, names, register, resolve_settings, spec

__all__ = ["BatchedEnv", "EnvInfo", "Step", "env_info", "make", "make_batched", "names", "register", "resolve_settings",
           "spec"]
