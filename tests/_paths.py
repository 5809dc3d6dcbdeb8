"""Paths shared by tests (importable as ``_paths`` thanks to pytest's pythonpath)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# SFTDATA_REALDATA points elsewhere (e.g. a CI cache); tests needing it skip when absent.
REALDATA = Path(os.environ.get("SFTDATA_REALDATA", ROOT.parent / "shared" / "realdata" / "llamafactory"))
