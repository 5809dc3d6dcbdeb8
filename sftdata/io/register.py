"""Register a converted file in a LLaMA-Factory ``dataset_info.json``.

After ``sftdata convert ... --register data/dataset_info.json --name my_set`` the file
is usable at once with ``dataset: my_set``. The entry comes from the target format
(:meth:`~sftdata.formats.Format.dataset_info_entry`: formatting, columns, tags, ranking
for preference data) with ``file_name`` relative to the ``dataset_info.json`` folder.

The update is atomic and conservative: every other entry keeps its content and its
place; an existing entry of the same name is updated in place, keeping the keys
sftdata does not manage (``num_samples``, ``split``, ...). The read-modify-write runs
under a lock (``dataset_info.json.lock``, :mod:`filelock`), so concurrent registrations
into one file all land. A symlinked ``dataset_info.json`` is edited where it points, and
``file_name`` is relative to that real file's folder (where LLaMA-Factory looks).

>>> import tempfile, pathlib, json
>>> from sftdata.formats import get_format
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "dataset_info.json").write_text('{"identity": {"file_name": "identity.json"}}')
>>> entry = register_dataset(folder / "dataset_info.json", "answers", folder / "answers.json", get_format("alpaca"), "sft", ["instruction", "input", "output"])
>>> list(json.loads((folder / "dataset_info.json").read_text()))
['identity', 'answers']
>>> entry["file_name"], entry["columns"]["response"]
('answers.json', 'output')
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ..errors import ReadError, UsageError
from ..formats import Format
from ..record import Kind
from . import atomic_path, suffix_of

#: File types LLaMA-Factory loads from ``file_name`` (its FILEEXT2TYPE, minus txt/arrow).
LOADABLE = (".json", ".jsonl", ".csv", ".parquet")
LOCK_TIMEOUT = 60
#: Keys an entry's location and mapping consist of; all are replaced on update.
MANAGED = ("file_name", "hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "subset", "folder", "formatting", "ranking", "columns", "tags")


def check_registrable(info_path: str | os.PathLike[str], output: str | os.PathLike[str], fmt: Format, kind: Kind = "sft") -> None:
    """Fail before converting when the output could not be registered."""
    _load(_info_file(info_path))
    suffix, compression = suffix_of(output)
    if suffix not in LOADABLE or compression:
        raise UsageError(f"LLaMA-Factory cannot load '{Path(output).name}' (a {suffix}{compression or ''} file).", remedy=f"Write one of: {', '.join(LOADABLE)} (uncompressed).")
    fmt.dataset_info_entry(Path(output).name, kind, ())  # raises when the format cannot be read by LLaMA-Factory


def _info_file(info_path: str | os.PathLike[str]) -> Path:
    """The real ``dataset_info.json`` (a folder's, and through any symlink)."""
    info = Path(info_path)
    info = info / "dataset_info.json" if info.is_dir() else info
    return Path(os.path.realpath(info))


def _load(info: Path) -> dict[str, Any]:
    if not info.exists():
        return {}
    try:
        data = orjson.loads(info.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ReadError(f"is not valid JSON ({exc}); it was left unchanged.", path=str(info), code="invalid-json", remedy="Fix the file (or move it away) and run again.") from None
    if not isinstance(data, dict):
        raise ReadError("must hold a JSON object of dataset entries; it was left unchanged.", path=str(info), code="wrong-type", remedy="Fix the file (or move it away) and run again.")
    return data


def register_dataset(info_path: str | os.PathLike[str], name: str, data_file: str | os.PathLike[str], fmt: Format, kind: Kind, present: Iterable[str]) -> dict[str, Any]:
    """Add or update entry ``name`` in ``info_path`` for ``data_file``; returns the entry."""
    info = _info_file(info_path)
    if not name.strip():
        raise UsageError("--name must not be empty.", remedy="Name the dataset, e.g. --name my_answers.")
    from filelock import FileLock, Timeout

    rel = os.path.relpath(Path(data_file).resolve(), info.parent).replace(os.sep, "/")
    entry = fmt.dataset_info_entry(rel, kind, sorted(present))
    try:
        with FileLock(str(info) + ".lock", timeout=LOCK_TIMEOUT):
            data = _load(info)
            old = data.get(name)
            if isinstance(old, dict):
                kept = {k: v for k, v in old.items() if k not in MANAGED}
                entry = {**entry, **kept}
            data[name] = entry  # an existing key keeps its position
            with atomic_path(info) as tmp:
                tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    except Timeout:
        raise ReadError(f"another process has held {info.name}.lock for {LOCK_TIMEOUT} s; the entry was not written.", path=str(info), code="locked", remedy="Wait for the other run to finish (or delete a stale .lock file) and run again.") from None
    return entry
