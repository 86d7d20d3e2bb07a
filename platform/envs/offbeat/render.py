"""Pictures of the off-beat games, drawn with Pillow: one labelled row per agent showing where its running action
will land and how far it has come (``elapsed / duration``), the game's objects (stag, rocks, plots) labelled with
their state, and a time bar; then a legend and the status panel (:mod:`asyncmarl.platform.envs.drawing`).

Each game's ``render_rgb`` calls one function here with its own arrays; the games keep their rules, this module
keeps the pictures.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import drawing

WIDTH = 480  # px, scene width of every off-beat game
ROW = 58  # px per agent row
HEAD = 84  # px, the objects' row (stag, rocks, plots) above the agents
AGENT_COLORS = ((70, 130, 230), (230, 120, 40), (150, 80, 200), (40, 160, 120), (200, 60, 90), (120, 120, 40))
INK, MUTED, LANE = (30, 30, 30), (120, 120, 120), (232, 232, 236)
PROGRESS, LANDS = (250, 200, 60), (230, 70, 60)
STAG_COLORS = {"present": (150, 90, 40), "caught": (60, 180, 90), "fled": (200, 200, 200)}
ROCK_COLORS = {"intact": (140, 140, 150), "broken": (205, 185, 160)}
PLOT_COLORS = {"empty": (150, 110, 70), "sapling": (150, 220, 110), "wilting": (225, 210, 80),
               "watered": (70, 170, 210), "mature": (30, 120, 50), "dead": (60, 50, 45)}


def _canvas(n_agents: int):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (WIDTH, HEAD + n_agents * ROW + 40), (255, 255, 255))
    return im, ImageDraw.Draw(im)


def _agent_label(d, i: int, y: int, name: str, detail: str) -> None:
    """Agent ``i``'s disc and name at the left of its row (top ``y``)."""
    c = AGENT_COLORS[i % len(AGENT_COLORS)]
    d.ellipse([10, y + 12, 40, y + 42], fill=c, outline=INK)
    d.text((25, y + 27), str(i), font=drawing.font(15), fill=(255, 255, 255), anchor="mm")
    d.text((48, y + 20), name, font=drawing.font(14), fill=INK, anchor="lm")
    d.text((48, y + 38), detail, font=drawing.font(11), fill=MUTED, anchor="lm")


def _progress(d, box, e: int, m: int, text: str) -> None:
    """A bar in ``box`` filled to ``e / m`` (an action ``e`` steps in, landing at ``m``), with ``text`` on it."""
    x0, y0, x1, y1 = box
    d.rectangle(box, fill=LANE, outline=(190, 190, 195))
    frac = 1.0 if m <= 0 else min(max(e / m, 0.0), 1.0)
    d.rectangle([x0, y0, x0 + int((x1 - x0) * frac), y1], fill=LANDS if e >= m else PROGRESS)
    d.text(((x0 + x1) // 2, (y0 + y1) // 2), text, font=drawing.font(11), fill=INK, anchor="mm")


def _time_bar(d, t: int, horizon: int, y: int) -> None:
    d.text((10, y + 10), f"time {t}/{horizon}", font=drawing.font(12), fill=INK, anchor="lm")
    x0, x1 = 110, WIDTH - 12
    d.rectangle([x0, y + 4, x1, y + 16], fill=LANE, outline=(190, 190, 195))
    d.rectangle([x0, y + 4, x0 + int((x1 - x0) * min(t, horizon) / horizon), y + 16], fill=(150, 150, 160))


def _lands_text(e: int, m: int) -> str:
    return "lands now" if e >= m else f"{e}/{m}, lands in {m - e}"


def _shown(env, b: int, i: int) -> bool:
    """Agent ``i`` runs a non-wait action, or one landed in the last step (drawn in the landing colour)."""
    return int(env.action[b, i]) > 0 and int(env.t[b]) > 0 and (not env.choosing[b, i]
                                                                 or env.elapsed[b, i] >= env.duration[b, i])


def _finish(env, b: int, im, legend: list, names: list[str]) -> np.ndarray:
    return drawing.frame(env, b, np.asarray(im).copy(), legend, AGENT_COLORS[:env.n_agents], names)


def stag_hunter(env, b: int) -> np.ndarray:
    """Hunters' rows with their arrow flying along a lane towards the stag on the right (state written on it)."""
    from asyncmarl.platform.envs.offbeat.stag_hunter import FLYING, SPENT

    n = env.n_agents
    im, d = _canvas(n)
    stag = ("present", "caught", "fled")[int(env.stag[b])]
    sx0, sx1 = WIDTH - 110, WIDTH - 12
    d.text((10, 14), "Each hunter has one arrow; the stag is caught only if all arrows land in the same step.",
           font=drawing.font(11), fill=MUTED)
    d.rounded_rectangle([sx0, HEAD - 40, sx1, HEAD + n * ROW - 6], radius=10, fill=STAG_COLORS[stag], outline=INK)
    d.text(((sx0 + sx1) // 2, HEAD - 28), "stag", font=drawing.font(14), fill=(255, 255, 255) if stag != "fled"
           else INK, anchor="mm")
    d.text(((sx0 + sx1) // 2, HEAD + n * ROW // 2 - 20), stag, font=drawing.font(15),
           fill=(255, 255, 255) if stag != "fled" else INK, anchor="mm")
    lx0, lx1 = 160, sx0 - 12
    for i in range(n):
        y = HEAD + i * ROW - 10
        flight = int(env.settings.arrow_flight[i])
        _agent_label(d, i, y, f"hunter {i}", f"arrow flies {flight} steps")
        d.rectangle([lx0, y + 20, lx1, y + 34], fill=LANE)
        state = int(env.arrow[b, i])
        if state == FLYING or (state == SPENT and _shown(env, b, i) and env.choosing[b, i]):  # flying or landing
            e, m = int(env.elapsed[b, i]), int(env.duration[b, i])
            x = lx0 + int((lx1 - lx0) * min(e / max(m, 1), 1.0))
            d.line([lx0, y + 27, x, y + 27], fill=LANDS if e >= m else (90, 90, 90), width=3)
            d.polygon([(x, y + 20), (x + 12, y + 27), (x, y + 34)], fill=LANDS if e >= m else INK)
            d.text((lx0, y + 46), _lands_text(e, m), font=drawing.font(11), fill=INK, anchor="lm")
        else:
            d.text((lx0 + 6, y + 27), "arrow spent" if state == SPENT else "arrow ready", font=drawing.font(12),
                   fill=MUTED if state == SPENT else INK, anchor="lm")
    _time_bar(d, int(env.t[b]), env.horizon, HEAD + n * ROW + 8)
    legend = [("arrow in flight", INK, "box"), ("arrow lands this step", LANDS, "box")]
    legend += [(f"stag {k}", c, "box") for k, c in STAG_COLORS.items()]
    return _finish(env, b, im, legend, [f"hunter {i}" for i in range(n)])


def _columns(k: int) -> list[tuple[int, int]]:
    """x ranges of ``k`` object columns right of the agent labels."""
    x0, x1 = 150, WIDTH - 10
    w = (x1 - x0) / k
    return [(int(x0 + j * w + 3), int(x0 + (j + 1) * w - 3)) for j in range(k)]


def quarry(env, b: int) -> np.ndarray:
    """Rocks as columns (hardness, intact or broken); each miner's running strike as a bar under its rock."""
    n, K = env.n_agents, env.n_rocks
    im, d = _canvas(n)
    cols = _columns(K)
    for j, line in enumerate(("A rock breaks when", "strikes equal to its", "hardness land at once.")):
        d.text((10, 14 + 14 * j), line, font=drawing.font(11), fill=MUTED)
    for k, (x0, x1) in enumerate(cols):
        intact = bool(env.intact[b, k])
        d.rectangle([x0, 8, x1, HEAD - 12], fill=ROCK_COLORS["intact" if intact else "broken"], outline=INK)
        fill = (255, 255, 255) if intact else INK
        d.text(((x0 + x1) // 2, 24), f"rock {k}", font=drawing.font(14), fill=fill, anchor="mm")
        d.text(((x0 + x1) // 2, 44), f"hardness {int(env._hardness[k])}", font=drawing.font(11), fill=fill,
               anchor="mm")
        d.text(((x0 + x1) // 2, 60), "intact" if intact else "broken", font=drawing.font(11), fill=fill, anchor="mm")
    for i in range(n):
        y = HEAD + i * ROW - 6
        _agent_label(d, i, y, f"miner {i}", f"strike takes {int(env.settings.strike_durations[i])} steps")
        a = int(env.action[b, i])
        if _shown(env, b, i):
            x0, x1 = cols[a - 1]
            e, m = int(env.elapsed[b, i]), int(env.duration[b, i])
            _progress(d, (x0, y + 16, x1, y + 38), e, m, _lands_text(e, m))
        else:
            d.text((cols[0][0], y + 27), "idle", font=drawing.font(12), fill=MUTED, anchor="lm")
    _time_bar(d, int(env.t[b]), env.horizon, HEAD + n * ROW + 8)
    legend = [("rock intact", ROCK_COLORS["intact"], "box"), ("rock broken", ROCK_COLORS["broken"], "box"),
              ("strike on its way", PROGRESS, "box"), ("strike lands this step", LANDS, "box")]
    return _finish(env, b, im, legend, [f"miner {i}" for i in range(n)])


def afforestation(env, b: int) -> np.ndarray:
    """Plots as columns (state and age); each planter's or waterer's running action as a bar under its plot."""
    from asyncmarl.platform.envs.offbeat.afforestation import SAPLING, WATERED

    n, P = env.n_agents, env.n_plots
    im, d = _canvas(n)
    cols = _columns(P)
    d.text((10, 14), "Water a sapling within", font=drawing.font(11), fill=MUTED)
    d.text((10, 28), f"{env.settings.water_window} steps; it matures", font=drawing.font(11), fill=MUTED)
    d.text((10, 42), f"{env.settings.mature_time} steps later.", font=drawing.font(11), fill=MUTED)
    names = ("empty", "sapling", "watered", "mature", "dead")
    for p, (x0, x1) in enumerate(cols):
        st, age = int(env.status[b, p]), int(env.age[b, p])
        name = names[st]
        if st == SAPLING and age > env.settings.water_window // 2:
            name = "wilting"
        dark = name in ("mature", "dead", "empty", "watered")
        d.rectangle([x0, 8, x1, HEAD - 12], fill=PLOT_COLORS[name], outline=INK)
        fill = (255, 255, 255) if dark else INK
        d.text(((x0 + x1) // 2, 22), f"plot {p}", font=drawing.font(12), fill=fill, anchor="mm")
        d.text(((x0 + x1) // 2, 42), names[st], font=drawing.font(11), fill=fill, anchor="mm")
        if st in (SAPLING, WATERED):
            d.text(((x0 + x1) // 2, 58), f"age {age}", font=drawing.font(11), fill=fill, anchor="mm")
    kinds, plots = env.action_kind()[b], env.action_plot()[b]
    for i in range(n):
        y = HEAD + i * ROW - 6
        role = "waterer" if env.is_waterer[i] else "planter"
        dur = env.settings.water_duration if env.is_waterer[i] else env.settings.plant_duration
        _agent_label(d, i, y, f"{role} {i}", f"{'waters' if env.is_waterer[i] else 'plants'} in {dur} steps")
        if _shown(env, b, i) and kinds[i] > 0:
            x0, x1 = cols[int(plots[i])]
            e, m = int(env.elapsed[b, i]), int(env.duration[b, i])
            _progress(d, (x0, y + 16, x1, y + 38), e, m, "lands" if e >= m else f"{e}/{m}")
        else:
            d.text((cols[0][0], y + 27), "idle", font=drawing.font(12), fill=MUTED, anchor="lm")
    _time_bar(d, int(env.t[b]), env.horizon, HEAD + n * ROW + 8)
    legend = [(k, c, "box") for k, c in PLOT_COLORS.items()]
    legend += [("action on its way", PROGRESS, "box"), ("lands this step", LANDS, "box")]
    roles = [f"{'waterer' if env.is_waterer[i] else 'planter'} {i}" for i in range(n)]
    return _finish(env, b, im, legend, roles)
