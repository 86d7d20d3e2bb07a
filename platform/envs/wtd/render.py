"""Pictures and text frames of one Warehouse Tool Delivery copy (numpy only, no drawing library).

Picture: grey tool room on the left with the Fetch (dark square, the staged tools as coloured dots) and each
turtlebot's table spot (small outlined squares); work areas on the right (a square per human, "H<i>" over "P<phase>",
coloured by phase, with a bar of the phase's time left, red when it waits for a tool); turtlebots as blue discs with
their number, a line pointing at their current target, and their tools as coloured dots.
"""
from __future__ import annotations

import numpy as np

SCALE = 64  # pixels per metre
W_M, H_M = 9.0, 5.0  # drawn area in metres
TOOL_COLORS = np.array([[230, 60, 60], [60, 170, 60], [240, 170, 30], [150, 60, 200]], np.uint8)
PHASE_COLORS = np.array([[200, 200, 255], [160, 220, 160], [250, 220, 140], [250, 170, 170], [210, 210, 210]], np.uint8)

# 3 x 5 bitmap digits and the few letters the picture uses
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", "T": "111010010010010", "F": "111100110100100",
    "H": "101101111101101", "P": "111101111100100", "t": "010111010010011", "=": "000111000111000",
    " ": "000000000000000",
}


def _px(x: float, y: float) -> tuple[int, int]:
    """Metres to (row, col); y grows upward in the world, downward in the image."""
    return int(round((H_M - y) * SCALE)), int(round(x * SCALE))


def _rect(img, r0, c0, r1, c1, color):
    h, w = img.shape[:2]
    img[max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)] = color


def _disc(img, r, c, rad, color):
    h, w = img.shape[:2]
    rr, cc = np.ogrid[:h, :w]
    img[(rr - r) ** 2 + (cc - c) ** 2 <= rad * rad] = color


def _line(img, r0, c0, r1, c1, color, width=2):
    n = max(abs(r1 - r0), abs(c1 - c0), 1)
    for t in np.linspace(0.0, 1.0, n + 1):
        r, c = int(round(r0 + (r1 - r0) * t)), int(round(c0 + (c1 - c0) * t))
        _rect(img, r - width // 2, c - width // 2, r + width - width // 2, c + width - width // 2, color)


def _text(img, r, c, s: str, color, size=3):
    for ch in s:
        g = _GLYPHS.get(ch, _GLYPHS[" "])
        for i, bit in enumerate(g):
            if bit == "1":
                rr, cc = r + (i // 3) * size, c + (i % 3) * size
                _rect(img, rr, cc, rr + size, cc + size, color)
        c += 4 * size


def _staged(env, b: int) -> list[int]:
    """Tools on the staging area of copy ``b``, next to be passed first."""
    pair, base = int(env.pair[b]), env.nO + 1
    return [v - 1 for v in (pair // base, pair % base) if v > 0]


def render_rgb(env, b: int) -> np.ndarray:
    """[H, W, 3] uint8 picture of copy ``b`` of a :class:`WTDEnv`."""
    tb, nT, nH = env.tab, env.nT, env.nH
    img = np.full((int(H_M * SCALE) + 40, int(W_M * SCALE), 3), 250, np.uint8)
    _rect(img, 0, 0, int(H_M * SCALE), int(3.6 * SCALE), (225, 225, 225))  # tool room
    _rect(img, 0, int(3.6 * SCALE) - 3, int(1.9 * SCALE), int(3.6 * SCALE), (90, 90, 90))  # its wall, with a door
    _rect(img, int(3.1 * SCALE), int(3.6 * SCALE) - 3, int(H_M * SCALE), int(3.6 * SCALE), (90, 90, 90))
    # humans at work areas
    for h in range(nH):
        r, c = _px(*tb.nodes[0, h])
        phase = int(env.cs[b, h])
        color = PHASE_COLORS[4] if env.fin[b, h] else PHASE_COLORS[phase]
        _rect(img, r - 26, c - 24, r + 24, c + 24, color)
        _text(img, r - 22, c - 11, f"H{h}", (40, 40, 40))  # human number
        _text(img, r - 4, c - 11, f"P{phase}", (40, 40, 40))  # its work phase
        dur = tb.phase_steps[h, phase]
        left = int(env.htl[b, h])
        frac = min(max(left / dur, 0.0), 1.0)
        _rect(img, r + 12, c - 20, r + 18, c + 20, (255, 255, 255))
        _rect(img, r + 12, c - 20, r + 18, c - 20 + int(40 * frac), (60, 160, 60))
        if left <= 0 and not env.got[b, h] and not env.fin[b, h]:
            _rect(img, r + 12, c - 20, r + 18, c + 20, (220, 40, 40))  # waiting for a tool
    # tool-room spots
    r, c = _px(*tb.nodes[0, nH])
    _rect(img, r - 4, c - 4, r + 4, c + 4, (150, 150, 150))
    for k in range(nT):
        r, c = _px(*tb.nodes[k, nH + 1])
        _rect(img, r - 12, c - 12, r + 12, c + 12, (120, 120, 120))
        _rect(img, r - 10, c - 10, r + 10, c + 10, (225, 225, 225))
    # Fetch and its staging area
    r, c = _px(*tb.fetch_xy)
    _rect(img, r - 16, c - 16, r + 16, c + 16, (60, 60, 60))
    _text(img, r - 7, c - 5, "F", (255, 255, 255))
    for i, slot in enumerate(_staged(env, b)):
        if slot >= 0:
            _disc(img, r + 26 + 14 * i, c, 6, TOOL_COLORS[slot])
    # turtlebots
    for k in range(nT):
        x, y = env.pos[b, k]
        r, c = _px(x, y)
        tgt = tb.nodes[k, int(env.act[b, k])]
        if not env.done[b, k] or env.moving[b, k]:
            tr, tc = _px(*tgt)
            d = np.hypot(tr - r, tc - c)
            if d > 1:
                _line(img, r, c, int(r + (tr - r) / d * 26), int(c + (tc - c) / d * 26), (20, 20, 120), 3)
        _disc(img, r, c, 14, (40, 90, 220))
        _text(img, r - 7, c - 5, str(k), (255, 255, 255))
        dots = [j for j in range(env.nO) for _ in range(int(env.basket[b, k, j]))]
        for i, j in enumerate(dots):
            _disc(img, r - 20, c - 14 + 10 * i, 4, TOOL_COLORS[j])
    _text(img, int(H_M * SCALE) + 12, 8, f"t={int(env.t[b])}", (0, 0, 0), size=4)
    return img


def render_ansi(env, b: int) -> str:
    """A text frame of copy ``b`` of a :class:`WTDEnv`."""
    tb, nT, nH = env.tab, env.nT, env.nH
    node_names = [f"WA{h}" for h in range(nH)] + ["ToolRoomWait", "Table", "Start"]
    lines = [f"{env.name}  t={int(env.t[b])}"]
    for k in range(nT):
        where = "moving" if env.moving[b, k] else node_names[int(env.cw[b, k])]
        act = env.action_names[k][int(env.act[b, k])]
        lines.append(
            f"  turtlebot {k} (agent_{k}): at {where:<12} pos=({env.pos[b, k, 0]:.2f}, {env.pos[b, k, 1]:.2f}) "
            f"action={act}{'' if env.done[b, k] else '*'} basket={env.basket[b, k].tolist()}"
        )
    staged = _staged(env, b)
    fa = int(env.act[b, nT])
    lines.append(
        f"  fetch (agent_{nT}): action={env.action_names[nT][fa]}{'' if env.done[b, nT] else '*'} "
        f"staged={staged} found={env.found[b].tolist()}"
    )
    for h in range(nH):
        state = "done" if env.fin[b, h] else ("has tool" if env.got[b, h] else "needs tool")
        lines.append(
            f"  human {h}: phase {int(env.cs[b, h])}/{tb.nS - 1} time left {int(env.htl[b, h])} ({state})"
        )
    lines.append("  (* = action running)")
    return "\n".join(lines)
