"""Training state on disk without pickle: JSON for structure, safetensors for tensors.

A checkpoint's ``trainer_state.json`` holds everything that is not a tensor (step, log
history, totals, scheduler and grad-scaler state, the optimizer's param groups, Python's
RNG state) and names each tensor by a key into ``trainer_state.safetensors`` (optimizer
moments, torch's RNG state, precomputed reference log-probs). Loading parses JSON and
safetensors only, so a crafted checkpoint cannot run code (``torch.load`` of a pickle can).

>>> flat = {}
>>> to_json({"a": (1, 2.5), "b": [None, "x"]}, flat, "s")
{'a': [1, 2.5], 'b': [None, 'x']}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_STATE = "trainer_state.pt"
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"


def to_json(value: Any, tensors: dict[str, Any], key: str) -> Any:
    """``value`` with every tensor moved into ``tensors`` (under a key derived from ``key``)
    and replaced by ``{"__tensor__": key}``; tuples become lists (tagged where they must
    come back as tuples: Python's RNG state)."""
    if hasattr(value, "detach") and hasattr(value, "dtype"):
        tensors[key] = value.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(value, dict):
        return {str(k): to_json(v, tensors, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, tensors, f"{key}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {key} in a checkpoint")


def from_json(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        if set(value) == {_TUPLE}:
            return tuple(from_json(v, tensors) for v in value[_TUPLE])
        return {k: from_json(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v, tensors) for v in value]
    return value


def _int_keys(state: dict[str, Any]) -> dict[Any, Any]:
    """JSON turns the optimizer's integer state keys into strings; turn them back."""
    return {int(k) if k.isdigit() else k: v for k, v in state.items()}


def python_rng(state: tuple[Any, ...]) -> dict[str, Any]:
    version, internal, gauss = state
    return {_TUPLE: [version, {_TUPLE: list(internal)}, gauss]}


def save_state(folder: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (nested dicts/lists of JSON values and tensors) into ``folder``."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    data = {k: to_json(v, tensors, k) for k, v in state.items()}
    save_file(tensors, str(folder / STATE_TENSORS))
    (folder / STATE_JSON).write_text(json.dumps(data, indent=1), encoding="utf-8")


def load_state(folder: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_state`; never unpickles.

    Raises:
        UsageError: a missing or unreadable state (an old pickle ``trainer_state.pt`` is
            refused, not loaded).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / STATE_JSON
    if not path.is_file() or not (folder / STATE_TENSORS).is_file():
        old = " It holds a pickled trainer_state.pt, which sftdata never loads (a pickle can run code)." if (folder / LEGACY_STATE).exists() else ""
        raise UsageError(f"'{folder}' is not a checkpoint of this sftdata version (no {STATE_JSON} + {STATE_TENSORS}).{old}", field="resume_from_checkpoint", remedy="Resume from a checkpoint written by this version, or start the run again.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tensors = load_file(str(folder / STATE_TENSORS))
    except (ValueError, UnicodeDecodeError, SafetensorError, OSError) as err:
        raise UsageError(f"the checkpoint state in '{folder}' is unreadable ({type(err).__name__}: {str(err)[:200]}).", path=str(path), field="resume_from_checkpoint", remedy="Resume from another checkpoint-N folder, or start the run again.") from None
    if not isinstance(data, dict):
        raise UsageError(f"the checkpoint state in '{folder}' is not a JSON object.", path=str(path), remedy="Resume from another checkpoint-N folder.")
    try:
        out = {k: from_json(v, tensors) for k, v in data.items()}
    except (KeyError, TypeError) as err:
        raise UsageError(f"the checkpoint state in '{folder}' names a tensor it does not hold ({err}).", path=str(path), remedy="Resume from another checkpoint-N folder.") from None
    if isinstance(out.get("optimizer"), dict) and isinstance(out["optimizer"].get("state"), dict):
        out["optimizer"]["state"] = _int_keys(out["optimizer"]["state"])
    return out
