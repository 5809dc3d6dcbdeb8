"""Remote URIs in every command, against moto's S3 server on 127.0.0.1 (never a real cloud)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import FIXTURES
from click.testing import CliRunner

pytest.importorskip("s3fs")
pytest.importorskip("flask", reason="moto's server mode needs moto[server]")

from _raydata import BUCKET  # the bucket of the session server (tests/conftest.py)

from sftdata.cli import cli
from sftdata.io.remote import Staging, expand, is_uri, read_range, spans


@pytest.fixture
def s3(s3_env: object) -> object:
    """The session's moto S3 server on 127.0.0.1 (tests/conftest.py); credentials and
    endpoint come from the environment, as they would for a real bucket."""
    return s3_env


def _data(tmp_path: Path) -> Path:
    """Valid sharegpt rows, an exact duplicate and two rows that do not decode."""
    good = (FIXTURES / "sharegpt" / "sft.jsonl").read_text().splitlines()
    bad = (FIXTURES / "sharegpt" / "invalid.jsonl").read_text().splitlines()[:2]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([good[0], bad[0], *good, bad[1], good[1]]) + "\n")
    return path


def _put(fs: object, local: Path, key: str) -> str:
    fs.put_file(str(local), f"{BUCKET}/{key}")  # type: ignore[attr-defined]
    return f"s3://{BUCKET}/{key}"


def _get(fs: object, uri: str) -> bytes:
    return fs.cat_file(uri.split("://", 1)[1])  # type: ignore[attr-defined]


def _run(args: list[str]) -> object:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_uri_detection() -> None:
    assert [is_uri(p) for p in ("s3://b/k", "gs://b/k", "hf://datasets/x/y.jsonl", "file:///tmp/x", "/tmp/x", "C:\\x", Path("s3:/b"))] == [True, True, True, False, False, False, False]


def test_convert_reads_and_writes_s3_like_local_files(s3: object, tmp_path: Path) -> None:
    src = _data(tmp_path)
    uri = _put(s3, src, "in.jsonl")
    local = _run(["convert", str(src), "-o", str(tmp_path / "out.jsonl"), "--to", "openai", "--from", "sharegpt", "--rejects", str(tmp_path / "rej.jsonl")])
    remote = _run(["convert", uri, "-o", f"s3://{BUCKET}/out/out.jsonl", "--to", "openai", "--from", "sharegpt", "--rejects", f"s3://{BUCKET}/out/rej.jsonl"])
    assert local.exit_code == remote.exit_code == 0  # type: ignore[attr-defined]
    assert _get(s3, f"s3://{BUCKET}/out/out.jsonl") == (tmp_path / "out.jsonl").read_bytes()
    # the rejects cite the URI and its lines, exactly as the local run cites its path
    expected = (tmp_path / "rej.jsonl").read_text().replace(str(src), uri)
    assert _get(s3, f"s3://{BUCKET}/out/rej.jsonl").decode() == expected
    assert [json.loads(x)["source"] for x in expected.splitlines()] == [f"{uri}:2", f"{uri}:7"]
    assert remote.output == local.output.replace(str(src), uri).replace(str(tmp_path / "out.jsonl"), f"s3://{BUCKET}/out/out.jsonl").replace(str(tmp_path / "rej.jsonl"), f"s3://{BUCKET}/out/rej.jsonl")  # type: ignore[attr-defined]


def test_dedup_and_stats_on_s3(s3: object, tmp_path: Path) -> None:
    src = _data(tmp_path)
    uri = _put(s3, src, "dedup/in.jsonl")
    local = _run(["dedup", str(src), "-o", str(tmp_path / "kept.jsonl"), "--mode", "exact", "--from", "sharegpt", "--rejects", str(tmp_path / "drops.jsonl"), "--json"])
    remote = _run(["dedup", uri, "-o", f"s3://{BUCKET}/dedup/kept.jsonl", "--mode", "exact", "--from", "sharegpt", "--rejects", f"s3://{BUCKET}/dedup/drops.jsonl", "--json"])
    assert json.loads(remote.output) == json.loads(local.output)  # type: ignore[attr-defined]
    assert _get(s3, f"s3://{BUCKET}/dedup/kept.jsonl") == (tmp_path / "kept.jsonl").read_bytes()
    assert _get(s3, f"s3://{BUCKET}/dedup/drops.jsonl").decode() == (tmp_path / "drops.jsonl").read_text().replace(str(src), uri)
    stats_local = _run(["stats", str(src), "--json", "--from", "sharegpt", "--rejects", str(tmp_path / "srej.jsonl")])
    stats_remote = _run(["stats", uri, "--json", "--from", "sharegpt", "--rejects", f"s3://{BUCKET}/dedup/srej.jsonl"])
    a, b = json.loads(stats_local.output), json.loads(stats_remote.output)  # type: ignore[attr-defined]
    for report in (a, b):
        report.pop("seconds", None)
        report.pop("path", None)
        report.pop("file", None)
        report.pop("tokens_per_second", None)
    assert b == json.loads(json.dumps(a).replace(str(src), uri))


def test_errors_name_the_uri_and_nothing_is_uploaded_on_failure(s3: object, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text((FIXTURES / "sharegpt" / "sft.jsonl").read_text() + "{not json\n")
    uri = _put(s3, bad, "bad/bad.jsonl")
    result = CliRunner().invoke(cli, ["convert", uri, "-o", f"s3://{BUCKET}/bad/out.jsonl", "--to", "openai"], standalone_mode=False)
    assert result.exception is not None
    assert str(result.exception).startswith(f"{uri}:5: ")
    assert not s3.exists(f"{BUCKET}/bad/out.jsonl")  # type: ignore[attr-defined]
    missing = CliRunner().invoke(cli, ["validate", f"s3://{BUCKET}/nowhere.jsonl"], standalone_mode=False)
    assert f"file not found: s3://{BUCKET}/nowhere.jsonl" in str(missing.exception)


def test_ranges_and_globs(s3: object, tmp_path: Path) -> None:
    data = b"".join(b'{"text": "%d"}\n' % i for i in range(500))
    (tmp_path / "a.jsonl").write_bytes(data)
    uri = _put(s3, tmp_path / "a.jsonl", "shards/part-1.jsonl")
    _put(s3, tmp_path / "a.jsonl", "shards/part-0.jsonl")
    cut = list(spans(uri, 1000))
    assert b"".join(read_range(uri, s, e) for s, e in cut) == data
    assert all(read_range(uri, s, e).endswith(b"\n") for s, e in cut)
    assert expand(f"s3://{BUCKET}/shards") == expand(f"s3://{BUCKET}/shards/*.jsonl") == [f"s3://{BUCKET}/shards/part-0.jsonl", f"s3://{BUCKET}/shards/part-1.jsonl"]
    with Staging() as stage:
        local = stage.input(f"s3://{BUCKET}/shards")
        assert sorted(p.name for p in Path(local).iterdir()) == ["part-0.jsonl", "part-1.jsonl"]
        assert (Path(local) / "part-1.jsonl").read_bytes() == data
