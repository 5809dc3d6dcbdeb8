"""Apache Parquet (and Arrow record batches, shared with :mod:`sftdata.io.hf`).

Reading streams one batch at a time (``ParquetFile.iter_batches``), so memory stays
bounded. Arrow gives every row every column and every struct every field, so a null is
read as an *absent* key, at any depth: a JSONL file written to Parquet reads back to the
same rows. Nested values stay nested (lists, structs), which is what ``datasets`` and
pandas expect; a column whose rows disagree on its type (a string in one row, a list in
another) is stored as JSON text and named in the file's metadata, so it reads back too.

>>> import tempfile, pathlib
>>> from sftdata.io import read_rows, write_rows
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
>>> write_rows([{"conversations": [{"from": "human", "value": "hi"}], "tools": "[]"},
...             {"conversations": [{"from": "gpt", "value": "yo", "weight": 0.5}], "tools": [1]}], path)
2
>>> [row for row, _ in read_rows(path)][1]
{'conversations': [{'from': 'gpt', 'value': 'yo', 'weight': 0.5}], 'tools': [1]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import ReadError, WriteError, missing
from ..record import Source
from .cells import spooled
from .files import Row, register_reader, register_writer

JSON_COLUMNS_KEY = b"sftdata.json_columns"
ROW_GROUP = 65_536


def _pa() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise missing("pyarrow", "parquet", "Reading and writing .parquet files") from None
    return pyarrow


def drop_nulls(value: Any) -> Any:
    """Remove null-valued keys from dicts at every depth (nulls inside lists stay).

    >>> drop_nulls({"a": None, "b": [{"c": 1, "d": None}, None]})
    {'b': [{'c': 1}, None]}
    """
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def batch_rows(batch: Any, json_columns: frozenset[str], path: str, start: int) -> Iterator[tuple[Row, Source]]:
    """Rows of one Arrow record batch, numbered from ``start`` (1-based)."""
    loads = orjson.loads
    for i, row in enumerate(batch.to_pylist(), start):
        out = drop_nulls(row)
        for key in json_columns & out.keys():
            out[key] = loads(out[key])
        yield out, Source(path, i, "row")


def json_columns_of(schema: Any) -> frozenset[str]:
    meta = schema.metadata or {}
    raw = meta.get(JSON_COLUMNS_KEY)
    return frozenset(orjson.loads(raw)) if raw else frozenset()


def read_parquet(path: Path, json_cells: bool = True) -> Iterator[tuple[Row, Source]]:
    pa = _pa()
    import pyarrow.parquet as pq

    name = str(path)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"not a readable Parquet file ({exc}).", path=name, code="invalid-parquet", remedy="Check that the file is complete (not truncated) and really Parquet.") from None
    json_columns = json_columns_of(pf.schema_arrow)
    n = 1
    with pf:
        batches = pf.iter_batches(batch_size=4096)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise ReadError(f"a data page near row {n} cannot be read ({exc}).", path=name, line=n, code="invalid-parquet", remedy="The file is damaged: write it again from its source.") from None
            if batch is None:
                break
            yield from batch_rows(batch, json_columns, name, n)
            n += batch.num_rows


def _has_empty_struct(t: Any) -> bool:
    pa = _pa()
    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_has_empty_struct(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_empty_struct(t.value_type)
    return False


def infer_schema(columns: list[str], batches: Iterable[list[Row]]) -> tuple[Any, set[str]]:
    """One Arrow schema for all rows, merging types batch by batch; columns that cannot
    share one type (or that Parquet cannot store, such as ``{}``) become JSON text."""
    pa = _pa()
    types: dict[str, Any] = {}
    as_json: set[str] = set()
    for batch in batches:
        for column in columns:
            if column in as_json:
                continue
            try:
                t = pa.array([row.get(column) for row in batch]).type
                if column in types:
                    merged = pa.unify_schemas([pa.schema([(column, types[column])]), pa.schema([(column, t)])], promote_options="permissive")
                    t = merged.field(column).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
                as_json.add(column)
                continue
            if _has_empty_struct(t):
                as_json.add(column)
            else:
                types[column] = t
    fields = [(c, pa.string() if c in as_json else types.get(c, pa.null())) for c in columns]
    meta = {JSON_COLUMNS_KEY: orjson.dumps(sorted(as_json))} if as_json else None
    return pa.schema(fields, metadata=meta), as_json


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def write_parquet(rows: Iterable[Row], fh: IO[bytes]) -> int:
    """Zstd-compressed Parquet, row groups of 64k rows; the schema covers every row."""
    pa = _pa()
    import pyarrow.parquet as pq

    n = 0
    with spooled(rows) as (columns, batches):
        schema, as_json = infer_schema(columns, batches())
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            for batch in batches(ROW_GROUP):
                arrays = []
                for field in schema:
                    values = [row.get(field.name) for row in batch]
                    if field.name in as_json:
                        values = [_json_text(v) for v in values]
                    try:
                        arrays.append(pa.array(values, type=field.type))
                    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                        raise WriteError(f"column '{field.name}' does not fit one Parquet type ({exc}).", field=field.name, code="mixed-types", remedy="Write .jsonl instead.") from None
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                n += len(batch)
    return n


register_reader(".parquet", read_parquet)
register_reader(".pq", read_parquet)
register_writer(".parquet", write_parquet)
