"""Random-policy rollout of a scenario, printing episode returns (an environment demo)."""
from __future__ import annotations

import argparse

import numpy as np

from asyncmarl.platform.envs import make_batched, names


def random_actions(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Uniform valid action per agent: [B, n] from an action mask [B, n, A]."""
    scores = rng.random(mask.shape) * mask  # masked actions score 0, valid ones in (0, 1)
    return scores.argmax(-1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("scenario", nargs="?", default="boxpushing-6", help=f"one of {names()}")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    env = make_batched(a.scenario, 1)
    rng = np.random.default_rng(a.seed)
    returns = []
    for ep in range(a.episodes):
        step = env.reset(seed=a.seed + ep)
        ret = 0.0
        while not step.done[0]:
            step = env.step(random_actions(rng, step.action_mask))
            ret += float(step.reward[0])
        returns.append(ret)
        print(f"episode {ep}: return {ret:.1f} in {int(step.t[0])} steps")
    print(f"{a.scenario}: mean random-policy return {np.mean(returns):.2f} over {a.episodes} episodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
