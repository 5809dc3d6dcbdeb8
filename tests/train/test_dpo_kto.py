"""DPO and KTO: the losses equal LLaMA-Factory's formulas and TRL's trainers on a fixed
tiny model and batch, logs carry TRL's names, and a toy preference set is learned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _trainkit import base_config, make_kto, make_pairs, write_jsonl

torch = pytest.importorskip("torch")
F = torch.nn.functional

import sftdata  # noqa: E402
from sftdata.train import _tokenization  # noqa: E402
from sftdata.train.config import TrainConfig  # noqa: E402
from sftdata.train.data import IGNORE, DataReport, load_examples  # noqa: E402
from sftdata.train.dpo import DPOStage  # noqa: E402
from sftdata.train.kto import KTOStage  # noqa: E402


@pytest.fixture(scope="module")
def models(tiny_model: Path) -> tuple[Any, Any]:
    """A policy and a reference that differ (the policy's weights are perturbed)."""
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    policy = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    policy.eval()
    return policy, ref


def cfg(data: Path, **kw: Any) -> TrainConfig:
    return TrainConfig(model_name_or_path="unused", dataset=str(data), output_dir="unused", tokenizer="qwen2.5", cutoff_len=64, **kw)


def examples_of(config: TrainConfig, stage: Any) -> list[Any]:
    _tok, _tpl, encode = _tokenization(config)
    return load_examples([(Path(config.dataset), "auto")], encode, max_samples=None, report=DataReport(), stage=stage)


# LLaMA-Factory's trainer_utils.get_batch_logps, on full logits (the reference path)
def lf_batch_logps(logits: Any, labels: Any) -> tuple[Any, Any]:
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    mask = labels != IGNORE
    labels[labels == IGNORE] = 0
    per_token = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    return (per_token * mask).sum(-1), mask.sum(-1)


def padded(rows: list[tuple[int, ...]], value: int) -> Any:
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows])


def lf_dpo(policy: Any, ref: Any, pairs: list[Any], loss_type: str, beta: float, ftx: float, gamma: float) -> Any:
    """LLaMA-Factory's CustomDPOTrainer.get_batch_loss_metrics, transcribed (its
    dpo_loss for sigmoid/hinge/ipo is TRL's classic formula)."""
    ids = padded([p.chosen.input_ids for p in pairs] + [p.rejected.input_ids for p in pairs], 0)
    labels = padded([p.chosen.labels for p in pairs] + [p.rejected.labels for p in pairs], IGNORE)
    n = len(pairs)

    def forward(model: Any) -> tuple[Any, Any]:
        logps, length = lf_batch_logps(model(input_ids=ids).logits.float(), labels)
        if loss_type in ("ipo", "orpo", "simpo"):
            logps = logps / length
        return logps, length

    logps, length = forward(policy)
    pc, pr = logps.split(n)
    chosen_avg = pc if loss_type in ("ipo", "orpo", "simpo") else pc / length[:n]
    if loss_type == "orpo":
        log_odds = (pc - pr) - (torch.log1p(-torch.exp(pc)) - torch.log1p(-torch.exp(pr)))
        losses = -pc + beta * -F.logsigmoid(log_odds)
    elif loss_type == "simpo":
        losses = -F.logsigmoid(beta * ((pc - pr) - gamma / beta))
    else:
        rc, rr = forward(ref)[0].split(n)
        logits = (pc - pr) - (rc - rr)
        losses = {"sigmoid": lambda: -F.logsigmoid(beta * logits), "hinge": lambda: torch.relu(1 - beta * logits), "ipo": lambda: (logits - 1 / (2 * beta)) ** 2}[loss_type]()
    if ftx > 1e-6:
        losses = losses + ftx * -chosen_avg
    return losses.mean()


@pytest.mark.parametrize(("loss_type", "ftx"), [("sigmoid", 0.0), ("sigmoid", 0.5), ("hinge", 0.0), ("ipo", 0.0), ("orpo", 0.0), ("simpo", 0.0)])
def test_dpo_losses_equal_llamafactory(models: tuple[Any, Any], tmp_path: Path, loss_type: str, ftx: float) -> None:
    policy, ref = models
    config = cfg(write_jsonl(tmp_path / "p.jsonl", make_pairs(4)), stage="dpo", pref_loss=loss_type, pref_ftx=ftx, pref_beta=0.3, simpo_gamma=0.7, finetuning_type="full")
    stage = DPOStage(config)
    stage.reference.model = ref
    pairs = examples_of(config, stage)
    assert len(pairs) == 4
    with torch.no_grad():
        loss_sum, metrics = stage.loss(policy, stage.collate([[p] for p in pairs], 0), "cpu")
        expected = lf_dpo(policy, ref, pairs, loss_type, 0.3, ftx, 0.7)
    torch.testing.assert_close(loss_sum / 4, expected, rtol=1e-5, atol=1e-6)
    assert set(stage.summarize({**metrics, "count": 4})) == {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"} | ({"sft_loss", "odds_ratio_loss"} if loss_type == "orpo" else set())


def trl_tokenizer(tmp_path: Path) -> Any:
    from transformers import AutoTokenizer

    from sftdata.tokenizers import get_tokenizer
    from sftdata.train.model import save_tokenizer

    save_tokenizer(get_tokenizer("qwen2.5"), tmp_path)
    return AutoTokenizer.from_pretrained(tmp_path)


def test_dpo_losses_equal_trl_dpo_trainer(models: tuple[Any, Any], tmp_path: Path) -> None:
    """TRL's own DPOTrainer._compute_loss on the same ids and completion mask, for each
    loss both define the same way (one trainer, its loss type switched)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    policy, ref = models
    args = DPOConfig(output_dir=str(tmp_path / "trl"), loss_type=["sigmoid"], beta=0.3, report_to=[], use_cpu=True, bf16=False, per_device_train_batch_size=4)
    trainer = DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list([{"prompt": "a", "chosen": "b", "rejected": "c"}]), processing_class=trl_tokenizer(tmp_path / "tok"))
    policy.eval()
    for loss_type in ("sigmoid", "hinge", "ipo"):
        trainer.loss_types = [loss_type]
        config = cfg(write_jsonl(tmp_path / "p.jsonl", make_pairs(4)), stage="dpo", pref_loss=loss_type, pref_beta=0.3, finetuning_type="full")
        stage = DPOStage(config)
        stage.reference.model = ref
        pairs = examples_of(config, stage)
        batch = stage.collate([[p] for p in pairs], 0)
        labels = padded([p.chosen.labels for p in pairs] + [p.rejected.labels for p in pairs], IGNORE)
        inputs = {"input_ids": torch.tensor(batch.rows.input_ids), "attention_mask": torch.ones_like(labels), "completion_mask": (labels != IGNORE).long()}
        with torch.no_grad():
            theirs = trainer._compute_loss(trainer.model, inputs, False)
            loss_sum, metrics = stage.loss(policy, batch, "cpu")
        torch.testing.assert_close(loss_sum / 4, theirs, rtol=1e-5, atol=1e-6)
        if loss_type == "ipo":
            continue  # TRL logs summed-log-prob rewards for ipo, LLaMA-Factory (and sftdata) the averaged ones
        logged = trainer._metrics["eval"]
        mine = stage.summarize({**metrics, "count": 4})
        for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"):
            assert mine[key] == pytest.approx(logged[key][-1], rel=1e-4, abs=1e-5), (loss_type, key)


def lf_kto(policy: Any, ref: Any, rows: list[Any], beta: float, wc: float, wr: float, ftx: float) -> tuple[Any, Any]:
    """LLaMA-Factory's CustomKTOTrainer (TRL's kto_loss) on full logits."""
    ids = padded([r.row.input_ids for r in rows], 0)
    labels = padded([r.row.labels for r in rows], IGNORE)
    kl_ids = padded([r.kl.input_ids for r in rows], 0)
    kl_labels = padded([r.kl.labels for r in rows], IGNORE)
    tags = torch.tensor([r.label for r in rows])
    logps, length = lf_batch_logps(policy(input_ids=ids).logits.float(), labels)
    kl_logps, _ = lf_batch_logps(policy(input_ids=kl_ids).logits.float(), kl_labels)
    ref_logps, _ = lf_batch_logps(ref(input_ids=ids).logits.float(), labels)
    ref_kl, _ = lf_batch_logps(ref(input_ids=kl_ids).logits.float(), kl_labels)
    kl = (kl_logps - ref_kl).mean().clamp(min=0)
    chosen = 1 - torch.sigmoid(beta * ((logps[tags] - ref_logps[tags]) - kl))
    rejected = 1 - torch.sigmoid(beta * (kl - (logps[~tags] - ref_logps[~tags])))
    losses = torch.cat((wc * chosen, wr * rejected)).nanmean()
    if ftx > 1e-6:
        losses = losses + ftx * (-(logps[tags] / length[tags])).nanmean() / int(tags.sum()) * len(rows)
    return losses, kl


@pytest.mark.parametrize(("wc", "wr", "ftx"), [(1.0, 1.0, 0.0), (1.0, 1.5, 0.3)])
def test_kto_loss_equals_llamafactory(models: tuple[Any, Any], tmp_path: Path, wc: float, wr: float, ftx: float) -> None:
    policy, ref = models
    config = cfg(write_jsonl(tmp_path / "k.jsonl", make_kto(5)), stage="kto", pref_beta=0.3, kto_chosen_weight=wc, kto_rejected_weight=wr, pref_ftx=ftx, finetuning_type="full")
    stage = KTOStage(config)
    stage.reference.model = ref
    rows = examples_of(config, stage)
    assert [r.label for r in rows] == [True, False, True, False, True]
    # the KL row of row i is its prompt with row i-1's completion (row 0: the last row's)
    def parts(ex: Any) -> tuple[list[int], list[int]]:
        return [i for i, lab in zip(ex.input_ids, ex.labels) if lab == IGNORE], [lab for lab in ex.labels if lab != IGNORE]

    for i in range(5):
        assert parts(rows[i].kl) == (parts(rows[i].row)[0], parts(rows[i - 1].row)[1])
    with torch.no_grad():
        loss_sum, metrics = stage.loss(policy, stage.collate([[r] for r in rows], 0), "cpu")
        expected, kl = lf_kto(policy, ref, rows, 0.3, wc, wr, ftx)
    torch.testing.assert_close(loss_sum / 5, expected, rtol=1e-5, atol=1e-6)
    assert stage.summarize({**metrics, "count": 5})["kl"] == pytest.approx(float(kl), rel=1e-4, abs=1e-6)


def test_kto_loss_equals_trl_kto_trainer(models: tuple[Any, Any], tmp_path: Path) -> None:
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    policy, ref = models
    config = cfg(write_jsonl(tmp_path / "k.jsonl", make_kto(4)), stage="kto", pref_beta=0.3, finetuning_type="full")
    stage = KTOStage(config)
    stage.reference.model = ref
    rows = examples_of(config, stage)
    batch = stage.collate([[r] for r in rows], 0)
    args = KTOConfig(output_dir=str(tmp_path / "trl"), beta=0.3, report_to=[], use_cpu=True, bf16=False, per_device_train_batch_size=4)
    trainer = KTOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list([{"prompt": "a", "completion": "b", "label": True}, {"prompt": "c", "completion": "d", "label": False}]), processing_class=trl_tokenizer(tmp_path / "tok"))
    labels = padded([r.row.labels for r in rows], IGNORE)
    kl_labels = padded([r.kl.labels for r in rows], IGNORE)
    inputs = {
        "input_ids": torch.tensor(batch.rows.input_ids),
        "attention_mask": torch.ones_like(labels),
        "completion_mask": (labels != IGNORE).long(),
        "KL_input_ids": torch.tensor(batch.kl.input_ids),
        "KL_attention_mask": torch.ones_like(kl_labels),
        "KL_completion_mask": (kl_labels != IGNORE).long(),
        "label": torch.tensor([r.label for r in rows]),
    }
    policy.eval()
    with torch.no_grad():
        theirs = trainer._compute_loss(trainer.model, inputs, False)
        loss_sum, metrics = stage.loss(policy, batch, "cpu")
    torch.testing.assert_close(loss_sum / 4, theirs, rtol=1e-5, atol=1e-6)
    logged, mine = trainer._metrics["eval"], stage.summarize({**metrics, "count": 4})
    for key in ("kl", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"):
        assert mine[key] == pytest.approx(logged[key][-1], rel=1e-4, abs=1e-5), key


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]


def test_dpo_lora_reward_accuracy_rises_and_logs_trl_names(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", make_pairs(16))
    out = tmp_path / "dpo"
    metrics = sftdata.train(base_config(tiny_model, data, out, stage="dpo", finetuning_type="lora", learning_rate=2e-2, max_steps=8, logging_steps=4, val_size=4, per_device_train_batch_size=4))
    log = [e for e in read_log(out) if "loss" in e]
    assert [e["step"] for e in log] == [4, 8]
    assert set(log[0]) == {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_second", "trained_tokens_per_second", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"}
    assert log[1]["rewards/accuracies"] > log[0]["rewards/accuracies"] or log[1]["rewards/margins"] > log[0]["rewards/margins"] > 0
    assert log[1]["loss"] < log[0]["loss"] < 0.6932
    assert metrics["eval_rewards/accuracies"] >= 0.5 and metrics["stage"] == "dpo"
    assert metrics["data"] == {"read": 16, "train": 12, "eval": 4, "dropped": {}, "truncated": 0}


def test_kto_full_precomputed_reference_trains_and_logs_kl(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "k.jsonl", make_kto(12))
    out = tmp_path / "kto"
    messages: list[str] = []
    sftdata.train(base_config(tiny_model, data, out, stage="kto", precompute_ref_log_probs=True, learning_rate=1e-3, max_steps=3, per_device_train_batch_size=4), echo=messages.append)
    assert "reference log-probs precomputed for 12 rows" in messages
    log = read_log(out)
    assert [e["step"] for e in log] == [1, 2, 3]
    assert {"kl", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"} <= set(log[0])
    # the first step's policy is the reference: rewards are 0 and the loss is 1 - sigmoid(0)
    assert log[0]["rewards/chosen"] == pytest.approx(0, abs=1e-5) and log[0]["loss"] == pytest.approx(0.5, abs=1e-5)
    assert log[-1]["loss"] < 0.5
