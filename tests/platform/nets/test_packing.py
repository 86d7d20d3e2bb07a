"""RowPacking: which rows of a padded episode batch are kept, in which order, and the round trip."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from asyncmarl.platform.nets.packing import RowPacking


def test_rows_are_time_major_longest_first_like_packed_sequences():
    rows = torch.tensor([2, 4, 1, 4])  # real rows per episode, of L = 5
    p = RowPacking(rows, 5)
    assert p.steps == (4, 3, 2, 2)  # episodes with a row 0, 1, 2, 3 (none has a row 4)
    assert p.R == 11
    # step 0: episodes 1, 3 (4 rows), 0 (2 rows), 2 (1 row); step 1: 1, 3, 0; steps 2-3: 1, 3
    want = [(1, 0), (3, 0), (0, 0), (2, 0), (1, 1), (3, 1), (0, 1), (1, 2), (3, 2), (1, 3), (3, 3)]
    assert p.index.tolist() == [b * 5 + t for b, t in want]
    x = torch.arange(4 * 5).view(4, 5) * 10
    assert p.pack(x).tolist() == [10 * (b * 5 + t) for b, t in want]
    # the same order as torch's PackedSequence of the padded batch (time-major, sorted by length)
    ref = pack_padded_sequence(x.t(), rows, enforce_sorted=False)
    assert ref.batch_sizes.tolist() == list(p.steps)
    assert torch.equal(ref.data, p.pack(x))


def test_unpack_puts_rows_back_with_zeros_on_padding_and_gradients_flow():
    rows = torch.tensor([3, 1, 2])
    p = RowPacking(rows, 4)
    x = torch.randn(3, 4, 2, 5, requires_grad=True)
    back = p.unpack(p.pack(x))
    keep = (torch.arange(4) < rows.unsqueeze(1))[..., None, None]  # [B, L, 1, 1]
    assert torch.equal(back, torch.where(keep, x, 0.0))
    back.sum().backward()
    assert torch.equal(x.grad, keep.expand_as(x).float())


def test_of_batch_keeps_each_episodes_steps_and_final_row():
    filled = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])  # lengths 3, 1, 4
    p = RowPacking.of_batch(filled)
    assert (p.B, p.L, p.R) == (3, 5, 4 + 2 + 5)
    assert p.steps == (3, 3, 2, 2, 1)
    assert RowPacking.of_batch(torch.ones(3, 4)) is None  # no padding: nothing to skip
    assert RowPacking.of_batch(torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])) is None  # not a prefix


def test_bad_row_counts_are_refused():
    for rows in (torch.tensor([0, 2]), torch.tensor([2, 6]), torch.ones(2, 2)):
        with pytest.raises(ValueError, match="rows per episode must be a \\[B\\] tensor of values in 1..5"):
            RowPacking(rows, 5)


def test_agent_network_on_packed_rows_equals_the_padded_unroll_on_real_rows():
    from asyncmarl.platform.envs.base import EnvInfo
    from asyncmarl.platform.nets import AgentNetConfig, make_agent_net

    info = EnvInfo("toy", n_agents=3, n_actions=4, obs_dim=5, state_dim=7, horizon=20)
    torch.manual_seed(0)
    net = make_agent_net(AgentNetConfig(hidden_dim=16, embed_dim=16, pe_dim=8), info)
    feats = torch.randn(4, 9, 3, net.input_dim)
    p = RowPacking(torch.tensor([9, 2, 5, 9]), 9)
    dense = net.hiddens_from_features(feats)  # [B, L, n, H]
    packed = net.hiddens_from_features(p.pack(feats), p.steps)  # [R, n, H]
    torch.testing.assert_close(packed, p.pack(dense), rtol=1e-5, atol=1e-6)


def test_groups_pad_episodes_of_similar_length_to_their_longest():
    rows = torch.tensor([3, 9, 1, 8, 4, 5, 2])  # ranked: 9 8 5 4 3 2 1
    p = RowPacking(rows, 9)
    # a group takes episodes while they are more than half as long as its first
    assert p.groups == [(0, 3, 9), (3, 5, 4), (5, 6, 2), (6, 7, 1)]
    x = torch.randn(7, 9, 2, requires_grad=True)
    parts = p.to_groups(p.pack(x))
    assert [tuple(g.shape) for g in parts] == [(3, 9, 2), (2, 4, 2), (1, 2, 2), (1, 1, 2)]
    ranked = torch.argsort(rows, descending=True, stable=True)
    for (first, end, _length), g in zip(p.groups, parts, strict=True):
        for j, b in enumerate(ranked[first:end].tolist()):
            torch.testing.assert_close(g[j, :rows[b]], x[b, :rows[b]])  # the episode's rows ...
            assert torch.all(g[j, rows[b]:] == 0)  # ... then zeros up to the group's longest
    back = p.from_groups([g * 2 for g in parts])
    torch.testing.assert_close(back, 2 * p.pack(x))
    back.sum().backward()
    keep = (torch.arange(9) < rows.unsqueeze(1)).unsqueeze(-1).expand_as(x)
    assert torch.equal(x.grad, 2 * keep.float())
