"""How rollout workers act for Xiao et al.'s baselines: stochastic per-agent policies, centralised execution over
joint macro-actions (conditional on the running ones, recomputed only where some action ends), each agent's RNN
ticking at its own decisions (Mac-CERT), and on-policy restarts of episodes that became too old."""
import numpy as np
import pytest
import torch

from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.joint import JointNetConfig, joint_allowed
from asyncmarl.rollout_workers import RolloutConfig, RolloutWorker

PLAIN = AgentNetConfig(hidden_dim=8, embed_dim=8, temporal=False)


def worker(policy="greedy", view="mac_cert", **kw):
    return RolloutWorker(RolloutConfig(num_envs=6), "boxpushing-6", PLAIN, view=view, policy=policy,
                         joint_net=JointNetConfig(embed_dim=8, hidden_dim=8), **kw)


def test_central_policy_keeps_running_actions_and_ticks_only_where_an_action_ends():
    w = worker("central_greedy", view="mac_jert")
    step, pol = w._step, w.policy
    for _ in range(40):
        before = pol.hidden.clone()
        actions = pol.act(step, epsilon=0.3, rng=w.rng)
        assert np.all(actions[~step.choosing] == step.macro_action[~step.choosing])
        chosen = np.take_along_axis(step.action_mask, actions[..., None], -1)[..., 0]
        assert np.all(chosen[step.choosing])
        idle = ~step.choosing.any(1)  # no action ended in these copies: the joint network did not tick
        assert torch.equal(pol.hidden[idle], before[idle])
        assert not torch.equal(pol.hidden[~idle], before[~idle]) or not (~idle).any()
        step = w.env.step(actions)
        if step.done.any():
            step = w.env.reset(seed=w._seeds(6), where=step.done)
            pol.reset(step.t == 0)


def test_central_greedy_choice_is_the_conditional_argmax():
    w = worker("central_greedy", view="mac_jert")
    step = w._step
    step.choosing[0] = [False, True]  # agent 0 mid-action in copy 0
    step.macro_action[0] = [3, 0]
    with torch.no_grad():
        out, _ = w.net.step(torch.as_tensor(step.obs).flatten(-2), w.net.initial_hidden(6))
    actions = w.policy.act(step, epsilon=0.0, rng=w.rng)
    allowed = joint_allowed(torch.as_tensor(step.action_mask), torch.as_tensor(step.choosing),
                            torch.as_tensor(step.macro_action))
    best = out.masked_fill(~allowed, -1e9).argmax(-1)
    assert actions[0, 0] == 3 and actions[0, 1] == best[0].item() % 8
    assert (actions[:, 0] * 8 + actions[:, 1]).tolist() == best.tolist()


def test_stochastic_policy_samples_training_and_maximises_in_evaluation():
    w = worker("stochastic")
    with torch.no_grad():  # logits that strongly prefer action 2 wherever it is valid
        w.net.head.weight.zero_()
        w.net.head.bias.copy_(torch.tensor([0.0, 0, 20, 0, 0, 0, 0, 0]))
    step = w._step
    picks = np.stack([w.policy.act(step, epsilon=0.0, rng=w.rng) for _ in range(50)])  # [50, B, n]
    valid2 = step.action_mask[..., 2] & step.choosing
    assert np.all(picks[:, valid2] == 2)
    mixed = np.stack([w.policy.act(step, epsilon=1.0, rng=w.rng) for _ in range(400)])
    assert len(np.unique(mixed[:, valid2])) > 3  # epsilon 1: uniform over the valid actions
    ev = w.policy.act(step, epsilon=0.0, rng=w.rng, explore=False)
    assert np.all(ev[valid2] == 2)
    out = w.evaluate(4, seed=1)
    assert out["episodes"] == 4


def test_each_agents_rnn_ticks_at_its_own_decisions():
    w = worker("greedy")
    step, pol = w._step, w.policy
    ticked = False
    for _ in range(40):
        before = pol.hidden.clone()
        actions = pol.act(step, epsilon=0.5, rng=w.rng)
        busy = torch.as_tensor(~step.choosing)
        assert torch.equal(pol.hidden[busy], before[busy])
        ticked |= bool(step.choosing.any() and (~busy).any() and not step.choosing.all())
        pol.observe(step := w.env.step(actions))
        if step.done.any():
            step = w.env.reset(seed=w._seeds(6), where=step.done)
            pol.reset(step.t == 0)
    assert ticked  # some step had one agent choosing while another was busy


def test_on_policy_worker_restarts_episodes_older_than_the_lag():
    w = worker("stochastic", max_policy_lag=0)
    w.run(5)  # every copy is mid-episode, begun by version 0
    weights = {k: v.clone() for k, v in w.net.state_dict().items()}
    w.set_weights(1, weights)
    assert w.restarted_episodes == 6 and np.all(w._step.t == 0)
    out = w.run(120)
    assert {s.policy_version for s in out.segments} == {1}
    lagged = worker("stochastic", max_policy_lag=1)
    lagged.run(5)
    lagged.set_weights(1, weights)
    assert lagged.restarted_episodes == 0  # one version behind is allowed
    lagged.set_weights(2, weights)
    assert lagged.restarted_episodes == 6


@pytest.mark.parametrize("algo", ["mac_dec_ddrqn", "mac_cen_ddrqn", "mac_dec_maddrqn", "mac_iac", "mac_cac",
                                  "mac_niacc", "mac_iaicc"])
def test_workers_load_what_each_baseline_learner_publishes(algo):
    from asyncmarl.learner import Learner, LearnerConfig
    from asyncmarl.learner.config import BASELINE_VIEWS

    joint = JointNetConfig(embed_dim=8, hidden_dim=8)
    cfg = LearnerConfig(algo=algo, buffer=BASELINE_VIEWS[algo], atpg=False, agent_net=PLAIN, joint_net=joint,
                        device="cpu")
    w = worker(cfg.policy, view=cfg.buffer)
    learner = Learner(cfg, w.info)
    version, weights = learner.get_weights()
    w.set_weights(version + 1, weights)  # newer than the worker's initial version 0
    for name, value in learner.online[learner.family.acting].state_dict().items():
        assert torch.equal(w.net.state_dict()[name], value), name
    assert w.run(20).env_steps == 120


def test_the_learner_scores_each_choice_as_the_worker_sampled_it():
    """Acting and learning see the same inputs: for every decision of real episodes, log pi(taken action) that
    the learner computes on the Mac-CERT batch equals the worker's at sampling time (same weights)."""
    from asyncmarl.learner import Learner, LearnerConfig
    from asyncmarl.learner.batch import prepare_batch
    from asyncmarl.learner.families.actor_critic import masked_log_softmax
    from asyncmarl.learner.families.sequences import cert_sequences
    from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard

    w = worker("stochastic")
    cfg = LearnerConfig(algo="mac_iaicc", buffer="mac_cert", atpg=False, agent_net=PLAIN, device="cpu", gamma=0.99)
    learner = Learner(cfg, w.info)
    torch.manual_seed(3)
    with torch.no_grad():  # a policy far from uniform
        for p in learner.online["agent"].parameters():
            p.add_(torch.randn_like(p) * 0.5)
    version, weights = learner.get_weights()
    w.set_weights(version + 1, weights)
    seen, act = {}, w.policy.act

    def recording_act(step, epsilon, rng, explore=True):
        pol = w.policy
        with torch.no_grad():
            q, _ = w.net.act(torch.as_tensor(step.obs), torch.as_tensor(pol.prev_action),
                             torch.as_tensor(pol.prev_elapsed), torch.as_tensor(step.t), pol.hidden,
                             torch.as_tensor(step.choosing))
        actions = act(step, epsilon, rng, explore)
        logp = masked_log_softmax(q, torch.tensor(step.action_mask))
        for b, i in zip(*np.nonzero(step.choosing), strict=True):
            seen[(int(w.cutter.episode_ids[b]), int(i), int(step.t[b]))] = float(logp[b, i, actions[b, i]])
        return actions

    w.policy.act = recording_act
    out = w.run(150, global_steps=10**9)  # epsilon at its end value
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=0.99), seed=0)
    count = shard.add(out.segments)
    batch = shard.sample(count, view="mac_cert")
    b = prepare_batch(batch, w.info, "mac_cert", torch.device("cpu"), False, True)
    c = cert_sequences(b)
    agent = learner.online["agent"]
    z = torch.zeros_like(c["prev_action"])
    with torch.no_grad():
        q = agent.q_values(agent.hiddens_from_features(agent.features(c["obs"], c["prev_action"], z, z[..., 0])))
    K = c["mask"].shape[1]
    logp = masked_log_softmax(q[:, :K], c["avail"][:, :K]).gather(-1, c["action"].unsqueeze(-1)).squeeze(-1)
    checked = 0
    for row, eid in enumerate(batch["episode_id"].tolist()):
        for i in range(2):
            for k in range(int(c["mask"][row, :, i].sum())):
                want = seen[(eid, i, int(c["t_start"][row, k, i]))]
                assert abs(float(logp[row, k, i]) - want) < 1e-4, (eid, i, k)
                checked += 1
    assert count >= 8 and checked > 100


def test_evaluation_takes_the_argmax_unless_asked_to_sample():
    import dataclasses

    w = worker("stochastic")
    a, b = w.evaluate(8, seed=3), w.evaluate(8, seed=3)
    assert a == b  # the argmax: deterministic on BoxPushing
    w.config = dataclasses.replace(w.config, eval_sample=True)
    runs = {w.evaluate(8, seed=s)["return_mean"] for s in range(4)}
    assert len(runs) > 1  # sampled: episodes differ with the seed
