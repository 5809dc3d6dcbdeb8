"""Writing a tokenized folder atomically, and reading its manifest.

Rows are streamed into an Arrow file as batches arrive (``datasets``' own writer, so
column types are those ``datasets.map`` gives: ``input_ids`` int32, ``attention_mask``
int8, labels int64), then saved as a ``DatasetDict`` with ``save_to_disk`` (which reads
the memory-mapped file shard by shard): memory stays bounded by a batch, not by the
dataset. The folder appears under its name only when complete; a previous folder is
replaced only then.

The manifest ``sftdata_tokenized.json`` holds the cache key, its parts and the report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson

from ..errors import UsageError, missing
from .key import KeyParts

MANIFEST = "sftdata_tokenized.json"
VERSION = 1


def load_manifest(folder: str | os.PathLike[str], *, missing_ok: bool = False) -> tuple[KeyParts, dict[str, Any]] | None:
    """The key parts and report stored in a tokenized folder.

    Raises:
        UsageError: ``folder`` exists but is not a folder ``tokenize`` wrote (unless it is
            empty or absent and ``missing_ok``).
    """
    root = Path(folder)
    path = root / MANIFEST
    if not path.is_file():
        if missing_ok and (not root.exists() or (root.is_dir() and not any(root.iterdir()))):
            return None
        raise UsageError(
            f"'{root}' is not a folder written by `sftdata tokenize` (no {MANIFEST}).",
            path=str(root),
            remedy="Pass a new or empty output folder, or one that `sftdata tokenize` wrote.",
        )
    data = orjson.loads(path.read_bytes())
    return KeyParts(**data["parts"]), data.get("report", {})


class Staging:
    """A tokenized folder being written: ``write`` batches, ``finish`` with the report."""

    def __init__(self, output: Path, parts: KeyParts) -> None:
        self.output = output
        self.parts = parts
        self._writers: dict[str, Any] = {}  # split -> ArrowWriter
        self.splits = ["train"]

    def __enter__(self) -> Staging:
        load_manifest(self.output, missing_ok=True)  # refuse a folder that is not ours, early
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.tmp-", dir=self.output.parent))
        self._stage = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.stage-", dir=self.output.parent))
        return self

    def write(self, columns: dict[str, list[Any]], split: str = "train") -> None:
        if split not in self.splits:
            self.splits.append(split)
        if not columns or not next(iter(columns.values())):
            return
        if split not in self._writers:
            try:
                from datasets.arrow_writer import ArrowWriter
            except ImportError:
                raise missing("datasets", "hf", "Writing a tokenized dataset") from None
            self._writers[split] = ArrowWriter(path=str(self._stage / f"{split}.arrow"), writer_batch_size=1000)
        self._writers[split].write_batch(columns)

    def finish(self, report: dict[str, Any]) -> None:
        if report.get("layout") != "text":
            self._save_dataset()
        manifest = {"version": VERSION, "key": self.parts.key, "parts": self.parts.to_dict(), "report": report}
        (self.root / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        mode = 0o777 & ~_umask()
        os.chmod(self.root, mode)
        old = None
        if self.output.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.old-", dir=self.output.parent))
            os.replace(self.output, old / "x")
        os.replace(self.root, self.output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _save_dataset(self) -> None:
        try:
            from datasets import Dataset, DatasetDict
        except ImportError:
            raise missing("datasets", "hf", "Writing a tokenized dataset") from None
        parts = {}
        for split in self.splits:
            writer = self._writers.get(split)
            if writer is None:
                parts[split] = Dataset.from_dict({})
                continue
            writer.finalize()
            writer.close()
            parts[split] = Dataset.from_file(str(self._stage / f"{split}.arrow"))
        from datasets.utils import disable_progress_bars, enable_progress_bars, is_progress_bar_enabled

        shown = is_progress_bar_enabled()
        disable_progress_bars()
        try:
            DatasetDict(parts).save_to_disk(str(self.root))
        finally:
            if shown:
                enable_progress_bars()
        del parts

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for writer in self._writers.values():
                with contextlib.suppress(Exception):
                    writer.close()
        shutil.rmtree(self._stage, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_layout(paths: list[Path], formats: tuple[Any, ...], target: Path, kind: str, rejects: Any, items: Any = None) -> tuple[int, int, dict[str, int]]:
    """TRL's conversational format for stages TRL tokenizes itself: every row of the right
    kind, encoded by sftdata's ``trl`` format. Returns (read, written, rejected by reason).
    ``items`` (``(input index, row, source)``) replaces reading ``paths`` (a split's rows)."""
    from ..errors import Issue, RecordError
    from ..formats import get_format
    from ..io import read_rows, write_rows

    trl = get_format("trl")
    counts = {"read": 0}
    bad: dict[str, int] = {}

    def given() -> Any:
        for fmt, path in zip(formats, paths):
            for row, source in read_rows(path):
                yield fmt, path, row, source

    def rows() -> Any:
        source_rows = given() if items is None else ((formats[i], paths[i], row, source) for i, row, source in items)
        for fmt, path, row, source in source_rows:
            counts["read"] += 1
            try:
                record = fmt.decode(row, source)
                if record.kind != kind:
                    raise RecordError([Issue("wrong-kind", f"a {record.kind} record; this stage reads {kind} records")], path=str(path), line=source.line)
            except RecordError as err:
                if rejects is None:
                    raise
                rejects.add(row, source, err)
                for i in err.issues:
                    bad[i.code] = bad.get(i.code, 0) + 1
                continue
            encoded, _lost = trl.encode(record)
            yield encoded

    written = write_rows(rows(), target)
    return counts["read"], written, bad


__all__ = ["MANIFEST", "Staging", "load_manifest", "write_text_layout"]
