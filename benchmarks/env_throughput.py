"""Joint environment steps per second: the PettingZoo view (``make(name)``), the batched core, and, side by side
in the same run, the reference implementations.

    python benchmarks/env_throughput.py [--scenarios NAME ...] [--batch-sizes 1 64 1024] [--seconds 2]
    python benchmarks/env_throughput.py --reference-macromarl PATH --reference-overcooked PATH \\
        [--scenarios NAME ...] [--rounds 5] [--seconds 1]

A "joint step" is one timestep of one environment copy (all agents), so a batched step of B copies counts B.

Without reference checkouts: one table, the PettingZoo ``ParallelEnv`` (``make(name)``, dicts in and out, reset
at episode end, as a PettingZoo user steps it) and the batched core at each batch size (copies whose episode
ended are reset in place, as a rollout worker does).

With ``--reference-macromarl`` (a checkout of ``yuchen-x/MacroMARL``: BoxPushing and WTD) and/or
``--reference-overcooked`` (a checkout of ``WeihaoTan/gym-macro-overcooked``): for each scenario with a reference,
rounds of (a) the reference environment, (b) our PettingZoo view, (c) our batched core at B = 1 and at the
largest batch size, interleaved a, b, c, a, b, c, ... so that load from other processes hits them alike. (a),
(b) and (c) at B = 1 step the very same pre-drawn sequence of random valid macro-actions (each agent's drawn
uniformly from its valid actions: a list for the reference's ``step``/``run``, a ``{agent: action}`` dict built
every step for ours, a [1, n] array for the core), so all three play the same episodes; the large batch draws
its actions the same way. Every cell is timed with wall clock and with ``time.process_time`` (CPU
time of this process, which other processes' load disturbs less); the table gives medians over the rounds and
the median of the per-round ratios b / a, and "same episodes": of the episodes the reference finishes in the
first 1,000 pooled actions, how many ours played with the same length and return. Nothing of the references is
part of this repository: they are imported from the given paths, with inert stand-ins for the modules they import
but never call while stepping (``gym``, ``IPython``, ``pygame``) when those are not installed.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import types

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asyncmarl.platform.envs import make, make_batched, names  # noqa: E402

POOL = 4096  # pre-drawn joint actions, cycled
# scenario -> (MacroMARL module, class, constructor kwargs): the MacroMARL run scripts' settings, which our
# presets reproduce (docs/boxpushing.md, docs/wtd.md)
_WTD = dict(TB_move_speed=0.8, delay_delivery_penalty=-20.0, fetch_pass_obj_tc=4, fetch_look_for_obj_tc=6,
            fetch_drop_obj_penalty=-10.0)
MACROMARL = {
    "wtd-a": ("osd_ma_double_room", "ObjSearchDelivery_v7",
              dict(terminate_step=200, human_speed_per_step=[[27, 20, 20, 20], [27, 20, 20, 20]], **_WTD)),
    "wtd-b": ("osd_ma_double_room", "ObjSearchDelivery_v7",
              dict(terminate_step=200, human_speed_per_step=[[18, 15, 15, 15], [48, 18, 15, 15]], **_WTD)),
    "wtd-c": ("osd_ma_tripple_room", "ObjSearchDelivery_v0",
              dict(terminate_step=250, human_speed_per_step=[[40, 40, 40, 40]] * 3, **_WTD)),
    "wtd-d": ("osd_ma_tripple_room", "ObjSearchDelivery_v1",
              dict(terminate_step=250, human_speed_per_step=[[38] * 4, [38] * 4, [27] * 4], **_WTD)),
    "wtd-e": ("osd_ma_four_room", "ObjSearchDelivery_v0",
              dict(terminate_step=300, human_speed_per_step=[[40, 40, 40, 40]] * 4, **_WTD)),
}
for _L in (6, 8, 10, 12, 14, 20, 30):
    MACROMARL[f"boxpushing-{_L}"] = ("box_pushing_MA", "BoxPushing_harder",
                                     dict(grid_dim=(_L, _L), terminate_step=100, big_box_reward=300,
                                          small_box_reward=20, penalty=-10))
OVERCOOKED = {f"overcooked-{m.lower()}": m for m in "ABC"}
DEFAULT_SIDE_BY_SIDE = ["boxpushing-6", "boxpushing-10", "wtd-a", "wtd-b", "wtd-c", "wtd-d", "wtd-e",
                        "overcooked-a", "overcooked-b", "overcooked-c"]


class _Anything(types.ModuleType):
    """An inert module: every attribute is a no-op callable class (enough for ``pygame.K_UP`` dictionary keys
    and for ``gym.spaces.Discrete(n).n``)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub


class _Stub:
    def __init__(self, *args, **kwargs):
        self.n = args[0] if args and isinstance(args[0], int) else None
        self.shape = kwargs.get("shape")


def _shim(name: str) -> None:
    """Register an inert stand-in for ``name`` (and its parents) unless the real package imports."""
    try:
        importlib.import_module(name)
        return
    except ImportError:
        pass
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        mod = ".".join(parts[:i])
        if mod not in sys.modules:
            sys.modules[mod] = _Anything(mod)
        if i > 1:
            setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[mod])


def _load_references(macromarl: str | None, overcooked: str | None):
    for name in ("gym", "gym.spaces", "gym.utils.seeding", "gym.envs.registration", "IPython",
                 "IPython.core.debugger", "pygame"):
        _shim(name)
    if "gym" in sys.modules and isinstance(sys.modules["gym"], _Anything):
        sys.modules["gym"].Env = object  # the reference classes subclass gym.Env
    mods = {}
    if macromarl:
        src = os.path.join(os.path.abspath(macromarl), "src")
        if not os.path.isdir(os.path.join(src, "macro_marl", "my_env")):
            raise SystemExit(f"--reference-macromarl: {macromarl} has no src/macro_marl/my_env (a MacroMARL checkout)")
        sys.path.insert(0, src)
        mods["macromarl"] = True
    if overcooked:
        root = os.path.abspath(overcooked)
        if not os.path.isfile(os.path.join(root, "gym_macro_overcooked", "overcooked_MA_V1.py")):
            raise SystemExit(f"--reference-overcooked: {overcooked} has no gym_macro_overcooked/overcooked_MA_V1.py")
        sys.path.insert(0, root)
        mods["overcooked"] = True
    return mods


def reference_env(name: str):
    """(env, step function taking a list of actions -> (terminated, ...), reset function) of the reference."""
    if name in MACROMARL:
        module, cls, kwargs = MACROMARL[name]
        env = getattr(importlib.import_module(f"macro_marl.my_env.{module}"), cls)(**kwargs)
        return env, env.step, env.reset
    if name in OVERCOOKED:
        mod = importlib.import_module("gym_macro_overcooked.overcooked_MA_V1")
        task = "lettuce-onion-tomato salad"
        rewards = {"subtask finished": 10, "correct delivery": 200, "wrong delivery": -5, "step penalty": -0.1}
        env = mod.Overcooked_MA_V1([7, 7], task, rewards, map_type=OVERCOOKED[name], n_agent=3, obs_radius=2,
                                   mode="vector", debug=False)
        return env, env.run, env.reset
    raise ValueError(f"no reference for scenario {name!r}")


# ------------------------------------------------------------------ action pools
def action_pool(name: str, seed: int = 0):
    """(agents, [POOL] joint actions as lists of ints, horizon, each agent's valid actions): each agent's action
    uniform over its valid actions (the macro-action scenarios' masks never change)."""
    env = make(name)
    _, infos = env.reset(seed=seed)
    valid = [np.flatnonzero(infos[a]["action_mask"]) for a in env.possible_agents]
    rng = np.random.default_rng(seed)
    cols = [v[rng.integers(0, len(v), POOL)] for v in valid]
    return list(env.possible_agents), np.stack(cols, 1).tolist(), env.core.horizon, valid


class _Clock:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_reference(name: str, pool, horizon: int, seconds: float) -> tuple[float, float]:
    """(steps/s wall, steps/s CPU) of the reference stepping ``pool``'s actions, reset at episode end."""
    env, step, reset = reference_env(name)
    reset()
    steps, k, t = 0, 0, 0
    clock = _Clock()
    while True:
        for _ in range(100):
            out = step(pool[k % POOL])
            k += 1
            t += 1
            if out[2] or t >= horizon:  # terminated, or the training loop's horizon
                reset()
                t = 0
        steps += 100
        wall, cpu = clock.read()
        if wall >= seconds:
            return steps / wall, steps / cpu


def same_episodes(name: str, agents, pool, horizon: int, steps: int = 1000) -> str:
    """Step the reference and ``make(name)`` with the first ``steps`` pooled actions: "k/n" of the n episodes the
    reference finished had the same length and return in ours (both must play the same episodes)."""
    env, step, reset = reference_env(name)
    reset()
    ours = make(name)
    ours.reset(seed=0)
    ref_eps, our_eps, t, ret_ref, ret_ours = [], [], 0, 0.0, 0.0
    for k in range(steps):
        out = step(pool[k % POOL])
        t += 1
        ret_ref += float(out[1][0] if isinstance(out[1], (list, tuple)) else out[1])
        if out[2] or t >= horizon:
            ref_eps.append((t, round(ret_ref, 3)))
            reset()
            t, ret_ref = 0, 0.0
        _, rewards, _, _, _ = ours.step(dict(zip(agents, pool[k % POOL], strict=True)))
        ret_ours += rewards[agents[0]]
        if not ours.agents:
            our_eps.append((int(ours.core.last.t[0]), round(ret_ours, 3)))
            ours.reset()
            ret_ours = 0.0
    same = sum(a[0] == b[0] and abs(a[1] - b[1]) < 1e-3 for a, b in zip(ref_eps, our_eps, strict=True))
    return f"{same}/{len(ref_eps)}"


def run_pettingzoo(name: str, agents, pool, seconds: float) -> tuple[float, float]:
    """(steps/s wall, steps/s CPU) of ``make(name)`` stepped with ``{agent: action}`` dicts, reset at episode end."""
    env = make(name)
    env.reset(seed=0)
    steps, k = 0, 0
    clock = _Clock()
    while True:
        for _ in range(100):
            env.step(dict(zip(agents, pool[k % POOL], strict=True)))
            k += 1
            if not env.agents:
                env.reset()
        steps += 100
        wall, cpu = clock.read()
        if wall >= seconds:
            return steps / wall, steps / cpu


def run_batched(name: str, batch_size: int, seconds: float, seed: int = 0,
                joint: np.ndarray | None = None) -> tuple[float, float]:
    """(steps/s wall, steps/s CPU) of the batched core, finished copies reset in place. ``joint``: [K, batch_size,
    n] actions to cycle; None: random scores times each step's mask, arg-maxed (any scenario, masks that change)."""
    env = make_batched(name, batch_size)
    rng = np.random.default_rng(seed)
    # A pool of random scores, cycled, keeps action sampling cheap next to the environment step.
    pool = rng.random((16, batch_size, env.n_agents, env.n_actions)).astype(np.float32)
    step = env.reset(seed=seed)
    steps, k = 0, 0
    clock = _Clock()
    while True:
        for _ in range(50):
            actions = joint[k % len(joint)] if joint is not None else (pool[k % 16] * step.action_mask).argmax(-1)
            k += 1
            step = env.step(actions)
            done = step.done
            if done.any():
                step = env.reset(seed=seed + k, where=done)
            steps += batch_size
        wall, cpu = clock.read()
        if wall >= seconds:
            return steps / wall, steps / cpu


def measure(name: str, batch_size: int, seconds: float, seed: int = 0) -> float:
    """Wall-clock steps/s of the batched core (kept for callers of the earlier interface)."""
    return run_batched(name, batch_size, seconds, seed)[0]


# ------------------------------------------------------------------ tables
def _fmt(v: float) -> str:
    return f"{v:,.0f}"


def table(scen: list[str], batch_sizes: list[int], seconds: float) -> None:
    print("Wall clock, then CPU time (time.process_time), joint steps/s")
    print("| scenario | PettingZoo make() | " + " | ".join(f"core B = {b}" for b in batch_sizes) + " |")
    print("|---|---:|" + "---:|" * len(batch_sizes))
    for name in scen:
        agents, pool, _, _ = action_pool(name)
        cells = [run_pettingzoo(name, agents, pool, seconds)] + [run_batched(name, b, seconds) for b in batch_sizes]
        print(f"| {name} | " + " | ".join(f"{_fmt(w)} ({_fmt(c)} CPU)" for w, c in cells) + " |", flush=True)


def side_by_side(scen: list[str], rounds: int, seconds: float, big: int) -> None:
    print(f"Side by side, {rounds} interleaved rounds of {seconds:g} s a cell; medians over rounds; ratio = median "
          "of the per-round ratios (ours / reference). Wall clock, CPU time (time.process_time) in parentheses.")
    print(f"| scenario | reference | PettingZoo make() | core B = 1 | core B = {big} | make() / reference | "
          f"core B = 1 / reference | core B = {big} / reference | same episodes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in scen:
        agents, pool, horizon, valid = action_pool(name)
        same = same_episodes(name, agents, pool, horizon)
        one = np.array(pool, np.int64)[:, None, :]  # B = 1: the very actions (a) and (b) step
        rng = np.random.default_rng(1)
        many = np.stack([v[rng.integers(0, len(v), (16, big))] for v in valid], -1)  # [16, big, n]
        cells = {k: [] for k in ("a", "b", "c1", "cb")}
        for _ in range(rounds):
            cells["a"].append(run_reference(name, pool, horizon, seconds))
            cells["b"].append(run_pettingzoo(name, agents, pool, seconds))
            cells["c1"].append(run_batched(name, 1, seconds, joint=one))
            cells["cb"].append(run_batched(name, big, seconds, joint=many))

        def med(key, j, cells=cells):
            return statistics.median(v[j] for v in cells[key])

        def ratio(key, j, cells=cells):
            return statistics.median(x[j] / a[j] for x, a in zip(cells[key], cells["a"], strict=True))

        row = [f"{_fmt(med(k, 0))} ({_fmt(med(k, 1))})" for k in ("a", "b", "c1", "cb")]
        row += [f"{ratio(k, 0):.2f} ({ratio(k, 1):.2f})" for k in ("b", "c1", "cb")]
        row.append(same)
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="*", default=None,
                   help="default: every registered scenario; with references, every scenario that has one")
    p.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 64, 1024],
                   help="batched core sizes (side by side: B = 1 and the largest of these)")
    p.add_argument("--seconds", type=float, default=None, help="measuring time per cell (default 2; 1 side by side)")
    p.add_argument("--reference-macromarl", default=None, help="checkout of yuchen-x/MacroMARL (BoxPushing, WTD)")
    p.add_argument("--reference-overcooked", default=None, help="checkout of WeihaoTan/gym-macro-overcooked")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per scenario (side by side)")
    a = p.parse_args()
    unknown = sorted(set(a.scenarios or []) - set(names()))
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; valid: {', '.join(names())}")
    if not (a.reference_macromarl or a.reference_overcooked):
        table(a.scenarios or names(), a.batch_sizes, a.seconds or 2.0)
        return
    if a.rounds < 1 or not a.batch_sizes:
        raise SystemExit("--rounds must be >= 1 and --batch-sizes non-empty")
    _load_references(a.reference_macromarl, a.reference_overcooked)
    have = (set(MACROMARL) if a.reference_macromarl else set()) | (set(OVERCOOKED) if a.reference_overcooked else set())
    scen = a.scenarios or [s for s in DEFAULT_SIDE_BY_SIDE if s in have]
    missing = [s for s in scen if s not in have]
    if missing:
        raise SystemExit(f"no reference checkout given for {missing}")
    side_by_side(scen, a.rounds, a.seconds or 1.0, max(a.batch_sizes))


if __name__ == "__main__":
    main()
