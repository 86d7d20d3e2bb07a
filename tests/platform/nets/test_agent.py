"""The agent network: acting step by step reproduces the training unroll; update masks freeze hidden states."""
import pytest
import torch

from asyncmarl.platform.envs.base import EnvInfo
from asyncmarl.platform.nets import AgentNet, AgentNetConfig, make_agent_net

INFO = EnvInfo("toy", n_agents=3, n_actions=4, obs_dim=5, state_dim=7, horizon=20)


def _episode(B=2, T=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, A = INFO.n_agents, INFO.n_actions
    return {
        "real_obs": torch.randn(B, T + 1, n, INFO.obs_dim, generator=g),
        "actions": torch.randint(0, A, (B, T, n), generator=g),
        "elapsed": torch.randint(0, 3, (B, T, n), generator=g),
        "choosing": torch.rand(B, T + 1, n, generator=g) < 0.5,
    }


@pytest.mark.parametrize("temporal", [True, False])
def test_act_steps_match_unroll(temporal):
    torch.manual_seed(0)
    net = make_agent_net(AgentNetConfig(hidden_dim=16, embed_dim=16, pe_dim=8, temporal=temporal), INFO)
    ep = _episode()
    B, T = ep["actions"].shape[:2]
    q_unroll = net.unroll(ep, "mac_sjert")  # [B, T+1, n, A]
    assert q_unroll.shape == (B, T + 1, INFO.n_agents, INFO.n_actions)
    h = net.initial_hidden(B)
    prev_a = torch.full((B, INFO.n_agents), -1)
    prev_e = torch.zeros(B, INFO.n_agents, dtype=torch.long)
    for t in range(T + 1):
        q, h = net.act(ep["real_obs"][:, t], prev_a, prev_e, torch.full((B,), t), h)
        # act values are for choosing (t_m = 0): compare where the unroll also evaluates at t_m = 0
        at_zero = ep["choosing"][:, t].clone()
        if not temporal:
            at_zero = torch.ones_like(at_zero)
        torch.testing.assert_close(q[at_zero], q_unroll[:, t][at_zero], atol=1e-5, rtol=1e-5)
        if t < T:
            prev_a, prev_e = ep["actions"][:, t], ep["elapsed"][:, t]


def test_update_mask_keeps_hidden_and_missing_action_is_zero():
    torch.manual_seed(1)
    net = AgentNet(AgentNetConfig(hidden_dim=8, embed_dim=8), INFO)
    h = torch.randn(2, 3, 8)
    obs = torch.randn(2, 3, 5)
    upd = torch.tensor([[True, False, True], [False, False, True]])
    _, h1 = net.act(obs, torch.full((2, 3), -1), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long),
                    h, upd)
    torch.testing.assert_close(h1[~upd], h[~upd])
    assert not torch.allclose(h1[upd], h[upd])
    x = net.features(obs, torch.full((2, 3), -1), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    start = INFO.obs_dim + net.cfg.pe_dim
    assert torch.all(x[..., start:start + INFO.n_actions] == 0)


def test_temporal_head_depends_on_elapsed_only_when_temporal():
    torch.manual_seed(2)
    h = torch.randn(4, 3, 16)
    for temporal in (True, False):
        net = AgentNet(AgentNetConfig(hidden_dim=16, temporal=temporal), INFO)
        q0 = net.q_values(h, torch.zeros(4, 3, dtype=torch.long))
        q5 = net.q_values(h, torch.full((4, 3), 5))
        assert torch.allclose(q0, q5) != temporal


def test_config_errors_name_field():
    with pytest.raises(ValueError, match="agent_net.pe_dim"):
        AgentNetConfig(pe_dim=3)
    with pytest.raises(ValueError, match="agent_net.hidden_dim"):
        AgentNetConfig(hidden_dim=0)
