"""The paper's per-scenario hyper-parameters (ToMacVF appendix Tables 2-4) shipped as
``learner/presets/<family>.yaml``: a family's ``defaults`` merged with its ``scenarios.<name>`` block."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def families() -> list[str]:
    """Preset files available (scenario families)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def scenario_preset(scenario: str) -> dict:
    """``{"learner": {...}, "rollout": {...}, "replay": {...}}`` for a scenario name such as ``wtd-e``."""
    for family in families():
        node = OmegaConf.load(PRESET_DIR / f"{family}.yaml")
        if scenario in node.get("scenarios", {}):
            merged = OmegaConf.merge(node.get("defaults", {}), node.scenarios[scenario])
            return OmegaConf.to_container(merged)
    known = sorted(s for f in families() for s in OmegaConf.load(PRESET_DIR / f"{f}.yaml").get("scenarios", {}))
    raise ValueError(f"no learner preset for scenario {scenario!r}; presets exist for {known}")


def preset_overrides(scenario: str, blocks: tuple[str, ...] = ("learner", "rollout")) -> list[str]:
    """The preset as ``key=value`` overrides for ``asyncmarl.cluster.config.load_config`` (``replay.batch_size``
    has no ReplayConfig field, so ``replay`` is left out by default)."""
    flat: list[str] = []

    def walk(prefix: str, node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}", v)
        else:
            flat.append(f"{prefix}={node}")

    preset = scenario_preset(scenario)
    for block in blocks:
        walk(block, preset.get(block, {}))
    return flat
