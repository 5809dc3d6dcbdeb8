"""The per-batch work of ``tokenize``: decode, encode, build the layout's rows (in workers).

A batch is a list of ``(input index, row, source)``. The job (formats, encoder, layout)
is set in the parent before worker processes fork (:func:`set_job`) and inherited by them,
so only rows and finished columns cross a pipe; with byte ranges (:func:`work_range`) the
workers read their own part of a JSONL file and only columns come back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Issue, RecordError
from ..io.lines import BadLine
from ..record import Record, Source
from ..tokens import IGNORE_INDEX
from .layouts import BUILDERS, KIND_OF_STAGE, Encoder, kl_records, lf_kto, trained
from .packing import PackStats, lf_pack_batch

Item = tuple[int, dict[str, Any], Source]
Rejected = tuple[dict[str, Any], Source | None, tuple[Issue, ...]]


@dataclass(frozen=True)
class Job:
    """What every worker needs: one decoder per input, the encoder and the layout."""

    formats: tuple[Any, ...]
    encoder: Encoder
    trainer: str
    stage: str
    packing: bool
    pad_id: int
    where: tuple[tuple[Path | None, Path | None], ...]  # (dataset folder, media root) per input
    paths: tuple[str, ...] = ()


@dataclass
class BatchResult:
    """Columns of the rows written, rejected rows, and counts (line numbers local to a range)."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    lines: int = 0
    rows: int = 0
    tokens: int = 0
    trained: int = 0
    cut_rows: int = 0
    untrained_rows: int = 0
    longest: int = 0
    pack: PackStats = field(default_factory=PackStats)  # packed rows (LLaMA-Factory --packing)
    lengths: list[int] = field(default_factory=list)  # unpacked: per row, for the packing forecast
    trains: list[int] = field(default_factory=list)


_JOB: Job | None = None


def set_job(job: Job | None) -> None:
    global _JOB
    _JOB = job


def _append(columns: dict[str, list[Any]], row: dict[str, Any]) -> None:
    if not columns:
        columns.update({k: [] for k in row})
    for k, v in row.items():
        columns[k].append(v)


def _reject(out: BatchResult, row: dict[str, Any], source: Source | None, code: str, message: str) -> None:
    out.rejected.append((row, source, (Issue(code, message),)))


def run_batch(items: list[Item]) -> BatchResult:
    """Encode one batch of rows into the layout's columns; rejected rows in input order
    (whatever the batch size, so any number of workers or engine sets aside the same file)."""
    out = _run_batch(items)
    if len(out.rejected) > 1:
        order = {id(source): k for k, (_, _, source) in enumerate(items)}
        out.rejected.sort(key=lambda r: order.get(id(r[1]), 0))
    return out


def _run_batch(items: list[Item]) -> BatchResult:
    job = _JOB
    assert job is not None
    out = BatchResult()
    want = KIND_OF_STAGE[job.stage]
    decoded: list[tuple[int, dict[str, Any], Source, Record]] = []
    for idx, row, source in items:
        if type(row) is BadLine:  # a line that is not a JSON object: set aside (or the error)
            out.rejected.append((row.text, source, (Issue(row.code, row.message),)))
            continue
        try:
            record = job.formats[idx].decode(row, source)
        except RecordError as err:
            out.rejected.append((row, source, err.issues))
            continue
        if record.kind != want:
            _reject(out, row, source, "wrong-kind", f"a {record.kind} record; --stage {job.stage} reads {want} records")
            continue
        decoded.append((idx, row, source, record))
    built: list[dict[str, Any]] = []
    lengths: list[int] = []
    if job.trainer == "llamafactory" and job.stage == "kto":
        kls = kl_records([r for *_, r in decoded])  # type: ignore[misc]
        pairs = [(d, lf_kto(d[3], kl, job.encoder, job.where[d[0]])) for d, kl in zip(decoded, kls)]
    else:
        build = BUILDERS[(job.trainer, job.stage)]
        pairs = [(d, build(d[3], job.encoder, job.where[d[0]])) for d in decoded]
    lf = job.trainer == "llamafactory"
    for (idx, row, source, record), (cols, enc) in pairs:
        n_trained = trained(enc.labels)
        if not n_trained and not lf:  # TRL drops such rows itself, sftdata train too: say so here
            _reject(out, row, source, "no-trained-token", "no trained token is left after the cutoff")
            continue
        if not n_trained:
            out.untrained_rows += 1
        out.cut_rows += 1 if enc.cut else 0
        n = len(enc.input_ids)
        out.rows += 1
        out.tokens += n
        out.trained += n_trained
        out.longest = max(out.longest, n)
        lengths.append(n)
        built.append(cols)
    capacity = job.encoder.cutoff_len or max(lengths, default=1)
    if job.packing and lf and job.stage == "sft":
        packs = lf_pack_batch(built, capacity, job.pad_id)
        for p in packs:
            _append(out.columns, p)
        out.pack = PackStats(rows=len(built), packs=len(packs), tokens=sum(lengths), trained=sum(sum(1 for x in p["labels"] if x != IGNORE_INDEX) for p in packs), capacity=capacity, packed=True, slots=len(packs) * capacity)
        return out
    for cols in built:
        _append(out.columns, cols)
    out.lengths = lengths
    out.trains = [trained(c.get("labels", c.get("chosen_labels", []))) for c in built]
    return out


def work_range(span: tuple[int, int]) -> BatchResult:
    """One byte range of the job's single JSONL input, read here."""
    from ..engines.local import line_count, read_span
    from ..io.files import range_rows

    job = _JOB
    assert job is not None
    path = job.paths[0]
    data = read_span(path, span)
    out = run_batch([(0, row, Source(path, lineno, "line")) for lineno, row in range_rows(data, tolerant=True)])
    out.lines = line_count(data)
    return out


def rebase(result: BatchResult, base: int) -> BatchResult:
    """Turn a range's local line numbers into file line numbers."""
    if base:
        if "line" in result.columns:
            result.columns["line"] = [n + base for n in result.columns["line"]]
        result.rejected = [(r, Source(s.path, s.line + base, s.unit) if s else None, i) for r, s, i in result.rejected]
    return result


def reasons(rejected: list[Rejected]) -> Counter[str]:
    return Counter(i.code for _, _, issues in rejected for i in issues)


__all__ = ["BatchResult", "Item", "Job", "rebase", "run_batch", "set_job", "work_range"]
