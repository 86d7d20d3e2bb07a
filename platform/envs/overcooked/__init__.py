"""Macro-action Overcooked: scenarios ``overcooked-a``, ``overcooked-b``, ``overcooked-c`` (3 agents, 7 x 7
kitchen, 5 x 5 view, lettuce-onion-tomato salad, horizon 200)."""
from asyncmarl.platform.envs.overcooked.core import OvercookedEnv
from asyncmarl.platform.envs.overcooked.settings import OvercookedSettings
from asyncmarl.platform.envs.registry import register

_DESCRIPTIONS = {
    "a": "open kitchen",
    "b": "counter divider in column 3: items are passed over it",
    "c": "counter divider in column 3 with a gap at row 5",
}


def _factory(name: str):
    def make(batch_size: int, settings: OvercookedSettings) -> OvercookedEnv:
        return OvercookedEnv(batch_size, settings, name=name)

    return make


for _m, _desc in _DESCRIPTIONS.items():
    register(f"overcooked-{_m}", _factory(f"overcooked-{_m}"), OvercookedSettings, {"map_type": _m.upper()},
             family="macro", description=f"Overcooked map {_m.upper()} ({_desc}), 3 agents, lettuce-onion-tomato "
             "salad, 5 x 5 view, horizon 200")

__all__ = ["OvercookedEnv", "OvercookedSettings"]
