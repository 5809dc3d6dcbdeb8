"""What one record becomes in each trainer's tokenized layout (columns per trainer and stage).

Every row builder takes an already-encoded record (:func:`sftdata.tokens.encode_record`
under the trainer's convention) and returns the columns that trainer's loader reads:

=============  =====  ==========================================================================
trainer        stage  columns
=============  =====  ==========================================================================
llamafactory   sft    input_ids, attention_mask, labels, images, videos, audios
llamafactory   dpo    chosen_/rejected_ x input_ids, attention_mask, labels; images, videos, audios
llamafactory   kto    input_ids, attention_mask, labels, kl_input_ids, kl_attention_mask,
                      kl_labels, kto_tags, images, videos, audios
trl            sft    input_ids, labels
sftdata        sft    input_ids, labels, source, line
=============  =====  ==========================================================================

LLaMA-Factory's KTO processor pairs each prompt with the completion of the row before
it *within its preprocessing batch* (1000 rows by default; the first row of a batch takes
the batch's last completion) to build the ``kl_*`` columns: :func:`kl_records` does the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import UsageError
from ..record import KTORecord, PreferenceRecord, Record, SFTRecord
from ..templates import Template, TrainOn
from ..tokenizers import Tokenizer
from ..tokens import IGNORE_INDEX, Encoded, encode_record

Trainer = Literal["llamafactory", "trl", "sftdata"]
Stage = Literal["sft", "dpo", "kto"]
TRAINERS: tuple[str, ...] = ("llamafactory", "trl", "sftdata")
STAGES: tuple[str, ...] = ("sft", "dpo", "kto")
#: LLaMA-Factory's ``preprocessing_batch_size`` default: KTO's KL pairs and packing work per batch.
LF_BATCH = 1000
#: the record kind each stage reads
KIND_OF_STAGE = {"sft": "sft", "dpo": "preference", "kto": "kto"}

# Whether sftdata.tokens.encode_record takes the trainer convention yet (issue 11).
_HAS_TRAINER = "trainer" in inspect.signature(encode_record).parameters


def convention_applied(trainer: str) -> str:
    """The labels/cutoff convention :class:`Encoder` really applies for ``trainer``."""
    return trainer if _HAS_TRAINER else "sftdata"


def resolved_train_on(trainer: str, train_on: str | None) -> str:
    """``train_on`` as the trainer's convention reads it (``None``: the trainer's default,
    e.g. TRL's ``everything`` for ``assistant_only_loss=False``)."""
    if _HAS_TRAINER:
        from ..templates.trainers import get_trainer, resolve_train_on  # type: ignore[import-not-found]

        return str(resolve_train_on(get_trainer(trainer), train_on))  # type: ignore[arg-type]
    return train_on or "all"


@dataclass(frozen=True)
class Encoder:
    """``encode_record`` bound to one tokenizer, template and trainer convention."""

    tokenizer: Tokenizer
    template: Template
    trainer: str
    train_on: TrainOn | None = None  # None: the trainer's default
    cutoff_len: int | None = None

    def __call__(self, record: Record, branch: Literal["chosen", "rejected"] = "chosen") -> Encoded:
        train_on = resolved_train_on(self.trainer, self.train_on)
        extra: dict[str, Any] = {"trainer": self.trainer} if _HAS_TRAINER else {}
        return encode_record(record, self.tokenizer, self.template, train_on=train_on, cutoff_len=self.cutoff_len, branch=branch, **extra)  # type: ignore[arg-type]


def trained(labels: list[int]) -> int:
    return sum(1 for x in labels if x != IGNORE_INDEX)


def media_paths(record: Record, modality: str, base_dir: Path | None, media_root: Path | None) -> list[str] | None:
    """A record's media paths of one modality, resolved as LLaMA-Factory resolves them
    (its ``media_dir``, else as written); ``None`` when the record has none (LLaMA-Factory's
    value for a dataset without that column)."""
    from ..media.paths import is_local_relative, resolve
    from ..record import conversation

    if not isinstance(record, (SFTRecord, PreferenceRecord, KTORecord)):
        return None
    urls = [p.url for m in conversation(record) for p in m.media(modality)]  # type: ignore[arg-type]
    if not urls:
        return None
    root = media_root or base_dir
    return [str(resolve(u, base_dir, media_root)) if is_local_relative(u) and root is not None and resolve(u, base_dir, media_root).exists() else u for u in urls]


Row = dict[str, Any]


def _media_columns(record: Record, where: tuple[Path | None, Path | None]) -> Row:
    return {f"{m}s": media_paths(record, m, *where) for m in ("image", "video", "audio")}


def lf_sft(record: Record, enc: Encoder, where: tuple[Path | None, Path | None]) -> tuple[Row, Encoded]:
    e = enc(record)
    return {"input_ids": e.input_ids, "attention_mask": [1] * len(e.input_ids), "labels": e.labels, **_media_columns(record, where)}, e


def lf_dpo(record: Record, enc: Encoder, where: tuple[Path | None, Path | None]) -> tuple[Row, Encoded]:
    c, r = enc(record, "chosen"), enc(record, "rejected")
    row = {
        "chosen_input_ids": c.input_ids, "chosen_attention_mask": [1] * len(c.input_ids), "chosen_labels": c.labels,
        "rejected_input_ids": r.input_ids, "rejected_attention_mask": [1] * len(r.input_ids), "rejected_labels": r.labels,
        **_media_columns(record, where),
    }  # fmt: skip
    return row, c


def kl_records(records: list[KTORecord]) -> list[KTORecord]:
    """LLaMA-Factory's KL pairs for one preprocessing batch: row i's prompt with row i-1's
    completion, the first row with the batch's last.

    >>> from sftdata.record import Message
    >>> rows = [KTORecord(prompt=(Message(role="user", content=q),), completion=(Message(role="assistant", content=a),), label=True) for q, a in [("q1", "a1"), ("q2", "a2")]]
    >>> [(r.prompt[0].content, r.completion[0].content) for r in kl_records(rows)]
    [('q1', 'a2'), ('q2', 'a1')]
    """
    if not records:
        return []
    completions = [records[-1].completion] + [r.completion for r in records[:-1]]
    return [r.model_copy(update={"completion": c}) for r, c in zip(records, completions)]


def lf_kto(record: Record, kl: Record, enc: Encoder, where: tuple[Path | None, Path | None]) -> tuple[Row, Encoded]:
    assert isinstance(record, KTORecord)
    e, k = enc(record), enc(kl)
    row = {
        "input_ids": e.input_ids, "attention_mask": [1] * len(e.input_ids), "labels": e.labels,
        "kl_input_ids": k.input_ids, "kl_attention_mask": [1] * len(k.input_ids), "kl_labels": k.labels,
        "kto_tags": record.label, **_media_columns(record, where),
    }  # fmt: skip
    return row, e


def trl_sft(record: Record, enc: Encoder, where: tuple[Path | None, Path | None]) -> tuple[Row, Encoded]:
    e = enc(record)
    return {"input_ids": e.input_ids, "labels": e.labels}, e


def sftdata_sft(record: Record, enc: Encoder, where: tuple[Path | None, Path | None]) -> tuple[Row, Encoded]:
    e = enc(record)
    src = record.source
    return {"input_ids": e.input_ids, "labels": e.labels, "source": src.path if src else "", "line": src.line if src else 0}, e


RowBuilder = Callable[[Record, Encoder, tuple[Path | None, Path | None]], tuple[Row, Encoded]]
#: (trainer, stage) -> row builder; KTO for LLaMA-Factory is built batch-wise (see kl_records).
BUILDERS: dict[tuple[str, str], RowBuilder] = {
    ("llamafactory", "sft"): lf_sft,
    ("llamafactory", "dpo"): lf_dpo,
    ("trl", "sft"): trl_sft,
    ("sftdata", "sft"): sftdata_sft,
}
#: layouts written as TRL's conversational JSONL instead of tokens (TRL tokenizes these itself)
TEXT_LAYOUTS = {("trl", "dpo"), ("trl", "kto")}


def check_layout(trainer: str, stage: str) -> None:
    if trainer not in TRAINERS:
        raise UsageError(f"unknown trainer '{trainer}'.", field="--trainer", remedy=f"Use one of: {', '.join(TRAINERS)}.")
    if stage not in STAGES:
        raise UsageError(f"unknown stage '{stage}'.", field="--stage", remedy=f"Use one of: {', '.join(STAGES)}.")
    if (trainer, stage) not in BUILDERS and (trainer, stage) not in TEXT_LAYOUTS and (trainer, stage) != ("llamafactory", "kto"):
        raise UsageError(
            f"--trainer {trainer} --stage {stage}: sftdata train trains SFT only from a tokenized folder for now.",
            field="--stage",
            remedy="Tokenize preference/KTO data for LLaMA-Factory (--trainer llamafactory), or write TRL's format (--trainer trl).",
        )


__all__ = ["BUILDERS", "KIND_OF_STAGE", "LF_BATCH", "STAGES", "TEXT_LAYOUTS", "TRAINERS", "Encoder", "check_layout", "convention_applied", "kl_records", "lf_kto"]
