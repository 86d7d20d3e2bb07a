"""The one declaration of the data the roles exchange: every per-step field a rollout worker's segments carry,
the compact dtype replay stores it in, and every key of the padded episode batch replay hands the learner, with
its dtype, shape and the views that carry it. Rollout workers, replay and the learner derive their field lists,
dtypes and shape checks from :data:`FIELDS`; nothing else lists them.

Row convention: row ``t`` of an episode holds what the agents saw at time ``t`` *before* acting (``OBS_ROWS``
fields: ``state``, ``obs``, ``real_obs``, ``action_mask``, ``choosing``) and what happened during step ``t``
(``STEP_ROWS`` fields: ``actions``, ``elapsed``, ``reward``). An episode of ``T`` steps has ``T`` step rows plus
one final observation row ``T``. In a batch ``T`` is the longest episode (or window) in it; shorter ones are
zero-padded and masked by ``filled``. The Mac-JERT view keeps the same keys over the squeezed steps (see
``memory_service/replay/mac_jert.py``); the Mac-CERT view is the Mac-JERT batch plus per-agent tables over its
rows (each agent's own decision rows are a subsequence of the kept rows; ``memory_service/replay/mac_cert.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENT = "segment"  # carried per step by Segment.steps (and, for OBS_ROWS fields, by Segment.final)
MAC_SJERT, MAC_JERT, MAC_CERT = "mac_sjert", "mac_jert", "mac_cert"  # batch views over the same episodes
VIEWS = (MAC_SJERT, MAC_JERT, MAC_CERT)
_BOTH = frozenset(VIEWS)  # every view
_SQUEEZED = frozenset({MAC_JERT, MAC_CERT})  # views over the squeezed (Mac-JERT) rows

OBS_ROWS = "obs"  # leading axes [B, T+1] in a batch, [L] in a segment: observation rows (row T after the last step)
STEP_ROWS = "step"  # [B, T] in a batch, [L] in a segment: one row per step
EPISODE = "episode"  # [B]: one value (or one segment table) per batch row

K = "K"  # trailing axis of the segment tables: actions per agent in the batch (the largest count, padded)


@dataclass(frozen=True)
class Field:
    """One field of the data path."""

    name: str  # key in Segment.steps and in the batch
    dtype: str  # numpy dtype a segment carries and a batch hands out
    shape_tail: tuple[str, ...] = ()  # axes after the leading ones, named by EnvInfo attributes (or K)
    per_agent: bool = False  # the first trailing axis is the agent axis
    rows: str = STEP_ROWS  # leading axes: OBS_ROWS, STEP_ROWS or EPISODE
    views: frozenset = _BOTH  # where it travels: SEGMENT and/or the batch views
    stored: str | None = None  # compact dtype replay stores it in; None: built when a batch is built
    learner: frozenset = frozenset()  # batch views in which the learner needs it
    optional: bool = False  # the learner also reads it whenever a batch carries it
    doc: str = ""  # meaning, for the layout table

    def lead(self, B: int, T: int) -> tuple[int, ...]:
        """Leading axes of this field in a batch of ``B`` rows and ``T`` steps."""
        return {OBS_ROWS: (B, T + 1), STEP_ROWS: (B, T), EPISODE: (B,)}[self.rows]

    def tail(self, dims: dict[str, int]) -> tuple[int, ...]:
        """Trailing axes with their sizes from ``dims`` (EnvInfo attribute names, and K)."""
        return tuple(int(dims[d]) for d in self.shape_tail)

    @property
    def is_segment_table(self) -> bool:
        """A per-agent segment table ``[B, n_agents, K]``."""
        return K in self.shape_tail


_SEG_IN = frozenset({SEGMENT}) | _BOTH
_AGENTS = ("n_agents",)

FIELDS: tuple[Field, ...] = (
    # what rollout workers record each step; replay stores each joint row once
    Field("state", "float32", ("state_dim",), False, OBS_ROWS, _SEG_IN, "float32", _BOTH,
          doc="global state s_t (row T: after the last step)"),
    Field("obs", "float32", ("n_agents", "obs_dim"), True, OBS_ROWS, _SEG_IN, "float32", _SQUEEZED,
          doc="macro-observations (frozen while an action runs)"),
    Field("real_obs", "float32", ("n_agents", "obs_dim"), True, OBS_ROWS, _SEG_IN, "float32",
          frozenset({MAC_SJERT}), doc="real observations of step t (what Mac-SJERT adds)"),
    Field("action_mask", "bool", ("n_agents", "n_actions"), True, OBS_ROWS, _SEG_IN, "bool", _BOTH,
          doc="actions each agent may choose at t"),
    Field("choosing", "bool", _AGENTS, True, OBS_ROWS, _SEG_IN, "bool", _BOTH, doc="agent picks a new action at t"),
    Field("actions", "int64", _AGENTS, True, STEP_ROWS, _SEG_IN, "int16", _BOTH,
          doc="joint action executed during step t (stored compact: < 2^15)"),
    Field("elapsed", "int64", _AGENTS, True, STEP_ROWS, _SEG_IN, "int32", _BOTH,
          doc="steps each agent's action had run before t (t_m)"),
    Field("reward", "float32", (), False, STEP_ROWS, _SEG_IN, "float32", _BOTH, doc="joint reward r_t"),
    # built by replay when a batch is built
    Field("action_end", "bool", _AGENTS, True, STEP_ROWS, doc="that agent's action ends at t (== choosing[:, 1:])"),
    Field("terminated", "float32", learner=_BOTH, doc="1 at the step that finished the task"),
    Field("filled", "float32", learner=_BOTH, doc="1 on real steps, 0 on padding"),
    Field("t", "int64", (), False, OBS_ROWS, learner=_SQUEEZED, optional=True,
          doc="absolute step of each row (windows, Mac-JERT); keeps counting on padding"),
    Field("burn_in", "float32", optional=True, doc="1 on warm-up steps before a window (no loss there)"),
    Field("discount", "float32", views=_SQUEEZED, learner=_SQUEEZED,
          doc="gamma ** (steps to the next kept step)"),
    Field("seg_start", "int64", ("n_agents", K), True, EPISODE, learner=frozenset({MAC_SJERT, MAC_CERT}),
          doc="start step of agent i's k-th action"),
    Field("seg_end", "int64", ("n_agents", K), True, EPISODE, learner=frozenset({MAC_SJERT, MAC_CERT}),
          doc="end step (inclusive)"),
    Field("seg_return", "float32", ("n_agents", K), True, EPISODE, learner=frozenset({MAC_SJERT}),
          doc="R_m of that action (ToMacVF eq. 5)"),
    Field("seg_mask", "float32", ("n_agents", K), True, EPISODE, learner=frozenset({MAC_SJERT, MAC_CERT}),
          doc="1 for real segments"),
    # the Mac-CERT view: agent i's k-th action runs squeezed rows seg_start..seg_end, it decides again at row
    # seg_end + 1 (the tables above, re-indexed to squeezed rows as in the Mac-JERT view)
    Field("cert_return", "float32", ("n_agents", K), True, EPISODE, views=frozenset({MAC_CERT}),
          learner=frozenset({MAC_CERT}), doc="r_i: the joint reward accumulated over agent i's action, discounted "
                                             "from its start (Mac-CERT)"),
    Field("cert_discount", "float32", ("n_agents", K), True, EPISODE, views=frozenset({MAC_CERT}),
          learner=frozenset({MAC_CERT}), doc="gamma ** (primitive steps agent i's action ran)"),
    Field("episode_id", "int64", (), False, EPISODE, doc="the episode each batch row comes from"),
    Field("policy_version", "int64", (), False, EPISODE, optional=True,
          doc="oldest policy version that chose an action in the episode (on-policy batches)"),
    Field("epsilon", "float32", (), False, EPISODE, views=frozenset(), optional=True,
          doc="exploration rate the behaviour policy mixed in (added to on-policy batches by the learner host)"),
    Field("weight", "float32", (), False, EPISODE, optional=True,
          doc="importance weights (prioritised sampler only)"),
    # added to a batch by LeGEM
    Field("reward_redistributed", "float32", optional=True,
          doc="LeGEM's redistributed rewards (learner.legem only)"),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
SEGMENT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if SEGMENT in f.views)  # Segment.steps, in row order
STEP_FIELDS: tuple[str, ...] = tuple(f.name for f in SEGMENT_FIELDS)  # every key of Segment.steps
FINAL_FIELDS: tuple[str, ...] = tuple(f.name for f in SEGMENT_FIELDS if f.rows == OBS_ROWS)  # Segment.final
ACTION_FIELDS: tuple[str, ...] = tuple(f.name for f in SEGMENT_FIELDS if f.rows == STEP_ROWS)  # one row per step
STORED_DTYPES: dict[str, np.dtype] = {f.name: np.dtype(f.stored) for f in SEGMENT_FIELDS}
BATCH_DTYPES: dict[str, np.dtype] = {f.name: np.dtype(f.dtype) for f in FIELDS}


def learner_fields(view: str, segments: bool) -> tuple[Field, ...]:
    """Fields the learner needs from a ``view`` batch (segment tables only with ``segments``: macro-TD; a
    Mac-CERT batch always carries its tables)."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    segments = segments or view == MAC_CERT
    return tuple(f for f in FIELDS if view in f.learner and (segments or not f.is_segment_table))


def layout_table() -> str:
    """The batch layout as a text table (key, shape, dtype, views, meaning), for docs and error messages."""
    lead = {OBS_ROWS: "B, T+1", STEP_ROWS: "B, T", EPISODE: "B"}
    rows = []
    for f in FIELDS:
        if f.views and not set(VIEWS) & f.views:  # carried by segments only
            continue
        shape = "[" + ", ".join([lead[f.rows], *f.shape_tail]) + "]"
        views = "all" if _BOTH <= f.views else "/".join(v for v in VIEWS if v in f.views) or "(added)"
        rows.append(f"{f.name:<21} {shape:<28} {f.dtype:<8} {views:<19} {f.doc}")
    return "\n".join(rows)
