"""The fixtures catalogue: every ``fixtures/<format>/<kind>.jsonl`` is detected as that
format and kind and decodes without rejects; every ``invalid.jsonl`` line is rejected
with the codes listed in ``invalid.expected.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import FIXTURES

import sftdata
from sftdata.detect import detect
from sftdata.errors import RecordError
from sftdata.formats import get_format
from sftdata.io import read_rows
from sftdata.record import KINDS

VALID = sorted(p for p in FIXTURES.glob("*/*.jsonl") if p.stem in KINDS)
INVALID = sorted(FIXTURES.glob("*/invalid.jsonl"))


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_valid_fixture_is_detected_and_decodes(path: Path) -> None:
    fmt = get_format(path.parent.name)
    found = detect(path)
    rows = list(read_rows(path))
    records = [fmt.decode(row, source) for row, source in rows]
    assert len(records) == len(rows) > 0
    assert {r.kind for r in records} == {path.stem} == {found.kind}
    if found.format != fmt.name:
        # shapes two formats spell alike ({"text"}: alpaca and trl; {"messages"}: openai and
        # trl) may be detected as the other one, which must read them identically
        assert list(sftdata.read(path)) == records


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_fixture_lines_are_rejected_with_codes(path: Path) -> None:
    fmt = get_format(path.parent.name)
    expected = json.loads(path.with_name("invalid.expected.json").read_text())
    got = []
    for row, source in read_rows(path):
        with pytest.raises(RecordError) as info:
            fmt.decode(row, source)
        assert info.value.line == source.line
        got.append(sorted({i.code for i in info.value.issues}))
    assert got == expected


def test_every_format_and_kind_has_a_fixture() -> None:
    have = {(p.parent.name, p.stem) for p in VALID}
    want = {(f.name, k) for f in sftdata.formats.all_formats() for k in f.kinds}
    assert want - have == set()
    assert {p.parent.name for p in INVALID} == {f.name for f in sftdata.formats.all_formats()}
