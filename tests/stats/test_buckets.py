from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sftdata.cli import cli
from sftdata.stats.buckets import bucket_report


@given(st.lists(st.integers(1, 3000), max_size=50), st.lists(st.integers(1, 2048), min_size=1, max_size=5))
def test_bucket_report_accounts_for_every_row_and_token(lengths: list[int], buckets: list[int]) -> None:
    r = bucket_report(lengths, buckets)
    edges = sorted(set(buckets))
    assert sum(r["rows"]) == len(lengths) and r["tokens"] == sum(lengths)
    expected_pad = sum(min(e for e in edges if e >= n) - n for n in lengths if n <= edges[-1])
    assert r["padding_tokens"] == expected_pad
    assert r["distinct_shapes"] <= len(edges) + r["over_largest"]


def test_stats_buckets_option_reports_padding_and_shapes(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": "hi " * n}, {"role": "assistant", "content": "ok"}]} for n in (1, 5, 40, 300)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(cli, ["stats", str(data), "--buckets", "64,128", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    totals = report["buckets"]
    assert totals["buckets"] == [64, 128] and sum(totals["rows"]) == 4
    assert totals["tokens"] == report["fields"]["total"]["mean"] * 4
    assert totals["over_largest"] == 1 and totals["distinct_shapes"] == 1 + (totals["rows"][1] > 0) + 1
    text = CliRunner().invoke(cli, ["stats", str(data), "--buckets", "64,128"])
    assert "shape buckets: " in text.output and "distinct shapes per epoch (unbucketed: 4)" in text.output
    bad = CliRunner().invoke(cli, ["stats", str(data), "--buckets", "a,b"])
    assert "--buckets takes comma-separated positive lengths such as 256,512,1024,2048, not 'a,b'." in str(bad.exception)
