"""Test data shared by the Ray engine tests (importable as ``_raydata``)."""

from __future__ import annotations

import json
from pathlib import Path

from _paths import FIXTURES

#: the moto S3 bucket of the Ray tests (the ``s3_env`` fixture of tests/conftest.py)
BUCKET = "sftdata-ray"


def mixed(path: Path, n: int = 400) -> Path:
    """sharegpt rows with exact copies, near copies, blank lines and rows that do not decode."""
    good = (FIXTURES / "sharegpt" / "sft.jsonl").read_text().splitlines()
    bad = (FIXTURES / "sharegpt" / "invalid.jsonl").read_text().splitlines()[:3]
    out = []
    for i in range(n):
        if i % 41 == 7:
            out.append(bad[i % len(bad)])
        elif i % 53 == 0:
            out.append("")
        elif i % 3 == 0:
            row = json.loads(good[i % len(good)])
            row["conversations"][0]["value"] += f" case {i} " + " ".join(f"w{i}x{k}" for k in range(12))
            out.append(json.dumps(row))
        elif i % 3 == 1:
            row = json.loads(good[i % len(good)])  # a near copy of the row before
            row["conversations"][0]["value"] += f" case {i - 1} " + " ".join(f"w{i - 1}x{k}" for k in range(11)) + " extra"
            out.append(json.dumps(row))
        else:
            out.append(good[i % len(good)])
    path.write_text("\n".join(out) + "\n")
    return path
