"""Paths shared by tests (importable as ``_paths`` thanks to pytest's pythonpath)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
REALDATA = ROOT.parent / "shared" / "realdata" / "llamafactory"
