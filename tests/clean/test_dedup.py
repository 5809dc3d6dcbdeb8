from __future__ import annotations

import json
from pathlib import Path

import pytest
from _clean_helpers import clusters_from_rejects, read_jsonl, sharegpt, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftdata.clean.dedup import DedupConfig, dedup
from sftdata.errors import RecordError

FOX = "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden fence near the river bank on a sunny morning in late spring and the children laugh in the distance as the bells of the village church ring"
RECIPE = "Preheat the oven to two hundred degrees then mix the flour with sugar and butter until the dough is smooth roll it out on a floured table cut small circles and bake them for twelve minutes until golden brown before letting them cool on a rack"
ZH = "机器学习是人工智能的一个分支，它使计算机能够在没有明确编程的情况下从数据中学习规律，并利用这些规律对新的数据做出预测或决策，广泛应用于图像识别语音识别和自然语言处理等领域。"
OTHERS = [
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules inside the chloroplasts of plant cells using water and carbon dioxide",
    "The stock market closed higher today as technology shares rallied after strong quarterly earnings reports from several large companies beat analyst expectations",
    "To reverse a linked list iterate through the nodes keeping track of the previous node and point each node's next reference backwards until you reach the end",
    "量子计算利用量子比特的叠加和纠缠特性，在某些问题上可以比经典计算机更快地找到答案，例如大整数分解和数据库搜索。",
]


def one_word_edit(text: str, position: int, word: str) -> str:
    words = text.split()
    words[position] = word
    return " ".join(words)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """Lines 1-15: known clusters of exact copies, re-spaced copies, one-word edits and
    Chinese one-character edits, among unrelated records."""
    rows = [
        sharegpt("Tell me a story.", FOX),  # 1  fox
        sharegpt("Bake cookies?", RECIPE),  # 2  recipe
        sharegpt("Explain.", OTHERS[0]),  # 3
        sharegpt("Tell me a story.", FOX),  # 4  exact copy of 1
        sharegpt("Tell  me a\nstory.", FOX.replace(" the ", "  the\n")),  # 5  re-spaced copy of 1
        sharegpt("Bake cookies?", one_word_edit(RECIPE, 10, "honey")),  # 6  one-word edit of 2
        sharegpt("Markets?", OTHERS[1]),  # 7
        sharegpt("Bake cookies?", one_word_edit(RECIPE, 30, "square")),  # 8  another edit of 2
        sharegpt("什么是机器学习？", ZH),  # 9  chinese
        sharegpt("什么是机器学习？", ZH.replace("广泛", "普遍")),  # 10 chinese edit of 9
        sharegpt("Linked list?", OTHERS[2]),  # 11
        sharegpt("量子计算？", OTHERS[3]),  # 12
        sharegpt("Tell me a story.", FOX),  # 13 exact copy of 1
        sharegpt("Explain.", OTHERS[0] + " and releasing oxygen"),  # 14 small append to 3
        sharegpt("Bake cookies?", RECIPE.upper()),  # 15 case change of 2
    ]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_exact_clusters(planted: Path, tmp_path: Path) -> None:
    rep = dedup(planted, tmp_path / "out.jsonl", DedupConfig(mode="exact"), rejects=tmp_path / "rej.jsonl")
    # whitespace + NFKC by default: copies and re-spaced copies, not case or edits
    assert clusters_from_rejects(tmp_path / "rej.jsonl") == {frozenset({1, 4, 5, 13})}
    assert (rep.read, rep.kept, rep.rejected, rep.reasons) == (15, 12, 3, {"duplicate": 3})
    assert (rep.clusters, rep.largest_cluster) == (1, 4)


def test_exact_with_case_folding(planted: Path, tmp_path: Path) -> None:
    dedup(planted, tmp_path / "out.jsonl", DedupConfig(mode="exact", normalize=frozenset({"whitespace", "case"})), rejects=tmp_path / "rej.jsonl")
    assert clusters_from_rejects(tmp_path / "rej.jsonl") == {frozenset({1, 4, 5, 13}), frozenset({2, 15})}


@pytest.mark.parametrize("cache_mb", [256, 0])  # shingles kept from pass 1, or re-read in pass 2
def test_near_clusters(planted: Path, tmp_path: Path, cache_mb: int) -> None:
    rep = dedup(planted, tmp_path / "out.jsonl", DedupConfig(mode="near", cache_mb=cache_mb), rejects=tmp_path / "rej.jsonl", report=tmp_path / "clusters.json")
    assert clusters_from_rejects(tmp_path / "rej.jsonl") == {
        frozenset({1, 4, 5, 13}),
        frozenset({2, 6, 8, 15}),
        frozenset({9, 10}),
        frozenset({3, 14}),
    }
    assert (rep.read, rep.kept, rep.rejected) == (15, 7, 8)
    rejected = read_jsonl(tmp_path / "rej.jsonl")
    assert all(r["codes"] == ["near-duplicate"] and 0.8 <= r["similarity"] <= 1.0 for r in rejected)
    assert {r["line"]: r["duplicate_of"] for r in rejected}[10] == f"{planted}:9"
    # kept rows are the input rows verbatim, in order
    inputs = read_jsonl(planted)
    assert read_jsonl(tmp_path / "out.jsonl") == [inputs[i - 1] for i in (1, 2, 3, 7, 9, 11, 12)]
    report = json.loads((tmp_path / "clusters.json").read_text())
    assert [(c["kept"], c["size"]) for c in report["clusters"]] == [(f"{planted}:1", 4), (f"{planted}:2", 4), (f"{planted}:3", 2), (f"{planted}:9", 2)]
    assert report["clusters"][0]["examples"][0].startswith("user\nTell me a story.")


def test_keep_longest_and_last(planted: Path, tmp_path: Path) -> None:
    dedup(planted, tmp_path / "a.jsonl", DedupConfig(mode="near", keep="last"), rejects=tmp_path / "last.jsonl")
    kept_last = {min(c, key=lambda x: -x) for c in clusters_from_rejects(tmp_path / "last.jsonl")}
    assert kept_last == {13, 15, 10, 14}
    assert clusters_from_rejects(tmp_path / "last.jsonl") == {frozenset({1, 4, 5, 13}), frozenset({2, 6, 8, 15}), frozenset({9, 10}), frozenset({3, 14})}
    dedup(planted, tmp_path / "b.jsonl", DedupConfig(mode="near", keep="longest"), rejects=tmp_path / "longest.jsonl")
    kept = {r["duplicate_line"] for r in read_jsonl(tmp_path / "longest.jsonl")}
    # 5 is the longest fox (extra spaces), 8 the longest recipe ("square" replaces
    # "and"), 10 ties with 9 (the earliest wins), 14 has appended words
    assert kept == {5, 8, 9, 14}


def test_against_eval_set(planted: Path, tmp_path: Path) -> None:
    eval_path = write_jsonl(tmp_path / "eval.jsonl", [sharegpt("Markets?", OTHERS[1]), sharegpt("Linked list?", one_word_edit(OTHERS[2], 5, "walking"))])
    rep = dedup(planted, tmp_path / "out.jsonl", DedupConfig(mode="near", within=False), against=eval_path, rejects=tmp_path / "rej.jsonl", report=tmp_path / "rep.json")
    rejected = read_jsonl(tmp_path / "rej.jsonl")
    assert [(r["line"], r["codes"], r["duplicate_of"]) for r in rejected] == [
        (7, ["eval-near-duplicate"], f"{eval_path}:1"),
        (11, ["eval-near-duplicate"], f"{eval_path}:2"),
    ]
    assert (rep.read, rep.kept, rep.rejected, rep.eval_matches) == (15, 13, 2, 2)
    report = json.loads((tmp_path / "rep.json").read_text())
    assert [(m["kept"], [x["source"] for x in m["members"]]) for m in report["eval_matches"]] == [(f"{eval_path}:1", [f"{planted}:7"]), (f"{eval_path}:2", [f"{planted}:11"])]
    # with --within (the default) the input's own duplicates go too
    rep2 = dedup(planted, tmp_path / "out2.jsonl", DedupConfig(mode="near"), against=eval_path)
    assert (rep2.kept, rep2.reasons) == (5, {"eval-near-duplicate": 2, "near-duplicate": 8})


def test_views(tmp_path: Path) -> None:
    rows = [sharegpt("same question", "answer one is here"), sharegpt("same question", "a different answer"), sharegpt("other question", "answer one is here")]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    assert dedup(path, tmp_path / "o.jsonl", DedupConfig(mode="exact", view="prompt")).rejected == 1
    assert dedup(path, tmp_path / "o.jsonl", DedupConfig(mode="exact", view="assistant"), rejects=tmp_path / "r.jsonl").rejected == 1
    assert [r["line"] for r in read_jsonl(tmp_path / "r.jsonl")] == [3]
    assert dedup(path, tmp_path / "o.jsonl", DedupConfig(mode="exact", view="record")).rejected == 0


def test_undecodable_rows_need_rejects(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [sharegpt("q", "a"), {"conversations": [{"from": "bot", "value": "x"}]}])
    with pytest.raises(RecordError):
        dedup(path, tmp_path / "o.jsonl", DedupConfig(mode="exact"))
    assert not (tmp_path / "o.jsonl").exists()
    rep = dedup(path, tmp_path / "o.jsonl", DedupConfig(mode="exact"), rejects=tmp_path / "r.jsonl")
    assert (rep.read, rep.kept, rep.rejected, rep.reasons) == (2, 1, 1, {"unknown-role": 1})


WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "数据", "清洗"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join), min_size=1, max_size=30),
    mode=st.sampled_from(["exact", "near"]),
    keep=st.sampled_from(["first", "longest", "last"]),
)
def test_nothing_lost(tmp_path_factory: pytest.TempPathFactory, texts: list[str], mode: str, keep: str) -> None:
    d = tmp_path_factory.mktemp("h")
    rows = [sharegpt(f"q{i % 3}", t) for i, t in enumerate(texts)]
    path = write_jsonl(d / "in.jsonl", rows)
    rep = dedup(path, d / "o.jsonl", DedupConfig(mode=mode, keep=keep), rejects=d / "r.jsonl")  # type: ignore[arg-type]
    kept, rejected = read_jsonl(d / "o.jsonl"), read_jsonl(d / "r.jsonl")
    assert rep.read == len(rows) == rep.kept + rep.rejected == len(kept) + len(rejected)
    assert sorted(map(json.dumps, kept + [r["record"] for r in rejected])) == sorted(map(json.dumps, rows))
    # every reject points at a kept row
    kept_lines = set(range(1, len(rows) + 1)) - {r["line"] for r in rejected}
    assert all(r["duplicate_line"] in kept_lines for r in rejected)


def test_against_an_eval_set_in_another_format(planted: Path, tmp_path: Path) -> None:
    eval_path = write_jsonl(tmp_path / "eval.jsonl", [{"messages": [{"role": "user", "content": "Linked list?"}, {"role": "assistant", "content": OTHERS[2]}]}])
    dedup(planted, tmp_path / "out.jsonl", DedupConfig(mode="exact", within=False), against=eval_path, rejects=tmp_path / "rej.jsonl", format="sharegpt")
    assert [(r["line"], r["codes"], r["duplicate_of"]) for r in read_jsonl(tmp_path / "rej.jsonl")] == [(11, ["eval-duplicate"], f"{eval_path}:1")]
