"""Run ``python -m sftdata`` as a user would, with this checkout's code first on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sftdata(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The finished run (``timeout`` only guards a hang; no test times anything)."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "200", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "sftdata", *args], cwd=cwd, env=full_env, input=stdin.decode() if stdin else None, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc
