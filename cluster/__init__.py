"""The platform: topology (in one process or as Ray actors), the driver loop, command line, logging,
checkpoints and fault tolerance. ``train(cfg, run_dir=None, resume=None) -> dict`` is the entry point for code;
``asyncmarl`` (``asyncmarl.cluster.cli:main``) for people. See docs/platform.md."""


def train(cfg, run_dir=None, resume=None, **kwargs):
    """Train ``cfg``; see :func:`asyncmarl.cluster.driver.train`."""
    from asyncmarl.cluster.driver import train as _train

    return _train(cfg, run_dir=run_dir, resume=resume, **kwargs)


__all__ = ["train"]
