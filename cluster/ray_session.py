"""Joining Ray: attach to a running cluster (``cluster.address``, or ``RAY_ADDRESS`` as set inside
``ray job submit``) or start a local one; an address nobody answers at fails at once with one line."""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


class ClusterUnreachable(RuntimeError):
    """No Ray cluster answers at the configured address."""


def _probe(address: str, timeout_s: float = 3.0) -> None:
    """TCP-connect to ``host:port`` first: ``ray.init`` on a dead address retries for minutes."""
    url = urlparse(address if "://" in address else f"tcp://{address}")
    if not url.hostname or not url.port:
        raise ClusterUnreachable(f"cluster.address {address!r} is not host:port, ray://host:port or 'auto'")
    try:
        socket.create_connection((url.hostname, url.port), timeout=timeout_s).close()
    except OSError as e:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


def connect(address: str | None) -> bool:
    """Initialise Ray for this driver; returns True when this call did it (so the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address not in (None, "auto", "local"):
        _probe(address)
    try:
        if address in (None, "local"):
            ray.init(include_dashboard=False, configure_logging=False)
        else:
            ray.init(address=address, configure_logging=False)
    except ConnectionError as e:
        raise ClusterUnreachable(f"cannot attach to the Ray cluster at {address}: {str(e).splitlines()[0]}") \
            from None
    return True
