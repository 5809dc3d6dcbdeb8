"""``dedup``: drop exact or near-duplicate records, and records that leak from an eval set.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": "Paris."}]}
...         for q in ["Capital of France?", "capital  of FRANCE?", "Capital of Spain?"]]
>>> _ = (d / "in.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in rows))
>>> rep = dedup(d / "in.jsonl", d / "out.jsonl", DedupConfig(mode="exact", normalize=frozenset({"whitespace", "case"})))
>>> rep.read, rep.kept, rep.rejected, rep.reasons
(3, 2, 1, {'duplicate': 1})

Three passes at most, all streaming: fingerprints (pass 1), verification of candidate
pairs (pass 2, near mode only, candidate rows only), then output (pass 3). See
:mod:`sftdata.clean.index` for how matching works and what it keeps in memory.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ..api import RejectSink
from ..engines.base import Engine
from ..formats import Format
from ..io import atomic_path
from ..progress import progress
from ._stream import PathLike, lines, resolve_format, verbatim, write_kept
from .fingerprint import fingerprint, materialize
from .index import Fingerprints, MatchConfig, Matches, match
from .sketch import _np
from .views import view_text

Keep = Literal["first", "longest", "last"]
KEEPS: tuple[Keep, ...] = ("first", "longest", "last")
#: reason codes, by (mode, against the eval set?)
REASONS = {("exact", False): "duplicate", ("near", False): "near-duplicate", ("exact", True): "eval-duplicate", ("near", True): "eval-near-duplicate"}
EXAMPLE_CLUSTERS = 50  # clusters shown with text examples in the report


@dataclass(frozen=True)
class DedupConfig(MatchConfig):
    """Matching options (see :class:`~sftdata.clean.index.MatchConfig`) plus which copy
    survives (``keep``) and whether duplicates inside the input count (``within``; turn
    it off to only remove records found in an ``against`` set)."""

    keep: Keep = "first"
    within: bool = True


@dataclass
class DedupReport:
    """Counts (``read == kept + rejected``), reasons, clusters and eval matches."""

    read: int = 0
    kept: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    clusters: int = 0
    largest_cluster: int = 0
    eval_matches: int = 0
    mode: str = "near"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _policy(fps: list[Fingerprints], m: Matches, n_ref: int, config: DedupConfig) -> dict[int, int]:
    """Apply ``keep``: returns {dropped train row (global index) -> the row it keeps}."""
    dropped = _np().flatnonzero(m.dup_of >= 0)  # not a list of every row (36 MB per million)
    drops = dict(zip(dropped.tolist(), m.dup_of[dropped].tolist()))
    if config.keep == "first":
        return drops
    lengths = _np().concatenate([f.lengths for f in fps])
    clusters: dict[int, list[int]] = defaultdict(list)
    for i, j in drops.items():
        if j >= n_ref:  # eval matches stay dropped whatever the policy
            clusters[j].append(i)
    for seed, members in clusters.items():
        everyone = [seed, *members]
        if config.keep == "last":
            keeper = max(everyone)
        else:  # longest view; the earliest among equals
            keeper = min(everyone, key=lambda k: (-int(lengths[k]), k))
        for k in everyone:
            if k == keeper:
                drops.pop(k, None)
            else:
                drops[k] = keeper
    return drops


def dedup(
    input: PathLike,
    output: PathLike,
    config: DedupConfig | None = None,
    *,
    against: PathLike | None = None,
    rejects: PathLike | None = None,
    report: PathLike | None = None,
    format: str | Format = "auto",
    workers: int | None = None,
    engine: Engine | None = None,
) -> DedupReport:
    """Write ``input`` without its duplicates to ``output`` (rows verbatim, same format).

    Args:
        input: the dataset file.
        output: where kept rows go (written atomically).
        config: what counts as a duplicate and which copy is kept.
        against: an eval set (any format, detected); training records that duplicate
            one of its records are dropped with ``eval-duplicate``/``eval-near-duplicate``.
        rejects: JSONL file of dropped rows, each with its reason, ``duplicate_of``
            (file:line of the record it duplicates) and ``similarity``.
        report: JSON file with every cluster (size, kept record, members) and examples.
        format: the input format, or ``"auto"``.
        workers: processes for fingerprinting a large plain ``.jsonl`` (default: up to
            2 when available; 1 disables it).
        engine: ``Engine("ray")`` fingerprints a ``.jsonl`` file or URI on Ray and
            matches there too (band shuffle, verification, components, keep-first: see
            :mod:`sftdata.clean.distmatch`), so drops, clusters and rejects are those of
            the local engine. With ``against``, matching runs on the driver. ``output`` may then be a folder of
            shards (``out/``) with a manifest.

    Returns:
        The :class:`DedupReport`; ``read == kept + rejected``.
    """
    config = config or DedupConfig()
    fmt = resolve_format(input, format, majority=rejects is not None)
    # The input first: a large input can then use forked workers (see fingerprint).
    on_ray = engine is not None and engine.ray and against is None
    fps: list[Fingerprints] = [fingerprint(input, fmt, config, workers=workers, engine=engine, remote_keys=on_ray)]
    if against is not None:
        # The eval set is detected on its own: it may be in another format (views compare
        # records). It goes first in the list: matching indexes it before the input.
        fps.insert(0, fingerprint(against, resolve_format(against, "auto"), config, workers=workers))
    for fp in fps:  # stop before any work when a row cannot be decoded and there is nowhere to put it
        if fp.failed and rejects is None:
            raise fp.failed[min(fp.failed)]
    n_ref = len(fps[0]) if against is not None else 0
    matches = _match_on_ray(fps[0], config, engine) if on_ray and config.within else None
    if matches is None:
        if fps[-1].ranges is not None:
            fps[-1] = materialize(fps[-1])
        matches = match(fps, config, references=1 if against is not None else 0, policy="kept", within=config.within)
    drops = _policy(fps, matches, n_ref, config)
    train = fps[-1]
    where = _Locator(fps)
    result = DedupReport(mode=config.mode)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i, keeper in drops.items():
        clusters[keeper].append(i)
    examples = _example_rows(clusters, n_ref) if report is not None else set()
    decode_too = {i - n_ref for i in examples}
    texts: dict[int, str] = {}
    with RejectSink(rejects) as sink:

        def kept_rows() -> Any:
            with progress(f"writing {output}", total=len(train)) as advance:
                for line in lines(train.path):
                    gi = n_ref + line.idx
                    advance()
                    if line.idx in train.failed:
                        sink.add(line.row, line.source, train.failed[line.idx])
                        continue
                    if line.idx in decode_too:
                        texts[gi] = view_text(fmt.decode(line.row, line.source), config.view)[:300]
                    keeper = drops.get(gi)
                    if keeper is None:
                        yield line
                        continue
                    code = REASONS[(config.mode, keeper < n_ref)]
                    sim = float(matches.score[gi]) if matches.dup_of[gi] == keeper else None
                    place = where(keeper)
                    sink.reject(
                        verbatim(line),
                        line.source,
                        code,
                        f"{'identical to' if config.mode == 'exact' else 'near-duplicate of'} {place} ({config.view} view)",
                        duplicate_of=place,
                        duplicate_line=where.line(keeper),
                        similarity=None if sim is None else round(sim, 4),
                    )

        def summary(n: int) -> dict[str, Any]:
            reasons = dict(sorted(sink.counts.items()))
            return {"source": str(input), "mode": config.mode, "engine": engine.name if engine else "local", "read": n + sink.total, "kept": n, "rejected": sink.total, "reasons": reasons}

        written = [write_kept(kept_rows(), output, summary)]
    result.kept = written[0]
    result.rejected = sink.total
    result.read = result.kept + result.rejected
    result.reasons = dict(sorted(sink.counts.items()))
    internal = {k: v for k, v in clusters.items() if k >= n_ref}
    result.clusters = len(internal)
    result.largest_cluster = max((len(v) + 1 for v in internal.values()), default=0)
    result.eval_matches = sum(len(v) for k, v in clusters.items() if k < n_ref)
    if report is not None:
        _write_report(report, result, clusters, n_ref, where, matches, texts, config)
    return result


def _match_on_ray(fp: Fingerprints, config: DedupConfig, engine: Engine | None) -> Matches | None:
    from .distmatch import match_on_ray

    assert engine is not None
    return match_on_ray(fp, config, engine)


class _Locator:
    """Global row index -> ``file:line``."""

    def __init__(self, fps: list[Fingerprints]) -> None:
        self.bounds: list[tuple[int, Fingerprints]] = []
        start = 0
        for fp in fps:
            self.bounds.append((start, fp))
            start += len(fp)

    def _find(self, gi: int) -> tuple[Fingerprints, int]:
        for start, fp in reversed(self.bounds):
            if gi >= start:
                return fp, gi - start
        raise IndexError(gi)

    def line(self, gi: int) -> int:
        fp, local = self._find(gi)
        return int(fp.lines[local])

    def __call__(self, gi: int) -> str:
        fp, local = self._find(gi)
        return f"{fp.path}:{int(fp.lines[local])}"


def _example_rows(clusters: dict[int, list[int]], n_ref: int) -> set[int]:
    """Rows whose text the report quotes: the kept record and two members of the
    largest clusters (input rows only; eval rows are cited by line)."""
    biggest = sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:EXAMPLE_CLUSTERS]
    return {i for keeper, members in biggest for i in [keeper, *sorted(members)[:2]] if i >= n_ref}


def _write_report(path: PathLike, result: DedupReport, clusters: dict[int, list[int]], n_ref: int, where: _Locator, m: Matches, texts: dict[int, str], config: DedupConfig) -> None:
    ordered = sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out: dict[str, Any] = {
        "summary": result.to_dict(),
        "config": {"mode": config.mode, "view": config.view, "threshold": config.threshold, "normalize": sorted(config.norms), "keep": config.keep,
                   "ngram": config.sketch.ngram, "char_ngram": config.sketch.char_ngram, "unit": config.sketch.unit, "bands": config.sketch.bands, "rows": config.sketch.rows},
        "clusters": [],
        "eval_matches": [],
    }
    for keeper, members in ordered:
        entry = {
            "kept": where(keeper),
            "size": len(members) + 1,
            "members": [{"source": where(i), "similarity": round(float(m.score[i]), 4) if m.dup_of[i] == keeper else None} for i in sorted(members)],
        }
        quoted = [texts[i] for i in [keeper, *sorted(members)] if i in texts][:3]
        if quoted:
            entry["examples"] = quoted
        (out["eval_matches"] if keeper < n_ref else out["clusters"]).append(entry)
    with atomic_path(path) as tmp:
        tmp.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
