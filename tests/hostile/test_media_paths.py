"""Media paths that point outside the dataset: reported everywhere, refused on request.

LLaMA-Factory reads absolute paths and resolves relative ones against its media_dir, so
sftdata keeps reading them by default, but names every path that resolves (``..``, an
absolute path, a symlink) outside the dataset's folder and the media root
(``media-outside``), and ``--confine-media`` never opens them. URLs other than
http(s)/data (``file://``) are left alone: never opened, never rewritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile._exec import sftdata


def _png(path: Path, size: tuple[int, int] = (300, 168)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(path)
    return path


def _dataset(folder: Path, images: list[str], name: str = "data.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"messages": [{"role": "user", "content": "<image>What is it?"}, {"role": "assistant", "content": "A square."}], "images": [u]} for u in images]
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """data/ holds the dataset and in.png; secret/ (outside) holds an image and a corrupt one."""
    data, secret = tmp_path / "data", tmp_path / "secret"
    _png(data / "in.png")
    _png(secret / "s.png")
    (secret / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    os.symlink(secret / "s.png", data / "link.png")
    return {"data": data, "secret": secret, "root": tmp_path}


def test_validate_dotdot_path_outside(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"])
    proc = sftdata("validate", str(src))
    assert proc.returncode == 0
    assert f"{src}:2 messages[0].content  media-outside  image ../secret/s.png resolves to {layout['secret'] / 's.png'}, outside the dataset folder {layout['data']}" in proc.stdout
    assert "0 errors, 1 warning" in proc.stdout


def test_validate_absolute_path_outside(layout: dict[str, Path]) -> None:
    target = layout["secret"] / "s.png"
    src = _dataset(layout["data"], [str(target)])
    proc = sftdata("validate", str(src))
    assert proc.returncode == 0
    assert f"{src}:1 messages[0].content  media-outside  image {target} resolves to {target}, outside the dataset folder {layout['data']}" in proc.stdout


def test_validate_symlink_outside(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["link.png"])
    proc = sftdata("validate", str(src))
    assert proc.returncode == 0
    assert f"media-outside  image link.png resolves to {layout['secret'] / 's.png'}, outside the dataset folder" in proc.stdout


def test_validate_inside_media_root_is_not_outside(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["s.png"])
    proc = sftdata("validate", str(src), "--media-root", str(layout["secret"]))
    assert proc.returncode == 0 and "media-outside" not in proc.stdout
    assert "1 record (openai, profile sftdata): 1 valid, 0 rejected; 0 errors, 0 warnings" in proc.stdout


def test_validate_confine_media_refuses_to_open(layout: dict[str, Path]) -> None:
    """The corrupt image outside is not decoded (no media-unreadable): it was never opened."""
    src = _dataset(layout["data"], ["in.png", "../secret/corrupt.png"])
    opened = sftdata("validate", str(src))
    assert opened.returncode == 1 and "media-unreadable" in opened.stdout and "media-outside" in opened.stdout
    proc = sftdata("validate", str(src), "--confine-media")
    assert proc.returncode == 1
    assert "media-unreadable" not in proc.stdout
    assert f"{src}:2 messages[0].content  media-outside  image ../secret/corrupt.png resolves to {layout['secret'] / 'corrupt.png'}, outside the dataset folder {layout['data']}; not opened (--confine-media)" in proc.stdout
    assert "2 records (openai, profile sftdata): 1 valid, 1 rejected; 1 error, 0 warnings" in proc.stdout


def test_stats_names_outside_paths(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"])
    proc = sftdata("stats", str(src))
    assert proc.returncode == 0
    assert (f"warning: media-outside: 1 media path resolves outside the dataset folder, read anyway; --confine-media refuses to open them: "
            f"{src}:2 ../secret/s.png -> {layout['secret'] / 's.png'}") in " ".join(proc.stdout.split())
    assert "images: 2 (132 tokens" in proc.stdout  # both read: 66 tokens each


def test_stats_confine_media_leaves_size_unknown(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"])
    proc = sftdata("stats", str(src), "--confine-media")
    assert proc.returncode == 0
    assert "images: 2 (67 tokens" in proc.stdout  # the outside one counts as its placeholder
    assert "images of unknown size: 1" in proc.stdout and "on lines 2" in proc.stdout
    assert "not opened (--confine-media)" in " ".join(proc.stdout.split())


def test_check_confine_media(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"])
    proc = sftdata("check", str(src), "--confine-media", "--no-dedup")
    assert proc.returncode == 1
    assert "media-outside" in proc.stdout and "1 error" in proc.stdout


def test_filter_confine_media_drops_with_reason(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"])
    out, rejects = layout["root"] / "kept.jsonl", layout["root"] / "rej.jsonl"
    proc = sftdata("filter", str(src), "-o", str(out), "--max-tokens", "4096", "--confine-media", "--rejects", str(rejects))
    assert proc.returncode == 0
    assert f"{src} -> {out}: read 2, kept 1, rejected 1" in proc.stdout
    assert "rejected by reason: media-outside 1" in proc.stdout
    assert [(r["line"], r["codes"]) for r in map(json.loads, rejects.read_text().splitlines())] == [(2, ["media-outside"])]


def test_file_url_not_rewritten_by_media_root(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "file:///etc/passwd"])
    out = layout["root"] / "out" / "o.jsonl"
    proc = sftdata("convert", str(src), "-o", str(out), "--to", "openai", "--media-root", str(layout["data"]))
    assert proc.returncode == 0
    urls = [json.loads(x)["messages"][0]["content"][0] for x in out.read_text().splitlines()]
    assert [u.get("image_url", {}).get("url", u.get("image")) if isinstance(u, dict) else u for u in urls] == ["../data/in.png", "file:///etc/passwd"]


def test_file_url_is_never_opened(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["file:///etc/passwd"])
    proc = sftdata("validate", str(src))
    assert proc.returncode == 0
    assert "media-missing" not in proc.stdout and "media-outside" not in proc.stdout and "passwd" not in proc.stdout


def test_convert_into_other_folder_warns_media_paths(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png"])
    out = layout["root"] / "out" / "o.jsonl"
    proc = sftdata("convert", str(src), "-o", str(out), "--to", "sharegpt")
    assert proc.returncode == 0
    assert json.loads(out.read_text())["images"] == ["in.png"]  # not rewritten by default
    said = " ".join(proc.stderr.split())
    assert f"warning: media-paths: relative media paths such as 'in.png' were kept as written: they resolve from {layout['data']}, not from {out.parent} where o.jsonl now is." in said
    assert f"--media-base {out.parent}" in said and "--media-root DIR" in said


def test_convert_in_same_folder_or_rewritten_does_not_warn(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png"])
    same = sftdata("convert", str(src), "-o", str(layout["data"] / "o.jsonl"), "--to", "sharegpt")
    out = layout["root"] / "out" / "o.jsonl"
    rebased = sftdata("convert", str(src), "-o", str(out), "--to", "sharegpt", "--media-base", str(out.parent))
    assert same.returncode == rebased.returncode == 0
    assert "media-paths" not in same.stderr + rebased.stderr
    assert json.loads(out.read_text())["images"] == ["../data/in.png"]


def test_convert_from_stdin_does_not_warn_media_paths(layout: dict[str, Path]) -> None:
    # `-` is spooled to a temporary folder: where relative paths resolve from it means nothing
    src = _dataset(layout["data"], ["in.png"])
    out = layout["root"] / "out" / "o.jsonl"
    proc = sftdata("convert", "-", "-o", str(out), "--to", "sharegpt", stdin=src.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert "media-paths" not in proc.stderr and json.loads(out.read_text())["images"] == ["in.png"]


def test_rich_markup_does_not_eat_brackets_in_paths(layout: dict[str, Path]) -> None:
    src = _dataset(layout["data"], ["in.png", "../secret/s.png"], name="data[final].jsonl")
    proc = sftdata("stats", str(src))
    assert proc.returncode == 0
    assert f"{src} (openai): 2 records" in proc.stdout
    assert f"{src}:2 ../secret/s.png" in " ".join(proc.stdout.split())
