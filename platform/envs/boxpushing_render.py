"""Pictures of a BoxPushing copy: an RGB frame (scene drawn with numpy, labels with Pillow) and a text frame.

Both take the :class:`~asyncmarl.platform.envs.boxpushing_tables.Layout` and the positions from
``BoxPushing.positions`` (cells, ``y`` up). The image puts row 0 at the bottom, like the reference's viewer.
Agents that share a cell are drawn side by side in it, each at half size, so neither hides the other.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import drawing

ARROWS = "^>v<"  # orientation 0 up, 1 right, 2 down, 3 left
AGENT_RGB = ((40, 160, 60), (40, 90, 200))  # agent_0 green, agent_1 blue
OUTER_RGB = ((20, 90, 30), (20, 40, 120))
BOX_RGB, BOX_EDGE_RGB = (200, 140, 40), (110, 70, 10)
GOAL_RGB, WALL_RGB, GRID_RGB = (250, 230, 90), (40, 40, 40), (170, 170, 170)
WAYPOINT_RGB, SENSOR_RGB = (190, 40, 40), (230, 40, 40)
LEGEND = [("agent 0", AGENT_RGB[0], "disc"), ("agent 1", AGENT_RGB[1], "disc"), ("facing", SENSOR_RGB, "box"),
          ("boxes: b0, b1 small, BB big", BOX_RGB, "box"), ("goal row", GOAL_RGB, "box"),
          ("waypoint", WAYPOINT_RGB, "dot"), ("wall", WALL_RGB, "box")]


def cell_size(L: int) -> int:
    """Pixels per cell: the grid (with its wall) is about 480 px wide, at least 24 px a cell."""
    return max(24, 480 // L)


def scene_rgb(layout, pos: dict) -> np.ndarray:
    """[H, W, 3] uint8: yellow goal row, brown boxes (labelled), red waypoint dots, agents as numbered discs with a
    red front marker.

    A one-cell dark border is the wall; an agent the reference's controller walked outside the grid is drawn on
    it (clipped there if further out).
    """
    L = layout.L
    s = cell_size(L)
    n = L + 2
    img = np.full((n * s, n * s, 3), 255, np.uint8)
    img[:s], img[-s:], img[:, :s], img[:, -s:] = WALL_RGB, WALL_RGB, WALL_RGB, WALL_RGB

    def box(x, y, x1=None, y1=None, color=(0, 0, 0), pad=0):
        """Fill cells x..x1, y..y1 (grid coordinates, y up) minus ``pad`` pixels."""
        x1, y1 = x if x1 is None else x1, y if y1 is None else y1
        r0, r1 = (n - 1 - (y1 + 1)) * s + pad, (n - 1 - y) * s - pad
        c0, c1 = (x + 1) * s + pad, (x1 + 2) * s - pad
        img[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = color

    def top_left(x, y):
        return (n - 1 - (y + 1)) * s, (x + 1) * s

    box(0, L - 1, L - 1, L - 1, GOAL_RGB)
    for k in range(1, L):  # grid lines
        img[(k + 1) * s, s:-s] = GRID_RGB
        img[s:-s, (k + 1) * s] = GRID_RGB
    yy, xx = np.mgrid[0:s, 0:s] - (s - 1) / 2.0  # [s, s] offsets from the cell centre
    for wx, wy in layout.waypoints:
        r0, c0 = top_left(wx, wy)
        img[r0:r0 + s, c0:c0 + s][np.hypot(yy, xx) <= s * 0.12] = WAYPOINT_RGB
    labels = []
    for k, (bx, by) in enumerate(pos["boxes"]):
        by = min(by, L - 1)
        bx1 = bx + 1 if k == 2 else bx
        box(bx, by, bx1, by, BOX_EDGE_RGB, pad=max(1, s // 12))
        box(bx, by, bx1, by, BOX_RGB, pad=max(2, s // 6))
        r0, c0 = top_left(bx, by)
        labels.append(((c0 + s * (bx1 - bx + 1) / 2, r0 + s / 2), "BB" if k == 2 else f"b{k}", max(9, s // 4),
                       (60, 35, 5), "mm", None))
    cells: dict[tuple[int, int], list[int]] = {}
    for i, (ax, ay, _o) in enumerate(pos["agents"]):
        cells.setdefault((int(np.clip(ax, -1, L)), int(np.clip(ay, -1, L))), []).append(i)
    for (ax, ay), group in cells.items():
        r0, c0 = top_left(ax, ay)
        cell = img[r0:r0 + s, c0:c0 + s]
        m = len(group)
        scale = 1.0 if m == 1 else 0.62  # side by side when they share the cell
        for j, i in enumerate(group):
            o = pos["agents"][i][2]
            dx0 = 0.0 if m == 1 else (j - (m - 1) / 2) * s * 0.48  # centre offset in pixels
            rr = np.hypot(yy, xx - dx0)
            cell[rr <= s * 0.36 * scale] = OUTER_RGB[i]
            cell[rr <= s * 0.28 * scale] = AGENT_RGB[i]
            # front marker: a square on the side the agent faces
            dx, dy = (0, 1, 0, -1)[o], (1, 0, -1, 0)[o]
            mr = int(round((s - 1) / 2 - dy * s * 0.32 * scale))
            mc = int(round((s - 1) / 2 + dx0 + dx * s * 0.32 * scale))
            h = max(1, int(s * scale) // 10)
            cell[max(mr - h, 0):mr + h + 1, max(mc - h, 0):mc + h + 1] = SENSOR_RGB
            labels.append(((c0 + (s - 1) / 2 + dx0, r0 + (s - 1) / 2), str(i), max(9, int(s * 0.3 * scale)),
                           (255, 255, 255), "mm", None))
    return drawing.draw_texts(img, labels)


def render_frame(env, b: int) -> np.ndarray:
    """The full picture of copy ``b`` of a BoxPushing core: scene, legend and status panel."""
    return drawing.frame(env, b, scene_rgb(env._tb.layout, env.positions(b)), LEGEND, AGENT_RGB)


def render_ansi(layout, pos: dict, t: int) -> str:
    """A text frame, top row first: ``b0``/``b1`` small boxes, ``BB`` big box, ``0^`` agent 0 facing up,
    ``01`` both agents in one cell, ``..`` waypoint, ``==`` goal row; then every agent's cell and facing."""
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
    where = {}
    for i, (ax, ay, o) in enumerate(pos["agents"]):
        where.setdefault((ax, ay), []).append((i, o))
    for (ax, ay), group in where.items():
        if 0 <= ax < L and 0 <= ay < L:
            grid[ay][ax] = f"{group[0][0]}{ARROWS[group[0][1]]}" if len(group) == 1 else "".join(
                str(i) for i, _ in group)[:2]
    lines = [f"t={t}", "+" + "-" * (2 * L) + "+"]
    lines += ["|" + "".join(row) + "|" for row in reversed(grid)]
    lines.append("+" + "-" * (2 * L) + "+")
    for i, (ax, ay, o) in enumerate(pos["agents"]):
        inside = 0 <= ax < L and 0 <= ay < L
        lines.append(f"agent_{i} at ({ax}, {ay}) facing {ARROWS[o]}" + ("" if inside else " (outside the grid)"))
    return "\n".join(lines)
