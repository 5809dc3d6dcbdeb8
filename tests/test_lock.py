"""The dataset lock: a changed byte, a re-ordered file and a different tokenizer are each
detected; an unchanged dataset verifies by hashing each file once."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from _paths import ROOT

from sftdata.errors import ReadError
from sftdata.lock import Change, DatasetLock, LockMismatch, compare, hash_file, load_settings, lock, read_lock, verify
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.tokenizers import register_tokenizer

lockmod = sys.modules["sftdata.lock"]  # the module (sftdata.lock is the function)

FIXTURE = ROOT / "fixtures" / "sharegpt" / "sft.jsonl"


class ByteTokenizer:
    """One token per UTF-8 byte: a tokenizer that is surely not Qwen2.5's."""

    name = "bytes-for-lock-test"
    eos_token = "<|im_end|>"
    pad_token_id = 0
    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode("utf-8", "replace")

    def token_id(self, tok: str) -> int:
        from sftdata.errors import UsageError

        raise UsageError(f"'{tok}' is not a single token of {self.name}.")


register_tokenizer(ByteTokenizer.name, ByteTokenizer)


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "a.jsonl"
    shutil.copy(FIXTURE, a)
    b = tmp_path / "b.jsonl"
    rows = [{"conversations": [{"from": "human", "value": f"What is {i} + {i}?"}, {"from": "gpt", "value": f"{2 * i}."}]} for i in range(6)]
    b.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return a, b


def test_lock_records_every_figure_and_round_trips(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], cutoff_len=64, base=tmp_path)
    assert [(f.path, f.format, f.kinds, f.records, f.size) for f in lk.files] == [("a.jsonl", "sharegpt", {"sft": 4}, 4, a.stat().st_size), ("b.jsonl", "sharegpt", {"sft": 6}, 6, b.stat().st_size)]
    assert lk.files[0].validation == {"profile": "sftdata", "valid": 4, "rejected": 0, "errors": 0, "warnings": 0, "rules": {}}
    st = token_stats(a, StatsConfig(cutoff_len=64))  # the same figures as `sftdata stats`
    assert lk.files[0].tokens == {"total": st.tokens, "trainable": st.trainable_tokens, "over_cutoff": st.over_cutoff, "cut_trainable": st.cut_trainable, "zero_trainable": st.zero_trainable}
    assert st.over_cutoff and st.cut_trainable  # the cutoff matters here
    s = lk.settings
    assert (s.tokenizer, s.template, s.cutoff_len, s.profile) == ("qwen2.5", "qwen", 64, "sftdata")
    out = tmp_path / "sftdata.lock.json"
    lk.write(out)
    again = read_lock(out)
    assert again == lk and again.digest == lk.digest == orjson.loads(out.read_bytes())["digest"]
    # the digest covers the contents and settings, not where the files are
    assert lock([a, b], cutoff_len=64, base=ROOT).digest == lk.digest
    assert lock([a, b], cutoff_len=128, base=tmp_path).digest != lk.digest


def test_unchanged_dataset_verifies_in_one_streaming_pass(data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lk = lock(list(data), base=tmp_path)
    hashed: list[Path] = []
    real = lockmod.hash_file

    def counting(path: Path) -> tuple[str, int, str]:
        hashed.append(Path(path))
        return real(path)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged file must not be decoded")

    monkeypatch.setattr(lockmod, "hash_file", counting)
    monkeypatch.setattr(lockmod, "entry_of", no_decoding)
    diff = compare(lk, base=tmp_path)
    assert diff.unchanged and diff.changes == [] and diff.current == lk
    assert (diff.hashed, diff.recounted) == (2, 0)
    assert hashed == list(data)
    assert verify_ok(tmp_path, lk, list(data)) == lk


def verify_ok(tmp_path: Path, lk: DatasetLock, files: list[Path]) -> DatasetLock:
    path = tmp_path / "sftdata.lock.json"
    lk.write(path)
    return verify(path, files, lk.settings)


def test_a_changed_byte_is_detected_with_what_it_changed(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], base=tmp_path)
    raw = bytearray(b.read_bytes())
    raw[raw.index(b"10.")] = ord("9")  # "10." -> "90.": same size, one byte
    b.write_bytes(bytes(raw))
    diff = compare(lk, base=tmp_path)
    new_sha = hash_file(b)[0]
    assert diff.changes == [Change("file", "b.jsonl", f"b.jsonl: content changed, {b.stat().st_size:,} -> {b.stat().st_size:,} (+0) bytes (sha256 {lk.files[1].sha256[:12]} -> {new_sha[:12]}).")]
    assert (diff.hashed, diff.recounted) == (2, 1)
    assert diff.current.files[1].tokens == lk.files[1].tokens  # one digit for another: same counts
    with pytest.raises(LockMismatch, match=r"b\.jsonl is not the locked data"):
        verify(_write(lk, tmp_path), [a, b], lk.settings)


def _write(lk: DatasetLock, tmp_path: Path) -> Path:
    path = tmp_path / "sftdata.lock.json"
    lk.write(path)
    return path


def test_an_edit_that_changes_counts_says_so(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], base=tmp_path)
    lines = b.read_text().splitlines(keepends=True)
    b.write_text("".join(lines[:-1]) + '{"conversations": [{"from": "robot", "value": "?"}]}\n')
    diff = compare(lk, base=tmp_path)
    what = [c.what for c in diff.changes]
    assert what == ["file", "records", "validation", "tokens"]
    assert diff.changes[1].message == "b.jsonl: records 6 -> 6 (+0); kinds {'sft': 6} -> {'sft': 5}."
    assert diff.changes[2].message == "b.jsonl: errors 0 -> 1 (+1), warnings 0 -> 0 (+0) (unknown-role 0->1)."
    old, new = lk.files[1].tokens, diff.current.files[1].tokens
    assert old is not None and new is not None and new["total"] < old["total"]
    assert diff.current.files[1].records == 6 and diff.current.files[1].validation["rejected"] == 1  # type: ignore[index]


def test_a_reordered_file_is_detected_as_the_same_lines_in_another_order(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], base=tmp_path)
    lines = b.read_text().splitlines(keepends=True)
    b.write_text("".join(reversed(lines)))
    diff = compare(lk, base=tmp_path)
    assert [c.what for c in diff.changes] == ["file"]
    assert diff.changes[0].message.startswith("b.jsonl: the same lines in another order (sha256 ")
    assert diff.current.files[1].lines_digest == lk.files[1].lines_digest
    with pytest.raises(LockMismatch):
        verify(_write(lk, tmp_path), [a, b], lk.settings)


def test_files_in_another_order_or_moved_or_missing(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], tokenizer=None, base=tmp_path)
    diff = compare(lk, [b, a], base=tmp_path)
    assert [c.what for c in diff.changes] == ["order"]
    with pytest.raises(LockMismatch, match="another order"):
        verify(_write(lk, tmp_path), [b, a], lk.settings)
    moved = tmp_path / "sub" / "b2.jsonl"
    moved.parent.mkdir()
    b.rename(moved)
    diff = compare(lk, [a, moved], base=tmp_path)
    assert [c.message for c in diff.changes] == ["b.jsonl was moved to sub/b2.jsonl (same content)."]
    assert diff.current.digest == lk.digest  # same data
    with pytest.raises(ReadError, match="does not exist"):
        compare(lk, base=tmp_path)
    diff = compare(lk, [a], base=tmp_path)
    assert [c.message for c in diff.changes] == ["b.jsonl is gone (in the lock, not in the data)."]


def test_a_different_tokenizer_is_detected(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    lk = lock([a, b], base=tmp_path)
    other = load_settings(ByteTokenizer.name, "qwen")
    assert other.tokenizer_fingerprint != lk.settings.tokenizer_fingerprint
    diff = compare(lk, base=tmp_path, settings=other)
    assert diff.changes[0] == Change("tokenizer", None, "tokenizer qwen2.5 -> bytes-for-lock-test (it encodes text differently).")
    assert [c.what for c in diff.changes[1:]] == ["tokens", "tokens"]
    assert diff.recounted == 2
    new = diff.current.files[1].tokens
    assert new is not None and new["total"] > lk.files[1].tokens["total"]  # type: ignore[index]
    with pytest.raises(LockMismatch, match="tokenizer qwen2.5 -> bytes-for-lock-test"):
        verify(_write(lk, tmp_path), [a, b], other)
    # the same tokenizer and template under their own names match
    assert verify(_write(lk, tmp_path), [a, b], load_settings("qwen", "qwen")) == lk


def test_a_hand_edited_lock_is_refused(data: tuple[Path, Path], tmp_path: Path) -> None:
    path = _write(lock(list(data), tokenizer=None, base=tmp_path), tmp_path)
    doc = orjson.loads(path.read_bytes())
    doc["files"][0]["sha256"] = "0" * 64
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(ReadError, match="edited by hand"):
        read_lock(path)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_lock_then_check_lock(data: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = data
    made = run("lock", "a.jsonl", "b.jsonl", "-o", "sftdata.lock.json", "--cutoff-len", "64", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    lk = read_lock(tmp_path / "sftdata.lock.json")
    assert made.stdout.splitlines()[-1] == f"wrote sftdata.lock.json: 2 files (qwen2.5 / qwen, cutoff_len 64), digest {lk.digest}"
    ok = run("check", "--lock", "sftdata.lock.json", cwd=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, f"sftdata.lock.json: unchanged (2 files hashed, digest {lk.digest}).\n")
    b.write_text(b.read_text().replace("What is 0 + 0?", "What is zero plus zero, in words?", 1))
    changed = run("check", "--lock", "sftdata.lock.json", "--json", cwd=tmp_path)
    assert changed.returncode == 1, changed.stderr
    doc = json.loads(changed.stdout)
    assert (doc["unchanged"], [c["what"] for c in doc["changes"]], doc["hashed"], doc["recounted"]) == (False, ["file", "tokens"], 2, 1)
    old, new = lk.files[1].tokens, doc_tokens(tmp_path)
    assert doc["changes"][1]["message"] == f"b.jsonl: tokens total {old['total']:,} -> {new['total']:,} (+{new['total'] - old['total']})."  # type: ignore[index]
    missing = run("check", cwd=tmp_path)
    assert missing.returncode == 2 and "INPUT" in missing.stderr


def doc_tokens(tmp_path: Path) -> dict[str, int]:
    st = token_stats(tmp_path / "b.jsonl", StatsConfig(cutoff_len=64))
    return {"total": st.tokens}
