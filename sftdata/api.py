"""The Python API: read, write, convert. The CLI calls exactly these."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager

from .detect import DatasetInfo, DetectResult, detect
from .engines.base import LOCAL, Engine
from .errors import LossError, RecordError, UnsupportedKindError, UsageError
from .formats import Format, LossReport, get_format
from .formats.fastpath import fast_path
from .formats.rewrite import Rewrite, Steps
from .io import atomic_path, read_rows, suffix_of, write_rows
from .io.filetype import read_rows_as
from .io.rejects import RejectSink
from .io.remote import is_uri
from .io.remote import size as remote_size
from .progress import Ticker, progress
from .record import Record, Source, _Record


def _format_arg(value: Any, name: str) -> Format:
    """A format argument as a :class:`Format`; anything but a name or a Format is a
    :class:`UsageError` that says what to pass."""
    if isinstance(value, Format):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{name} must be a format name such as 'openai' or 'sharegpt' (or a Format), not {value!r}.", remedy="`sftdata formats` (or sftdata.all_formats()) lists the names.")
    return get_format(value)


def _resolve(path: str | os.PathLike[str], format: str | Format) -> Format:
    if format == "auto":
        return get_format(detect(path).format)
    return _format_arg(format, "format")


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
    return _read(path, _resolve(path, format), rejects)


def _read(path: str | os.PathLike[str], fmt: Format, rejects: RejectSink | None, position: Any = None, input_type: str | None = None) -> Iterator[Record]:
    # A column mapping (formats.table) wants spreadsheet cells verbatim.
    bad = rejects.bad_line if rejects is not None else None
    yield from decode_rows(read_rows_as(path, input_type, json_cells=not getattr(fmt, "raw_cells", False), position=position, bad=bad), fmt, rejects)


def decode_rows(rows: Iterable[tuple[dict[str, Any], Source]], fmt: Format, rejects: RejectSink | None) -> Iterator[Record]:
    """Records of ``(row, source)`` pairs; a row that does not decode raises its
    :class:`RecordError`, or goes to ``rejects`` (with its reasons and source) when given."""
    decode = fmt.decode
    for row, source in rows:
        try:
            yield decode(row, source)
        except RecordError as err:
            if err.remedy is None:
                err.remedy = _REMEDIES.get(err.code)
            if rejects is None:
                raise
            rejects.add(row, source, err)


#: Remedies of decode errors whose fix is a command away.
_REMEDIES = {
    "kto-label": 'Write the label as a JSON boolean (true or false, without quotes); `sftdata validate FILE --fix -o FIXED` rewrites "true"/"false" strings.',
}


def encode_all(records: Iterable[Record], fmt: Format, losses: LossReport, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Encode records, adding what was dropped to ``losses``; ``strict`` raises on any loss."""
    for record in records:
        if not isinstance(record, _Record):
            raise UsageError(
                f"write() and convert encode Record objects, not {type(record).__name__} values.",
                remedy="Pass records from sftdata.read(...) (or build them with sftdata.SFTRecord(...)); to write raw rows as they are, use sftdata.io.write_rows(rows, path).",
            )
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


def write(records: Iterable[Record], path: str | os.PathLike[str], format: str | Format, *, strict: bool = False, tool_call_ids: bool | None = None) -> LossReport:
    """Write records in ``format`` to ``path`` atomically; returns what the format dropped.

    ``tool_call_ids``: fill missing tool-call ids and pair tool results with their calls,
    as ``convert`` does (``None``: the format's default, on for ``openai``).
    """
    fmt = _format_arg(format, "format")
    if fmt.pairs_tools_by_id if tool_call_ids is None else tool_call_ids:
        from .formats.toolids import fill_record

        records = map(fill_record, records)
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
    #: ``--unpair`` / ``--pair`` counts (see :class:`~sftdata.formats.pairing.Reshape`):
    #: then ``read == reshape.records_in + decode rejects`` and
    #: ``records_in -> written`` records, plus ``unmatched`` rows in the rejects.
    reshape: dict[str, Any] | None = None

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
        if self.reshape is not None:
            out["reshape"] = self.reshape
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
    rewrite: Rewrite | None = None,
    reshape: str | None = None,
    input_type: str | None = None,
    engine: Engine | None = None,
) -> ConvertResult:
    """Convert a file to another format.

    Rows that do not decode go to ``rejects`` (a JSONL file) when given; otherwise the
    first one stops the conversion. Either way nothing is written half-right: the output
    appears only when the whole file converted.

    ``workers`` processes share a large ``.jsonl`` to ``.jsonl`` conversion (``None``:
    one per CPU for inputs of 32 MiB or more; ``1``: never). Output order, provenance,
    rejects and loss counts are the same either way.

    ``register`` (a LLaMA-Factory ``dataset_info.json``) gets an entry ``name``
    (default: the output's stem) for the written file; see :mod:`sftdata.io.register`.
    ``dataset_info=(PATH, NAME)`` reads the source through a LLaMA-Factory
    ``dataset_info.json`` entry (``src`` may then be ``None``: the entry names the file).

    ``rewrite`` (:class:`~sftdata.formats.rewrite.Rewrite`) sets the record rewrites: tool-call
    ids (filled by default for ``openai``) and relative media paths for a new folder
    (off by default). On a terminal a progress bar (bytes read) shows on stderr.

    ``reshape="unpair"`` writes each preference pair as a desirable and an undesirable KTO
    record (TRL's ``unpair_preference_dataset``); ``reshape="pair"`` pairs KTO records with
    the same prompt into preference records, and sends rows left without a partner to the
    rejects (code ``unpaired-kto``). See :mod:`sftdata.formats.pairing`.
    ``input_type`` (e.g. ``"jsonl"``) reads ``src`` as that file type whatever its suffix.
    ``engine=Engine("ray")`` converts a ``.jsonl`` file or URI on Ray (see
    docs/distributed.md), with the same rows, order, rejects and counts; ``dst`` may then
    be a folder (``out/``): ``part-00000.jsonl``... plus ``manifest.json``.

    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "in.jsonl").write_text(json.dumps({"conversations": [{"from": "human", "value": "Hi"},
    ...     {"from": "function_call", "value": '{"name": "greet", "arguments": {}}'},
    ...     {"from": "observation", "value": "hello"}, {"from": "gpt", "value": "Hello!"}]}) + "\\n")
    >>> convert(d / "in.jsonl", d / "out.jsonl", to="openai").to_dict()["written"]
    1
    >>> [m.get("tool_calls", [{}])[0].get("id") or m.get("tool_call_id") for m in json.loads((d / "out.jsonl").read_text())["messages"]]
    [None, 'call_1_0', 'call_1_0', None]
    """
    if dataset_info is not None:
        source_fmt, src = _dataset_info(src, dataset_info)
        detection: DetectResult | None = detect(src, dataset_info=dataset_info)
    elif src is None:
        raise UsageError("no input file given.", remedy="Pass a path, or dataset_info=(PATH, NAME).")
    else:
        detection = detect(src, majority=rejects is not None, input_type=input_type) if from_ == "auto" else None
        source_fmt = get_format(detection.format) if detection else _resolve(src, from_)
    target = _format_arg(to, "to")
    reshaper = _reshaper(reshape)
    out_kind = reshaper.kind(detection.kind) if (detection is not None and reshaper is not None) else detection.kind if detection is not None else None
    if detection is not None and out_kind not in target.kinds:
        raise UnsupportedKindError(
            f"'{Path(src).name}' holds {detection.kind} records, written as {out_kind}, which format '{target.name}' cannot carry (it carries: {', '.join(target.kinds)}).",
            path=str(src),
            remedy="Choose a target that carries this kind; `sftdata formats` lists them.",
        )
    if register is not None:
        from .io.register import check_registrable

        check_registrable(register, dst, target, out_kind or "sft")  # type: ignore[arg-type]
    # LLaMA-Factory resolves an entry's media against its dataset_dir (media_dir's default)
    input_dir = Path(dataset_info[0]).resolve().parent if dataset_info is not None else None
    steps = (rewrite or Rewrite()).steps(target, src, dst, input_dir)
    if engine is not None and engine.ray and (reshaper is not None or input_type is not None):
        raise UsageError("--unpair, --pair and --input-type run on the local engine only.", field="--engine", remedy="Drop --engine ray for this conversion (it reads one file in one process).")
    n_workers = 1 if (reshaper is not None or input_type is not None) else _parallel_workers(src, dst, workers, engine)
    unit, total = _meter(src)
    bar = functools.partial(progress, f"converting {Path(src).name}", total, unit)
    if n_workers > 1 or (engine is not None and engine.ray):
        job = _Parallel(source_fmt, target, strict, rejects, n_workers, detection, steps, bar, engine or LOCAL)
        result, kinds, columns = job.run(src, dst)
    else:
        with bar() as ticker:
            job = _Serial(source_fmt, target, strict, rejects, detection, register is not None, steps, ticker, unit, reshaper, input_type)
            result, kinds, columns = job.run(src, dst)
    if register is not None:
        result.registered = _register(register, name or Path(dst).name.split(".")[0], dst, target, kinds, columns, detection)
    return result


def _reshaper(mode: str | None) -> Any:
    if mode is None:
        return None
    if mode not in ("unpair", "pair"):
        raise UsageError(f"unknown reshape '{mode}'.", remedy="Use reshape='unpair' (preference -> KTO) or 'pair' (KTO -> preference).")
    from .formats.pairing import Reshape

    return Reshape(mode)


def _meter(src: str | os.PathLike[str]) -> tuple[Any, int | None]:
    """The progress unit of an input: bytes for JSON/JSONL (total: the file size when
    uncompressed), records for tables and folders."""
    if Path(src).is_dir():
        return "records", None
    suffix, compression = suffix_of(src)
    if is_uri(src):
        return ("bytes", remote_size(str(src))) if suffix in (".jsonl", ".ndjson") and compression is None else ("records", None)
    if suffix in (".jsonl", ".ndjson", ".json"):
        # .json arrays report a share of the (possibly compressed) file size
        return "bytes", Path(src).stat().st_size if compression is None or suffix == ".json" else None
    return "records", None


@dataclass
class _Serial:
    """One process: rows through the fast path where it applies, else decode, rewrite
    and encode (see :mod:`sftdata.formats.fastpath`); counts and rejects either way."""

    source_fmt: Format
    target: Format
    strict: bool
    rejects: str | os.PathLike[str] | None
    detection: DetectResult | None
    track: bool
    steps: Steps
    ticker: Ticker
    unit: str
    reshaper: Any = None
    input_type: str | None = None
    counter: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    columns: set[str] = field(default_factory=set)

    def run(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> tuple[ConvertResult, Counter[str], set[str]]:
        losses = LossReport()
        with RejectSink(self.rejects) as sink:
            keep = sink if self.rejects is not None else None
            position = self.ticker.update if self.unit == "bytes" else None
            fast = fast_path(self.source_fmt, self.target) if self.reshaper is None else None
            if fast is not None:
                rows = self._fast_rows(src, fast, losses, keep, position)
            else:
                records = self._records(src, keep, position)
                if self.reshaper is not None:
                    records = self._kinds(self.reshaper(records, sink, self.source_fmt))
                rows = encode_all(records, self.target, losses, self.strict)
            written = write_rows(self._tracked(rows) if self.track else rows, dst)
        unmatched = self.reshaper.unmatched if self.reshaper is not None else 0
        result = ConvertResult(
            self.source_fmt.name,
            self.target.name,
            read=self.counter["read"] + sink.total - unmatched,
            written=written,
            rejected=sink.total,
            reject_codes=dict(sink.counts),
            losses=losses.to_dict(),
            detection=self.detection,
            reshape=self.reshaper.to_dict() if self.reshaper is not None else None,
        )
        return result, self.kinds, self.columns

    def _records(self, src: str | os.PathLike[str], rejects: RejectSink | None, position: Any) -> Iterator[Record]:
        step = self.steps if self.steps else None
        tick = self.ticker if position is None else None
        for record in _read(src, self.source_fmt, rejects, position, self.input_type):
            self.counter["read"] += 1
            if self.track and self.reshaper is None:
                self.kinds[record.kind] += 1
            if tick is not None:
                tick()
            yield record if step is None else step(record)

    def _kinds(self, records: Iterator[Record]) -> Iterator[Record]:
        """The kinds written (for ``register``), counted after ``--unpair``/``--pair``."""
        for record in records:
            if self.track:
                self.kinds[record.kind] += 1
            yield record

    def _tracked(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            self.columns.update(row)
            yield row

    def _fast_rows(self, src: str | os.PathLike[str], fast: Any, losses: LossReport, rejects: RejectSink | None, position: Any) -> Iterator[dict[str, Any]]:
        decode, counter, kinds = self.source_fmt.decode, self.counter, self.kinds
        step = self.steps if self.steps else None
        wire = self.steps.wire if self.steps.tool_ids else None
        n = 0
        for row, source in read_rows_as(src, self.input_type, position=position, bad=rejects.bad_line if rejects is not None else None):
            out = fast(row)
            if out is not None:
                n += 1
                yield out if wire is None else wire(out)
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
            yield from encode_all((record if step is None else step(record),), self.target, losses, self.strict)
        # fast-path rows are SFT records: counted once at the end, not per row
        if n:
            counter["read"] += n
            kinds["sft"] += n


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
    from .io.register import register_dataset

    if len(kinds) > 1:
        raise DataError(
            f"the output holds records of several kinds ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}), so it cannot be registered as one dataset; {dst} was written.",
            path=str(info),
            code="mixed-kinds",
            remedy="Split the input by kind and convert each part.",
        )
    kind = next(iter(kinds)) if kinds else (detection.kind if detection else "sft")
    return register_dataset(info, name, dst, target, kind, columns)  # type: ignore[arg-type]


def _parallel_workers(src: str | os.PathLike[str], dst: str | os.PathLike[str], workers: int | None, engine: Engine | None = None) -> int:
    """How many processes to use: >1 only for plain JSONL in and out, big enough to pay.
    The Ray engine takes any plain JSONL input (file or URI) to JSONL or a folder of shards."""
    from .engines import convert as parallel
    from .io import suffix_of

    if engine is not None and engine.ray:
        from .engines.run import require_ranges

        require_ranges(src, dst)
        return 1
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


@dataclass
class _Parallel:
    """Byte ranges on worker processes or on Ray, gathered in file order, into one file
    or a folder of shards with its manifest."""

    source_fmt: Format
    target: Format
    strict: bool
    rejects: str | os.PathLike[str] | None
    workers: int
    detection: DetectResult | None
    steps: Steps
    bar: Callable[[], ContextManager[Ticker]]
    engine: Engine

    def run(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> tuple[ConvertResult, Counter[str], set[str]]:
        from .engines.convert import convert_jsonl_parallel
        from .io.shards import ShardWriter, jsonl_output

        source = src if is_uri(src) else Path(src)
        with RejectSink(self.rejects) as sink, jsonl_output(dst) as out:
            keep = sink if self.rejects is not None else None
            counts = convert_jsonl_parallel(source, out, self.source_fmt, self.target, strict=self.strict, rejects=keep, workers=self.workers, steps=self.steps, progress=self.bar, engine=self.engine)
            result = ConvertResult(
                self.source_fmt.name,
                self.target.name,
                read=counts.read,
                written=counts.written,
                rejected=sink.total,
                reject_codes=dict(sink.counts),
                losses=dict(sorted(counts.losses.items())),
                detection=self.detection,
            )
            if isinstance(out, ShardWriter):
                out.summary = {"source": str(src), "format": self.target.name, "engine": self.engine.name, **result.to_dict()}
        return result, counts.kinds, counts.columns
