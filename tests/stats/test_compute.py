"""token_stats and the stats/render commands: exact counts, cutoff effects, rejects,
one process and two giving the same report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import ROOT

from sftdata.api import RejectSink, read
from sftdata.errors import RecordError
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.stats.report import Bin, Summary, histogram
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokens import count_record

GOOD = [
    {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello! How can I help you today?"}]},
    {"conversations": [{"from": "human", "value": "写一首关于秋天的诗。" * 20}, {"from": "gpt", "value": "秋风起，落叶飞。"}]},
    {"system": "Be terse.", "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}, {"from": "human", "value": "3+3?"}, {"from": "gpt", "value": "6"}]},
]
BAD = {"conversations": [{"from": "human", "value": "no answer"}, {"from": "martian", "value": "?"}]}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "chat.jsonl"
    rows = [GOOD[0], GOOD[1], BAD, GOOD[2]] * 5
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def comparable(report: object) -> dict:
    d = report.to_dict()  # type: ignore[attr-defined]
    for key in ("seconds", "tokens_per_second"):
        d.pop(key)
    return d


def test_counts_equal_count_record_and_nothing_is_lost(data: Path) -> None:
    with RejectSink() as sink:
        report = token_stats(data, StatsConfig(cutoff_len=64, epochs=2), workers=1, rejects=sink)
    assert (report.read, report.records, report.rejected) == (20, 15, 5)
    assert report.reject_codes and sum(report.reject_codes.values()) >= 5
    tok, tpl = get_tokenizer("qwen2.5"), get_template("qwen")
    with RejectSink() as again:
        counts = [count_record(r, tok, tpl, cutoff_len=64) for r in read(data, rejects=again)]
    assert report.fields["total"] == Summary.of([c.total for c in counts])
    assert report.fields["trainable"] == Summary.of([c.trainable for c in counts])
    assert report.fields["overhead"] == Summary.of([c.overhead for c in counts])
    assert report.over_cutoff == sum(1 for c in counts if c.total > 64) == 5
    assert report.cut_trainable == sum(c.cut_trainable for c in counts)
    # the long Chinese prompt leaves nothing to train on under cutoff 64: lines 2, 6, ...
    assert report.zero_trainable_lines == [2, 6, 10, 14, 18]
    assert report.training_tokens == 2 * sum(c.trainable - c.cut_trainable for c in counts)
    assert report.kinds == {"sft": 15}


def test_two_workers_give_the_same_report(data: Path) -> None:
    with RejectSink() as a, RejectSink() as b:
        one = token_stats(data, StatsConfig(cutoff_len=64), workers=1, rejects=a)
        two = token_stats(data, StatsConfig(cutoff_len=64), workers=2, rejects=b)
    assert comparable(one) == comparable(two)


def test_bad_row_without_rejects_raises_with_line(data: Path) -> None:
    with pytest.raises(RecordError) as info:
        token_stats(data, workers=2)
    assert info.value.line == 3 and info.value.path == str(data)


def test_preference_and_pretrain(realdata: Path) -> None:
    report = token_stats(realdata / "dpo_en_demo.json", workers=1)
    assert report.kinds == {"preference": 300} and report.preference is not None
    assert report.preference["chosen"] == json.loads(json.dumps(report.to_dict()["fields"]["trainable"]))
    c4 = token_stats(realdata / "c4_demo.jsonl", workers=1, cutoff_len=1024)
    assert c4.fields["prompt"].max == 0 and c4.fields["trainable"] == c4.fields["total"]


def test_mismatched_template_warns(data: Path) -> None:
    with RejectSink() as sink:
        report = token_stats(data, StatsConfig(template="llama3"), workers=1, rejects=sink)
    assert report.warnings == [
        "template 'llama3' ends turns with '<|eot_id|>', which tokenizer 'qwen2.5' splits into 7 tokens: is this the model's template? (counts are exact for this pair)"
    ]
    with RejectSink() as sink:
        assert token_stats(data, StatsConfig(template="chatml"), workers=1, rejects=sink).warnings == []


def test_summary_and_histogram_whole_values() -> None:
    assert Summary.of(range(1, 101)) == Summary(100, 50.5, 1, 50, 90, 95, 99, 100)
    assert histogram([10, 70, 70, 300], cutoff_len=100) == [Bin(0, 64, 1), Bin(64, 100, 2), Bin(100, 128, 0), Bin(128, 256, 0), Bin(256, 512, 1)]


def test_config_validates() -> None:
    from sftdata.errors import UsageError

    with pytest.raises(UsageError, match="train_on"):
        StatsConfig(train_on="some")  # type: ignore[arg-type]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_stats_json_equals_api_and_plots(data: Path, tmp_path: Path) -> None:
    plot = tmp_path / "lengths.html"
    proc = run("stats", str(data), "--cutoff-len", "64", "--rejects", str(tmp_path / "rej.jsonl"), "--json", "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    with RejectSink() as sink:
        expected = token_stats(data, StatsConfig(cutoff_len=64), workers=1, rejects=sink).to_dict()
    for key in ("seconds", "tokens_per_second"):
        got.pop(key), expected.pop(key)
    assert got == json.loads(json.dumps(expected))
    assert len((tmp_path / "rej.jsonl").read_text().splitlines()) == 5
    assert "<svg" in plot.read_text() and "cutoff_len 64" in plot.read_text()


def test_cli_stats_table_and_usage_errors(data: Path, tmp_path: Path) -> None:
    proc = run("stats", str(data), "--cutoff-len", "64", "--rejects", str(tmp_path / "r.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "15 records (15 sft), 5 rejected" in proc.stdout and "rows with zero trainable tokens after the cutoff: 5" in proc.stdout
    bad = run("stats", str(data), "--tokenizer", "qwen2.6")
    assert bad.returncode == 2 and "Did you mean 'qwen2.5'" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_render_marks_trained_spans(data: Path) -> None:
    proc = run("render", str(data), "--template", "chatml", "-n", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"── {data}:1 sft: 20 tokens, 10 trained\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n[[Hello! How can I help you today?<|im_end|>]]\n\n"
    )
