"""What every scenario's picture shares: text drawn with Pillow, a title bar, a legend and a status panel.

A scenario draws its scene (an ``[H, W, 3]`` uint8 array) and hands it to :func:`frame`, which adds, top to bottom:

* a title bar with the scenario name;
* the scene, centred;
* a legend (a swatch and a word for every colour and mark the scene uses);
* a status panel: the step (``t / horizon``), the reward of the last step and the episode's return so far, and one
  line per agent with its colour, the action it ran during the last step and that action's ``elapsed`` counter
  (``elapsed e/m`` where the scenario knows the duration ``m``), marked ``ended`` when the agent chooses next.

Every frame of one scenario has the same size (the panels are sized for the longest action name), so frames of an
episode stack into a GIF.

Rendering happens once per evaluation episode (a GIF) or when a person asks; it need not be fast, only readable.
A frame took 6-21 ms on the shared 2-core machine (median over 20 random-play frames per scenario, load
average 5-7).
"""
from __future__ import annotations

import weakref
from functools import lru_cache

import numpy as np

BG = (250, 250, 250)  # panels' background
INK = (30, 30, 30)  # text
MUTED = (110, 110, 110)  # secondary text
RULE = (205, 205, 205)  # separator lines
TEXT_SIZE = 14  # px, status and legend text
TITLE_SIZE = 16  # px, title bar
LINE = 19  # px per status line
MIN_WIDTH = 460  # frames are at least this wide, so the status lines fit
PAD = 8  # px margin inside panels

# Returns accumulated per rendered copy: {env: {copy: (t, return so far or None)}} (see _episode_return).
_RETURNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@lru_cache(maxsize=8)
def font(size: int = TEXT_SIZE):
    """Pillow's bundled scalable font at ``size`` px (no system font needed)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def text_width(text: str, size: int = TEXT_SIZE) -> int:
    """Width in pixels of ``text`` drawn at ``size``."""
    return int(np.ceil(font(size).getlength(text)))


def draw_text(img: np.ndarray, xy: tuple[float, float], text: str, size: int = TEXT_SIZE, fill=INK,
              anchor: str = "la", outline=None) -> np.ndarray:
    """Draw ``text`` onto the uint8 image ``img`` in place (and return it). ``anchor`` is Pillow's (``mm``: centred);
    ``outline`` draws a 2-px halo of that colour so labels stay readable on any background."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    kw = {"stroke_width": 2, "stroke_fill": tuple(outline)} if outline is not None else {}
    d.text(xy, text, font=font(size), fill=tuple(int(c) for c in fill), anchor=anchor, **kw)
    img[...] = np.asarray(im)
    return img


def draw_texts(img: np.ndarray, items: list[tuple]) -> np.ndarray:
    """Several labels at once: ``items`` of ``(xy, text, size, fill, anchor, outline)`` (one image round trip)."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    for xy, text, size, fill, anchor, outline in items:
        kw = {"stroke_width": 2, "stroke_fill": tuple(outline)} if outline is not None else {}
        d.text(xy, text, font=font(size), fill=tuple(int(c) for c in fill), anchor=anchor, **kw)
    img[...] = np.asarray(im)
    return img


def _swatch(d, x: int, y: int, color, kind: str, s: int = 14) -> None:
    """A legend mark at (x, y) (top left) of size ``s``: box, disc, ring, dot, bar or outlined box."""
    color = tuple(int(c) for c in color)
    if kind == "disc":
        d.ellipse([x, y, x + s, y + s], fill=color, outline=INK)
    elif kind == "ring":
        d.ellipse([x, y, x + s, y + s], outline=color, width=3)
    elif kind == "dot":
        d.ellipse([x + s // 4, y + s // 4, x + s - s // 4, y + s - s // 4], fill=color)
    elif kind == "bar":
        d.rectangle([x, y + s // 3, x + s, y + s - s // 3], fill=color)
    elif kind == "outline":
        d.rectangle([x, y, x + s, y + s], outline=color, width=2)
    else:
        d.rectangle([x, y, x + s, y + s], fill=color, outline=(120, 120, 120))


def legend_panel(entries: list[tuple[str, tuple, str]], width: int) -> np.ndarray:
    """Rows of ``(label, colour, kind)`` swatches wrapped to ``width`` (kinds as in ``_swatch``)."""
    key = tuple((str(label), tuple(int(c) for c in color), str(kind)) for label, color, kind in entries)
    return _legend_panel(key, int(width))


@lru_cache(maxsize=64)
def _legend_panel(entries: tuple, width: int) -> np.ndarray:
    """Cached: a scenario's legend is the same in every frame (read-only array)."""
    from PIL import Image, ImageDraw

    items, x, rows = [], PAD, 0
    for label, color, kind in entries:
        w = 14 + 5 + text_width(label) + 14
        if x + w > width - PAD and x > PAD:
            x, rows = PAD, rows + 1
        items.append((x, rows, label, color, kind))
        x += w
    h = (rows + 1) * LINE + PAD
    im = Image.new("RGB", (width, h), BG)
    d = ImageDraw.Draw(im)
    d.line([0, 0, width, 0], fill=RULE)
    for x, r, label, color, kind in items:
        y = PAD // 2 + r * LINE + 2
        _swatch(d, x, y, color, kind)
        d.text((x + 19, y + 7), label, font=font(), fill=INK, anchor="lm")
    out = np.asarray(im)
    out.flags.writeable = False
    return out


def _episode_return(env, b: int, t: int, reward: float) -> float | None:
    """The return of copy ``b``'s episode up to step ``t``, summed over the frames drawn; None when a step was
    not drawn (then it cannot be known here)."""
    seen = _RETURNS.setdefault(env, {})
    prev = seen.get(b)
    if t == 0:
        ret = 0.0
    elif prev is not None and prev[0] == t:  # the same step drawn again
        return prev[1]
    elif prev is not None and prev[0] == t - 1 and prev[1] is not None:
        ret = prev[1] + reward
    else:
        ret = None
    seen[b] = (t, ret)
    return ret


def agent_status(env, b: int) -> list[tuple[str, str, bool]]:
    """Per agent ``(action, elapsed, ended)``: the action it ran during the last step, its ``elapsed`` counter
    (``e/m`` where the scenario exposes durations ``m``) and whether it ended (the agent chooses at the next
    step). Before the first step: ``("choosing its first action", "", True)``."""
    step = env._last
    durations = getattr(env, "duration", None)
    out = []
    for i in range(env.n_agents):
        if step is None or int(step.t[b]) == 0:
            out.append(("choosing its first action", "", True))
            continue
        a = int(step.macro_action[b, i])
        names = env.action_names[i]
        name = names[a] if 0 <= a < len(names) else f"action {a}"
        m = f"/{int(durations[b, i])}" if durations is not None else ""
        out.append((name, f"elapsed {int(step.elapsed[b, i])}{m}", bool(step.choosing[b, i])))
    return out


def _columns(env, agent_names=None) -> tuple[int, int, int]:
    """x of the name, action and elapsed columns of the status panel (fixed per scenario)."""
    return _columns_of(tuple(agent_names or env.agents), tuple(tuple(a) for a in env.action_names))


@lru_cache(maxsize=256)
def _columns_of(names: tuple, action_names: tuple) -> tuple[int, int, int]:
    x_name = PAD + 20
    x_action = x_name + max(text_width(n) for n in names) + 14
    x_elapsed = x_action + max(text_width(a) for acts in action_names for a in acts) + 14
    return x_name, x_action, x_elapsed


def _status_width(env, agent_names=None) -> int:
    """Width the longest possible status line needs (fixed per scenario, so every frame of a GIF has one size)."""
    return max(_columns(env, agent_names)[2] + text_width("elapsed 000/000    ended") + PAD,
               _columns(env, agent_names)[1] + text_width("choosing its first action") + PAD)


def status_panel(env, b: int, width: int, agent_colors, agent_names=None) -> np.ndarray:
    """Step, reward and return, then one line per agent (see :func:`agent_status`), in columns."""
    from PIL import Image, ImageDraw

    step = env._last
    t = 0 if step is None else int(step.t[b])
    r = 0.0 if step is None else float(step.reward[b])
    ret = _episode_return(env, b, t, r)
    done = "" if step is None else ("    terminated" if step.terminated[b] else "    truncated" if step.truncated[b]
                                    else "")
    head = f"t = {t} / {env.horizon}    reward {r:+g}    return {'?' if ret is None else f'{ret:g}'}{done}"
    names = agent_names or env.agents
    x_name, x_action, x_elapsed = _columns(env, agent_names)
    h = (1 + env.n_agents) * LINE + PAD
    im = Image.new("RGB", (width, h), BG)
    d = ImageDraw.Draw(im)
    d.line([0, 0, width, 0], fill=RULE)
    d.text((PAD, PAD // 2 + LINE // 2 + 1), head, font=font(), fill=INK, anchor="lm")
    for i, (n, (action, elapsed, ended)) in enumerate(zip(names, agent_status(env, b), strict=True)):
        y = PAD // 2 + (i + 1) * LINE + 2
        _swatch(d, PAD, y, agent_colors[i % len(agent_colors)], "disc")
        d.text((x_name, y + 7), n, font=font(), fill=INK, anchor="lm")
        d.text((x_action, y + 7), action, font=font(), fill=MUTED if not elapsed else INK, anchor="lm")
        if elapsed:
            d.text((x_elapsed, y + 7), elapsed + ("    ended" if ended else ""), font=font(), fill=INK, anchor="lm")
    return np.asarray(im)


def title_panel(title: str, width: int) -> np.ndarray:
    """A bar with ``title`` in it."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, TITLE_SIZE + 2 * PAD), (235, 235, 238))
    ImageDraw.Draw(im).text((PAD, (TITLE_SIZE + 2 * PAD) // 2), title, font=font(TITLE_SIZE), fill=INK, anchor="lm")
    return np.asarray(im)


def _centre(img: np.ndarray, width: int) -> np.ndarray:
    if img.shape[1] == width:
        return img
    out = np.empty((img.shape[0], width, 3), np.uint8)
    out[:] = BG
    left = (width - img.shape[1]) // 2
    out[:, left:left + img.shape[1]] = img
    return out


def frame(env, b: int, scene: np.ndarray, legend: list[tuple[str, tuple, str]], agent_colors,
          agent_names=None, title: str | None = None) -> np.ndarray:
    """The full picture of copy ``b``: title, ``scene``, ``legend`` and the status panel, one uint8 array."""
    width = max(scene.shape[1], MIN_WIDTH, _status_width(env, agent_names))
    parts = [title_panel(title or env.name, width), _centre(scene, width), legend_panel(legend, width),
             status_panel(env, b, width, agent_colors, agent_names)]
    return np.ascontiguousarray(np.vstack(parts))
