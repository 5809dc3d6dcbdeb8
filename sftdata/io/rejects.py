"""Where rejected rows go: counts per reason code and an optional JSONL file."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import Issue, RecordError
from ..record import Source
from .safety import active_budget, atomic_path, budget


class RejectSink:
    """Collects rejected rows: counts per reason code, and optionally a JSONL file where
    each line holds the source location, the issues and the row verbatim.

    Use as a context manager; the file is written atomically on close.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.first: list[str] = []
        self._cm: Any = None
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> RejectSink:
        if self.path is not None:
            self._cm = atomic_path(self.path)
            tmp = self._cm.__enter__()
            self._fh = open(tmp, "wb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._cm.__exit__(*exc)

    def add(self, row: Any, source: Source | None, error: RecordError, **detail: Any) -> None:
        """Record one rejected row; ``detail`` keys (e.g. ``duplicate_of``) are written
        into its JSONL line next to the reasons."""
        self.total += 1
        if (b := active_budget()) is not None:
            b.note_reject()
        for issue in error.issues:
            self.counts[issue.code] += 1
        if len(self.first) < 5:
            self.first.append(str(error))
        if self._fh is not None:
            self._fh.write(
                orjson.dumps(
                    {
                        "source": str(source) if source else None,
                        "line": source.line if source else None,
                        "codes": sorted({i.code for i in error.issues}),
                        "issues": [i.to_dict() for i in error.issues],
                        **detail,
                        "record": row,
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )


    def bad_line(self, text: Any, source: Source, code: str, message: str, remedy: str) -> None:
        """A line that is not a JSON object (see :data:`sftdata.io.files.BadSink`):
        set aside with its reason, the line's text as the record."""
        if (b := active_budget()) is not None:
            b.unreadable += 1
        self.add(text, source, RecordError([Issue(code, message)], path=source.path, line=source.line, remedy=remedy))

    def reject(self, row: Any, source: Source | None, code: str, message: str, *, field: str | None = None, **detail: Any) -> None:
        """Record a row dropped on purpose (a filter, a duplicate) with one reason code.

        >>> sink = RejectSink()
        >>> sink.reject({"text": "x"}, Source("a.jsonl", 3), "too-short", "2 characters < 10")
        >>> sink.total, dict(sink.counts), sink.first
        (1, {'too-short': 1}, ['a.jsonl:3: [too-short] 2 characters < 10'])
        """
        error = RecordError([Issue(code, message, field=field)], path=source.path if source else None, line=source.line if source else None)
        self.add(row, source, error, **detail)


__all__ = ["RejectSink", "budget"]
