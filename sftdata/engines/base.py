"""Which engine runs a step, and where: the one value every step passes down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EngineName = Literal["local", "ray"]
ENGINES: tuple[EngineName, ...] = ("local", "ray")


@dataclass(frozen=True)
class Engine:
    """Where a step runs: ``local`` (worker processes on this machine) or ``ray``.

    ``address``: a Ray cluster (``ray://head:10001``, ``auto``, ``host:6379``); ``None``
    uses ``RAY_ADDRESS`` when set, else starts a local Ray for the run with ``cpus`` CPUs
    (default: this machine's). ``workers``: Ray actors (default: one per CPU of the cluster).

    >>> Engine("ray").ray, Engine().ray
    (True, False)
    """

    name: EngineName = "local"
    address: str | None = None
    cpus: int | None = None
    workers: int | None = None

    @property
    def ray(self) -> bool:
        return self.name == "ray"


LOCAL = Engine()
