"""The learner's host: pulls batches from the replay shards (and redistributed rewards from LeGEM), trains, and
publishes versioned weights.

Under Ray the host prefetches: the sample requests for the next ``PREFETCH`` batches (and LeGEM's redistribution
of each, chained on the shard's ObjectRef so the batch goes shard -> LeGEM directly) are in flight while the
current batch trains. One batch ahead was not enough on BoxPushing-6: a shard that is also taking the rollouts'
inserts answered late, and the learner waited for batches 20-35% of its time.
In one process it samples when it needs a batch, so the in-process loop stays deterministic.

On-policy learners (``replay.on_policy``, the actor-critic baselines) never prefetch: each batch is gathered
from the shards' FIFOs when it is needed, asking only for episodes acted by policy version ``V -
replay.max_policy_lag`` or newer (``V`` the learner's version, which cannot change before the batch is used),
until ``cluster.batch_size`` episodes are held; each is handed out once and trained on by one update
(``learner.epochs`` gradient steps). The lag ``V - episode version`` of every consumed batch is recorded
(:meth:`LearnerHost.consumption`) and logged (``onpolicy/lag_max``, ``onpolicy/lag_mean``). Rollout actors keep
stepping meanwhile with the weights they have; with ``max_policy_lag`` >= 1 what they collect while an update
runs is still usable, with 0 it is dropped (and the workers restart such episodes when new weights arrive).
"""
from __future__ import annotations

import time
from collections import defaultdict, deque

import numpy as np
import torch

from asyncmarl.cluster.hosts import call, failure_types, is_remote, resolve
from asyncmarl.cluster.roles import Roles
from asyncmarl.memory_service.replay.sharding import merge_batches
from asyncmarl.platform import seeding


def partial_episode_rows(batch: dict) -> int:
    """Rows of an episode batch whose agents' segments do not tile the episode exactly: every agent's first
    action starts at step 0, each next one starts where the previous ended, and the last ends at the episode's
    last real step. A row missing its head, its tail or a middle piece fails."""
    filled = batch["filled"]  # [B, T]
    mask = batch["seg_mask"] > 0  # [B, n, K]
    start, end = batch["seg_start"], batch["seg_end"]  # [B, n, K]
    length = filled.sum(1).long()  # [B]
    count = mask.sum(-1)  # [B, n]
    first_ok = start[..., 0] == 0  # [B, n]
    contiguous = ((start[..., 1:] == end[..., :-1] + 1) | ~mask[..., 1:]).all(-1)  # [B, n]
    last_end = end.gather(-1, (count - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [B, n]
    ends_ok = last_end == (length - 1).unsqueeze(1)
    ok = ((count > 0) & first_ok & contiguous & ends_ok).all(-1)  # [B]
    return int((~ok).sum())


class LearnerHost:
    """One learner plus its batch pipeline. ``train(n)`` runs up to ``n`` updates and returns small metrics
    (``partial_rows``: rows of the checked batches, the first and every ``CHECK_EVERY``-th, that were not whole
    episodes; replay only ever completes whole episodes, so this checks the pipeline, not each batch).

    A batch of ``cluster.batch_size`` episodes is split across the shards in proportion to how many complete
    episodes each holds (shards below ``replay.min_episodes`` get none) and the parts are merged
    (``replay.sharding.merge_batches``); each shard's answer carries its size for the next split.
    """

    IDLE_SLEEP_S = 0.005  # back-off while the shards have no batch (under Ray)
    PREFETCH = 3  # batches requested ahead under Ray (off-policy); sizes are re-read from every answer
    CHECK_EVERY = 100  # batches between whole-episode checks (the first batch is always checked)
    CONSUMPTION_MEMORY = 10_000  # on-policy batches whose (version, episode ids, episode versions) are kept

    def __init__(self, cfg, info, shards: list, legem, roles: Roles):
        self.learner = roles.learner(cfg, info)
        self.batch_size = int(cfg.cluster.batch_size)
        self.view = cfg.learner.buffer
        self.min_episodes = int(cfg.replay.min_episodes)
        self.prioritized = cfg.replay.sampler == "prioritized"  # send TD priorities back to the shards
        self.check_rows = self.view == "mac_sjert" and cfg.replay.window == 0  # whole episodes are sampled
        self.on_policy, self.max_lag = bool(cfg.replay.on_policy), int(cfg.replay.max_policy_lag)
        self.rollout_cfg = cfg.rollout  # the epsilon schedule the on-policy behaviour mixes in
        self._held: list = []  # on-policy: fresh parts gathered towards the next batch
        self._consumed: list = []  # on-policy: (version, episode ids, their policy versions) per batch
        self._stale_rows = 0  # on-policy rows dropped here for being too old (replay drops them first)
        self.legem = legem
        self.version = 0
        self.rng = seeding.generator(cfg.seed, "learner", "batch_split")
        self._pending: deque = deque()  # (shard parts, size probes, redistributed) requested ahead, oldest first
        self._batches = 0  # batches taken, for the periodic whole-episode check
        self.set_shards(shards)

    def ping(self) -> int:
        return self.version

    def set_shards(self, shards: list) -> None:
        self.shards = list(shards)
        self._sizes = np.zeros(len(self.shards))  # complete episodes per shard, as last reported
        self._remote = is_remote(self.shards[0])
        self._prefetch = self.PREFETCH if self._remote and not self.on_policy else 0
        self._pending = deque()
        self._held = []

    def set_legem(self, legem) -> None:
        self.legem = legem
        self._pending = deque()

    def _request(self):
        ready = np.where(self._sizes >= self.min_episodes, self._sizes, 0.0)
        p = ready / ready.sum() if ready.sum() > 0 else np.full(len(ready), 1.0 / len(ready))
        counts = self.rng.multinomial(self.batch_size, p)
        parts = [(s, call(self.shards[s], "sample", int(c), self.view)) for s, c in enumerate(counts) if c > 0]
        probes = [(s, call(self.shards[s], "num_episodes")) for s, c in enumerate(counts) if c == 0]
        red = call(self.legem, "redistribute", *[r for _, r in parts]) if self.legem is not None else None
        return parts, probes, red

    def _take(self):
        """The next (batch, redistributed [B, T], [(shard, rows)] in batch order), or Nones when some shard had
        no batch."""
        if self.on_policy:
            return self._take_fresh()
        pending = self._pending.popleft() if self._pending else self._request()
        while len(self._pending) < self._prefetch:
            self._pending.append(self._request())
        parts, probes, red_ref = pending
        try:
            answers = [(s, resolve(r)) for s, r in parts]
            for s, r in probes:
                self._sizes[s] = resolve(r)
            for s, (_, size) in answers:
                self._sizes[s] = size
            batches = [b for _, (b, _) in answers]
            if any(b is None for b in batches):
                return None, None, None
            red = resolve(red_ref) if red_ref is not None else None
        except failure_types():
            self._pending.clear()
            raise
        batch = merge_batches(batches)
        if red is not None:
            T = batch["filled"].shape[1]
            red = torch.cat([torch.nn.functional.pad(r, (0, T - r.shape[1])) for r in red])  # [B, T]
        return batch, red, [(s, len(b["episode_id"])) for (s, _), b in zip(answers, batches, strict=True)]

    def _take_fresh(self):
        """On-policy: ask the shards for what the batch still lacks (in proportion to their last reported
        sizes, probing the others), keep what arrives; (batch, None, None) once ``batch_size`` episodes are held,
        else Nones."""
        floor = int(getattr(self.learner, "version", self.version)) - self.max_lag
        need = self.batch_size - sum(len(p["episode_id"]) for p in self._held)
        order = np.argsort(-self._sizes, kind="stable")
        asks, left = [], need
        for s in order:
            c = int(min(self._sizes[s], left))
            if c > 0:
                asks.append((int(s), call(self.shards[s], "sample", c, self.view, floor)))
                left -= c
        if left > 0:  # sizes unknown or short: probe every shard not asked
            asked = {s for s, _ in asks}
            asks += [(s, call(self.shards[s], "sample", left, self.view, floor))
                     for s in range(len(self.shards)) if s not in asked]
        for s, ref in asks:  # a failed shard raises here; what the others gave is kept for the next try
            part, size = resolve(ref)
            self._sizes[s] = size
            if part is not None:
                self._held.append(part)
        have = sum(len(p["episode_id"]) for p in self._held)
        if have < self.batch_size:
            return None, None, None
        batch, self._held = merge_batches(self._held), []
        keep = batch["policy_version"] >= floor  # replay already dropped older ones; a restarted shard may not
        if not bool(keep.all()):
            self._stale_rows += int((~keep).sum())
            batch = {k: v[keep] if v.shape[:1] == keep.shape else v for k, v in batch.items()}
            if not bool(keep.any()):
                return None, None, None
        return batch, None, None

    def consumption(self) -> list[tuple[int, list[int], list[int], int]]:
        """On-policy batches consumed so far (the last ``CONSUMPTION_MEMORY``): (learner version when it was
        used, episode ids, the policy version that acted in each, the optimiser's gradient steps after it)."""
        return list(self._consumed)

    def _gradient_steps(self) -> int:
        """Gradient steps the learner's optimiser has taken (Adam/RMSprop count them per parameter)."""
        opt = getattr(self.learner, "optimiser", None)
        state = next(iter(opt.state.values()), None) if opt is not None else None
        return int(state["step"]) if state is not None and "step" in state else -1

    def _send_priorities(self, batch: dict, routes: list[tuple[int, int]]) -> None:
        """The last update's per-episode priorities back to the shards the episodes came from (fire and forget
        under Ray: a shard that died meanwhile has lost those episodes anyway)."""
        pr = self.learner.last_priorities
        if pr is None:
            return
        ids = np.asarray(batch["episode_id"])
        lo = 0
        for s, rows in routes:
            call(self.shards[s], "update_priorities", ids[lo:lo + rows], pr[lo:lo + rows])
            lo += rows

    def train(self, num_updates: int, max_wait_s: float = 1.0, env_steps: int | None = None) -> dict:
        """Up to ``num_updates`` updates; stops early when no batch arrives within ``max_wait_s`` (or at once in
        one process). Returns means of the learner's metrics plus pipeline counters."""
        sums: dict[str, float] = defaultdict(float)
        wait_s = train_s = 0.0
        done = partial = errors = empty = 0
        self._stale_rows, lags = 0, []
        deadline = time.monotonic() + max_wait_s
        while done < num_updates:
            t0 = time.perf_counter()
            try:
                batch, red, routes = self._take()
            except failure_types():
                errors += 1
                batch, red, routes = None, None, None
            wait_s += time.perf_counter() - t0
            if batch is None:
                empty += 1
                if not self._remote or time.monotonic() > deadline:
                    break
                time.sleep(self.IDLE_SLEEP_S)
                continue
            if self.check_rows and self._batches % self.CHECK_EVERY == 0:  # an invariant: sampled, not per batch
                partial += partial_episode_rows(batch)
            self._batches += 1
            if red is not None:
                batch["reward_redistributed"] = red
            if self.on_policy:
                lags.append(self._record(batch))
                if env_steps is not None:  # the rollouts' epsilon now (fresh episodes: it barely moved since)
                    batch["epsilon"] = torch.full((len(batch["episode_id"]),), self.epsilon(env_steps))
            t0 = time.perf_counter()
            metrics = self.learner.update(batch)
            if self.on_policy:  # the gradient steps taken so far, next to the batch just recorded
                self._consumed[-1] = self._consumed[-1] + (self._gradient_steps(),)
            if self.prioritized:
                self._send_priorities(batch, routes)
            train_s += time.perf_counter() - t0
            done += 1
            for k, v in metrics.items():
                sums[k] += float(v.item() if isinstance(v, torch.Tensor) else v)
        if done:
            sums.pop("learner/version", None)
            self.version = int(getattr(self.learner, "version", self.version + done))
        out = {k: v / done for k, v in sums.items()} if done else {}
        out.update({"updates": done, "version": self.version, "wait_s": wait_s, "train_s": train_s,
                    "partial_rows": partial, "sample_errors": errors, "empty_samples": empty})
        if self.on_policy and done:
            out.update({"onpolicy/lag_max": float(max(max(x) for x in lags)),
                        "onpolicy/lag_mean": float(np.mean(np.concatenate(lags))),
                        "onpolicy/stale_rows": float(self._stale_rows)})
        return out

    def epsilon(self, env_steps: int) -> float:
        """The rollout workers' exploration rate after ``env_steps`` joint steps of the run."""
        return float(self.rollout_cfg.epsilon(int(env_steps)))

    def _record(self, batch: dict) -> np.ndarray:
        """Note an on-policy batch about to be used; its rows' lags ``[B]``."""
        version = int(getattr(self.learner, "version", self.version))
        acted = np.asarray(batch["policy_version"]).astype(np.int64)
        self._consumed.append((version, np.asarray(batch["episode_id"]).tolist(), acted.tolist()))
        del self._consumed[:-self.CONSUMPTION_MEMORY]
        return version - acted

    def publish(self) -> tuple[int, dict]:
        """(version, CPU weights of the acting network): one object in the object store under Ray."""
        version, weights = self.learner.get_weights()
        self.version = int(version)
        return self.version, weights

    def set_version(self, version: int) -> None:
        """Number on from ``version`` (after a restart from an older checkpoint), so versions never go back."""
        self.version = max(int(version), self.version)
        self.learner.version = self.version

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "version": self.version,
                "torch_rng": torch.random.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.version = int(state["version"])
        torch.random.set_rng_state(state["torch_rng"])
        self._pending.clear()
