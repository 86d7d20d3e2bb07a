"""Mac-SJERT replay (ToMacVF section 3.1): joint timesteps stored once per episode, per-agent segment tables
over them, Mac-JERT as a second view; sharded by episode id."""
from asyncmarl.memory_service.replay.config import ReplayConfig

__all__ = ["ReplayConfig"]
