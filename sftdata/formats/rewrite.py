"""What ``convert`` changes in records on the way, besides the format.

Two rewrites, both deterministic and both applied identically by the serial path, the
row fast path and the worker processes of a parallel conversion:

* **tool-call ids** (:mod:`sftdata.formats.toolids`): on by default when the target
  pairs tool results with calls by id (``openai``); ``tool_call_ids=False`` writes calls
  without ids as before;
* **media paths** (:class:`sftdata.media.paths.Rebase`): off by default (paths are
  copied verbatim); with ``media_root`` and/or ``media_base``, relative paths that
  resolve against ``media_root`` (default: the input's folder) are rewritten to resolve
  against ``media_base`` (default: the output's folder).

>>> from sftdata.formats import get_format
>>> steps = Rewrite(media_base="/srv/lf/data").steps(get_format("openai"), "/home/me/in.json", "/tmp/out.jsonl")
>>> steps.tool_ids, steps.rebase
(True, Rebase(root='/home/me', base='/srv/lf/data'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media.paths import Rebase
from ..record import Record
from . import Format
from .toolids import fill_record, fill_wire

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Steps:
    """The record rewrites of one conversion, resolved (picklable, for worker processes)."""

    tool_ids: bool = False
    rebase: Rebase | None = None

    def __bool__(self) -> bool:
        return self.tool_ids or self.rebase is not None

    def __call__(self, record: Record) -> Record:
        if self.rebase is not None:
            record = self.rebase.record(record)
        if self.tool_ids:
            record = fill_record(record)
        return record

    def wire(self, row: dict[str, Any]) -> dict[str, Any]:
        """The same rewrites on a fast-path output row (OpenAI messages; fast paths
        never accept rows with media, see :mod:`sftdata.formats.fastpath`)."""
        if self.tool_ids:
            fill_wire(row["messages"])
        return row


@dataclass(frozen=True)
class Rewrite:
    """Options of the record rewrites (see the module docstring).

    Args:
        tool_call_ids: Fill missing tool-call ids; ``None``: the target's default.
        media_root: The folder relative media paths in the input resolve against
            (as ``sftdata validate --media-root``); default: the input file's folder.
        media_base: The folder relative media paths in the output should resolve
            against (e.g. LLaMA-Factory's ``media_dir``); default: the output's folder.
    """

    tool_call_ids: bool | None = None
    media_root: PathLike | None = None
    media_base: PathLike | None = None

    def steps(self, target: Format, src: PathLike, dst: PathLike, input_dir: PathLike | None = None) -> Steps:
        """Resolve against a conversion; ``input_dir`` overrides the input's folder
        as the default media root (a LLaMA-Factory ``dataset_info.json``'s folder)."""
        tool_ids = target.pairs_tools_by_id if self.tool_call_ids is None else self.tool_call_ids
        rebase = None
        if self.media_root is not None or self.media_base is not None:
            root = self.media_root if self.media_root is not None else (input_dir or Path(src).resolve().parent)
            base = self.media_base if self.media_base is not None else Path(dst).resolve().parent
            rebase = Rebase(root, base)
        return Steps(tool_ids, rebase)


__all__ = ["Rewrite", "Steps"]
