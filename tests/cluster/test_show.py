"""`asyncmarl show PRESET [key=value ...]`: every field of the resolved config with its value, default, origin
and one-line meaning (the dataclass field comments, as docs/api.md shows them)."""
from __future__ import annotations

import dataclasses

from asyncmarl.cluster.cli import main
from asyncmarl.cluster.config import RunConfig, load_config
from asyncmarl.cluster.fields import field_comments, field_rows, show_lines
from asyncmarl.learner.config import LearnerConfig


def _rows(lines: list[str]) -> dict[str, list[str]]:
    """key -> [value, default, set in, meaning...] of show's table (columns are two or more spaces apart)."""
    import re

    out = {}
    for line in lines[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        key, rest = cells[0], cells[1:]
        if rest and rest[0] == "*":  # the changed-value marker is its own cell when the value is short
            rest = rest[1:]
        out[key] = [c.removeprefix("* ") for c in rest]
    return out


def test_show_prints_every_field_with_value_default_origin_and_meaning():
    lines = show_lines("tiny", ["learner.lr=0.002"])
    assert lines[0] == "tiny: families/boxpushing -> scenarios/boxpushing6 -> methods/tomacvf -> tiny -> override"
    assert lines[1].split() == ["key", "value", "default", "set", "in", "meaning"]
    rows = _rows(lines)
    leaves = [r.key for r in field_rows(load_config("tiny", for_training=False))]
    assert set(leaves) - {"env.settings"} <= set(rows)  # every leaf field, the scenario's settings expanded
    assert rows["learner.lr"] == ["0.002", "0.0005", "override", "learning rate"]
    assert rows["learner.n_step"] == ["5", "5", "families/boxpushing",
                                      "n of the n-step micro-TD targets (paper Tables 3-4: 5)"]
    assert rows["learner.agent_net.hidden_dim"][:3] == ["16", "64", "tiny"]
    assert rows["learner.atpg"][:3] == ["True", "True", "methods/tomacvf"]
    assert rows["replay.gamma"][:3] == ["0.98", "0.98", "derived from learner.gamma"]
    assert rows["cluster.rate_tolerance"][2] == "default"
    assert rows["env.settings.reward_preset"][2] == "scenario boxpushing-6"
    assert all(len(r) == 4 and r[3] for r in rows.values()), "every field has a one-line meaning"
    changed = [line.split()[0] for line in lines[2:] if " * " in line]
    assert "learner.lr" in changed and "learner.n_step" not in changed


def test_show_expands_scenario_settings_with_their_comments():
    rows = _rows(show_lines("overcookedb_tomacvf", ["env.settings.counter_ends_on_arrival=true"]))
    assert rows["env.settings.map_type"][:3] == ["B", "B", "scenario overcooked-b"]
    assert rows["env.settings.counter_ends_on_arrival"][:3] == ["True", "False", "override"]
    assert "go to counter" in rows["env.settings.counter_ends_on_arrival"][3]


def test_meanings_are_the_dataclass_field_comments_docs_api_uses():
    comments = field_comments(LearnerConfig)
    assert comments["lr"] == "learning rate"
    assert set(comments) == {f.name for f in dataclasses.fields(LearnerConfig)}
    assert field_comments(RunConfig)["seed"] == "seeds environments, networks and exploration"


def test_show_on_the_command_line(capsys):
    assert main(["show", "wtde_tomacvf", "seed=4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "wtde_tomacvf: families/wtd -> scenarios/wtde -> methods/tomacvf -> override"
    rows = _rows(out)
    assert rows["seed"] == ["4", "0", "override", "seeds environments, networks and exploration"]
    assert rows["learner.lr"][:3] == ["0.0001", "0.0005", "scenarios/wtde"]
    assert main(["show", "wtde_tomacvf", "learner.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config key 'learner.lrr'") and err.count("\n") == 1
    assert main(["show", "tiny", "replay.gamma=0.5"]) == 2
    assert "derived from learner.gamma" in capsys.readouterr().err
