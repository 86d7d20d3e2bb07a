"""Preset files: YAML run configurations in ``cluster/configs/``, chained with ``base:``.

Three kinds of files, one format (sections of :class:`asyncmarl.cluster.config.RunConfig`):

- ``families/<family>.yaml``: what a scenario family shares (the paper's table rows common to its columns and
  our run loop);
- ``scenarios/<scenario>.yaml``: one scenario (``base: families/...``, ``env.scenario``, the table's column
  for it, the budget);
- ``methods/<method>.yaml``: one algorithm or ablation (``learner`` keys only), with ``applies_to`` naming the
  scenario families (``macro``, ``offbeat``) it is meant for and ``label`` its name in study reports.

The run preset ``<scenario>_<method>`` (``wtde_tomacvf``, ``boxpushing6_avf``, ``staghunter_qmix_legem``) is
the scenario file with the method file merged on top, exactly as if a file said
``base: [scenarios/<scenario>, methods/<method>]``. Where the method's own reference scripts give values for
that scenario (MacroMARL's ``experiments/*.sh`` for Xiao et al.'s baselines: copies, episodes per update, learning
rates, target frequency, TD steps), ``reference/<scenario>_<method>.yaml`` is that preset instead: the same
``base:`` with the script's values on top. Files at the top of ``cluster/configs/`` are run presets of their own
(``tiny``). ``base:`` names a preset or a YAML path, or a list of them merged in order.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asyncmarl.cluster.validation import ConfigError

PRESET_DIR = Path(__file__).resolve().parent / "configs"
SCENARIO_DIR, METHOD_DIR, FAMILY_DIR = "scenarios", "methods", "families"
REFERENCE_DIR = "reference"  # <scenario>_<method> presets carrying the method's reference-script values
META_KEYS = ("base", "applies_to", "label")  # preset-file keys that are not config fields


def parse_yaml(text: str, source: str) -> Any:
    """``text`` as an OmegaConf mapping; :class:`ConfigError` naming ``source`` (and the line) when it is not
    YAML or not a mapping of sections."""
    try:
        plain = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"config file {source}: not valid YAML{where}: {problem}") from None
    if plain is None:
        return OmegaConf.create({})
    if not isinstance(plain, dict):
        raise ConfigError(f"config file {source}: must be a mapping of sections (seed, env, learner, ...), got a "
                          f"YAML {type(plain).__name__}")
    try:
        return OmegaConf.create(text)
    except (yaml.YAMLError, OmegaConfBaseException) as e:
        raise ConfigError(f"config file {source}: {str(e).splitlines()[0]}") from None


def _natural(name: str) -> list:
    """Sort key putting boxpushing6 before boxpushing10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _stems(folder: str) -> list[str]:
    return sorted((p.stem for p in (PRESET_DIR / folder).glob("*.yaml")), key=_natural)


@cache
def _file_meta(path: Path, mtime: float) -> tuple[str | None, tuple[str, ...], str | None]:
    """(env.scenario, applies_to, label) of a shipped scenario or method file (cached per modification time)."""
    node = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    scenario = (node.get("env") or {}).get("scenario")
    applies = node.get("applies_to") or ()
    return scenario, tuple([applies] if isinstance(applies, str) else applies), node.get("label")


def _meta(folder: str, stem: str) -> tuple[str | None, tuple[str, ...], str | None]:
    path = PRESET_DIR / folder / f"{stem}.yaml"
    return _file_meta(path, path.stat().st_mtime)


def scenario_presets() -> dict[str, str]:
    """``{preset stem: scenario name}`` of ``scenarios/*.yaml`` (``wtde`` -> ``wtd-e``)."""
    return {s: _meta(SCENARIO_DIR, s)[0] for s in _stems(SCENARIO_DIR)}


def method_presets() -> dict[str, tuple[str, ...]]:
    """``{method: scenario families it applies to}`` of ``methods/*.yaml``."""
    return {m: _meta(METHOD_DIR, m)[1] for m in _stems(METHOD_DIR)}


def method_label(method: str) -> str:
    """The method's name in reports (its file's ``label``, else the method name)."""
    return _meta(METHOD_DIR, method)[2] or method


def composed_presets() -> dict[str, tuple[str, str]]:
    """``{"<scenario>_<method>": (scenario stem, method)}`` for every method meant for the scenario's family."""
    from asyncmarl.platform.envs import names, spec

    known = set(names())
    out = {}
    methods = method_presets()
    for stem, scenario in scenario_presets().items():
        family = spec(scenario).family if scenario in known else None
        for method, applies in methods.items():
            if family in applies:
                out[f"{stem}_{method}"] = (stem, method)
    return out


def reference_presets() -> list[str]:
    """Names of the ``<scenario>_<method>`` presets that ``reference/`` gives the method's reference-script values."""
    return _stems(REFERENCE_DIR)


def presets() -> list[str]:
    """Names of the run presets: every ``<scenario>_<method>`` and the files at the top of cluster/configs/."""
    return sorted(set(composed_presets()) | set(reference_presets()) | {p.stem for p in PRESET_DIR.glob("*.yaml")})


def _unknown(name: str) -> str:
    """The error for a name that is neither a file nor a preset: what the run presets are made of."""
    scenarios, methods = scenario_presets(), method_presets()
    stem, _, method = name.partition("_")
    if stem in scenarios and method in methods:
        from asyncmarl.platform.envs import spec

        return (f"preset {name!r}: method {method!r} is meant for {list(methods[method])} scenarios and "
                f"{scenarios[stem]} is {spec(scenarios[stem]).family!r}; `asyncmarl list` shows the presets")
    top = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    return (f"config {name!r} is neither a file nor a preset; presets: <scenario>_<method> (e.g. "
            f"boxpushing6_tomacvf) with scenario one of {sorted(scenarios)} and method one of {sorted(methods)} "
            f"where the method is meant for the scenario's family (`asyncmarl list`), or one of {top}")


def _path_of(preset_or_path: str) -> Path | None:
    path = Path(preset_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{preset_or_path}.yaml"
        if not path.is_file() and "/" not in preset_or_path:
            path = PRESET_DIR / REFERENCE_DIR / f"{preset_or_path}.yaml"
    return path if path.is_file() else None


def _read_file(path: Path) -> Any:
    """A fresh node of a YAML file; shipped presets are parsed once per modification time (loading every preset,
    as `asyncmarl list` checks and tests do, would otherwise spend most of its time in the YAML parser)."""
    if path.resolve().is_relative_to(PRESET_DIR):
        return OmegaConf.create(_parsed_preset(path.resolve(), path.stat().st_mtime))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path}: cannot be read: {e}") from None
    return parse_yaml(text, str(path))


@cache
def _parsed_preset(path: Path, mtime: float) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path}: cannot be read: {e}") from None
    return OmegaConf.to_container(parse_yaml(text, str(path)))


def read_layers(preset_or_path: str, seen: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """``[(source, node)]`` of a preset or YAML file and its ``base:`` chain, in merge order (bases first);
    ``source`` is the file's path relative to cluster/configs/ for shipped files. Meta keys are removed."""
    path = _path_of(preset_or_path)
    if path is None:
        parts = composed_presets().get(preset_or_path)
        if parts is None:
            raise ConfigError(_unknown(preset_or_path))
        return (read_layers(f"{SCENARIO_DIR}/{parts[0]}", seen + (preset_or_path,))
                + read_layers(f"{METHOD_DIR}/{parts[1]}", seen + (preset_or_path,)))
    node = _read_file(path)
    base = node.pop("base", None)
    for key in META_KEYS[1:]:
        node.pop(key, None)
    try:
        source = str(path.relative_to(PRESET_DIR).with_suffix(""))
    except ValueError:
        source = str(path)
    if base is None:
        return [(source, node)]
    bases = list(base) if OmegaConf.is_list(base) else [base]
    if not bases or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"config file {path}: 'base' must name a preset or YAML file (or a list of them), "
                          f"got {OmegaConf.to_container(base) if OmegaConf.is_list(base) else base!r}")
    layers = []
    for b in bases:
        if b in seen:
            raise ConfigError(f"config {path}: preset cycle through {b!r}")
        layers += read_layers(b, seen + (b,))
    return layers + [(source, node)]
