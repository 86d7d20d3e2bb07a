"""Monotonic mixing (dQ_tot/dQ_i >= 0) under random ATPG parameters, and To-Mac-IGM on a small joint space."""
import itertools

import pytest
import torch

from asyncmarl.learner.atpg import ATPG
from asyncmarl.learner.config import AtpgConfig
from asyncmarl.learner.mixers import QMixer, VDNMixer, make_mixer
from asyncmarl.learner.targets import conditional_argmax

N, A, S, F = 3, 4, 7, 9


def _atpg_params(mixer, seed, B=5, L=6):
    torch.manual_seed(seed)
    atpg = ATPG(AtpgConfig(embed_dim=16, delta=0.1), F, S, mixer.first_width)
    for p in atpg.parameters():  # random parameters, well away from the initialisation's scale
        p.data.normal_(0, 1.0)
    feats, state = torch.randn(B, L, N, F), torch.randn(B, L, S)
    return atpg(feats, state), state


@pytest.mark.parametrize("name", ["qmix", "vdn"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqtot_dqi_nonnegative_with_random_atpg(name, seed):
    mixer = make_mixer(name, N, A, S, embed_dim=8)
    (w1, b1), state = _atpg_params(mixer, seed)
    assert (w1 >= 0).all() and (b1 >= 0).all()
    qs = (torch.randn(*state.shape[:-1], N) * 5).requires_grad_(True)
    q_tot = mixer(qs, state, first=(w1, b1))
    (grad,) = torch.autograd.grad(q_tot.sum(), qs)
    assert (grad >= 0).all()
    assert (grad > 0).any()


def test_qmix_hypernetworks_alone_are_monotonic():
    torch.manual_seed(3)
    mixer = QMixer(N, S, embed_dim=8)
    qs = torch.randn(64, N, requires_grad=True)
    (grad,) = torch.autograd.grad(mixer(qs, torch.randn(64, S)).sum(), qs)
    assert (grad >= 0).all()


@pytest.mark.parametrize("name", ["qmix", "vdn", "qplex"])
@pytest.mark.parametrize("seed", range(4))
def test_to_mac_igm_on_small_joint_space(name, seed):
    """3 agents x 4 actions, agent 1 mid-action: the argmax of Q_tot over the choosing agents' joint actions
    (agent 1 keeps its running action) equals the choosing agents' individual argmaxes."""
    torch.manual_seed(seed)
    mixer = make_mixer(name, N, A, S, embed_dim=8)
    q_i = torch.randn(N, A) * 3  # Q_i(h, ., t_m): choosing agents at t_m = 0, agent 1 at its elapsed time
    choosing = torch.tensor([True, False, True])
    running = torch.tensor([0, 2, 0])
    state = torch.randn(S)
    first = None
    if name != "qplex":
        (w1, b1), _ = _atpg_params(mixer, seed, B=1, L=1)
        first = (w1[0, 0], b1[0, 0])
    best, best_joint = -float("inf"), None
    for a0, a2 in itertools.product(range(A), range(A)):
        joint = torch.tensor([a0, running[1], a2])
        qs = q_i.gather(1, joint[:, None]).squeeze(1)
        vs = torch.where(choosing, q_i.max(1).values, qs)
        with torch.no_grad():
            q_tot = float(mixer(qs, state, vs=vs, actions=torch.nn.functional.one_hot(joint, A).float(), first=first))
        if q_tot > best:
            best, best_joint = q_tot, joint
    expected = conditional_argmax(q_i, torch.ones(N, A, dtype=torch.bool), choosing, running)
    assert expected[1] == running[1]
    assert torch.equal(best_joint, expected)


def test_vdn_without_atpg_is_the_sum():
    qs = torch.randn(4, N)
    torch.testing.assert_close(VDNMixer()(qs, torch.zeros(4, S)), qs.sum(-1, keepdim=True))
