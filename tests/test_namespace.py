"""The repository root must not shadow the standard library's ``platform`` module."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_no_platform_init_at_top():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_wins_from_repo_root():
    code = "import platform, uuid, numpy, torch, ray; print(platform.system())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"Linux", "Darwin", "Windows"}


def test_parts_import_as_asyncmarl_namespace():
    code = (
        "import asyncmarl.platform.envs, asyncmarl.rollout_workers, asyncmarl.learner, "
        "asyncmarl.memory_service, asyncmarl.cluster; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
