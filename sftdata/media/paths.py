"""Where relative media paths point, and rewriting them for a new location.

A record's images/videos/audios are often relative paths. sftdata resolves them the
way LLaMA-Factory does by default: against the dataset file's folder (LLaMA-Factory
joins them to ``media_dir``, which defaults to ``dataset_dir``), or against an explicit
media root (``sftdata validate --media-root``, LLaMA-Factory's ``media_dir``). A file
written to another folder keeps such paths verbatim, so they no longer resolve there;
:class:`Rebase` rewrites them relative to the new folder. URLs (any ``scheme://``,
``file://`` included, and ``data:``), absolute paths and empty strings are never changed,
and URLs are never opened.

A path may point anywhere (LLaMA-Factory legitimately uses absolute paths), so sftdata
reads it, but says so when it resolves (``..``, absolute, or through a symlink) outside
the dataset's folder and the media root: :func:`outside` (the ``media-outside`` warning;
``--confine-media`` refuses to open such paths).

>>> rebase = Rebase(root="/data/llava", base="/data/llava/out")
>>> rebase("images/1.jpg"), rebase("/abs/2.jpg"), rebase("https://x.org/3.jpg"), rebase("file:///etc/passwd")
('../images/1.jpg', '/abs/2.jpg', 'https://x.org/3.jpg', 'file:///etc/passwd')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath, PureWindowsPath

from ..record import MEDIA_PARTS, Message, Record

REMOTE = ("http://", "https://", "data:", "s3://", "gs://")
_MEDIA = tuple(MEDIA_PARTS.values())
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(url: str) -> bool:
    """``data:`` or any ``scheme://`` (``file://`` included): never a local path to
    resolve, rewrite or open.

    >>> is_url("file:///etc/passwd"), is_url("https://x/1.png"), is_url("C:/data/1.png"), is_url("a/b.png")
    (True, True, False, False)
    """
    return url.startswith("data:") or _SCHEME.match(url) is not None


def is_local_relative(url: str) -> bool:
    """A non-empty path that is neither a URL nor absolute (on this system, or a
    Windows path with a drive or UNC share, which a dataset made on Windows may hold)."""
    return bool(url) and not is_url(url) and not PurePath(url).is_absolute() and not PureWindowsPath(url).anchor


def outside(path: str | os.PathLike[str], folders: Iterable[Path | None]) -> bool:
    """Whether ``path``, with symlinks and ``..`` resolved, lies outside every one of
    ``folders`` (``None`` entries are skipped; no folder at all: never outside).

    >>> outside("/data/set/../../etc/passwd", [Path("/data/set")]), outside("/data/set/img/1.png", [Path("/data/set")])
    (True, False)
    """
    roots = [os.path.realpath(f) for f in folders if f is not None]
    if not roots:
        return False
    real = os.path.realpath(path)
    return not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


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


def outside_paths(records: Iterable[Record], media_root: str | os.PathLike[str] | None = None, limit: int = 20) -> tuple[int, list[str]]:
    """How many local media paths of ``records`` resolve outside their dataset's folder
    and ``media_root``, and up to ``limit`` of them as ``file:line url -> resolved``."""
    root = Path(media_root) if media_root else None
    count, shown = 0, []
    for record in records:
        source = record.source
        base = Path(source.path).parent if source is not None else None
        for name in ("messages", "prompt", "chosen", "rejected", "completion"):
            for m in getattr(record, name, None) or ():
                for part in m.media():
                    if not part.url or is_url(part.url):
                        continue
                    path = resolve(part.url, base, root)
                    if outside(path, (base, root)):
                        count += 1
                        if len(shown) < limit:
                            shown.append(f"{source or '?'} {part.url} -> {os.path.realpath(path)}")
    return count, shown


__all__ = ["REMOTE", "Rebase", "is_local_relative", "is_url", "outside", "outside_paths", "resolve"]
