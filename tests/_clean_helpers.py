from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson


def sharegpt(user: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": answer}], **extra}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def clusters_from_rejects(path: Path) -> set[frozenset[int]]:
    """Lines grouped by the kept line each rejected row names."""
    groups: dict[int, set[int]] = {}
    for r in read_jsonl(path):
        groups.setdefault(r["duplicate_line"], {r["duplicate_line"]}).add(r["line"])
    return {frozenset(g) for g in groups.values()}
