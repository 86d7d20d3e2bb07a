"""LeGEM settings: one frozen dataclass; every bad value raises a ValueError naming ``legem.<field>``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

SCHEMES = ("I", "II")
KEYS = ("exact", "simhash", "auto")
OBS_FIELDS = ("real_obs", "obs")
SCHEME1_COUNTS = ("graph", "subgraph")
RANKINGS = ("ended", "all")
SCHEME2_PATHS = ("most_visited", "own")


@dataclass(frozen=True)
class LegemConfig:
    """How LeGEM builds its levelled graphs, searches pivots and redistributes rewards.

    Fields marked (our design) fill gaps the paper leaves open; see docs/legem.md. A training run builds the
    memory when ``learner.legem`` is true (one switch: the learner then trains on its redistributed rewards).
    """

    scheme: str = "II"  # pivot search: "I" (UL/LU over capped paths) or "II" (most-visited path, O(t))
    beta: float = 0.01  # share of a moved reward left at its own step (paper eq. 2)
    key: str = "auto"  # node keys: "exact" bytes, "simhash" signs of a seeded projection, "auto" (by obs_dim)
    exact_max_dim: int = 64  # (our design) "auto" uses exact keys when obs_dim <= this, SimHash above
    simhash_bits: int = 32  # k, bits of the SimHash sign pattern
    seed: int = 0  # seed of the SimHash Gaussian projection (keys are stable across processes)
    return_edges: tuple = (0.0,)  # Upsilon: bucket omega = number of edges strictly below the episode return
    node_cap: int = 200_000  # (our design) most nodes kept over all graphs; least-visited are evicted beyond
    evict_fraction: float = 0.1  # (our design) share of node_cap freed per eviction, so eviction is amortised
    path_cap: int = 16  # (our design) Scheme I examines at most this many paths, best-first by edge visits
    obs_field: str = "real_obs"  # observation the keys use: "real_obs" (moves while busy) or "obs" (frozen)
    scheme1_counts: str = "graph"  # (our design) Scheme I reads visits of the whole graph phi^l or its sub-graph
    scheme2_normalise: bool = True  # (our design) Scheme II ranks nodes by sub-graph / graph visits (False: raw)
    commit_only: bool = True  # (our design) a pivot must be a step where the agent committed a non-wait action
    ranking: str = "ended"  # (our design) eq. 1 ranks the agents whose action ended at t ("ended") or every agent
    scheme2_path: str = "own"  # (our design) Scheme II walks the episode's "own" path or the "most_visited" (paper)

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"legem.scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.key not in KEYS:
            raise ValueError(f"legem.key must be one of {KEYS}, got {self.key!r}")
        if self.obs_field not in OBS_FIELDS:
            raise ValueError(f"legem.obs_field must be one of {OBS_FIELDS}, got {self.obs_field!r}")
        if self.scheme2_path not in SCHEME2_PATHS:
            raise ValueError(f"legem.scheme2_path must be one of {SCHEME2_PATHS}, got {self.scheme2_path!r}")
        if self.ranking not in RANKINGS:
            raise ValueError(f"legem.ranking must be one of {RANKINGS}, got {self.ranking!r}")
        if self.scheme1_counts not in SCHEME1_COUNTS:
            raise ValueError(f"legem.scheme1_counts must be one of {SCHEME1_COUNTS}, got {self.scheme1_counts!r}")
        if not (isinstance(self.beta, (int, float)) and 0.0 <= float(self.beta) <= 1.0):
            raise ValueError(f"legem.beta must be a number in [0, 1], got {self.beta!r}")
        for name, low in (("exact_max_dim", 0), ("simhash_bits", 1), ("node_cap", 1), ("path_cap", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"legem.{name} must be an int >= {low}, got {v!r}")
        if not 0.0 < float(self.evict_fraction) <= 1.0:
            raise ValueError(f"legem.evict_fraction must be in (0, 1], got {self.evict_fraction!r}")
        edges = tuple(float(e) for e in np.atleast_1d(np.asarray(self.return_edges, dtype=np.float64)))
        if any(b <= a for a, b in pairwise(edges)):
            raise ValueError(f"legem.return_edges must be strictly increasing, got {self.return_edges!r}")
        object.__setattr__(self, "return_edges", edges)
        for name in ("scheme2_normalise", "commit_only"):
            if getattr(self, name) not in (True, False):  # bools (and 0 / 1), nothing else
                raise ValueError(f"legem.{name} must be true or false, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))

    @property
    def n_buckets(self) -> int:
        """Number of return buckets (sub-graphs per graph)."""
        return len(self.return_edges) + 1

    def bucket(self, episode_return: float) -> int:
        """Sub-graph index omega of an episode return: how many edges lie strictly below it."""
        return int(np.searchsorted(np.asarray(self.return_edges), float(episode_return), side="left"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
