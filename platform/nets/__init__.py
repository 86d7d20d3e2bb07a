"""Agent networks shared by rollout workers (acting) and learners (training)."""
from asyncmarl.platform.nets.agent import AgentNet, AgentNetConfig, make_agent_net

__all__ = ["AgentNet", "AgentNetConfig", "make_agent_net"]
