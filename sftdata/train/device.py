"""Device and precision choice: CUDA, then Ascend NPU, then CPU, with the reason logged.

``torch_npu`` is imported behind a guard that swallows *any* exception: in CPU-only
containers it can fail with ImportError, OSError (missing CANN libraries) or RuntimeError.
Nothing here calls a tensor's ``cuda`` method: tensors move with ``.to(choice.device)`` so that the same
code runs on ``npu:0``.

>>> choose_precision(DeviceChoice("cpu", "cpu", "asked"), bf16=False, fp16=False).dtype
'float32'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import UsageError

DeviceType = Literal["cuda", "npu", "cpu"]
DType = Literal["float32", "bfloat16", "float16"]


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """The device to train on (``cuda:0``, ``npu:0``, ``cpu``) and why it was chosen."""

    device: str
    type: DeviceType
    reason: str


@dataclass(frozen=True, slots=True)
class Precision:
    """Autocast dtype (``float32`` = no autocast), whether fp16 needs a GradScaler, and why."""

    dtype: DType
    grad_scaler: bool
    reason: str


def _torch() -> Any:
    import torch

    return torch


def import_torch_npu() -> tuple[bool, str]:
    """Import ``torch_npu`` (which registers ``torch.npu``); never raises."""
    try:
        import torch_npu  # noqa: F401  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - any failure means "no NPU here"
        return False, f"torch_npu is not usable ({type(exc).__name__}: {str(exc)[:120] or 'no message'})"
    return True, "torch_npu imported"


def _npu_status() -> tuple[bool, str]:
    ok, why = import_torch_npu()
    if not ok:
        return False, why
    torch = _torch()
    try:
        count = torch.npu.device_count() if torch.npu.is_available() else 0
    except Exception as exc:  # noqa: BLE001
        return False, f"torch.npu failed ({type(exc).__name__}: {exc})"
    visible = os.environ.get("ASCEND_RT_VISIBLE_DEVICES")
    where = f" (ASCEND_RT_VISIBLE_DEVICES={visible})" if visible is not None else ""
    if count == 0:
        return False, f"torch_npu imported but no NPU is visible{where}"
    return True, f"{count} Ascend NPU(s) visible{where}"


def _cuda_status() -> tuple[bool, str]:
    torch = _torch()
    if not torch.cuda.is_available():
        return False, "CUDA is not available"
    return True, f"{torch.cuda.device_count()} CUDA device(s): {torch.cuda.get_device_name(0)}"


_PROBES = {"cuda": _cuda_status, "npu": _npu_status}


def select_device(requested: str = "auto") -> DeviceChoice:
    """Pick the training device.

    ``auto`` tries CUDA, then Ascend NPU, then falls back to CPU. An explicit ``cuda``/
    ``npu`` (optionally ``:N``) that is unavailable is an error rather than a silent CPU run.

    Raises:
        UsageError: an unknown device name, or an explicit device that is not available.
    """
    requested = requested.strip().lower()
    if requested == "auto":
        reasons = []
        for kind in ("cuda", "npu"):
            ok, why = _PROBES[kind]()
            if ok:
                return DeviceChoice(f"{kind}:0", kind, f"auto: {why}")  # type: ignore[arg-type]
            reasons.append(why)
        return DeviceChoice("cpu", "cpu", "auto: " + "; ".join(reasons) + "; using the CPU")
    kind, _, index = requested.partition(":")
    if kind not in ("cpu", "cuda", "npu") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise UsageError(f"unknown device '{requested}'.", field="device", remedy="Use auto, cpu, cuda, cuda:N, npu or npu:N.")
    if kind == "cpu":
        return DeviceChoice("cpu", "cpu", "asked for the CPU")
    ok, why = _PROBES[kind]()
    if not ok:
        raise UsageError(f"device '{requested}' is not available: {why}.", field="device", remedy="Use --device auto to fall back to what is available.")
    return DeviceChoice(f"{kind}:{index or 0}", kind, f"asked for {kind}: {why}")  # type: ignore[arg-type]


def _bf16_supported(choice: DeviceChoice) -> bool:
    torch = _torch()
    if choice.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if choice.type == "npu":
        # 910A has no bf16; 910B does. Ask the runtime rather than guess from the name.
        return bool(getattr(torch.npu, "is_bf16_supported", lambda: False)())
    return True  # CPU autocast supports bf16 (slow without AMX, but correct)


def choose_precision(choice: DeviceChoice, *, bf16: bool, fp16: bool) -> Precision:
    """Resolve the requested mixed precision against what the device supports.

    bf16 where supported; on an accelerator without bf16 (Ascend 910A, old GPUs) fall back
    to fp16 with a GradScaler; fp16 on the CPU becomes float32 (CPU fp16 kernels are slow
    and incomplete).
    """
    if not bf16 and not fp16:
        return Precision("float32", False, "full float32 (neither bf16 nor fp16 asked)")
    if bf16:
        if _bf16_supported(choice):
            return Precision("bfloat16", False, f"bf16 autocast on {choice.device}")
        return Precision("float16", True, f"{choice.device} has no bf16: fp16 autocast with a GradScaler instead")
    if choice.type == "cpu":
        return Precision("float32", False, "fp16 asked but the CPU has no useful fp16 kernels: float32")
    return Precision("float16", True, f"fp16 autocast with a GradScaler on {choice.device}")


def prepare_device(choice: DeviceChoice, *, npu_jit_compile: bool = False) -> None:
    """Device-specific setup before the model is built."""
    if choice.type == "npu":
        torch = _torch()
        # Operator JIT compilation makes the first steps very slow and is rarely faster on
        # 910B with dynamic shapes; off unless asked.
        try:
            torch.npu.set_compile_mode(jit_compile=npu_jit_compile)
        except Exception:  # noqa: BLE001 - older torch_npu lacks the switch
            pass
        torch.npu.set_device(choice.device)
    elif choice.type == "cuda":
        _torch().cuda.set_device(choice.device)
