"""LeGEM: levelled graph episodic memory for off-beat MARL (pivot search and reward redistribution).

``LegemMemory`` is imported on first use, so the numpy-only parts (config, keys) load without torch.
"""
from asyncmarl.memory_service.legem.config import LegemConfig

__all__ = ["LegemConfig", "LegemMemory"]


def __getattr__(name):
    if name == "LegemMemory":
        from asyncmarl.memory_service.legem.memory import LegemMemory

        return LegemMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
