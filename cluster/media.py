"""Media files of a run: animated GIFs of rendered episodes.

Written with Pillow directly because its GIF timing is explicit: per-frame delays in milliseconds, stored by the
GIF format in hundredths of a second. ``imageio``'s ``duration`` argument changed meaning (seconds, then
milliseconds) between versions; passing ``1 / fps`` to a version that reads milliseconds gave every frame a delay
of 0, which viewers play as fast as they can and which made Pillow merge identical frames.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_FPS = 50  # GIF delays are whole hundredths of a second and browsers slow delays under 20 ms down to 100 ms


class MediaError(ValueError):
    """Frames that cannot be written (none, wrong shape or type, or an impossible frame rate)."""


def frame_delays_ms(n_frames: int, fps: float) -> list[int]:
    """Per-frame delays in ms, multiples of 10 (the GIF unit), whose running sum stays within 5 ms of
    ``k * 1000 / fps``: at 8 fps the delays alternate 130, 120, ... and the episode keeps its real length."""
    ends = np.floor(np.arange(1, n_frames + 1) * 100.0 / fps + 0.5).astype(np.int64)  # centiseconds, rounded
    return (np.diff(ends, prepend=0) * 10).tolist()


def write_gif(path: str | Path, frames, fps: float = 8) -> Path:
    """Write RGB frames ``[H, W, 3] uint8`` (all one shape) as a looping GIF playing at ``fps`` frames per second.

    Consecutive identical frames are stored once with their delays added (Pillow's encoder does this), so the
    file may hold fewer frames than given, but every frame keeps its time on screen.
    """
    from PIL import Image

    if not 0 < fps <= MAX_FPS:
        raise MediaError(f"write_gif: fps must be in (0, {MAX_FPS}], got {fps!r}")
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise MediaError(f"write_gif: no frames to write to {path}")
    shape = frames[0].shape
    for k, f in enumerate(frames):
        if f.ndim != 3 or f.shape[2] != 3 or f.shape != shape:
            raise MediaError(f"write_gif: frame {k} has shape {f.shape}; every frame must be [H, W, 3] like "
                             f"frame 0 {shape}")
        if f.dtype != np.uint8:
            raise MediaError(f"write_gif: frame {k} has dtype {f.dtype}; frames must be uint8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f, "RGB") for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=frame_delays_ms(len(images), fps), optimize=False)
    return path
