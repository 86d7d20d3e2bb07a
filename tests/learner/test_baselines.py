"""Xiao et al.'s baselines on the hand-computed Figure 1 episode (``baseline_episode.py``): the conditional argmax
over joint macro-actions with agents mid-action, the Mac-Cen-DDRQN and Mac-Dec-MADDRQN targets, Mac-IAICC's
critic at each agent's own action starts with the gamma^tau bootstrap, the actor loss sign, checkpoints.

The episode (gamma 0.75, rewards 1, -2, 8, 3, 5, 7): agent 0 runs action 1 over steps 0-2 and 3-5, agent 1 runs
action 0 over 0-1, 2-3, 4-5. Mac-JERT rows t = 0, 2, 3, 4, 6 (rows 0..4); transitions g = 0..3 with joint
rewards -0.5, 8, 3, 10.25 and discounts 0.5625, 0.75, 0.75, 0.5625; every taken joint action is (1, 0) = 2.
At row 1 agent 0 is mid-action (running 1), at row 2 agent 1 (running 0), at row 3 agent 0; at row 4 both end.
Agent 0's Mac-CERT: returns 4, 10.6875, discount 0.421875, decisions at rows 0, 2, 4; agent 1's: returns -0.5,
10.25, 10.25, discount 0.5625, decisions at rows 0, 1, 3, 4.
"""
import dataclasses

import pytest
import torch
from baseline_episode import INFO, TableAgent, TableQ, figure1_batch

from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.joint import JointNetConfig, joint_allowed, joint_index, joint_unravel

PLAIN = AgentNetConfig(hidden_dim=8, embed_dim=8, temporal=False)
SMALL_JOINT = JointNetConfig(embed_dim=8, hidden_dim=8)
VIEW = {"mac_dec_ddrqn": "mac_cert", "mac_cen_ddrqn": "mac_jert", "mac_dec_maddrqn": "mac_cert",
        "mac_iac": "mac_cert", "mac_cac": "mac_jert", "mac_niacc": "mac_cert", "mac_iaicc": "mac_cert"}


def learner(algo, **kw):
    torch.manual_seed(0)
    cfg = LearnerConfig(algo=algo, buffer=VIEW[algo], atpg=False, gamma=0.75, n_step=1, device="cpu",
                        agent_net=PLAIN, joint_net=SMALL_JOINT, **kw)
    return Learner(cfg, INFO)


def test_joint_actions_and_the_conditional_mask():
    a = torch.tensor([[1, 0], [0, 1]])
    assert joint_index(a, 3).tolist() == [3, 1] and joint_unravel(joint_index(a, 3), 2, 3).tolist() == a.tolist()
    avail = torch.tensor([[[True, True, True], [True, False, True]]])  # agent 1 cannot take action 1
    # agent 0 mid-action (running 2), agent 1 chooses: only (2, 0) and (2, 2) are allowed
    allowed = joint_allowed(avail, torch.tensor([[False, True]]), torch.tensor([[2, 1]]))
    assert allowed.nonzero()[:, 1].tolist() == [6, 8]
    q = torch.arange(9.0).flip(0).unsqueeze(0)  # the unconditional argmax (0, 0) is not allowed
    assert q.masked_fill(~allowed, -1e9).argmax(-1).item() == 6
    both = joint_allowed(avail, torch.tensor([[True, True]]), torch.tensor([[0, 0]]))
    assert both.sum().item() == 6


def _central_tables():
    online = torch.tensor([[0.0, 10.0, 2.0, 3.0]] * 5)  # unconditional argmax (0, 1) = 1 everywhere
    target = 10.0 * torch.arange(5.0).unsqueeze(1) + torch.arange(4.0)  # tq[r, j] = 10 r + j
    return online, target


@pytest.mark.parametrize("algo", ["mac_cen_ddrqn", "mac_dec_maddrqn"])
def test_central_targets_use_the_conditional_argmax_with_agents_mid_action(algo):
    """Row 1: agent 0 runs 1 -> {(1,0), (1,1)} -> a* = 3; row 2: agent 1 runs 0 -> {(0,0), (1,0)} -> a* = 2;
    row 3: -> 3; row 4: both choose -> the unconditional 1. y_g = r_g + d_g tq[g + 1, a*]."""
    lrn = learner(algo)
    online, target = _central_tables()
    lrn.online["joint"], lrn.target["joint"] = TableQ(online), TableQ(target).requires_grad_(False)
    if algo == "mac_dec_maddrqn":  # decentralised tables: target tq_i[l, a] = 100 a + l
        dec_t = 100.0 * torch.arange(2.0).view(1, 1, 2) + torch.arange(4.0).view(4, 1, 1) + torch.zeros(4, 2, 2)
        lrn.online["agent"], lrn.target["agent"] = TableAgent(torch.zeros(4, 2, 2)), TableAgent(dec_t)
    lrn.update(figure1_batch(VIEW[algo]))
    t = lrn.family.last_targets
    assert t["central_action"][0].tolist() == [3, 2, 3, 1]
    assert t["central"][0].tolist() == [-0.5 + 0.5625 * 13, 8 + 0.75 * 22, 3 + 0.75 * 33, 10.25 + 0.5625 * 41]
    if algo == "mac_dec_maddrqn":
        # agent i's part of a* where its action ended: agent 0 at rows 2, 4 -> (1,0), (0,1) -> 1, 0;
        # agent 1 at rows 1, 3, 4 -> (1,1), (1,1), (0,1) -> 1, 1, 1
        acts = t["decentral_action"][0]  # [K, n]
        assert acts[:2, 0].tolist() == [1, 0] and acts[:, 1].tolist() == [1, 1, 1]
        y = t["decentral"][0]
        assert y[:2, 0].tolist() == [4 + 0.421875 * 101, 10.6875 + 0.421875 * 2]
        assert y[:, 1].tolist() == [-0.5 + 0.5625 * 101, 10.25 + 0.5625 * 102, 10.25 + 0.5625 * 103]


def test_decentral_double_q_targets_on_each_agents_own_decisions():
    """Mac-Dec-DDRQN: the online Q_i picks at agent i's next decision among its available actions, the target
    evaluates: online q_i[l] prefers action (l + i) % 2; target tq_i[l, a] = 100 a + 10 l + i."""
    lrn = learner("mac_dec_ddrqn")
    L = torch.arange(4.0).view(4, 1, 1)
    i = torch.arange(2.0).view(1, 2, 1)
    a = torch.arange(2.0).view(1, 1, 2)
    prefer = ((L + i) % 2 == a).float()  # [4, 2, 2]
    lrn.online["agent"], lrn.target["agent"] = TableAgent(prefer), TableAgent(100 * a + 10 * L + i + 0 * prefer)
    lrn.update(figure1_batch("mac_cert"))
    t = lrn.family.last_targets
    assert t["decentral_action"][0, :2, 0].tolist() == [1, 0]  # agent 0's next decisions l = 1, 2
    assert t["decentral_action"][0, :, 1].tolist() == [0, 1, 0]  # agent 1's l = 1, 2, 3
    y = t["decentral"][0]
    assert y[:2, 0].tolist() == [4 + 0.421875 * 110, 10.6875 + 0.421875 * 20]
    assert y[:, 1].tolist() == [-0.5 + 0.5625 * 11, 10.25 + 0.5625 * 121, 10.25 + 0.5625 * 31]


def test_terminal_transitions_do_not_bootstrap():
    lrn = learner("mac_cen_ddrqn")
    online, target = _central_tables()
    lrn.online["joint"], lrn.target["joint"] = TableQ(online), TableQ(target).requires_grad_(False)
    lrn.update(figure1_batch("mac_jert", terminate_at=6))
    assert lrn.family.last_targets["central"][0, -1].item() == 10.25


def test_iaicc_critic_at_each_agents_own_action_starts_with_gamma_tau_bootstrap():
    """Agent i's critic output i over the joint rows, V[r, i] = 10 r + i (target: twice that): returns
    G = r_i + gamma^tau V'[next decision row, i], values V at the rows where agent i's actions start."""
    lrn = learner("mac_iaicc")
    v = 10.0 * torch.arange(5.0).unsqueeze(1) + torch.arange(2.0)  # [R, n]
    lrn.online["critic"], lrn.target["critic"] = TableQ(v), TableQ(2 * v).requires_grad_(False)
    lrn.update(figure1_batch("mac_cert"))
    t = lrn.family.last_targets
    G, V = t["returns"][0], t["values"][0]  # [K, n]
    assert G[:2, 0].tolist() == [4 + 0.421875 * 40, 10.6875 + 0.421875 * 80]  # next rows 2, 4
    assert G[:, 1].tolist() == [-0.5 + 0.5625 * 22, 10.25 + 0.5625 * 62, 10.25 + 0.5625 * 82]  # rows 1, 3, 4
    assert V[:2, 0].tolist() == [0.0, 20.0] and V[:, 1].tolist() == [1.0, 11.0, 31.0]  # starts at rows 0, 2 / 0, 1, 3


def test_niacc_uses_the_joint_critic_at_each_agents_start_and_end():
    lrn = learner("mac_niacc")
    v = 10.0 * torch.arange(5.0).unsqueeze(1)  # one joint value per row
    lrn.online["critic"], lrn.target["critic"] = TableQ(v), TableQ(v).requires_grad_(False)
    lrn.update(figure1_batch("mac_cert"))
    G, V = lrn.family.last_targets["returns"][0], lrn.family.last_targets["values"][0]
    assert G[:2, 0].tolist() == [4 + 0.421875 * 20, 10.6875 + 0.421875 * 40]
    assert V[:, 1].tolist() == [0.0, 10.0, 30.0]


def _chosen_logp(lrn, batch):
    """Sum of log pi of the actions taken, at every decision of the batch."""
    from asyncmarl.learner.batch import prepare_batch
    from asyncmarl.learner.families.actor_critic import masked_log_softmax
    from asyncmarl.learner.families.sequences import cert_sequences, joint_obs

    b = prepare_batch(batch, INFO, lrn.view, lrn.device, False, need_segments=True)
    with torch.no_grad():
        if lrn.cfg.algo == "mac_cac":
            T = b["actions"].shape[1]
            allowed = joint_allowed(b["action_mask"][:, :T], b["choosing"][:, :T], b["actions"])
            logp = masked_log_softmax(lrn.online["joint"](joint_obs(b))[:, :T], allowed)
            return logp.gather(-1, joint_index(b["actions"], 2).unsqueeze(-1)).sum().item()
        c = cert_sequences(b)
        agent = lrn.online["agent"]
        z = torch.zeros_like(c["prev_action"])
        q = agent.q_values(agent.hiddens_from_features(agent.features(c["obs"], c["prev_action"], z, z[..., 0])))
        K = c["mask"].shape[1]
        logp = masked_log_softmax(q[:, :K], c["avail"][:, :K]).gather(-1, c["action"].unsqueeze(-1)).squeeze(-1)
        return (logp * c["mask"]).sum().item()


@pytest.mark.parametrize("algo", ["mac_iac", "mac_cac", "mac_niacc", "mac_iaicc"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_actor_step_follows_the_advantage_sign(algo, sign):
    """A critic far below (above) every return makes every advantage positive (negative): one step raises
    (lowers) the probability of the actions taken."""
    lrn = learner(algo, critic="state", lr=1e-3, critic_lr=1e-9)
    n_out = 1 if algo in ("mac_cac", "mac_niacc") else 2
    for nets in (lrn.online, lrn.target):
        nets["critic"] = TableQ(torch.full((5, n_out), -1000.0 * sign))
    batch = figure1_batch(VIEW[algo])
    before = _chosen_logp(lrn, batch)
    lrn.update(batch)
    adv = lrn.family.last_targets["advantages"]
    assert ((adv * sign) > 0).any() and ((adv * sign) >= 0).all()
    after = _chosen_logp(lrn, batch)
    assert (after - before) * sign > 0, (before, after)


@pytest.mark.parametrize("algo", list(VIEW))
def test_checkpoint_round_trip_is_exact_and_weights_load_in_the_acting_net(algo):
    batch = figure1_batch(VIEW[algo])
    a = learner(algo, target_update_interval=2)
    for _ in range(3):
        a.update(batch)
    b = learner(algo, target_update_interval=2)
    b.load_state_dict(a.state_dict())
    assert b.version == a.version == 3
    ma, mb = a.update(batch), b.update(batch)
    assert ma == mb
    for x, y in zip(a.online.parameters(), b.online.parameters(), strict=True):
        assert torch.equal(x, y)
    version, weights = a.get_weights()
    assert version == 4 and set(weights) == set(a.online[a.family.acting].state_dict())


def test_baselines_refuse_the_wrong_view_and_temporal_nets():
    with pytest.raises(ValueError, match="learner.buffer must be 'mac_cert' for algo 'mac_iaicc'"):
        LearnerConfig(algo="mac_iaicc", buffer="mac_jert", atpg=False, agent_net=PLAIN)
    with pytest.raises(ValueError, match="agent_net.temporal=false"):
        LearnerConfig(algo="mac_cen_ddrqn", buffer="mac_jert", atpg=False)
    with pytest.raises(ValueError, match="learner.critic must be one of"):
        LearnerConfig(algo="mac_cac", buffer="mac_jert", atpg=False, agent_net=PLAIN, critic="joint")
    with pytest.raises(ValueError, match="mac_cert"):
        LearnerConfig(buffer="mac_cert")
    with pytest.raises(ValueError, match="learner.td_lambda=null"):
        LearnerConfig(algo="mac_iac", buffer="mac_cert", atpg=False, agent_net=PLAIN, td_lambda=0.8)
    assert dataclasses.replace(LearnerConfig(algo="mac_cac", buffer="mac_jert", atpg=False, agent_net=PLAIN)).policy \
        == "central_stochastic"


def test_actor_gradient_is_taken_through_the_epsilon_mixture_the_rollouts_sampled():
    """With the rollouts' epsilon in the batch the actor differentiates log((1 - eps) pi + eps / |valid|): at
    eps = 1 the behaviour is uniform whatever the actor says, so the actor gets no gradient."""
    from asyncmarl.learner.families.actor_critic import behaviour_log_probs

    logp = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), -1)
    avail = torch.tensor([[True, True, False]])
    mixed = behaviour_log_probs(logp, avail, {"epsilon": torch.tensor([0.5])})
    want = torch.log(0.5 * logp.exp() + 0.5 * avail / 2.0)
    torch.testing.assert_close(mixed, want)
    assert behaviour_log_probs(logp, avail, {}) is logp
    lrn = learner("mac_iaicc", lr=1e-3)
    batch = figure1_batch("mac_cert")
    before = [p.clone() for p in lrn.online["agent"].parameters()]
    lrn.update({**batch, "epsilon": torch.ones(1)})
    assert all(torch.equal(a, p) for a, p in zip(before, lrn.online["agent"].parameters(), strict=True))
    lrn.update({**batch, "epsilon": torch.full((1,), 0.5)})
    assert not all(torch.equal(a, p) for a, p in zip(before, lrn.online["agent"].parameters(), strict=True))
