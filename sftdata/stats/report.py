"""The result of :func:`sftdata.stats.compute.token_stats`: summaries, histogram, cutoff effects."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import UsageError
from ..media.tokens import MediaOptions
from ..templates import TRAIN_ON, TrainOn
from ..templates.trainers import get_trainer, resolve_train_on

FIELDS = ("total", "prompt", "trainable", "overhead", "turns", "media")
MAX_LISTED_LINES = 1000


@dataclass(frozen=True)
class StatsConfig:
    """What to measure: tokenizer and template names, ``train_on``, ``cutoff_len``, epochs,
    how images count (:class:`~sftdata.media.tokens.MediaOptions`; by default the
    template's media model expands them, and unreadable images are counted as placeholders
    and reported), and whose labels and cut rule to count with: ``trainer`` is
    ``sftdata`` (default), ``llamafactory`` or ``trl`` (see
    :mod:`sftdata.templates.trainers`). ``train_on=None`` is the trainer's default;
    ``cutoff_len=None`` cuts nothing."""

    tokenizer: str = "qwen2.5"
    template: str = "qwen"
    train_on: TrainOn | None = None
    cutoff_len: int | None = None
    epochs: float = 1.0
    format: str = "auto"
    media: MediaOptions = MediaOptions()
    trainer: str = "sftdata"
    buckets: tuple[int, ...] = ()  # shape buckets to price (stats/buckets.py)

    def __post_init__(self) -> None:
        if self.train_on is not None and self.train_on not in TRAIN_ON:
            raise UsageError(f"train_on must be one of {', '.join(TRAIN_ON)}, not '{self.train_on}'.", field="--train-on")
        convention = get_trainer(self.trainer)
        object.__setattr__(self, "trainer", convention.name)
        object.__setattr__(self, "train_on", resolve_train_on(convention, self.train_on))
        if self.cutoff_len is not None and self.cutoff_len <= 0:
            raise UsageError("cutoff_len must be a positive number of tokens.", field="--cutoff-len")
        if self.epochs <= 0:
            raise UsageError("epochs must be positive.", field="--epochs")


@dataclass(frozen=True, slots=True)
class Summary:
    """count, mean, min, p50, p90, p95, p99, max of one per-record quantity.

    Percentiles are nearest-rank on the exact values (no estimation).

    >>> Summary.of([1, 2, 3, 4, 100])
    Summary(count=5, mean=22.0, min=1, p50=3, p90=100, p95=100, p99=100, max=100)
    """

    count: int
    mean: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Any) -> "Summary":
        data = sorted(values)
        n = len(data)
        if not n:
            return cls(0, 0.0, 0, 0, 0, 0, 0, 0)

        def rank(q: float) -> float:
            return data[max(0, math.ceil(q * n) - 1)]

        return cls(n, round(sum(data) / n, 2), data[0], rank(0.5), rank(0.9), rank(0.95), rank(0.99), data[-1])


@dataclass(frozen=True, slots=True)
class Bin:
    lo: int
    hi: int
    count: int


def histogram(values: Any, cutoff_len: int | None = None) -> list[Bin]:
    """Counts of ``total`` per power-of-two bin ([0, 64), [64, 128), ... ), with the
    cutoff as an extra edge so that "over the cutoff" is a whole number of bins."""
    if not len(values):
        return []
    top = max(values)
    edges = [0, 64]
    while edges[-1] <= top:
        edges.append(edges[-1] * 2)
    if cutoff_len and cutoff_len not in edges and cutoff_len < edges[-1]:
        edges = sorted({*edges, cutoff_len})
    counts = [0] * (len(edges) - 1)
    import bisect

    for v in values:
        counts[bisect.bisect_right(edges, v) - 1] += 1
    return [Bin(lo, hi, c) for lo, hi, c in zip(edges, edges[1:], counts)]


@dataclass(frozen=True)
class StatsReport:
    """Token statistics of one file.

    ``fields`` summarises total/prompt/trainable/overhead/turns/media per record (for
    preference records, the ``prompt + chosen`` side). ``over_cutoff`` rows are longer
    than ``cutoff_len`` (a preference row when either side is); ``cut_tokens`` and
    ``cut_trainable`` are what the cut removes (both sides of a preference row);
    ``zero_trainable_lines`` lists (up to 1000) rows left with nothing to train on after
    the cutoff (a preference row when either side is: DPO needs both). Counts follow
    ``trainer``'s labels and cut rule. ``trainable_tokens`` is every trained token kept,
    the count of labels != -100 in the trainer's processed dataset (chosen and rejected
    labels of a preference row); ``training_tokens`` = trainable tokens kept x epochs.

    ``media_model`` names the model that expanded the images (``None``: no images, or
    every one counted as its template placeholder). ``images`` and ``image_tokens`` total the images and the
    tokens that stand for them (``prompt + chosen`` side); ``media_unknown`` images could
    not be sized (missing, undecodable or remote files: counted as placeholders), listed
    in ``media_unknown_lines``. Videos and audios always count as placeholders.
    """

    path: str
    format: str
    tokenizer: str
    template: str
    train_on: str
    cutoff_len: int | None
    epochs: float
    read: int
    records: int
    rejected: int
    reject_codes: dict[str, int]
    kinds: dict[str, int]
    fields: dict[str, Summary]
    histogram: list[Bin]
    over_cutoff: int
    cut_tokens: int
    cut_trainable: int
    zero_trainable: int
    zero_trainable_lines: list[int]
    trainable_tokens: int
    training_tokens: float
    tokens_seen: float
    preference: dict[str, Any] | None = None
    kto: dict[str, int] | None = None
    media_total: int = 0
    media_model: str | None = None
    images: int = 0
    image_tokens: int = 0
    media_unknown: int = 0
    media_unknown_lines: list[int] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0
    warnings: list[str] = field(default_factory=list)
    trainer: str = "sftdata"
    buckets: dict[str, Any] | None = None

    @property
    def image_share(self) -> float:
        """Share of all counted tokens that stand for images."""
        return self.image_tokens / self.tokens if self.tokens else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tokens_per_second"] = round(self.tokens_per_second)
        out["image_share"] = round(self.image_share, 4)
        out["seconds"] = round(self.seconds, 3)
        return out


def build_report(path: str, config: "StatsConfig", fmt: str, tokenizer: str, template: str, cols: dict[str, array[int]], kinds: Counter[str], rejects: Any, seconds: float, warnings: list[str] | None = None, media_model: str | None = None) -> StatsReport:
    """Summaries and cutoff effects from the per-record columns."""
    n = len(cols["line"])
    total, trainable, cut, cut_tr = cols["total"], cols["trainable"], cols["cut"], cols["cut_trainable"]
    r_total, r_trainable, r_cut, r_cut_tr = cols["rejected_total"], cols["rejected_trainable"], cols["rejected_cut"], cols["rejected_cut_trainable"]
    # a preference row (rejected_total >= 0) trains nothing when either side keeps nothing
    zero = [cols["line"][i] for i in range(n) if trainable[i] - cut_tr[i] <= 0 or (r_total[i] >= 0 and r_trainable[i] - r_cut_tr[i] <= 0)]
    pref_rows = [i for i in range(n) if r_total[i] >= 0]
    cut_tokens = sum(cut) + sum(r_cut[i] for i in pref_rows)
    cut_trainable = sum(cut_tr) + sum(r_cut_tr[i] for i in pref_rows)
    kept_trainable = sum(trainable) + sum(r_trainable[i] for i in pref_rows) - cut_trainable
    seen = sum(total) - sum(cut) + sum(r_total[i] - r_cut[i] for i in pref_rows)
    preference = None
    if pref_rows:
        chosen = [trainable[i] for i in pref_rows]
        rejected = [cols["rejected_trainable"][i] for i in pref_rows]
        ratio = [c / r for c, r in zip(chosen, rejected) if r > 0]
        preference = {
            "chosen": asdict(Summary.of(chosen)),
            "rejected": asdict(Summary.of(rejected)),
            "chosen/rejected": asdict(Summary.of([round(x, 3) for x in ratio])),
            "rejected_total": asdict(Summary.of([cols["rejected_total"][i] for i in pref_rows])),
        }
    labels = Counter(v for v in cols["label"] if v >= 0)
    kto = {"desirable": labels[1], "undesirable": labels[0]} if labels else None
    fields = {name: Summary.of(cols[name]) for name in ("total", "prompt", "trainable", "overhead", "turns", "media")}
    rejected = rejects.total if rejects is not None else 0
    images = sum(cols["images"])
    return StatsReport(
        path=path,
        format=fmt,
        tokenizer=tokenizer,
        template=template,
        train_on=config.train_on,
        cutoff_len=config.cutoff_len,
        epochs=config.epochs,
        read=n + rejected,
        records=n,
        rejected=rejected,
        reject_codes=dict(rejects.counts) if rejects is not None else {},
        kinds=dict(kinds),
        fields=fields,
        histogram=histogram(total, config.cutoff_len),
        over_cutoff=sum(1 for i in range(n) if cut[i] > 0 or r_cut[i] > 0),
        cut_tokens=cut_tokens,
        cut_trainable=cut_trainable,
        buckets=_buckets(total, cut, config.buckets),
        zero_trainable=len(zero),
        zero_trainable_lines=zero[:MAX_LISTED_LINES],
        trainable_tokens=kept_trainable,
        training_tokens=kept_trainable * config.epochs,
        tokens_seen=seen * config.epochs,
        preference=preference,
        kto=kto,
        media_total=sum(cols["media"]),
        media_model=media_model if images else None,
        images=images,
        image_tokens=sum(cols["image_tokens"]),
        media_unknown=sum(cols["media_unknown"]),
        media_unknown_lines=[cols["line"][i] for i in range(n) if cols["media_unknown"][i]][:MAX_LISTED_LINES],
        seconds=seconds,
        tokens=sum(total) + sum(x for x in cols["rejected_total"] if x > 0),
        warnings=warnings or [],
        trainer=config.trainer,
    )


def _buckets(total: Any, cut: Any, buckets: tuple[int, ...]) -> dict[str, Any] | None:
    if not buckets:
        return None
    from .buckets import bucket_report

    return bucket_report((t - c for t, c in zip(total, cut)), buckets)
