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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .engines.base import Engine
from .errors import MissingDependencyError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .stats.report import StatsReport
    from .validate import ValidationReport

Severity = Literal["error", "warning", "info"]
PER_FINDING = 20  # rows the HTML report shows per finding
CLUSTERS = 10  # near-duplicate clusters it shows side by side, up to 6 records each
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
    #: the first clusters, each ``[(line, similarity to the first), ...]`` (first: 1.0)
    examples: list[list[tuple[int, float]]] = field(default_factory=list, repr=False)
    #: the first leaks: ``(training line, eval line, similarity)``
    leak_pairs: list[tuple[int, int, float]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in ("threshold", "duplicates", "clusters", "largest", "eval_leaks")}


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
    #: what the HTML report shows beyond the figures (``check(details=True)``): histograms,
    #: the cutoff curve, duplicate clusters, leaks and rendered rows, as plain data
    details: dict[str, Any] | None = None
    #: one report per file when the input is several files or a dataset_info.json
    sources: list["CheckReport"] = field(default_factory=list)

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
            "duplicates": None if self.duplicates is None else self.duplicates.to_dict(),
            "stats": None if self.stats is None else self.stats.to_dict(),
            **({} if self.details is None else {"details": self.details}),
            **({"sources": [r.to_dict() for r in self.sources]} if self.sources else {}),
        }

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, JS and SVG; no network).
        The figures are those of :meth:`to_dict`; run :func:`check` with ``details=True``
        for the histograms, the cutoff curve, clusters and rows."""
        from .stats.html import render_report

        return render_report(self.to_dict())


def check(
    input: PathLike | list[PathLike] | tuple[PathLike, ...],
    *,
    format: str = "auto",
    profile: str = "sftdata",
    tokenizer: str | None = "qwen2.5",
    template: str = "qwen",
    cutoff_len: int | None = None,
    against: PathLike | None = None,
    threshold: float = 0.8,
    near_duplicates: bool = True,
    trainer: str = "sftdata",
    details: bool = False,
    engine: Engine | None = None,
    **validate_options: Any,
) -> CheckReport:
    """Check ``input`` for everything that would hurt a training run.

    Args:
        input: the dataset file; several files, or a LLaMA-Factory ``dataset_info.json``
            (every entry with a local file, each read as its entry says): one report per
            source in :attr:`CheckReport.sources`, their findings (named by file) and
            validation counts merged on top.
        format: its format, or ``auto``.
        profile: validation profile (``sftdata``, ``trl``, ``llamafactory``, ``openai``).
        tokenizer: tokenizer for the token statistics; ``None`` skips them.
        template: chat template the trainer will apply.
        cutoff_len: the trainer's ``cutoff_len``: report what it cuts.
        trainer: whose labels and cut rule the token statistics follow (``sftdata``,
            ``llamafactory``, ``trl``; see :mod:`sftdata.templates.trainers`).
        against: an eval set: report training records that leak from it.
        threshold: Jaccard similarity that makes two records near-duplicates.
        near_duplicates: ``False`` skips duplicate detection (exact copies are still
            reported by validation).
        details: also gather what the HTML report shows (:attr:`CheckReport.details`):
            one more pass that renders rows and measures every length.
        engine: ``Engine("ray")`` runs the two expensive passes, near-duplicate
            fingerprinting and token counting, on Ray (same figures); validation (and
            the HTML report's pass) runs here with its own fast path.
        **validate_options: passed to :func:`sftdata.validate` (``check_media``, ...).

    Returns:
        A :class:`CheckReport` with every figure and the ordered findings.
    """
    from .validate import validate

    options = dict(format=format, profile=profile, tokenizer=tokenizer, template=template, cutoff_len=cutoff_len, against=against, threshold=threshold, near_duplicates=near_duplicates, details=details, trainer=trainer, engine=engine, **validate_options)
    if isinstance(input, (list, tuple)):
        if len(input) != 1:
            return _check_sources(", ".join(map(str, input)), [(p, format) for p in input], [], options)
        input = input[0]
    if os.path.basename(str(input)) == "dataset_info.json" or os.path.isdir(input):
        return _check_sources(str(input), *_dataset_info_sources(input), options)
    path = str(input)
    # Each pass shows its own progress bar on a terminal (silent otherwise).
    locations = validate_options.pop("locations", PER_FINDING if details else 3)
    validation = validate(path, profile, format=format, progress=True, locations=locations, **validate_options)
    report = CheckReport(path, validation.format, validation.total, validation)
    usable = validation.format is not None and validation.valid > 0
    skipped: list[Finding] = []
    if usable and (near_duplicates or against is not None):
        try:
            report.duplicates = _duplicates(path, format if not isinstance(format, str) else validation.format, threshold, against, within=near_duplicates, engine=engine)  # type: ignore[arg-type]
        except MissingDependencyError as err:  # a core install: say what was not checked
            skipped.append(Finding("error" if against is not None else "info", "not-checked", f"near-duplicates{' and eval leaks' if against is not None else ''} were not checked: {err.message}", f"pip install 'sftdata[{err.extra}]'"))
    config = None
    if usable and tokenizer is not None:
        from .io.rejects import RejectSink
        from .progress import progress as progress_bar
        from .stats.compute import StatsConfig, token_stats

        from .media.tokens import MediaOptions

        root = validate_options.get("media_root")
        media = MediaOptions(media_root=str(root) if root else None, confine=bool(validate_options.get("confine_media")))
        config = StatsConfig(tokenizer=tokenizer, template=template, cutoff_len=cutoff_len, format=format if not isinstance(format, str) else validation.format, trainer=trainer, media=media)  # type: ignore[arg-type]
        # rows that do not decode are validation's business: counted, not written
        with RejectSink(None) as sink, progress_bar(f"tokenizing {path}", total=validation.total) as bar:
            report.stats = token_stats(path, config, rejects=sink, progress=bar.update, engine=engine)
    tool = f"{template} --trainer {trainer}" if trainer != "sftdata" else template
    report.findings = sorted(_findings(report, profile, tool, tokenizer, cutoff_len, against) + skipped, key=lambda f: _ORDER[f.severity])
    if details and validation.format is not None:
        report.details = _details(report, format if not isinstance(format, str) else validation.format, config, against)
    return report


def _dataset_info_sources(info_path: PathLike) -> tuple[list[tuple[PathLike, Any]], list[Finding]]:
    """``(file, codec)`` of every entry with a local file; an info finding for the others."""
    from .formats.llamafactory import from_dataset_info, load_dataset_info

    sources: list[tuple[PathLike, Any]] = []
    missing: list[str] = []
    for name, entry in load_dataset_info(info_path).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            missing.append(f"{name} (no local file_name)")
            continue
        codec, path = from_dataset_info(info_path, name)
        if path.is_file():
            sources.append((path, codec))
        else:
            missing.append(f"{name} ({entry['file_name']} not found)")
    notes = [Finding("info", "not-checked", f"{_count(len(missing), 'dataset')} of {info_path} not checked: {', '.join(missing)[:400]}.")] if missing else []
    return sources, notes


def _check_sources(label: str, inputs: list[tuple[PathLike, Any]], notes: list[Finding], options: dict[str, Any]) -> CheckReport:
    """One report per source; on top, their validation counts merged and every finding
    named by its file, most serious first."""
    from .validate import ValidationReport
    from .validate.report import RuleStat

    if not inputs:
        raise UsageError(f"nothing to check in {label}.", remedy="Give data files, or a dataset_info.json with local files.")
    sources = [check(path, **{**options, "format": fmt}) for path, fmt in inputs]
    profile = sources[0].validation.profile
    merged = ValidationReport(label, profile, None, max_locations=sources[0].validation.max_locations)
    for r in sources:
        v = r.validation
        merged.total += v.total
        merged.valid += v.valid
        merged.rejected += v.rejected
        merged.fixed += v.fixed
        merged.kinds.update(v.kinds)
        for code, stat in v.rules.items():
            into = merged.rules.setdefault(code, RuleStat(code, stat.severity))
            into.count += stat.count
            into.records += stat.records
            into.first.extend(stat.first[: merged.max_locations - len(into.first)])
    formats = {r.format for r in sources}
    findings = [replace(f, message=f"{r.path}: {f.message}") for r in sources for f in r.findings] + notes
    return CheckReport(label, formats.pop() if len(formats) == 1 else None, merged.total, merged, findings=sorted(findings, key=lambda f: _ORDER[f.severity]), sources=sources)


def _duplicates(path: str, fmt_name: Any, threshold: float, against: PathLike | None, within: bool, engine: Engine | None = None) -> Duplicates:
    from .clean._stream import resolve_format
    from .clean.fingerprint import fingerprint
    from .clean.index import MatchConfig, match
    from .formats import get_format

    config = MatchConfig(mode="near", threshold=threshold)
    files = [fingerprint(path, fmt_name if not isinstance(fmt_name, str) else get_format(fmt_name), config, engine=engine)]  # first: see dedup()
    if against is not None:
        files.insert(0, fingerprint(against, resolve_format(against, "auto"), config))
    n_ref = len(files[0]) if against is not None else 0
    found = match(files, config, references=1 if against is not None else 0, within=within)
    out = Duplicates(threshold)
    sizes: dict[int, int] = {}
    leaks = 0
    lines = files[-1].lines.tolist()
    ref_lines = files[0].lines.tolist() if against is not None else []
    scores = found.score.tolist()
    members: dict[int, list[tuple[int, float]]] = {}
    for i, j in enumerate(found.dup_of[n_ref:].tolist()):
        if j < 0:
            continue
        if j < n_ref:
            leaks += 1
            if len(out.leak_pairs) < PER_FINDING:
                out.leak_pairs.append((lines[i], ref_lines[j], round(scores[n_ref + i], 3)))
        else:
            sizes[j] = sizes.get(j, 1) + 1
            if j in members or len(members) < CLUSTERS:
                group = members.setdefault(j, [(lines[j - n_ref], 1.0)])
                if len(group) < 6:
                    group.append((lines[i], round(scores[n_ref + i], 3)))
    out.examples = list(members.values())
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


def _details(r: CheckReport, fmt: Any, config: Any, against: PathLike | None) -> dict[str, Any]:
    """Plain data for the HTML report: every finding's rows (file:line), rendered; the
    histograms and cutoff curve of one more pass; clusters and leaks side by side."""
    from .stats.detail import DetailConfig, collect

    wanted: dict[int, list[str]] = {}

    def want(line: int | None, code: str) -> None:
        if line is not None and code not in wanted.setdefault(line, []):
            wanted[line].append(code)

    for stat in r.validation.sorted_rules():
        for loc in stat.first:
            want(loc.line, "invalid-records" if stat.severity == "error" else "validation-warnings")
    d, s = r.duplicates, r.stats
    for cluster in d.examples if d else []:
        for line, _ in cluster:
            want(line, "duplicates")
    for line, _, _ in d.leak_pairs if d else []:
        want(line, "eval-leaks")
    for line in s.zero_trainable_lines[:PER_FINDING] if s else []:
        want(line, "nothing-to-train")
    data = collect(r.path, fmt, DetailConfig(config, {k: tuple(v) for k, v in wanted.items()}, per_finding=PER_FINDING))
    finding_rows: dict[str, list[str]] = {}
    for line in sorted(wanted):
        for code in wanted[line]:
            finding_rows.setdefault(code, []).append(f"{r.path}:{line}")
    finding_rows.update(data.pop("finding_rows", {}))
    out: dict[str, Any] = {"finding_rows": finding_rows, **data}
    out["clusters"] = [[{"where": f"{r.path}:{line}", "similarity": sim} for line, sim in c] for c in (d.examples if d else [])]
    if d is not None and d.leak_pairs and against is not None:
        from .clean._stream import resolve_format

        ev = str(against)
        eval_rows = collect(ev, resolve_format(ev, "auto"), DetailConfig(None, {e: ("eval-leaks",) for _, e, _ in d.leak_pairs}, sample=0))["rows"]
        out["eval_rows"] = eval_rows
        out["leaks"] = [{"train": f"{r.path}:{t}", "eval": f"{ev}:{e}", "similarity": sim} for t, e, sim in d.leak_pairs]
    return out


def _count(n: int, noun: str) -> str:
    """``1 record``, ``2,000 records``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _pow2(n: float) -> int:
    p = 64
    while p < n:
        p *= 2
    return p
