"""Mac-SJERT replay (ToMacVF section 3.1): joint timesteps stored once per episode, per-agent segment tables
over them, Mac-JERT as a second view of the same data; sharded by episode id. See docs/replay.md."""
from asyncmarl.memory_service.replay.assembly import SegmentError
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard

__all__ = ["ReplayConfig", "ReplayShard", "SegmentError"]
