"""The validation report: counts per rule with the first locations, text and JSON renderings.

The JSON form (``sftdata validate --format json``, :meth:`ValidationReport.to_dict`) is a
stable schema, versioned by its ``schema`` key (documented in docs/validate.md)::

    {
      "schema": "sftdata.validate/1",
      "path": "train.jsonl", "profile": "sftdata", "format": "sharegpt",
      "kinds": {"sft": 998},
      "records": {"total": 1000, "valid": 998, "rejected": 2, "fixed": 0},
      "issues": {"error": 2, "warning": 5},
      "exit_code": 1,
      "rules": [
        {"code": "role-order", "severity": "error", "count": 1, "records": 1,
         "summary": "...", "remedy": "...",
         "first": [{"path": "train.jsonl", "line": 42, "field": "messages[3].role",
                    "message": "two user turns in a row (messages[2], [3])"}]}
      ],
      "repairs": [
        {"code": "surrounding-whitespace", "count": 3,
         "first": [{"path": "train.jsonl", "line": 7, "field": "conversations[1].value", "message": "trimmed"}]}
      ]
    }

``rules`` is sorted by severity (errors first), then count (descending), then code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import Issue, Severity
from ..record import Source
from .rules import rule

SCHEMA = "sftdata.validate/1"
FailOn = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Location:
    path: str | None
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else (self.path or "<records>")
        return f"{where} {self.field}" if self.field else where

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "field": self.field, "message": self.message}


@dataclass
class RuleStat:
    code: str
    severity: Severity
    count: int = 0
    records: int = 0
    first: list[Location] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        r = rule(self.code)
        return {
            "code": self.code,
            "severity": self.severity,
            "count": self.count,
            "records": self.records,
            "summary": r.summary,
            "remedy": r.remedy,
            "first": [loc.to_dict() for loc in self.first],
        }


@dataclass
class ValidationReport:
    """What ``sftdata.validate`` found. ``total == valid + rejected`` always holds."""

    path: str | None
    profile: str
    format: str | None = None
    fail_on: FailOn = "error"
    max_locations: int = 3
    total: int = 0
    valid: int = 0
    rejected: int = 0
    fixed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    rules: dict[str, RuleStat] = field(default_factory=dict)
    repairs: Counter[str] = field(default_factory=Counter)
    repair_first: dict[str, list[Location]] = field(default_factory=dict)
    #: facts worth a line that are not problems (a UTF-8 byte-order mark was accepted, ...)
    notes: list[str] = field(default_factory=list)

    def add_repairs(self, repairs: tuple[Any, ...], source: Source | None) -> None:
        """Count one record's ``--fix`` repairs, keeping the first locations per rule."""
        self.fixed += 1
        for r in repairs:
            self.repairs[r.code] += 1
            first = self.repair_first.setdefault(r.code, [])
            if len(first) < self.max_locations:
                first.append(Location(source.path if source else self.path, source.line if source else None, r.field, r.change))

    def add(self, issues: tuple[Issue, ...] | list[Issue], source: Source | None) -> None:
        """Count one record's issues (``source`` None for file-level issues)."""
        seen: set[str] = set()
        for issue in issues:
            stat = self.rules.get(issue.code)
            if stat is None:
                stat = self.rules[issue.code] = RuleStat(issue.code, issue.severity)
            stat.count += 1
            if issue.code not in seen:
                stat.records += 1
                seen.add(issue.code)
            if len(stat.first) < self.max_locations:
                stat.first.append(Location(source.path if source else self.path, source.line if source else None, issue.field, issue.message))

    def count(self, severity: Severity) -> int:
        return sum(s.count for s in self.rules.values() if s.severity == severity)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0 and (self.fail_on == "error" or self.warnings == 0)

    @property
    def exit_code(self) -> int:
        """0 when nothing fails at the ``fail_on`` level, else 1."""
        return 0 if self.ok else 1

    def codes(self) -> dict[str, int]:
        """Issue counts by rule code (handy in tests and scripts)."""
        return {code: s.count for code, s in sorted(self.rules.items())}

    def sorted_rules(self) -> list[RuleStat]:
        return sorted(self.rules.values(), key=lambda s: (s.severity != "error", -s.count, s.code))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "path": self.path,
            "profile": self.profile,
            "format": self.format,
            "kinds": dict(sorted(self.kinds.items())),
            "records": {"total": self.total, "valid": self.valid, "rejected": self.rejected, "fixed": self.fixed},
            "issues": {"error": self.errors, "warning": self.warnings},
            "exit_code": self.exit_code,
            "rules": [s.to_dict() for s in self.sorted_rules()],
            "notes": list(self.notes),
            "repairs": [
                {"code": code, "count": n, "first": [loc.to_dict() for loc in self.repair_first.get(code, [])]} for code, n in sorted(self.repairs.items())
            ],
        }

    def render(self) -> str:
        """The human summary: one block per rule with its first locations."""
        lines = [
            f"{self.path or '<records>'}: {self.total} records ({self.format or '?'}, profile {self.profile}): "
            f"{self.valid} valid, {self.rejected} rejected; {self.errors} errors, {self.warnings} warnings"
            + (f"; {self.fixed} records repaired" if self.fixed else "")
        ]
        lines += [f"  info    {note}" for note in self.notes]
        for stat in self.sorted_rules():
            lines.append(f"  {stat.severity:<7} {stat.code:<22} {stat.count:>7} in {stat.records} records  {rule(stat.code).summary}")
            for loc in stat.first:
                lines.append(f"      {loc}  {stat.code}  {loc.message}")
            if stat.count > len(stat.first):
                lines.append(f"      ... and {stat.count - len(stat.first)} more")
        for code, n in sorted(self.repairs.items()):
            lines.append(f"  repaired {code:<22} {n:>7}")
            for loc in self.repair_first.get(code, []):
                lines.append(f"      {loc}  {loc.message}")
        lines.append("OK" if self.ok else f"FAILED (--fail-on {self.fail_on})")
        return "\n".join(lines)
