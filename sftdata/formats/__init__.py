"""Dataset formats: one module per format, each registering a codec.

See :mod:`sftdata.formats.base` for the protocol.
"""

from __future__ import annotations

import importlib

from .base import Detection, Format, LossReport, all_formats, get_format, register_format

_BUILTIN = ("alpaca", "llamafactory_v1", "openai", "openai_preference", "sharegpt", "trl")
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN:
        importlib.import_module(f"{__name__}.{module}")


__all__ = ["Detection", "Format", "LossReport", "all_formats", "get_format", "register_format"]
