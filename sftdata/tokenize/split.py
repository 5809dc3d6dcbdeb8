"""The validation split of ``tokenize --val-size``, made as LLaMA-Factory makes it.

LLaMA-Factory splits the merged raw rows before it tokenizes them
(``dataset.train_test_split(test_size=val_size, seed=seed)``) and then preprocesses each
split on its own, in the split's (shuffled) order and in batches of 1,000: KTO's
mismatched pairs and packing depend on that order. So the rows are first spooled to a
temporary file (one pickle each, with its input and line; memory holds only their
offsets; the file is unlinked at once, so only this process reads back what it wrote), the split's row order is computed by ``datasets`` itself on an index
column (the same numbers, whatever ``datasets`` version the trainer runs), and each split
is tokenized by reading the spool in that order.
"""

from __future__ import annotations

import pickle
import tempfile
import threading
from array import array
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import UsageError, missing
from ..record import Source

Item = tuple[int, dict[str, Any], Source]


class Spool:
    """Every row of the inputs, in input order, on disk; read back in any order."""

    def __init__(self, inputs: list[Path]) -> None:
        self.inputs = inputs
        self._file: BinaryIO = tempfile.TemporaryFile(prefix="sftdata-split-")  # noqa: SIM115 (closed in close())
        self.offsets = array("q")

    def fill(self) -> int:
        """Read every input once; the number of rows."""
        from ..io import read_rows

        rows = chain.from_iterable(((i, row, src) for row, src in read_rows(p)) for i, p in enumerate(self.inputs))
        for i, row, src in rows:
            self.offsets.append(self._file.tell())
            pickle.dump((i, row, src.path, src.line, src.unit), self._file, pickle.HIGHEST_PROTOCOL)
        self._file.flush()
        return len(self.offsets)

    def batches(self, order: Any, size: int, gate: threading.Semaphore | None) -> Iterator[list[Item]]:
        """The rows at ``order`` (positions in input order), in batches of ``size``."""
        for start in range(0, len(order), size):
            if gate is not None:
                gate.acquire()
            batch = []
            for at in order[start : start + size]:
                self._file.seek(self.offsets[int(at)])
                i, row, path, line, unit = pickle.load(self._file)
                batch.append((i, row, Source(path=path, line=line, unit=unit)))
            yield batch

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def split_order(n: int, val_size: float, seed: int) -> dict[str, list[int]]:
    """Positions of the ``train`` and ``validation`` rows, in the order LLaMA-Factory's
    ``split_dataset`` leaves them (``datasets``' ``train_test_split``).

    Raises:
        UsageError: a split that leaves one side empty or asks for more rows than there are.
    """
    try:
        from datasets import Dataset
    except ImportError:
        raise missing("datasets", "hf", "A validation split (--val-size)") from None
    test_size: float | int = int(val_size) if val_size > 1 else val_size  # as LLaMA-Factory passes it
    try:
        parts = Dataset.from_dict({"i": list(range(n))}).train_test_split(test_size=test_size, seed=seed)
    except ValueError as err:
        raise UsageError(f"--val-size {val_size:g} cannot split {n:,} rows: {err}", field="--val-size", remedy="Give a share below 1 (0.1) or a row count smaller than the dataset.") from None
    return {"train": parts["train"]["i"], "validation": parts["test"]["i"]}


__all__ = ["Spool", "split_order"]
