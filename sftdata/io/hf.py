"""A Hugging Face ``Dataset.save_to_disk`` folder, read straight from its Arrow files.

The folder holds ``state.json`` (the list of ``data-*.arrow`` shards) and Arrow IPC
stream files; reading them with pyarrow streams batch by batch and does not need the
``datasets`` package at all. A ``DatasetDict`` folder (``dataset_dict.json``) has one
sub-folder per split: name the split's folder. Rows are numbered across shards
(``Source(folder, n, "row")``) and nulls are absent keys, as for Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from ..errors import ReadError, UsageError
from ..record import Source
from .files import Row, register_reader
from .parquet import _pa, batch_rows, json_columns_of


def _shards(folder: Path) -> list[Path]:
    name = str(folder)
    if (folder / "dataset_dict.json").is_file():
        splits = orjson.loads((folder / "dataset_dict.json").read_bytes()).get("splits", [])
        raise UsageError(
            f"'{name}' is a DatasetDict with splits {', '.join(splits)}; sftdata reads one split at a time.",
            path=name,
            remedy=f"Pass the split's folder, e.g. {folder / (splits[0] if splits else 'train')}.",
        )
    state = folder / "state.json"
    if not state.is_file():
        raise UsageError(f"'{name}' is a folder but not a Hugging Face save_to_disk dataset (no state.json).", path=name, remedy="Pass a data file, or a folder written by Dataset.save_to_disk.")
    try:
        files = [entry["filename"] for entry in orjson.loads(state.read_bytes())["_data_files"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ReadError(f"state.json is damaged ({exc}).", path=str(state), code="invalid-hf-dataset", remedy="Save the dataset again with Dataset.save_to_disk.") from None
    return [folder / f for f in files]


def read_hf_folder(folder: Path, json_cells: bool = True) -> Iterator[tuple[Row, Source]]:
    pa = _pa()
    name = str(folder)
    n = 1
    for shard in _shards(folder):
        try:
            source = pa.memory_map(str(shard))
            reader = pa.ipc.open_stream(source)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ReadError(f"cannot read Arrow shard '{shard.name}' ({exc}).", path=name, code="invalid-hf-dataset", remedy="Save the dataset again with Dataset.save_to_disk.") from None
        with source, reader:
            json_columns = json_columns_of(reader.schema)
            for batch in reader:
                yield from batch_rows(batch, json_columns, name, n)
                n += batch.num_rows


register_reader("<dir>", read_hf_folder)
