"""Settings of the macro-action Overcooked scenarios."""
from __future__ import annotations

from dataclasses import dataclass

from asyncmarl.platform.envs.overcooked.layout import TASKS


@dataclass(frozen=True)
class OvercookedSettings:
    """One Overcooked scenario (defaults: map A, lettuce-onion-tomato salad, as MacroMARL's scripts run it)."""

    map_type: str = "A"  # kitchen: "A" open, "B" full counter divider in column 3, "C" divider with a gap at row 5
    task: int = 6  # recipe index into TASKS (6 = lettuce-onion-tomato salad)
    obs_radius: int = 2  # agents see items within this Chebyshev radius (2: a 5 x 5 window; 0: everything)
    horizon: int = 200  # episode limit in steps (MacroMARL env_terminate_step)
    step_penalty: float = -0.1  # reward added every step
    subtask_reward: float = 10.0  # finishing the chopping of an ingredient of the recipe
    correct_delivery: float = 200.0  # delivering the recipe's dish (ends the episode)
    wrong_delivery: float = -5.0  # delivering anything else (the delivered items respawn)
    counter_ends_on_arrival: bool = False  # B/C: empty-handed "go to counter" ends on arrival (ours), not a step later

    def __post_init__(self):
        if self.map_type not in ("A", "B", "C"):
            raise ValueError(f"map_type must be one of 'A', 'B', 'C', got {self.map_type!r}")
        if not isinstance(self.task, int) or not 0 <= self.task < len(TASKS):
            raise ValueError(f"task must be an int in 0..{len(TASKS) - 1} ({', '.join(TASKS)}), got {self.task!r}")
        if not isinstance(self.obs_radius, int) or self.obs_radius < 0:
            raise ValueError(f"obs_radius must be an int >= 0, got {self.obs_radius!r}")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"horizon must be an int >= 1, got {self.horizon!r}")
        if not isinstance(self.counter_ends_on_arrival, bool):
            raise ValueError(f"counter_ends_on_arrival must be true or false, got {self.counter_ends_on_arrival!r}")
