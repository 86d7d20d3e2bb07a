"""The two driver loops over one :class:`~asyncmarl.cluster.topology.Topology`.

``run_local``: one round = every rollout worker runs ``rollout.steps_per_call`` steps, then the learner does
``cluster.updates_per_iteration`` updates (fewer while replay has too few episodes); deterministic for a seed.

``run_ray``: rollout actors and the learner run free. The driver keeps one call in flight per actor, hands a
rollout actor the ObjectRef of the newest published weights when its version is behind (the actor pulls the
object itself), publishes after a learner call once ``cluster.publish_interval`` updates have passed, and hands
failures to the :class:`~asyncmarl.cluster.supervisor.Supervisor`. A learner call runs up to a round's updates
(``cluster.updates_per_iteration``, or ``publish_interval`` if larger; the rate limiter may allow fewer), as the
in-process loop does between two rollout rounds: one update per call left the learner idle for a driver round
trip and a weights copy after every update (measured on BoxPushing-6: the learner busy 65% of its core).

Both loops pass the driver's env-step count with every rollout call: the rollout workers' epsilon schedule
follows the run's global step, also for a worker restarted mid-run.
"""
from __future__ import annotations

import logging

from asyncmarl.cluster.handles import get
from asyncmarl.cluster.rate_limiter import RateLimiter

log = logging.getLogger("asyncmarl.cluster")
LEARNER_WAIT_S = 1.0  # a train call returns after this long without data, so the driver stays responsive


def _publish_due(d, last_publish_updates: int) -> bool:
    return d.c.published < 0 or d.c.updates - last_publish_updates >= d.cfg.cluster.publish_interval


def run_local(d) -> None:
    """Every role in this process (tests, debugging, the in-process benchmark baseline)."""
    topo, cl = d.topo, d.cfg.cluster
    sent = [-1] * len(topo.rollouts)
    last_publish = d.c.updates
    while not d.finished():
        for i, r in enumerate(topo.rollouts):
            give = d.weights if sent[i] < d.c.published else None
            sent[i] = d.c.published
            d.absorb_rollout(get(r.step.remote(give, d.c.env_steps)))
        d.absorb_learner(get(topo.learner.train.remote(cl.updates_per_iteration, LEARNER_WAIT_S, d.c.env_steps)))
        if _publish_due(d, last_publish) and d.c.updates > 0:
            d.weights = get(topo.learner.publish.remote())
            d.c.published, last_publish = d.weights[0], d.c.updates
        d.end_round()


def run_ray(d) -> None:
    """Rollout actors and the learner as Ray actors, overlapping, at the in-process loop's ratio of updates to env
    steps (:class:`~asyncmarl.cluster.rate_limiter.RateLimiter`); failures go to the driver's supervisor."""
    import ray
    from ray.exceptions import RayActorError, RayError

    topo, cl, rc, sup = d.topo, d.cfg.cluster, d.cfg.rollout, d.supervisor
    # on-policy learners are paced by the fresh episodes themselves (one update per batch of them): no ratio
    lim = d.rate_limiter = RateLimiter(d.c, cl.updates_per_iteration,
                                       cl.num_rollout_workers * rc.num_envs * rc.steps_per_call,
                                       cl.rate_tolerance, cl.rate_limit and not d.cfg.replay.on_policy,
                                       ready_episodes=d.cfg.replay.min_episodes * cl.num_replay_shards)
    sent = [-1] * len(topo.rollouts)  # weights version each rollout actor was last given
    rollout_calls: dict = {}  # ObjectRef -> worker index
    parked: list[int] = []  # rollout actors held back because they ran ahead of the learner
    learner_call = None
    starved = False  # the last learner call found no batch: let rollouts run so replay can refill
    last_publish = d.c.updates

    def submit_rollout(i: int) -> None:
        give = d.weights if (d.weights is not None and sent[i] < d.c.published) else None
        if give is not None:
            sent[i] = d.c.published
        rollout_calls[topo.rollouts[i].step.remote(give, d.c.env_steps)] = i

    def submit_learner() -> None:
        nonlocal learner_call
        if learner_call is None:
            n = lim.updates_allowed(max(cl.publish_interval, cl.updates_per_iteration))
            if n > 0:
                learner_call = topo.learner.train.remote(n, LEARNER_WAIT_S, d.c.env_steps)

    def release_parked() -> None:
        while parked and (starved or lim.rollout_allowed()):
            submit_rollout(parked.pop(0))

    for i in range(len(topo.rollouts)):
        submit_rollout(i)
    submit_learner()
    while not d.finished():
        if not rollout_calls and learner_call is None:  # cannot happen with tolerance > 0; never deadlock anyway
            submit_rollout(parked.pop(0))
        waiting = [*rollout_calls] + ([learner_call] if learner_call is not None else [])
        ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
        for ref in ready:
            if ref == learner_call:
                learner_call = None
                try:
                    out = ray.get(ref)
                except RayActorError as e:
                    sup.learner_failed(e)
                    d.weights = None  # its published weights died with it
                    out = None
                if out is not None:
                    d.absorb_learner(out)
                    starved = out["updates"] == 0
                    if out["sample_errors"]:
                        sup.check_peers()
                    if out["updates"] and _publish_due(d, last_publish):
                        # submitted before the next train call, so it runs right after this one finished
                        d.weights = topo.learner.publish.remote()
                        d.c.published, last_publish = out["version"], d.c.updates
                submit_learner()
                release_parked()
                continue
            i = rollout_calls.pop(ref)
            try:
                out = ray.get(ref)
            except RayActorError as e:
                sup.rollout_failed(i, e)
                sent[i] = -1
                submit_rollout(i)
                continue
            except RayError as e:
                if not _lost_argument(e):
                    raise  # an exception inside the worker is a bug: surface it
                sent[i] = -1  # the weights it was sent died with a learner: send the current ones
                submit_rollout(i)
                continue
            d.absorb_rollout(out)
            if out["shard_errors"] or out["legem_errors"]:
                sup.check_peers()
            parked.append(i)
            release_parked()
            submit_learner()
        d.end_round()
    # let the calls in flight finish so the final checkpoint sees a quiet system
    pending = [*rollout_calls] + ([learner_call] if learner_call is not None else [])
    done, _ = ray.wait(pending, num_returns=len(pending), timeout=30.0)
    for ref in done:
        try:
            out = ray.get(ref)
        except RayError:
            continue
        (d.absorb_learner if ref == learner_call else d.absorb_rollout)(out)


def _lost_argument(e: Exception) -> bool:
    """The call failed because an object it needed was lost (not because the code raised)."""
    from ray.exceptions import ObjectLostError, OwnerDiedError

    lost = (ObjectLostError, OwnerDiedError)
    return isinstance(e, lost) or isinstance(getattr(e, "cause", None), lost)
