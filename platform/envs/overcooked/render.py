"""Pictures of one copy of the Overcooked kitchen: an RGB frame (scene drawn with numpy, labels with Pillow, then
legend and status panel from :mod:`asyncmarl.platform.envs.drawing`) and a text frame."""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import drawing
from asyncmarl.platform.envs.overcooked import layout as L

CELL = 64  # pixels per cell
_FLOOR, _COUNTER = (235, 230, 220), (170, 130, 90)
_KNIFE, _DELIVERY = (120, 120, 130), (60, 170, 90)
_FOOD = ((220, 40, 40), (90, 190, 60), (235, 200, 90))  # tomato, lettuce, onion
_PLATE = (250, 250, 250)
_AGENTS = ((40, 80, 220), (200, 50, 200), (30, 160, 160))
LEGEND = [("agent 0", _AGENTS[0], "disc"), ("agent 1", _AGENTS[1], "disc"), ("agent 2", _AGENTS[2], "disc"),
          ("tomato", _FOOD[0], "box"), ("lettuce", _FOOD[1], "box"), ("onion", _FOOD[2], "box"),
          ("chopped: 4 pieces", (150, 150, 150), "outline"), ("plate", _PLATE, "disc"), ("counter", _COUNTER, "box"),
          ("knife", _KNIFE, "box"), ("delivery", _DELIVERY, "box")]


def _disc(img, cx, cy, r, color):
    y0, y1 = max(cy - r, 0), min(cy + r + 1, img.shape[0])  # only the disc's bounding box
    x0, x1 = max(cx - r, 0), min(cx + r + 1, img.shape[1])
    yy, xx = np.ogrid[y0:y1, x0:x1]
    img[y0:y1, x0:x1][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = color


def _box(img, x0, y0, x1, y1, color):
    img[max(y0, 0):y1, max(x0, 0):x1] = color


def _food(img, cx, cy, f, chopped, s):
    """A food square; chopped food is drawn as four separate pieces."""
    if chopped:
        q = s // 2
        for dx in (-q - 1, 1):
            for dy in (-q - 1, 1):
                _box(img, cx + dx, cy + dy, cx + dx + q, cy + dy + q, _FOOD[f])
    else:
        _box(img, cx - s // 2, cy - s // 2, cx + s // 2, cy + s // 2, _FOOD[f])


def _item(img, k, b, slot, cx, cy, s):
    if slot < L.N_FOOD:
        _food(img, cx, cy, slot, k.chop[b, slot] >= 3, s)
        return
    _disc(img, cx, cy, s // 2 + 2, (90, 90, 90))
    _disc(img, cx, cy, s // 2, _PLATE)
    foods = np.flatnonzero(k.in_plate[b] == slot)
    for j, f in enumerate(foods):  # chopped food on the plate, side by side
        _food(img, cx + int((j - (len(foods) - 1) / 2) * (s // 3 + 1)), cy, int(f), True, s // 3)


def scene_rgb(env, b: int = 0) -> np.ndarray:
    """[448, 448, 3] uint8: counters brown, knives grey, delivery green, food squares (chopped: four pieces),
    plates white discs with their food, agents numbered coloured discs (blue, magenta, teal) with what they hold
    drawn at their upper right."""
    k = env.kitchen
    img = np.zeros((L.SIZE * CELL, L.SIZE * CELL, 3), np.uint8)
    init = env.lay.init_grid
    labels = []
    for c in range(L.N_CELLS):
        x, y = divmod(c, L.SIZE)
        color = _FLOOR if env.lay.floor[c] else _COUNTER
        color = _KNIFE if init[c] == L.KNIFE else _DELIVERY if init[c] == L.DELIVERY else color
        _box(img, y * CELL + 1, x * CELL + 1, (y + 1) * CELL - 1, (x + 1) * CELL - 1, color)
        if init[c] == L.KNIFE:  # a blade
            _box(img, y * CELL + 10, x * CELL + CELL // 2 - 2, (y + 1) * CELL - 10, x * CELL + CELL // 2 + 2,
                 (230, 230, 240))
        if init[c] in (L.KNIFE, L.DELIVERY):
            labels.append(((y * CELL + CELL // 2, (x + 1) * CELL - 4), "knife" if init[c] == L.KNIFE else "deliver",
                           10, (255, 255, 255), "md", None))
    pos = k.positions()[b]
    centre = lambda c: (int(c % L.SIZE) * CELL + CELL // 2, int(c // L.SIZE) * CELL + CELL // 2)  # noqa: E731
    for slot in range(5):  # items lying on cells (plated food is drawn on its plate)
        if k.holder[b, slot] < 0 and not (slot < L.N_FOOD and k.in_plate[b, slot] >= 0):
            _item(img, k, b, slot, *centre(pos[slot]), CELL // 2 + 8)
    for i in range(L.N_AGENTS):
        cx, cy = centre(k.apos[b, i])
        _disc(img, cx, cy, CELL // 2 - 4, (20, 20, 20))
        _disc(img, cx, cy, CELL // 2 - 6, _AGENTS[i])
        labels.append(((cx - 6, cy + 6), str(i), 18, (255, 255, 255), "mm", None))
        if k.hold[b, i] >= 0:  # what it holds, at its upper right (its number stays visible)
            _item(img, k, b, int(k.hold[b, i]), cx + CELL // 5, cy - CELL // 5, CELL // 3)
    return drawing.draw_texts(img, labels)


def render_rgb(env, b: int = 0) -> np.ndarray:
    """[H, W, 3] uint8 picture of copy ``b``: kitchen scene, legend and status panel."""
    return drawing.frame(env, b, scene_rgb(env, b), LEGEND, _AGENTS)


def render_ansi(env, b: int = 0) -> str:
    """Text frame: '#' counter, 'K' knife, 'D' delivery, 'T'/'L'/'O' food (lower case: chopped), 'P' plate,
    '0'..'2' agents; then one line per agent with its held item and running macro-action."""
    k = env.kitchen
    pos = k.positions()[b]
    rows = [["." if env.lay.floor[c] else "#" for c in range(r * L.SIZE, (r + 1) * L.SIZE)]
            for r in range(L.SIZE)]
    put = lambda c, ch: rows[c // L.SIZE].__setitem__(c % L.SIZE, ch)  # noqa: E731
    for c, code in enumerate(env.lay.init_grid):
        if code in (L.KNIFE, L.DELIVERY):
            put(c, "K" if code == L.KNIFE else "D")
    names = ["tomato", "lettuce", "onion", "plate 1", "plate 2"]
    for slot in (3, 4, 0, 1, 2):
        if k.holder[b, slot] < 0 and not (slot < 3 and k.in_plate[b, slot] >= 0):
            ch = "P" if slot >= 3 else "TLO"[slot]
            put(int(pos[slot]), ch.lower() if slot < 3 and k.chop[b, slot] >= 3 else ch)
    for i in range(L.N_AGENTS):
        put(int(k.apos[b, i]), str(i))
    lines = ["".join(r) for r in rows]
    for i in range(L.N_AGENTS):
        h = int(k.hold[b, i])
        held = "nothing" if h < 0 else names[h]
        if h >= 3:
            inside = [names[f] for f in np.flatnonzero(k.in_plate[b] == h)]
            held += f" [{', '.join(inside)}]" if inside else ""
        mac = env.lay.macro_names[int(env.cur_mac[b, i])]
        lines.append(f"agent_{i}: holds {held}; {mac}{'' if env.mac_done[b, i] else ' (running)'}")
    lines.append(f"t={int(env.t[b])} reward={float(env.reward[b]):.1f}")
    return "\n".join(lines) + "\n"
