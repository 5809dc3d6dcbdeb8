"""Paths shared by tests (importable as ``_paths`` thanks to pytest's pythonpath)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# ../shared next to the checkout; a git worktree one level deeper finds it one level up.
_CANDIDATES = [Path(os.environ["SFTDATA_REALDATA"])] if os.environ.get("SFTDATA_REALDATA") else []
_CANDIDATES += [base / "shared" / "realdata" / "llamafactory" for base in (ROOT.parent, ROOT.parent.parent)]
REALDATA = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
