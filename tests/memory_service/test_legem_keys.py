"""LeGEM node keys: SimHash stable across processes, similar observations collide, exact keys, auto mode."""
import subprocess
import sys

import numpy as np

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.keys import KeyMaker, simhash_bits, simhash_projection
from asyncmarl.memory_service.legem.synthetic import random_shots, stag_hunter_episode

OBS = np.random.default_rng(7).standard_normal((6, 10)).astype(np.float32)  # [L, O]
ACTIONS = np.arange(6)


def test_simhash_keys_are_stable_across_processes():
    cfg = LegemConfig(key="simhash", simhash_bits=24, seed=3)
    here = [k.hex() for k in KeyMaker(cfg, 10).keys(OBS, ACTIONS)]
    code = (
        "import numpy as np\n"
        "from asyncmarl.memory_service.legem import LegemConfig\n"
        "from asyncmarl.memory_service.legem.keys import KeyMaker\n"
        "obs = np.random.default_rng(7).standard_normal((6, 10)).astype(np.float32)\n"
        "cfg = LegemConfig(key='simhash', simhash_bits=24, seed=3)\n"
        "print(' '.join(k.hex() for k in KeyMaker(cfg, 10).keys(obs, np.arange(6))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == here
    assert len(set(here)) == 6  # distinct afterstates, distinct keys
    other_seed = [k.hex() for k in KeyMaker(LegemConfig(key="simhash", simhash_bits=24, seed=4), 10).keys(OBS, ACTIONS)]
    assert other_seed != here


def test_similar_observations_collide_and_bits_agree_as_designed():
    maker = KeyMaker(LegemConfig(key="simhash", simhash_bits=32), 10)
    noise = 1e-4 * np.random.default_rng(1).standard_normal(OBS.shape).astype(np.float32)
    assert maker.keys(OBS, ACTIONS) == maker.keys(OBS + noise, ACTIONS)  # tiny perturbation: same node
    assert maker.keys(OBS, ACTIONS) == maker.keys(3.0 * OBS, ACTIONS)  # SimHash sees directions only
    assert maker.keys(OBS, ACTIONS) != maker.keys(OBS, ACTIONS + 1)  # the action is part of the afterstate
    assert set(maker.keys(OBS, ACTIONS)).isdisjoint(maker.keys(-OBS, ACTIONS))  # opposite directions: all bits flip
    # Charikar: a bit agrees with probability 1 - angle / pi; check it at three angles over many pairs
    rng = np.random.default_rng(0)
    proj = simhash_projection(16, 256, seed=0)
    for angle in (0.2, 0.8, 1.6):
        x = rng.standard_normal((400, 16))
        u = rng.standard_normal((400, 16))
        u -= (u * x).sum(1, keepdims=True) / (x * x).sum(1, keepdims=True) * x  # orthogonal to x
        y = np.cos(angle) * x / np.linalg.norm(x, axis=1, keepdims=True) + \
            np.sin(angle) * u / np.linalg.norm(u, axis=1, keepdims=True)
        agree = (simhash_bits(x, proj) == simhash_bits(y, proj)).mean()
        assert abs(agree - (1 - angle / np.pi)) < 0.02, angle


def test_exact_and_auto_keys():
    exact = KeyMaker(LegemConfig(key="exact"), 10)
    assert exact.mode == "exact"
    assert exact.keys(OBS[:1], ACTIONS[:1])[0] == OBS[0].tobytes() + np.int64(0).tobytes()
    assert exact.keys(np.zeros((1, 10)), [0]) == exact.keys(-np.zeros((1, 10)), [0])  # -0.0 is 0.0
    assert KeyMaker(LegemConfig(key="auto", exact_max_dim=10), 10).mode == "exact"
    assert KeyMaker(LegemConfig(key="auto", exact_max_dim=9), 10).mode == "simhash"


def test_simhash_memory_finds_decisive_shots_under_observation_noise():
    """Continuous observations (the exact game plus small noise) need SimHash keys to share nodes."""
    rng = np.random.default_rng(0)
    trajs = [stag_hunter_episode(s) for s in random_shots(rng, 800, 0.15)]
    for tr in trajs:
        tr["real_obs"] = tr["real_obs"] + 1e-4 * rng.standard_normal(tr["real_obs"].shape).astype(np.float32)
    exact = LegemMemory(LegemConfig(key="exact"))
    hashed = LegemMemory(LegemConfig(key="simhash", simhash_bits=16))
    exact.add_episodes(trajs)
    hashed.add_episodes(trajs)
    assert hashed.graphs.n_nodes * 10 < exact.graphs.n_nodes  # noise splits exact keys, not SimHash ones
    caught = [tr for tr in trajs if tr["reward"].sum() > 0]
    hits = 0
    for tr in caught:
        committed = tr["choosing"][:-1] & (tr["actions"] == 1)
        decisive = int(np.flatnonzero(committed.any(1))[-1])
        t = int(np.flatnonzero(tr["reward"])[0])
        hits += int(hashed.pivots(tr)[0, t] == decisive)
    assert hits == len(caught)
