"""Where relative media paths point, and rewriting them for a new location.

A record's images/videos/audios are often relative paths. sftdata resolves them the
way LLaMA-Factory does by default: against the dataset file's folder (LLaMA-Factory
joins them to ``media_dir``, which defaults to ``dataset_dir``), or against an explicit
media root (``sftdata validate --media-root``, LLaMA-Factory's ``media_dir``). A file
written to another folder keeps such paths verbatim, so they no longer resolve there;
:class:`Rebase` rewrites them relative to the new folder. URLs (``http(s)://``,
``data:``, ``s3://``, ``gs://``), absolute paths and empty strings are never changed.

>>> rebase = Rebase(root="/data/llava", base="/data/llava/out")
>>> rebase("images/1.jpg"), rebase("/abs/2.jpg"), rebase("https://x.org/3.jpg")
('../images/1.jpg', '/abs/2.jpg', 'https://x.org/3.jpg')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath, PureWindowsPath

from ..record import MEDIA_PARTS, Message, Record

REMOTE = ("http://", "https://", "data:", "s3://", "gs://")
_MEDIA = tuple(MEDIA_PARTS.values())


def is_local_relative(url: str) -> bool:
    """A non-empty path that is neither a URL nor absolute (on this system, or a
    Windows path with a drive or UNC share, which a dataset made on Windows may hold)."""
    return bool(url) and not url.startswith(REMOTE) and not PurePath(url).is_absolute() and not PureWindowsPath(url).anchor


def resolve(url: str, base_dir: Path | None, media_root: Path | None) -> Path:
    """Where a local media path points: ``media_root``, else the dataset's folder, else
    the working directory."""
    p = Path(url)
    if p.is_absolute():
        return p
    return (media_root or base_dir or Path.cwd()) / p


@dataclass(frozen=True)
class Rebase:
    """Rewrite relative media paths that resolve against ``root`` so that they resolve
    against ``base`` (both folders; made absolute once, here)."""

    root: str | os.PathLike[str]
    base: str | os.PathLike[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", os.path.abspath(self.root))
        object.__setattr__(self, "base", os.path.abspath(self.base))

    def __call__(self, url: str) -> str:
        if not is_local_relative(url):
            return url
        target = os.path.normpath(os.path.join(self.root, url))  # type: ignore[arg-type]
        return PurePath(os.path.relpath(target, self.base)).as_posix()  # type: ignore[arg-type]

    def message(self, m: Message) -> Message:
        if isinstance(m.content, str):
            return m
        changed = False
        parts = []
        for p in m.content:
            if isinstance(p, _MEDIA) and (url := self(p.url)) != p.url:
                p, changed = p.model_copy(update={"url": url}), True
            parts.append(p)
        return m.model_copy(update={"content": tuple(parts)}) if changed else m

    def record(self, record: Record) -> Record:
        """``record`` with every media part's relative path rewritten."""
        update = {}
        for name in ("messages", "prompt", "chosen", "rejected", "completion"):
            messages = getattr(record, name, None)
            if messages:
                new = tuple(self.message(m) for m in messages)
                if any(a is not b for a, b in zip(new, messages)):
                    update[name] = new
        return record.model_copy(update=update) if update else record


__all__ = ["REMOTE", "Rebase", "is_local_relative", "resolve"]
