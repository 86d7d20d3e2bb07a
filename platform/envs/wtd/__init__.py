"""Warehouse Tool Delivery (the reference's "OSD" environments): turtlebots fetch tools that a Fetch robot finds
and passes over, and deliver them to humans in work areas. Scenarios ``wtd-a`` ... ``wtd-e``."""
from asyncmarl.platform.envs.wtd import scenarios  # noqa: F401  (registers the scenarios)
from asyncmarl.platform.envs.wtd.core import WTDEnv
from asyncmarl.platform.envs.wtd.settings import LAYOUTS, WTDSettings

__all__ = ["LAYOUTS", "WTDEnv", "WTDSettings"]
