"""Best achievable returns of the off-beat games with their default settings, by exhaustive search.

    python benchmarks/offbeat_optimum.py [--games stag-hunter quarry afforestation] [--gammas 1.0 0.99]

Every evaluation is a step of the batched core itself (``make_batched`` + ``OffbeatEnv.load``/``step``).

* **stag-hunter**: all 21 x 21 joint shooting schedules (each hunter shoots at t in 0..19, or never) run as one
  batch of 441 copies; prints which schedules catch the stag and the best (discounted) return.
* **quarry**, **afforestation**: exact forward dynamic programming over the joint state. The games are
  deterministic with deterministic durations and every agent observes t, so an open-loop joint plan is
  executable by decentralised agents and the centralised optimum is the optimum of the game. Layer t holds every
  distinct state reachable at step t (the core's full state, minus bookkeeping that cannot affect the future:
  frozen observations, idle agents' last action, the age of empty/mature/dead plots); each is expanded by every
  joint action left after pruning and stepped in batches; states that coincide keep the best return so far
  (future rewards depend on the state and t only, so this is exact for any discount).
  Pruned actions, each provably no better than waiting (wait has duration 0, so a free agent can reproduce
  anything a busy one does later): actions whose effect cannot pay before the horizon; strikes on broken
  rocks; planting a plot that is not empty or is already being planted; watering a plot that is watered,
  mature or dead, an empty plot no planting in flight will fill first (a later planting lands after the
  watering since plant duration >= water duration), or a sapling that dies before the watering lands.
  Afforestation's plots are interchangeable, so states equal up to a permutation of plots are merged and,
  among empty untouched plots, planters plant the lowest-numbered ones.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asyncmarl.platform.envs import make_batched  # noqa: E402
from asyncmarl.platform.envs.offbeat.afforestation import EMPTY, SAPLING, WATERED  # noqa: E402

CHUNK = 100_000  # copies stepped at once
SKIP = ("macro_obs",)  # snapshot entries that cannot change the future (rebuilt as zeros on load)


# --------------------------------------------------------------------------- stag-hunter: full enumeration
def stag_schedules() -> tuple[np.ndarray, np.ndarray]:
    """Every joint schedule (t0, t1) (t = 0..T-1, or T for never) and its rewards per step, [S, 2] and [S, T]."""
    T = make_batched("stag-hunter", 1).horizon
    times = np.arange(T + 1)  # shot time; T means never
    s0, s1 = (g.ravel() for g in np.meshgrid(times, times, indexing="ij"))
    sched = np.stack([s0, s1], 1)  # [S, 2]
    env = make_batched("stag-hunter", len(sched))
    step = env.reset(seed=0)
    rewards = np.zeros((len(sched), T), np.float32)
    live = np.ones(len(sched), bool)
    for t in range(T):
        actions = (sched == t).astype(np.int64) * step.choosing  # shoot exactly at the scheduled step
        step = env.step(actions) if live.all() else _step_live(env, actions, live)
        rewards[:, t] = np.where(live, step.reward, 0)
        live &= ~step.done
        if not live.any():
            break
    return sched, rewards


def stag_hunter(gammas: list[float]) -> None:
    sched, rewards = stag_schedules()
    T = rewards.shape[1]
    caught = rewards.sum(1) > 0
    gap = sched[:, 1] - sched[:, 0]
    print(f"stag-hunter: {len(sched)} joint schedules (each hunter shoots at t = 0..{T - 1} or never)")
    print(f"  schedules that catch the stag: {int(caught.sum())}; all with t1 - t0 = 5: "
          f"{bool((gap[caught] == 5).all())}; catching schedules with t1 - t0 != 5: {int((caught & (gap != 5)).sum())}")
    print(f"  catching (t0, t1): {[tuple(map(int, s)) for s in sched[caught]]}")
    for gamma in gammas:
        ret = (rewards * gamma ** np.arange(T)).sum(1)
        best = np.flatnonzero(np.isclose(ret, ret.max()))
        print(f"  gamma = {gamma}: best return {ret.max():.4f}, achieved by {len(best)} schedule(s): "
              f"{[tuple(map(int, sched[b])) for b in best[:12]]}{' ...' if len(best) > 12 else ''}")


def _step_live(env, actions, live):
    """Step only the live copies: finished ones are reset first and their results ignored."""
    dead = ~live
    env.reset(seed=0, where=dead)
    return env.step(np.where(dead[:, None], 0, actions))


# --------------------------------------------------------------------------- forward DP over joint states
def _take(snap: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in snap.items()}


def _expand(allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All joint actions allowed by ``allowed`` [S, n, A]: (state index [R], joint action [R, n])."""
    S, n, _ = allowed.shape
    idx, joint = np.arange(S), np.zeros((S, 0), np.int64)
    for i in range(n):  # a loop over agents (3), each step vectorised over all states
        r, a = np.nonzero(allowed[idx, i])
        idx, joint = idx[r], np.concatenate([joint[r], a[:, None]], 1)
    return idx, joint


def _dedupe(keys: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of one row per distinct key, the one with the highest value."""
    order = np.argsort(-value, kind="stable")
    k = np.ascontiguousarray(keys[order])
    void = k.view(np.dtype((np.void, k.dtype.itemsize * k.shape[1]))).ravel()
    _, first = np.unique(void, return_index=True)
    return order[first]


def unpruned(mask: np.ndarray):
    """``allowed`` for every action the environment's [n, A] mask allows (busy agents: the ignored 0)."""

    def allowed(s: dict, t: int) -> np.ndarray:
        choosing = s["choosing"][..., None]  # [S, n, 1]
        return mask[None] & choosing | (~choosing & (np.arange(mask.shape[-1]) == 0))

    return allowed


def _remaining(s: dict) -> np.ndarray:
    return np.where(s["choosing"], 0, s["duration"] - s["elapsed"])


def quarry_rules(env):
    """(allowed(snap, t) -> [S, n, A], key(snap) -> [S, k]) for Quarry."""
    dur, H = env.durations, env.horizon

    def allowed(s, t):
        S = len(s["t"])
        ok = np.ones((S, env.n_agents, env.n_actions), bool)
        ok[..., 1:] &= s["intact"][:, None, :]  # strikes on broken rocks are wasted
        ok &= (t + dur <= H - 1)[None]  # a strike landing after the horizon does nothing
        ok[..., 0] = True
        return ok & s["choosing"][..., None] | (~s["choosing"][..., None] & (np.arange(env.n_actions) == 0))

    def key(s):
        busy = ~s["choosing"]
        agent = np.where(busy, s["action"] * 64 + _remaining(s), -1)  # [S, n]
        return np.concatenate([s["intact"].astype(np.int64), agent], 1)

    return allowed, key


def afforestation_rules(env):
    """(allowed, key) for Afforestation; see the module docstring for why each pruning is safe."""
    st, P, n, H = env.settings, env.n_plots, env.n_agents, env.horizon
    d = env.durations  # [n, A]
    plant_d, water_d = d[~env.is_waterer][:, 1:P + 1], d[env.is_waterer][:, P + 1:]
    assert plant_d.size == 0 or (plant_d == plant_d.flat[0]).all(), "search assumes one plant duration"
    assert water_d.size == 0 or (water_d == water_d.flat[0]).all(), "search assumes one water duration"
    assert env.is_waterer.sum() <= 1, "search assumes at most one waterer"
    pd = int(plant_d.flat[0]) if plant_d.size else 0
    wd = int(water_d.flat[0]) if water_d.size else 0
    assert pd >= wd, "search assumes plant duration >= water duration"
    planters = np.flatnonzero(~env.is_waterer)

    def targets(s):
        busy = ~s["choosing"]
        a = s["action"]
        kind = np.where(busy & (a > 0), np.where(a <= P, 1, 2), 0)  # [S, n]
        plot = (a - 1) % P
        on = (plot[..., None] == np.arange(P)) & (kind[..., None] > 0)  # [S, n, P]
        plant_t = (on & (kind[..., None] == 1)).any(1)  # [S, P] a planting is in flight
        any_t = on.any(1)
        return kind, on, plant_t, any_t

    def allowed(s, t):
        S = len(s["t"])
        status, age = s["status"], s["age"]
        kind, on, plant_t, any_t = targets(s)
        ok = np.zeros((S, n, env.n_actions), bool)
        ok[..., 0] = True
        # Planters: only the lowest-numbered empty untouched plots (interchangeable), distinct per planter.
        if t + pd + st.mature_time <= H - 1:
            free = (status == EMPTY) & ~any_t  # [S, P]
            rank = np.cumsum(free, 1) - 1  # [S, P] rank among free plots
            chooser_rank = np.cumsum(s["choosing"][:, planters], 1) - 1  # [S, n_planters]
            for j, i in enumerate(planters):
                pick = free & (rank == chooser_rank[:, j:j + 1])  # [S, P]
                ok[:, i, 1:P + 1] = pick
        # Waterer: saplings that survive until the watering lands, or plots a planting in flight will fill.
        if t + wd + st.mature_time <= H - 1:
            alive_then = (status == SAPLING) & (age + 1 + wd <= st.water_window)
            rem = _remaining(s)  # plant lands at step t - 1 + rem; water at t + wd (plant first in a step)
            plant_rem = np.where(on & (kind[..., None] == 1), rem[..., None], 10**6).min(1)  # [S, P]
            fills = plant_t & (plant_rem - 1 <= wd) & (wd - (plant_rem - 1) <= st.water_window)
            w = alive_then | fills
            for i in np.flatnonzero(env.is_waterer):
                ok[:, i, P + 1:] = w
        choosing = s["choosing"][..., None]
        return ok & choosing | (~choosing & (np.arange(env.n_actions) == 0))

    def key(s):
        status = s["status"]
        kind, on, _, _ = targets(s)
        rel_age = np.where((status == SAPLING) | (status == WATERED), s["age"], 0)
        bits = (on * (1 << np.arange(n))[None, :, None]).sum(1)  # [S, P] which agents target the plot
        plot_code = np.sort((status * 64 + rel_age) * (1 << n) + bits, axis=1)  # [S, P] order-free
        agent = np.where(kind > 0, kind * 64 + _remaining(s), np.where(s["choosing"], -1, -2))  # [S, n]
        return np.concatenate([plot_code, agent], 1)

    return allowed, key


def search(name: str, rules, gamma: float, prune: bool = True, verbose: bool = False, **settings) -> dict:
    """Forward DP; returns best return, its joint action sequence and search statistics.

    ``prune=False`` expands every joint action the environment's masks allow (a check of the pruning);
    ``settings`` override the scenario's (the default settings are what the printed optima are for)."""
    env = make_batched(name, 1, **settings)
    env.reset(seed=0)
    H, n = env.horizon, env.n_agents
    allowed_fn, key_fn = rules(env)
    if not prune:
        allowed_fn = unpruned(env.last.action_mask[0])  # role masks never change during an episode here
    frontier = {k: v for k, v in env.snapshot().items() if k not in SKIP}
    value = np.zeros(1)
    history = []  # per layer: (parent index [S], joint action [S, n]) of the frontier rows
    best = (-np.inf, None)
    expanded, t0 = 0, time.perf_counter()
    for t in range(H):
        idx, joint = _expand(allowed_fn(frontier, t))
        expanded += len(idx)
        keep_snaps, keep_val, keep_par, keep_joint, keep_keys = [], [], [], [], []
        for c in range(0, len(idx), CHUNK):
            rows, acts = idx[c:c + CHUNK], joint[c:c + CHUNK]
            core = make_batched(name, len(rows), **settings)
            snap = _take(frontier, rows)
            snap["macro_obs"] = np.zeros((len(rows), n, core.obs_dim), np.float32)
            core.load(snap)
            step = core.step(acts)
            ret = value[rows] + gamma ** t * step.reward.astype(np.float64)
            done = step.done
            if done.any():
                j = int(np.flatnonzero(done)[np.argmax(ret[done])])
                if ret[j] > best[0] + 1e-9:
                    best = (float(ret[j]), (t, int(rows[j]), acts[j].copy()))
            live = np.flatnonzero(~done)
            nxt = _take({k: v for k, v in core.snapshot().items() if k not in SKIP}, live)
            keys = key_fn(nxt)
            sel = _dedupe(keys, ret[live])
            keep_snaps.append(_take(nxt, sel))
            keep_val.append(ret[live][sel])
            keep_par.append(rows[live][sel])
            keep_joint.append(acts[live][sel])
            keep_keys.append(keys[sel])
        if not keep_val or sum(map(len, keep_val)) == 0:
            history.append((np.zeros(0, np.int64), np.zeros((0, n), np.int64)))
            break
        merged = {k: np.concatenate([s[k] for s in keep_snaps]) for k in keep_snaps[0]}
        val, keys = np.concatenate(keep_val), np.concatenate(keep_keys)
        sel = _dedupe(keys, val)
        frontier, value = _take(merged, sel), val[sel]
        if verbose:
            print(f"    t={t}: {len(idx):,} expanded, {len(sel):,} distinct states kept "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        history.append((np.concatenate(keep_par)[sel], np.concatenate(keep_joint)[sel]))
    # Walk the parents back from the best finishing step.
    t_end, row, last = best[1]
    plan = [last]
    for t in range(t_end - 1, -1, -1):
        parents, joints = history[t]
        plan.append(joints[row])
        row = parents[row]
    plan = np.array(plan[::-1])  # [t_end + 1, n]
    return {"best": best[0], "plan": plan, "expanded": expanded, "seconds": time.perf_counter() - t0}


def replay(name: str, plan: np.ndarray, gamma: float, **settings) -> tuple[float, dict]:
    """Return (discounted return, final extras) of ``plan`` run through the ordinary step API."""
    env = make_batched(name, 1, **settings)
    step = env.reset(seed=0)
    ret = 0.0
    for t, a in enumerate(plan):
        step = env.step(np.where(step.choosing, a[None], 0))
        ret += gamma ** t * float(step.reward[0])
        if step.done[0]:
            break
    return ret, {k: float(v[0]) for k, v in step.extras.items()}


def describe(name: str, plan: np.ndarray) -> str:
    env = make_batched(name, 1)
    step = env.reset(seed=0)
    events = []
    for t, a in enumerate(plan):
        for i in np.flatnonzero(step.choosing[0] & (a > 0)):
            events.append(f"t={t} agent_{i} {env.action_names[i][a[i]]}")
        step = env.step(np.where(step.choosing, a[None], 0))
    return "; ".join(events)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", nargs="*", default=["stag-hunter", "quarry", "afforestation"])
    p.add_argument("--gammas", nargs="*", type=float, default=[1.0, 0.99])
    p.add_argument("--no-prune", action="store_true", help="expand every joint action the masks allow (slow)")
    p.add_argument("--verbose", action="store_true", help="print the search's layer sizes to stderr")
    a = p.parse_args()
    rules = {"quarry": quarry_rules, "afforestation": afforestation_rules}
    for name in a.games:
        if name == "stag-hunter":
            stag_hunter(a.gammas)
            continue
        for gamma in a.gammas:
            r = search(name, rules[name], gamma, prune=not a.no_prune, verbose=a.verbose)
            check, extras = replay(name, r["plan"], gamma)
            tag = " (no pruning)" if a.no_prune else ""
            print(f"{name}{tag}: gamma = {gamma}: best return {r['best']:.4f} (replayed: {check:.4f}, {extras}); "
                  f"{r['expanded']:,} state-action pairs stepped in {r['seconds']:.1f} s")
            print(f"  plan: {describe(name, r['plan'])}")


if __name__ == "__main__":
    main()
