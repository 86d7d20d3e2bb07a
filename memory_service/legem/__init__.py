"""LeGEM: levelled graph episodic memory for off-beat MARL (pivot search and reward redistribution)."""
from asyncmarl.memory_service.legem.config import LegemConfig
from asyncmarl.memory_service.legem.memory import LegemMemory

__all__ = ["LegemConfig", "LegemMemory"]
