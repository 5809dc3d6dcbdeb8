"""docs/formats.md: every cell of the kind x format table is a literal row that decodes,
with its column's format, to its row's kind, and a table row is one record throughout;
every format has a page."""

from __future__ import annotations

import json

from _paths import ROOT

from sftdata.formats import all_formats, get_format

DOC = ROOT / "docs" / "formats.md"


def _table() -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| kind | [")]
    start = DOC.read_text().splitlines().index(lines[0])
    body = DOC.read_text().splitlines()[start + 2 :]
    header = [cell.split("]")[0].lstrip("[") for cell in lines[0].strip("|").split(" | ")[1:]]
    rows = []
    for ln in body:
        if not ln.startswith("| "):
            break
        rows.append([c.strip() for c in ln.strip().strip("|").split(" | ")])
    return [h.strip() for h in header], rows


def test_table_covers_every_format_and_kind() -> None:
    header, rows = _table()
    assert sorted(header) == sorted(f.name for f in all_formats())
    assert [r[0] for r in rows] == ["sft", "preference", "kto", "pretrain"]
    for row in rows:
        kind = row[0]
        for name, cell in zip(header, row[1:]):
            assert (cell == "—") == (kind not in get_format(name).kinds), (kind, name)


def test_every_cell_decodes_to_one_record_per_kind() -> None:
    header, rows = _table()
    for row in rows:
        kind, cells = row[0], row[1:]
        decoded = [get_format(name).decode(json.loads(cell.strip("`").replace("\\|", "|"))) for name, cell in zip(header, cells) if cell != "—"]
        assert {r.kind for r in decoded} == {kind}
        assert all(r == decoded[0] for r in decoded), kind


def test_every_format_has_a_page() -> None:
    for fmt in all_formats():
        page = ROOT / "docs" / "formats" / f"{fmt.name.split('-')[0]}.md"
        assert page.is_file(), page
        assert fmt.name in page.read_text()
