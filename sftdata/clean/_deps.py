"""The optional libraries of near-duplicate detection (the ``dedup`` extra), loaded on
first use with an install hint when absent. The lowest floor of ``clean``: the text
folding and the sketches both use it."""

from __future__ import annotations

from typing import Any

from ..errors import missing


def _np() -> Any:
    try:
        import numpy
    except ImportError:
        raise missing("numpy", "dedup", "Near-duplicate detection") from None
    return numpy


def _rensa() -> Any:
    try:
        import rensa
    except ImportError:
        raise missing("rensa", "dedup", "Near-duplicate detection") from None
    return rensa
