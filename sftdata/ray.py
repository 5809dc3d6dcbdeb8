"""sftdata's steps on a ``ray.data.Dataset``, for pipelines that already run on Ray.

>>> import sftdata.ray as sr                                           # doctest: +SKIP
>>> ds = sr.read("s3://bucket/mix/*.jsonl")                            # doctest: +SKIP
>>> out = sr.convert(ds, to="openai", from_="sharegpt")                # doctest: +SKIP
>>> sr.kept(out).write_json("s3://bucket/openai/")                     # doctest: +SKIP
>>> sr.rejected(out).take(3)                                           # doctest: +SKIP
>>> sr.token_stats(ds, StatsConfig(cutoff_len=2048, format="sharegpt")).fields["total"].p99  # doctest: +SKIP

:func:`read` turns files, globs, folders of shards or URIs into a Dataset with one row per
record: ``source`` (the file), ``line`` (1-based) and ``row`` (the JSON text), in file
order. The steps add columns and never drop a row silently: :func:`convert` and
:func:`filter` keep every row and say, in ``codes`` and ``reason``, why a row would be
rejected (:func:`validate` adds every rule's verdict the same way); :func:`kept` and
:func:`rejected` split them. Every row is decoded by the same
format code as the local engine with its own ``Source``, so messages and counts agree.
:func:`token_stats` returns the local engine's :class:`~sftdata.stats.report.StatsReport`
(the per-record counts are gathered in order, so percentiles are exact). For dedup and
for whole-file runs with rejects files and manifests, use the commands with
``--engine ray`` (or ``engine=Engine("ray")`` in the Python API).
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .clean.filters import Filter, first_drop
from .engines.base import Engine
from .engines.local import line_count, read_span
from .engines.ray import connect, file_spans, release
from .errors import RecordError, UsageError
from .formats import Format, get_format
from .formats.rewrite import Rewrite
from .io import remote
from .record import Source
from .stats.compute import KINDS, Columns, StatsConfig, _job, _media_warnings, _work, check_pairing
from .stats.report import StatsReport, build_report

CHUNK_BYTES = 16 << 20


def _files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    out: list[str] = []
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        text = os.fspath(p)
        if remote.is_uri(text):
            out += remote.expand(text)
        elif any(c in text for c in "*?["):
            out += sorted(glob.glob(text, recursive=True))
        elif Path(text).is_dir():
            out += sorted(str(f) for f in Path(text).rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
        else:
            out.append(text)
    if not out:
        raise UsageError(f"no file matches {paths}.", remedy="Check the paths or patterns.")
    return out


def _count(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "lines": line_count(read_span(item["path"], (item["start"], item["end"])))}


def _rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    data = read_span(item["path"], (item["start"], item["end"]))
    base = item["base"]
    return [{"source": item["path"], "line": base + i, "row": line.decode()} for i, line in enumerate(data.split(b"\n"), 1) if line.strip()]


def read(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, engine: Engine | None = None) -> Any:
    """A Dataset of the records of JSONL files (paths, globs, folders of shards, URIs):
    columns ``source``, ``line``, ``row`` (JSON text), in file order."""
    ray = connect(engine or Engine("ray"))
    release()  # the engine's actors would hold every CPU the Dataset's tasks need
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ranges = [{"path": f, "start": s, "end": e} for f in _files(paths) for s, e in file_spans(f, CHUNK_BYTES)]
    counted = ray.data.from_items(ranges).map(_count).take_all()  # a newline count per range: line bases
    base: dict[str, int] = Counter()
    for item in counted:
        item["base"], base[item["path"]] = base[item["path"]], base[item["path"]] + item.pop("lines")
    return ray.data.from_items(counted, override_num_blocks=max(1, len(counted))).flat_map(_rows)


def _format(fmt: str | Format) -> Format:
    if fmt == "auto":
        raise UsageError("sftdata.ray needs the source format named (from_=...).", remedy="Run `sftdata detect FILE` on one shard, then pass from_='sharegpt' (or another).")
    return fmt if isinstance(fmt, Format) else get_format(fmt)


def _decode(fmt: Format, row: dict[str, Any]) -> Any:
    return fmt.decode(orjson.loads(row["row"]), Source(row["source"], int(row["line"]), "line"))


def convert(ds: Any, to: str | Format, from_: str | Format, *, strict: bool = False, tool_call_ids: bool | None = None) -> Any:
    """Add the converted row (``row``: JSON text in ``to``), the reason codes of a row that
    does not decode (``codes``, empty when it converts) and what ``to`` cannot carry
    (``lost``). Tool-call ids are filled as ``sftdata convert`` fills them (default: on
    for ``openai``); media paths are left as written."""
    source, target = _format(from_), _format(to)
    steps = Rewrite(tool_call_ids=tool_call_ids).steps(target, ".", ".")

    def one(row: dict[str, Any]) -> dict[str, Any]:
        try:
            record = steps(_decode(source, row))
        except RecordError as err:
            return {**row, "codes": sorted({i.code for i in err.issues}), "error": str(err), "lost": []}
        encoded, lost = target.encode(record)
        if lost and strict:
            return {**row, "codes": ["lossy-conversion"], "error": f"format '{target.name}' cannot carry: {', '.join(sorted(set(lost)))}", "lost": sorted(set(lost))}
        return {**row, "row": orjson.dumps(encoded).decode(), "codes": [], "error": "", "lost": sorted(set(lost))}

    return ds.map(one)


def filter(ds: Any, filters: Sequence[Filter], from_: str | Format) -> Any:  # noqa: A001 - mirrors sftdata.filter
    """Add ``codes`` (empty: kept) and ``error``: the first condition that drops each row,
    or why it does not decode (conditions as in :mod:`sftdata.clean.filters`)."""
    fmt, chain = _format(from_), tuple(filters)

    def one(row: dict[str, Any]) -> dict[str, Any]:
        try:
            drop = first_drop(_decode(fmt, row), chain)
        except RecordError as err:
            return {**row, "codes": sorted({i.code for i in err.issues}), "error": str(err)}
        return {**row, "codes": [drop.code] if drop else [], "error": drop.message if drop else ""}

    return ds.map(one)


def validate(ds: Any, from_: str | Format, *, profile: str = "sftdata", strict: bool = False, media_root: str | os.PathLike[str] | None = None, check_media: bool = False) -> Any:
    """Add ``codes`` (the error codes of each row: empty when it passes, so :func:`kept`
    and :func:`rejected` split them), ``warnings`` (warning codes) and ``issues`` (every
    issue as ``sftdata validate --json`` words it: code, severity, field, message). The
    rules are the local engine's for ``profile`` (``strict`` makes warnings errors), run
    on each row with its own ``Source``. Two rules need the whole file and are left to
    ``sftdata validate --engine ray``: ``duplicate-record`` and KTO's single-label check.
    Media files are not opened unless ``check_media`` (each worker must see them)."""
    from .validate.engine import Options, Validator
    from .validate.profiles import get_profile
    from .validate.reader import parse_line

    fmt = _format(from_)
    options = Options(profile=get_profile(profile), strict=strict, media_root=Path(media_root) if media_root else None, check_media=check_media, fast=False)

    state: dict[str, Any] = {}  # one validator per task, built where it runs

    def one(row: dict[str, Any]) -> dict[str, Any]:
        validator = state.get("v") or state.setdefault("v", Validator(fmt, options))
        raw = parse_line(row["row"].encode(), Source(row["source"], int(row["line"]), "line"))
        found = (raw.issue,) if raw.issue is not None else validator.check_row(raw.row, raw.source).issues
        return {
            **row,
            "codes": sorted({i.code for i in found if i.severity == "error"}),
            "warnings": sorted({i.code for i in found if i.severity != "error"}),
            "issues": [{"code": i.code, "severity": i.severity, "field": i.field, "message": i.message} for i in found],
        }

    return ds.map(one)


def kept(ds: Any) -> Any:
    """Rows without a reason code."""
    return ds.filter(lambda row: len(row["codes"]) == 0)


def rejected(ds: Any) -> Any:
    """Rows with a reason code (``source`` and ``line`` say where each came from)."""
    return ds.filter(lambda row: len(row["codes"]) > 0)


class _Counter:
    def __init__(self, fmt: Format, config: StatsConfig) -> None:
        self.job = _job(fmt, config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import sftdata.stats.compute as compute

        compute._JOB = self.job
        chunk = [(orjson.loads(r), Source(s, int(n), "line")) for r, s, n in zip(batch["row"], batch["source"], batch["line"])]
        done, bad = _work(chunk)
        return {"counts": [orjson.dumps([list(r) for r in done]) + b"\n" + orjson.dumps([[s.path, s.line, [i.to_dict() for i in issues]] for _, s, issues in bad])]}


def token_stats(ds: Any, config: StatsConfig) -> StatsReport:
    """The token statistics of ``ds`` (the report of ``sftdata stats``); rows that do not
    decode are counted in ``rejected`` (see :func:`convert` to list them)."""
    import time

    ray = connect(Engine("ray"))
    release()
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    fmt = _format(config.format)
    started = time.perf_counter()
    # One CPU fewer than the cluster has: the read tasks that feed the actors need one,
    # and actors holding every CPU would leave them queued forever (a 2-CPU Ray hung).
    workers = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
    counted = ds.map_batches(_Counter, fn_constructor_args=(fmt, config), batch_size=512, compute=ray.data.ActorPoolStrategy(size=workers))
    columns = Columns()
    rejects = _Tally()
    for block in counted.iter_rows():
        done, bad = block["counts"].split(b"\n", 1)
        columns.extend([tuple(r) for r in orjson.loads(done)])
        for _path, _line, issues in orjson.loads(bad):
            rejects.add(issues)
    kinds = Counter({KINDS[code]: n for code, n in Counter(columns.data["kind"]).items()})
    _, tokenizer, template, _, _, media, _ = _job(fmt, config)
    warnings = check_pairing(tokenizer, template) + _media_warnings(tokenizer, template, config.media, media, sum(columns.data["images"]))
    seconds = time.perf_counter() - started
    return build_report("<dataset>", config, fmt.name, tokenizer.name, template.name, columns.data, kinds, rejects, seconds, warnings, media.model.name if media else None)


class _Tally:
    """What :func:`build_report` reads of a reject sink: the total and counts per code."""

    def __init__(self) -> None:
        self.total = 0
        self.counts: Counter[str] = Counter()
        self.first: list[str] = []

    def add(self, issues: list[dict[str, Any]]) -> None:
        self.total += 1
        for issue in issues:
            self.counts[issue["code"]] += 1


__all__ = ["convert", "filter", "kept", "read", "rejected", "token_stats"]
