"""Value-factorisation learners (ToMacVF, AVF, IQL/VDN/QMIX/QPLEX) on replay's episode batches."""
from asyncmarl.learner.config import AtpgConfig, LearnerConfig
from asyncmarl.learner.learner import Learner

__all__ = ["AtpgConfig", "Learner", "LearnerConfig"]
