"""Image sizes read from file headers, shared by ``stats``, ``check``, ``filter`` and
``validate``: a path (resolved like LLaMA-Factory resolves it), a ``data:`` URL, or a
reason why the size cannot be known.

Sizes come from the header with ``imagesize`` (pure Python, a core dependency: the first
install counts image tokens right); Pillow (the ``images`` extra) is used only for the
formats ``imagesize`` does not know, and by ``validate`` to check that an image decodes.
EXIF orientation is ignored, as Pillow's ``Image.size`` and LLaMA-Factory ignore it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
from pathlib import Path
from typing import Any

from .paths import is_url, outside, resolve


@functools.lru_cache(maxsize=1)
def has_pillow() -> bool:
    """Whether Pillow (the ``images`` extra) is installed: it decodes images; sizes
    are read without it."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


NO_PILLOW = "Pillow (pip install 'sftdata[images]') is not installed, so images cannot be decoded"

Size = tuple[int, int] | tuple[str, str]


def _header_size(source: Any, name: str) -> Size:
    """``(width, height)`` from the header (``imagesize``; Pillow for other formats)."""
    import imagesize

    try:
        w, h = imagesize.get(source, exif_rotation=False)
    except Exception as exc:  # a truncated or corrupt header
        w, h, why = -1, -1, f"{type(exc).__name__}: {exc}"
    else:
        why = "not an image format whose header can be read"
    if w > 0 and h > 0:
        return (w, h)
    if has_pillow():
        from PIL import Image

        if isinstance(source, io.BytesIO):
            source.seek(0)
        try:
            with Image.open(source) as img:
                return img.size  # type: ignore[no-any-return]
        except Exception as exc:  # Pillow raises many types for corrupt files
            why = f"{type(exc).__name__}: {exc}"
    else:
        why += " (Pillow, pip install 'sftdata[images]', reads more formats)"
    return ("media-unreadable", f"image {name} does not decode ({why})")


@functools.lru_cache(maxsize=65536)
def _size_of_file(path: str) -> Size:
    """``(width, height)`` from the header, or ``(code, why)`` (cached: images repeat)."""
    if not Path(path).is_file():
        return ("media-missing", f"image file not found: {path}")
    return _header_size(path, path)


@functools.lru_cache(maxsize=65536)
def _outside(path: str, base_dir: Path | None, root: Path | None) -> bool:
    return outside(path, (base_dir, root))


def is_outside(path: str, base_dir: Path | None, root: Path | None) -> bool:
    """Whether a resolved media path lies outside the dataset's folder and the media
    root (symlinks followed; cached: paths repeat)."""
    return _outside(path, base_dir, root)


def image_size(url: str, base_dir: Path | None, root: Path | None, confine: bool = False) -> Size:
    """``(width, height)`` of an image given as a path (resolved like LLaMA-Factory) or a
    ``data:`` URL, or ``(code, why)`` when it cannot be read; URLs are never fetched.
    With ``confine``, a path outside ``base_dir`` and ``root`` is not opened (``media-outside``)."""
    if url.startswith("data:"):
        try:
            data = base64.b64decode(url.split(",", 1)[1])
        except (IndexError, ValueError, binascii.Error) as exc:
            return ("media-unreadable", f"data: image does not decode ({type(exc).__name__}: {exc})")
        return _header_size(io.BytesIO(data), "data:")
    if not url or is_url(url):
        return ("media-remote", f"image {url or '(empty path)'} is not a local file (URLs are not fetched)")
    path = resolve(url, base_dir, root)
    if confine and is_outside(str(path), base_dir, root):
        return ("media-outside", f"image {url} resolves outside the dataset folder{' and the media root' if root else ''} and was not opened (--confine-media)")
    return _size_of_file(str(path))
