from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _trainkit import base_config, make_records, write_jsonl

torch = pytest.importorskip("torch")

import sftdata  # noqa: E402
from sftdata.train import loop  # noqa: E402
from sftdata.train import model as model_module  # noqa: E402
from sftdata.train.config import TrainConfig  # noqa: E402
from sftdata.train.data import IGNORE, Example, collate  # noqa: E402
from sftdata.train.model import lora_target_modules, token_loss_sum  # noqa: E402
from sftdata.train.sft import SFTStage, tensors  # noqa: E402
from sftdata.train.state import load_state  # noqa: E402

SFT = SFTStage(TrainConfig(model_name_or_path="-", dataset="-", output_dir="-"))


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> Any:
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    m.config.use_cache = False
    return m


def examples() -> list[Example]:
    g = torch.Generator().manual_seed(0)
    out = []
    for n, prompt in [(9, 3), (21, 15), (6, 2), (30, 4)]:
        ids = tuple(torch.randint(0, 5000, (n,), generator=g).tolist())
        out.append(Example(ids, (IGNORE,) * prompt + ids[prompt:]))
    return out


def grads(model: Any) -> list[Any]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_accumulation_window_equals_one_big_batch(model: Any) -> None:
    ex = examples()
    model.zero_grad()
    loss_a, _ = loop.accumulate(SFT, model, [collate([[ex[0]], [ex[1]]], 0), collate([[ex[2]], [ex[3]]], 0)], "cpu")
    g_window = grads(model)
    model.zero_grad()
    loss_b, _ = loop.accumulate(SFT, model, [collate([[e] for e in ex], 0)], "cpu")
    g_big = grads(model)
    model.zero_grad()
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    for a, b in zip(g_window, g_big, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    # the usual shortcut (mean per micro-batch / steps) gives a different gradient here
    for batch in (collate([[ex[0]], [ex[1]]], 0), collate([[ex[2]], [ex[3]]], 0)):
        ids, tgt, pos = tensors(batch, "cpu")
        (token_loss_sum(model, ids, tgt, pos) / batch.n_trained / 2).backward()
    g_naive = grads(model)
    model.zero_grad()
    rel = max(float((a - b).norm() / b.norm()) for a, b in zip(g_naive, g_big) if b.norm() > 0)
    assert rel > 0.01


def test_packed_rows_do_not_see_each_other(model: Any) -> None:
    ex = examples()
    with torch.no_grad():
        alone = sum(float(token_loss_sum(model, *tensors(collate([[e]], 0), "cpu"))) for e in ex)
        packed_batch = collate([[ex[0], ex[1]], [ex[2], ex[3]]], 0)
        packed = float(token_loss_sum(model, *tensors(packed_batch, "cpu")))
        # the same packed rows without position_ids attend across row boundaries
        ids, tgt, _ = tensors(packed_batch, "cpu")
        leaky = float(token_loss_sum(model, ids, tgt, None))
    # a random tiny model barely depends on context, so compare against the leak's size
    assert packed == pytest.approx(alone, rel=1e-5)
    assert abs(packed - alone) * 100 < abs(leaky - alone)


def test_lora_all_targets_every_linear_but_the_head(model: Any) -> None:
    names = lora_target_modules(model, "all")
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert names == [n for n in linear if n != "lm_head"] and len(names) == 14
    assert lora_target_modules(model, ["q_proj", "v_proj"]) == [n for n in linear if n.endswith(("q_proj", "v_proj"))]


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("finetuning_type", ["lora", "full"])
def test_resume_continues_the_same_loss_curve_and_eval_runs(tiny_model: Path, tmp_path: Path, finetuning_type: str) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_records(24))
    first = tmp_path / "first"
    cfg = base_config(tiny_model, data, first, finetuning_type=finetuning_type, learning_rate=5e-3, max_steps=4, save_steps=2, val_size=8, eval_steps=2, per_device_train_batch_size=4)
    metrics = sftdata.train(cfg)
    assert metrics["data"] == {"read": 24, "train": 16, "eval": 8, "dropped": {}, "truncated": 0}
    log = read_log(first)
    assert [e["step"] for e in log] == [1, 2, 2, 3, 4, 4]
    assert [("loss" in e, "eval_loss" in e) for e in log] == [(True, False), (True, False), (False, True), (True, False), (True, False), (False, True)]
    assert metrics["eval_loss"] == log[-1]["eval_loss"] < log[2]["eval_loss"]
    assert {p.name for p in (first / "checkpoint-2").iterdir()} >= {"trainer_state.json", "trainer_state.safetensors"}
    assert not list(first.rglob("*.pt")) and not list(first.rglob("*.bin"))  # nothing pickled
    # save_steps 2 and 4 steps: the final step has its checkpoint too (issue 11)
    assert (first / "checkpoint-4" / "trainer_state.json").is_file()

    second = tmp_path / "second"
    second.mkdir()
    shutil.copytree(first / "checkpoint-2", second / "checkpoint-2")
    resumed = sftdata.train({**cfg, "output_dir": str(second)}, ["--resume"])
    log2 = read_log(second)
    assert [e["step"] for e in log2] == [e["step"] for e in log]
    for a, b in zip(log, log2):
        assert a.keys() == b.keys()
        for key in ("loss", "eval_loss", "lr", "grad_norm"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4), (key, a, b)
    assert resumed["train_loss"] == pytest.approx(metrics["train_loss"], rel=1e-4)
    assert resumed["trained_tokens"] == metrics["trained_tokens"]


def test_lora_adapter_saves_loads_and_changes_outputs(tiny_model: Path, tmp_path: Path) -> None:
    import peft
    from transformers import AutoModelForCausalLM

    data = write_jsonl(tmp_path / "d.jsonl", make_records(16))
    out = tmp_path / "lora"
    metrics = sftdata.train(base_config(tiny_model, data, out, finetuning_type="lora", lora_rank=4, learning_rate=1e-2, max_steps=3, val_size=4))
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    assert not (out / "model.safetensors").exists()
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    ids = torch.tensor([[151644, 872, 198, 17, 5519, 220, 18, 30, 151645]])
    with torch.no_grad():
        before = base(input_ids=ids).logits
        tuned = peft.PeftModel.from_pretrained(base, out)
        after = tuned(input_ids=ids).logits
    assert not torch.allclose(before, after, atol=1e-4)
    # the saved adapter is the trained one: its eval loss is the run's
    from sftdata.train import _tokenization, get_stage
    from sftdata.train.config import load_config
    from sftdata.train.data import DataReport, load_examples, resolve_dataset, split

    cfg = load_config(base_config(tiny_model, data, out, val_size=4))
    _t, _p, encode = _tokenization(cfg)
    _train, held = split(load_examples(resolve_dataset(cfg.dataset, "."), encode, max_samples=None, report=DataReport(), stage=get_stage(cfg)), 4, cfg.seed)
    import contextlib

    assert loop.evaluate(SFT, tuned, held, cfg, "cpu", contextlib.nullcontext, 0)[0] == pytest.approx(metrics["eval_loss"], rel=1e-5)


def test_non_finite_gradient_norm_skips_the_step(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = model_module.token_loss_sum

    def first_is_nan(*args: Any) -> Any:
        calls["n"] += 1
        loss = real(*args)
        return loss * float("nan") if calls["n"] == 1 else loss

    monkeypatch.setattr(model_module, "token_loss_sum", first_is_nan)
    data = write_jsonl(tmp_path / "d.jsonl", make_records(8))
    out = tmp_path / "nan"
    messages: list[str] = []
    metrics = sftdata.train(base_config(tiny_model, data, out, finetuning_type="lora", max_steps=2), echo=messages.append)
    assert metrics["skipped_steps"] == 1
    assert read_log(out)[0] == {"step": 1, "skipped": True, "grad_norm": "nan"}
    assert "step 1: gradient norm is nan; step skipped" in messages


def test_gradient_checkpointing_gives_the_same_gradients(tiny_model: Path) -> None:
    from sftdata.train.config import TrainConfig
    from sftdata.train.model import load_model

    batch = collate([[e] for e in examples()], 0)
    got = []
    for checkpointing in (False, True):
        cfg = TrainConfig(model_name_or_path=str(tiny_model), dataset="-", output_dir="-", finetuning_type="lora", gradient_checkpointing=checkpointing)
        torch.manual_seed(0)
        model = load_model(cfg, "cpu", "float32")
        model.train()
        base = model.get_base_model()
        assert getattr(base, "is_activation_checkpointing", None) == checkpointing
        token_loss_sum(model, *tensors(batch, "cpu")).backward()
        got.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert got[0].keys() == got[1].keys() and len(got[0]) == 28
    for name in got[0]:
        torch.testing.assert_close(got[0][name], got[1][name], rtol=1e-4, atol=1e-7)


def test_fp16_autocast_with_grad_scaler_trains_and_resumes(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU/NPU-without-bf16 path (fp16 autocast + GradScaler), forced onto the CPU,
    which on its own picks float32: the loss falls, the scaler's state is checkpointed
    and a resumed run continues the same curve."""
    from sftdata.train import device

    def fp16(choice: Any, *, bf16: bool, fp16: bool) -> Any:
        return device.Precision("float16", True, "fp16 autocast with a GradScaler (forced for this test)")

    monkeypatch.setattr(device, "choose_precision", fp16)
    data = write_jsonl(tmp_path / "d.jsonl", make_records(24))
    first = tmp_path / "first"
    cfg = base_config(tiny_model, data, first, finetuning_type="lora", learning_rate=5e-3, max_steps=4, save_steps=2, per_device_train_batch_size=4)
    messages: list[str] = []
    metrics = sftdata.train(cfg, echo=messages.append)
    assert "precision: fp16 autocast with a GradScaler (forced for this test)" in messages
    log = [e for e in read_log(first) if "loss" in e]
    assert len(log) == 4 and all(torch.isfinite(torch.tensor(e["loss"])) for e in log)
    state = load_state(first / "checkpoint-2")
    assert state["scaler"] is not None and state["scaler"]["scale"] > 0
    second = tmp_path / "second"
    second.mkdir()
    shutil.copytree(first / "checkpoint-2", second / "checkpoint-2")
    resumed = sftdata.train({**cfg, "output_dir": str(second)}, ["--resume"])
    assert resumed["train_loss"] == pytest.approx(metrics["train_loss"], rel=1e-3)
