"""The validation engine: raw rows -> structural checks -> decode -> record rules -> outcomes.

One pass, streaming, bounded memory (the duplicate set holds one integer per record).
Every input unit ends as exactly one :class:`Outcome`, valid or rejected, so
``total == valid + rejected`` holds by construction.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import Issue, RecordError, Severity
from ..formats import Format, all_formats, get_format
from ..record import KTORecord, Source
from . import checks, media, tools
from .fixes import ROLE_ALIASES, FixSpec, Repair, fix_row, fix_spec
from .profiles import Profile
from .reader import RawRow, duplicate_keys
from .report import FailOn
from .view import canonical_paths, locator, turns_of

RECORD_CHECKS: tuple[Callable[[checks.Context], None], ...] = (
    checks.check_roles,
    checks.check_order,
    checks.check_content,
    checks.check_preference,
    tools.check_tools,
    media.check_media,
    checks.check_length,
)


@dataclass(frozen=True)
class Options:
    """Everything that shapes one validation run (grouped so signatures stay short)."""

    profile: Profile
    strict: bool = False
    fail_on: FailOn = "error"
    fix: bool = False
    media_root: Path | None = None
    check_media: bool = True
    max_chars: int = 100_000
    #: accept clean sharegpt JSONL rows without decoding them (same verdicts, faster)
    fast: bool = True


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one input unit."""

    source: Source | None
    row: Any  # the (repaired) row, a Record, or the raw text of an unreadable line
    issues: tuple[Issue, ...]
    repairs: tuple[Repair, ...] = ()
    rejected: bool = False
    kind: str | None = None
    #: the row as read, when ``row`` holds a repaired copy (rejects are written verbatim)
    original: Any = None


@dataclass(frozen=True, slots=True)
class CleanBatch:
    """``count`` consecutive records with no issue at all (the fast path's verdict);
    ``rows`` holds them parsed when the caller writes an output file."""

    count: int
    kind: str
    rows: list[dict[str, Any]] | None = None


# -- raw-row checks per format and per profile --------------------------------------------
def _sharegpt_structure(fmt: Any, row: dict[str, Any]) -> list[Issue]:
    s = fmt.spec
    out: list[Issue] = []
    allowed = {s.role_tag, s.content_tag}
    turns = row.get(s.messages)
    located = [(f"{s.messages}[{i}]", t) for i, t in enumerate(turns)] if isinstance(turns, list) else []
    located += [(k, row[k]) for k in (s.chosen, s.rejected) if k in row]
    for where, turn in located:
        if isinstance(turn, dict):
            for key in turn:
                if key not in allowed:
                    out.append(Issue("unknown-field", f"unknown key {key!r} in a turn (the format reads only {s.role_tag!r} and {s.content_tag!r})", f"{where}.{key}", "warning"))
    return out


_OPENAI_MESSAGE_KEYS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "weight", "reasoning_content"})


def _openai_structure(fmt: Any, row: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    for key in ("messages", "chosen", "rejected"):
        value = row.get(key)
        located = [(key, value)] if isinstance(value, dict) else [(f"{key}[{i}]", m) for i, m in enumerate(value)] if isinstance(value, list) else []
        for where, msg in located:
            if isinstance(msg, dict):
                out += [Issue("unknown-field", f"unknown key {k!r} in a message", f"{where}.{k}", "warning") for k in msg if k not in _OPENAI_MESSAGE_KEYS]
    return out


STRUCTURE_CHECKS: dict[str, Callable[[Any, dict[str, Any]], list[Issue]]] = {"sharegpt": _sharegpt_structure, "openai": _openai_structure}


def _tools_string(fmt: Any, row: dict[str, Any]) -> list[Issue]:
    key = getattr(getattr(fmt, "spec", None), "tools", "tools")
    value = row.get(key)
    if isinstance(value, (list, dict)) and value:
        return [Issue("wrong-type", f"'{key}' must be a JSON string for LLaMA-Factory, got a JSON {type(value).__name__}; `--fix` converts it", key)]
    return []


ROW_CHECKS: dict[str, Callable[[Any, dict[str, Any]], list[Issue]]] = {"tools-string": _tools_string}

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def value_at(row: Any, path: str) -> Any:
    """``value_at(row, "conversations[3].from")``; ``None`` when the path does not resolve."""
    cur = row
    for key, index in _PATH_TOKEN.findall(path):
        try:
            cur = cur[int(index)] if index else cur[key]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


class Validator:
    """Validates rows of one format under one profile, keeping per-file state
    (duplicate keys, KTO labels)."""

    def __init__(self, fmt: Format | None, options: Options, base_dir: Path | None = None) -> None:
        self.fmt = fmt
        self.options = options
        self.profile = options.profile
        self.base_dir = base_dir
        self.fix_spec: FixSpec = fix_spec(fmt)
        self.seen: dict[int, int] = {}  # key -> first line: ~100 bytes per record
        self.labels: Counter[bool] = Counter()
        self._n = 0
        self._others: list[Format] | None = None
        spec = getattr(fmt, "spec", None)
        media_cols = getattr(spec, "media", None) if getattr(fmt, "name", "") == "sharegpt" else None
        self.media_field = (lambda mod, k: f"{media_cols[mod]}[{k}]") if media_cols else None

    # -- helpers -----------------------------------------------------------------------
    def _finish(self, issues: list[Issue], source: Source | None, row: Any, repairs: list[Repair], kind: str | None, original: Any = None) -> Outcome:
        opts = self.options
        final: list[Issue] = []
        for issue in issues:
            if not self.profile.enabled(issue.code):
                continue
            sev: Severity = self.profile.severity_of(issue.code, issue.severity, opts.strict)
            final.append(issue if sev == issue.severity else Issue(issue.code, issue.message, issue.field, sev))
        fail = {"error"} if opts.fail_on == "error" else {"error", "warning"}
        rejected = any(i.severity in fail for i in final)
        return Outcome(source, row, tuple(final), tuple(repairs), rejected, kind, original if repairs else None)

    def duplicate_issue(self, key: int, source: Source | None) -> Issue | None:
        self._n += 1
        pos = source.line if source else self._n
        first = self.seen.setdefault(key, pos)
        if first == pos:
            return None
        return Issue("duplicate-record", f"the same record as {source.unit if source else 'record'} {first}", None, "warning")

    def _suggest_roles(self, issues: list[Issue], row: dict[str, Any]) -> list[Issue]:
        out = []
        for issue in issues:
            if issue.code == "unknown-role" and issue.field:
                value = value_at(row, issue.field)
                known = sorted(self.fix_spec.known)
                alias = ROLE_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
                best = self.fix_spec.tags.get(alias) if alias else None
                if best is None and isinstance(value, str):
                    close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
                    best = close[0] if close else None
                hint = f"; did you mean {best!r}?" + (" (`--fix` maps it)" if alias else "") if best else ""
                issue = Issue(issue.code, f"unknown role {value!r}{hint} Known roles: {', '.join(map(repr, known))}.", issue.field, issue.severity)
            out.append(issue)
        return out

    def _other_format(self, row: dict[str, Any]) -> str | None:
        if self._others is None:
            self._others = [f for f in all_formats() if f.name != getattr(self.fmt, "name", None)]
        for other in self._others:
            if other.detect(row).score > 0:
                return other.name
        return None

    # -- entry points --------------------------------------------------------------------
    def check_raw(self, raw: RawRow) -> Outcome:
        """Validate one unit read from a file."""
        if raw.row is None:
            assert raw.issue is not None
            return self._finish([raw.issue], raw.source, raw.verbatim, [], None)
        if raw.line is None:
            return self.check_row(raw.row, raw.source, hash(orjson.dumps(raw.row)))
        out = self.check_row(raw.row, raw.source, hash(raw.line.strip()))
        dups = duplicate_keys(raw.line, raw.row)
        if not dups:
            return out
        return self._finish([*dups, *out.issues], out.source, out.row, list(out.repairs), out.kind, out.original)

    def check_row(self, row: dict[str, Any], source: Source | None, key: int | None = None) -> Outcome:
        fmt = self.fmt
        assert fmt is not None
        issues: list[Issue] = []
        repairs: list[Repair] = []
        if key is not None:
            dup = self.duplicate_issue(key, source)
            if dup:
                issues.append(dup)
        original = row
        if self.options.fix:
            row, repairs = fix_row(row, self.fix_spec)
        structure = STRUCTURE_CHECKS.get(fmt.name)
        if structure:
            issues += structure(fmt, row)
        for name in self.profile.row_checks:
            issues += ROW_CHECKS[name](fmt, row)
        try:
            record = fmt.decode(row, source)
        except RecordError as err:
            other = self._other_format(row) if fmt.detect(row).score == 0 else None
            if other is not None:
                issues.append(Issue("mixed-formats", f"this record is spelled as {other}, the file as {fmt.name}", None))
            else:
                issues += self._suggest_roles(list(err.issues), row)
            return self._finish(issues, source, row, repairs, None, original)
        issues += self.record_issues(record, row)
        return self._finish(issues, source, row, repairs, record.kind, original)

    def check_record(self, record: Any) -> Outcome:
        """Validate a canonical record given directly (canonical field paths)."""
        key = hash(orjson.dumps(record.model_dump(mode="json")))
        dup = self.duplicate_issue(key, record.source)
        issues = [dup] if dup else []
        issues += self.record_issues(record, None)
        return self._finish(issues, record.source, record, [], record.kind)

    def record_issues(self, record: Any, row: dict[str, Any] | None) -> list[Issue]:
        locate = locator(self.fmt, row, record) if row is not None else canonical_paths(record)
        ctx = checks.Context(
            record,
            turns_of(record, locate),
            self.profile,
            max_chars=self.options.max_chars,
            base_dir=self.base_dir,
            media_root=self.options.media_root,
            check_media=self.options.check_media,
            media_field=self.media_field if row is not None else None,
            prompt_only=row is not None and bool(getattr(self.fmt, "prompt_only", lambda r: False)(row)),
        )
        for check in RECORD_CHECKS:
            check(ctx)
        for key in record.extra:
            ctx.add("unknown-field", f"unknown field {key!r} (kept, but trainers ignore it)", key)
        if isinstance(record, KTORecord):
            self.labels[record.label] += 1
        return ctx.issues

    def file_issues(self, total: int) -> list[Issue]:
        out = []
        if total == 0:
            out.append(Issue("empty-file", "the file holds no records", None))
        if len(self.labels) == 1 and self.profile.enabled("kto-single-label"):
            (label, n), = self.labels.items()
            out.append(Issue("kto-single-label", f"all {n} KTO records are labelled {str(label).lower()}", None, "warning"))
        return out


# -- format choice -----------------------------------------------------------------------
def choose_format(rows: list[dict[str, Any]], path: str) -> Format:
    """The format that explains the most sampled rows (ties: the higher mean score).

    Unlike :func:`sftdata.detect.detect_rows` this tolerates a minority of odd rows:
    validation reports them (``mixed-formats``) instead of refusing the file.
    """
    from ..errors import DetectionError

    best: tuple[int, float, str] | None = None
    for fmt in all_formats():
        scores = [fmt.detect(row).score for row in rows]
        matched = sum(1 for s in scores if s > 0)
        cand = (matched, sum(scores), fmt.name)
        if matched and (best is None or cand[:2] > best[:2]):
            best = cand
    if best is None:
        keys = Counter(k for row in rows for k in row)
        raise DetectionError(
            f"no known format matches these records (keys seen: {', '.join(k for k, _ in keys.most_common(8))}).",
            path=path,
            code="unknown-format",
            remedy="Name the format with --from (see `sftdata formats`).",
        )
    return get_format(best[2])


def sample_rows(raws: Iterable[RawRow], n: int = 200) -> list[dict[str, Any]]:
    return [r.row for r in itertools.islice((r for r in raws if r.row is not None), n)]  # type: ignore[misc]


def base_dir_of(path: str | os.PathLike[str] | None) -> Path | None:
    return Path(path).resolve().parent if path is not None else None


def resolve_format(name: str | Format | None) -> Format | None:
    if name is None or name == "auto":
        return None
    if isinstance(name, Format):
        return name
    return get_format(name)

