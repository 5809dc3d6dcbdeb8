"""Placeholder for the fast path (filled in below)."""

from __future__ import annotations

from typing import Any


def fast_outcomes(path: Any, validator: Any, workers: int) -> None:
    return None
