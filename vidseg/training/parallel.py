"""Data-parallel training on one machine: N processes, each drawing its own clips, gradients averaged.

Why processes on a CPU: a training step is made of many small operations, which two threads of
one process share badly. Measured on a 2-core machine (16-frame clips, 2 clips per process and
step): one process with 2 threads unrolled 27.6 track-frames/s; two processes with one thread
each, side by side, 39.0 in all (1.41x).

The calling process is rank 0: it keeps the caller's data, logs, validates and saves; ranks 1..N-1
are started here (``spawn``, so the parent's threads and locks are not inherited) and only train.
They talk over gloo on 127.0.0.1. After each backward pass every rank holds the mean gradient
of all ranks' clips, so the same optimiser step keeps the weights identical on every rank
(:meth:`Group.check_in_sync` verifies it at each save).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vidseg.errors import ConfigError, VidsegError

log = logging.getLogger(__name__)

# Rank 0 validates and saves while the other ranks wait; validation on a large set can take long.
WAIT_TIMEOUT = datetime.timedelta(hours=2)
JOIN_SECONDS = 30.0


class TrainingWorkerError(VidsegError, RuntimeError):
    """A data-parallel training process failed or could not be reached."""


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes (``world == 1``: training alone).

    Attributes:
        rank, world: this process's rank and the number of processes.
        solo_threads: torch threads rank 0 may use while the others wait (0: keep its share).
    """

    rank: int = 0
    world: int = 1
    solo_threads: int = 0

    @property
    def lead(self) -> bool:
        """Rank 0: logs, validates and saves."""
        return self.rank == 0

    def share(self, value: float) -> float:
        """Rank 0's ``value``, on every rank (e.g. its clock, which the schedule and the stop follow)."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    @contextlib.contextmanager
    def solo(self) -> Iterator[None]:
        """Run the block (rank 0's validation, while the other ranks wait) on every thread."""
        if self.solo_threads <= 0:
            yield
            return
        share = torch.get_num_threads()
        torch.set_num_threads(self.solo_threads)
        try:
            yield
        finally:
            torch.set_num_threads(share)

    def wait(self) -> None:
        """Every rank waits here until all have arrived (while rank 0 validates or saves)."""
        if self.world > 1:
            dist.barrier()

    def sync_weights(self, module: torch.nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers (at the start: same weights everywhere)."""
        if self.world > 1:
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order, on every rank."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def average_gradients(self, params: Sequence[torch.Tensor], stats: Sequence[float]) -> list[float]:
        """Replace each gradient by its mean over the ranks; returns the rank-mean of ``stats``.

        One all-reduce carries every gradient, a has-gradient flag per parameter (a parameter no
        rank's loss reached keeps ``grad=None``, as in a single process, so AdamW leaves it
        alone) and the caller's ``stats`` (e.g. the step's loss, for the log).
        """
        if self.world == 1:
            return list(stats)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flags = [0.0 if p.grad is None else 1.0 for p in params]
        extra = torch.tensor([*flags, *stats], dtype=torch.float64)
        flat = torch.cat([g.reshape(-1).double() for g in grads] + [extra])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(g).to(g.dtype).clone()
            offset += n
        for p, flag in zip(params, flat[offset : offset + len(params)].tolist(), strict=True):
            if flag == 0.0:
                p.grad = None
        return flat[offset + len(params) :].tolist()

    def check_in_sync(self, module: torch.nn.Module) -> None:
        """Raise unless every rank holds the same weights (they should: same gradients, same steps)."""
        if self.world == 1:
            return
        with torch.no_grad():
            total = sum(float(p.double().abs().sum()) for p in module.parameters())
        sums = self.gather(total)
        if any(s != sums[0] for s in sums):
            raise TrainingWorkerError(
                f"training processes hold different weights (parameter sums {sums}); expected identical weights "
                "after identical averaged steps. Train with processes=1 and report this"
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def threads_per_process(processes: int) -> int:
    """Split this process's torch threads between ``processes`` (at least one each)."""
    return max(1, torch.get_num_threads() // processes)


def _join(rank: int, world: int, port: int) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, timeout=WAIT_TIMEOUT
    )


def _helper_main(
    rank: int, world: int, port: int, threads: int, target: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING)
    _join(rank, world, port)
    try:
        target(Group(rank, world), *args)
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def process_group(processes: int, target: Callable[..., Any], args: tuple[Any, ...]) -> Iterator[Group]:
    """Start ranks 1..N-1 running ``target(group, *args)``; yields rank 0's :class:`Group`.

    ``target`` must be a module-level function and ``args`` picklable (``spawn`` sends them to
    the new processes). Within the block this process runs with its share of the threads.

    Raises:
        ConfigError: ``processes`` < 1, or a group is already running in this process.
        TrainingWorkerError: a helper process failed (its traceback is on stderr).
    """
    if processes < 1:
        raise ConfigError(f"processes must be >= 1 (found {processes})")
    if processes == 1:
        yield Group()
        return
    if dist.is_initialized():
        raise ConfigError("a data-parallel training group is already running in this process; run one at a time")
    threads = threads_per_process(processes)
    port = free_port()
    context = mp.get_context("spawn")
    helpers = [
        context.Process(target=_helper_main, args=(rank, processes, port, threads, target, args), daemon=True)
        for rank in range(1, processes)
    ]
    for helper in helpers:
        helper.start()
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _join(0, processes, port)
        try:
            yield Group(0, processes, solo_threads=saved_threads)
        except RuntimeError as exc:  # gloo's DistBackendError is one
            failed = [k + 1 for k, h in enumerate(helpers) if h.exitcode not in (None, 0)]
            if not failed and isinstance(exc, VidsegError):
                raise
            raise TrainingWorkerError(
                f"data-parallel training stopped: {exc}; helper processes that failed: {failed or 'none'} "
                "(their tracebacks are above). Fix the cause, or train with processes=1"
            ) from exc
        finally:
            dist.destroy_process_group()
    finally:
        torch.set_num_threads(saved_threads)
        for helper in helpers:
            helper.join(JOIN_SECONDS)
            if helper.is_alive():
                helper.terminate()
                helper.join(JOIN_SECONDS)
    bad = [(k + 1, h.exitcode) for k, h in enumerate(helpers) if h.exitcode != 0]
    if bad:
        raise TrainingWorkerError(f"helper training processes exited with errors (rank, exit code): {bad}")
