"""What a training stage is: how records become examples, examples become batches, and
a batch becomes a loss. The loop (:mod:`.loop`) is the same for every stage.

A stage's ``loss`` returns the *sum* of its per-unit losses (token losses for SFT, pair
losses for DPO, row losses for KTO) and ``Batch.weight`` counts those units; the loop
divides by the weight of the whole accumulation window summed over every device, so
any split of a global batch into micro-batches and devices gives the same update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from .config import TrainConfig

Encode = Callable[..., Any]  # encode(record, branch="chosen") -> tokens.Encoded


class Drop(NamedTuple):
    """A row a stage cannot train: its reason code, the message, and whether it was cut."""

    code: str
    detail: str
    cut: bool = False


class Batch(Protocol):
    n_rows: int
    n_tokens: int
    n_trained: int
    width: int

    @property
    def weight(self) -> int: ...


class RowsBatch:
    """A stage batch whose token counts and width are those of the padded ``rows`` it holds
    (preference and KTO batches), and whose weight is its number of rows (pairs or rows)."""

    __slots__ = ()
    rows: Any
    n_rows: int

    @property
    def n_tokens(self) -> int:
        return self.rows.n_tokens

    @property
    def n_trained(self) -> int:
        return self.rows.n_trained

    @property
    def width(self) -> int:
        return self.rows.width

    @property
    def weight(self) -> int:
        return self.n_rows


class Stage(Protocol):
    """One training objective. ``metric_names`` are the sums ``loss`` reports, in a fixed
    order (they are all-reduced as one vector); ``summarize`` turns window sums into log
    entries (e.g. ``rewards/chosen``)."""

    name: str
    kind: str
    metric_names: tuple[str, ...]

    def example(self, record: Any, encode: Encode) -> Any | Drop: ...

    def finish(self, examples: list[Any], encode: Encode) -> list[Any]: ...

    def collate(self, units: Sequence[list[Any]], pad_id: int, width: Callable[[int], int]) -> Batch: ...

    def prepare(self, model: Any, cfg: TrainConfig, ctx: Any) -> None: ...

    def loss(self, model: Any, batch: Any, device: str) -> tuple[Any, dict[str, float]]: ...

    def summarize(self, sums: dict[str, float], prefix: str = "") -> dict[str, float]: ...


def pad_width(longest: int, *, multiple: int | None, buckets: tuple[int, ...]) -> int:
    """The padded width of a batch whose longest row has ``longest`` tokens: the smallest
    bucket that fits, else the next multiple of ``multiple``, else ``longest``.

    >>> pad_width(300, multiple=None, buckets=(256, 512, 1024))
    512
    >>> pad_width(2000, multiple=64, buckets=(256, 512, 1024))
    2048
    >>> pad_width(37, multiple=None, buckets=())
    37
    """
    for b in buckets:
        if longest <= b:
            return b
    if multiple:
        return -(-longest // multiple) * multiple
    return longest
