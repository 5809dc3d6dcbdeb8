"""``sftdata.validate``: the one function the CLI and Python users call."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..api import RejectSink
from ..engines.base import Engine
from ..errors import Issue, ReadError, RecordError, UsageError
from ..formats import Format
from ..io import suffix_of, write_rows
from ..io.compression import has_bom
from ..progress import Ticker
from ..progress import progress as progress_bar
from ..record import Source, _Record
from .engine import CleanBatch, Options, Outcome, Validator, base_dir_of, choose_format, resolve_format, sample_rows
from .profiles import Profile, get_profile
from .reader import RawRow, read_tolerant
from .report import ValidationReport

PathLike = str | os.PathLike[str]


def _options(profile: Profile, kwargs: dict[str, Any]) -> Options:
    if "media_root" in kwargs and kwargs["media_root"] is not None:
        kwargs["media_root"] = Path(kwargs["media_root"])
    try:
        return Options(profile=profile, **kwargs)
    except TypeError as exc:
        known = ", ".join(f for f in Options.__dataclass_fields__ if f != "profile")
        raise UsageError(f"unknown validation option ({exc}).", remedy=f"Options: {known}.") from None


def _default_workers(path: PathLike) -> int:
    """One process per CPU (up to 8) for files of 32 MiB or more, like ``convert``."""
    from ..engines.local import cpu_count

    try:
        big = os.stat(path).st_size >= 32 << 20
    except OSError:
        big = False
    return max(1, min(cpu_count(), 8)) if big else 1


def _file_units(path: PathLike, fmt: Format | None, opts: Options, workers: int, want_rows: bool, engine: Engine | None = None) -> tuple[Validator, Iterator[Outcome | CleanBatch]]:
    name = str(path)
    if fmt is None:
        rows = sample_rows(read_tolerant(path))
        fmt = choose_format(rows, name) if rows else None
    validator = Validator(fmt, opts, base_dir_of(path))
    if engine is not None and engine.ray:
        from .ranges import ray_outcomes

        return validator, ray_outcomes(path, validator, engine)
    from .fast import fast_outcomes

    fast = fast_outcomes(path, validator, workers, want_rows)
    if fast is not None:
        return validator, fast
    return validator, (validator.check_raw(raw) for raw in read_tolerant(path))


def _object_units(items: Iterable[Any], fmt: Format | None, opts: Options) -> tuple[Validator, Iterator[Outcome]]:
    it = iter(items)
    head = list(itertools.islice(it, 200))
    rows = [x for x in head if isinstance(x, dict)]
    if fmt is None and rows:
        fmt = choose_format(rows, "<rows>")
    validator = Validator(fmt, opts)

    def outcomes() -> Iterator[Outcome]:
        for i, item in enumerate(itertools.chain(head, it), 1):
            if isinstance(item, _Record):
                yield validator.check_record(item)
            elif isinstance(item, dict):
                yield validator.check_raw(RawRow(item, Source("<rows>", i, "record")))
            else:
                raise UsageError(f"item {i} is a {type(item).__name__}; pass records or dict rows.")

    return validator, outcomes()


def validate(
    source: PathLike | Iterable[Any] | None,
    profile: str | Profile = "sftdata",
    *,
    format: str | Format = "auto",
    rejects: PathLike | None = None,
    output: PathLike | None = None,
    workers: int | None = None,
    locations: int = 3,
    progress: bool = False,
    dataset_info: tuple[PathLike, str] | None = None,
    engine: Engine | None = None,
    **options: Any,
) -> ValidationReport:
    """Validate a dataset file, or an iterable of records or raw rows.

    Args:
        source: a path (any readable file type) or an iterable of canonical records
            (field paths are then canonical: ``messages[3].role``) or of dict rows.
        profile: ``sftdata`` (every rule), ``trl``, ``llamafactory`` or ``openai``.
        format: the wire format, or ``auto`` to detect it from the first rows.
        rejects: write each rejected record verbatim, with its issues and line, here (JSONL).
        output: write the valid records (repaired with ``fix=True``) here.
        workers: processes for the fast path on large sharegpt JSONL files (fork);
            ``None`` (default): one per CPU (up to 8) for files of 32 MiB or more, as
            ``convert`` does; ``1``: never.
        locations: how many first locations the report keeps per rule.
        progress: show a progress line on stderr (only when stderr is a terminal).
        dataset_info: ``(path, name)`` of a LLaMA-Factory ``dataset_info.json`` entry: its
            columns and tags are the format, and ``source`` may be ``None`` (the entry's file).
        engine: ``Engine("ray")`` validates the ranges of a plain ``.jsonl`` file on Ray
            workers (the full rule engine on each range); the report, ``rejects`` and
            ``output`` equal those of the local engine (see :mod:`sftdata.validate.ranges`).
        **options: ``strict``, ``fail_on`` ("error"/"warning"), ``fix``, ``media_root``,
            ``check_media``, ``max_chars`` (see :class:`~sftdata.validate.engine.Options`).

    Returns:
        A :class:`ValidationReport`; ``report.total == report.valid + report.rejected``.

    >>> import sftdata
    >>> report = sftdata.validate("fixtures/sharegpt/sft.jsonl", check_media=False)
    >>> (report.total, report.valid, report.rejected, report.exit_code)
    (4, 4, 0, 0)
    """
    prof = get_profile(profile)
    opts = _options(prof, dict(options))
    if opts.fail_on not in ("error", "warning"):
        raise UsageError(f"fail_on must be 'error' or 'warning', not {opts.fail_on!r}.")
    if dataset_info is not None:
        from ..formats.llamafactory import from_dataset_info

        if format != "auto":
            raise UsageError("format cannot be combined with dataset_info: the entry is the format.", remedy="Drop --from.")
        format, data_file = from_dataset_info(*dataset_info)
        source = data_file if source is None else source
    if source is None:
        raise UsageError("nothing to validate.", remedy="Give a file, or --dataset-info PATH NAME.")
    fmt = resolve_format(format)
    is_path = isinstance(source, (str, os.PathLike))
    if engine is not None and engine.ray and not is_path:
        raise UsageError("engine=Engine('ray') validates a .jsonl file, not records in memory.", remedy="Pass the file's path, or drop engine.")
    path = str(source) if is_path else None
    if is_path:
        workers = workers if workers is not None else _default_workers(source)  # type: ignore[arg-type]
        validator, outcomes = _file_units(source, fmt, opts, workers, output is not None, engine)  # type: ignore[arg-type]
    else:
        validator, outcomes = _object_units(source, fmt, opts)  # type: ignore[arg-type]
    report = ValidationReport(path, prof.name, validator.fmt.name if validator.fmt else None, opts.fail_on, locations)
    if is_path and Path(source).is_file() and has_bom(Path(source), suffix_of(source)[1]):  # type: ignore[arg-type]
        report.notes.append("the file starts with a UTF-8 byte-order mark: accepted (HF datasets, which LLaMA-Factory and TRL load with, accepts it too)")

    shown = [0]  # records at the last redraw: the bar is redrawn every 8,192 records
    with RejectSink(rejects) as sink, (progress_bar(f"validating {path or 'records'}") if progress else nullcontext(Ticker())) as bar:

        def valid_rows() -> Iterator[Any]:
            try:
                for out in outcomes:
                    if report.total >= shown[0] + 8192:
                        bar.update(report.total)
                        shown[0] = report.total
                    if type(out) is CleanBatch:
                        report.total += out.count
                        report.valid += out.count
                        if out.count:
                            report.kinds[out.kind] += out.count
                        if out.rows:
                            yield from out.rows
                        continue
                    report.total += 1
                    report.add(out.issues, out.source)
                    if out.kind:
                        report.kinds[out.kind] += 1
                    if out.repairs:
                        report.add_repairs(out.repairs, out.source)
                    if out.rejected:
                        report.rejected += 1
                        if rejects is not None:
                            sink.add(out.original if out.original is not None else out.row, out.source, RecordError(list(out.issues), path=out.source.path if out.source else None, line=out.source.line if out.source else None))
                    else:
                        report.valid += 1
                        yield out.row
            except ReadError as err:  # a .json file that does not parse at all
                report.add([Issue(err.code, err.message, None)], Source(err.path or "", err.line or 0) if err.line else None)
                return
            report.add(validator.file_issues(report.total), None)

        if output is not None:
            if not is_path and validator.fmt is None:
                raise UsageError("writing `output` from records needs a format.", remedy="Pass format='sharegpt' (or another).")
            rows = valid_rows()
            if not is_path:
                rows = (_as_row(r, validator.fmt) for r in rows)
            write_rows(rows, output)
        else:
            for _ in valid_rows():
                pass
    return report


def _as_row(item: Any, fmt: Format | None) -> Any:
    if isinstance(item, _Record) and fmt is not None:
        return fmt.encode(item)[0]  # type: ignore[arg-type]
    return item
