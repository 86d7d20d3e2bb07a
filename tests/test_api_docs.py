"""docs/api.md: generated from docstrings by scripts/gen_api_docs.py; covers environments, roles and configs (with
each field's comment), and the committed page documents the same names the code gives today."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "scripts" / "gen_api_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_page_covers_envs_roles_and_configs():
    gen = _generator()
    text = gen.render()
    names = gen.documented_names(text)
    for name in ("make", "make_batched", "register", "BatchedEnv", "Step", "AsyncParallelEnv", "RolloutResult",
                 "ReplayShard", "RunConfig", "ClusterConfig", "LearnerConfig", "RolloutConfig", "train", "write_gif"):
        assert name in names
    assert "| `scenario` | `str` | `'boxpushing-6'` | a name from `asyncmarl list`" in text  # the field's comment
    assert "| `env` | `EnvConfig` | `EnvConfig()` | see `EnvConfig` |" in text
    assert "Base class for protocol classes" not in text  # a class's own docstring, not one it inherits
    assert not re.search(r"(?<!`)``(?!`)", text)  # docstring ``code`` became Markdown `code`


def test_committed_page_lists_what_the_code_has():
    gen = _generator()
    committed = (ROOT / "docs" / "api.md").read_text()
    assert gen.documented_names(committed) == gen.documented_names(gen.render()), \
        "docs/api.md is stale: run python scripts/gen_api_docs.py"
