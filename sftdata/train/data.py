"""Records -> token examples -> batches. Pure Python: no torch here, so it is easy to test.

Tokenization goes through :func:`sftdata.tokens.encode_record`, the same code that
``sftdata stats`` counts with, so the trainer trains exactly the tokens stats reported.

Every row read ends up trained, held out for evaluation, or counted in ``dropped`` with a
reason code (rows that do not decode, rows of another kind, rows left with no trained token
after truncation).

>>> ex = Example(input_ids=(1, 2, 3, 4), labels=(-100, -100, 3, 4))
>>> ex.targets, ex.n_trained
((-100, 3, 4, -100), 2)
>>> pack_rows([3, 2, 2, 1], cutoff_len=4)
[[0, 3], [1, 2]]
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..record import Source

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Example:
    """One tokenized row. ``labels`` are aligned with ``input_ids`` (IGNORE where not trained)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    source: Source | None = None
    cut: bool = False

    @property
    def targets(self) -> tuple[int, ...]:
        """Labels shifted left by one: ``targets[i]`` is what position ``i`` must predict.

        Shifting per row (not per packed sequence) is what keeps packed rows from
        predicting their neighbour's first token.
        """
        return (*self.labels[1:], IGNORE)

    @property
    def n_trained(self) -> int:
        return sum(1 for t in self.labels[1:] if t != IGNORE)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class DataReport:
    """What happened to every row read: ``read == train + eval + sum(dropped)``."""

    read: int = 0
    train: int = 0
    eval: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    first_drops: list[str] = field(default_factory=list)
    truncated: int = 0

    def drop(self, code: str, where: str, detail: str | None = None) -> None:
        self.dropped[code] += 1
        if len(self.first_drops) < 5:
            self.first_drops.append(f"{where}: {detail}" if detail else f"{where}: [{code}]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "train": self.train,
            "eval": self.eval,
            "dropped": dict(self.dropped),
            "truncated": self.truncated,
        }


def resolve_dataset(dataset: str, dataset_dir: str) -> list[tuple[Path, Any]]:
    """Turn ``dataset`` (file paths or dataset_info.json names, comma-separated) into
    ``(file, format)`` pairs; the format is ``"auto"`` for plain files and the codec
    LLaMA-Factory's entry describes (columns, tags, ranking) for names."""
    out: list[tuple[Path, Any]] = []
    info_path = Path(dataset_dir) / "dataset_info.json"
    for name in (part.strip() for part in dataset.split(",") if part.strip()):
        direct = Path(name)
        if not direct.is_absolute() and not direct.exists():
            direct = Path(dataset_dir) / name
        if direct.is_file():
            out.append((direct, "auto"))
            continue
        if not info_path.is_file():
            raise UsageError(f"dataset '{name}' is neither a file nor a name in {info_path} (which does not exist).", field="dataset", remedy="Pass a data file path, or set dataset_dir to the folder holding dataset_info.json.")
        from ..formats.llamafactory import from_dataset_info

        fmt, path = from_dataset_info(info_path, name)
        out.append((path, fmt))
    if not out:
        raise UsageError("no dataset given.", field="dataset", remedy="Set dataset: to a data file or a dataset_info.json name.")
    return out


def _read_records(path: Path, fmt: Any, report: DataReport) -> Iterable[Any]:
    """Decode and validate every row with the default (``sftdata``) profile; rows with an
    error are counted in ``report`` with their first error code and location, not trained."""
    from ..api import _resolve
    from ..io import read_rows
    from ..validate.engine import Options, Validator, base_dir_of
    from ..validate.profiles import get_profile

    fmt = _resolve(path, fmt)
    validator = Validator(fmt, Options(profile=get_profile("sftdata")), base_dir_of(path))
    for row, source in read_rows(path, json_cells=not getattr(fmt, "raw_cells", False)):
        report.read += 1
        outcome = validator.check_row(row, source)
        if outcome.rejected:
            first = ([i for i in outcome.issues if i.severity == "error"] or list(outcome.issues))[0]
            report.drop(first.code, str(source), str(first))
            continue
        yield fmt.decode(row, source)


def load_examples(files: list[tuple[Path, Any]], encode: Any, *, max_samples: int | None, report: DataReport, stage: Any) -> list[Any]:
    """Read, check the kind and tokenize every row; unusable rows are counted in ``report``.

    ``encode(record, branch=...) -> Encoded`` is the tokens helper's encoder with template
    and cutoff bound; ``stage`` (:func:`sftdata.train.get_stage`) turns a record into its
    training example.
    """
    examples: list[Any] = []
    for path, fmt in files:
        for record in _read_records(path, fmt, report):
            where = str(record.source) if record.source else str(path)
            if record.kind != stage.kind:
                raise UsageError(
                    f"{where}: holds {record.kind} records, and stage {stage.name} trains {stage.kind} records.",
                    remedy=f"Set stage: {_STAGE_OF.get(record.kind, 'sft')} for this data (sft: conversations, dpo: preference pairs, kto: labelled completions), or pass a {stage.kind} dataset.",
                )
            media = _media_count(record)
            if media:
                raise UsageError(
                    f"{where}: the row has {media} image/video/audio part(s); the bundled trainer trains text models only and would train this row without its pixels, unlike what `sftdata stats` counts.",
                    remedy="Train vision-language data with LLaMA-Factory or TRL (`sftdata convert` writes their formats), or drop the media rows first (`sftdata filter`).",
                )
            made = stage.example(record, encode)
            if getattr(made, "cut", False):
                report.truncated += 1
            if isinstance(made, tuple):  # a stage.Drop
                report.drop(made[0], where, made[1])
                continue
            examples.append(made)
            if max_samples is not None and len(examples) >= max_samples:
                return stage.finish(examples, encode)
    return stage.finish(examples, encode)


_STAGE_OF = {"sft": "sft", "preference": "dpo", "kto": "kto"}


def _media_count(record: Any) -> int:
    from ..record import conversation

    if record.kind == "pretrain":
        return 0
    messages = conversation(record) + (record.rejected if record.kind == "preference" else ())
    return sum(len(m.media()) for m in messages if not isinstance(m.content, str))


def split(examples: list[Example], val_size: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out ``val_size`` (a fraction, or a count when >= 1) rows, chosen with ``seed``."""
    if val_size <= 0:
        return examples, []
    n_val = int(val_size) if val_size >= 1 else max(1, round(len(examples) * val_size))
    if n_val >= len(examples):
        raise UsageError(f"val_size {val_size} leaves no training rows out of {len(examples)}.", field="val_size", remedy="Use a smaller val_size.")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_val])
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def pack_rows(lengths: Sequence[int], cutoff_len: int) -> list[list[int]]:
    """Group row indices into packs of at most ``cutoff_len`` tokens (first-fit decreasing)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    packs: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = lengths[i]
        for p, left in enumerate(room):
            if n <= left:
                packs[p].append(i)
                room[p] -= n
                break
        else:
            packs.append([i])
            room.append(cutoff_len - n)
    return packs


def batch_order(lengths: Sequence[int], batch_size: int, *, group_by_length: bool, seed: int, epoch: int) -> list[list[int]]:
    """The micro-batches of one epoch, as lists of unit indices.

    Grouped by length (the default): shuffle, cut into mega-batches of 64 batches, sort each
    by length and cut it into batches, then shuffle the batches. Rows in a batch then have
    similar lengths (little padding) while the order stays random across the epoch. The
    order depends only on ``seed`` and ``epoch``, so a resumed run sees the same batches.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        mega = batch_size * 64
        grouped: list[int] = []
        for start in range(0, len(order), mega):
            grouped.extend(sorted(order[start : start + mega], key=lambda i: -lengths[i]))
        order = grouped
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def make_units(examples: list[Example], *, packing: bool, cutoff_len: int) -> list[list[Example]]:
    """The units batches are made of: one row each, or packs of rows when ``packing``."""
    if not packing:
        return [[e] for e in examples]
    return [[examples[i] for i in pack] for pack in pack_rows([len(e) for e in examples], cutoff_len)]


@dataclass(frozen=True, slots=True)
class Batch:
    """A padded micro-batch as plain lists (turned into tensors by the loop).

    ``position_ids`` restart at 0 for each packed row; right padding forms its own segment.
    No attention mask is needed: with right padding and a causal mask, real tokens never see
    padding, and transformers isolates packed rows from ``position_ids`` when no mask is given.
    """

    input_ids: list[list[int]]
    targets: list[list[int]]
    position_ids: list[list[int]] | None
    n_rows: int
    n_tokens: int
    n_trained: int

    @property
    def weight(self) -> int:
        """What the loss sum is normalised by: trained tokens."""
        return self.n_trained

    @property
    def width(self) -> int:
        return len(self.input_ids[0]) if self.input_ids else 0


def collate(units: Sequence[list[Example]], pad_id: int, width: int | None = None) -> Batch:
    """Concatenate each unit's rows, pad to the longest unit of the batch (or to ``width``
    when that is larger: fixed shapes for NPU graph compilation)."""
    rows_ids: list[list[int]] = []
    rows_tgt: list[list[int]] = []
    rows_pos: list[list[int]] = []
    packed = any(len(u) > 1 for u in units)
    for unit in units:
        ids: list[int] = []
        tgt: list[int] = []
        pos: list[int] = []
        for ex in unit:
            ids.extend(ex.input_ids)
            tgt.extend(ex.targets)
            pos.extend(range(len(ex)))
        rows_ids.append(ids)
        rows_tgt.append(tgt)
        rows_pos.append(pos)
    width = max([len(r) for r in rows_ids] + [width or 0])
    n_tokens = sum(len(r) for r in rows_ids)
    for ids, tgt, pos in zip(rows_ids, rows_tgt, rows_pos):
        pad = width - len(ids)
        ids.extend([pad_id] * pad)
        tgt.extend([IGNORE] * pad)
        pos.extend(range(pad))
    n_trained = sum(1 for r in rows_tgt for t in r if t != IGNORE)
    return Batch(rows_ids, rows_tgt, rows_pos if packed else None, sum(len(u) for u in units), n_tokens, n_trained)
