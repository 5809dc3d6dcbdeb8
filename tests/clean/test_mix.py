"""sftdata mix: exact shares (within one row of the target), deterministic under a seed,
every row traceable to its source line, nothing silently dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import ROOT
from _trainkit import make_records, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.api import RejectSink
from sftdata.clean.mix import MixConfig, MixSource, apportion, mix, select_rows, select_tokens
from sftdata.errors import UsageError

FIX = ROOT / "fixtures"


@given(st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=8), st.integers(min_value=0, max_value=10_000))
def test_apportion_sums_to_total_and_each_is_within_one_row(ratios: list[float], total: int) -> None:
    shares = apportion(ratios, total)
    assert sum(shares) == total
    for r, n in zip(ratios, shares):
        assert abs(n - r / sum(ratios) * total) < 1


@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=2000), st.integers())
def test_select_rows_uses_whole_copies_then_a_sample(n: int, target: int, seed: int) -> None:
    import random

    copies = select_rows(n, target, random.Random(seed))
    assert sum(copies) == target
    assert max(copies) - min(copies) <= 1  # up-sampling repeats every row before any row twice more
    assert list(copies) == list(select_rows(n, target, random.Random(seed)))


@settings(max_examples=50)
@given(st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=60), st.integers(min_value=0, max_value=20_000), st.integers())
def test_select_tokens_lands_within_one_row_of_the_target(weights: list[int], target: int, seed: int) -> None:
    import random
    from array import array

    copies = select_tokens(array("q", weights), target, random.Random(seed))
    got = sum(c * w for c, w in zip(copies, weights))
    assert abs(got - target) <= max(weights)


def sources(tmp_path: Path) -> list[MixSource]:
    a = write_jsonl(tmp_path / "a.jsonl", make_records(50, seed=1))
    b = write_jsonl(tmp_path / "b.jsonl", make_records(120, seed=2))
    c = FIX / "alpaca" / "sft.jsonl"
    return [MixSource(a, 0.5), MixSource(b, 0.3), MixSource(c, 0.2)]


def test_rows_mix_hits_each_target_and_traces_every_row(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    report = mix(srcs, tmp_path / "mix.jsonl", MixConfig(total=200, seed=3))
    rows = [json.loads(x) for x in (tmp_path / "mix.jsonl").read_text().splitlines()]
    assert len(rows) == 200 == report.total
    for s, rep in zip(srcs, report.sources):
        got = sum(1 for r in rows if r["mix_source"] == str(s.path))
        assert got == rep.rows_after and abs(got - s.ratio * 200) < 1
    # every row is its source line's record, in the output format (sharegpt: the sources differ)
    assert report.format == "sharegpt"
    out_fmt = sftdata.get_format("sharegpt")
    by_line = {str(s.path): {r.source.line: r for r in sftdata.read(s.path)} for s in srcs}
    for row in rows:
        record = out_fmt.decode({k: v for k, v in row.items() if not k.startswith("mix_")}, None)
        assert record.model_dump() == by_line[row["mix_source"]][row["mix_line"]].model_dump()


def test_same_seed_same_bytes_other_seed_other_sample(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    mix(srcs, tmp_path / "one.jsonl", MixConfig(total=100, seed=7))
    mix(srcs, tmp_path / "two.jsonl", MixConfig(total=100, seed=7))
    mix(srcs, tmp_path / "three.jsonl", MixConfig(total=100, seed=8))
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (tmp_path / "one.jsonl").read_bytes() != (tmp_path / "three.jsonl").read_bytes()


def test_default_total_needs_no_upsampling(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    report = mix(srcs, tmp_path / "mix.jsonl")
    # alpaca/sft.jsonl is the binding source: all of its rows at 20%
    fixture_rows = report.sources[2].rows_before
    assert report.total == fixture_rows * 5
    assert [s.rows_after <= s.rows_before for s in report.sources] == [True, True, True]


def test_upsampling_repeats_whole_source_first(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    report = mix(srcs, tmp_path / "mix.jsonl", MixConfig(total=1000, seed=1))
    small = report.sources[2]
    rows = [json.loads(x) for x in (tmp_path / "mix.jsonl").read_text().splitlines()]
    lines = [r["mix_line"] for r in rows if r["mix_source"] == str(srcs[2].path)]
    assert len(lines) == small.rows_after == 200
    counts = {n: lines.count(n) for n in set(lines)}
    assert len(counts) == small.rows_before and max(counts.values()) - min(counts.values()) <= 1


def test_tokens_mix_is_within_one_row_of_each_token_target(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    report = mix(srcs, tmp_path / "mix.jsonl", MixConfig(by="tokens", total=6000, seed=2))
    for s, rep in zip(srcs, report.sources):
        longest = max(c.total for c in (sftdata.count_record(r, sftdata.get_tokenizer("qwen2.5"), sftdata.get_template("qwen")) for r in sftdata.read(s.path)))
        assert abs(rep.tokens_after - s.ratio * 6000) <= longest
    assert abs(sum(r.tokens_after for r in report.sources) - 6000) <= 3 * 100


def test_rows_that_do_not_decode_are_rejected_with_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = make_records(10)
    bad.write_text("".join(json.dumps(r) + "\n" for r in good[:4]) + '{"conversations": "x"}\n' + "".join(json.dumps(r) + "\n" for r in good[4:]))
    with RejectSink(tmp_path / "rej.jsonl") as sink:
        report = mix([MixSource(bad, 1.0, "sharegpt"), MixSource(write_jsonl(tmp_path / "b.jsonl", make_records(10, seed=5)), 1.0)], tmp_path / "mix.jsonl", rejects=sink)
    assert report.sources[0].rows_before + report.sources[0].rejected == 11
    assert [json.loads(x)["line"] for x in (tmp_path / "rej.jsonl").read_text().splitlines()] == [5]


def test_kinds_must_agree(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="different kinds"):
        mix([MixSource(FIX / "sharegpt" / "sft.jsonl", 1), MixSource(FIX / "sharegpt" / "preference.jsonl", 1)], tmp_path / "m.jsonl")


def test_dataset_info_names_on_realdata(realdata: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sftdata.cli import cli

    args = ["mix", "--dataset-info", str(realdata / "dataset_info.json"), "identity,alpaca_zh_demo,glaive_toolcall_en_demo", "--ratios", "0.5,0.3,0.2", "-o", str(tmp_path / "mix.jsonl"), "--seed", "1", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(s["name"], s["rows_before"], s["rows_after"]) for s in data["sources"]] == [("identity", 91, 91), ("alpaca_zh_demo", 1000, 55), ("glaive_toolcall_en_demo", 300, 36)]
    assert data["format"] == "sharegpt" and data["total"] == 182
    bad = CliRunner().invoke(cli, args[:4] + ["--ratios", "0.5,0.5"] + args[6:])
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2
    assert "names 3 datasets but --ratios gives 2" in str(bad.exception)
