"""``split``: train/validation split that never separates near-duplicates.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"conversations": [{"from": "human", "value": f"question number {i} about topic {i % 7}"},
...                            {"from": "gpt", "value": f"answer {i}"}]} for i in range(20)]
>>> _ = (d / "in.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in rows))
>>> rep = split(d / "in.jsonl", d / "out", SplitConfig(val_size=0.25, seed=1))
>>> rep.train, rep.val, sorted(p.name for p in (d / "out").iterdir())
(15, 5, ['train.jsonl', 'val.jsonl'])

Records are first grouped: rows whose views are near-duplicates (or, with
``group="exact"``, identical after normalisation) form one group, transitively. Groups
are shuffled with ``seed`` and whole groups go to validation until it holds its share,
per stratum when ``stratify`` names a field. The same input, options and seed always
give the same split.
"""

from __future__ import annotations

import random
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..api import RejectSink
from ..engines.base import Engine
from ..errors import UsageError
from ..formats import Format
from ..progress import progress
from ._stream import PathLike, lines, resolve_format, write_kept
from .fingerprint import fingerprint, materialize
from .index import MatchConfig, match
from .sketch import _np

Grouping = Literal["near", "exact", "none"]
GROUPINGS: tuple[Grouping, ...] = ("near", "exact", "none")


@dataclass(frozen=True)
class SplitConfig:
    """``val_size``: a fraction in (0, 1) or a record count (>= 1). ``group`` says which
    records must stay together; ``match`` tunes near/exact grouping."""

    val_size: float = 0.1
    seed: int = 0
    stratify: str | None = None
    group: Grouping = "near"
    match: MatchConfig = field(default_factory=MatchConfig)


@dataclass
class SplitReport:
    """Counts: ``read == train + val + rejected``; ``groups`` of more than one record."""

    read: int = 0
    train: int = 0
    val: int = 0
    rejected: int = 0
    groups: int = 0
    largest_group: int = 0
    strata: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _targets(sizes: dict[Any, int], val_size: float) -> dict[Any, int]:
    """Validation records wanted per stratum: a fraction of each, or a count shared in
    proportion (largest remainders), so the total is exact."""
    total = sum(sizes.values())
    want = val_size * total if val_size < 1 else min(val_size, total)
    exact = {k: want * n / total for k, n in sizes.items()} if total else {}
    out = {k: int(v) for k, v in exact.items()}
    rest = round(want) - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), str(k)))[: max(0, rest)]:
        out[k] += 1
    return out


def split(input: PathLike, out_dir: PathLike, config: SplitConfig | None = None, *, rejects: PathLike | None = None, format: str | Format = "auto", workers: int | None = None,
          engine: Engine | None = None) -> SplitReport:
    """Write ``out_dir/train.jsonl`` and ``out_dir/val.jsonl`` (rows verbatim).

    Args:
        input: the dataset file.
        out_dir: folder for the two files (created).
        config: sizes, seed, stratification and grouping.
        rejects: JSONL file for rows that do not decode (otherwise the first one stops
            the split, as in ``convert``).
        format: the input format, or ``"auto"``.
        workers: processes for fingerprinting a large plain ``.jsonl`` (1 disables).
        engine: ``Engine("ray")`` fingerprints a ``.jsonl`` file on Ray and groups
            near-duplicates there (see :mod:`sftdata.clean.distmatch`); the groups, and so
            the split, are those of the local engine.
    """
    config = config or SplitConfig()
    if not (0 < config.val_size < 1 or (config.val_size >= 1 and float(config.val_size).is_integer())):
        raise UsageError(f"--val-size {config.val_size} is neither a fraction in (0, 1) nor a whole count.", remedy="Use e.g. 0.1 for 10% or 500 for 500 records.")
    fmt = resolve_format(input, format, majority=rejects is not None)
    mcfg = MatchConfig(**{**config.match.__dict__, "mode": "exact" if config.group == "exact" else "near"})
    on_ray = engine is not None and engine.ray and config.group != "none"
    fp = fingerprint(input, fmt, mcfg, label=config.stratify, workers=workers, engine=engine, remote_keys=on_ray)
    np = _np()
    n = len(fp)
    if config.group == "none":
        group = np.arange(n)
    else:
        found = None
        if on_ray:
            from .distmatch import match_on_ray

            found = match_on_ray(fp, mcfg, engine, policy="all")  # type: ignore[arg-type]
        if found is None:
            fp = materialize(fp) if fp.ranges is not None else fp
            found = match([fp], mcfg, policy="all")
        group = found.group
    ok = np.ones(n, dtype=bool)
    ok[list(fp.failed)] = False
    if fp.failed and rejects is None:
        raise fp.failed[min(fp.failed)]
    if config.stratify is not None and n and (fp.labels is None or all(fp.labels[i] is None for i in range(n) if ok[i])):
        raise _unknown_column(input, config.stratify)
    # Per group (named by its first row): size and stratum, as arrays (a dictionary per
    # group costs ~100 bytes each: 200 MB for a million rows).
    ids, sizes_of = np.unique(group[ok], return_counts=True)
    names, code = _strata(fp.labels, ids)
    totals = np.bincount(code, weights=sizes_of, minlength=len(names)) if len(ids) else np.zeros(len(names))
    targets = _targets({name: int(total) for name, total in zip(names, totals.tolist()) if total}, config.val_size)
    want = [targets.get(name, 0) for name in names]
    # The shuffle of the sorted group ids is the same as before (Python's Random).
    # An array shuffles exactly as a list does (same swaps) at 8 bytes a group, not ~36.
    order = array("q", range(len(ids)))
    random.Random(config.seed).shuffle(order)
    chosen = np.zeros(len(ids), dtype=bool)
    taken = [0] * len(names)
    size_list, code_list = sizes_of.tolist(), code.tolist()
    for k in order:  # whole groups, while they fit
        c = code_list[k]
        if taken[c] + size_list[k] <= want[c]:
            chosen[k] = True
            taken[c] += size_list[k]
    in_val = np.zeros(n, dtype=bool)
    in_val[ids[chosen]] = True
    stratum_of = np.zeros(n, dtype=np.int32)
    stratum_of[ids] = code
    out = Path(out_dir)
    report = SplitReport(groups=int(np.count_nonzero(sizes_of > 1)), largest_group=int(sizes_of.max()) if len(ids) else 0)
    counts = {"train": [0], "val": [0]}
    strata: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "val": 0})
    with RejectSink(rejects) as sink, progress(f"splitting {input}", total=2 * n) as advance:

        def rows_for(side: str) -> Any:
            # One streaming pass per output file keeps memory flat whatever val_size is.
            for line in lines(fp.path):
                advance()
                if not ok[line.idx]:
                    if side == "train":
                        sink.add(line.row, line.source, fp.failed[line.idx])
                    continue
                g = int(group[line.idx])
                if ("val" if in_val[g] else "train") == side:
                    strata[names[stratum_of[g]]][side] += 1
                    yield line

        for side in ("train", "val"):
            counts[side][0] = write_kept(rows_for(side), out / f"{side}.jsonl")
    report.train, report.val, report.rejected = counts["train"][0], counts["val"][0], sink.total
    report.read = report.train + report.val + report.rejected
    report.reasons = dict(sink.counts)
    if config.stratify is not None:
        report.strata = {k: dict(v) for k, v in sorted(strata.items())}
    if report.val and not report.train:
        report.warnings.append(f"val takes every record ({report.val:,}) and train.jsonl is empty: --val-size {config.val_size:g} is at least the whole dataset"
                               + (" or one near-duplicate group holds it all" if report.groups else "") + ". Use a smaller --val-size (e.g. 0.1).")
    elif report.train and not report.val:
        report.warnings.append("val.jsonl is empty: every duplicate group is larger than --val-size asks for. Use a larger --val-size, or --group none.")
    return report


def _unknown_column(input: PathLike, column: str) -> UsageError:
    from ..io import read_rows

    seen: list[str] = []
    for row, _ in read_rows(input):
        if isinstance(row, dict):
            seen = [k for k in row if isinstance(k, str)]
            break
    import difflib

    close = difflib.get_close_matches(column, seen, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return UsageError(f"--stratify '{column}': no record has this column.{hint}", field="--stratify",
                      remedy=f"Name a top-level column of the rows ({', '.join(seen) or 'none found'}), or drop --stratify.")


def _strata(labels: list[Any] | None, ids: "Any") -> tuple[list[str], "Any"]:
    """Stratum names, and each group's stratum code (its first row's label)."""
    np = _np()
    if labels is None:
        return [_label(None)], np.zeros(len(ids), dtype=np.int32)
    names: dict[str, int] = {}
    code = np.fromiter((names.setdefault(_label(labels[g]), len(names)) for g in ids.tolist()), dtype=np.int32, count=len(ids))
    return list(names), code


def _label(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
