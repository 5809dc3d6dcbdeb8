"""LLaMA-Factory's ``dataset_info.json``: read a named entry as a configured codec.

An entry names a file and how its columns and role tags are spelled::

    "kto_en_demo": {
      "file_name": "kto_en_demo.json",
      "formatting": "sharegpt",
      "columns": {"messages": "messages", "kto_tag": "label"},
      "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    }

:func:`from_dataset_info` turns it into a :class:`~sftdata.formats.sharegpt.ShareGPT` or
:class:`~sftdata.formats.alpaca.Alpaca` codec with those names, plus the data file's path.
As in LLaMA-Factory, ``formatting`` defaults to ``alpaca``, and once an entry has
``columns`` the columns it leaves out are not read (an alpaca entry whose only column
is ``prompt`` is pretraining text, like ``c4_demo``). Tags the entry leaves out keep
their defaults (LLaMA-Factory would reject such turns; sftdata reads them).

>>> fmt = format_for_entry({"columns": {"prompt": "question", "response": "answer"}})
>>> fmt.decode({"question": "2+2?", "answer": "4"}).messages[1].content
'4'

The reverse, the entry that makes a written file loadable, is each format's
:meth:`~sftdata.formats.base.Format.dataset_info_entry`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import orjson

from ..errors import ReadError, UsageError
from ..record import MODALITIES
from . import _common as c
from .alpaca import Alpaca, AlpacaSpec
from .base import Format
from .sharegpt import ShareGPT, ShareGPTSpec

_TAGS = ("role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag")


def load_dataset_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "dataset_info.json"
    if not p.is_file():
        raise UsageError(f"dataset_info file not found: {p}", remedy="Give the path of LLaMA-Factory's data/dataset_info.json.")
    try:
        info = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ReadError(f"dataset_info.json is not valid JSON ({exc}).", path=str(p), code="invalid-json", remedy="Fix the JSON syntax.") from None
    if not isinstance(info, dict):
        raise ReadError("dataset_info.json must hold an object of named entries.", path=str(p), code="wrong-type")
    return info


def _media(columns: dict[str, Any]) -> dict[Any, str]:
    return {m: columns[c.MEDIA_COLUMNS[m]] for m in MODALITIES if isinstance(columns.get(c.MEDIA_COLUMNS[m]), str)}


def format_for_entry(entry: dict[str, Any], name: str = "<entry>") -> Format:
    """A codec configured by one ``dataset_info.json`` entry."""
    formatting = entry.get("formatting", "alpaca")
    columns = entry.get("columns")
    mapped = isinstance(columns, dict)
    cols: dict[str, Any] = columns if mapped else {}  # type: ignore[assignment]

    def col(key: str, default: str | None) -> str | None:
        """LLaMA-Factory: with a ``columns`` object, an unmapped column is unused."""
        return cols.get(key) if mapped else default

    if formatting == "sharegpt":
        tags = entry.get("tags") or {}
        defaults = ShareGPTSpec()
        spec = ShareGPTSpec(
            messages=col("messages", "conversations") or "conversations",
            system=col("system", defaults.system) or "",
            tools=col("tools", defaults.tools) or "",
            chosen=col("chosen", defaults.chosen) or "chosen",
            rejected=col("rejected", defaults.rejected) or "rejected",
            kto_tag=col("kto_tag", defaults.kto_tag) or "kto_tag",
            media=_media(cols) if mapped else dict(c.MEDIA_COLUMNS),
            ranking=bool(entry.get("ranking", False)),
            **{t: tags[t] for t in _TAGS if isinstance(tags.get(t), str)},
        )
        return ShareGPT(spec)
    if formatting == "alpaca":
        kto = col("kto_tag", None)
        spec_a = AlpacaSpec(
            prompt=col("prompt", "instruction"),
            query=col("query", "input"),
            response=col("response", "output"),
            history=col("history", "history"),
            system=col("system", "system"),
            tools=col("tools", "tools"),
            chosen=col("chosen", "chosen"),
            rejected=col("rejected", "rejected"),
            kto_tags=(kto,) if kto else (() if mapped else ("kto_tag", "label")),
            text=None if mapped else "text",
            media=_media(cols) if mapped else dict(c.MEDIA_COLUMNS),
        )
        if mapped and spec_a.prompt and not (spec_a.response or spec_a.chosen or kto):
            # prompt only: LLaMA-Factory's pretraining entries (c4_demo, wiki_demo)
            spec_a = AlpacaSpec(prompt=None, query=None, response=None, history=None, system=None, tools=None, chosen=None, rejected=None, kto_tags=(), text=spec_a.prompt, media={})
        return Alpaca(spec_a)
    raise UsageError(
        f"dataset '{name}' has formatting '{formatting}', which sftdata does not read.",
        remedy="LLaMA-Factory formattings read here: alpaca, sharegpt.",
    )


def from_dataset_info(path: str | os.PathLike[str], name: str) -> tuple[Format, Path]:
    """The codec and data file of entry ``name`` in a ``dataset_info.json``.

    >>> fmt, data = from_dataset_info("/work/shared/realdata/llamafactory/dataset_info.json", "kto_en_demo")  # doctest: +SKIP
    >>> fmt.name, data.name  # doctest: +SKIP
    ('sharegpt', 'kto_en_demo.json')
    """
    info = load_dataset_info(path)
    entry = info.get(name)
    if not isinstance(entry, dict):
        close = difflib.get_close_matches(name, list(info), n=3)
        hint = f" Did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        raise UsageError(f"no dataset '{name}' in {path}.{hint}", remedy="`sftdata detect --dataset-info PATH NAME` takes a name from that file.")
    file_name = entry.get("file_name")
    if not isinstance(file_name, str):
        remote = next((entry[k] for k in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name") if k in entry), None)
        raise UsageError(
            f"dataset '{name}' has no local file_name{f' (it is {remote})' if remote else ''}; sftdata reads local files only.",
            remedy="Download it, save it next to dataset_info.json and set its file_name.",
        )
    base = Path(path)
    folder = base if base.is_dir() else base.parent
    return format_for_entry(entry, name), folder / file_name
