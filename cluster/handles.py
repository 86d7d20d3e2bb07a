"""One calling convention for every role, in one process or on Ray.

Under Ray a role is an actor handle: ``handle.method.remote(*args)`` returns an ObjectRef and ``get(ref)`` waits
for it. In one process :class:`LocalHandle` wraps the plain object with the same surface: ``.remote`` runs the
method at once and returns a :class:`LocalRef` holding its value, and LocalRef arguments are replaced by their
values first, as Ray does for ObjectRef arguments. An exception is raised at the call, not kept for ``get``: in one
process a failing role is a bug, and a fire-and-forget call must not hide it. So the
loops, the supervisor and the hosts are written once, and the in-process runtime stays deterministic.
"""
from __future__ import annotations

import sys
from typing import Any


class LocalRef:
    """The finished result of a :class:`LocalHandle` call."""

    __slots__ = ("_value",)

    def __init__(self, value: Any = None):
        self._value = value

    def get(self) -> Any:
        return self._value


class _LocalMethod:
    __slots__ = ("_fn",)

    def __init__(self, fn):
        self._fn = fn

    def remote(self, *args: Any, **kwargs: Any) -> LocalRef:
        args = tuple(a.get() if isinstance(a, LocalRef) else a for a in args)
        return LocalRef(self._fn(*args, **kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


class LocalHandle:
    """A role object in this process, called like a Ray actor handle (``h.method.remote(...)``)."""

    def __init__(self, obj: Any):
        object.__setattr__(self, "obj", obj)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.obj, name)
        return _LocalMethod(attr) if callable(attr) else attr

    def __repr__(self) -> str:
        return f"LocalHandle({type(self.obj).__name__})"


def call(target: Any, method: str, *args: Any) -> Any:
    """``target.method(*args)`` as a call: an ObjectRef for a Ray actor, a LocalRef for a LocalHandle, the value
    itself for a plain object."""
    fn = getattr(target, method)
    remote = getattr(fn, "remote", None)
    return remote(*args) if remote is not None else fn(*args)


def get(value: Any) -> Any:
    """The value behind an ObjectRef or LocalRef (lists element-wise); anything else is returned as it is."""
    if isinstance(value, LocalRef):
        return value.get()
    if isinstance(value, list) and value and type(value[0]).__name__ == "ObjectRef":
        import ray

        return ray.get(value)
    if isinstance(value, list):
        return [get(v) for v in value]
    if type(value).__name__ == "ObjectRef":
        import ray

        return ray.get(value)
    return value


def is_remote(target: Any) -> bool:
    """True for a Ray actor handle (calls cross processes), False for local objects and LocalHandles."""
    return target is not None and type(target).__name__ == "ActorHandle"


def failure_types() -> tuple[type, ...]:
    """Exceptions that mean a peer died or its call was lost (Ray's), empty when Ray is not in use."""
    if "ray" not in sys.modules:
        return ()
    from ray.exceptions import RayError

    return (RayError,)
