"""Packing: LLaMA-Factory's packed rows, and the report of what packing does or would do.

LLaMA-Factory packs per preprocessing batch (1000 rows): it sorts the batch's lengths,
fills each pack with the longest row that still fits (a greedy knapsack with binary
search) and pads every pack to ``cutoff_len + 1`` tokens. :func:`greedy_packs` makes the
same choice; :class:`PackStats` sums what came out: sequences per pack, padding, and the
share of the tokens a step processes that are trained.

>>> greedy_packs([5, 3, 2, 4], capacity=7)
[[5, 2], [4, 3]]
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..tokens import IGNORE_INDEX


def greedy_packs(lengths: list[int], capacity: int) -> list[list[int]]:
    """Lengths grouped into packs of at most ``capacity`` (LLaMA-Factory's choice): each
    pack takes the longest remaining length that fits until none does."""
    left = sorted(lengths)
    packs: list[list[int]] = []
    while left:
        room, pack = capacity, []
        while True:
            at = bisect.bisect(left, room) - 1
            if at < 0:
                break
            room -= left[at]
            pack.append(left.pop(at))
        if not pack:  # a length over capacity: LLaMA-Factory drops such rows before packing
            left.pop()
            continue
        packs.append(pack)
    return packs


@dataclass
class PackStats:
    """What packing gives (``packed=True``) or would give, summed over batches.

    ``rows`` sequences went into ``packs`` packs of at most ``capacity`` tokens (without a
    ``cutoff_len`` each preprocessing batch packs to its own longest row); the packs hold
    ``slots`` positions, ``tokens`` of them real tokens (the rest is padding), ``trained``
    of them with a label.
    """

    rows: int = 0
    packs: int = 0
    tokens: int = 0
    trained: int = 0
    capacity: int = 0
    packed: bool = False
    slots: int = 0

    def add(self, lengths: list[int], trained: int, capacity: int) -> None:
        packs = len(greedy_packs(lengths, capacity))
        self.capacity = max(self.capacity, capacity)
        self.rows += len(lengths)
        self.packs += packs
        self.slots += packs * capacity
        self.tokens += sum(lengths)
        self.trained += trained

    def merge(self, other: PackStats) -> None:
        self.rows += other.rows
        self.packs += other.packs
        self.slots += other.slots
        self.tokens += other.tokens
        self.trained += other.trained
        self.capacity = max(self.capacity, other.capacity)

    def to_dict(self) -> dict[str, Any]:
        slots = self.slots
        return {
            "packed": self.packed,
            "rows": self.rows,
            "packs": self.packs,
            "capacity": self.capacity,
            "rows_per_pack": round(self.rows / self.packs, 3) if self.packs else 0.0,
            "padding_tokens": slots - self.tokens,
            "padding_share": round((slots - self.tokens) / slots, 4) if slots else 0.0,
            "trained_share": round(self.trained / slots, 4) if slots else 0.0,
        }


def lf_pack_batch(rows: list[dict[str, Any]], cutoff_len: int, pad_id: int) -> list[dict[str, Any]]:
    """LLaMA-Factory's packed rows for one preprocessing batch of supervised rows
    (``input_ids``, ``labels``, media columns): rows longer than ``cutoff_len`` are
    left out, packs are padded to ``cutoff_len + 1`` with ``pad_id``, position ids
    restart at 0 for each row and for the padding."""
    lengths: list[int] = []
    at_length: dict[int, list[int]] = defaultdict(list)
    kept: list[dict[str, Any]] = []
    for row in rows:
        n = len(row["input_ids"])
        if n > cutoff_len:
            continue
        lengths.append(n)
        at_length[n].append(len(kept))
        kept.append(row)
    out = []
    for pack in greedy_packs(lengths, cutoff_len):
        ids: list[int] = []
        labels: list[int] = []
        pos: list[int] = []
        media: dict[str, list[Any]] = {"images": [], "videos": [], "audios": []}
        for n in pack:
            row = kept[at_length[n].pop()]
            ids += row["input_ids"]
            labels += row["labels"]
            pos += range(n)
            for col in media:
                media[col] += row[col] or []
        pad = cutoff_len + 1 - len(ids)
        ids += [pad_id] * pad
        pos += [0] * pad
        labels += [IGNORE_INDEX] * pad
        out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "position_ids": pos, "labels": labels, **{k: v or None for k, v in media.items()}})
    return out


__all__ = ["PackStats", "greedy_packs", "lf_pack_batch"]
