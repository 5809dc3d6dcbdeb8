"""``sftdata tokenize``: tokenize once, in the layout a trainer loads without tokenizing.

>>> report = tokenize_dataset(["fixtures/sharegpt/sft.jsonl"], "/tmp/tok", TokenizeConfig(trainer="trl", cutoff_len=1024))  # doctest: +SKIP
>>> report.rows, report.max_length  # doctest: +SKIP
(4, 1024)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from ..errors import ReadError, RecordError, UsageError
from ..record import Source
from .key import cache_key
from .layouts import LF_BATCH, TEXT_LAYOUTS, Encoder, Stage, Trainer, check_layout, convention_applied
from .packing import PackStats
from .store import Staging, load_manifest, write_text_layout
from .work import BatchResult, Job, reasons, rebase, run_batch, set_job, work_range

RANGE_BYTES = 1 << 20
#: rows left out on purpose (counted in the report and the rejects file), not errors
DROPS = frozenset({"no-trained-token"})


@dataclass(frozen=True)
class TokenizeConfig:
    """How to tokenize (each setting is part of the cache key).

    Attributes:
        tokenizer: a built-in name (``qwen2.5``), a tokenizer folder or a hub id.
        template: chat template name, or ``hf``.
        trainer: the layout and convention: ``llamafactory``, ``trl`` or ``sftdata``.
        stage: ``sft``, ``dpo`` or ``kto`` (the record kind read: sft, preference, kto).
        cutoff_len: the trainer's ``cutoff_len`` (TRL: ``max_length``); ``None`` = no cut.
        train_on: ``all`` assistant turns, the ``last`` one, or ``everything``; ``None``
            is the trainer's default (TRL: every token, its ``assistant_only_loss=False``).
        packing: write packed rows (LLaMA-Factory); other trainers pack at load time and
            get a report only.
        format: the input format, or ``auto``.
        media_root: where relative media paths point (LLaMA-Factory's ``media_dir``).
    """

    tokenizer: str = "qwen2.5"
    template: str = "qwen"
    trainer: Trainer = "sftdata"
    stage: Stage = "sft"
    cutoff_len: int | None = None
    train_on: str | None = None
    packing: bool = False
    format: str = "auto"
    media_root: str | None = None

    def options(self) -> dict[str, Any]:
        """The settings that change the rows (the ``options`` part of the key)."""
        from .layouts import resolved_train_on

        return {"stage": self.stage, "cutoff_len": self.cutoff_len, "train_on": resolved_train_on(self.trainer, self.train_on), "packing": self.packing, "format": self.format, "media_root": self.media_root}


@dataclass
class TokenizeReport:
    """What ``tokenize`` wrote (or found already written: ``reused``)."""

    output: str
    trainer: str
    stage: str
    key: str
    reused: bool = False
    layout: str = "tokens"  # or "text" (TRL DPO/KTO: conversational JSONL)
    convention: str = ""
    read: int = 0
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    trained: int = 0
    cut_rows: int = 0
    untrained_rows: int = 0
    longest: int = 0
    cutoff_len: int | None = None
    max_length: int | None = None
    packing: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        out["tokens_per_second"] = round(self.tokens_per_second, 1)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizeReport:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


Input = "str | os.PathLike[str] | tuple[str | os.PathLike[str], Any]"


def _split_inputs(inputs: list[Any], config: TokenizeConfig) -> tuple[list[Path], tuple[Any, ...]]:
    """Paths and their formats: a ``(path, Format)`` pair (a dataset_info.json entry) keeps
    its codec, a plain path is read as ``config.format`` (or detected)."""
    from ..detect import detect
    from ..formats import get_format

    paths, fmts = [], []
    for item in inputs:
        path, fmt = (Path(item[0]), item[1]) if isinstance(item, tuple) else (Path(item), config.format)
        if not path.is_file():
            raise UsageError(f"input '{path}' is not a file.", field="INPUT", remedy="Pass data files (JSONL, JSON, Parquet, ...).")
        paths.append(path)
        fmts.append(fmt if not isinstance(fmt, str) else get_format(detect(path).format if fmt == "auto" else fmt))
    return paths, tuple(fmts)


def _format_ids(fmts: tuple[Any, ...]) -> list[str]:
    """What identifies each input's codec in the key (a dataset_info entry's column mapping too)."""
    return [f"{f.name}:{getattr(f, 'spec', '')!r}" for f in fmts]


def _plain_jsonl(path: Path) -> bool:
    from ..io.files import suffix_of

    return suffix_of(path) == (".jsonl", None)


def default_workers(inputs: list[Path]) -> int:
    size = sum(p.stat().st_size for p in inputs if p.is_file())
    return min(2, os.cpu_count() or 1) if size > (4 << 20) else 1


def _items(inputs: list[Path], size: int, gate: threading.Semaphore | None) -> Iterator[list[tuple[int, dict[str, Any], Source]]]:
    """The rows of all inputs, concatenated (as LLaMA-Factory merges datasets), in batches."""
    from ..io import read_rows

    rows = chain.from_iterable(((i, row, src) for row, src in read_rows(p)) for i, p in enumerate(inputs))
    while True:
        if gate is not None:
            gate.acquire()
        batch = list(islice(rows, size))
        if not batch:
            return
        yield batch


def _batches(inputs: list[Path], job: Job, workers: int) -> Iterator[BatchResult]:
    """Results in input order: byte ranges of a single JSONL file (when the layout does not
    depend on LLaMA-Factory's batches), else row batches; in ``workers`` processes."""
    import multiprocessing as mp

    from ..engines.local import ordered_ranges, worker_pool

    batch_aligned = job.trainer == "llamafactory" and (job.stage == "kto" or job.packing)
    if workers > 1 and len(inputs) == 1 and _plain_jsonl(inputs[0]) and not batch_aligned:
        base = 0
        with ordered_ranges(inputs[0], work_range, workers=workers, chunk=RANGE_BYTES) as results:
            for _, result in results:
                if result.error is not None:
                    message, code, line, remedy = result.error
                    raise ReadError(message, path=str(inputs[0]), line=base + line, code=code, remedy=remedy)
                yield rebase(result, base)
                base += result.lines
        return
    if workers <= 1:
        for batch in _items(inputs, LF_BATCH, None):
            yield run_batch(batch)
        return
    gate = threading.Semaphore(2 * workers)  # bounded: at most 2 x workers batches in flight
    with worker_pool(workers, method="fork" if "fork" in mp.get_all_start_methods() else "spawn") as pool:
        try:
            for result in pool.imap(run_batch, _items(inputs, LF_BATCH, gate)):
                gate.release()
                yield result
        finally:
            for _ in range(2 * workers):
                gate.release()
            pool.terminate()


def _where(inputs: list[Path], media_root: str | None) -> tuple[tuple[Path | None, Path | None], ...]:
    root = Path(media_root) if media_root else None
    return tuple((p.resolve().parent, root) for p in inputs)


def tokenize_dataset(
    inputs: list[Any],
    output: str | os.PathLike[str],
    config: TokenizeConfig | None = None,
    *,
    workers: int | None = None,
    rejects: Any = None,
    progress: Callable[[int], None] | None = None,
) -> TokenizeReport:
    """Tokenize ``inputs`` into ``output`` in ``config.trainer``'s layout (docs/tokenize.md).

    The output folder records the cache key; when it already holds the same key nothing
    is done (``report.reused``), a different key rebuilds it (atomically: the old folder
    stays until the new one is complete).

    ``inputs`` are paths, or ``(path, Format)`` pairs such as
    :func:`sftdata.formats.llamafactory.from_dataset_info` returns for a dataset_info.json entry.

    Raises:
        UsageError: an unknown trainer/stage pair, or ``output`` is a folder that
            ``tokenize`` did not write.
        RecordError: a row that does not decode (or is of another kind), without ``rejects``.
    """
    from ..templates import get_template
    from ..tokenizers import get_tokenizer

    config = config or TokenizeConfig()
    check_layout(config.trainer, config.stage)
    paths, fmts = _split_inputs(list(inputs), config)
    started = time.perf_counter()
    tokenizer = get_tokenizer(config.tokenizer)
    template = get_template(config.template, tokenizer=tokenizer)
    parts = cache_key(paths, tokenizer, template, config.trainer, {**config.options(), "formats": _format_ids(fmts)})
    out = Path(output)
    found = load_manifest(out, missing_ok=True)
    if found is not None and found[0].key == parts.key:
        report = TokenizeReport.from_dict(found[1])
        report.reused, report.seconds = True, time.perf_counter() - started
        return report
    report = TokenizeReport(str(out), config.trainer, config.stage, parts.key, cutoff_len=config.cutoff_len)
    with Staging(out, parts) as staging:
        if (config.trainer, config.stage) in TEXT_LAYOUTS:
            _text(paths, fmts, config, staging, report, rejects)
        else:
            _tokens(paths, fmts, config, (tokenizer, template), staging, report, (workers, rejects, progress))
        report.seconds = time.perf_counter() - started
        staging.finish(report.to_dict())
    return report


def _text(paths: list[Path], fmts: tuple[Any, ...], config: TokenizeConfig, staging: Staging, report: TokenizeReport, rejects: Any) -> None:
    read, written, bad = write_text_layout(paths, fmts, staging.root / "train.jsonl", KIND_OF[config.stage], rejects)
    report.layout, report.read, report.rows, report.rejected = "text", read, written, bad
    report.notes.append(
        f"TRL's {config.stage.upper()} trainer always tokenizes from text: wrote TRL's conversational format to train.jsonl "
        f"(load it with datasets.load_dataset('json', data_files=...)); set max_length={config.cutoff_len or 'None'} in its config."
    )


KIND_OF = {"sft": "sft", "dpo": "preference", "kto": "kto"}


class _Forecast:
    """What packing would give, per LLaMA-Factory batch of rows in input order (the
    workers' results arrive in order, so this is the same for any number of workers)."""

    def __init__(self, pack: PackStats, cutoff_len: int | None) -> None:
        self.pack, self.cutoff_len = pack, cutoff_len
        self.lengths: list[int] = []
        self.trains: list[int] = []

    def extend(self, lengths: list[int], trains: list[int]) -> None:
        self.lengths += lengths
        self.trains += trains
        while len(self.lengths) >= LF_BATCH:
            self._add(LF_BATCH)

    def _add(self, n: int) -> None:
        capacity = self.cutoff_len or max(self.lengths[:n], default=1)
        self.pack.add(self.lengths[:n], sum(self.trains[:n]), capacity)
        del self.lengths[:n], self.trains[:n]

    def flush(self) -> None:
        if self.lengths:
            self._add(len(self.lengths))


def _tokens(paths: list[Path], fmts: tuple[Any, ...], config: TokenizeConfig, tok_tpl: tuple[Any, Any], staging: Staging, report: TokenizeReport, run: tuple[Any, Any, Any]) -> None:
    workers, rejects, progress = run
    tokenizer, template = tok_tpl
    encoder = Encoder(tokenizer, template, config.trainer, config.train_on, config.cutoff_len)  # type: ignore[arg-type]
    pad = getattr(tokenizer, "pad_token_id", None)
    job = Job(fmts, encoder, config.trainer, config.stage, config.packing, pad if isinstance(pad, int) else 0, _where(paths, config.media_root), tuple(str(p) for p in paths))
    pack = PackStats(packed=config.packing)
    forecast = _Forecast(pack, config.cutoff_len)
    report.convention = convention_applied(config.trainer)
    if report.convention != config.trainer:
        report.notes.append(f"labels and cutoff follow sftdata's convention: this sftdata has no '{config.trainer}' convention in encode_record yet")
    set_job(job)
    try:
        for result in _batches(paths, job, workers or default_workers(paths)):
            for row, source, issues in result.rejected:
                err = RecordError(list(issues), path=source.path if source else None, line=source.line if source else None)
                if rejects is None and issues[0].code not in DROPS:
                    raise err
                if rejects is not None:
                    rejects.add(row, source, err)
            staging.write(result.columns)
            report.read += result.rows + len(result.rejected)
            report.rows += result.rows
            report.tokens += result.tokens
            report.trained += result.trained
            report.cut_rows += result.cut_rows
            report.untrained_rows += result.untrained_rows
            report.longest = max(report.longest, result.longest)
            for code, n in reasons(result.rejected).items():
                report.rejected[code] = report.rejected.get(code, 0) + n
            pack.merge(result.pack)
            forecast.extend(result.lengths, result.trains)
            if progress is not None:
                progress(report.read)
    finally:
        set_job(None)
    forecast.flush()
    pack.packed = config.packing and config.trainer == "llamafactory" and config.stage == "sft"  # written packed
    report.packing = pack.to_dict()
    if config.packing and config.trainer != "llamafactory":
        report.notes.append(f"rows are written unpacked: {'SFTTrainer packs them itself with packing=True' if config.trainer == 'trl' else 'sftdata train packs them with packing: true'}")
    if config.trainer == "trl":
        report.max_length = config.cutoff_len or report.longest
        report.notes.append(f"SFTTrainer truncates again to its max_length (default 1024): set max_length={report.max_length} (or None) in SFTConfig")


__all__ = ["TokenizeConfig", "TokenizeReport", "tokenize_dataset"]
