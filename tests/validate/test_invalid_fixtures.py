"""The invalid-fixture catalogue: each case names the exact codes and locations expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import FIXTURES

from sftdata.formats import all_formats
from sftdata.validate import validate
from sftdata.validate.rules import RULE_CODES

CASES = sorted(p.parent for p in (FIXTURES / "invalid").rglob("expected.json"))


def _load(case: Path) -> dict:
    return json.loads((case / "expected.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(FIXTURES / "invalid")) for c in CASES])
def test_invalid_fixture(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _load(case)
    needs = spec.get("requires_format")
    if needs and needs not in {f.name for f in all_formats()}:
        pytest.skip(f"format {needs!r} is not registered yet")
    fmt = spec["from"]
    if "table" in spec:  # a spreadsheet mapped column by column (`--map`/`--set`)
        from sftdata.formats.table import TableFormat, TableMapping

        fmt = TableFormat.for_file(case / spec["input"], TableMapping.parse(spec["table"]["map"], spec["table"]["set"]))
    rejects = tmp_path / "rejects.jsonl"
    if "max_line_bytes" in spec:  # the --max-line-bytes cap, small enough for a committed file
        from sftdata.io.lines import _LIMIT

        monkeypatch.setitem(_LIMIT, "line", spec["max_line_bytes"])
    report = validate(case / spec["input"], spec["profile"], format=fmt, rejects=rejects, locations=10_000, **spec["options"])
    got = sorted(
        ((loc.line, stat.code, loc.field) for stat in report.rules.values() for loc in stat.first),
        key=lambda t: (t[0] or 0, t[1], t[2] or ""),
    )
    want = sorted(((i["line"], i["code"], i["field"]) for i in spec["issues"]), key=lambda t: (t[0] or 0, t[1], t[2] or ""))
    assert got == want
    assert {"total": report.total, "valid": report.valid, "rejected": report.rejected} == spec["records"]
    assert report.total == report.valid + report.rejected
    lines = [json.loads(x) for x in rejects.read_text().splitlines()] if rejects.exists() else []
    assert len(lines) == report.rejected
    assert report.exit_code == (1 if report.rejected or any(s.severity == "error" for s in report.rules.values()) else 0)


def test_every_rule_has_a_fixture() -> None:
    covered = {i["code"] for case in CASES for i in _load(case)["issues"]}
    assert covered == set(RULE_CODES)
