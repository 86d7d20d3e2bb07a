"""2m-vs-1z (two Marines against one Zealot, attacks of 9 steps): final greedy win rate and return of IQL, VDN
and QMIX with and without LeGEM (SimHash keys), as the LeGEM paper's Fig. 8 compares them on SMAC's 2m_vs_1z.

Usage: python benchmarks/marines_vs_zealot_table.py [--algos iql vdn qmix] [--seeds 0 1 2 3 4]
       [--steps 40000] [--anneal 20000] [--set key=value ...] [--cache PATH | --fresh] [--no-train]
       [--train-only plain|legem]

Same runner as the other off-beat tables (``offbeat_runs.run_one``: one run at a time in this process, the
shared ``BASE`` settings, a final greedy evaluation of 64 episodes), plus the scenario preset's LeGEM keys
(``cluster/configs/scenarios/2mvs1z.yaml``: SimHash, 32 bits, return buckets 0 / 10 / 19.9) and the exploration
schedule below, given to every run so that with and without LeGEM differ only in ``learner.legem``. Runs are
cached in ``benchmarks/results/marines_vs_zealot_runs.jsonl`` (committed); ``--no-train`` prints the table from
the cache.

``--pivots [--episodes 400]`` trains nothing: it plays episodes with the scripted kiting team
(``marines_vs_zealot_script``) whose actions are replaced by random valid ones with probability epsilon, fills a
LeGEM memory with them (the preset's settings; exact keys and Scheme I for comparison) and reports, over every
rewarded step, how often the joint pivot is the commit step of an attack that landed there (the decision that
earned it), how often the reward stays in place, and how often it moves elsewhere.
"""
from __future__ import annotations

import argparse
import os

from offbeat_runs import cell, load_cache, run_one  # a sibling script: its folder is on the path

NAMES = {"iql": "IQL", "vdn": "VDN", "qmix": "QMIX", "qplex": "QPLEX"}
SCENARIO_LEGEM = ("legem.key=simhash", "legem.simhash_bits=32", "legem.return_edges=[0.0,10.0,19.9]")
LEGEM_ONLY = ("legem.ranking=ended",)  # named, not left to the default, so the runs' keys say which ranking ran
CACHE = os.path.join("benchmarks", "results", "marines_vs_zealot_runs.jsonl")  # committed: outlives the machine


def play(n_episodes: int, epsilon: float, seed: int = 0) -> list[dict]:
    """Finished episodes of the epsilon-scripted team as LeGEM trajectories, each with "commits": for every step,
    the commit steps of the attacks that landed in it."""
    import numpy as np

    from asyncmarl.platform.envs import make_batched
    from asyncmarl.platform.envs.offbeat.marines_vs_zealot import ATTACK
    from asyncmarl.platform.envs.offbeat.marines_vs_zealot_script import kiting_actions

    rng, B = np.random.default_rng(seed), 32
    env = make_batched("2m-vs-1z", B)
    step = env.reset(seed=seed * 10_000)
    rows = [[] for _ in range(B)]  # per copy: (obs, real_obs, choosing, action, reward, elapsed) of each step
    out: list[dict] = []
    while len(out) < n_episodes:
        acts = kiting_actions(env, step)
        rand = (rng.random(step.action_mask.shape) * step.action_mask).argmax(-1)
        acts = np.where(rng.random(acts.shape) < epsilon, rand, acts)
        before = step
        step = env.step(acts)
        for b in range(B):
            rows[b].append((before.obs[b], before.real_obs[b], before.choosing[b], step.macro_action[b],
                            step.reward[b], step.elapsed[b]))
        for b in np.flatnonzero(step.done).tolist():
            obs, real, choosing, action, reward, elapsed = (np.asarray(x) for x in zip(*rows[b], strict=True))
            landed = (action == ATTACK) & (elapsed == env.settings.attack_duration)  # [T, 2]
            t = np.arange(len(reward))
            out.append({"episode_id": len(out), "obs": np.concatenate([obs, step.obs[b][None]]),
                        "real_obs": np.concatenate([real, step.real_obs[b][None]]), "actions": action,
                        "choosing": np.concatenate([choosing, step.choosing[b][None]]),
                        "reward": reward.astype(np.float32), "return": float(reward.sum()), "length": len(reward),
                        "extras": {"success": float(step.extras["success"][b])},
                        "commits": [set((t[k] - elapsed[k][landed[k]]).tolist()) for k in range(len(t))]})
            rows[b] = []
        if step.done.any():
            step = env.reset(seed=int(rng.integers(1 << 30)), where=step.done)
    return out[:n_episodes]


def pivot_table(n_episodes: int) -> None:
    """Pivot accuracy of LeGEM on scripted 2m-vs-1z episodes (see the module docstring)."""
    import numpy as np

    from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
    from asyncmarl.platform.envs import env_info

    info = env_info("2m-vs-1z")
    print("| epsilon | won | scheme | key | rewarded steps | pivot = landing attack's commit | stays | "
          "moved elsewhere |")
    print("|---:|---:|---|---|---:|---:|---:|---:|")
    for eps in (0.1, 0.3):
        eps_data = play(n_episodes, eps)
        won = np.mean([e["extras"]["success"] for e in eps_data])
        for scheme, key in (("II", "simhash"), ("II", "exact"), ("I", "simhash")):
            mem = LegemMemory(LegemConfig(scheme=scheme, key=key, simhash_bits=32, return_edges=(0.0, 10.0, 19.9),
                                          ranking="ended"), info)
            mem.add_episodes(eps_data)
            right = stay = other = 0
            for ep in eps_data:
                e = mem.pivots(ep)[0]
                for t in np.flatnonzero(ep["reward"]).tolist():
                    if int(e[t]) in ep["commits"][t]:
                        right += 1
                    elif int(e[t]) == t:
                        stay += 1
                    else:
                        other += 1
            n = right + stay + other
            print(f"| {eps} | {100 * won:.0f}% | {scheme} | {key} | {n} | {100 * right / n:.1f}% | "
                  f"{100 * stay / n:.1f}% | {100 * other / n:.1f}% |")
    print(f"\n{n_episodes} episodes per epsilon (scripted kiting team, each action random with probability epsilon),"
          " LeGEM ranking 'ended', return buckets 0 / 10 / 19.9.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--algos", nargs="+", default=["iql", "vdn", "qmix"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=40_000, help="joint environment steps per run")
    ap.add_argument("--anneal", type=int, default=20_000, help="joint steps over which epsilon falls to 0.05")
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="more run-config overrides (key=value)")
    ap.add_argument("--cache", default=CACHE, help="JSONL of finished runs (reused when the key matches)")
    ap.add_argument("--fresh", action="store_true", help="ignore and do not write the cache")
    ap.add_argument("--no-train", action="store_true", help="print what the cache holds; train nothing")
    ap.add_argument("--train-only", choices=["both", "plain", "legem"], default="both",
                    help="train only the runs without (plain) or with LeGEM; the table shows the others if cached")
    ap.add_argument("--pivots", action="store_true", help="LeGEM pivot accuracy on scripted episodes; no training")
    ap.add_argument("--episodes", type=int, default=400, help="--pivots: episodes per exploration level")
    args = ap.parse_args()
    if args.pivots:
        pivot_table(args.episodes)
        return
    cache_path = None if args.fresh else args.cache
    cache = {} if args.fresh else load_cache(args.cache)
    extra = [*SCENARIO_LEGEM, f"rollout.epsilon_anneal_steps={args.anneal}", *args.extra]
    lines = ["| algo | win rate | win rate + LeGEM | return | return + LeGEM | seconds per run |",
             "|---|---:|---:|---:|---:|---:|"]
    for algo in args.algos:
        train = {False: args.train_only != "legem", True: args.train_only != "plain"}
        res = {legem: [run_one("2m-vs-1z", algo, legem, s, args.steps, [*extra, *(LEGEM_ONLY if legem else ())],
                               cache, cache_path, train_missing=train[legem] and not args.no_train)
                       for s in args.seeds]
               for legem in (False, True)}
        n = len(args.seeds)
        win = {k: cell([r and r["success"] for r in v], expected=n) for k, v in res.items()}
        ret = {k: cell([r and r["return"] for r in v], percent=False, expected=n) for k, v in res.items()}
        secs = [r["seconds"] for v in res.values() for r in v if r]
        mean_s = f"{sum(secs) / len(secs):.0f}" if secs else "-"
        lines.append(f"| {NAMES.get(algo, algo)} | {win[False]} | {win[True]} | {ret[False]} | {ret[True]} | "
                     f"{mean_s} |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}, final greedy evaluation (64 episodes): win rate "
          "and return (normalised, a won battle returns 20), mean ± std over seeds.")


if __name__ == "__main__":
    main()
