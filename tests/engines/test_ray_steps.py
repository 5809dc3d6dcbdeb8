"""``validate``, ``split`` and ``dedup`` (exact and near, matched on Ray) give the local
engine's answers on Ray: same reports, same output and rejects bytes, same groups.

The files hold bad lines, records repeated far apart and near-duplicate clusters whose
members sit in different ranges (ranges of 4 KB here, so every file spreads over many),
on the session's local Ray (tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _raydata import mixed as _mixed
from click.testing import CliRunner

from sftdata.clean import fingerprint as fingerprint_module
from sftdata.clean import dedup as dedup_module
from sftdata.clean import split as split_module
from sftdata.clean.dedup import DedupConfig, dedup
from sftdata.clean.split import SplitConfig, split
from sftdata.engines.base import Engine
from sftdata.validate import ranges as validate_ranges
from sftdata.validate.api import validate

pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate_ranges, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(fingerprint_module, "CHUNK_BYTES", 4096)


def _clusters(path: Path, n: int = 240, seed: int = 3) -> Path:
    """sharegpt rows in near-duplicate clusters spread far apart (so across ranges), with
    chains (a~b, b~c but not a~c), exact repeats, unreadable lines and a blank line."""
    import random

    rng = random.Random(seed)
    words = [f"tok{k}" for k in range(400)]
    bases = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(30)]
    out = []
    for i in range(n):
        if i % 37 == 5:
            out.append('{"conversations": [ broken')
            continue
        if i % 61 == 9:
            out.append("[1, 2]")
            continue
        if i == 100:
            out.append("")
            continue
        base = bases[i % len(bases)].split()
        # each pass over the bases drifts a little further: near copies, and chains
        drift = i // len(bases)
        text = " ".join(base[: 40 - drift] + [f"d{i % len(bases)}x{k}" for k in range(drift)])
        if i % 7 == 0:
            text = bases[(i * 11) % len(bases)]  # an exact repeat of another base
        out.append(json.dumps({"conversations": [{"from": "human", "value": text}, {"from": "gpt", "value": "ok"}]}))
    path.write_text("\n".join(out) + "\n")
    return path


def _kto(path: Path) -> Path:
    rows = [{"prompt": [{"role": "user", "content": f"q{i % 9}"}], "completion": [{"role": "assistant", "content": "a" if i % 5 else ""}], "label": True} for i in range(60)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    return path


@pytest.mark.parametrize(("make", "profile", "options"), [
    (_mixed, "sftdata", {}),
    (_mixed, "llamafactory", {"fix": True, "fail_on": "warning"}),
    (_clusters, "trl", {}),
    (_kto, "sftdata", {}),
])
def test_validate_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path, make, profile: str, options: dict) -> None:
    src = make(tmp_path / "in.jsonl")
    got = {}
    for name, eng in (("local", None), ("ray", engine)):
        report = validate(src, profile, rejects=tmp_path / f"{name}.rej.jsonl", output=tmp_path / f"{name}.out.jsonl", workers=1, engine=eng, check_media=False, **options)
        got[name] = report.to_dict()
    assert got["ray"] == got["local"]
    for part in ("rej", "out"):
        assert (tmp_path / f"ray.{part}.jsonl").read_bytes() == (tmp_path / f"local.{part}.jsonl").read_bytes(), part


def test_validate_cli_engine_ray(engine: Engine, small_ranges: None, tmp_path: Path) -> None:
    from sftdata.cli import cli

    src = _mixed(tmp_path / "in.jsonl")
    runner = CliRunner()
    local = runner.invoke(cli, ["validate", str(src), "--format", "json", "--workers", "1"])
    ray = runner.invoke(cli, ["validate", str(src), "--format", "json", "--engine", "ray"])
    assert ray.exit_code == local.exit_code == 1, ray.output
    assert json.loads(ray.output) == json.loads(local.output)


def _no_driver_matching(*args: object, **kwargs: object) -> None:
    raise AssertionError("matched on the driver, not on Ray")


@pytest.mark.parametrize(("make", "config", "on_ray"), [
    (_clusters, SplitConfig(val_size=0.2, seed=1), True),
    (_clusters, SplitConfig(val_size=30, seed=5, group="exact"), True),
    # ~130 copies of each fixture row: past max_candidates, so grouped on the driver
    (_mixed, SplitConfig(val_size=0.25, seed=2), False),
])
def test_split_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, config: SplitConfig, on_ray: bool) -> None:
    src = make(tmp_path / "in.jsonl")
    local = split(src, tmp_path / "local", config, rejects=tmp_path / "local.rej.jsonl", format="sharegpt", workers=1)
    if on_ray:
        monkeypatch.setattr(split_module, "match", _no_driver_matching)
    ray = split(src, tmp_path / "ray", config, rejects=tmp_path / "ray.rej.jsonl", format="sharegpt", engine=engine)
    assert ray.to_dict() == local.to_dict()
    assert local.groups > 0 and local.val > 0
    for name in ("train.jsonl", "val.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert (tmp_path / "ray.rej.jsonl").read_bytes() == (tmp_path / "local.rej.jsonl").read_bytes()


@pytest.mark.parametrize(("make", "config"), [
    (_clusters, DedupConfig()),
    (_clusters, DedupConfig(mode="exact")),
    (_mixed, DedupConfig()),
    (_mixed, DedupConfig(keep="longest")),
])
def test_dedup_matched_on_ray_equals_local(engine: Engine, small_ranges: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, config: DedupConfig) -> None:
    src = make(tmp_path / "in.jsonl")
    local = dedup(src, tmp_path / "local.jsonl", config, rejects=tmp_path / "local.rej.jsonl", report=tmp_path / "local.json", format="sharegpt", workers=1)
    monkeypatch.setattr(dedup_module, "match", _no_driver_matching)
    ray = dedup(src, tmp_path / "ray.jsonl", config, rejects=tmp_path / "ray.rej.jsonl", report=tmp_path / "ray.json", format="sharegpt", engine=engine)
    assert ray.to_dict() == local.to_dict()
    assert local.clusters > 0
    for name in (".jsonl", ".rej.jsonl", ".json"):
        assert (tmp_path / f"ray{name}").read_bytes() == (tmp_path / f"local{name}").read_bytes(), name
