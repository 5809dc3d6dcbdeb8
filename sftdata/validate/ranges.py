"""``validate`` on byte ranges of a JSONL file (``--engine ray``): the same outcomes as one process.

Every rule but one looks at a single record, so a worker validates its own range with the
full engine. The exception is ``duplicate-record``, which needs every earlier line: the
worker sends a stable 64-bit key per line (``hash()`` of bytes differs between processes)
and marks where the duplicate warning would go; the driver, reading results in file
order, keeps the first line of every key (as one process does) and fills the warning in,
or takes it out. KTO label counts (``kto-single-label``) are summed on the driver.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..engines.base import Engine
from ..engines.local import read_span
from ..engines.run import ordered_ranges, require_ranges
from ..errors import Issue
from ..record import Source
from .engine import Options, Outcome, Validator
from .reader import parse_line

CHUNK_BYTES = 4 << 20
#: the message of the duplicate warning a worker cannot word yet (the driver does)
_PENDING = "\x00pending duplicate"


@dataclass
class _Verdicts:
    """One range: per non-blank line its outcome (line numbers local to the range), the
    stable key of its bytes (``None``: unreadable) and the position of the pending
    duplicate warning in its issues (``-1``: the profile does not report duplicates)."""

    outcomes: list[Outcome] = field(default_factory=list)
    keys: list[int | None] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    labels: Counter[bool] = field(default_factory=Counter)
    newlines: int = 0


class _RangeValidator(Validator):
    """A validator that leaves ``duplicate-record`` to the driver: every keyed row gets a
    pending warning, which the driver words or removes."""

    def duplicate_issue(self, key: int, source: Source | None) -> Issue | None:
        return Issue("duplicate-record", _PENDING, None, "warning")


_STATE: dict[str, Any] = {}


def _init(path: str, fmt: Any, options: Options, base_dir: Path | None) -> None:
    _STATE.update(path=path, validator=_RangeValidator(fmt, options, base_dir))


def stable_key(line: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(line.strip(), digest_size=8).digest(), "little")


def _work(span: tuple[int, int]) -> _Verdicts:
    path: str = _STATE["path"]
    validator: _RangeValidator = _STATE["validator"]
    validator.labels.clear()
    data = read_span(path, span)
    out = _Verdicts(newlines=data.count(b"\n"))
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        raw = parse_line(line, Source(path, lineno, "line"))
        verdict = validator.check_raw(raw)
        out.outcomes.append(verdict)
        out.keys.append(stable_key(line) if raw.row is not None else None)
        out.slots.append(next((i for i, issue in enumerate(verdict.issues) if issue.message == _PENDING), -1))
    out.labels = Counter(validator.labels)
    return out


def ray_outcomes(path: str | os.PathLike[str], validator: Validator, engine: Engine) -> Iterator[Outcome]:
    """The outcomes of every line of ``path``, in file order, validated on ``engine``'s
    workers; ``validator`` (the driver's) keeps the first line of every record and the
    KTO label counts, as in one process."""
    require_ranges(path)
    name = str(path)
    opts = validator.options
    fail = {"error"} if opts.fail_on == "error" else {"error", "warning"}
    seen = validator.seen
    base = 0
    job = ordered_ranges(name, _work, workers=1, chunk=CHUNK_BYTES, initializer=_init, initargs=(name, validator.fmt, opts, validator.base_dir), engine=engine)
    with job as results:
        for _, verdicts in results:
            validator.labels.update(verdicts.labels)
            for verdict, key, slot in zip(verdicts.outcomes, verdicts.keys, verdicts.slots):
                assert verdict.source is not None
                src = Source(name, base + verdict.source.line, "line")
                issues = verdict.issues
                if key is not None:
                    first = seen.setdefault(key, src.line)
                    if slot >= 0:
                        issues = list(issues)
                        if first == src.line:
                            del issues[slot]
                        else:
                            issues[slot] = replace(issues[slot], message=f"the same record as {src.unit} {first}")
                        issues = tuple(issues)
                yield replace(verdict, source=src, issues=issues, rejected=any(i.severity in fail for i in issues))
            base += verdicts.newlines
