"""A contact sheet of every scenario's picture: one frame per scenario after a few steps of seeded random play.

    .venv/bin/python scripts/contact_sheet.py                       # writes docs/renders.png
    .venv/bin/python scripts/contact_sheet.py --frames /tmp/frames  # also each full-size frame as a PNG

Every frame is the scenario's ``render_rgb`` (what evaluation GIFs show), rendered at every step from the reset
so the status panel's return is known; the sheet scales them to one width.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def frame_after(name: str, steps: int, seed: int) -> np.ndarray:
    """``render_rgb`` of scenario ``name`` after ``steps`` uniformly random valid joint actions (or at episode end)."""
    from asyncmarl.platform.envs import make_batched

    env = make_batched(name, 1)
    step = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    img = env.render_rgb(0)
    for _ in range(steps):
        if step.done[0]:
            break
        actions = (rng.random(step.action_mask.shape) * step.action_mask).argmax(-1)  # [1, n] uniform valid
        step = env.step(actions)
        img = env.render_rgb(0)
    return img


def contact_sheet(frames: list[np.ndarray], width: int, cols: int, gap: int = 12) -> np.ndarray:
    """Frames scaled to ``width`` px, laid out ``cols`` per row on a light background."""
    from PIL import Image

    thumbs = []
    for f in frames:
        im = Image.fromarray(f)
        h = int(round(im.height * width / im.width))
        thumbs.append(np.asarray(im.resize((width, h), Image.LANCZOS)))
    rows = [thumbs[i:i + cols] for i in range(0, len(thumbs), cols)]
    heights = [max(t.shape[0] for t in r) for r in rows]
    sheet = np.full((sum(heights) + gap * (len(rows) + 1), cols * width + gap * (cols + 1), 3), 225, np.uint8)
    y = gap
    for r, h in zip(rows, heights, strict=True):
        for j, t in enumerate(r):
            x = gap + j * (width + gap)
            sheet[y:y + t.shape[0], x:x + width] = t
        y += h + gap
    return sheet


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from asyncmarl.platform.envs import names

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="docs/renders.png", help="contact sheet PNG to write")
    p.add_argument("--steps", type=int, default=12, help="random joint steps before the frame is taken")
    p.add_argument("--seed", type=int, default=0, help="seed of the environments and the random actions")
    p.add_argument("--width", type=int, default=400, help="width of each frame on the sheet, px")
    p.add_argument("--cols", type=int, default=4, help="frames per row")
    p.add_argument("--frames", metavar="DIR", help="also write each full-size frame as DIR/<scenario>.png")
    a = p.parse_args(argv)
    # one family after another, sizes in order, so the sheet reads like the README's scenario table
    order = sorted(names(), key=lambda n: (("box", "wtd", "ove", "sta", "qua", "aff").index(n[:3]),
                                           int(n.rsplit("-", 1)[1]) if n[-1].isdigit() else n))
    frames = []
    for n in order:
        f = frame_after(n, a.steps, a.seed)
        frames.append(f)
        if a.frames:
            Path(a.frames).mkdir(parents=True, exist_ok=True)
            Image.fromarray(f).save(Path(a.frames) / f"{n}.png")
        print(f"{n:<16} {f.shape[1]} x {f.shape[0]} px")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(contact_sheet(frames, a.width, a.cols)).save(out, optimize=True)
    print(f"wrote {out} ({len(frames)} scenarios)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
