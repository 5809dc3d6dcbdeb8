"""Several devices: data-parallel training over NCCL (CUDA), HCCL (Ascend NPU) or gloo (CPU).

Launched by ``sftdata train CONFIG --nproc N`` (which runs ``torchrun``) or by
``torchrun --nproc_per_node N -m sftdata train CONFIG``: each process reads ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``. Every rank builds the same length-grouped global
batches (``per_device_train_batch_size x world size`` rows) and trains its own shard.
Gradients are summed across ranks once per optimizer step (one all-reduce of one flat
buffer) after each rank divided its summed loss by the trained-token count of the whole
global window (itself all-reduced): N devices make the same update as one device with N
times the batch. Rank 0 alone writes logs, checkpoints and results.

>>> backend_for("cpu"), backend_for("cuda"), backend_for("npu")
('gloo', 'nccl', 'hccl')
>>> Dist().world, Dist().is_main
(1, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BACKENDS = {"cpu": "gloo", "cuda": "nccl", "npu": "hccl"}


def backend_for(device_type: str) -> str:
    return BACKENDS[device_type]


@dataclass(frozen=True, slots=True)
class Dist:
    """This process's place in the run (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def device(self, device: str) -> str:
        """``cuda:0``/``npu:0`` become this rank's local device; the CPU stays ``cpu``."""
        kind = device.partition(":")[0]
        return device if kind == "cpu" or not self.active else f"{kind}:{self.local_rank}"

    def sum(self, values: Sequence[float], device: str = "cpu") -> list[float]:
        """Element-wise sum of ``values`` over every rank (float64)."""
        if not self.active:
            return list(values)
        import torch
        import torch.distributed as td

        buf = torch.tensor(list(values), dtype=torch.float64, device=device)
        td.all_reduce(buf)
        return buf.tolist()

    def reduce_grads(self, params: Sequence[Any]) -> None:
        """Sum every parameter's gradient over the ranks (missing gradients count as zero)."""
        if not self.active:
            return
        import torch
        import torch.distributed as td

        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        td.all_reduce(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as td

            td.barrier()


def from_env() -> Dist:
    """The rank, world size and local rank torchrun set (one process when unset)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Dist()
    return Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(dist: Dist, device_type: str) -> None:
    """Join the process group (once) with the backend of the device type."""
    if not dist.active:
        return
    import torch.distributed as td

    if not td.is_initialized():
        td.init_process_group(backend=backend_for(device_type), rank=dist.rank, world_size=dist.world)


def shutdown(dist: Dist) -> None:
    if dist.active:
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()


def shard(batch: list[int], dist: Dist) -> list[int]:
    """This rank's rows of a global batch: every ``world``-th row from ``rank`` (rows of a
    length-grouped batch are sorted, so every shard gets similar lengths).

    >>> shard([0, 1, 2, 3, 4], Dist(1, 2, 1))
    [1, 3]
    """
    return batch[dist.rank :: dist.world]


def launch_command(nproc: int, config: str, overrides: Sequence[str]) -> list[str]:
    """The ``torchrun`` command line ``sftdata train --nproc N`` runs.

    >>> launch_command(2, "c.yaml", ["--max_steps", "5"])[3:]
    ['--standalone', '--nproc_per_node', '2', '-m', 'sftdata', 'train', 'c.yaml', '--max_steps', '5']
    """
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m", "sftdata", "train", config, *overrides]
