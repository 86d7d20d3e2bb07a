"""The Learner end to end on synthetic batches: it overfits a fixed batch, round-trips its state exactly,
publishes weights the rollout network loads, and rejects bad configs and batches with named errors."""
import dataclasses

import pytest
import torch
from learner_batches import SMALL, jert_batch, make_episodes, sjert_batch

from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.learner.config import AtpgConfig
from asyncmarl.platform.nets import AgentNetConfig, make_agent_net
from asyncmarl.platform.nets.agent import sequence_inputs

G = 0.9
TINY = AgentNetConfig(hidden_dim=16, embed_dim=16, pe_dim=8)
PLAIN = dataclasses.replace(TINY, temporal=False)
CONFIGS = {
    "tomacvf": dict(agent_net=TINY, atpg_net=AtpgConfig(embed_dim=8, generator_dim=16)),
    "avf": dict(algo="avf", buffer="mac_jert", atpg=False, agent_net=PLAIN, target_update="polyak", tau=0.05),
    "qmix": dict(algo="qmix", atpg=False, agent_net=PLAIN),
}


def _batches(seed=1, B=3, T=8):
    eps = make_episodes(seed, B=B, T=T, n=SMALL.n_agents, A=SMALL.n_actions, O=SMALL.obs_dim, S=SMALL.state_dim)
    return eps, sjert_batch(eps, G), jert_batch(eps, G)


def _learner(algo, **kw):
    torch.manual_seed(0)
    return Learner(LearnerConfig(gamma=G, lr=3e-3, device="cpu", **{**CONFIGS[algo], **kw}), SMALL)


@pytest.mark.parametrize("algo", ["tomacvf", "avf", "qmix"])
def test_overfits_a_fixed_batch(algo):
    """Loss falls by 10x. For ToMacVF the batch's action masks allow only the action taken at each decision:
    micro-TD (n-step) and macro-TD then bootstrap consistently (on random data with free choices the two
    targets of one Q_tot disagree until the taken actions become greedy, which no gradient pushes for)."""
    eps, sj, jt = _batches()
    batch = jt if algo == "avf" else sj
    if algo == "tomacvf":
        T = sj["actions"].shape[1]
        nxt = torch.cat([sj["actions"], sj["actions"][:, -1:]], dim=1)  # what each agent runs at row t
        only = torch.nn.functional.one_hot(nxt, SMALL.n_actions).bool()
        batch = {**sj, "action_mask": torch.where(sj["choosing"][:, :T + 1, :, None], only, sj["action_mask"])}
    learner = _learner(algo)
    losses = [learner.update(batch)["losses/total"] for _ in range(150)]
    assert min(losses[-5:]) < losses[0] / 10, (losses[0], losses[-5:])


@pytest.mark.parametrize("algo", ["tomacvf", "avf", "qmix"])
def test_state_dict_round_trip_is_exact(algo):
    _, sj, jt = _batches(seed=2)
    batch = jt if algo == "avf" else sj
    a = _learner(algo, target_update="hard", target_update_interval=3)
    for _ in range(4):
        a.update(batch)
    b = _learner(algo, target_update="hard", target_update_interval=3)
    b.load_state_dict(a.state_dict())
    assert b.version == a.version
    inp = sequence_inputs(batch, a.view)
    with torch.no_grad():
        qa = a.online["agent"].unroll(batch, a.view)
        qb = b.online["agent"].unroll(batch, b.view)
    assert torch.equal(qa, qb) and inp["obs"].shape[1] == qa.shape[1]
    for _ in range(3):  # the next updates (optimiser moments, target copies) agree too
        ma, mb = a.update(batch), b.update(batch)
        assert ma == mb
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa["online"]:
        assert torch.equal(sa["online"][k], sb["online"][k])
    for k in sa["target"]:
        assert torch.equal(sa["target"][k], sb["target"][k])


def test_published_weights_load_into_the_rollout_network():
    learner = _learner("tomacvf")
    _, sj, _ = _batches()
    learner.update(sj)
    version, weights = learner.get_weights()
    assert version == 1 and all(v.device.type == "cpu" for v in weights.values())
    net = make_agent_net(learner.cfg.agent_net, SMALL)
    net.load_state_dict(weights)
    obs = torch.randn(2, SMALL.n_agents, SMALL.obs_dim)
    prev = torch.full((2, SMALL.n_agents), -1)
    args = (obs, prev, torch.zeros_like(prev), torch.zeros(2, dtype=torch.long), net.initial_hidden(2))
    torch.testing.assert_close(net.act(*args)[0], learner.online["agent"].act(*args)[0])


def test_a_mac_jert_batch_needs_absolute_times():
    _, _, jt = _batches(seed=3, B=4, T=12)
    no_t = {k: v for k, v in jt.items() if k != "t"}
    with pytest.raises(ValueError, match="'t'"):
        sequence_inputs(no_t, "mac_jert")
    with pytest.raises(ValueError, match=r"missing keys \['t'\]"):
        _learner("avf").update(no_t)


def test_metrics_are_namespaced():
    _, sj, _ = _batches()
    m = _learner("tomacvf").update(sj)
    for key in ("losses/micro_td", "losses/macro_td", "q/taken_mean", "learner/grad_norm", "learner/version"):
        assert key in m and isinstance(m[key], float)


def test_legem_trains_on_redistributed_rewards_and_errors_without_them():
    _, sj, _ = _batches()
    learner = _learner("qmix", legem=True, n_step=1)
    with pytest.raises(ValueError, match="reward_redistributed"):
        learner.update(sj)
    # moving every reward to the first step changes the targets; the raw 'reward' is then ignored
    redistributed = torch.zeros_like(sj["reward"])
    redistributed[:, 0] = sj["reward"].sum(1)
    m1 = _learner("qmix", legem=True, n_step=1).update({**sj, "reward_redistributed": redistributed})
    m2 = _learner("qmix", legem=True, n_step=1).update(
        {**sj, "reward_redistributed": redistributed, "reward": sj["reward"] * 0})
    m3 = _learner("qmix", legem=False).update(sj)
    assert m1["q/target_mean"] == m2["q/target_mean"] != m3["q/target_mean"]


def test_synchronous_learners_treat_busy_agents_as_noop():
    """IQL/VDN/QMIX/QPLEX train on where(choosing, actions, 0): a busy agent's recorded action is irrelevant."""
    _, sj, _ = _batches()
    busy = ~sj["choosing"][:, :-1]
    scrambled = torch.where(busy, (sj["actions"] + 1) % SMALL.n_actions, sj["actions"])
    for algo in ("iql", "vdn", "qplex"):
        cfg = dict(algo=algo, atpg=False, agent_net=dataclasses.replace(PLAIN, last_action=False))
        torch.manual_seed(0)
        m1 = Learner(LearnerConfig(gamma=G, device="cpu", **cfg), SMALL).update(sj)
        torch.manual_seed(0)
        m2 = Learner(LearnerConfig(gamma=G, device="cpu", **cfg), SMALL).update({**sj, "actions": scrambled})
        assert m1 == m2, algo


@pytest.mark.parametrize("kw, field", [
    (dict(algo="sarsa"), "learner.algo"),
    (dict(mixer="qatten"), "learner.mixer"),
    (dict(gamma=1.5), "learner.gamma"),
    (dict(n_step=0), "learner.n_step"),
    (dict(td_lambda=2.0), "learner.td_lambda"),
    (dict(algo="avf", atpg=False), "learner.buffer"),
    (dict(algo="qmix"), "learner.atpg"),
    (dict(target_update="soft"), "learner.target_update"),
    (dict(avf_scheme="D3"), "learner.avf_scheme"),
    (dict(device="tpu"), "learner.device"),
    (dict(optimiser="sgd"), "learner.optimiser"),
])
def test_config_errors_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        LearnerConfig(**kw)


def test_batch_shape_errors_name_the_key():
    _, sj, _ = _batches()
    learner = _learner("qmix")
    with pytest.raises(ValueError, match="state"):
        learner.update({**sj, "state": sj["state"][..., :-1]})
    bad = dict(sj)
    del bad["action_mask"]
    with pytest.raises(ValueError, match="action_mask"):
        learner.update(bad)


def test_checkpoint_of_another_algorithm_is_refused():
    state = _learner("qmix").state_dict()
    with pytest.raises(ValueError, match="learner.algo='qmix'"):
        _learner("tomacvf").load_state_dict(state)


def test_tomacvf_with_legem_recomputes_segment_returns_from_the_rewards_it_trains_on():
    """Handing LeGEM the unchanged rewards reproduces the ordinary update exactly (the recomputed R_m equal the
    batch's seg_return)."""
    _, sj, _ = _batches(seed=4)
    plain = _learner("tomacvf", n_step=1).update(sj)
    same = _learner("tomacvf", legem=True, n_step=1).update({**sj, "reward_redistributed": sj["reward"].clone()})
    for key in ("losses/micro_td", "losses/macro_td"):
        assert same[key] == pytest.approx(plain[key], rel=1e-5)


@pytest.mark.parametrize("algo", ["tomacvf", "avf", "qmix"])
def test_priorities_follow_each_episodes_td_error(algo):
    """One priority per episode, positive; an episode whose rewards are scaled up 100x gets the largest."""
    eps, sj, jt = _batches(B=4)
    batch = dict(jt if algo == "avf" else sj)
    batch["reward"] = batch["reward"].clone()
    batch["reward"][2] *= 100.0
    learner = _learner(algo)
    assert learner.last_priorities is None
    learner.update(batch)
    pr = learner.last_priorities
    assert pr.shape == (4,) and (pr > 0).all()
    assert pr.argmax() == 2


def test_priority_eta_mixes_max_and_mean():
    eps, sj, _ = _batches(B=2)
    batch = dict(sj)
    maxes = _learner("qmix", priority_eta=1.0)
    means = _learner("qmix", priority_eta=0.0)
    maxes.update(batch)
    means.update(batch)
    assert (maxes.last_priorities > means.last_priorities).all()  # on rows of unequal |TD|, max > mean
    with pytest.raises(ValueError, match="learner.priority_eta"):
        LearnerConfig(priority_eta=1.5)


def test_legem_needs_one_step_targets():
    with pytest.raises(ValueError, match="learner.legem .*learner.n_step=1"):
        LearnerConfig(legem=True, n_step=5)
    with pytest.raises(ValueError, match="td_lambda"):
        LearnerConfig(legem=True, n_step=1, td_lambda=0.9)
    assert LearnerConfig(legem=True, n_step=1).legem
