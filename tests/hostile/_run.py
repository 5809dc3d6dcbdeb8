"""Run ``python -m sftdata`` as a user would, and check what every hostile case must show."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from _paths import ROOT


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def sftdata(*args: Any, stdin: bytes | None = None, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300, preexec: Any = None) -> Result:
    """Run the CLI in a fresh process; assert that it never prints a traceback."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "sftdata", *map(str, args)],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        cwd=cwd,
        env=environ,
        timeout=timeout,
        preexec_fn=preexec,
    )
    result = Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))
    assert "Traceback" not in result.text, result.text
    return result


def sharegpt(i: int) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": f"question {i}"}, {"from": "gpt", "value": f"answer {i} is here"}]}


def jsonl(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def read_jsonl(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
