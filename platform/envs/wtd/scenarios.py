"""The five Warehouse Tool Delivery scenarios of the ToMacVF paper, registered as ``wtd-a`` ... ``wtd-e``.

Settings are the MacroMARL run scripts' (``experiments/Warehouse/*.sh``): turtlebot speed 0.8, late-delivery
penalty -20, pass 4 steps, search 6 steps, drop penalty -10.
"""
from __future__ import annotations

from asyncmarl.platform.envs.registry import register
from asyncmarl.platform.envs.wtd.core import WTDEnv
from asyncmarl.platform.envs.wtd.settings import WTDSettings

SCENARIOS = {
    "wtd-a": (
        dict(layout="OSD-D-v7", human_phase_steps=((27, 20, 20, 20), (27, 20, 20, 20)), horizon=200),
        "WTD-D (OSD-D-v7): 2 turtlebots + Fetch, 2 humans with a slow first phase",
    ),
    "wtd-b": (
        dict(layout="OSD-D-v7", human_phase_steps=((18, 15, 15, 15), (48, 18, 15, 15)), horizon=200),
        "WTD-D1 (OSD-D-v7): 2 turtlebots + Fetch, 2 humans working at different speeds",
    ),
    "wtd-c": (
        dict(layout="OSD-T-v0", human_phase_steps=((40, 40, 40, 40),) * 3, horizon=250),
        "WTD-T (OSD-T-v0): 2 turtlebots + Fetch, 3 humans",
    ),
    "wtd-d": (
        dict(layout="OSD-T-v1", human_phase_steps=((38, 38, 38, 38), (38, 38, 38, 38), (27, 27, 27, 27)), horizon=250),
        "WTD-T1 (OSD-T-v1): 3 turtlebots + Fetch, 3 humans working at different speeds",
    ),
    "wtd-e": (
        dict(layout="OSD-F-v0", human_phase_steps=((40, 40, 40, 40),) * 4, horizon=300),
        "WTD-Q (OSD-F-v0): 3 turtlebots + Fetch, 4 humans",
    ),
}


def _factory(name: str):
    def make(batch_size: int, settings: WTDSettings) -> WTDEnv:
        return WTDEnv(batch_size, settings, name=name)

    return make


for _name, (_preset, _desc) in SCENARIOS.items():
    register(_name, _factory(_name), WTDSettings, _preset, family="macro", description=_desc)
