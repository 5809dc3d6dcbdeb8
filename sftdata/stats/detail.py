"""What the HTML report shows beyond the summary figures, in one more streaming pass:
histograms of every length, the cutoff what-if curve, and chosen rows rendered as the
model sees them (trained spans marked).

Every length comes from :func:`sftdata.tokens.encode_record`, the function behind
``sftdata stats``, so the histograms and the curve agree with the stats report: the
curve's point at ``cutoff_len`` equals its ``over_cutoff`` and ``cut_trainable``.

The result is plain data (lists, dicts, numbers, strings), bounded whatever the file
size: bins, a dozen curve points, and at most a few hundred rows, each cut to
:data:`MAX_ROW_CHARS` characters.
"""

from __future__ import annotations

import bisect
import heapq
import os
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import RecordError
from ..formats import Format, get_format
from ..io import read_rows
from ..media.tokens import media_tokens
from ..record import PreferenceRecord, PretrainRecord, Record
from ..templates import get_template
from ..tokenizers import get_tokenizer
from ..tokens import IGNORE_INDEX, encode_record
from .report import StatsConfig, histogram

MAX_ROW_CHARS = 4000
LONGEST = 5


@dataclass(frozen=True)
class DetailConfig:
    """Which rows to keep: the first ``sample`` rows, the rows named in ``wanted``
    (line -> finding codes), up to ``per_finding`` rows over ``cutoff_len`` and the
    :data:`LONGEST` longest rows."""

    stats: StatsConfig | None
    wanted: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    sample: int = 12
    per_finding: int = 20


def _where(path: str, line: int) -> str:
    return f"{path}:{line}"


def _pieces(record: Record, template: Any, train_on: Any, branch: str) -> tuple[list[list[Any]], int]:
    """``[[text, trainable, role], ...]`` cut to MAX_ROW_CHARS, and the characters left out."""
    if isinstance(record, PretrainRecord):
        text = record.text
        return [[text[:MAX_ROW_CHARS], True, "text"]], max(0, len(text) - MAX_ROW_CHARS)
    rendered = template.render(record, train_on=train_on, branch=branch)
    out: list[list[Any]] = []
    room = MAX_ROW_CHARS
    for text, span in rendered.pieces():
        if not text:
            continue
        if room <= 0:
            break
        out.append([text[:room], bool(span.trainable), str(span.role)])
        room -= len(text)
    return out, max(0, len(rendered.text) - MAX_ROW_CHARS)


def _trained_positions(labels: list[int]) -> list[int]:
    return [i for i, x in enumerate(labels) if x != IGNORE_INDEX]


#: Cutoffs of the what-if curve (plus the configured one); trimmed at the end to those up
#: to the first that cuts nothing.
LADDER = tuple(2**k for k in range(6, 21))


class _Curve:
    """Rows cut and trainable tokens lost at every cutoff of the ladder (a right cut, as
    ``stats`` counts it), summed record by record: nothing per record is kept. For
    preference rows the longer branch decides the cut and the larger loss counts, as
    ``stats`` counts ``over_cutoff`` and ``cut_trainable``."""

    def __init__(self, cutoff_len: int | None) -> None:
        self.ladder = sorted({*LADDER, *([cutoff_len] if cutoff_len else [])})
        self.cut = [0] * len(self.ladder)
        self.lost = [0] * len(self.ladder)
        self.longest = 0
        self.trainable = 0

    def add(self, lengths: list[int], trained: list[list[int]]) -> None:
        top = max(lengths)
        self.longest = max(self.longest, top)
        self.trainable += len(trained[0])
        for k, c in enumerate(self.ladder):
            if c >= top:
                break
            self.cut[k] += 1
            self.lost[k] += max(len(t) - bisect.bisect_left(t, c) for t in trained)

    def points(self, cutoff_len: int | None) -> list[dict[str, Any]]:
        out = []
        for k, c in enumerate(self.ladder):
            if c < 128 and c != cutoff_len:
                continue
            share = round(self.lost[k] / self.trainable, 4) if self.trainable else 0.0
            out.append({"cutoff_len": c, "rows_cut": self.cut[k], "trainable_lost": self.lost[k], "trainable_lost_share": share})
            if c >= self.longest and (cutoff_len is None or c >= cutoff_len):
                break
        return out


def collect(path: str | os.PathLike[str], fmt: Format | str, config: DetailConfig) -> dict[str, Any]:
    """One pass over ``path``: histograms, the cutoff curve and the chosen rows.

    With ``config.stats`` None only the rows named in ``wanted`` are kept (an eval set's
    leaked rows); nothing is tokenized.
    """
    p = str(path)
    fmt = fmt if isinstance(fmt, Format) else get_format(fmt)
    sc = config.stats
    tokenizer = get_tokenizer(sc.tokenizer) if sc else None
    template = get_template(sc.template if sc else "qwen", tokenizer=tokenizer)
    media = media_tokens(tokenizer, template, sc.media) if sc and tokenizer is not None else None
    train_on = sc.train_on if sc else "all"
    cutoff = sc.cutoff_len if sc else None
    totals: array[int] = array("q")
    trainables: array[int] = array("q")
    chosen_tr: array[int] = array("q")
    rejected_tr: array[int] = array("q")
    curve = _Curve(cutoff)
    rows: list[dict[str, Any]] = []
    over: list[int] = []
    longest: list[tuple[int, int, dict[str, Any]]] = []
    for raw, source in read_rows(p, json_cells=not getattr(fmt, "raw_cells", False)):
        line = source.line if source else 0
        named = config.wanted.get(line, ())
        keep = line <= config.sample or bool(named)
        if not sc and not keep:
            continue
        try:
            record = fmt.decode(raw, source)
        except RecordError as err:
            if keep:
                rows.append(_raw_row(p, line, raw, named, str(err)))
            continue
        row = None
        if keep:
            row = _row(p, line, record, template, train_on, named)
        if sc is None or tokenizer is None:
            if row is not None:
                rows.append(row)
            continue
        encs = [encode_record(record, tokenizer, template, train_on, None, "chosen", media)]
        if isinstance(record, PreferenceRecord):
            encs.append(encode_record(record, tokenizer, template, train_on, None, "rejected", media))
        lengths = [len(e.input_ids) for e in encs]
        trained = [_trained_positions(e.labels) for e in encs]
        totals.append(lengths[0])
        trainables.append(len(trained[0]))
        if len(encs) == 2:
            chosen_tr.append(len(trained[0]))
            rejected_tr.append(len(trained[1]))
        curve.add(lengths, trained)
        if row is not None:
            row["tokens"] = lengths[0]
            row["trainable"] = len(trained[0])
        if cutoff and max(lengths) > cutoff and len(over) < config.per_finding:
            over.append(line)
            if row is None:
                row = _row(p, line, record, template, train_on, ("over-cutoff",))
                row["tokens"], row["trainable"] = lengths[0], len(trained[0])
            elif "over-cutoff" not in row["findings"]:
                row["findings"].append("over-cutoff")
        if len(longest) < LONGEST or lengths[0] > longest[0][0]:
            long_row = row or _row(p, line, record, template, train_on, ())
            long_row["tokens"], long_row["trainable"] = lengths[0], len(trained[0])
            item = (lengths[0], -line, long_row)
            if len(longest) < LONGEST:
                heapq.heappush(longest, item)
            else:
                heapq.heapreplace(longest, item)
        if row is not None:
            rows.append(row)
    if sc is None:
        return {"rows": rows}
    longest_lines = [-neg for _, neg, _ in sorted(longest, key=lambda t: (-t[0], -t[1]))]
    have = {r["line"]: r for r in rows}
    for _, neg, row in longest:
        row = have.get(-neg, row)
        if "lengths" not in row["findings"]:
            row["findings"].append("lengths")
        if -neg not in have:
            rows.append(row)
    rows.sort(key=lambda r: r["line"])
    return {
        "histograms": _histograms(totals, trainables, chosen_tr, rejected_tr, cutoff),
        "cutoff_curve": curve.points(cutoff),
        "finding_rows": {"over-cutoff": [_where(p, x) for x in over], "lengths": [_where(p, x) for x in longest_lines]},
        "rows": rows,
    }


def _histograms(totals: Any, trainables: Any, chosen: Any, rejected: Any, cutoff: int | None) -> dict[str, list[dict[str, int]]]:
    def bins(values: Any, cut: int | None = None) -> list[dict[str, int]]:
        return [{"lo": b.lo, "hi": b.hi, "count": b.count} for b in histogram(values, cut)]

    out = {"total": bins(totals, cutoff), "trainable": bins(trainables)}
    if len(chosen):
        # one set of edges for both, so that the two can be read side by side
        top = max(max(chosen), max(rejected))
        out["chosen"] = bins(list(chosen) + [top])
        out["rejected"] = bins(list(rejected) + [top])
        out["chosen"][-1]["count"] -= 1
        out["rejected"][-1]["count"] -= 1
    return out


def _row(path: str, line: int, record: Record, template: Any, train_on: Any, named: tuple[str, ...]) -> dict[str, Any]:
    pieces, more = _pieces(record, template, train_on, "chosen")
    row: dict[str, Any] = {"where": _where(path, line), "path": path, "line": line, "kind": record.kind, "findings": list(named), "pieces": pieces, "omitted": more}
    if isinstance(record, PreferenceRecord):
        row["rejected_pieces"], row["rejected_omitted"] = _pieces(record, template, train_on, "rejected")
    label = getattr(record, "label", None)
    if isinstance(label, bool):
        row["label"] = label
    return row


def _raw_row(path: str, line: int, raw: Any, named: tuple[str, ...], error: str) -> dict[str, Any]:
    text = orjson.dumps(raw, option=orjson.OPT_INDENT_2).decode() if not isinstance(raw, str) else raw
    return {"where": _where(path, line), "path": path, "line": line, "kind": None, "findings": list(named), "raw": text[:MAX_ROW_CHARS], "omitted": max(0, len(text) - MAX_ROW_CHARS), "error": error[:500]}


