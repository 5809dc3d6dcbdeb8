from __future__ import annotations

import importlib
import types

import sftdata


def test_all_is_sorted_and_resolves() -> None:
    assert sftdata.__all__ == sorted(sftdata.__all__)
    for name in sftdata.__all__:
        assert getattr(sftdata, name) is not None, name


def test_exports_point_at_their_defining_module() -> None:
    for name, module in sftdata._EXPORTS.items():
        assert getattr(importlib.import_module(f"sftdata.{module}"), name) is getattr(sftdata, name)


def test_submodule_import_does_not_shadow_public_function() -> None:
    # sftdata.detect/validate/train are functions and also (sub)packages of the same name
    for name, submodule in (("detect", "sftdata.detect"), ("validate", "sftdata.validate.rules"), ("train", "sftdata.train.config")):
        importlib.import_module(submodule)
        assert isinstance(getattr(sftdata, name), types.FunctionType), name
