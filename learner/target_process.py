"""The target networks' forward pass in a second process, overlapped with the online forward on another core.

A learner update on CPU is a chain of thousands of small operators: one core cannot be shortened by a second one
sharing the same Python interpreter (the GIL serialises operator dispatch; a thread gains about 4%). The target
networks' forward pass, though, needs nothing from the online one, so it can run in a process of its own while
the learner runs the online forward:

* the target module dict lives in shared memory (``nn.Module.share_memory``), so the in-place target updates the
  Learner already makes (hard copies, Polyak averaging, checkpoint loads) are what the worker reads, with no
  transfer; the worker only runs between :meth:`TargetProcess.submit` and :meth:`TargetProcess.result`, and the
  Learner changes the target only outside that window;
* inputs and outputs travel through two flat shared float32 buffers (grown, and re-sent once, when a batch needs
  more); the pipe carries only shapes;
* the worker is forked (no second interpreter start-up, no imports) and runs with one torch thread, like the
  learner, so results are the same floats as the in-process forward (a test checks losses and TD errors).

If the worker dies, the Learner falls back to the in-process forward with a warning (nothing else changes).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence

import torch
import torch.multiprocessing  # noqa: F401 -- registers the pickling of shared-memory tensors for pipes
from torch import Tensor, nn

log = logging.getLogger(__name__)

Forward = Callable[..., Sequence[Tensor | None]]  # fn(nets, *inputs) -> outputs (tensors or None)
TIMEOUT_S = 120.0  # longest wait for one forward before the worker counts as stuck


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def inside_ray_actor() -> bool:
    """Whether this process is a Ray actor (a learner actor, or a Tune trial running in-process training): its
    CPUs are Ray's to schedule, so ``learner.target_process=null`` starts no extra process there."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return False
    try:
        return ray.get_runtime_context().get_actor_id() is not None
    except Exception:  # noqa: BLE001 -- an older or partly shut down Ray: assume a driver
        return False


def _layout(tensors: Sequence[Tensor | None]) -> tuple[list, int]:
    """[(shape, dtype) or None per tensor], total float32 elements."""
    meta, total = [], 0
    for x in tensors:
        if x is None:
            meta.append(None)
            continue
        meta.append((tuple(x.shape), x.dtype))
        total += x.numel()
    return meta, total


def _write(buf: Tensor, tensors: Sequence[Tensor | None]) -> None:
    at = 0
    for x in tensors:
        if x is not None:
            n = x.numel()
            buf[at:at + n].view(x.shape).copy_(x)  # exact for floats and for integers below 2 ** 24
            at += n


def _read(buf: Tensor, meta: list, clone: bool) -> list[Tensor | None]:
    out, at = [], 0
    for m in meta:
        if m is None:
            out.append(None)
            continue
        shape, dtype = m
        n = 1
        for s in shape:
            n *= s
        x = buf[at:at + n].view(shape)
        out.append(x.to(dtype, copy=clone))
        at += n
    return out


def _serve(conn, nets: nn.Module, fn: Forward, inp: Tensor, out: Tensor) -> None:
    """The worker: wait for a request, run ``fn`` on the inputs in ``inp``, write the outputs to ``out``."""
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        kind, payload = msg
        if kind == "buffers":  # grown buffers (shared memory, sent once)
            inp, out = payload
            continue
        meta, extra = payload
        try:
            res = fn(nets, *_read(inp, meta, clone=False), **extra)
            res_meta, total = _layout(res)
            if total > out.numel():
                conn.send(("grow", total))
                kind, payload = conn.recv()  # the learner answers with a larger output buffer
                inp, out = payload
            _write(out, res)
            conn.send(("ok", res_meta))
        except Exception as e:  # noqa: BLE001 -- reported to the learner, which falls back in process
            conn.send(("error", f"{type(e).__name__}: {e}"))


class TargetProcess:
    """Runs ``fn(nets, *inputs, **extra)`` (no gradients) in a forked process on shared-memory ``nets``.

    Usage per update: :meth:`submit` the inputs, do other work, then :meth:`result`. ``nets`` is moved to
    shared memory here; keep changing it in place only (``copy_``, ``lerp_``, ``load_state_dict``)."""

    def __init__(self, nets: nn.Module, fn: Forward, capacity: int = 1 << 20):
        if any(p.device.type != "cpu" for p in nets.parameters()):
            raise ValueError("the target process runs CPU networks only")
        self.nets, self.fn = nets.share_memory(), fn
        self._inp = torch.empty(capacity).share_memory_()
        self._out = torch.empty(capacity).share_memory_()
        ctx = mp.get_context("fork")  # the child shares the parent's imports and the networks' storage
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.nets, fn, self._inp, self._out),
                                 name="asyncmarl-target", daemon=True)
        self._proc.start()
        child.close()
        self._pending: tuple | None = None  # (inputs, extra) of the submitted request, for the fallback
        self.failed: str | None = None  # why the worker stopped serving (then everything runs in process)

    def submit(self, inputs: Sequence[Tensor | None], **extra) -> None:
        """Start the forward on ``inputs`` (CPU tensors, float or integer below 2 ** 24) in the worker."""
        self._pending = (tuple(inputs), extra)
        if self.failed is not None:
            return
        meta, total = _layout(inputs)
        if total > self._inp.numel():
            self._grow(total, self._out.numel())
        try:
            _write(self._inp, inputs)
            self._conn.send(("forward", (meta, extra)))
        except (OSError, ValueError) as e:
            self._fail(f"sending failed ({e})")

    def result(self) -> list[Tensor | None]:
        """The outputs of the submitted forward (fresh tensors, owned by the caller)."""
        inputs, extra = self._pending
        self._pending = None
        if self.failed is None:
            try:
                while True:
                    if not self._conn.poll(TIMEOUT_S):
                        raise TimeoutError(f"no answer in {TIMEOUT_S:.0f} s")
                    kind, payload = self._conn.recv()
                    if kind == "grow":
                        self._grow(self._inp.numel(), payload)
                        continue
                    if kind == "ok":
                        return _read(self._out, payload, clone=True)
                    raise RuntimeError(payload)
            except (OSError, EOFError, TimeoutError, RuntimeError) as e:
                self._fail(str(e))
        with torch.no_grad():
            return list(self.fn(self.nets, *inputs, **extra))

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
            except (OSError, ValueError):
                pass
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
        self._proc = None

    # ------------------------------------------------------------------ internals
    def _grow(self, n_in: int, n_out: int) -> None:
        """Larger buffers (twice what is needed), sent to the worker: before a request, or while it waits with
        a result that does not fit (it has read its inputs by then)."""
        self._inp = self._inp if n_in <= self._inp.numel() else torch.empty(2 * n_in).share_memory_()
        self._out = self._out if n_out <= self._out.numel() else torch.empty(2 * n_out).share_memory_()
        self._conn.send(("buffers", (self._inp, self._out)))

    def _fail(self, why: str) -> None:
        self.failed = why
        log.warning("target process stopped (%s); the target forward runs in the learner's process from now on", why)
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass
