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

from ..engines.base import LOCAL
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
        val_size: a validation split, as LLaMA-Factory's ``val_size`` makes it: a share
            (0.1) or, above 1, a row count; ``0`` = none. The rows are split before
            tokenizing with ``datasets``' ``train_test_split(test_size, seed)``, so both
            splits hold the rows, in the order, that LLaMA-Factory would save.
        seed: the split's seed (LLaMA-Factory's ``seed``, default 42).
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
    val_size: float = 0.0
    seed: int = 42

    def options(self) -> dict[str, Any]:
        """The settings that change the rows (the ``options`` part of the key)."""
        from .layouts import resolved_train_on

        out = {"stage": self.stage, "cutoff_len": self.cutoff_len, "train_on": resolved_train_on(self.trainer, self.train_on), "packing": self.packing, "format": self.format, "media_root": self.media_root}
        if self.val_size:  # only then, so folders written without a split keep their key
            out.update(val_size=self.val_size, seed=self.seed)
        return out


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
    splits: dict[str, int] = field(default_factory=dict)  # rows written per split
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


def _items(inputs: list[Path], size: int, gate: threading.Semaphore | None) -> Iterator[list[tuple[int, Any, Source]]]:
    """The rows of all inputs, concatenated (as LLaMA-Factory merges datasets), in batches;
    a line that is not a JSON object comes as a :class:`~sftdata.io.lines.BadLine` in its
    place (the batch sets it aside, or the run stops at it without ``--rejects``)."""
    rows = chain.from_iterable(_tolerant(i, p) for i, p in enumerate(inputs))
    while True:
        if gate is not None:
            gate.acquire()
        batch = list(islice(rows, size))
        if not batch:
            return
        yield batch


def _tolerant(index: int, path: Path) -> Iterator[tuple[int, Any, Source]]:
    from ..io import read_rows
    from ..io.lines import BadLine

    pending: list[tuple[int, Any, Source]] = []

    def bad(text: Any, source: Source, code: str, message: str, remedy: str) -> None:
        pending.append((index, BadLine(source.line, code, message, remedy, text), source))

    for row, source in read_rows(path, bad=bad):
        yield from pending  # unreadable lines before this row, in file order
        pending.clear()
        yield index, row, source
    yield from pending


def _batches(inputs: list[Path], job: Job, workers: int, rows: Callable[[int, threading.Semaphore | None], Iterator[list[Any]]] | None = None, ray: tuple[Any, TokenizeConfig] | None = None) -> Iterator[BatchResult]:
    """Results in input order: byte ranges of a single JSONL file (when the layout does not
    depend on LLaMA-Factory's batches), else row batches; in ``workers`` processes.
    ``rows(size, gate)`` gives the row batches instead of the inputs (a split's order).
    ``ray=(engine, config)``: the byte ranges run on Ray actors, which build the job from
    the config (a tokenizer is loaded where it runs, not shipped)."""
    import multiprocessing as mp

    from ..engines.local import worker_pool

    batch_aligned = job.trainer == "llamafactory" and (job.stage == "kto" or job.packing)
    items = rows or (lambda size, gate: _items(inputs, size, gate))
    if ray is not None or (rows is None and workers > 1 and len(inputs) == 1 and _plain_jsonl(inputs[0]) and not batch_aligned):
        from ..engines.run import ordered_ranges as any_ranges

        init: dict[str, Any] = {"initializer": _ray_job, "initargs": (ray[1], job.formats, job.paths)} if ray is not None else {}
        base = 0
        with any_ranges(inputs[0], work_range, workers=workers, chunk=RANGE_BYTES, engine=ray[0] if ray is not None else LOCAL, **init) as results:
            for _, result in results:
                yield rebase(result, base)
                base += result.lines
        return
    if workers <= 1:
        for batch in items(LF_BATCH, None):
            yield run_batch(batch)
        return
    gate = threading.Semaphore(2 * workers)  # bounded: at most 2 x workers batches in flight
    with worker_pool(workers, method="fork" if "fork" in mp.get_all_start_methods() else "spawn") as pool:
        try:
            for result in pool.imap(run_batch, items(LF_BATCH, gate)):
                gate.release()
                yield result
        finally:
            for _ in range(2 * workers):
                gate.release()
            pool.terminate()


def _ray_job(config: TokenizeConfig, formats: tuple[Any, ...], paths: tuple[str, ...]) -> None:
    """Set a Ray actor up with the job the driver runs (as a forked worker inherits it)."""
    from ..templates import get_template
    from ..tokenizers import get_tokenizer

    tokenizer = get_tokenizer(config.tokenizer)
    template = get_template(config.template, tokenizer=tokenizer)
    set_job(_job(config, formats, [Path(p) for p in paths], tokenizer, template))


def _job(config: TokenizeConfig, fmts: tuple[Any, ...], paths: list[Path], tokenizer: Any, template: Any) -> Job:
    encoder = Encoder(tokenizer, template, config.trainer, config.train_on, config.cutoff_len)  # type: ignore[arg-type]
    pad = getattr(tokenizer, "pad_token_id", None)
    return Job(fmts, encoder, config.trainer, config.stage, config.packing, pad if isinstance(pad, int) else 0, _where(paths, config.media_root), tuple(str(p) for p in paths))


def _ray_ready(paths: list[Path], config: TokenizeConfig, engine: Any) -> tuple[Any, TokenizeConfig] | None:
    """``(engine, config)`` when ``engine`` is Ray and this run can use it, else ``None``;
    what Ray cannot run is a clear error, never a silent local run."""
    if engine is None or not engine.ray:
        return None
    from ..engines.run import require_ranges

    if (config.trainer, config.stage) in TEXT_LAYOUTS:
        raise UsageError(f"tokenize --engine ray writes token layouts; {config.trainer} {config.stage} is a text conversion.", field="--engine", remedy="Use `sftdata convert INPUT -o OUT --to trl --engine ray` for it, or drop --engine ray.")
    if len(paths) != 1:
        raise UsageError("tokenize --engine ray reads one .jsonl file.", field="--engine", remedy="Concatenate the inputs first (sftdata convert ... -o all.jsonl), or drop --engine ray.")
    require_ranges(paths[0])
    if config.val_size or (config.trainer == "llamafactory" and (config.stage == "kto" or config.packing)):
        raise UsageError(
            "tokenize --engine ray runs byte ranges; --val-size, and LLaMA-Factory's KTO pairs and packing (built per 1000-row batch), need the rows in one order on one machine.",
            field="--engine",
            remedy="Drop --engine ray for this layout (the local engine streams it with bounded memory).",
        )
    return engine, config


def _consume(results: Iterator[BatchResult], split: str, staging: Staging, report: TokenizeReport, sinks: tuple[Any, Any], packs: tuple[PackStats, _Forecast]) -> None:
    """Write one split's results and add them to the report."""
    rejects, progress = sinks
    pack, forecast = packs
    report.splits.setdefault(split, 0)
    for result in results:
        for row, source, issues in result.rejected:
            err = RecordError(list(issues), path=source.path if source else None, line=source.line if source else None)
            if rejects is None and not isinstance(row, dict):  # a line that is not a JSON object
                raise ReadError(issues[0].message, path=source.path if source else None, line=source.line if source else None, code=issues[0].code, remedy="Fix or delete that line; `--rejects FILE` sets every unreadable line aside and goes on.")
            if rejects is None and issues[0].code not in DROPS:
                raise err
            if rejects is not None:
                rejects.add(row, source, err)
        staging.write(result.columns, split)
        report.read += result.rows + len(result.rejected)
        report.rows += result.rows
        report.splits[split] += result.rows
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
    engine: Any = None,
) -> TokenizeReport:
    """Tokenize ``inputs`` into ``output`` in ``config.trainer``'s layout (docs/tokenize.md).

    The output folder records the cache key; when it already holds the same key nothing
    is done (``report.reused``), a different key rebuilds it (atomically: the old folder
    stays until the new one is complete).

    ``engine=Engine("ray")`` tokenizes the byte ranges of one ``.jsonl`` input on Ray
    actors (same rows, order and report; not for ``val_size`` or LLaMA-Factory's KTO and
    packing layouts, which need LLaMA-Factory's batches in order).

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
    ray = _ray_ready(paths, config, engine)  # what Ray cannot run fails before any work
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
            _tokens(paths, fmts, config, (tokenizer, template), staging, report, (workers, rejects, progress, ray))
        report.seconds = time.perf_counter() - started
        staging.finish(report.to_dict())
    return report


def _text(paths: list[Path], fmts: tuple[Any, ...], config: TokenizeConfig, staging: Staging, report: TokenizeReport, rejects: Any) -> None:
    kind = KIND_OF[config.stage]
    if not config.val_size:
        report.read, report.rows, report.rejected = write_text_layout(paths, fmts, staging.root / "train.jsonl", kind, rejects)
        report.splits = {"train": report.rows}
    else:
        from .split import Spool, split_order

        with Spool(paths) as spool:
            orders = split_order(spool.fill(), config.val_size, config.seed)
            for name, order in orders.items():
                items = (item for batch in spool.batches(order, LF_BATCH, None) for item in batch)
                read, written, bad = write_text_layout(paths, fmts, staging.root / f"{name}.jsonl", kind, rejects, items)
                report.read += read
                report.rows += written
                report.splits[name] = written
                for code, n in bad.items():
                    report.rejected[code] = report.rejected.get(code, 0) + n
    report.layout = "text"
    files = " and ".join(f"{name}.jsonl" for name in report.splits)
    report.notes.append(
        f"TRL's {config.stage.upper()} trainer always tokenizes from text: wrote TRL's conversational format to {files} "
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


def _tokens(paths: list[Path], fmts: tuple[Any, ...], config: TokenizeConfig, tok_tpl: tuple[Any, Any], staging: Staging, report: TokenizeReport, run: tuple[Any, Any, Any, Any]) -> None:
    workers, rejects, progress, ray = run
    tokenizer, template = tok_tpl
    job = _job(config, fmts, paths, tokenizer, template)
    pack = PackStats(packed=config.packing)
    forecast = _Forecast(pack, config.cutoff_len)
    report.convention = convention_applied(config.trainer)
    if report.convention != config.trainer:
        report.notes.append(f"labels and cutoff follow sftdata's convention: this sftdata has no '{config.trainer}' convention in encode_record yet")
    set_job(job)
    try:
        workers = workers or default_workers(paths)
        if not config.val_size:
            _consume(_batches(paths, job, workers, ray=ray), "train", staging, report, (rejects, progress), (pack, forecast))
        else:
            from .split import Spool, split_order

            with Spool(paths) as spool:
                orders = split_order(spool.fill(), config.val_size, config.seed)
                for name, order in orders.items():
                    batches = _batches(paths, job, workers, lambda size, gate, order=order: spool.batches(order, size, gate))  # type: ignore[misc]
                    _consume(batches, name, staging, report, (rejects, progress), (pack, forecast))
                    forecast.flush()  # LLaMA-Factory preprocesses each split on its own
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
