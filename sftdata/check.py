"""``check``: everything worth knowing about a dataset before a training run, in one pass
per concern, ending in a list of findings and the command that fixes each.

It runs what the other commands run, read-only: ``validate`` (schema, roles, media,
quality rules), near-duplicate detection as ``dedup`` does it (with ``against``: leaks
from an eval set), and token statistics as ``stats`` computes them (what ``cutoff_len``
cuts, records left with nothing to train on). Nothing is written.

>>> import sftdata
>>> report = sftdata.check("fixtures/sharegpt/sft.jsonl", cutoff_len=64)
>>> report.records, report.exit_code
(4, 0)
>>> [f.code for f in report.findings]
['over-cutoff', 'nothing-to-train']
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .engines.base import Engine
from .errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from .stats.report import StatsReport
    from .validate import ValidationReport

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Finding:
    """One thing to act on: what was found (with figures) and the command that fixes it."""

    severity: Severity
    code: str
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "fix": self.fix}


@dataclass
class Duplicates:
    """Near-duplicate counts (exact copies included: their similarity is 1.0)."""

    threshold: float
    duplicates: int = 0  # records that repeat an earlier kept record
    clusters: int = 0
    largest: int = 0
    eval_leaks: int | None = None  # records that repeat a record of the eval set


@dataclass
class CheckReport:
    """What :func:`check` found; ``exit_code`` is 1 when a finding is an error."""

    path: str
    format: str | None
    records: int
    validation: "ValidationReport"
    duplicates: Duplicates | None = None
    stats: "StatsReport | None" = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(f.severity == "error" for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "sftdata.check/1",
            "path": self.path,
            "format": self.format,
            "records": self.records,
            "exit_code": self.exit_code,
            "findings": [f.to_dict() for f in self.findings],
            "validation": self.validation.to_dict(),
            "duplicates": None if self.duplicates is None else dict(self.duplicates.__dict__),
            "stats": None if self.stats is None else self.stats.to_dict(),
        }


def check(
    input: PathLike,
    *,
    format: str = "auto",
    profile: str = "sftdata",
    tokenizer: str | None = "qwen2.5",
    template: str = "qwen",
    cutoff_len: int | None = None,
    against: PathLike | None = None,
    threshold: float = 0.8,
    near_duplicates: bool = True,
    engine: Engine | None = None,
    **validate_options: Any,
) -> CheckReport:
    """Check ``input`` for everything that would hurt a training run.

    Args:
        input: the dataset file.
        format: its format, or ``auto``.
        profile: validation profile (``sftdata``, ``trl``, ``llamafactory``, ``openai``).
        tokenizer: tokenizer for the token statistics; ``None`` skips them.
        template: chat template the trainer will apply.
        cutoff_len: the trainer's ``cutoff_len``: report what it cuts.
        against: an eval set: report training records that leak from it.
        threshold: Jaccard similarity that makes two records near-duplicates.
        near_duplicates: ``False`` skips duplicate detection (exact copies are still
            reported by validation).
        engine: ``Engine("ray")`` runs the two expensive passes, near-duplicate
            fingerprinting and token counting, on Ray (same figures); validation runs
            here with its own fast path.
        **validate_options: passed to :func:`sftdata.validate` (``check_media``, ...).

    Returns:
        A :class:`CheckReport` with every figure and the ordered findings.
    """
    from .validate import validate

    path = str(input)
    # Each pass shows its own progress bar on a terminal (silent otherwise).
    validation = validate(path, profile, format=format, progress=True, **validate_options)
    report = CheckReport(path, validation.format, validation.total, validation)
    usable = validation.format is not None and validation.valid > 0
    skipped: list[Finding] = []
    if usable and (near_duplicates or against is not None):
        try:
            report.duplicates = _duplicates(path, validation.format, threshold, against, within=near_duplicates, engine=engine)  # type: ignore[arg-type]
        except MissingDependencyError as err:  # a core install: say what was not checked
            skipped.append(Finding("error" if against is not None else "info", "not-checked", f"near-duplicates{' and eval leaks' if against is not None else ''} were not checked: {err.message}", f"pip install 'sftdata[{err.extra}]'"))
    if usable and tokenizer is not None:
        from .io.rejects import RejectSink
        from .progress import progress as progress_bar
        from .stats.compute import StatsConfig, token_stats

        config = StatsConfig(tokenizer=tokenizer, template=template, cutoff_len=cutoff_len, format=validation.format)
        # rows that do not decode are validation's business: counted, not written
        with RejectSink(None) as sink, progress_bar(f"tokenizing {path}", total=validation.total) as bar:
            report.stats = token_stats(path, config, rejects=sink, progress=bar.update, engine=engine)
    report.findings = sorted(_findings(report, profile, template, tokenizer, cutoff_len, against) + skipped, key=lambda f: _ORDER[f.severity])
    return report


def _duplicates(path: str, fmt_name: str, threshold: float, against: PathLike | None, within: bool, engine: Engine | None = None) -> Duplicates:
    from .clean._stream import resolve_format
    from .clean.fingerprint import fingerprint
    from .clean.index import MatchConfig, match
    from .formats import get_format

    config = MatchConfig(mode="near", threshold=threshold)
    files = [fingerprint(path, get_format(fmt_name), config, engine=engine)]  # first: see dedup()
    if against is not None:
        files.insert(0, fingerprint(against, resolve_format(against, "auto"), config))
    n_ref = len(files[0]) if against is not None else 0
    found = match(files, config, references=1 if against is not None else 0, within=within)
    out = Duplicates(threshold)
    sizes: dict[int, int] = {}
    leaks = 0
    for j in found.dup_of[n_ref:].tolist():
        if j < 0:
            continue
        if j < n_ref:
            leaks += 1
        else:
            sizes[j] = sizes.get(j, 1) + 1
    out.duplicates = sum(sizes.values()) - len(sizes)
    out.clusters, out.largest = len(sizes), max(sizes.values(), default=0)
    if against is not None:
        out.eval_leaks = leaks
    return out


def _findings(r: CheckReport, profile: str, template: str, tokenizer: str | None, cutoff_len: int | None, against: PathLike | None) -> list[Finding]:
    out: list[Finding] = []
    v, path = r.validation, shlex.quote(r.path)
    against = None if against is None else shlex.quote(str(against))
    if v.format is None:
        out.append(Finding("error", "unknown-format", "the format could not be detected.", f"sftdata detect {path}"))
        return out
    if v.rejected:
        top = ", ".join(f"{s.code} x{s.count}" for s in v.sorted_rules() if s.severity == "error")[:200]
        out.append(Finding("error", "invalid-records", f"{v.rejected:,} of {_count(v.total, 'record')} are invalid ({top}).", f"sftdata validate {path} --profile {profile} --fix -o fixed.jsonl --rejects rejected.jsonl"))
    if v.warnings:
        top = ", ".join(f"{s.code} x{s.count}" for s in v.sorted_rules() if s.severity == "warning")[:200]
        out.append(Finding("warning", "validation-warnings", f"{_count(v.warnings, 'warning')} ({top}).", f"sftdata validate {path} --profile {profile}"))
    d = r.duplicates
    if d is not None and d.eval_leaks:
        out.append(Finding("error", "eval-leaks", f"{_count(d.eval_leaks, 'record')} repeat (Jaccard >= {d.threshold}) a record of the eval set {against}: the eval loss would be optimistic.", f"sftdata dedup {path} -o clean.jsonl --against {against} --rejects leaks.jsonl"))
    if d is not None and d.duplicates:
        share = d.duplicates / max(r.records, 1)
        out.append(Finding("warning", "duplicates", f"{_count(d.duplicates, 'record')} ({share:.1%}) are near-duplicates (Jaccard >= {d.threshold}) of earlier ones, in {d.clusters:,} clusters (largest {d.largest}).", f"sftdata dedup {path} -o deduped.jsonl --rejects duplicates.jsonl --report clusters.json"))
    s = r.stats
    if s is not None:
        total = s.fields["total"]
        if cutoff_len is not None and s.over_cutoff:
            out.append(Finding("warning", "over-cutoff", f"{_count(s.over_cutoff, 'record')} longer than cutoff_len={cutoff_len} ({template} template, {tokenizer}); {s.cut_trainable:,} trainable tokens would be cut. Lengths: p50 {total.p50:g}, p95 {total.p95:g}, p99 {total.p99:g}, max {total.max:g}.", f"sftdata filter {path} -o fits.jsonl --max-tokens {cutoff_len} --tokenizer {tokenizer} --template {template} --rejects too_long.jsonl"))
        if s.zero_trainable:
            lines = ", ".join(map(str, s.zero_trainable_lines[:5]))
            # after a cutoff, dropping what it cuts also drops these
            keep = f"--max-tokens {cutoff_len}" if cutoff_len else "--min-trainable-tokens 1"
            out.append(Finding("warning", "nothing-to-train", f"{_count(s.zero_trainable, 'record')} with no trainable token left{' after the cutoff' if cutoff_len else ''} (first: {lines}); they cost compute and teach nothing.", f"sftdata filter {path} -o kept.jsonl {keep} --tokenizer {tokenizer} --template {template}"))
        if cutoff_len is None:
            out.append(Finding("info", "lengths", f"token lengths ({template} template, {tokenizer}): p50 {total.p50:g}, p95 {total.p95:g}, p99 {total.p99:g}, max {total.max:g}; a cutoff_len of {_pow2(total.p99)} keeps 99% of records whole.", f"sftdata stats {path} --tokenizer {tokenizer} --template {template} --cutoff-len {_pow2(total.p99)}"))
    return out


def _count(n: int, noun: str) -> str:
    """``1 record``, ``2,000 records``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _pow2(n: float) -> int:
    p = 64
    while p < n:
        p *= 2
    return p
