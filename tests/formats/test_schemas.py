from __future__ import annotations

from pathlib import Path

import pytest
from _paths import FIXTURES, ROOT

from sftdata.formats import all_formats, get_format
from sftdata.formats.schemas import SCHEMA_DIR, stale
from sftdata.io import read_rows
from sftdata.record import KINDS


def test_schema_files_are_fresh() -> None:
    assert SCHEMA_DIR == ROOT / "schemas"
    assert stale() == [], "run: python -m sftdata.formats.schemas --write"


def test_every_format_has_a_schema() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(f.name for f in all_formats())


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.glob("*/*.jsonl") if p.stem in KINDS), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_fixtures_match_their_schema(path: Path) -> None:
    fmt = get_format(path.parent.name)
    for row, _ in read_rows(path):
        fmt.wire.validate_python(row)


def test_cli_prints_the_file(tmp_path: Path) -> None:
    from test_cli import run

    proc = run("schema", "openai")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (SCHEMA_DIR / "openai.json").read_text()
