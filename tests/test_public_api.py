from __future__ import annotations

import importlib

import sftdata


def test_all_is_sorted_and_resolves() -> None:
    assert sftdata.__all__ == sorted(sftdata.__all__)
    for name in sftdata.__all__:
        assert getattr(sftdata, name) is not None, name


def test_exports_point_at_their_defining_module() -> None:
    for name, module in sftdata._EXPORTS.items():
        assert getattr(importlib.import_module(f"sftdata.{module}"), name) is getattr(sftdata, name)


def test_submodule_import_does_not_shadow_public_function() -> None:
    importlib.import_module("sftdata.detect")
    assert callable(sftdata.detect)
    assert sftdata.detect is importlib.import_module("sftdata.detect").detect
