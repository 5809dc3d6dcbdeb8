"""convert rewrites relative media paths for the output's folder when asked, and only then."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.media.paths import Rebase, is_local_relative
from sftdata.formats.rewrite import Rewrite

from _paths import FIXTURES


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("images/1.png", "../in/images/1.png"),
        ("./images/../images/1.png", "../in/images/1.png"),
        ("../shared/a.jpg", "../shared/a.jpg"),
        ("/abs/1.png", "/abs/1.png"),
        ("https://example.org/1.png", "https://example.org/1.png"),
        ("http://example.org/1.png", "http://example.org/1.png"),
        ("data:image/png;base64,AAAA", "data:image/png;base64,AAAA"),
        ("s3://bucket/1.png", "s3://bucket/1.png"),
        ("gs://bucket/1.png", "gs://bucket/1.png"),
        ("", ""),
        ("C:\\data\\1.png", "C:\\data\\1.png"),
        ("\\\\server\\share\\1.png", "\\\\server\\share\\1.png"),
    ],
)
def test_rebase_values(url: str, expected: str) -> None:
    assert Rebase("/data/in", "/data/out")(url) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "img", "x.png"]), min_size=1, max_size=5), st.sampled_from(["/d/in", "/d/in/sub", "/"]), st.sampled_from(["/d/out", "/d/in", "/e", "/"]))
def test_rebased_path_points_at_the_same_file(parts: list[str], root: str, base: str) -> None:
    url = "/".join(parts)
    new = Rebase(root, base)(url)
    assert is_local_relative(new) or new == "."
    assert os.path.normpath(os.path.join(base, new)) == os.path.normpath(os.path.join(root, url))


def media_urls(path: Path) -> list[str]:
    """Every media path or URL in an openai-format output, in order."""
    out = []
    for line in path.read_bytes().splitlines():
        row = orjson.loads(line)
        out += row.get("images", [])
        for m in row["messages"]:
            for part in m["content"] if isinstance(m["content"], list) else []:
                kind = part["type"]
                if kind.endswith("_url"):
                    out.append(part[kind]["url"])
    return out


def issue_codes(path: Path, **options: Any) -> set[str]:
    return set(sftdata.validate(path, **options).rules)


def test_fixture_output_elsewhere(tmp_path: Path) -> None:
    src = FIXTURES / "sharegpt" / "sft.jsonl"
    out_dir = tmp_path / "out"
    verbatim, rebased = out_dir / "verbatim.jsonl", out_dir / "rebased.jsonl"
    sftdata.convert(src, verbatim, to="openai")
    assert media_urls(verbatim) == ["images/1.png"]  # default: verbatim, which does not resolve here
    assert "media-missing" in issue_codes(verbatim)
    # --media-root alone: relative to the output's folder
    result = sftdata.convert(src, rebased, to="openai", rewrite=Rewrite(media_root=src.parent))
    expected = os.path.relpath(FIXTURES / "sharegpt" / "images" / "1.png", out_dir)
    assert media_urls(rebased) == [expected]
    assert (out_dir / expected).is_file()
    assert "media-missing" not in issue_codes(rebased)
    # every record still there, and only the media path changed
    assert result.read == result.written == sum(1 for line in src.read_bytes().splitlines() if line.strip())
    assert verbatim.read_bytes().replace(b"images/1.png", expected.encode()) == rebased.read_bytes()


@pytest.mark.parametrize(("fmt", "to"), [("alpaca", "sharegpt"), ("openai", "alpaca"), ("trl", "openai"), ("sharegpt", "trl")])
def test_every_fixture_with_images_resolves_after_a_move(tmp_path: Path, fmt: str, to: str) -> None:
    src = FIXTURES / fmt / "sft.jsonl"
    media_base = tmp_path / "lf" / "data"
    out = tmp_path / "lf" / "data" / "nested" / "out.jsonl"
    sftdata.convert(src, out, to=to, rewrite=Rewrite(media_base=media_base))
    urls = [u for line in out.read_bytes().splitlines() for u in orjson.loads(line).get("images", [])]
    if to == "openai":
        urls = media_urls(out)
    local = [u for u in urls if is_local_relative(u)]
    assert local, "the fixture holds a local image"
    for url in local:
        assert (media_base / url).is_file(), url
    for url in set(urls) - set(local):
        assert url.encode() in src.read_bytes()  # URLs copied verbatim
    # validate with LLaMA-Factory's media_dir resolves every image
    assert "media-missing" not in issue_codes(out, media_root=media_base)


def test_mllm_demo_realdata_via_dataset_info(realdata: Path, tmp_path: Path) -> None:
    """LLaMA-Factory resolves an entry's media against dataset_dir (the default media_dir),
    so that is the default media root when reading through dataset_info.json."""
    out = tmp_path / "mllm.jsonl"
    result = sftdata.convert(None, out, to="openai", dataset_info=(realdata / "dataset_info.json", "mllm_demo"), rewrite=Rewrite(media_base=tmp_path))
    urls = media_urls(out)
    rows = orjson.loads((realdata / "mllm_demo.json").read_bytes())
    assert result.written == len(rows) and len(urls) == sum(len(r["images"]) for r in rows)
    assert [os.path.normpath(tmp_path / u) for u in urls] == [os.path.normpath(realdata / u) for r in rows for u in r["images"]]
    assert all((tmp_path / u).is_file() for u in urls)
    assert "media-missing" not in issue_codes(out)


def test_mllm_demo_copied_dataset_keeps_absolute_and_urls(realdata: Path, tmp_path: Path) -> None:
    rows = orjson.loads((realdata / "mllm_demo.json").read_bytes())
    rows[0]["images"] = [str(realdata / rows[0]["images"][0]), "https://example.org/x.jpg"]
    rows[0]["messages"][2]["content"] = rows[0]["messages"][2]["content"]  # still two <image>
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    shutil.copytree(realdata / "mllm_demo_data", src_dir / "mllm_demo_data")
    src = src_dir / "mllm.json"
    src.write_bytes(orjson.dumps(rows))
    out = tmp_path / "elsewhere" / "mllm.json"
    sftdata.convert(src, out, to="sharegpt", rewrite=Rewrite(media_root=src_dir))
    got = [r["images"] for r in orjson.loads(out.read_bytes())]
    assert got[0] == [str(realdata / "mllm_demo_data" / "1.jpg"), "https://example.org/x.jpg"]
    assert got[1:] == [[f"../src/{u}" for u in r["images"]] for r in rows[1:]]
    assert "media-missing" not in issue_codes(out)


def test_parallel_path_rewrites_too(tmp_path: Path) -> None:
    src = FIXTURES / "openai" / "sft.jsonl"
    copy = tmp_path / "in" / "sft.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(src.read_bytes())
    shutil.copytree(src.parent / "img", copy.parent / "img")
    one, two = tmp_path / "o" / "1.jsonl", tmp_path / "o" / "2.jsonl"
    sftdata.convert(copy, one, to="openai", workers=1, rewrite=Rewrite(media_root=copy.parent))
    sftdata.convert(copy, two, to="openai", workers=2, rewrite=Rewrite(media_root=copy.parent))
    assert one.read_bytes() == two.read_bytes()
    assert media_urls(one) == ["https://example.com/cat.jpg", "../in/img/1.jpg"]
