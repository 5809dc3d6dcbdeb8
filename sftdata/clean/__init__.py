"""Cleaning steps: ``dedup``, ``filter`` and ``split``, each streaming, each with a reason
code for every row it drops. The CLI commands of the same names call these functions."""

from __future__ import annotations
