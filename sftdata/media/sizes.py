"""Image sizes read from file headers, shared by ``stats``, ``check``, ``filter`` and
``validate``: a path (resolved like LLaMA-Factory resolves it), a ``data:`` URL, or a
reason why the size cannot be known."""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path

from .paths import REMOTE, resolve


@functools.lru_cache(maxsize=1)
def has_pillow() -> bool:
    """Whether image sizes can be read (Pillow, the ``images`` extra)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


NO_PILLOW = "Pillow (pip install 'sftdata[images]') is not installed, so image sizes cannot be read"


@functools.lru_cache(maxsize=65536)
def _size_of_file(path: str) -> tuple[int, int] | tuple[str, str]:
    """``(width, height)`` from the header, or ``(code, why)`` (cached: images repeat)."""
    from PIL import Image

    if not Path(path).is_file():
        return ("media-missing", f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as exc:  # Pillow raises many types for corrupt files
        return ("media-unreadable", f"image {path} does not decode ({type(exc).__name__}: {exc})")


def image_size(url: str, base_dir: Path | None, root: Path | None) -> tuple[int, int] | tuple[str, str]:
    """``(width, height)`` of an image given as a path (resolved like LLaMA-Factory) or a
    ``data:`` URL, or ``(code, why)`` when it cannot be read; URLs are never fetched."""
    if url.startswith("data:"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
                return img.size
        except Exception as exc:
            return ("media-unreadable", f"data: image does not decode ({type(exc).__name__}: {exc})")
    if not url or url.startswith(REMOTE):
        return ("media-remote", f"image {url or '(empty path)'} is not a local file (URLs are not fetched)")
    return _size_of_file(str(resolve(url, base_dir, root)))
