"""Pictures of a BoxPushing copy: an RGB image drawn with numpy and a text frame.

Both take the :class:`~asyncmarl.platform.envs.boxpushing_tables.Layout` and the positions from
``BoxPushing.positions`` (cells, ``y`` up). The image puts row 0 at the bottom, like the reference's viewer.
"""
from __future__ import annotations

import numpy as np

ARROWS = "^>v<"  # orientation 0 up, 1 right, 2 down, 3 left
AGENT_RGB = ((40, 160, 60), (40, 90, 200))  # agent_0 green, agent_1 blue
OUTER_RGB = ((20, 90, 30), (20, 40, 120))
BOX_RGB, BOX_EDGE_RGB = (200, 140, 40), (110, 70, 10)
GOAL_RGB, WALL_RGB, GRID_RGB = (250, 230, 90), (40, 40, 40), (170, 170, 170)
WAYPOINT_RGB, SENSOR_RGB = (190, 40, 40), (230, 40, 40)


def render_rgb(layout, pos: dict) -> np.ndarray:
    """[H, W, 3] uint8: yellow goal row, brown boxes, red waypoint dots, agents as discs with a red front marker.

    A one-cell dark border is the wall; an agent the reference's controller walked outside the grid is drawn on
    it (clipped there if further out).
    """
    L = layout.L
    s = max(24, 480 // L)  # pixels per cell
    n = L + 2
    img = np.full((n * s, n * s, 3), 255, np.uint8)
    img[:s], img[-s:], img[:, :s], img[:, -s:] = WALL_RGB, WALL_RGB, WALL_RGB, WALL_RGB

    def box(x, y, x1=None, y1=None, color=(0, 0, 0), pad=0):
        """Fill cells x..x1, y..y1 (grid coordinates, y up) minus ``pad`` pixels."""
        x1, y1 = x if x1 is None else x1, y if y1 is None else y1
        r0, r1 = (n - 1 - (y1 + 1)) * s + pad, (n - 1 - y) * s - pad
        c0, c1 = (x + 1) * s + pad, (x1 + 2) * s - pad
        img[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = color

    box(0, L - 1, L - 1, L - 1, GOAL_RGB)
    for k in range(1, L):  # grid lines
        img[(k + 1) * s, s:-s] = GRID_RGB
        img[s:-s, (k + 1) * s] = GRID_RGB
    yy, xx = np.mgrid[0:s, 0:s] - (s - 1) / 2.0
    rr = np.hypot(yy, xx)
    for wx, wy in layout.waypoints:
        r0, c0 = (n - 1 - (wy + 1)) * s, (wx + 1) * s
        img[r0:r0 + s, c0:c0 + s][rr <= s * 0.12] = WAYPOINT_RGB
    for k, (bx, by) in enumerate(pos["boxes"]):
        if by > L - 1:
            by = L - 1
        bx1 = bx + 1 if k == 2 else bx
        box(bx, by, bx1, by, BOX_EDGE_RGB, pad=max(1, s // 12))
        box(bx, by, bx1, by, BOX_RGB, pad=max(2, s // 6))
    for i, (ax, ay, o) in enumerate(pos["agents"]):
        ax, ay = int(np.clip(ax, -1, L)), int(np.clip(ay, -1, L))
        r0, c0 = (n - 1 - (ay + 1)) * s, (ax + 1) * s
        cell = img[r0:r0 + s, c0:c0 + s]
        cell[rr <= s * 0.36] = OUTER_RGB[i]
        cell[rr <= s * 0.28] = AGENT_RGB[i]
        # front marker: a square on the side the agent faces
        dx, dy = (0, 1, 0, -1)[o], (1, 0, -1, 0)[o]
        mr, mc = int(round((s - 1) / 2 - dy * s * 0.32)), int(round((s - 1) / 2 + dx * s * 0.32))
        h = max(1, s // 10)
        cell[max(mr - h, 0):mr + h + 1, max(mc - h, 0):mc + h + 1] = SENSOR_RGB
    return img


def render_ansi(layout, pos: dict, t: int) -> str:
    """A text frame, top row first: ``b0``/``b1`` small boxes, ``BB`` big box, ``0^`` agent 0 facing up,
    ``..`` waypoint, ``==`` goal row. Agents outside the grid are listed below the frame."""
    L = layout.L
    grid = [["  " for _ in range(L)] for _ in range(L)]
    for x in range(L):
        grid[L - 1][x] = "=="
    for wx, wy in layout.waypoints:
        grid[wy][wx] = ".."
    for k, (bx, by) in enumerate(pos["boxes"]):
        if 0 <= by < L:
            if k == 2:
                grid[by][bx] = grid[by][bx + 1] = "BB"
            else:
                grid[by][bx] = f"b{k}"
    outside = []
    for i, (ax, ay, o) in enumerate(pos["agents"]):
        if 0 <= ax < L and 0 <= ay < L:
            grid[ay][ax] = f"{i}{ARROWS[o]}"
        else:
            outside.append(f"agent_{i} at ({ax}, {ay}) facing {ARROWS[o]}")
    lines = [f"t={t}", "+" + "-" * (2 * L) + "+"]
    lines += ["|" + "".join(row) + "|" for row in reversed(grid)]
    lines.append("+" + "-" * (2 * L) + "+")
    return "\n".join(lines + outside)
