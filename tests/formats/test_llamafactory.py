"""LLaMA-Factory's dataset_info.json: entries read as configured codecs, and the
entries sftdata writes for its own output read back the same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import Carry, records

import sftdata
from sftdata.errors import UsageError
from sftdata.formats import get_format
from sftdata.formats.llamafactory import format_for_entry, from_dataset_info
from sftdata.io import read_rows

MEDIA = ("image", "video", "audio")


def test_alpaca_entry_with_columns_reads_only_mapped_columns() -> None:
    fmt = format_for_entry({"columns": {"prompt": "question", "response": "answer", "system": "sys"}})
    rec = fmt.decode({"question": "q", "answer": "a", "sys": "s", "input": "not mapped"})
    assert [(m.role, m.content) for m in rec.messages] == [("system", "s"), ("user", "q"), ("assistant", "a")]
    assert rec.extra == {"input": "not mapped"}


def test_prompt_only_alpaca_entry_is_pretraining_text() -> None:
    fmt = format_for_entry({"file_name": "c4.jsonl", "columns": {"prompt": "text"}})
    assert fmt.decode({"text": "hello"}) == sftdata.PretrainRecord(text="hello")


def test_sharegpt_entry_with_tags_and_kto_column() -> None:
    entry = {
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "kto_tag": "label"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    rec = format_for_entry(entry).decode({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": False})
    assert rec == sftdata.KTORecord(prompt=(sftdata.Message(role="user", content="q"),), completion=(sftdata.Message(role="assistant", content="a"),), label=False)


def test_errors_name_the_entry(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"mine": {"file_name": "mine.json"}, "hub": {"hf_hub_url": "org/set"}, "odd": {"file_name": "x", "formatting": "yaml"}}))
    with pytest.raises(UsageError, match="Did you mean 'mine'"):
        from_dataset_info(info, "mien")
    with pytest.raises(UsageError, match="org/set"):
        from_dataset_info(info, "hub")
    with pytest.raises(UsageError, match="formatting 'yaml'"):
        from_dataset_info(info, "odd")
    fmt, data = from_dataset_info(tmp_path, "mine")  # a folder means its dataset_info.json
    assert (fmt.name, data) == ("alpaca", tmp_path / "mine.json")


@pytest.mark.parametrize(
    ("name", "carry", "kinds"),
    [
        ("alpaca", Carry(media=MEDIA, tools=True), ("sft", "preference", "kto", "pretrain")),
        ("sharegpt", Carry(media=MEDIA, tools=True, tool_calls=True), ("sft", "preference", "kto")),
        ("openai", Carry(), ("sft", "preference", "kto")),
    ],
)
def test_written_entry_reads_back_the_same_records(name: str, carry: Carry, kinds: tuple[str, ...]) -> None:
    """What LLaMA-Factory would read through our entry is what we wrote."""
    fmt = get_format(name)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(records(carry, kinds))
    def check(record) -> None:  # type: ignore[no-untyped-def]
        row, lost = fmt.encode(record)
        entry = fmt.dataset_info_entry("out.json", record.kind, present=row.keys())
        assert format_for_entry(entry).decode(row) == record and lost == []

    check()


def test_cli_dataset_info_convert(realdata: Path, tmp_path: Path) -> None:
    from test_cli import run

    out = tmp_path / "kto.jsonl"
    proc = run("convert", "--dataset-info", str(realdata / "dataset_info.json"), "kto_en_demo", "-o", str(out), "--to", "trl", "--json")
    assert proc.returncode == 0, proc.stderr
    assert {k: json.loads(proc.stdout)[k] for k in ("read", "written", "rejected", "losses")} == {"read": 300, "written": 300, "rejected": 0, "losses": {}}
    assert list(sftdata.read(out)) == list(sftdata.read(dataset_info=(realdata / "dataset_info.json", "kto_en_demo")))
    proc = run("detect", "--dataset-info", str(realdata / "dataset_info.json"), "mllm_demo", "--json")
    assert (json.loads(proc.stdout)["format"], json.loads(proc.stdout)["kind"]) == ("sharegpt", "sft")


def test_every_local_entry_reads_like_detection(realdata: Path) -> None:
    info = json.loads((realdata / "dataset_info.json").read_text())
    seen = 0
    for name, entry in info.items():
        if not (realdata / str(entry.get("file_name"))).is_file():
            continue
        fmt, data = from_dataset_info(realdata / "dataset_info.json", name)
        rows = list(read_rows(data))
        mapped = [fmt.decode(row, src) for row, src in rows]
        assert mapped == list(sftdata.read(data)), name
        seen += 1
    assert seen == 7
