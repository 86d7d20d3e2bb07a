"""Learners on replay's episode batches: value factorisation (ToMacVF, AVF, IQL/VDN/QMIX/QPLEX) and Xiao et al.'s
macro-action baselines (DDRQN and actor-critic families)."""
from asyncmarl.learner.config import AtpgConfig, LearnerConfig
from asyncmarl.learner.learner import Learner

__all__ = ["AtpgConfig", "Learner", "LearnerConfig"]
