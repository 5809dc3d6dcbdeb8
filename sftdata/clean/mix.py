"""``sftdata mix``: a mixture of datasets with exact ratios, by rows or by tokens.

Each source gets its exact share of the mixture's ``total`` (rows, or tokens counted as
``sftdata stats`` counts them): row targets are whole numbers that sum to ``total`` and are
each within one row of ``ratio x total`` (largest remainders); token targets are met to
within one row. A source is down-sampled by a seeded sample of its rows, up-sampled by
whole copies plus such a sample: the same seed gives the same mixture, byte for byte.
Every output row is the source row in the output format plus where it came from
(``mix_source``, ``mix_line``). Rows that do not decode are rejected (with their line),
never mixed.

Unlike LLaMA-Factory's ``interleave_probs``, which draws each next row from a source at
random (so the realised shares only approach the probabilities, and depend on when the
smallest source runs out), ``mix`` fixes every count before writing (docs/mix.md).

>>> apportion([0.5, 0.3, 0.2], 7)
[4, 2, 1]
"""

from __future__ import annotations

import heapq
import math
import os
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import RecordError, UsageError

By = Literal["rows", "tokens"]


def apportion(ratios: list[float], total: int) -> list[int]:
    """Whole shares of ``total`` proportional to ``ratios`` (largest remainders): they sum
    to ``total`` and each is within one of its exact share."""
    s = sum(ratios)
    exact = [r / s * total for r in ratios]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def select_rows(n: int, target: int, rng: random.Random) -> array[int]:
    """How many times each of ``n`` rows is used so that ``target`` rows are used in all:
    ``target // n`` whole copies, plus a seeded sample of ``target % n`` distinct rows."""
    copies = array("i", [target // n]) * n if n else array("i")
    for i in rng.sample(range(n), target % n) if n else ():
        copies[i] += 1
    return copies


def select_tokens(weights: array[int], target: int, rng: random.Random) -> array[int]:
    """Copies per row so that the chosen rows' tokens come within one row of ``target``:
    whole copies of the source, then rows in a seeded order until the target is reached
    (the last row is kept only if that lands closer)."""
    whole = sum(weights)
    n = len(weights)
    if not n or not whole:
        return array("i", [0]) * n
    k = target // whole
    copies = array("i", [k]) * n
    left = target - k * whole
    order = list(range(n))
    rng.shuffle(order)
    got = 0
    for i in order:
        if got >= left:
            break
        w = weights[i]
        if got + w > left and (got + w - left) > (left - got):
            break
        copies[i] += 1
        got += w
    return copies


@dataclass(frozen=True)
class MixSource:
    """One source: a file (read as ``format``) and its ratio; ``name`` labels it in the report."""

    path: Path
    ratio: float
    format: Any = "auto"
    name: str = ""


@dataclass(frozen=True)
class MixConfig:
    """``by`` rows or tokens; ``total`` rows/tokens of the mixture (default: the largest
    mixture that needs no up-sampling); ``to`` the output format (default: the first
    source's); tokens are counted with ``tokenizer`` and ``template``."""

    by: By = "rows"
    total: int | None = None
    seed: int = 0
    to: str | None = None
    tokenizer: str = "qwen2.5"
    template: str = "qwen"


@dataclass
class SourceReport:
    name: str
    path: str
    format: str
    ratio: float
    rows_before: int = 0
    tokens_before: int = 0
    rejected: int = 0
    target: int = 0
    rows_after: int = 0
    tokens_after: int = 0
    kind: str = ""
    losses: dict[str, int] = field(default_factory=dict)


@dataclass
class MixReport:
    """Rows and tokens per source before and after; ``share`` is by ``by``."""

    output: str
    by: str
    seed: int
    total: int
    format: str
    sources: list[SourceReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "sources"}
        unit = "rows_after" if self.by == "rows" else "tokens_after"
        whole = sum(getattr(s, unit) for s in self.sources) or 1
        out["sources"] = [{**s.__dict__, "share": round(getattr(s, unit) / whole, 6)} for s in self.sources]
        return out


def _count(src: MixSource, fmt: Any, tok: Any, tpl: Any, rep: SourceReport, rejects: Any) -> tuple[array[int], array[int]]:
    """Pass 1: the line and token count of every row that decodes."""
    from ..io import read_rows
    from ..tokens import count_record

    lines, weights = array("q"), array("q")
    for row, source in read_rows(src.path):
        try:
            record = fmt.decode(row, source)
        except RecordError as err:
            if rejects is None:
                raise
            rejects.add(row, source, err)
            rep.rejected += 1
            continue
        if rep.kind and record.kind != rep.kind:
            raise UsageError(f"{source}: a {record.kind} record in a source of {rep.kind} records.", path=rep.path, remedy="Mix sources of one kind (sft, preference, kto or pretrain).")
        rep.kind = record.kind
        lines.append(source.line)
        weights.append(count_record(record, tok, tpl).total)
    return lines, weights


def _emit(src: MixSource, fmt: Any, target_fmt: Any, copies: array[int], rep: SourceReport) -> Iterator[dict[str, Any]]:
    """Pass 2: each chosen row (as many times as chosen), encoded, with its provenance."""
    from ..io import read_rows

    at = 0
    for row, source in read_rows(src.path):
        try:
            record = fmt.decode(row, source)
        except RecordError:
            continue  # rejected in pass 1
        n = copies[at]
        at += 1
        if n:
            encoded, lost = target_fmt.encode(record)
            for name in set(lost):
                rep.losses[name] = rep.losses.get(name, 0) + n
            out = {**encoded, "mix_source": str(src.path), "mix_line": source.line}
            for _ in range(n):
                yield out


def _interleave(streams: list[Iterator[dict[str, Any]]], counts: list[int]) -> Iterator[dict[str, Any]]:
    """Rows from every source, each source spread evenly over the output (the one furthest
    behind its share goes next), deterministically."""
    heap = [(1 / (2 * c), i) for i, c in enumerate(counts) if c]
    done = [0] * len(counts)
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        row = next(streams[i], None)
        if row is None:
            continue
        yield row
        done[i] += 1
        if done[i] < counts[i]:
            heapq.heappush(heap, ((done[i] + 0.5) / counts[i], i))


def mix(sources: list[MixSource], output: str | os.PathLike[str], config: MixConfig | None = None, *, rejects: Any = None) -> MixReport:
    """Write the mixture of ``sources`` to ``output`` (atomically) and report it.

    Raises:
        UsageError: no sources, a non-positive ratio, or an empty source.
        RecordError: a row that does not decode, without ``rejects``.
    """
    from ..api import _resolve
    from ..formats import get_format
    from ..io import write_rows
    from ..templates import get_template
    from ..tokenizers import get_tokenizer

    config = config or MixConfig()
    if not sources:
        raise UsageError("no sources to mix.", remedy="Pass FILE:RATIO arguments, or --dataset-info FILE NAMES --ratios R1,R2,...")
    for s in sources:
        if not s.ratio > 0:
            raise UsageError(f"ratio of '{s.name or s.path}' is {s.ratio}; ratios must be positive.", field="ratio", remedy="Give every source a ratio above 0 (they need not sum to 1).")
    tok = get_tokenizer(config.tokenizer)
    tpl = get_template(config.template, tokenizer=tok)
    fmts = [_resolve(s.path, s.format) for s in sources]
    names = {f.name for f in fmts}
    target_fmt = get_format(config.to or (fmts[0].name if len(names) == 1 else "sharegpt"))
    reports = [SourceReport(s.name or Path(s.path).name, str(s.path), f.name, s.ratio) for s, f in zip(sources, fmts)]
    counted = [_count(s, f, tok, tpl, r, rejects) for s, f, r in zip(sources, fmts, reports)]
    for rep, (_, weights) in zip(reports, counted):
        rep.rows_before, rep.tokens_before = len(weights), sum(weights)
        if not rep.rows_before:
            raise UsageError(f"source '{rep.name}' has no usable rows.", path=rep.path, remedy="Check it with `sftdata validate`, or leave it out of the mix.")
    ratios = [s.ratio / sum(x.ratio for x in sources) for s in sources]
    have = [r.rows_before if config.by == "rows" else r.tokens_before for r in reports]
    total = config.total if config.total is not None else min(math.floor(h / r + 1e-9) for h, r in zip(have, ratios))
    targets = apportion(ratios, total) if config.by == "rows" else [round(r * total) for r in ratios]
    all_copies = []
    for i, (s, rep, (lines, weights), target) in enumerate(zip(sources, reports, counted, targets)):
        rng = random.Random(f"{config.seed}:{i}:{rep.name}")
        copies = select_rows(len(weights), target, rng) if config.by == "rows" else select_tokens(weights, target, rng)
        rep.target, rep.rows_after = target, sum(copies)
        rep.tokens_after = sum(c * w for c, w in zip(copies, weights))
        all_copies.append(copies)
    kinds = {r.kind for r in reports}
    if len(kinds) > 1:
        raise UsageError(f"the sources hold different kinds: {', '.join(f'{r.name}: {r.kind}' for r in reports)}.", remedy="Mix sources of one kind (sft, preference, kto or pretrain).")
    streams = [_emit(s, f, target_fmt, c, r) for s, f, c, r in zip(sources, fmts, all_copies, reports)]
    write_rows(_interleave(streams, [r.rows_after for r in reports]), output)
    return MixReport(str(output), config.by, config.seed, total, target_fmt.name, reports)


__all__ = ["MixConfig", "MixReport", "MixSource", "apportion", "mix", "select_rows", "select_tokens"]
