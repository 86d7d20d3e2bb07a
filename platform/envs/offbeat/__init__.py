"""Off-beat games (LeGEM paper): actions with per-agent, per-action durations whose effects and rewards land
when they complete. Importing this package registers ``stag-hunter``, ``quarry`` and ``afforestation``
(family ``"offbeat"``). Timing convention: :mod:`asyncmarl.platform.envs.offbeat.durations`."""
from asyncmarl.platform.envs.offbeat import afforestation, quarry, stag_hunter  # noqa: F401  (registers)
from asyncmarl.platform.envs.offbeat.afforestation import Afforestation, AfforestationSettings
from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings
from asyncmarl.platform.envs.offbeat.quarry import Quarry, QuarrySettings
from asyncmarl.platform.envs.offbeat.stag_hunter import StagHunter, StagHunterSettings

__all__ = ["Afforestation", "AfforestationSettings", "OffbeatEnv", "OffbeatSettings", "Quarry", "QuarrySettings",
           "StagHunter", "StagHunterSettings"]
