"""Shape buckets: what padding every sequence to a few fixed lengths costs.

Ascend NPUs (and ``torch.compile`` with static shapes) compile one graph per input shape.
Padding each sequence to the smallest of a few bucket lengths keeps the number of shapes
small, at the price of padding tokens. ``sftdata stats --buckets 256,512,1024,2048``
reports both from the per-record lengths (after ``cutoff_len``); the trainer's
``shape_buckets`` setting pads batches the same way.

>>> r = bucket_report([100, 200, 300, 600], [256, 512])
>>> (r["rows"], r["padding_tokens"], r["distinct_shapes"], r["over_largest"])
([2, 1, 0], 424, 3, 1)
>>> r["dynamic_shapes"]
4
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any


def parse_buckets(text: str) -> tuple[int, ...]:
    """``"256,512"`` -> ``(256, 512)`` (sorted, unique); ValueError on anything else."""
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if not values or values[0] <= 0:
        raise ValueError("bucket lengths are positive whole numbers, e.g. 256,512,1024,2048")
    return tuple(values)


def bucket_report(lengths: Iterable[int], buckets: Sequence[int]) -> dict[str, Any]:
    """Rows per bucket, padding tokens and share, and how many distinct shapes an epoch
    compiles (one per used bucket, plus one per distinct length above the largest bucket,
    which pads to nothing), against ``dynamic_shapes`` (one per distinct length)."""
    edges = sorted(buckets)
    rows = [0] * (len(edges) + 1)
    real = padding = 0
    over: set[int] = set()
    distinct: set[int] = set()
    for n in lengths:
        distinct.add(n)
        real += n
        i = bisect.bisect_left(edges, n)
        rows[i] += 1
        if i < len(edges):
            padding += edges[i] - n
        else:
            over.add(n)
    used = sum(1 for r in rows[:-1] if r)
    return {
        "buckets": list(edges),
        "rows": rows,
        "over_largest": rows[-1],
        "tokens": real,
        "padding_tokens": padding,
        "padding_share": round(padding / (real + padding), 4) if real + padding else 0.0,
        "distinct_shapes": used + len(over),
        "dynamic_shapes": len(distinct),
    }
