"""Token statistics of a dataset file, after the chat template (``sftdata stats``).

Rows are read in the parent process and decoded, rendered and tokenized in worker
processes (fork) over chunks; at most ``2 x workers`` chunks are in flight, so memory
stays bounded whatever the file size. Every row ends counted or rejected (with its
reason and line): ``read == records + rejected``.

>>> report = token_stats("fixtures/sharegpt/sft.jsonl", tokenizer="qwen2.5", template="qwen", workers=1)  # doctest: +SKIP
>>> report.records, report.fields["total"].p50  # doctest: +SKIP
(4, 41)
"""

from __future__ import annotations

import gc
import os
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from ..engines.base import LOCAL, Engine
from ..engines.local import line_count, read_span
from ..engines.run import ordered_ranges, require_ranges
from ..errors import Issue, RecordError, UsageError
from ..formats import Format, get_format
from ..io import read_rows
from ..io.remote import is_uri
from ..media.tokens import MediaOptions, MediaTokens, media_tokens
from ..record import Source
from ..templates import Template, TrainOn, get_template
from ..tokenizers import Tokenizer, get_tokenizer
from ..tokens import count_record
from .report import FIELDS, StatsConfig, StatsReport, build_report

CHUNK = 512
RANGE_BYTES = 1 << 20  # ~750 records of 1.3 KB: small enough to keep both workers busy
KINDS = ("sft", "preference", "kto", "pretrain")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}


# One row's result: (line, kind code, total, prompt, trainable, overhead, turns, media,
# cut, cut_trainable, rejected_total (-1: none), rejected_trainable, label (-1/0/1),
# images, image_tokens, media_unknown, rejected_cut (-1: none), rejected_cut_trainable).
Row = tuple[int, ...]
Rejected = tuple[dict[str, Any], Source | None, tuple[Issue, ...]]

# Set in the parent before the pool forks, inherited by the workers.
_JOB: tuple[Format, Tokenizer, Template, TrainOn, int | None, MediaTokens | None, str] | None = None


def _work(chunk: list[tuple[dict[str, Any], Source]]) -> tuple[list[Row], list[Rejected]]:
    assert _JOB is not None
    fmt, tokenizer, template, train_on, cutoff_len, media, trainer = _JOB
    decode = fmt.decode
    out: list[Row] = []
    rejected: list[Rejected] = []
    for row, source in chunk:
        try:
            record = decode(row, source)
        except RecordError as err:
            rejected.append((row, source, err.issues))
            continue
        c = count_record(record, tokenizer, template, train_on, cutoff_len, media, trainer)  # type: ignore[arg-type]
        out.append(
            (
                source.line if source else 0, _KIND_CODE[c.kind], c.total, c.prompt, c.trainable, c.overhead, c.turns,
                c.media, c.cut, c.cut_trainable,
                -1 if c.rejected_total is None else c.rejected_total,
                -1 if c.rejected_trainable is None else c.rejected_trainable,
                -1 if c.label is None else int(c.label),
                c.images, c.image_tokens, c.media_unknown,
                -1 if c.rejected_cut is None else c.rejected_cut,
                -1 if c.rejected_cut_trainable is None else c.rejected_cut_trainable,
            )
        )  # fmt: skip
    return out, rejected


def _work_range(span: tuple[int, int]) -> tuple[int, list[Row], list[Rejected], tuple[str, str, int, str, str | None] | None]:
    """Count the rows of one byte range of a JSONL file, read here (nothing crosses a
    pipe but the counts). Line numbers are local to the range; the parent rebases them."""
    from ..io.files import BadLine, range_rows

    assert _JOB is not None and _PATH is not None
    data = read_span(_PATH, span)
    lines = line_count(data)
    chunk, unreadable = [], []
    for lineno, row in range_rows(data, tolerant=True):
        if type(row) is BadLine:  # a reject with --rejects, else the error (in file order)
            unreadable.append((row.text, Source(_PATH, lineno, "line"), (Issue(row.code, row.message),)))
        else:
            chunk.append((row, Source(_PATH, lineno, "line")))
    done, rejected = _work(chunk)
    if unreadable:
        rejected = sorted(rejected + unreadable, key=lambda r: r[1].line if r[1] else 0)
    return lines, done, rejected, None


_PATH: str | None = None


def _chunks(rows: Iterable[tuple[dict[str, Any], Source]], size: int, gate: threading.Semaphore | None, stop: threading.Event | None = None) -> Iterator[list[tuple[dict[str, Any], Source]]]:
    it = iter(rows)
    while True:
        if gate is not None:
            gate.acquire()  # released when a result comes back: bounded memory
        if stop is not None and stop.is_set():
            return
        chunk = list(islice(it, size))
        if not chunk:
            return
        yield chunk


class Columns:
    """Per-record counts as compact integer arrays (8 bytes per value)."""

    def __init__(self) -> None:
        self.data: dict[str, array[int]] = {name: array("q") for name in ("line", "kind", *FIELDS, "cut", "cut_trainable", "rejected_total", "rejected_trainable", "label", "images", "image_tokens", "media_unknown", "rejected_cut", "rejected_cut_trainable")}
        self._order = list(self.data.values())

    def extend(self, rows: list[Row]) -> None:
        for row in rows:
            for col, value in zip(self._order, row):
                col.append(value)

    def __len__(self) -> int:
        return len(self.data["line"])


def _plain_jsonl(path: Path) -> bool:
    from ..io.files import suffix_of

    return suffix_of(path) == (".jsonl", None)


def _init_job(path: str, fmt: Format, config: StatsConfig) -> None:
    """Set a Ray actor up as the parent sets itself up before forking local workers."""
    global _JOB, _PATH
    _JOB, _PATH = _job(fmt, config), path


def _job(fmt: Format, config: StatsConfig) -> tuple[Format, Tokenizer, Template, TrainOn, int | None, MediaTokens | None, str]:
    """What :func:`_work` needs (``_JOB``): the same in the parent, a forked worker and a Ray actor."""
    tokenizer = get_tokenizer(config.tokenizer)
    template = get_template(config.template, tokenizer=tokenizer)
    return fmt, tokenizer, template, config.train_on, config.cutoff_len, media_tokens(tokenizer, template, config.media), config.trainer


def _parallel_ranges(path: Path | str, workers: int, absorb: Callable[[tuple[list[Row], list[Rejected]]], None], engine: Engine = LOCAL, job: tuple[Format, StatsConfig] | None = None) -> None:
    """Workers read byte ranges of a JSONL file themselves; results come back in file order.
    Local workers inherit the job by fork; Ray actors build it from ``job``."""
    from ..errors import ReadError

    base = 0
    init: dict[str, Any] = {"initializer": _init_job, "initargs": (str(path), *job)} if engine.ray and job is not None else {}
    with ordered_ranges(path, _work_range, workers=workers, chunk=RANGE_BYTES, engine=engine, **init) as results:
        for _, (lines, done, rejected, error) in results:
            if error is not None:
                message, code, lineno, remedy, fld = error
                raise ReadError(message, path=str(path), line=base + lineno, code=code, remedy=remedy, field=fld)
            fix = base
            absorb(
                (
                    [(row[0] + fix, *row[1:]) for row in done],
                    [(r, Source(s.path, s.line + fix, s.unit) if s else None, issues) for r, s, issues in rejected],
                )
            )
            base += lines


def default_workers(path: Path) -> int:
    """Two processes for files over 4 MB (forking costs ~0.1 s), else one."""
    try:
        big = path.stat().st_size > (4 << 20)
    except OSError:
        big = False
    return min(2, os.cpu_count() or 1) if big else 1


def token_stats(
    path: str | os.PathLike[str],
    config: StatsConfig | None = None,
    *,
    workers: int | None = None,
    rejects: Any = None,
    progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
    **options: Any,
) -> StatsReport:
    """Token statistics of a file (see :class:`~sftdata.stats.report.StatsReport`).

    Args:
        path: a dataset file in any readable format.
        config: a :class:`StatsConfig`; keyword ``options`` build one when it is None
            (``tokenizer=``, ``template=``, ``train_on=``, ``cutoff_len=``, ``epochs=``, ``format=``,
            ``trainer=``).
        workers: processes; default two for files over 4 MB, else one.
        rejects: a :class:`~sftdata.api.RejectSink` for rows that do not decode;
            without one, the first such row raises.
        progress: called with the number of rows done after each chunk.
        engine: ``Engine("ray")`` counts a ``.jsonl`` file or URI on Ray, with the same
            report (the per-record counts are gathered in file order, so every total and
            percentile is exact).
    """
    global _JOB, _PATH
    config = config or StatsConfig(**options)
    on_ray = engine is not None and engine.ray
    if on_ray:
        require_ranges(path)
    p: Any = str(path) if is_uri(path) else Path(path)
    if isinstance(config.format, Format):  # a dataset_info.json entry's codec
        fmt = config.format
    elif config.format == "auto":
        from ..detect import detect

        fmt = get_format(detect(p, majority=rejects is not None).format)
    else:
        fmt = get_format(config.format)
    _, tokenizer, template, _, _, media, _ = job = _job(fmt, config)
    workers = workers or (1 if on_ray else default_workers(p))
    columns = Columns()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    _JOB = job
    # Lines that are not JSON objects wait here and join their chunk's rejects in line
    # order, so the rejects file lists rows in file order as the range path writes it.
    unread: deque[tuple[Any, Source, str, str, str]] = deque()
    rows = read_rows(p, bad=(lambda *line: unread.append(line)) if rejects is not None else None)

    def absorb(result: tuple[list[Row], list[Rejected]]) -> None:
        done, bad = result
        columns.extend(done)
        if unread:
            events: list[tuple[Any, ...]] = list(bad)
            while unread:
                events.append(unread.popleft())
            bad = sorted(events, key=lambda e: e[1].line if e[1] else 0)  # type: ignore[assignment]
        for row, source, issues, *line in bad:  # type: ignore[misc]
            if line:  # a line that is not a JSON object (text, source, code, message, remedy)
                rejects.bad_line(row, source, issues, *line)
                continue
            err = RecordError(list(issues), path=source.path if source else None, line=source.line if source else None)
            if rejects is None:
                raise err
            rejects.add(row, source, err)
        if progress is not None:
            progress(len(columns) + (rejects.total if rejects is not None else 0))

    # Long-lived objects (the tokenizer's 151k-entry rank table, schemas, the caller's
    # data) would be rescanned by every full collection; freezing them made counting
    # ~30% faster. Workers fork from here and inherit the frozen generation.
    gc.freeze()
    try:
        if on_ray:
            _parallel_ranges(p, workers, absorb, engine or LOCAL, (fmt, config))
        elif workers <= 1:
            for chunk in _chunks(rows, CHUNK, None):
                absorb(_work(chunk))
        elif _plain_jsonl(p):
            _PATH = str(p)
            _parallel_ranges(p, workers, absorb)
        else:
            from ..engines.local import worker_pool

            gate, stop = threading.Semaphore(workers * 2), threading.Event()
            with worker_pool(workers) as pool:
                try:
                    for result in pool.imap(_work, _chunks(rows, CHUNK, gate, stop)):
                        gate.release()
                        absorb(result)
                except BaseException:
                    # unblock the pool's feeder thread so that the pool can shut down
                    stop.set()
                    gate.release()
                    raise
        if unread:  # unreadable lines after the last row
            absorb(([], []))
    finally:
        _JOB, _PATH = None, None
        gc.unfreeze()
    seconds = time.perf_counter() - started
    for code, n in Counter(columns.data["kind"]).items():
        kinds[KINDS[code]] = n
    warnings = check_pairing(tokenizer, template) + _media_warnings(tokenizer, template, config.media, media, sum(columns.data["images"]))
    if sum(columns.data["media"]):
        warnings += media_outside_warnings(p, fmt, config.media)
    return build_report(str(p), config, fmt.name, tokenizer.name, template.name, columns.data, kinds, rejects, seconds, warnings, media.model.name if media else None)


def _media_warnings(tokenizer: Tokenizer, template: Template, options: MediaOptions, media: MediaTokens | None, images: int) -> list[str]:
    """Say so when the template's media model was asked for but cannot apply."""
    name = getattr(template, "media_model", None)
    if not images:
        return []
    if media is None and options.model == "auto" and name:
        return [f"template '{template.name}' expands images as {name}, but tokenizer '{tokenizer.name}' has no such pad token: images count as placeholders"]
    return []


def media_outside_warnings(path: Path, fmt: Format, options: MediaOptions | None) -> list[str]:
    """``media-outside``: media paths that resolve outside the dataset's folder and the
    media root, named (a second, decode-only pass, run only when the data has media)."""
    from ..media.paths import outside_paths

    def records() -> Iterator[Any]:
        # lines that are not JSON objects were the first pass's business (rejects)
        for row, source in read_rows(path, bad=lambda *_: None):
            try:
                yield fmt.decode(row, source)
            except RecordError:
                continue

    root = options.media_root if options else None
    n, shown = outside_paths(records(), root)
    if not n:
        return []
    where = "the dataset folder" + (" and the media root" if root else "")
    what = "not opened (--confine-media)" if options is not None and options.confine else "read anyway; --confine-media refuses to open them"
    more = f" and {n - len(shown):,} more" if n > len(shown) else ""
    return [f"media-outside: {n:,} media path{'s' if n != 1 else ''} resolve{'s' if n == 1 else ''} outside {where}, {what}: {'; '.join(shown)}{more}"]


def check_pairing(tokenizer: Tokenizer, template: Template) -> list[str]:
    """Warnings when a template does not look like this tokenizer's (its end-of-turn
    token is not one token): the counts are then right for the pair, but the pair is
    probably not what the trainer will use."""
    stop = getattr(template, "stop", "")
    if not stop:
        return []
    try:
        tokenizer.token_id(stop)
    except UsageError:
        n = len(tokenizer.encode(stop))
        return [
            f"template '{template.name}' ends turns with {stop!r}, which tokenizer '{tokenizer.name}' splits into {n} tokens: "
            "is this the model's template? (counts are exact for this pair)"
        ]
    return []


__all__ = ["StatsConfig", "token_stats"]
