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


CHECK_WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon"]


def check_row(i: int, edit: str | None = None) -> dict[str, Any]:
    """A 40-word answer of its own per ``i``; ``edit`` changes one word (Jaccard ~0.85)."""
    words = [f"{w}{i}" for w in CHECK_WORDS] * 2
    if edit is not None:
        words[7] = edit
    return sharegpt(f"Question number {i}?", " ".join(words))


def check_data(folder: Path) -> tuple[Path, Path]:
    """The data `check` and its HTML report are tested on: a train file with every concern
    (lines 11-13 exact copies of lines 2, 3, 3; lines 14-15 one word edited from lines 4, 5;
    line 16 an invalid role) and an eval set that leaks lines 6 and 7."""
    rows = [check_row(i) for i in range(10)]
    rows += [check_row(1), check_row(2), check_row(2)]
    rows += [check_row(3, "changed"), check_row(4, "other")]
    rows.append({"conversations": [{"from": "robot", "value": "?"}]})
    train = folder / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    evalset = folder / "eval.json"
    evalset.write_text(json.dumps([check_row(5), check_row(6, "leaked")]))
    return train, evalset
