"""Maps the user's top-level folders onto one import namespace, ``asyncmarl.<part>``.

``platform/`` deliberately has no top-level ``__init__.py``: a regular package named ``platform`` at the
repository root would shadow the standard library module and break ``import ray``/``import torch`` when run
from the root. It is reached only as ``asyncmarl.platform``. Sub-packages are discovered, so new folders need
no edit here.
"""
from setuptools import find_namespace_packages, setup

PARTS = ["platform", "rollout_workers", "learner", "memory_service", "cluster"]

packages = ["asyncmarl"]
package_dir = {"asyncmarl": "cluster/_asyncmarl"}
for part in PARTS:
    packages.append(f"asyncmarl.{part}")
    package_dir[f"asyncmarl.{part}"] = part
    subs = find_namespace_packages(part, exclude=["_asyncmarl*", "*__pycache__*", "*.egg-info*"])
    packages += [f"asyncmarl.{part}.{sub}" for sub in subs]

setup(packages=packages, package_dir=package_dir)
