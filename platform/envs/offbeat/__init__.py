"""Off-beat games (LeGEM paper): actions with per-agent, per-action durations whose effects and rewards land
when they complete. Importing this package registers ``stag-hunter``, ``quarry``, ``afforestation`` and
``2m-vs-1z`` (family ``"offbeat"``). Timing convention: :mod:`asyncmarl.platform.envs.offbeat.durations`."""
from asyncmarl.platform.envs.offbeat import afforestation, marines_vs_zealot, quarry, stag_hunter  # noqa: F401
from asyncmarl.platform.envs.offbeat.afforestation import Afforestation, AfforestationSettings
from asyncmarl.platform.envs.offbeat.core import OffbeatEnv
from asyncmarl.platform.envs.offbeat.durations import OffbeatSettings
from asyncmarl.platform.envs.offbeat.marines_vs_zealot import MarinesVsZealot, MarinesVsZealotSettings
from asyncmarl.platform.envs.offbeat.quarry import Quarry, QuarrySettings
from asyncmarl.platform.envs.offbeat.stag_hunter import StagHunter, StagHunterSettings

__all__ = ["Afforestation", "AfforestationSettings", "MarinesVsZealot", "MarinesVsZealotSettings", "OffbeatEnv",
           "OffbeatSettings", "Quarry", "QuarrySettings", "StagHunter", "StagHunterSettings"]
