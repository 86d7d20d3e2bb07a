"""Small drawing helpers for the off-beat games: a grid of coloured cells scaled up to an RGB image."""
from __future__ import annotations

import numpy as np

CELL = 12  # pixels per grid cell
GAP = 1  # dark border between cells, so neighbouring cells of one colour stay readable

COLORS = {
    "bg": (30, 30, 30),
    "empty": (70, 70, 70),
    "agent": (70, 130, 230),
    "busy": (240, 160, 40),
    "spent": (120, 120, 120),
    "progress": (250, 220, 90),
    "target": (200, 80, 200),
    "stag": (150, 90, 40),
    "caught": (60, 200, 90),
    "fled": (220, 60, 60),
    "rock": (150, 150, 160),
    "broken": (90, 70, 50),
    "soil": (110, 80, 50),
    "sapling": (150, 220, 110),
    "wilting": (220, 210, 80),
    "watered": (60, 170, 200),
    "mature": (20, 120, 40),
    "dead": (15, 15, 15),
    "time": (200, 200, 200),
}


def canvas(rows: int, cols: int) -> np.ndarray:
    """An empty [rows, cols, 3] grid of background colour."""
    grid = np.empty((rows, cols, 3), np.uint8)
    grid[:] = COLORS["bg"]
    return grid


def time_row(grid: np.ndarray, row: int, t: int, horizon: int) -> None:
    """Fill row ``row`` left to right in proportion to t / horizon."""
    cols = grid.shape[1]
    filled = int(round(cols * min(t, horizon) / horizon))
    grid[row, :filled] = COLORS["time"]


def to_image(grid: np.ndarray) -> np.ndarray:
    """Scale a [rows, cols, 3] grid to an [H, W, 3] uint8 image with a thin border around each cell."""
    img = np.repeat(np.repeat(grid, CELL, axis=0), CELL, axis=1)
    img[::CELL, :] = 0
    img[:, ::CELL] = 0
    img[CELL - GAP::CELL, :] = 0
    img[:, CELL - GAP::CELL] = 0
    return img
