"""Why learning on Quarry and Afforestation falls short: pivot accuracy against the known decisive commits and
how often exploring agents reach the rewarded joint schedules.

Usage: python benchmarks/offbeat_diagnose.py [--games quarry afforestation] [--episodes 3000] [--eps 1.0 0.3]
       [--set legem.key=value ...]

Episodes come from the registered games through the rollout ``SegmentCutter``, under an exploring policy: each
choosing agent follows the game's optimal open-loop plan (``offbeat_optimum.search``) and with probability
``eps`` takes a uniformly random available action instead (``eps = 1``: uniform random play, the start of
training). Every episode is inserted into a fresh ``LegemMemory``; then every rewarded step is searched.

The decisive commits of a reward are read from the episode itself (``decisive_commits``): in Quarry the strikes
that landed on a rock in the step it broke; in Afforestation the watering that landed on the plot
``mature_time`` steps before it matured and the planting whose landing made the sapling. Eq. 1 ranks pivots by
recency, so the joint pivot a reward should move to is the latest of its decisive commits.

``--train`` probes print one JSON line per game and append it to ``benchmarks/results/offbeat_probes.jsonl``:
the final greedy return, exploration counts (rewards by value, over the run and per quarter of its episodes),
pivot accuracy per reward value, and Q_tot along the optimal plan against its discounted return-to-go.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory  # noqa: E402
from asyncmarl.platform.envs import make_batched  # noqa: E402

PROBES = os.path.join("benchmarks", "results", "offbeat_probes.jsonl")


def collect(game: str, n_episodes: int, eps: float, plan: np.ndarray | None, seed: int = 0,
            batch: int = 64) -> list[dict]:
    """``n_episodes`` finished trajectories of ``game``: choosing agents follow ``plan`` (joint actions [H, n];
    None = always random) and with probability ``eps`` take a uniformly random available action instead."""
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = make_batched(game, batch)
    rng = np.random.default_rng(seed)
    step = env.reset(seed=seed)
    cutter = SegmentCutter(env.batch_size, env.n_agents, gamma=0.99)
    next_id = env.batch_size
    cutter.begin(step, np.ones(env.batch_size, bool), np.arange(env.batch_size))
    out: list[dict] = []
    while len(out) < n_episodes:
        mask = step.action_mask  # [B, n, A]
        rand = np.argmax(rng.random(mask.shape) * mask, axis=-1)  # uniform over available actions
        if plan is None:
            actions = rand
        else:
            t = np.minimum(step.t, len(plan) - 1)
            planned = np.where((step.t < len(plan))[:, None], plan[t], 0)
            actions = np.where(rng.random(rand.shape) < eps, rand, planned)
        actions = np.where(step.choosing, actions, 0).astype(np.int64)
        step = env.step(actions)
        _, trajs = cutter.record(actions, step)
        out.extend(trajs)
        done = step.done
        if done.any():
            step = env.reset(seed=int(rng.integers(1 << 30)), where=done)
            ids = next_id + np.arange(env.batch_size)
            next_id += env.batch_size
            cutter.begin(step, done, ids)
    return out[:n_episodes]


def decisive_commits(game: str, traj: dict, env) -> dict[int, list[tuple[int, int]]]:
    """Rewarded step t -> [(agent, commit step)] of the actions whose completion earned r_t (see module doc)."""
    acts, choosing, obs = traj["actions"], traj["choosing"], traj["real_obs"]
    reward = np.asarray(traj["reward"])
    dur = env.durations  # [n, A]
    commits = [(s, i, int(acts[s, i]), s + int(dur[i, acts[s, i]]))
               for s in range(len(reward)) for i in range(acts.shape[1]) if choosing[s, i] and acts[s, i] != 0]
    out: dict[int, list[tuple[int, int]]] = {}
    for t in np.flatnonzero(reward != 0).tolist():
        if game == "quarry":
            k = env.n_rocks
            broke = np.flatnonzero((obs[t, 0, 1:k + 1] > 0) & (obs[t + 1, 0, 1:k + 1] == 0))
            out[t] = [(i, s) for s, i, a, land in commits if land == t and a - 1 in broke]
        else:
            P, mt = env.n_plots, env.settings.mature_time
            cat = obs[:, 0, :6 * P].reshape(-1, P, 6).argmax(-1)  # [T+1, P] 4 = mature
            who = []
            for p in np.flatnonzero((cat[t] != 4) & (cat[t + 1] == 4)).tolist():
                who += [(i, s) for s, i, a, land in commits if a == 1 + P + p and land == t - mt]
                plants = [(land, i, s) for s, i, a, land in commits if a == 1 + p]
                if plants:
                    land, i, s = min(plants)
                    who.append((i, s))
            out[t] = who
    return out


def pivot_accuracy(game: str, trajs: list[dict], cfg: LegemConfig) -> dict:
    """Insert every episode, then search every rewarded step: joint pivot right (= latest decisive commit), left
    in place, moved elsewhere; per contributing agent, its own candidate right."""
    env = make_batched(game, 1)
    mem = LegemMemory(cfg)
    mem.add_episodes(trajs)
    res = dict(rewards=0, right=0, stay=0, wrong_earlier=0, wrong_later=0, agent_right=0, agent_total=0)
    for traj in trajs:
        if not np.any(traj["reward"]):
            continue
        want = decisive_commits(game, traj, env)
        joint = mem.pivots(traj)[0]
        agent = mem.agent_pivots(traj)[0]
        for t, who in want.items():
            res["rewards"] += 1
            target = max(s for _, s in who) if who else t
            e = int(joint[t])
            res["right"] += e == target
            res["stay"] += e == t != target
            res["wrong_earlier"] += e < target
            res["wrong_later"] += target < e < t
            for i, s in who:
                res["agent_total"] += 1
                res["agent_right"] += int(agent[t, i]) == s
    return res


def exploration(game: str, trajs: list[dict]) -> dict:
    """What the exploring episodes earned: return distribution and per-reward-kind counts."""
    ret = np.asarray([float(np.sum(t["reward"])) for t in trajs])
    r = np.concatenate([np.asarray(t["reward"]) for t in trajs])
    kinds = {float(v): int((r == v).sum()) for v in np.unique(r[r != 0])}
    return dict(episodes=len(trajs), mean_return=float(ret.mean()), max_return=float(ret.max()),
                reward_kinds=kinds, optimal_share=float((ret >= ret.max()).mean()))


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    from offbeat_optimum import afforestation_rules, quarry_rules, search

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--games", nargs="+", default=["quarry", "afforestation"])
    ap.add_argument("--episodes", type=int, default=3000)
    ap.add_argument("--eps", type=float, nargs="+", default=[1.0, 0.3])
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="LegemConfig fields, key=value")
    ap.add_argument("--train", choices=["none", "legem", "oracle"], help="one training probe instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--run-set", dest="run_extra", nargs="*", default=[], help="run-config overrides (train)")
    ap.add_argument("--greedy", nargs="+", metavar="CHECKPOINT", help="print each checkpoint's greedy episode")
    ap.add_argument("--final", nargs="+", metavar="RUN_DIR",
                    help="each run's final evaluation against 64 greedy episodes of its last checkpoint")
    args = ap.parse_args()
    if args.final:
        import json
        for run_dir in args.final:
            print(json.dumps(final_against_checkpoint(run_dir)), flush=True)
        return
    if args.greedy:
        for path in args.greedy:
            print(path, greedy_trace(path), flush=True)
        return
    if args.train:
        import json
        for game in args.games:
            line = json.dumps(probe_run(game, args.seed, args.train, args.steps, args.run_extra))
            print(line, flush=True)
            with open(PROBES, "a") as f:  # every probe's figures, kept beside the table cache
                f.write(line + "\n")
        return
    fields = {}
    for kv in args.extra:
        k, v = kv.split("=", 1)
        fields[k.removeprefix("legem.")] = type(getattr(LegemConfig(), k.removeprefix("legem.")))(
            v if v.lower() not in ("true", "false") else v.lower() == "true")
    cfg = LegemConfig(**fields)
    for game in args.games:
        rules = {"quarry": quarry_rules, "afforestation": afforestation_rules}[game]
        plan = search(game, rules, 1.0)["plan"]
        for eps in args.eps:
            trajs = collect(game, args.episodes, eps, None if eps >= 1.0 else plan)
            print(game, f"eps={eps}", exploration(game, trajs), pivot_accuracy(game, trajs, cfg), flush=True)



def final_against_checkpoint(run_dir: str, episodes: int = 64) -> dict:
    """A run's logged final evaluation (the weights rollout worker 0 acted with; before commit 0be5f03 a
    publish behind the learner) against ``episodes`` greedy episodes of its last checkpoint (the learner's)."""
    from asyncmarl.cluster.monitor import read_metrics
    from asyncmarl.cluster.offline import evaluate_checkpoint
    from asyncmarl.cluster.rundir import read_config

    cfg = read_config(run_dir)
    evals = [r for r in read_metrics(run_dir) if "eval/return_mean" in r]
    ckpt = evaluate_checkpoint(run_dir, episodes)  # the run directory's last checkpoint
    return dict(run=os.path.basename(run_dir.rstrip("/")), scenario=cfg.env.scenario, algo=cfg.learner.algo,
                legem=cfg.learner.legem, seed=cfg.seed, steps=cfg.cluster.total_env_steps,
                final_eval=evals[-1]["eval/return_mean"] if evals else None,
                final_eval_version=evals[-1].get("eval/policy_version") if evals else None,
                checkpoint=ckpt["return_mean"], checkpoint_success=ckpt.get("success_mean"))


def greedy_trace(path: str, seed: int = 0) -> dict:
    """One greedy decentralised episode of a checkpoint's policy (deterministic game and policy): its return and
    the rewarded steps (t, reward), the commits and the landings (t, agent, action: the step the action ended)."""
    import torch

    from asyncmarl.cluster.offline import load_policy_worker

    worker, _ = load_policy_worker(path, seed)
    env = make_batched(worker.scenario, 1, **worker.env_settings)
    policy = worker._policy(1)
    rng = np.random.default_rng(seed)
    step = env.reset(seed=seed)
    commits, landed, rewards = [], [], []
    running = np.zeros(env.n_agents, np.int64)  # [n] each agent's action in flight (0: none)
    with torch.no_grad():
        while True:
            t = int(step.t[0])
            actions = policy.act(step, 0.0, rng, explore=False)  # [1, n]
            for i in np.flatnonzero(step.choosing[0]):
                running[i] = actions[0, i]
                if actions[0, i] != 0:
                    commits.append((t, int(i), int(actions[0, i])))
            step = env.step(actions)
            policy.observe(step)
            for i in np.flatnonzero(step.choosing[0] & (running != 0)):  # actions that ended in step t
                landed.append((t, int(i), int(running[i])))
                running[i] = 0
            if step.reward[0] != 0:
                rewards.append((t, float(step.reward[0])))
            if step.done[0]:
                break
    return dict(ret=sum(r for _, r in rewards), rewards=rewards, commits=commits, landed=landed)


# ---------------------------------------------------------------------------------------------- training probes
def batch_trajectories(batch: dict) -> list[dict]:
    """The rows of a replay episode Batch (torch, whole episodes from step 0) as numpy trajectories."""
    filled = batch["filled"].cpu().numpy() > 0
    out = []
    for b, length in enumerate(filled.sum(1).tolist()):
        out.append({"real_obs": batch["real_obs"][b, :length + 1].cpu().numpy(),
                    "actions": batch["actions"][b, :length].cpu().numpy(),
                    "choosing": batch["choosing"][b, :length + 1].cpu().numpy(),
                    "reward": batch["reward"][b, :length].cpu().numpy()})
    return out


def oracle_pivots(game: str, batch: dict, env) -> np.ndarray:
    """[B, T] joint pivots from the known decisive commits (the latest of them; t where a reward has none)."""
    reward = batch["reward"]
    e = np.broadcast_to(np.arange(reward.shape[1])[None], tuple(reward.shape)).copy()
    for b, traj in enumerate(batch_trajectories(batch)):
        for t, who in decisive_commits(game, traj, env).items():
            if who:
                e[b, t] = max(s for _, s in who)
    return e


def plan_batch(game: str, plan: np.ndarray, gamma: float = 0.99):
    """The optimal plan's episode as a one-row replay Batch (view ``mac_sjert``) and its rewards [T]."""
    from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = make_batched(game, 1)
    step = env.reset(seed=0)
    cutter = SegmentCutter(1, env.n_agents, gamma=gamma)
    cutter.begin(step, np.ones(1, bool), np.arange(1))
    segs, rewards = [], []
    for t in range(env.horizon):
        a = plan[t] if t < len(plan) else np.zeros(env.n_agents, np.int64)
        actions = np.where(step.choosing, a[None], 0).astype(np.int64)
        step = env.step(actions)
        rewards.append(float(step.reward[0]))
        s, _ = cutter.record(actions, step)
        segs.extend(s)
        if step.done[0]:
            break
    shard = ReplayShard(ReplayConfig(gamma=gamma, min_episodes=1), seed=0)
    shard.add(segs)
    return shard.sample(1, "mac_sjert"), np.asarray(rewards)


def q_along(learner, batch) -> np.ndarray:
    """Q_tot(s_t, u_t) [T] of ``learner`` along the one-row ``batch`` (the value the TD loss fits)."""
    import torch

    from asyncmarl.learner.batch import prepare_batch
    from asyncmarl.learner.families import value_factorisation as vf

    seen = []
    original = vf._mix

    def spy(mixer, qs, vs, actions, state, first, packing, lo):
        out = original(mixer, qs, vs, actions, state, first, packing, lo)
        if lo == 0 and not seen:
            seen.append(out.detach())
        return out

    batch = dict(batch)
    batch["reward_redistributed"] = batch["reward"]
    b = prepare_batch(batch, learner.info, learner.view, learner.device, learner.cfg.legem,
                      need_segments=learner.family.needs_segments)
    vf._mix = spy
    try:
        with torch.no_grad():
            learner.family.losses(learner.online, learner.target, b, learner.version)
    finally:
        vf._mix = original
    return seen[0][0, :, 0].cpu().numpy()


def probe_run(game: str, seed: int, mode: str, steps: int, extra: list[str]) -> dict:
    """Train QMIX on ``game`` with the shared table settings; ``mode``: "none" (no LeGEM), "legem" (LeGEM,
    pivot accuracy of every redistributed batch recorded), "oracle" (rewards moved to the known decisive
    commits instead of LeGEM's pivots). Returns the final evaluation, exploration counts of the inserted
    episodes, pivot accuracy, and Q_tot along the optimal plan against its discounted return-to-go."""
    import tempfile
    import time

    from offbeat_optimum import afforestation_rules, quarry_rules, search
    from offbeat_runs import BASE, DEFAULT_CACHE, load_cache, run_one

    from asyncmarl.cluster import train
    from asyncmarl.cluster.config import load_config
    from asyncmarl.learner import Learner
    from asyncmarl.memory_service.legem.redistribute import redistribute_torch
    from asyncmarl.memory_service.replay import ReplayShard

    env = make_batched(game, 1)
    plan = search(game, {"quarry": quarry_rules, "afforestation": afforestation_rules}[game], 1.0)["plan"]
    stats = dict(episodes=0, returns=[], kinds={}, rewards=0, right=0, stay=0, earlier=0, later=0, by_reward={},
                 kinds_at=[])
    held = {}
    orig_update, orig_shard_add, orig_red = Learner.update, ReplayShard.add, LegemMemory.redistribute

    def update(self, batch):
        held["learner"] = self
        return orig_update(self, batch)

    def add_segments(self, segments, *args, **kwargs):
        # exploration counts from agent 0's segments (each holds the joint reward of every step it spans), so
        # they exist with and without LeGEM; "kinds_by_quarter": the same counts per quarter of the run
        for seg in segments:
            if seg.agent != 0:
                continue
            rewards = np.asarray(seg.steps["reward"]).reshape(-1)
            held["ret"] = held.get("ret", 0.0) + float(rewards.sum())
            for v in rewards[rewards != 0].tolist():
                stats["kinds"][v] = stats["kinds"].get(v, 0) + 1
                stats["kinds_at"].append((len(stats["returns"]), v))
            if seg.final is not None:
                stats["episodes"] += 1
                stats["returns"].append(held.pop("ret", 0.0))
        return orig_shard_add(self, segments, *args, **kwargs)

    def redistribute(self, batch):
        want = oracle_pivots(game, batch, env)
        if mode == "oracle":
            return redistribute_torch(batch["reward"], want, self.config.beta)
        got = self.pivots(batch)
        r = batch["reward"].cpu().numpy() != 0
        t = np.arange(r.shape[1])[None]
        stats["rewards"] += int(r.sum())
        stats["right"] += int((r & (got == want)).sum())
        stats["stay"] += int((r & (got == t) & (want < t)).sum())
        stats["earlier"] += int((r & (got < want)).sum())
        stats["later"] += int((r & (got > want) & (got < t)).sum())
        values = batch["reward"].cpu().numpy()
        for v in np.unique(values[r]).tolist():  # the same counts per reward value (Quarry: one per rock)
            m = r & (values == v)
            row = stats["by_reward"].setdefault(str(v), dict(rewards=0, right=0, stay=0, earlier=0, later=0))
            row["rewards"] += int(m.sum())
            row["right"] += int((m & (got == want)).sum())
            row["stay"] += int((m & (got == t) & (want < t)).sum())
            row["earlier"] += int((m & (got < want)).sum())
            row["later"] += int((m & (got > want) & (got < t)).sum())
        return redistribute_torch(batch["reward"], got, self.config.beta)

    Learner.update, ReplayShard.add, LegemMemory.redistribute = update, add_segments, redistribute
    try:
        start = time.time()
        if mode == "oracle":  # not a table run: never cached
            overrides = [f"env.scenario={game}", "learner.algo=qmix", "learner.legem=true", f"seed={seed}",
                         f"cluster.total_env_steps={steps}",
                         f"logging.run_root={tempfile.mkdtemp(prefix='offbeat_probe_')}", *BASE, *extra]
            out = {"eval/return_mean": train(load_config(None, overrides)).get("eval/return_mean", np.nan)}
        else:  # the same run as the table's, recorded in its cache
            row = run_one(game, "qmix", mode == "legem", seed, steps, list(extra), load_cache(DEFAULT_CACHE),
                          DEFAULT_CACHE)
            out = {"eval/return_mean": row["return"]}
            if "learner" not in held:
                raise RuntimeError(f"{game} seed {seed} legem={mode == 'legem'} is already in {DEFAULT_CACHE}")
        seconds = time.time() - start
    finally:
        Learner.update, ReplayShard.add, LegemMemory.redistribute = orig_update, orig_shard_add, orig_red
    batch, rewards = plan_batch(game, plan)
    q = q_along(held["learner"], batch)
    g = np.zeros(len(rewards) + 1)
    for k in range(len(rewards) - 1, -1, -1):
        g[k] = rewards[k] + 0.99 * g[k + 1]
    rets = np.asarray(stats.pop("returns"))
    quarter = max(len(rets) // 4, 1)
    kinds_by_quarter = [{} for _ in range(4)]
    for episode, v in stats.pop("kinds_at"):
        q_i = kinds_by_quarter[min(episode // quarter, 3)]
        q_i[v] = q_i.get(v, 0) + 1
    return dict(game=game, seed=seed, mode=mode, eval_return=float(out.get("eval/return_mean", np.nan)),
                seconds=round(seconds), explore=dict(episodes=stats.pop("episodes"), kinds=stats.pop("kinds"),
                mean_return_by_quarter=[round(float(rets[i:i + quarter].mean()), 2)
                                        for i in range(0, len(rets), quarter)][:4],
                kinds_by_quarter=kinds_by_quarter),
                pivots=stats, q_plan=np.round(q[:len(rewards)], 2).tolist(),
                return_to_go=np.round(g[:len(rewards)], 2).tolist())


if __name__ == "__main__":
    main()
