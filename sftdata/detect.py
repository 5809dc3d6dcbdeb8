"""Format detection: which registered format explains a file's rows, with evidence."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .errors import DetectionError, UsageError
from .formats import Format, all_formats
from .io import read_rows
from .record import Kind

SAMPLE_SIZE = 200


@dataclass(frozen=True)
class DetectResult:
    """The chosen format and kind, a confidence in [0, 1] and the evidence in words."""

    format: str
    kind: Kind
    confidence: float
    evidence: str
    sampled: int
    candidates: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "kind": self.kind,
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence,
            "sampled": self.sampled,
            "candidates": [{"format": n, "score": round(s, 3)} for n, s in self.candidates],
        }


def detect_rows(rows: list[dict[str, Any]], path: str = "<rows>", formats: list[Format] | None = None, *, majority: bool = False) -> DetectResult:
    """Score every format on every sampled row; the best mean score wins.

    A format must explain every sampled row to be chosen; when no format does, or rows
    match different formats, :class:`DetectionError` names the closest candidates.
    ``majority=True`` (a run that sets odd rows aside, ``--rejects``) takes the format
    and kind that explain most rows, more than half of them: the others are rejected
    when they fail to decode, instead of failing detection for the whole file.
    """
    if not rows:
        raise DetectionError("the file holds no records, so its format cannot be detected.", path=path, code="empty-file", remedy="Check that the right file was given.")
    formats = formats if formats is not None else all_formats()
    table: list[tuple[float, Format, Counter[str], str]] = []
    for fmt in formats:
        scores = [fmt.detect(row) for row in rows]
        matched = [d for d in scores if d.score > 0]
        kinds = Counter(str(d.kind) for d in matched)
        mean = sum(d.score for d in scores) / len(rows)
        evidence = matched[0].evidence if matched else ""
        table.append((mean, fmt, kinds, f"{evidence} in {len(matched)}/{len(rows)} sampled rows"))
    table.sort(key=lambda t: -t[0])
    candidates = tuple((fmt.name, score) for score, fmt, _, _ in table if score > 0)[:5]
    best_score, best, kinds, evidence = table[0]
    full = [t for t in table if sum(t[2].values()) == len(rows)]
    if not full and majority:
        most = max(sum(t[2].values()) for t in table)
        full = [t for t in table if sum(t[2].values()) == most and most * 2 > len(rows)]
    if not full:
        keys = Counter(k for row in rows for k in row)
        top = ", ".join(f"{n} ({s:.0%})" for n, s in candidates) or "none"
        raise DetectionError(
            f"no format matches every record (keys seen: {', '.join(k for k, _ in keys.most_common(8))}); closest: {top}.",
            path=path,
            code="mixed-formats" if candidates else "unknown-format",
            remedy="Name the format with --from, map columns with --dataset-info, or split the file by format.",
        )
    best_score, best, kinds, evidence = max(full, key=lambda t: t[0])
    kind, n_kind = kinds.most_common(1)[0]
    if len(kinds) > 1 and not (majority and n_kind * 2 > len(rows)):
        raise DetectionError(
            f"records of several kinds in one file ({', '.join(f'{k}: {n}' for k, n in kinds.items())}).",
            path=path,
            code="mixed-kinds",
            remedy="Split the file by kind; a dataset has one kind.",
        )
    return DetectResult(best.name, kind, best_score, evidence, len(rows), candidates)  # type: ignore[arg-type]


DatasetInfo = tuple["str | os.PathLike[str]", str]


def detect(path: str | os.PathLike[str] | None = None, sample: int = SAMPLE_SIZE, *, dataset_info: DatasetInfo | None = None, majority: bool = False) -> DetectResult:
    """Detect the format and kind of a file from its first ``sample`` rows.

    ``majority=True``: skip unreadable lines and go by the rows most formats agree on
    (see :func:`detect_rows`); runs with ``--rejects`` use it.

    ``dataset_info=(path_to_dataset_info_json, name)`` checks the file against that
    LLaMA-Factory entry's column mapping instead (``path`` defaults to its file).

    >>> detect("fixtures/sharegpt/sft.jsonl").format  # doctest: +SKIP
    'sharegpt'
    """
    formats = None
    if dataset_info is not None:
        from .formats.llamafactory import from_dataset_info

        fmt, data = from_dataset_info(*dataset_info)
        path, formats = (data if path is None else path), [fmt]
    if path is None:
        raise UsageError("no input file given.", remedy="Pass a file, or --dataset-info PATH NAME.")
    skip = (lambda *_: None) if majority else None
    rows = [row for row, _ in itertools.islice(read_rows(path, bad=skip), sample)]
    return detect_rows(rows, str(path), formats, majority=majority)
