from __future__ import annotations

import types
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from sftdata.errors import UsageError  # noqa: E402
from sftdata.train import device as dev  # noqa: E402
from sftdata.train.device import DeviceChoice, Precision, choose_precision, select_device  # noqa: E402


class FakeNPU(types.SimpleNamespace):
    pass


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def fake_npu(monkeypatch: pytest.MonkeyPatch, count: int, bf16: bool = True) -> None:
    npu = FakeNPU(is_available=lambda: count > 0, device_count=lambda: count, is_bf16_supported=lambda: bf16)
    monkeypatch.setattr(torch, "npu", npu, raising=False)
    monkeypatch.setattr(dev, "import_torch_npu", lambda: (True, "torch_npu imported"))


def test_auto_prefers_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "FakeGPU")
    fake_npu(monkeypatch, 8)
    assert select_device("auto") == DeviceChoice("cuda:0", "cuda", "auto: 2 CUDA device(s): FakeGPU")


def test_auto_takes_npu_without_cuda(monkeypatch: pytest.MonkeyPatch, no_cuda: None) -> None:
    fake_npu(monkeypatch, 2)
    monkeypatch.setenv("ASCEND_RT_VISIBLE_DEVICES", "4,5")
    assert select_device("auto") == DeviceChoice("npu:0", "npu", "auto: 2 Ascend NPU(s) visible (ASCEND_RT_VISIBLE_DEVICES=4,5)")
    assert select_device("npu:1").device == "npu:1"


def test_auto_falls_back_to_cpu_when_torch_npu_import_explodes(monkeypatch: pytest.MonkeyPatch, no_cuda: None) -> None:
    import builtins

    real_import = builtins.__import__

    def exploding(name: str, *args: object, **kw: object) -> object:
        if name == "torch_npu":
            raise OSError("libascendcl.so: cannot open shared object file")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", exploding)
    choice = select_device("auto")
    assert choice == DeviceChoice(
        "cpu", "cpu", "auto: CUDA is not available; torch_npu is not usable (OSError: libascendcl.so: cannot open shared object file); using the CPU"
    )


def test_npu_without_visible_devices_falls_back(monkeypatch: pytest.MonkeyPatch, no_cuda: None) -> None:
    fake_npu(monkeypatch, 0)
    monkeypatch.delenv("ASCEND_RT_VISIBLE_DEVICES", raising=False)
    assert select_device("auto").device == "cpu"
    with pytest.raises(UsageError, match="no NPU is visible"):
        select_device("npu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:1", "tpu"])
def test_unknown_device_is_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="unknown device"):
        select_device(name)


def test_explicit_cuda_unavailable_is_an_error(no_cuda: None) -> None:
    with pytest.raises(UsageError, match="not available"):
        select_device("cuda")


def test_precision_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    npu = DeviceChoice("npu:0", "npu", "t")
    fake_npu(monkeypatch, 1, bf16=False)  # Ascend 910A
    assert choose_precision(npu, bf16=True, fp16=False) == Precision("float16", True, "npu:0 has no bf16: fp16 autocast with a GradScaler instead")
    fake_npu(monkeypatch, 1, bf16=True)  # Ascend 910B
    assert choose_precision(npu, bf16=True, fp16=False) == Precision("bfloat16", False, "bf16 autocast on npu:0")
    cpu = DeviceChoice("cpu", "cpu", "t")
    assert choose_precision(cpu, bf16=False, fp16=True).dtype == "float32"
    assert choose_precision(cpu, bf16=True, fp16=False).dtype == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # e.g. a V100
    cuda = DeviceChoice("cuda:0", "cuda", "t")
    assert choose_precision(cuda, bf16=True, fp16=False) == Precision("float16", True, "cuda:0 has no bf16: fp16 autocast with a GradScaler instead")
    assert choose_precision(cuda, bf16=False, fp16=True).grad_scaler


def test_no_literal_cuda_calls_in_the_trainer() -> None:
    for path in Path(dev.__file__).parent.glob("*.py"):
        assert ".cuda()" not in path.read_text(), path
