"""Running under `torchrun`: the process group, this process's rank, and the few collectives used.

plabel scales out on the engine PyTorch users already run: `torchrun` starts one process per
device and sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; `init()` joins the
process group (nccl on CUDA, gloo on CPU). Without those variables, or with WORLD_SIZE=1, nothing
here starts anything: every helper is then the single-process identity, so the one-process path
is the same code with no extra cost.

Rank 0 owns the workspace: it holds the lock, writes table rows, checkpoints and states, and runs
the DuckDB steps; the other ranks compute and write their own part files into staging folders.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from plabel.workspace import Workspace

TIMEOUT_S = 1800  # a rank waits this long at a barrier (torch's default)

T = TypeVar("T")


def env_world() -> int:
    """WORLD_SIZE as torchrun set it (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def active() -> bool:
    """Whether this process is one of several joined in a process group."""
    if env_world() <= 1:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init() -> None:
    """Join torchrun's process group once; nothing when not under torchrun (or one process)."""
    if env_world() <= 1:
        return  # not under torchrun: torch is not even imported
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    backend = "nccl" if torch.cuda.is_available() and os.environ.get("PLABEL_DIST_BACKEND") != "gloo" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))


def shutdown() -> None:
    """Leave the process group after a command that succeeded on this rank. Without it, Gloo's
    worker threads meet the interpreter's teardown and a rank can die with SIGABRT ("terminate
    called without an active exception") after its work is done. Not after a failure: a rank
    that leaves while others still wait in a collective can hang NCCL's teardown."""
    if env_world() <= 1:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # leave together: a rank that tore its pairs down while rank 0 still wrote its results
        # aborted at exit now and then under load (a failed rank exits non-zero, and torchrun
        # then stops the others, so this never waits on a rank that will not come)
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    if not active():  # before any import: a command without a model never loads torch
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def world() -> int:
    if not active():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def cores() -> int:
    """This process's share of the machine's cores: all of them, or under torchrun the cores over
    the ranks on this node (so that worker processes and thread pools do not oversubscribe it)."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, (os.cpu_count() or 1) // max(1, local))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    import torch.distributed as dist

    if active():
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (it may write); the others run it once rank 0 is through."""
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()


def broadcast(value: T) -> T:
    """Rank 0's value (JSON-like), on every rank."""
    import torch.distributed as dist

    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's value (JSON-like or arrays), in rank order, on every rank."""
    import torch.distributed as dist

    if not active():
        return [value]
    out: list[Any] = [None] * world()
    dist.all_gather_object(out, value)
    return out


def all_sum(values: list[float]) -> list[float]:
    """Element-wise sums over ranks (float64)."""
    import torch
    import torch.distributed as dist

    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def shard(n: int, of_rank: int | None = None, of_world: int | None = None) -> range:
    """The indices of n items this rank takes: every world-th, starting at its rank."""
    r = rank() if of_rank is None else of_rank
    w = world() if of_world is None else of_world
    return range(r, n, w)


@contextmanager
def writing(ws: Workspace, command: str) -> Iterator[None]:
    """The workspace's write lock for a step every rank runs: rank 0 holds it for all of them.
    The others start once rank 0 holds it, and rank 0 lets it go once all are through."""
    if not active():
        with ws.writing(command):
            yield
        return
    if is_main():
        with ws.writing(command):
            barrier()
            yield
            barrier()
    else:
        barrier()
        yield
        barrier()
