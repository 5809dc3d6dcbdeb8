"""Multimodal rules: media files exist, images decode, and paths stay where they should.

Paths are resolved against ``--media-root`` when given, else the dataset file's folder
(LLaMA-Factory's ``media_dir`` default). URLs (any ``scheme://``, ``file://`` included,
and ``data:``) are never opened. A path that resolves outside the dataset's folder and the
media root is read (LLaMA-Factory reads absolute paths too) and reported as
``media-outside``; with ``--confine-media`` it is an error and the file is not opened.
Results are cached per resolved path, since datasets reuse images across records.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import Issue
from ..media.paths import is_url, resolve
from ..media.sizes import is_outside
from .checks import Context


@functools.lru_cache(maxsize=65536)
def _exists(path: str) -> bool:
    return Path(path).is_file()


@functools.lru_cache(maxsize=65536)
def _decode_error(path: str) -> str | None:
    """Why an image does not decode, or ``None`` when it does (or Pillow is absent)."""
    try:
        from PIL import Image
    except ImportError:  # the `images` extra: without it, existence is all we check
        return None
    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as exc:  # Pillow raises many types for corrupt files
        return f"{type(exc).__name__}: {exc}"
    return None


def check_media(ctx: Context) -> None:
    if not ctx.check_media:
        return
    seen: dict[str, int] = {}
    for turns in ctx.turns.values():
        for t in turns:
            for part in t.message.media():
                k = seen.get(part.type, 0)
                seen[part.type] = k + 1
                where = ctx.media_field(part.type, k) if ctx.media_field else t.content_path
                url = part.url
                if not url or is_url(url):
                    continue
                path = resolve(url, ctx.base_dir, ctx.media_root)
                if is_outside(str(path), ctx.base_dir, ctx.media_root) and ctx.profile.enabled("media-outside"):
                    folders = f"the dataset folder {ctx.base_dir}" + (f" and the media root {ctx.media_root}" if ctx.media_root else "")
                    said = f"{part.type} {url} resolves to {os.path.realpath(path)}, outside {folders}"
                    if ctx.confine_media:
                        ctx.issues.append(Issue("media-outside", f"{said}; not opened (--confine-media)", where, "error"))
                        continue
                    ctx.add("media-outside", said, where)
                if not _exists(str(path)):
                    ctx.add("media-missing", f"{part.type} file not found: {path}", where)
                elif part.type == "image":
                    err = _decode_error(str(path))
                    if err:
                        ctx.add("media-unreadable", f"image {url} does not decode ({err})", where)
