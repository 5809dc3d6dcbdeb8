"""Cell values of flat tables (CSV, TSV, xlsx): the JSON-cell rule and spooling.

Spreadsheets and CSV hold only scalars, so nested values (a ``conversations`` list, a
``tools`` list) are stored as JSON text. The rule that brings them back is per column:

* a column whose every non-empty cell is a JSON **array or object** is parsed as JSON;
* a column whose every non-empty cell is ``true`` or ``false`` becomes booleans;
* every other column stays as written (numbers-as-text such as ``007`` are kept).

Deciding per column, over the whole file, means a single free-text answer that happens
to start with ``{`` is never parsed by accident. Empty cells are absent keys.

>>> rule = JsonCellRule()
>>> rule.observe({"c": '[{"from": "human", "value": "hi"}]', "t": "true", "n": "007"})
>>> rule.apply({"c": '[{"from": "human", "value": "hi"}]', "t": "true", "n": "007"})
{'c': [{'from': 'human', 'value': 'hi'}], 't': True, 'n': '007'}
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import orjson

CellKind = Literal["json", "bool", "text"]
_BOOLS = {"true": True, "false": False}
BATCH = 8192


def _kind_of(value: str) -> CellKind:
    text = value.strip()
    if text in _BOOLS:
        return "bool"
    if text[:1] in ("[", "{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return "text"
        if isinstance(parsed, (list, dict)):
            return "json"
    return "text"


class JsonCellRule:
    """Learns, column by column, which string columns hold JSON or booleans."""

    def __init__(self) -> None:
        self.kinds: dict[str, CellKind] = {}

    def observe(self, row: dict[str, Any]) -> None:
        kinds = self.kinds
        for key, value in row.items():
            if not isinstance(value, str) or kinds.get(key) == "text" or not value.strip():
                continue
            kind = _kind_of(value)
            seen = kinds.get(key)
            kinds[key] = kind if seen in (None, kind) else "text"

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        kinds = self.kinds
        for key, value in row.items():
            if not isinstance(value, str):
                continue
            kind = kinds.get(key)
            if kind == "json":
                row[key] = orjson.loads(value)
            elif kind == "bool":
                row[key] = _BOOLS[value.strip()]
        return row


def cell_text(value: Any) -> Any:
    """A value as a flat cell: lists and dicts become JSON text, scalars stay."""
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return value


@contextlib.contextmanager
def spooled(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[list[str], Callable[[], Iterator[list[dict[str, Any]]]]]]:
    """Stream ``rows`` once to a temporary JSONL file, collecting every column name in
    first-seen order; ``batches()`` then replays them (as often as needed) in batches.

    Flat and columnar writers need the full header (or schema) before the first row;
    spooling keeps memory bounded whatever the number of rows.
    """
    columns: dict[str, None] = {}
    dumps = orjson.dumps
    with tempfile.TemporaryFile(prefix="sftdata-spool-") as spool:
        buf: list[bytes] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns[key] = None
            buf.append(dumps(row, option=orjson.OPT_APPEND_NEWLINE))
            if len(buf) >= 4096:
                spool.write(b"".join(buf))
                buf.clear()
        spool.write(b"".join(buf))
        spool.flush()

        def batches(size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
            spool.seek(0)
            batch: list[dict[str, Any]] = []
            for line in spool:
                batch.append(orjson.loads(line))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        yield list(columns), batches


def replay(batches: Iterator[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from batch
