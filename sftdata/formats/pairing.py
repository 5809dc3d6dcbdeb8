"""Preference <-> KTO: split pairs into labelled rows, and pair labelled rows back.

:func:`unpair` does what TRL's ``unpair_preference_dataset`` does: each pair becomes a
desirable row (prompt + chosen, ``label=True``) and an undesirable one (prompt +
rejected, ``label=False``), in that order. :func:`pair` is the reverse where prompts pair
up: KTO rows with the same prompt (and tools) are matched desirable with undesirable in
the order they appear; a row left without a partner is returned as unmatched, with a
reason, for the rejects file (nothing is dropped silently).

>>> from sftdata.record import Message, PreferenceRecord
>>> q, a, b = (Message(role=r, content=t) for r, t in (("user", "2+2?"), ("assistant", "4"), ("assistant", "5")))
>>> rows = list(unpair([PreferenceRecord(prompt=(q,), chosen=(a,), rejected=(b,))]))
>>> [(r.completion[0].content, r.label) for r in rows]
[('4', True), ('5', False)]
>>> paired, unmatched = pair(rows)
>>> paired[0] == PreferenceRecord(prompt=(q,), chosen=(a,), rejected=(b,)), unmatched
(True, [])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..record import KTORecord, PreferenceRecord, Record

#: Reason code of a KTO row that found no partner of the other label with the same prompt.
UNPAIRED = "unpaired-kto"


@dataclass(frozen=True)
class Unmatched:
    """A KTO row :func:`pair` could not pair, and why."""

    record: KTORecord
    code: str
    message: str


def unpair(records: Iterable[Record]) -> Iterator[Record]:
    """Each preference record becomes two KTO records (chosen: True, rejected: False);
    other kinds pass through unchanged."""
    for record in records:
        if not isinstance(record, PreferenceRecord):
            yield record
            continue
        common: dict[str, Any] = {"prompt": record.prompt, "tools": record.tools, "extra": record.extra, "source": record.source}
        yield KTORecord(completion=record.chosen, label=True, **common)
        yield KTORecord(completion=record.rejected, label=False, **common)


def _key(record: KTORecord) -> bytes:
    """Rows pair when their prompt and tools are equal (their values, not their spelling)."""
    return orjson.dumps([[m.model_dump(mode="json") for m in record.prompt], [t.model_dump(mode="json") for t in record.tools]])


def pair(records: Iterable[Record]) -> tuple[list[Record], list[Unmatched]]:
    """Pair KTO records by prompt: the k-th desirable row of a prompt with its k-th
    undesirable row. A pair takes the provenance and extra fields of its desirable row.
    Returns the records in the order of each pair's earlier row (other kinds in place),
    and the rows left without a partner, in file order.

    Holds the file's KTO records in memory (pairs may be far apart).
    """
    slots: list[Any] = []  # a Record, or a [key, index] placeholder filled when the pair completes
    waiting: dict[tuple[bytes, bool], list[tuple[int, KTORecord]]] = {}
    for record in records:
        if not isinstance(record, KTORecord):
            slots.append(record)
            continue
        key = _key(record)
        partners = waiting.get((key, not record.label))
        if partners:
            at, other = partners.pop(0)
            good, bad = (record, other) if record.label else (other, record)
            slots[at] = PreferenceRecord(prompt=good.prompt, chosen=good.completion, rejected=bad.completion, tools=good.tools, extra=good.extra, source=good.source)
            continue
        waiting.setdefault((key, record.label), []).append((len(slots), record))
        slots.append(None)
    left = sorted((at, rec) for rows in waiting.values() for at, rec in rows)
    unmatched = [
        Unmatched(rec, UNPAIRED, f"no {'undesirable' if rec.label else 'desirable'} row with the same prompt to pair this {'desirable' if rec.label else 'undesirable'} row with")
        for _, rec in left
    ]
    return [s for s in slots if s is not None], unmatched


@dataclass
class Reshape:
    """``convert --unpair`` / ``--pair`` as a step over the record stream, with its counts:
    ``records_in`` decoded records became ``records_out`` written ones; ``unmatched`` KTO
    rows went to the rejects sink (code ``unpaired-kto``)."""

    mode: str  # "unpair" | "pair"
    records_in: int = 0
    records_out: int = 0
    unmatched: int = 0

    def __call__(self, records: Iterable[Record], sink: Any, source_fmt: Any) -> Iterator[Record]:
        counted = self._count_in(records)
        if self.mode == "unpair":
            out: Iterable[Record] = unpair(counted)
        else:
            paired, left = pair(counted)
            for u in left:
                rec = u.record
                row = source_fmt.encode(rec)[0] if rec.kind in source_fmt.kinds else rec.model_dump(mode="json")
                sink.reject(row, rec.source, u.code, u.message)
                self.unmatched += 1
            out = paired
        for record in out:
            self.records_out += 1
            yield record

    def _count_in(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.records_in += 1
            yield record

    def kind(self, kind: str) -> str:
        """The kind written for a source kind."""
        if self.mode == "unpair" and kind == "preference":
            return "kto"
        if self.mode == "pair" and kind == "kto":
            return "preference"
        return kind

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "records_in": self.records_in, "records_out": self.records_out, "unmatched": self.unmatched}
