"""A folder of JSONL shards plus a manifest: the output of a cluster run.

``-o out/`` (a trailing slash, an existing folder or a name without a suffix) asks for
``out/part-00000.jsonl``, ``out/part-00001.jsonl``, ... of about :data:`PART_BYTES` each,
in order, and ``out/manifest.json`` with the rows of every part and the run's counts,
rejects and losses. The folder appears whole or not at all: it is written under a hidden
temporary name next to the target and renamed at the end.

>>> import tempfile, pathlib, json
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with ShardWriter(d / "out", part_bytes=10) as out:
...     out.write(b'{"a": 1}\\n{"a": 2}\\n')
...     out.write(b'{"a": 3}\\n')
...     out.summary = {"written": 3}
>>> sorted(p.name for p in (d / "out").iterdir())
['manifest.json', 'part-00000.jsonl', 'part-00001.jsonl']
>>> json.loads((d / "out" / "manifest.json").read_text())["parts"]
[{'file': 'part-00000.jsonl', 'rows': 2, 'bytes': 18}, {'file': 'part-00001.jsonl', 'rows': 1, 'bytes': 9}]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import orjson

from .compression import suffix_of

PART_BYTES = 256 << 20
MANIFEST = "manifest.json"


def is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether an output names a folder of shards rather than one file (``-`` is
    standard output, never a folder)."""
    text = os.fspath(path)
    if text == "-":
        return False
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or suffix_of(text)[0] == ""


class ShardWriter:
    """Write blocks of whole JSONL lines into numbered parts; :attr:`summary` (counts,
    rejects, losses) goes into the manifest next to the list of parts."""

    def __init__(self, folder: str | os.PathLike[str], part_bytes: int = PART_BYTES) -> None:
        self.folder = Path(folder)
        self.part_bytes = part_bytes
        self.parts: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}
        self._tmp: Path | None = None
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> ShardWriter:  # noqa: PYI034
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".tmp", dir=self.folder.parent))
        return self

    def write(self, data: bytes) -> None:
        """Append a block of whole lines (a block never straddles two parts)."""
        if not data:
            return
        if self._fh is None or self.parts[-1]["bytes"] >= self.part_bytes:
            self._roll()
        assert self._fh is not None
        self._fh.write(data)
        self.parts[-1]["rows"] += data.count(b"\n")
        self.parts[-1]["bytes"] += len(data)

    def _roll(self) -> None:
        if self._fh is not None:
            self._fh.close()
        assert self._tmp is not None
        name = f"part-{len(self.parts):05d}.jsonl"
        self.parts.append({"file": name, "rows": 0, "bytes": 0})
        self._fh = open(self._tmp / name, "wb", buffering=1 << 20)

    def __exit__(self, kind: object, *rest: object) -> None:
        if self._fh is not None:
            self._fh.close()
        assert self._tmp is not None
        if kind is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        manifest = {"parts": self.parts, "rows": sum(p["rows"] for p in self.parts), **self.summary}
        (self._tmp / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        os.chmod(self._tmp, 0o777 & ~_umask())
        if self.folder.exists():
            old = self.folder.with_name(f".{self.folder.name}.old")
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(old)
            os.replace(self.folder, old)
            os.replace(self._tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self._tmp, self.folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def jsonl_output(path: str | os.PathLike[str]) -> Any:
    """Something to ``write`` blocks of JSONL lines to: a :class:`ShardWriter` for a
    folder, else the atomic temporary file of ``path`` (renamed over it on success)."""
    from .files import atomic_path

    if is_folder(path):
        with ShardWriter(path) as shards:
            yield shards
        return
    with atomic_path(path) as tmp, open(tmp, "wb", buffering=1 << 20) as fh:
        yield fh
