"""The Mac-JERT view against a brute-force squeeze of random scripted episodes (random durations, rewards,
lengths and discounts)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments


@settings(max_examples=20, deadline=None)
@given(
    durations=st.lists(st.lists(st.integers(1, 5), min_size=3, max_size=3), min_size=2, max_size=3),
    rewards=st.lists(st.integers(-8, 8), min_size=1, max_size=7),
    horizon=st.integers(1, 14),
    gamma=st.sampled_from([0.5, 0.75, 1.0]),
    seed=st.integers(0, 1000),
)
def test_mac_jert_matches_a_brute_force_squeeze(durations, rewards, horizon, gamma, seed):
    s = ScriptedSettings(n_agents=len(durations), n_actions=3, horizon=horizon, durations=tuple(map(tuple, durations)),
                         rewards=tuple(float(r) for r in rewards))
    segs, trajs = scripted_segments(s, batch_size=2, steps=horizon, gamma=gamma, seed=seed)
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=gamma), seed=0)
    assert shard.add(segs) == 2
    shard.sample(2)  # a Mac-SJERT draw first: the Mac-JERT draw below comes from the RNG state after one
    jt = shard.sample(2, view="mac_jert")
    by_id = {t["episode_id"]: t for t in trajs}
    for b, eid in enumerate(jt["episode_id"].tolist()):
        tr = by_id[eid]
        T, r, ch = tr["length"], tr["reward"].astype(np.float64), tr["choosing"]
        kept = [0] + [t for t in range(1, T) if ch[t].any()] + [T]
        Lq = len(kept) - 1
        assert jt["filled"][b].sum() == Lq and jt["t"][b, : Lq + 1].tolist() == kept
        for g in range(Lq):
            a, z = kept[g], kept[g + 1]
            assert jt["reward"][b, g].item() == np.float32(sum(gamma ** (t - a) * r[t] for t in range(a, z)))
            assert jt["discount"][b, g].item() == np.float32(gamma ** (z - a))
            np.testing.assert_array_equal(jt["obs"][b, g].numpy(), tr["obs"][a])
            np.testing.assert_array_equal(jt["actions"][b, g].numpy(), tr["actions"][a])
        # each action is credited with the squeezed reward of the transition it ended in
        m = jt["seg_mask"][b] > 0
        ends = jt["seg_end"][b][m]
        np.testing.assert_array_equal(jt["seg_return"][b][m].numpy(), jt["reward"][b, ends].numpy())
