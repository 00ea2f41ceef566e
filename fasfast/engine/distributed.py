"""Distributed helpers (``torchrun --nproc_per_node N -m fasfast train ...``).

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` reads them and
initialises the process group (nccl on GPU, gloo on CPU). Without them everything runs
in one process and every helper here is a no-op. Only rank 0 writes files.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} requested but CUDA is not available: use --device cpu (or auto)"
            )
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    return dev


def setup(device: str = "auto") -> DistInfo:
    """Initialise the process group when launched by torchrun; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    info = DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)
    if world > 1:
        if not dist.is_initialized():
            backend = "nccl" if dev.type == "cuda" else "gloo"
            kwargs = {"device_id": dev} if dev.type == "cuda" else {}
            dist.init_process_group(backend=backend, **kwargs)
            info.initialized_here = True
        info.rank, info.world_size = dist.get_rank(), dist.get_world_size()
    return info


def cleanup(info: DistInfo) -> None:
    """Destroy the process group this process created, after collecting garbage.

    A DistributedDataParallel wrapper sits in a reference cycle, so it (and its reducer, which
    holds the process group) outlives ``del`` until the cycle collector runs. Left to the
    interpreter's exit, gloo's worker threads are torn down while Python finalizes; a thread
    that then takes the GIL is ended by ``pthread_exit`` inside C++ code and the process aborts
    with "terminate called without an active exception" (pytorch/pytorch#38228), a SIGABRT after
    a run that had finished. Collecting first frees every wrapper while Python is alive."""
    if info.initialized_here and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def all_gather_objects(obj):
    """List with every rank's ``obj`` (rank order). Single process: ``[obj]``."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(values: list[float], device: torch.device) -> list[float]:
    """Mean of a list of floats over ranks."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. batch-norm running statistics, which every DDP rank
    updates with its own batches) to all ranks, so evaluation uses one model everywhere."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=src)


def shard_indices(n: int, rank_: int | None = None, world: int | None = None) -> list[int]:
    """This rank's share of ``range(n)``: every index exactly once over all ranks
    (no padding, unlike DistributedSampler)."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    return list(range(rank_, n, world))
