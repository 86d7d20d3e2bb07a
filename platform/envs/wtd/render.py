"""Pictures and text frames of one Warehouse Tool Delivery copy.

Picture (drawn with Pillow, 80 px per metre): the grey tool room on the left with the Fetch robot (dark square;
the tools it has staged for a pass as coloured dots under it) and each turtlebot's table spot (outlined squares
``T<k>``); the work areas on the right, one box per human, coloured by work phase, labelled ``H<h>`` and
``phase p/n`` along its top edge (above where a turtlebot parks), with a bar of the phase's time left (red while
the human waits for a tool). Turtlebots are numbered blue discs with a line towards their target and the tools
they carry as coloured dots above; turtlebots at one spot are spread side by side so none hides another. Below
the scene, a legend and the status panel (:mod:`asyncmarl.platform.envs.drawing`).
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import drawing

SCALE = 80  # pixels per metre
W_M, H_M = 9.0, 5.0  # drawn area in metres
ROOM_M = 3.6  # the tool room's width in metres (its wall has a door between y 1.9 and 3.1 m)
TOOL_COLORS = ((230, 60, 60), (60, 170, 60), (240, 170, 30), (150, 60, 200))
PHASE_COLORS = ((200, 200, 255), (160, 220, 160), (250, 220, 140), (250, 170, 170))
DONE_COLOR = (210, 210, 210)
BOT, FETCH = (40, 90, 220), (60, 60, 60)
R_BOT = 14  # turtlebot disc radius, px


def _px(x: float, y: float) -> tuple[int, int]:
    """Metres to pixel (x, y); y grows upward in the world, downward in the image."""
    return int(round(x * SCALE)), int(round((H_M - y) * SCALE))


def _staged(env, b: int) -> list[int]:
    """Tools on the staging area of copy ``b``, next to be passed first."""
    pair, base = int(env.pair[b]), env.nO + 1
    return [v - 1 for v in (pair // base, pair % base) if v > 0]


def _spread(points: list[tuple[int, int]], gap: int = 2 * R_BOT + 4) -> list[tuple[int, int]]:
    """Points closer than a disc apart are spread side by side around their mean, so no disc hides another."""
    out = list(points)
    groups: list[list[int]] = []
    for k, p in enumerate(points):
        for g in groups:
            if any(abs(p[0] - points[j][0]) < gap and abs(p[1] - points[j][1]) < gap for j in g):
                g.append(k)
                break
        else:
            groups.append([k])
    for g in groups:
        if len(g) > 1:
            cx = sum(points[j][0] for j in g) / len(g)
            cy = sum(points[j][1] for j in g) / len(g)
            for m, j in enumerate(g):
                out[j] = (int(round(cx + (m - (len(g) - 1) / 2) * gap)), int(round(cy)))
    return out


def legend(env) -> list[tuple[str, tuple, str]]:
    """Legend entries of a WTD picture (tools of this scenario, phases, robots)."""
    entries = [("turtlebot", BOT, "disc"), ("Fetch", FETCH, "box"), ("table spot", (120, 120, 120), "outline")]
    entries += [(f"tool {j}", TOOL_COLORS[j % len(TOOL_COLORS)], "dot") for j in range(env.nO)]
    entries += [(f"phase {p}", PHASE_COLORS[p % len(PHASE_COLORS)], "box") for p in range(env.nS)]
    entries += [("done", DONE_COLOR, "box"), ("phase time left", (60, 160, 60), "bar"),
                ("waits for a tool", (220, 40, 40), "bar")]
    return entries


def scene_rgb(env, b: int) -> np.ndarray:
    """[400, 720, 3] uint8 scene of copy ``b`` of a :class:`WTDEnv` (no legend or status)."""
    from PIL import Image, ImageDraw

    tb, nT, nH = env.tab, env.nT, env.nH
    im = Image.new("RGB", (int(W_M * SCALE), int(H_M * SCALE)), (250, 250, 250))
    d = ImageDraw.Draw(im)
    f11, f12, f13 = drawing.font(11), drawing.font(12), drawing.font(13)
    room = int(ROOM_M * SCALE)
    d.rectangle([0, 0, room, im.height], fill=(225, 225, 225))
    d.rectangle([room - 3, 0, room, _px(0, 3.1)[1]], fill=(90, 90, 90))  # the wall, with a door
    d.rectangle([room - 3, _px(0, 1.9)[1], room, im.height], fill=(90, 90, 90))
    d.text((8, 6), "tool room", font=f13, fill=(90, 90, 90))
    d.text((room + 10, 6), "work areas", font=f13, fill=(90, 90, 90))
    for h in range(nH):  # humans at their work areas
        x, y = _px(*tb.nodes[0, h])
        phase = int(env.cs[b, h])
        done = bool(env.fin[b, h])
        d.rectangle([x - 42, y - 34, x + 42, y + 32], fill=DONE_COLOR if done else PHASE_COLORS[phase % 4],
                    outline=(120, 120, 120))
        d.text((x - 38, y - 31), f"H{h}", font=f13, fill=(20, 20, 20))
        d.text((x + 38, y - 31), "done" if done else f"phase {phase}/{env.nS - 1}", font=f11, fill=(20, 20, 20),
               anchor="ra")
        left, dur = int(env.htl[b, h]), int(tb.phase_steps[h, phase])
        frac = min(max(left / max(dur, 1), 0.0), 1.0)
        d.rectangle([x - 36, y + 21, x + 36, y + 27], fill=(255, 255, 255))
        waiting = left <= 0 and not env.got[b, h] and not done
        d.rectangle([x - 36, y + 21, x + 36 if waiting else x - 36 + int(72 * frac), y + 27],
                    fill=(220, 40, 40) if waiting else (60, 160, 60))
    x, y = _px(*tb.nodes[0, nH])  # where turtlebots wait in the tool room
    d.rectangle([x - 4, y - 4, x + 4, y + 4], fill=(150, 150, 150))
    for k in range(nT):  # table spots
        x, y = _px(*tb.nodes[k, nH + 1])
        d.rectangle([x - 13, y - 13, x + 13, y + 13], outline=(120, 120, 120), width=2)
        d.text((x, y - 16), f"T{k}", font=f11, fill=(90, 90, 90), anchor="md")  # above: spots sit side by side
    x, y = _px(*tb.fetch_xy)  # Fetch and what it has staged
    d.rectangle([x - 18, y - 18, x + 18, y + 18], fill=FETCH)
    d.text((x, y), "F", font=f13, fill=(255, 255, 255), anchor="mm")
    for i, slot in enumerate(_staged(env, b)):
        d.ellipse([x - 6 + 16 * i, y + 24, x + 6 + 16 * i, y + 36], fill=TOOL_COLORS[slot % 4], outline=(40, 40, 40))
    centres = _spread([_px(*env.pos[b, k]) for k in range(nT)])
    for k, (x, y) in enumerate(centres):  # turtlebots
        if not env.done[b, k] or env.moving[b, k]:
            tx, ty = _px(*tb.nodes[k, int(env.act[b, k])])
            dist = np.hypot(tx - x, ty - y)
            if dist > 1:
                d.line([x, y, x + (tx - x) / dist * 28, y + (ty - y) / dist * 28], fill=(20, 20, 120), width=3)
        d.ellipse([x - R_BOT, y - R_BOT, x + R_BOT, y + R_BOT], fill=BOT, outline=(15, 30, 90), width=2)
        d.text((x, y), str(k), font=f12, fill=(255, 255, 255), anchor="mm")
        tools = [j for j in range(env.nO) for _ in range(int(env.basket[b, k, j]))]
        for i, j in enumerate(tools):
            cx = x + (i - (len(tools) - 1) / 2) * 11
            d.ellipse([cx - 5, y - R_BOT - 13, cx + 5, y - R_BOT - 3], fill=TOOL_COLORS[j % 4], outline=(40, 40, 40))
    return np.asarray(im).copy()


def render_rgb(env, b: int) -> np.ndarray:
    """[H, W, 3] uint8 picture of copy ``b`` of a :class:`WTDEnv`: scene, legend and status panel."""
    names = [f"turtlebot {k}" for k in range(env.nT)] + ["Fetch"]
    return drawing.frame(env, b, scene_rgb(env, b), legend(env), [BOT] * env.nT + [FETCH], names)


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
