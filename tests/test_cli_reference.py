from __future__ import annotations

from _paths import ROOT

from sftdata.cli import _COMMANDS, reference


def test_cli_reference_is_current() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert doc == reference.render(), "docs/cli.md is stale: run `python -m sftdata.cli.reference --write`"


def test_every_command_has_help_and_a_docs_page_mention() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md") if p.name != "cli.md")
    for name, (_, _, summary) in _COMMANDS.items():
        assert summary.strip(), name
        assert reference._help([name]).count("Usage: sftdata") == 1
        assert f"sftdata {name}" in docs, f"no docs page shows `sftdata {name}`"
