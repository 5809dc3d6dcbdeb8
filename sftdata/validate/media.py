"""Multimodal rules: media files exist and images decode.

Paths are resolved against ``--media-root`` when given, else the dataset file's folder
(LLaMA-Factory's ``media_dir`` default). URLs (``http(s)://``, ``data:``) are not fetched.
Results are cached per resolved path, since datasets reuse images across records.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..media.paths import REMOTE as _REMOTE
from ..media.paths import resolve
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
                if not url or url.startswith(_REMOTE):
                    continue
                path = resolve(url, ctx.base_dir, ctx.media_root)
                if not _exists(str(path)):
                    ctx.add("media-missing", f"{part.type} file not found: {path}", where)
                elif part.type == "image":
                    err = _decode_error(str(path))
                    if err:
                        ctx.add("media-unreadable", f"image {url} does not decode ({err})", where)
