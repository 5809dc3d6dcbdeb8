"""The Python API: read, write, convert. The CLI calls exactly these."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from .detect import DatasetInfo, DetectResult, detect
from .errors import Issue, LossError, RecordError, UnsupportedKindError, UsageError
from .formats import Format, LossReport, get_format
from .formats.fastpath import fast_path
from .io import atomic_path, read_rows, write_rows
from .record import Record, Source


class RejectSink:
    """Collects rejected rows: counts per reason code, and optionally a JSONL file where
    each line holds the source location, the issues and the row verbatim.

    Use as a context manager; the file is written atomically on close.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.first: list[str] = []
        self._cm: Any = None
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> "RejectSink":
        if self.path is not None:
            self._cm = atomic_path(self.path)
            tmp = self._cm.__enter__()
            self._fh = open(tmp, "wb")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fh is not None:
            self._fh.close()
            self._cm.__exit__(*exc)

    def add(self, row: Any, source: Source | None, error: RecordError, **detail: Any) -> None:
        """Record one rejected row; ``detail`` keys (e.g. ``duplicate_of``) are written
        into its JSONL line next to the reasons."""
        self.total += 1
        for issue in error.issues:
            self.counts[issue.code] += 1
        if len(self.first) < 5:
            self.first.append(str(error))
        if self._fh is not None:
            self._fh.write(
                orjson.dumps(
                    {
                        "source": str(source) if source else None,
                        "line": source.line if source else None,
                        "codes": sorted({i.code for i in error.issues}),
                        "issues": [i.to_dict() for i in error.issues],
                        **detail,
                        "record": row,
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )


    def reject(self, row: Any, source: Source | None, code: str, message: str, *, field: str | None = None, **detail: Any) -> None:
        """Record a row dropped on purpose (a filter, a duplicate) with one reason code.

        >>> sink = RejectSink()
        >>> sink.reject({"text": "x"}, Source("a.jsonl", 3), "too-short", "2 characters < 10")
        >>> sink.total, dict(sink.counts), sink.first
        (1, {'too-short': 1}, ['a.jsonl:3: [too-short] 2 characters < 10'])
        """
        error = RecordError([Issue(code, message, field=field)], path=source.path if source else None, line=source.line if source else None)
        self.add(row, source, error, **detail)


def _resolve(path: str | os.PathLike[str], format: str | Format) -> Format:
    if isinstance(format, Format):
        return format
    if format == "auto":
        return get_format(detect(path).format)
    return get_format(format)


def _dataset_info(path: str | os.PathLike[str] | None, dataset_info: DatasetInfo) -> tuple[Format, str | os.PathLike[str]]:
    from .formats.llamafactory import from_dataset_info

    fmt, data = from_dataset_info(*dataset_info)
    return fmt, (data if path is None else path)


def read(
    path: str | os.PathLike[str] | None = None,
    format: str | Format = "auto",
    *,
    rejects: RejectSink | None = None,
    dataset_info: DatasetInfo | None = None,
) -> Iterator[Record]:
    """Stream the records of a file.

    ``format="auto"`` detects it from the first rows. A row that does not decode raises
    :class:`~sftdata.errors.RecordError` (with file and line), unless ``rejects`` is
    given, in which case it is recorded there and skipped.
    ``dataset_info=("data/dataset_info.json", "kto_en_demo")`` reads a LLaMA-Factory
    entry with its column mapping (``path`` defaults to the entry's file).
    """
    if dataset_info is not None:
        format, path = _dataset_info(path, dataset_info)
    if path is None:
        raise UsageError("no input file given.", remedy="Pass a path, or dataset_info=(PATH, NAME).")
    fmt = _resolve(path, format)
    decode = fmt.decode
    # A column mapping (formats.table) wants spreadsheet cells verbatim.
    for row, source in read_rows(path, json_cells=not getattr(fmt, "raw_cells", False)):
        try:
            yield decode(row, source)
        except RecordError as err:
            if rejects is None:
                raise
            rejects.add(row, source, err)


def encode_all(records: Iterable[Record], fmt: Format, losses: LossReport, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Encode records, adding what was dropped to ``losses``; ``strict`` raises on any loss."""
    for record in records:
        row, lost = fmt.encode(record)
        if lost:
            if strict:
                src = record.source
                raise LossError(
                    f"format '{fmt.name}' cannot carry: {', '.join(sorted(set(lost)))}.",
                    path=src.path if src else None,
                    line=src.line if src else None,
                    remedy="Drop --strict to convert anyway (the loss is reported), or pick a richer target format.",
                )
            losses.add(sorted(set(lost)))
        yield row


def write(records: Iterable[Record], path: str | os.PathLike[str], format: str | Format, *, strict: bool = False) -> LossReport:
    """Write records in ``format`` to ``path`` atomically; returns what the format dropped."""
    fmt = get_format(format) if isinstance(format, str) else format
    losses = LossReport()
    write_rows(encode_all(records, fmt, losses, strict), path)
    return losses


@dataclass
class ConvertResult:
    """Counts and the loss report of one conversion. ``read == written + rejected``."""

    source_format: str
    target_format: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    reject_codes: dict[str, int] = field(default_factory=dict)
    losses: dict[str, int] = field(default_factory=dict)
    detection: DetectResult | None = None
    #: The LLaMA-Factory ``dataset_info.json`` entry written by ``register=``, if any.
    registered: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "from": self.source_format,
            "to": self.target_format,
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
            "reject_codes": self.reject_codes,
            "losses": self.losses,
        }
        if self.registered is not None:
            out["registered"] = self.registered
        return out


def convert(
    src: str | os.PathLike[str] | None,
    dst: str | os.PathLike[str],
    to: str | Format,
    from_: str | Format = "auto",
    *,
    strict: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    register: str | os.PathLike[str] | None = None,
    name: str | None = None,
    dataset_info: DatasetInfo | None = None,
) -> ConvertResult:
    """Convert a file to another format.

    Rows that do not decode go to ``rejects`` (a JSONL file) when given; otherwise the
    first one stops the conversion. Either way nothing is written half-right: the output
    appears only when the whole file converted.

    ``workers`` processes share a large ``.jsonl`` to ``.jsonl`` conversion (``None``:
    one per CPU for inputs of 32 MiB or more; ``1``: never). Output order, provenance,
    rejects and loss counts are the same either way.

    ``register`` (a LLaMA-Factory ``dataset_info.json``) gets an entry ``name``
    (default: the output's stem) for the written file; see :mod:`sftdata.register`.
    ``dataset_info=(PATH, NAME)`` reads the source through a LLaMA-Factory
    ``dataset_info.json`` entry (``src`` may then be ``None``: the entry names the file).
    """
    if dataset_info is not None:
        source_fmt, src = _dataset_info(src, dataset_info)
        detection: DetectResult | None = detect(src, dataset_info=dataset_info)
    elif src is None:
        raise UsageError("no input file given.", remedy="Pass a path, or dataset_info=(PATH, NAME).")
    else:
        detection = detect(src) if from_ == "auto" else None
        source_fmt = get_format(detection.format) if detection else _resolve(src, from_)
    target = get_format(to) if isinstance(to, str) else to
    if detection is not None and detection.kind not in target.kinds:
        raise UnsupportedKindError(
            f"'{Path(src).name}' holds {detection.kind} records, which format '{target.name}' cannot carry (it carries: {', '.join(target.kinds)}).",
            path=str(src),
            remedy="Choose a target that carries this kind; `sftdata formats` lists them.",
        )
    if register is not None:
        from .register import check_registrable

        check_registrable(register, dst, target, detection.kind if detection else "sft")
    n_workers = _parallel_workers(src, dst, workers)
    if n_workers > 1:
        result, kinds, columns = _convert_parallel(src, dst, source_fmt, target, strict, rejects, n_workers, detection)
    else:
        result, kinds, columns = _convert_serial(src, dst, source_fmt, target, strict, rejects, detection, track=register is not None)
    if register is not None:
        result.registered = _register(register, name or Path(dst).name.split(".")[0], dst, target, kinds, columns, detection)
    return result


def _convert_serial(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    source_fmt: Format,
    target: Format,
    strict: bool,
    rejects: str | os.PathLike[str] | None,
    detection: DetectResult | None,
    track: bool,
) -> tuple[ConvertResult, Counter[str], set[str]]:
    counter = Counter[str]()
    kinds = Counter[str]()
    columns: set[str] = set()
    with RejectSink(rejects) as sink:
        def counted() -> Iterator[Record]:
            for record in read(src, source_fmt, rejects=sink if rejects is not None else None):
                counter["read"] += 1
                if track:
                    kinds[record.kind] += 1
                yield record

        def tracked(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for row in rows:
                columns.update(row)
                yield row

        losses = LossReport()
        fast = fast_path(source_fmt, target)
        if fast is not None:
            rows = _fast_rows(src, source_fmt, target, fast, losses, strict, sink if rejects is not None else None, counter, kinds)
        else:
            rows = encode_all(counted(), target, losses, strict)
        written = write_rows(tracked(rows) if track else rows, dst)
    result = ConvertResult(
        source_fmt.name,
        target.name,
        read=counter["read"] + sink.total,
        written=written,
        rejected=sink.total,
        reject_codes=dict(sink.counts),
        losses=losses.to_dict(),
        detection=detection,
    )
    return result, kinds, columns


def _fast_rows(
    src: str | os.PathLike[str],
    source_fmt: Format,
    target: Format,
    fast: Any,
    losses: LossReport,
    strict: bool,
    rejects: RejectSink | None,
    counter: Counter[str],
    kinds: Counter[str],
) -> Iterator[dict[str, Any]]:
    """Rows converted by the fast path where it applies, else by decode + encode
    (see :mod:`sftdata.formats.fastpath`); counts and rejects as in the plain path."""
    decode = source_fmt.decode
    for row, source in read_rows(src):
        out = fast(row)
        if out is not None:
            counter["read"] += 1
            kinds["sft"] += 1
            yield out
            continue
        try:
            record = decode(row, source)
        except RecordError as err:
            if rejects is None:
                raise
            rejects.add(row, source, err)
            continue
        counter["read"] += 1
        kinds[record.kind] += 1
        yield from encode_all((record,), target, losses, strict)


def _register(
    info: str | os.PathLike[str],
    name: str,
    dst: str | os.PathLike[str],
    target: Format,
    kinds: Counter[str],
    columns: set[str],
    detection: DetectResult | None,
) -> dict[str, Any]:
    from .errors import DataError
    from .register import register_dataset

    if len(kinds) > 1:
        raise DataError(
            f"the output holds records of several kinds ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}), so it cannot be registered as one dataset; {dst} was written.",
            path=str(info),
            code="mixed-kinds",
            remedy="Split the input by kind and convert each part.",
        )
    kind = next(iter(kinds)) if kinds else (detection.kind if detection else "sft")
    return register_dataset(info, name, dst, target, kind, columns)  # type: ignore[arg-type]


def _parallel_workers(src: str | os.PathLike[str], dst: str | os.PathLike[str], workers: int | None) -> int:
    """How many processes to use: >1 only for plain JSONL in and out, big enough to pay."""
    from . import parallel
    from .io import suffix_of

    if workers == 1 or Path(src).is_dir():
        return 1
    jsonl = (".jsonl", ".ndjson")
    (s_suffix, s_comp), (d_suffix, d_comp) = suffix_of(src), suffix_of(dst)
    if s_suffix not in jsonl or d_suffix not in jsonl or s_comp or d_comp:
        return 1
    if workers is None:
        if Path(src).stat().st_size < parallel.MIN_BYTES:
            return 1
        workers = parallel.default_workers()
    return workers


def _convert_parallel(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    source_fmt: Format,
    target: Format,
    strict: bool,
    rejects: str | os.PathLike[str] | None,
    workers: int,
    detection: DetectResult | None,
) -> tuple[ConvertResult, Counter[str], set[str]]:
    from .parallel import convert_jsonl_parallel

    with RejectSink(rejects) as sink, atomic_path(dst) as tmp, open(tmp, "wb", buffering=1 << 20) as out:
        counts = convert_jsonl_parallel(Path(src), out, source_fmt, target, strict=strict, rejects=sink if rejects is not None else None, workers=workers)
    result = ConvertResult(
        source_fmt.name,
        target.name,
        read=counts.read,
        written=counts.written,
        rejected=sink.total,
        reject_codes=dict(sink.counts),
        losses=dict(sorted(counts.losses.items())),
        detection=detection,
    )
    return result, counts.kinds, counts.columns
