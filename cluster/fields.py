"""What every config field means: its default and the one-line comment it carries in the source.

:func:`field_comments` reads the ``name: type = default  # comment`` lines of a dataclass (``docs/api.md``'s
field tables use it too); :func:`describe` lays out a resolved run config for ``asyncmarl show``: each field's
value, its default, where the value was set (a preset file, an override, or the default) and its meaning.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any


def field_comments(cls) -> dict[str, str]:
    """``{field: comment}`` from the ``name: type = default  # comment`` lines of a dataclass's source.

    A comment too long for one source line goes on in comment-only lines right below, indented deeper than the
    field; they are joined to it with spaces (still one line of meaning).
    """
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    last, indent = None, 0  # the field whose comment the next deeper comment-only line continues
    for line in src.splitlines():
        more = re.match(r"(\s+)#\s*(.*)$", line)
        if last is not None and more and len(more.group(1)) > indent:
            out[last] = f"{out[last]} {more.group(2).strip()}"
            continue
        last = None
        m = re.match(r"(\s+)(\w+)\s*:[^#]*#\s*(.*)$", line)
        if m and m.group(2) not in out:
            out[m.group(2)] = m.group(3).strip()
            last, indent = m.group(2), len(m.group(1))
    return out


@dataclasses.dataclass(frozen=True)
class FieldRow:
    """One leaf field of a resolved config."""

    key: str  # dotted name, e.g. learner.agent_net.hidden_dim
    value: Any  # the resolved value
    default: Any  # the dataclass's default (a scenario setting: the scenario's own value)
    source: str  # where the value was set: a preset file, "override", "default" or "derived from <key>"
    meaning: str  # the field's one-line comment


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def field_rows(cfg: Any, sources: dict[str, str] | None = None, derived: dict[str, str] | None = None,
               prefix: str = "") -> list[FieldRow]:
    """Every leaf field of the dataclass ``cfg`` (nested dataclasses walked) in declaration order.

    ``sources`` maps dotted keys (or a section prefix) to where they were set; ``derived`` maps a derived key to
    its source key."""
    sources, derived = sources or {}, derived or {}
    comments = field_comments(type(cfg))
    rows = []
    for f in dataclasses.fields(cfg):
        key = f"{prefix}{f.name}"
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            rows += field_rows(value, sources, derived, f"{key}.")
            continue
        if key in derived:
            source = f"derived from {derived[key]}"
        else:
            source = next((sources[k] for k in _prefixes(key) if k in sources), "default")
        rows.append(FieldRow(key, value, _default(f), source, comments.get(f.name, "")))
    return rows


def _prefixes(key: str) -> list[str]:
    """``a.b.c`` -> ``[a.b.c, a.b, a]``: a value set as a whole section (``env.settings``) counts for its keys."""
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def layer_sources(layers: list[tuple[str, Any]]) -> dict[str, str]:
    """``{dotted key: source}`` of the last layer that sets each key (layers as ``config_layers`` gives them)."""
    from omegaconf import OmegaConf

    out: dict[str, str] = {}

    def walk(node: Any, prefix: str, source: str) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                walk(v, f"{key}.", source)
            else:
                out[key] = source

    for source, node in layers:
        walk(OmegaConf.to_container(node), "", source)
    return out


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return "null" if value is None else str(value).replace("\n", " ")


def describe(rows: list[FieldRow]) -> list[str]:
    """Aligned text lines: key, value, default, where it was set, meaning; ``*`` marks values that differ from
    the default."""
    head = ("key", "value", "default", "set in", "meaning")
    cells = [(r.key, ("* " if r.value != r.default else "  ") + _text(r.value), _text(r.default), r.source,
              r.meaning) for r in rows]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return [fmt.format(*head).rstrip()] + [fmt.format(*c).rstrip() for c in cells]


def show_lines(preset_or_path: str | None, overrides: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``asyncmarl show``: the layers a preset is merged from, then every field of the resolved config (the
    scenario's settings expanded, with the scenario's own values as their defaults)."""
    from asyncmarl.cluster.config import DERIVED, config_layers, load_config
    from asyncmarl.platform.envs import resolve_settings, spec

    cfg = load_config(preset_or_path, overrides, for_training=False)
    layers = config_layers(preset_or_path, overrides)
    sources = layer_sources(layers)
    rows = []
    for row in field_rows(cfg, sources, DERIVED):
        if row.key != "env.settings":
            rows.append(row)
            continue
        scenario = cfg.env.scenario
        own, resolved = resolve_settings(scenario), resolve_settings(scenario, **cfg.env.settings)
        comments = field_comments(spec(scenario).settings_cls)
        for f in dataclasses.fields(resolved):
            key = f"env.settings.{f.name}"
            rows.append(FieldRow(key, getattr(resolved, f.name), getattr(own, f.name),
                                 sources.get(key, f"scenario {scenario}"), comments.get(f.name, "")))
    chain = " -> ".join(source for source, node in layers if source != "override" or len(node))
    title = f"{preset_or_path or 'defaults'}: {chain or 'dataclass defaults'}"
    return [title, *describe(rows)]
