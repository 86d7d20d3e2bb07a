"""The picture of 2m-vs-1z: the arena seen from above (Marines with their shooting range, the Zealot with its
shields and health), each Marine's running attack as ``elapsed / duration`` with the shots it holds, then the
legend and status panel every scenario shares (:mod:`asyncmarl.platform.envs.drawing`)."""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import drawing
from asyncmarl.platform.envs.offbeat.render import AGENT_COLORS, INK, LANDS, MUTED

ARENA = 400  # px, side of the drawn arena
MARGIN = 12  # px around it
ZEALOT_COLOR, SHIELD_COLOR, HP_COLOR, RANGE_COLOR = (200, 170, 40), (80, 150, 230), (60, 180, 90), (200, 200, 210)


def draw(env, b: int) -> np.ndarray:
    """An [H, W, 3] uint8 frame of copy ``b``."""
    from PIL import Image, ImageDraw

    from asyncmarl.platform.envs.offbeat.marines_vs_zealot import ATTACK, N_MARINES, ZEALOT

    s = env.settings
    scale = ARENA / s.map_size
    im = Image.new("RGB", (ARENA + 2 * MARGIN, ARENA + 2 * MARGIN + 22), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.rectangle([MARGIN, MARGIN, MARGIN + ARENA, MARGIN + ARENA], fill=(244, 240, 232), outline=INK)

    def px(x: float, y: float) -> tuple[float, float]:  # map y grows north: draw it upwards
        return MARGIN + x * scale, MARGIN + ARENA - y * scale

    def bar(cx: float, top: float, frac: float, color) -> None:
        d.rectangle([cx - 14, top, cx + 14, top + 4], fill=(220, 220, 220))
        d.rectangle([cx - 14, top, cx - 14 + 28 * min(max(frac, 0.0), 1.0), top + 4], fill=color)

    for i in range(N_MARINES):
        if env.hp[b, i] <= 0:
            continue
        cx, cy = px(*env.pos[b, i])
        r = s.shoot_range * scale
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=RANGE_COLOR, width=1)
    z_alive = env.hp[b, ZEALOT] > 0
    zx, zy = px(*env.pos[b, ZEALOT])
    if z_alive:
        zr = max(s.zealot_radius * scale, 6)
        d.ellipse([zx - zr, zy - zr, zx + zr, zy + zr], fill=ZEALOT_COLOR, outline=INK)
        d.text((zx, zy), "Z", font=drawing.font(12), fill=INK, anchor="mm")
        bar(zx, zy - zr - 12, env.shield[b] / max(s.zealot_shield, 1e-9), SHIELD_COLOR)
        bar(zx, zy - zr - 7, env.hp[b, ZEALOT] / s.zealot_hp, HP_COLOR)
    for i in range(N_MARINES):
        cx, cy = px(*env.pos[b, i])
        mr = max(s.marine_radius * scale, 6)
        if env.hp[b, i] <= 0:
            d.line([cx - mr, cy - mr, cx + mr, cy + mr], fill=MUTED, width=3)
            d.line([cx - mr, cy + mr, cx + mr, cy - mr], fill=MUTED, width=3)
            continue
        attacking = int(env.action[b, i]) == ATTACK and env.t[b] > 0
        e, m = int(env.elapsed[b, i]), int(env.duration[b, i])
        if attacking and z_alive:
            d.line([cx, cy, zx, zy], fill=LANDS if e >= m else (150, 150, 150), width=3 if e >= m else 1)
        d.ellipse([cx - mr, cy - mr, cx + mr, cy + mr], fill=AGENT_COLORS[i], outline=INK)
        d.text((cx, cy), str(i), font=drawing.font(12), fill=(255, 255, 255), anchor="mm")
        bar(cx, cy - mr - 7, env.hp[b, i] / s.marine_hp, HP_COLOR)
        if attacking:
            label = "lands" if e >= m else f"{e}/{m}"
            d.text((cx, cy + mr + 8), f"{label}, {int(env.pending[b, i])} shots", font=drawing.font(11),
                   fill=INK, anchor="mm")
    z = f"zealot {env.hp[b, ZEALOT]:g} hp + {env.shield[b]:g} shield" if z_alive else "zealot dead"
    d.text((MARGIN, ARENA + 2 * MARGIN + 8), f"{z}; attacks land {s.attack_duration} steps after they start",
           font=drawing.font(11), fill=MUTED, anchor="lm")
    legend = [("marine 0", AGENT_COLORS[0], "disc"), ("marine 1", AGENT_COLORS[1], "disc"),
              ("zealot", ZEALOT_COLOR, "disc"), ("shooting range", RANGE_COLOR, "ring"),
              ("shields", SHIELD_COLOR, "bar"), ("health", HP_COLOR, "bar"), ("attack lands now", LANDS, "bar")]
    return drawing.frame(env, b, np.asarray(im).copy(), legend, AGENT_COLORS[:N_MARINES],
                         [f"marine {i}" for i in range(N_MARINES)])
