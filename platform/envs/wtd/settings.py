"""Settings and room layouts of Warehouse Tool Delivery (the reference's "OSD" environments).

A layout fixes the geometry (work areas, tool-room spots, start positions) and the agent count; the
settings pick a layout and the timing and reward numbers. Coordinates are the reference's, in metres.
"""
from __future__ import annotations

from dataclasses import dataclass

# Per layout: work areas (one per human), the tool-room waiting spot, each turtlebot's table spot and start
# position, the Fetch position and how many copies of each tool exist ("n_each_obj"). The turtlebot action that
# pauses one step on arriving is get-tool (``n_humans + 1``) unless ``hold_on_arrival`` says otherwise.
LAYOUTS: dict[str, dict] = {
    "OSD-D-v7": dict(
        work_areas=((6.0, 3.0), (6.0, 2.0)),
        wait_spot=(3.0, 2.5),
        tables=((1.2, 3.7), (1.2, 1.3)),
        starts=((3.0, 3.5), (3.0, 1.5)),
        fetch=(0.9, 2.5),
        tools_per_kind=2,
    ),
    "OSD-T-v0": dict(
        work_areas=((6.0, 3.0), (8.0, 3.0), (8.0, 2.0)),
        wait_spot=(3.0, 2.5),
        tables=((1.2, 3.7), (1.2, 1.3)),
        starts=((3.0, 3.5), (3.0, 1.5)),
        fetch=(0.9, 2.5),
        tools_per_kind=3,
    ),
    "OSD-T-v1": dict(
        work_areas=((6.0, 3.0), (8.0, 3.0), (8.0, 2.0)),
        wait_spot=(3.0, 2.5),
        tables=((0.8, 3.7), (1.2, 3.7), (1.2, 1.3)),
        starts=((3.0, 4.0), (3.0, 2.5), (3.0, 1.0)),
        fetch=(0.9, 2.5),
        tools_per_kind=3,
    ),
    "OSD-F-v0": dict(
        work_areas=((6.0, 3.0), (8.0, 3.0), (6.0, 2.0), (8.0, 2.0)),
        wait_spot=(3.0, 2.5),
        tables=((0.8, 3.7), (1.2, 3.7), (1.2, 1.3)),
        starts=((3.0, 4.0), (3.0, 2.5), (3.0, 1.0)),
        fetch=(0.9, 2.5),
        tools_per_kind=4,
        # the four-room reference kept the three-room index of the action that pauses on arriving: its
        # "go to tool room" (4) takes one extra step and its get-tool (5) starts waiting on the arrival step
        hold_on_arrival=4,
    ),
}


@dataclass(frozen=True)
class WTDSettings:
    """One Warehouse Tool Delivery scenario (defaults: scenario A, the reference's OSD-D-v7 run settings)."""

    layout: str = "OSD-D-v7"  # reference environment whose geometry and agent count to use (see LAYOUTS)
    human_phase_steps: tuple = ((27, 20, 20, 20), (27, 20, 20, 20))  # per human, steps of each work phase
    horizon: int = 200  # episode limit in timesteps (the reference's env_terminate_step)
    turtlebot_speed: float = 0.8  # metres a turtlebot moves per step (tb_m_speed)
    pass_steps: int = 4  # duration of the Fetch's pass-to-turtlebot action (fetch_pass_obj_tc)
    search_steps: int = 6  # duration of the Fetch's look-for-tool action (fetch_look_for_obj_tc)
    step_reward: float = -1.0  # reward every timestep
    delivery_reward: float = 100.0  # reward for handing a human the tool it needs next
    late_penalty: float = -20.0  # added to a delivery when the human already waits for it (d_pen)
    drop_penalty: float = -10.0  # a pass to a turtlebot that is not waiting at the table (fetch_drop_obj_penalty)
    fix_reference_quirks: bool = False  # check every pass start; four-room get-tool/go-tool-room as elsewhere

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"WTDSettings.layout must be one of {sorted(LAYOUTS)}, got {self.layout!r}")
        phases = self.human_phase_steps
        n_h = len(LAYOUTS[self.layout]["work_areas"])
        if not isinstance(phases, (tuple, list)) or len(phases) != n_h:
            raise ValueError(
                f"WTDSettings.human_phase_steps must list one phase-duration sequence per human "
                f"({n_h} for layout {self.layout}), got {phases!r}"
            )
        lengths = {len(p) if isinstance(p, (tuple, list)) else -1 for p in phases}
        if len(lengths) != 1 or min(lengths) < 2:
            raise ValueError(
                f"WTDSettings.human_phase_steps: every human needs the same number (>= 2) of phases, got {phases!r}"
            )
        if any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for p in phases for d in p):
            raise ValueError(f"WTDSettings.human_phase_steps must hold positive ints, got {phases!r}")
        # Hashable and immutable whatever the caller passed (lists from YAML, for instance).
        object.__setattr__(self, "human_phase_steps", tuple(tuple(p) for p in phases))
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"WTDSettings.horizon must be a positive int, got {self.horizon!r}")
        if not self.turtlebot_speed > 0:
            raise ValueError(f"WTDSettings.turtlebot_speed must be > 0, got {self.turtlebot_speed!r}")
        for name in ("pass_steps", "search_steps"):
            v = getattr(self, name)
            # The reference runs a 1-step pass or search for 2 steps; we keep to durations it runs as stated.
            if not isinstance(v, int) or v < 2:
                raise ValueError(f"WTDSettings.{name} must be an int >= 2, got {v!r}")

    @property
    def n_humans(self) -> int:
        return len(self.human_phase_steps)

    @property
    def n_turtlebots(self) -> int:
        return len(LAYOUTS[self.layout]["tables"])

    @property
    def n_tools(self) -> int:
        """Tool kinds; human phase p needs tool p to move on, the first phase needs none."""
        return len(self.human_phase_steps[0]) - 1
