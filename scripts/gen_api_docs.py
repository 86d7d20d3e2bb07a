"""Write docs/api.md, the reference of asyncmarl's public surface, from the code's docstrings and signatures.

    .venv/bin/python scripts/gen_api_docs.py           # rewrite docs/api.md
    .venv/bin/python scripts/gen_api_docs.py --check   # exit 1 if docs/api.md is not what the code gives

A small ``inspect``-based generator rather than a documentation tool: the established ones write HTML (pdoc) or
bring a build system (Sphinx, MkDocs), and a Markdown page that GitHub shows is all this needs. Config dataclasses
get a table of their fields with type, default and the one-line comment each field carries in the source.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path

from asyncmarl.cluster.fields import field_comments  # also behind `asyncmarl show`

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api.md"

# (section title, one-line summary, [(module, names or None for the module's __all__)])
SECTIONS = [
    ("Environments", "scenarios as batched numpy cores and PettingZoo views; the registry; rendering helpers", [
        ("asyncmarl.platform.envs", None),
        ("asyncmarl.platform.envs.parallel", ["AsyncParallelEnv"]),
        ("asyncmarl.platform.envs.drawing", ["frame", "agent_status"]),
    ]),
    ("Roles and data", "the interfaces every role implements and the data they exchange", [
        ("asyncmarl.platform.roles", ["RolloutResult", "RolloutWorker", "ReplayShard", "Learner", "LegemMemory"]),
        ("asyncmarl.platform.data", ["Segment"]),
    ]),
    ("Configuration", "the run config and every role's section (YAML presets with key=value overrides)", [
        ("asyncmarl.cluster.config", ["load_config", "presets", "config_to_dict", "RunConfig", "EnvConfig",
                                      "ClusterConfig", "LoggingConfig"]),
        ("asyncmarl.rollout_workers", ["RolloutConfig"]),
        ("asyncmarl.memory_service.replay", ["ReplayConfig"]),
        ("asyncmarl.learner", ["LearnerConfig", "AtpgConfig"]),
        ("asyncmarl.platform.nets", ["AgentNetConfig"]),
        ("asyncmarl.memory_service.legem", ["LegemConfig"]),
    ]),
    ("Role implementations", "the plain classes the cluster wires together", [
        ("asyncmarl.rollout_workers", ["RolloutWorker"]),
        ("asyncmarl.memory_service.replay", ["ReplayShard"]),
        ("asyncmarl.learner", ["Learner"]),
        ("asyncmarl.memory_service.legem", ["LegemMemory"]),
        ("asyncmarl.platform.nets", ["make_agent_net"]),
    ]),
    ("Running and inspecting runs", "training, evaluation, plots, GIFs, logs and provenance", [
        ("asyncmarl.cluster", ["train"]),
        ("asyncmarl.cluster.offline", ["evaluate_checkpoint", "render_checkpoint"]),
        ("asyncmarl.cluster.plot", ["plot_runs", "figure"]),
        ("asyncmarl.cluster.media", ["write_gif"]),
        ("asyncmarl.cluster.monitor", ["read_metrics", "WandbSink", "run_group"]),
        ("asyncmarl.cluster.provenance", ["code_version", "write_provenance", "record_resume", "read_resumes"]),
    ]),
]


def md(text: str) -> str:
    """Docstring markup to Markdown: ``code`` and :role:`name` to `code`."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def doc(obj) -> str:
    """The object's own docstring (a class's, not one inherited, nor the signature dataclasses put there)."""
    if inspect.isclass(obj):
        own = vars(obj).get("__doc__")
        if not own or (dataclasses.is_dataclass(obj) and own.startswith(f"{obj.__name__}(")):
            return ""
        return md(inspect.cleandoc(own))
    d = inspect.getdoc(obj)
    return md(d) if d else "*(no docstring)*"


class _Annotation(str):
    """A string annotation (``from __future__ import annotations``) shown as written, without quotes."""

    def __repr__(self) -> str:
        return str(self)


def signature(obj, drop_self: bool = False) -> str:
    """``(a: int, b: str = 'x') -> bool``; ``drop_self`` leaves out a method's ``self``/``cls``."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = []
    for p in sig.parameters.values():
        if isinstance(p.annotation, str):
            p = p.replace(annotation=_Annotation(p.annotation))
        if dataclasses.is_dataclass(p.default) and not isinstance(p.default, type):  # a config: its name, not
            p = p.replace(default=_Annotation(f"{type(p.default).__name__}()"))  # every field's value
        params.append(p)
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    ret = sig.return_annotation
    return str(sig.replace(parameters=params, return_annotation=_Annotation(ret) if isinstance(ret, str) else ret))


def default_of(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return f"`{f.default!r}`"
    if f.default_factory is not dataclasses.MISSING:
        factory = f.default_factory
        if dataclasses.is_dataclass(factory):
            return f"`{factory.__name__}()`"
        return f"`{factory()!r}`"
    return "required"


def dataclass_table(cls) -> list[str]:
    comments = field_comments(cls)
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        meaning = comments.get(f.name, "")
        if dataclasses.is_dataclass(f.default_factory):
            see = f"see `{f.default_factory.__name__}`"
            meaning = f"{meaning}; {see}" if meaning else see
        meaning = md(meaning).replace("|", r"\|")
        default = default_of(f).replace("|", r"\|")
        lines.append(f"| `{f.name}` | `{typ}` | {default} | {meaning} |")
    return lines


def members(cls) -> list[tuple[str, object]]:
    """Public methods and properties defined on ``cls`` itself (not inherited), in source order."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_") or not (inspect.isfunction(value) or isinstance(value, (property, classmethod,
                                                                                         staticmethod))):
            continue
        out.append((name, value))
    return out


def document(module: str, name: str) -> list[str]:
    obj = getattr(importlib.import_module(module), name)
    qual = f"{module}.{name}"
    lines = [f"### `{name}`", ""]
    if inspect.isclass(obj):
        kind = "dataclass" if dataclasses.is_dataclass(obj) else "protocol" if getattr(obj, "_is_protocol", False) \
            else "class"
        lines += [f"`{qual}` ({kind})", ""]
        if kind == "class":
            lines += [f"```python\n{name}{signature(obj)}\n```", ""]
        text = doc(obj) or ("An interface (`typing.Protocol`): any class with these methods can play this role."
                            if kind == "protocol" else "")
        if text:
            lines += [text, ""]
        if dataclasses.is_dataclass(obj):
            lines += dataclass_table(obj) + [""]
        for mname, value in members(obj):
            if isinstance(value, property):
                lines += [f"- **`{mname}`** (property): {doc(value).splitlines()[0]}"]
                continue
            fn = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            first = doc(fn).split("\n\n")[0].replace("\n", " ")
            lines += [f"- **`{mname}{signature(fn, drop_self=True)}`**: {first}"]
        if members(obj):
            lines.append("")
    else:
        lines += [f"`{qual}`", "", f"```python\n{name}{signature(obj)}\n```", "", doc(obj), ""]
    return lines


def render() -> str:
    """The whole page."""
    out = ["# API reference", "",
           "Generated from the code's docstrings by `scripts/gen_api_docs.py` (do not edit by hand: change the "
           "docstring and rerun it). Import everything as `asyncmarl.<part>`; the command line is described in the "
           "README.", ""]
    out += [f"- [{title}](#{title.lower().replace(' ', '-')}): {summary}" for title, summary, _ in SECTIONS]
    for title, summary, modules in SECTIONS:
        out += ["", f"## {title}", "", summary[0].upper() + summary[1:] + ".", ""]
        for module, names in modules:
            mod = importlib.import_module(module)
            for name in names if names is not None else list(mod.__all__):
                out += document(module, name)
    return "\n".join(out).rstrip() + "\n"


def documented_names(text: str) -> list[str]:
    """The ``### `name``` headings of a page, in order (what the page documents)."""
    return re.findall(r"^### `([^`]+)`", text, flags=re.M)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with docs/api.md instead of writing it")
    p.add_argument("--out", default=str(OUT), help="page to write")
    a = p.parse_args(argv)
    text = render()
    out = Path(a.out)
    if a.check:
        current = out.read_text() if out.is_file() else ""
        if current != text:
            print(f"{out} is out of date: run python scripts/gen_api_docs.py", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.write_text(text)
    print(f"wrote {out} ({len(documented_names(text))} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
