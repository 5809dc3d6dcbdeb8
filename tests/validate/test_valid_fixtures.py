"""Every valid fixture of every format passes the default profile with zero errors."""

from __future__ import annotations

import pytest
from _paths import FIXTURES

import sftdata

# Rows that are valid in their format but carry nothing an SFT/DPO run trains on: TRL's
# prompt-only type (for online methods) and a standard implicit-prompt preference row.
# The validator must flag exactly these, and nothing else.
EXPECTED: dict[str, set[str]] = {
    "trl/sft.jsonl": {"prompt-only"},
    "trl-standard/sft.jsonl": {"prompt-only"},
    "trl-standard/preference.jsonl": {"empty-conversation"},
}

VALID = sorted(p for p in FIXTURES.glob("*/*.jsonl") if p.parent.name != "invalid" and not p.stem.startswith("invalid"))


def test_the_catalogue_covers_every_format() -> None:
    from sftdata.formats import all_formats

    assert {p.parent.name for p in VALID} >= {f.name for f in all_formats() if f.name != "table"}


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_fixture_has_no_errors(path) -> None:
    report = sftdata.validate(path)
    expected = EXPECTED.get(f"{path.parent.name}/{path.name}", set())
    errors = {code for code, stat in report.rules.items() if stat.severity == "error"}
    assert errors == expected, report
    assert report.valid + report.rejected == report.total > 0
    assert report.rejected == (1 if expected else 0)


@pytest.mark.parametrize("name", ["trl", "trl-standard"])
def test_trl_profile_reads_prompt_only_rows(name: str) -> None:
    """TRL's online trainers (GRPO, RLOO) read prompt-only rows: a warning that says so, no rejection."""
    report = sftdata.validate(FIXTURES / name / "sft.jsonl", "trl")
    rows, line, field = (4, 4, "prompt[0]") if name == "trl" else (2, 2, "prompt")
    assert (report.total, report.valid, report.rejected, report.exit_code) == (rows, rows, 0, 0)
    stat = report.rules["prompt-only"]
    assert (stat.severity, stat.count, [(loc.line, loc.field) for loc in stat.first]) == ("warning", 1, [(line, field)])
    assert "GRPO" in stat.first[0].message
    assert not any(s.count for s in report.rules.values() if s.severity == "error")
