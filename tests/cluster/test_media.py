"""GIFs keep their frames and timing: read the written file back with Pillow."""
from __future__ import annotations

import numpy as np
import pytest

from asyncmarl.cluster.media import MediaError, frame_delays_ms, write_gif


def _read_back(path):
    from PIL import Image

    im = Image.open(path)
    delays = []
    for k in range(im.n_frames):
        im.seek(k)
        delays.append(im.info["duration"])
    return im.n_frames, delays, im.info.get("loop")


def _frames(n, h=12, w=20):
    """n distinct frames (a moving bar), like an episode whose status line changes every step."""
    frames = []
    for k in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, k % w] = (255, 40 + k % 200, 10)
        f[0, 0] = (k % 256, 0, 0)
        frames.append(f)
    return frames


def test_a_101_frame_episode_keeps_101_frames_at_the_requested_rate(tmp_path):
    n, delays, loop = _read_back(write_gif(tmp_path / "ep.gif", _frames(101), fps=10))
    assert n == 101 and delays == [100] * 101 and loop == 0


def test_8_fps_alternates_delays_so_the_episode_keeps_its_length(tmp_path):
    n, delays, _ = _read_back(write_gif(tmp_path / "ep.gif", _frames(9), fps=8))
    assert n == 9 and set(delays) == {120, 130} and sum(delays) == 1130  # 9 / 8 s = 1125 ms, to the 10 ms unit
    assert frame_delays_ms(8, 8) == [130, 120, 130, 120, 130, 120, 130, 120]


def test_identical_frames_are_merged_but_keep_their_time(tmp_path):
    frames = _frames(3)
    frames = [frames[0]] * 4 + [frames[1], frames[2]]
    n, delays, _ = _read_back(write_gif(tmp_path / "ep.gif", frames, fps=10))
    assert n == 3 and delays == [400, 100, 100]


@pytest.mark.parametrize("frames,fps,match", [
    ([], 8, "no frames"),
    ([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], 8, "frame 1 has shape"),
    ([np.zeros((4, 4), np.uint8)], 8, "frame 0 has shape"),
    ([np.zeros((4, 4, 3), np.float32)], 8, "dtype float32"),
    ([np.zeros((4, 4, 3), np.uint8)], 0, "fps must be"),
    ([np.zeros((4, 4, 3), np.uint8)], 100, "fps must be"),
])
def test_bad_frames_name_the_problem(tmp_path, frames, fps, match):
    with pytest.raises(MediaError, match=match):
        write_gif(tmp_path / "x.gif", frames, fps=fps)
    assert not (tmp_path / "x.gif").exists()
