"""Hugging Face ``datasets`` interop: records from and to a ``Dataset`` in memory, and
picklable converters for ``Dataset.map``.

>>> import datasets, sftdata.hf
>>> ds = datasets.Dataset.from_list([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}])
>>> out = ds.map(sftdata.hf.converter(from_="sharegpt", to="openai"), batched=True, remove_columns=ds.column_names)
>>> out[0]["messages"]
[{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}]
>>> [r.kind for r in sftdata.hf.from_dataset(out)]
['sft']

``Dataset.map`` fixes its columns and their types from the first batch it writes, so
a column that only some rows have (``tools``, ``system``, ``images``) breaks a plain
map. :func:`convert_dataset` handles that (workers emit one JSON row each, the parent
builds the typed table); a :class:`Converter` given ``columns=`` and ``features=`` on
``map`` works too.

Arrow gives every row every column and every struct every field; as for Parquet, a
null is read as an absent key. Tool specs (``tools``) are written as JSON text: their
parameter schemas differ from row to row, which Arrow cannot hold in one column type
(every format reads tools given as JSON text). ``datasets`` is imported only when these
functions run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from .api import RejectSink, decode_rows, encode_all
from .detect import SAMPLE_SIZE, detect_rows
from .errors import RecordError, SftdataError, missing
from .formats import Format, LossReport, get_format
from .formats.toolids import fill_record
from .io.parquet import drop_nulls
from .record import Record, Source

OnError = Literal["raise", "mark"]
#: Column of ``Converter(json_rows=True)``: the converted row as JSON text.
ROW_COLUMN = "sftdata_row"
#: Columns written as JSON text by default (see the module docstring).
JSON_COLUMNS: tuple[str, ...] = ("tools",)
#: Column added by ``converter(..., on_error="mark")``: None, or why the row was not converted.
ERROR_COLUMN = "sftdata_error"


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise missing("datasets", "hf", "Hugging Face datasets interop") from None
    return datasets


def _rows(ds: Any, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    for batch in ds.iter(batch_size=batch_size):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            yield drop_nulls(dict(zip(keys, values)))


def _format(fmt: str | Format) -> Format:
    return fmt if isinstance(fmt, Format) else get_format(fmt)


def _as_json(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    for key in columns:
        value = row.get(key)
        if isinstance(value, (list, dict)):
            row[key] = orjson.dumps(value).decode()
    return row


def from_dataset(ds: Any, format: str | Format = "auto", *, rejects: RejectSink | None = None, name: str = "<dataset>") -> Iterator[Record]:
    """Records of a ``datasets.Dataset`` (rows numbered from 1 as ``Source(name, n, "row")``).

    ``format="auto"`` detects the format from the first rows. A row that does not decode
    raises :class:`~sftdata.errors.RecordError`, or goes to ``rejects`` when given.
    """
    if format == "auto":
        sample = list(itertools.islice(_rows(ds), SAMPLE_SIZE))
        format = get_format(detect_rows(sample, name).format)
    rows = ((row, Source(name, i, "row")) for i, row in enumerate(_rows(ds), 1))
    yield from decode_rows(rows, _format(format), rejects)


def to_dataset(records: Iterable[Record], format: str | Format, *, strict: bool = False, losses: LossReport | None = None, json_columns: tuple[str, ...] = JSON_COLUMNS) -> Any:
    """A ``datasets.Dataset`` holding ``records`` encoded in ``format``.

    What the format cannot carry is added to ``losses`` (``strict`` raises instead).
    ``json_columns`` and columns whose rows disagree on their type are stored as JSON text.
    """
    rows = [_as_json(row, json_columns) for row in encode_all(records, _format(format), losses if losses is not None else LossReport(), strict)]
    return _table_dataset(rows)


def _table_dataset(rows: list[dict[str, Any]]) -> Any:
    """One typed Arrow table over all rows (types unified across rows), as a Dataset."""
    datasets = _datasets()
    from .io.parquet import _pa, infer_schema

    pa = _pa()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    schema, as_json = infer_schema(columns, [rows])
    arrays = []
    for fld in schema:
        values = [row.get(fld.name) for row in rows]
        if fld.name in as_json:
            values = [None if v is None else orjson.dumps(v).decode() for v in values]
        arrays.append(pa.array(values, type=fld.type))
    return datasets.Dataset(pa.Table.from_arrays(arrays, schema=schema.remove_metadata()))


@dataclass(frozen=True)
class Converter:
    """A picklable ``Dataset.map`` function from one format to another.

    ``batched=True`` (the fast way) maps a batch ``{column: [values]}`` to a batch; pass
    ``remove_columns=ds.column_names`` so only the converted columns remain. A row that
    does not decode raises :class:`~sftdata.errors.RecordError` (``on_error="raise"``),
    or, with ``on_error="mark"``, keeps its place with every column null and the reason
    in ``sftdata_error`` (filter on it; nothing disappears silently).
    """

    from_: str | Format
    to: str | Format
    batched: bool = True
    strict: bool = False
    on_error: OnError = "raise"
    json_columns: tuple[str, ...] = JSON_COLUMNS
    #: Output exactly these columns (missing values null); None: the keys each batch has.
    columns: tuple[str, ...] | None = None
    #: Emit one JSON-text column ``sftdata_row`` instead of the format's columns.
    json_rows: bool = False
    #: Fill missing tool-call ids as ``sftdata.convert`` does (None: the target's default,
    #: on for openai; see :mod:`sftdata.formats.toolids`).
    tool_call_ids: bool | None = None

    def convert_row(self, row: dict[str, Any], index: int | None = None) -> dict[str, Any]:
        """One wire row -> one wire row (raises on a row that does not decode)."""
        source = Source("<dataset>", index, "row") if index is not None else None
        record = _format(self.from_).decode(drop_nulls(row), source)
        target = _format(self.to)
        if target.pairs_tools_by_id if self.tool_call_ids is None else self.tool_call_ids:
            record = fill_record(record)
        (out,) = encode_all([record], target, LossReport(), self.strict)
        return _as_json(out, self.json_columns)

    def _safe(self, row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        try:
            return self.convert_row(row), None
        except SftdataError as err:
            if self.on_error == "raise" or not isinstance(err, RecordError):
                raise
            return {}, str(err)

    def __call__(self, example: dict[str, Any]) -> dict[str, Any]:
        if not self.batched:
            out, error = self._safe(example)
            if self.json_rows:
                out = {ROW_COLUMN: orjson.dumps(out).decode() if error is None else None}
            elif self.columns is not None:
                out = {c: out.get(c) for c in self.columns}
            return {**out, ERROR_COLUMN: error} if self.on_error == "mark" else out
        keys = list(example)
        results = [self._safe(dict(zip(keys, values))) for values in zip(*(example[k] for k in keys))]
        batch: dict[str, list[Any]]
        if self.json_rows:
            batch = {ROW_COLUMN: [orjson.dumps(out).decode() if error is None else None for out, error in results]}
        else:
            columns = self.columns if self.columns is not None else list(dict.fromkeys(k for out, _ in results for k in out))
            batch = {c: [out.get(c) for out, _ in results] for c in columns}
        if self.on_error == "mark":
            batch[ERROR_COLUMN] = [error for _, error in results]
        return batch


def converter(from_: str | Format = "sharegpt", to: str | Format = "openai", *, batched: bool = True, strict: bool = False, on_error: OnError = "raise", json_columns: tuple[str, ...] = JSON_COLUMNS) -> Converter:
    """A ``Dataset.map`` function converting ``from_`` rows into ``to`` rows.

    Works with ``num_proc`` (it pickles by format name)::

        ds.map(sftdata.hf.converter(from_="sharegpt", to="openai"), batched=True,
               num_proc=2, remove_columns=ds.column_names)
    """
    return Converter(from_, to, batched=batched, strict=strict, on_error=on_error, json_columns=json_columns)


def convert_dataset(ds: Any, to: str | Format, from_: str | Format = "auto", *, num_proc: int | None = None, batch_size: int = 1000, strict: bool = False, on_error: OnError = "raise") -> Any:
    """Convert a whole ``Dataset`` to another format, in ``num_proc`` processes.

    Unlike a plain ``map`` this copes with optional columns (``tools`` on some rows
    only): workers return one JSON row each and the typed table is built from all rows.
    With ``on_error="mark"`` a row that does not decode stays, null everywhere, with the
    reason in ``sftdata_error``.

    >>> import datasets
    >>> ds = datasets.Dataset.from_dict({"instruction": ["hi", "q"], "output": ["yo", "a"], "system": [None, "s"]})
    >>> out = convert_dataset(ds, to="sharegpt")
    >>> out.column_names, out[1]["system"]
    (['conversations', 'system'], 's')
    """
    if from_ == "auto":
        sample = list(itertools.islice(_rows(ds), SAMPLE_SIZE))
        from_ = detect_rows(sample, "<dataset>").format
    conv = Converter(from_, to, strict=strict, on_error=on_error, json_rows=True)
    mapped = ds.map(conv, batched=True, batch_size=batch_size, num_proc=num_proc, remove_columns=ds.column_names, desc=f"sftdata -> {to if isinstance(to, str) else to.name}")
    texts = mapped[ROW_COLUMN]
    rows = [orjson.loads(t) if t is not None else {} for t in texts]
    out = _table_dataset(rows)
    if on_error == "mark":
        out = out.add_column(ERROR_COLUMN, mapped[ERROR_COLUMN])
    return out


__all__ = ["Converter", "ERROR_COLUMN", "ROW_COLUMN", "convert_dataset", "converter", "from_dataset", "to_dataset"]
