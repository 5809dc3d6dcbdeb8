"""The Ray engine gives the local engine's answers: same rows in the same order, same
rejects with file and line, same drops and clusters, same token totals and percentiles.

One local Ray (2 CPUs) for the whole test session (the ``engine`` fixture of
tests/conftest.py), started after a moto S3 server so that its workers see the endpoint in
their environment, as cluster nodes see their credentials; the simulated two-node cluster
is in test_ray_cluster.py. Skipped cleanly where ``ray`` is not installed. Every Ray test
is in the ``ray`` xdist group: under ``pytest -n 2`` they share one worker, so one Ray.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _raydata import BUCKET
from _raydata import mixed as _mixed
from click.testing import CliRunner

from sftdata.api import convert
from sftdata.clean import fingerprint as fingerprint_module
from sftdata.clean.dedup import DedupConfig, dedup
from sftdata.engines import convert as convert_module
from sftdata.engines.base import Engine
from sftdata.errors import MissingDependencyError
from sftdata.io.rejects import RejectSink
from sftdata.stats import compute
from sftdata.stats.compute import token_stats

pytestmark = pytest.mark.xdist_group("ray")


def test_engine_ray_without_ray_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.cli.engine import engine_of

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError) as info:
        engine_of("ray", None)
    assert str(info.value) == "[missing-dependency] --engine ray needs the optional package 'ray', which is not installed. Install it with: pip install 'sftdata[ray]'"


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges of a few KB, so that a small file spreads over both actors in many ranges."""
    monkeypatch.setattr(convert_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(fingerprint_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(compute, "RANGE_BYTES", 4096)


def test_convert_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path) -> None:
    src = _mixed(tmp_path / "in.jsonl")
    local = convert(src, tmp_path / "local.jsonl", to="openai", from_="sharegpt", rejects=tmp_path / "local.rej.jsonl", workers=1)
    ray = convert(src, tmp_path / "ray.jsonl", to="openai", from_="sharegpt", rejects=tmp_path / "ray.rej.jsonl", engine=engine)
    assert ray.to_dict() == local.to_dict()
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "ray.rej.jsonl").read_bytes() == (tmp_path / "local.rej.jsonl").read_bytes()
    assert local.rejected == 10 and local.read == 393
    # a folder of shards: the same bytes, in order, and a manifest with the counts
    shards = convert(src, tmp_path / "shards/", to="openai", from_="sharegpt", rejects=tmp_path / "shards.rej.jsonl", engine=engine)
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest == {
        "parts": [{"file": "part-00000.jsonl", "rows": 383, "bytes": (tmp_path / "local.jsonl").stat().st_size}],
        "rows": 383,
        "source": str(src),
        "format": "openai",
        "engine": "ray",
        **shards.to_dict(),
    }
    assert (tmp_path / "shards" / "part-00000.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_first_error_in_file_order_on_ray(engine: Engine, small_ranges: None, tmp_path: Path) -> None:
    src = _mixed(tmp_path / "in.jsonl")
    with pytest.raises(Exception) as local:
        convert(src, tmp_path / "a.jsonl", to="openai", from_="sharegpt", workers=1)
    with pytest.raises(Exception) as ray:
        convert(src, tmp_path / "b.jsonl", to="openai", from_="sharegpt", engine=engine)
    assert (type(ray.value), str(ray.value)) == (type(local.value), str(local.value))
    assert str(local.value).startswith(f"{src}:8 conversations[0].from: [unknown-role]")
    assert not (tmp_path / "b.jsonl").exists()


def test_stats_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path) -> None:
    src = _mixed(tmp_path / "in.jsonl")
    reports = []
    for name, kwargs in (("local", {"workers": 1}), ("ray", {"engine": engine})):
        with RejectSink(tmp_path / f"{name}.rej.jsonl") as sink:
            report = token_stats(src, tokenizer="qwen2.5", template="qwen", format="sharegpt", cutoff_len=64, rejects=sink, **kwargs).to_dict()
        report.pop("seconds")
        report.pop("tokens_per_second")
        reports.append(report)
    assert reports[1] == reports[0]
    assert (tmp_path / "ray.rej.jsonl").read_bytes() == (tmp_path / "local.rej.jsonl").read_bytes()


@pytest.mark.parametrize("mode", ["exact", "near"])
def test_dedup_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path, mode: str) -> None:
    src = _mixed(tmp_path / "in.jsonl")
    config = DedupConfig(mode=mode)  # type: ignore[arg-type]
    out = {}
    for name, kwargs in (("local", {"workers": 1}), ("ray", {"engine": engine})):
        rep = dedup(src, tmp_path / f"{name}.jsonl", config, rejects=tmp_path / f"{name}.rej.jsonl", report=tmp_path / f"{name}.report.json", format="sharegpt", **kwargs)
        out[name] = (rep.to_dict(), *((tmp_path / f"{name}{suffix}").read_bytes() for suffix in (".jsonl", ".rej.jsonl", ".report.json")))
    assert out["ray"] == out["local"]
    assert out["local"][0]["clusters"] > 3  # the data has duplicates to find


def test_cli_engine_ray_reads_s3_and_writes_shards(engine: Engine, s3_env: object, small_ranges: None, tmp_path: Path) -> None:
    """Workers read their ranges of the object themselves; rejects cite the URI."""
    from sftdata.cli import cli

    src = _mixed(tmp_path / "in.jsonl")
    s3_env.put_file(str(src), f"{BUCKET}/in.jsonl")  # type: ignore[attr-defined]
    uri = f"s3://{BUCKET}/in.jsonl"
    runner = CliRunner()
    local = runner.invoke(cli, ["convert", str(src), "-o", str(tmp_path / "local.jsonl"), "--to", "openai", "--from", "sharegpt", "--rejects", str(tmp_path / "l.rej.jsonl"), "--json"], catch_exceptions=False)
    ray = runner.invoke(cli, ["convert", uri, "-o", str(tmp_path / "out") + "/", "--to", "openai", "--from", "sharegpt", "--rejects", str(tmp_path / "r.rej.jsonl"), "--json", "--engine", "ray"], catch_exceptions=False)
    assert json.loads(ray.output) == json.loads(local.output)
    assert (tmp_path / "out" / "part-00000.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "r.rej.jsonl").read_text() == (tmp_path / "l.rej.jsonl").read_text().replace(str(src), uri)


def test_filter_on_ray_equals_local(engine: Engine, small_ranges: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sftdata.clean import filters as F

    monkeypatch.setattr(F, "RANGE_BYTES", 4096)
    src = _mixed(tmp_path / "in.jsonl")
    chain = [F.Chars(max=400), F.Tokens(max=120, tokenizer="qwen2.5", template="qwen")]
    out = {}
    for name, kwargs in (("local", {}), ("ray", {"engine": engine})):
        rep = F.filter(src, tmp_path / f"{name}.jsonl", chain, rejects=tmp_path / f"{name}.rej.jsonl", format="sharegpt", **kwargs)
        out[name] = (rep.to_dict(), (tmp_path / f"{name}.jsonl").read_bytes(), (tmp_path / f"{name}.rej.jsonl").read_bytes())
    assert out["ray"] == out["local"]
    # relative image paths resolve from the file's folder on the workers too (media-missing names it)
    assert set(out["local"][0]["reasons"]) == {"media-missing", "too-many-tokens", "unknown-role", "wrong-type"}


def test_sftdata_ray_on_a_dataset_of_shards(engine: Engine, tmp_path: Path) -> None:
    """sftdata.ray: a folder of shards read into a Dataset, converted and counted, gives the
    local engine's rows, rejects (file and line) and token statistics."""
    import sftdata.ray as sr

    shards = tmp_path / "shards"
    shards.mkdir()
    _mixed(shards / "part-0.jsonl", 150)
    _mixed(shards / "part-1.jsonl", 90)
    ds = sr.read(shards)
    out = sr.convert(ds, to="openai", from_="sharegpt")
    got_kept = [json.loads(r["row"]) for r in sr.kept(out).take_all()]
    got_rejected = [(r["source"], r["line"], r["codes"]) for r in sr.rejected(out).take_all()]
    want_kept: list[object] = []
    want_rejected: list[object] = []
    for part in ("part-0", "part-1"):
        convert(shards / f"{part}.jsonl", tmp_path / f"{part}.out.jsonl", to="openai", from_="sharegpt", rejects=tmp_path / f"{part}.rej.jsonl", workers=1)
        want_kept += [json.loads(line) for line in (tmp_path / f"{part}.out.jsonl").read_text().splitlines()]
        want_rejected += [(r["source"].rsplit(":", 1)[0], r["line"], r["codes"]) for r in map(json.loads, (tmp_path / f"{part}.rej.jsonl").read_text().splitlines())]
    assert got_kept == want_kept
    assert got_rejected == want_rejected
    single = shards / "part-0.jsonl"
    config = compute.StatsConfig(format="sharegpt", cutoff_len=64)
    with RejectSink() as sink:
        local = token_stats(single, config, workers=1, rejects=sink).to_dict()
    remote_report = sr.token_stats(sr.read(single), config).to_dict()
    for report in (local, remote_report):
        for key in ("seconds", "tokens_per_second", "path"):
            report.pop(key)
    assert remote_report == local


def test_check_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path) -> None:
    """check: near-duplicate fingerprinting and token counting on Ray, the same report."""
    from sftdata.check import check

    src = _mixed(tmp_path / "in.jsonl")
    local = check(src, format="sharegpt", cutoff_len=64, check_media=False).to_dict()
    ray = check(src, format="sharegpt", cutoff_len=64, check_media=False, engine=engine).to_dict()
    for report in (local, ray):
        report["stats"].pop("seconds")
        report["stats"].pop("tokens_per_second")
    assert ray == local
    assert local["duplicates"]["clusters"] > 3


def test_unreadable_lines_and_trainer_counts_on_ray_equal_local(engine: Engine, small_ranges: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Lines that are not JSON objects go to --rejects on Ray as on the local engine (convert,
    filter, dedup, stats), dedup rejects embed the raw line, and stats count what the
    chosen trainer trains (trainer="llamafactory")."""
    from sftdata.clean import filters as F

    monkeypatch.setattr(F, "RANGE_BYTES", 4096)
    lines = _mixed(tmp_path / "m.jsonl").read_text().splitlines()
    lines[30:30] = ['{"conversations": [oops', "42", '  {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}']
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out: dict[str, list[object]] = {}
    for name, kwargs in (("local", {"workers": 1}), ("ray", {"engine": engine})):
        got: list[object] = []
        got.append(convert(src, tmp_path / f"{name}.c.jsonl", to="openai", from_="sharegpt", rejects=tmp_path / f"{name}.c.rej.jsonl", **kwargs).to_dict())
        got.append(F.filter(src, tmp_path / f"{name}.f.jsonl", [F.Chars(max=400)], rejects=tmp_path / f"{name}.f.rej.jsonl", format="sharegpt", **({} if name == "local" else kwargs)).to_dict())
        got.append(dedup(src, tmp_path / f"{name}.d.jsonl", DedupConfig(), rejects=tmp_path / f"{name}.d.rej.jsonl", format="sharegpt", **kwargs).to_dict())
        with RejectSink(tmp_path / f"{name}.s.rej.jsonl") as sink:
            report = token_stats(src, tokenizer="qwen2.5", template="qwen", format="sharegpt", trainer="llamafactory", cutoff_len=64, rejects=sink, **kwargs).to_dict()
        report.pop("seconds")
        report.pop("tokens_per_second")
        got.append(report)
        got += [(tmp_path / f"{name}.{step}").read_bytes() for step in ("c.jsonl", "c.rej.jsonl", "f.jsonl", "f.rej.jsonl", "d.jsonl", "d.rej.jsonl", "s.rej.jsonl")]
        out[name] = got
    assert out["ray"] == out["local"]
    assert b'"line":32' in out["local"][5] or b'"line": 32' in out["local"][5]  # the bad JSON line is a reject, not an error
    with pytest.raises(Exception) as local_err:
        F.filter(src, tmp_path / "x.jsonl", [F.Chars(max=400)], format="sharegpt")
    with pytest.raises(Exception) as ray_err:
        F.filter(src, tmp_path / "y.jsonl", [F.Chars(max=400)], format="sharegpt", engine=engine)
    assert (type(ray_err.value), str(ray_err.value)) == (type(local_err.value), str(local_err.value))


def test_sftdata_ray_validate_gives_every_rows_issues_as_local_validate(engine: Engine, tmp_path: Path) -> None:
    """sftdata.ray.validate: per row, the issues of the local validator (code, field,
    message, severity), with their file and line; only the whole-file rules are left out."""
    import sftdata.ray as sr
    from sftdata.validate.api import validate as local_validate

    src = _mixed(tmp_path / "m.jsonl", 240)
    for strict in (False, True):
        out = sr.validate(sr.read(src), from_="sharegpt", strict=strict).take_all()
        got: dict[tuple[str, str], list[tuple[int, object, str]]] = {}
        for row in out:
            for issue in row["issues"]:
                got.setdefault((issue["code"], issue["severity"]), []).append((row["line"], issue["field"], issue["message"]))
            assert row["codes"] == sorted({i["code"] for i in row["issues"] if i["severity"] == "error"})
        want: dict[tuple[str, str], list[tuple[int, object, str]]] = {}
        report = local_validate(src, format="sharegpt", strict=strict, locations=10_000, check_media=False).to_dict()
        for rule in report["rules"]:
            if rule["code"] in ("duplicate-record", "kto-single-label"):
                continue
            want[(rule["code"], rule["severity"])] = [(f["line"], f["field"], f["message"]) for f in rule["first"]]
        assert got == want and want  # the file has errors and warnings
        assert sum(1 for r in out if r["codes"]) == report["records"]["rejected"]


@pytest.mark.parametrize(("trainer", "stage"), [("llamafactory", "sft"), ("sftdata", "sft"), ("trl", "sft"), ("llamafactory", "dpo")])
def test_tokenize_on_ray_equals_local(engine: Engine, small_ranges: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trainer: str, stage: str) -> None:
    """`tokenize --engine ray`: the folder holds the local engine's rows in the same order,
    the report the same counts, the rejects the same lines."""
    pytest.importorskip("datasets")
    from datasets import load_from_disk

    from sftdata.tokenize import TokenizeConfig, tokenize_dataset
    from sftdata.tokenize import run as tokenize_run

    monkeypatch.setattr(tokenize_run, "RANGE_BYTES", 4096)  # many ranges from a small file
    if stage == "dpo":
        src = tmp_path / "pref.jsonl"
        src.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": f"q{i} " * (i % 7 + 1)}], "chosen": {"from": "gpt", "value": f"good {i}"}, "rejected": {"from": "gpt", "value": f"bad {i}"}}) + "\n" for i in range(120)) + "not json\n")
    else:
        src = _mixed(tmp_path / "m.jsonl", 300)
    config = TokenizeConfig(trainer=trainer, stage=stage, cutoff_len=48, format="sharegpt")  # type: ignore[arg-type]
    reports = {}
    for name, eng in (("local", None), ("ray", engine)):
        with RejectSink(tmp_path / f"{name}.rej.jsonl") as sink:
            reports[name] = tokenize_dataset([src], tmp_path / name, config, workers=1, rejects=sink, engine=eng).to_dict()
    assert load_from_disk(str(tmp_path / "ray"))["train"].to_list() == load_from_disk(str(tmp_path / "local"))["train"].to_list()
    for report in reports.values():
        for key in ("seconds", "tokens_per_second", "output"):
            report.pop(key)
    assert reports["ray"] == reports["local"] and reports["local"]["rows"] > 0 and reports["local"]["rejected"]
    assert (tmp_path / "ray.rej.jsonl").read_text() == (tmp_path / "local.rej.jsonl").read_text()


def test_tokenize_on_ray_refuses_what_needs_one_order(engine: Engine, tmp_path: Path) -> None:
    from sftdata.errors import UsageError
    from sftdata.tokenize import TokenizeConfig, tokenize_dataset

    src = _mixed(tmp_path / "m.jsonl", 20)
    for config in (TokenizeConfig(trainer="llamafactory", packing=True), TokenizeConfig(trainer="sftdata", val_size=0.2), TokenizeConfig(trainer="trl", stage="dpo")):
        with pytest.raises(UsageError, match="--engine ray"):
            tokenize_dataset([src], tmp_path / "out", config, engine=engine)
        assert not (tmp_path / "out").exists()
