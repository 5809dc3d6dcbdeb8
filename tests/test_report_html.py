"""`sftdata check --html`: one self-contained page, opened in headless Chromium: its
figures equal `check --json`, clicking (or pressing Enter on) a finding shows its rows,
and no request leaves the page. Screenshots go to ``artifacts/`` (or $SFTDATA_ARTIFACTS).
Skips where Chromium is absent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _chromium import Browser, available
from _clean_helpers import check_data, check_row
from _paths import ROOT

from sftdata.check import check
from sftdata.stats.html import render_report

ARTIFACTS = Path(os.environ.get("SFTDATA_ARTIFACTS") or ROOT / "artifacts")
needs_chromium = pytest.mark.skipif(not available(), reason="Chromium is not installed (apt-get install chromium)")
_row = check_row


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return check_data(tmp_path)


def value_at(doc: Any, key: str) -> Any:
    for part in key.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def assert_figures_equal(figures: list[list[str]], doc: dict[str, Any]) -> None:
    """Every ``data-key`` element shows its value in ``doc`` (numbers as formatted)."""
    for key, text, fmt in figures:
        want = value_at(doc, key)
        if isinstance(want, str):
            assert text == want, key
        elif fmt == "pct":
            assert text == f"{want * 100:.1f}%", key
        else:
            assert float(text.replace(",", "")) == pytest.approx(want, abs=0.005), key


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_page_is_self_contained_and_bounded(data: tuple[Path, Path]) -> None:
    train, evalset = data
    page = check(train, cutoff_len=64, against=evalset, details=True).to_html()
    # nothing that could load: no src/href to another place, no url() in the style
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    assert "url(" not in page and "@import" not in page and "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_rows_per_finding_are_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    p.write_text("".join(json.dumps(_row(i % 50)) + "\n" for i in range(3000)))
    r = check(p, cutoff_len=64, details=True)
    assert r.details is not None
    rows = r.details["rows"]
    # a sample of 12, 20 per finding, 10 clusters of up to 6, the 5 longest
    assert len(rows) <= 12 + 20 * len(r.findings) + 60 + 5
    assert {k: len(v) for k, v in r.details["finding_rows"].items()} == {"validation-warnings": 20, "duplicates": 60, "over-cutoff": 20, "lengths": 5}
    assert len(r.to_html()) < 400_000


@needs_chromium
def test_report_in_chromium_matches_json_and_filters_rows(data: tuple[Path, Path], tmp_path: Path) -> None:
    train, evalset = data
    out = tmp_path / "report.html"
    done = run_cli("check", str(train), "--cutoff-len", "64", "--against", str(evalset), "--html", str(out), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # invalid records and leaks are errors
    doc = json.loads(done.stdout)
    det = doc["details"]
    dup_lines = sorted(int(w.rsplit(":", 1)[1]) for w in det["finding_rows"]["duplicates"])
    assert dup_lines == [2, 3, 4, 5, 11, 12, 13, 14, 15]
    with Browser() as b:
        b.open(out)
        figures = b.js("Array.from(document.querySelectorAll('[data-key]')).map(e => [e.dataset.key, e.textContent, e.dataset.format || ''])")
        keys = {k for k, _, _ in figures}
        assert {"records", "validation.records.rejected", "duplicates.duplicates", "duplicates.eval_leaks", "stats.fields.total.p50", "stats.over_cutoff", "details.cutoff_curve.0.trainable_lost", "details.histograms.trainable.0.count", "findings.0.message"} <= keys
        assert_figures_equal(figures, doc)
        assert b.js("document.querySelector('.verdict').textContent") == "Fix the errors before training."
        assert b.js("Array.from(document.querySelectorAll('ol.findings li')).map(li => li.dataset.code)") == [f["code"] for f in doc["findings"]]
        assert b.js("Array.from(document.querySelectorAll('ol.findings .fix')).map(e => e.textContent)") == [f["fix"] for f in doc["findings"] if f["fix"]]
        # all rows at first; a click on a finding shows exactly its rows, file:line each
        visible = "Array.from(document.querySelectorAll('#rows .row')).filter(r => !r.hidden).map(r => r.dataset.where)"
        assert len(b.js(visible)) == len(det["rows"])
        b.js("document.querySelector('button[data-finding=\"duplicates\"]').click()")
        assert b.js(visible) == [f"{train}:{n}" for n in dup_lines]
        assert b.js("document.getElementById('row-status').textContent") == "Showing 9 rows for duplicates."
        assert b.js("Array.from(document.querySelectorAll('#rows .row:not([hidden]) h3')).map(h => h.textContent)") == [f"{train}:{n}" for n in dup_lines]
        # by keyboard: Enter on the focused button; focus moves to the rows
        b.js("document.querySelector('button[data-finding=\"invalid-records\"]').focus()")
        b.press("Enter")
        assert b.js(visible) == [f"{train}:16"]
        assert b.js("document.activeElement.id") == "rows-title"
        assert b.js("document.querySelector('button[data-finding=\"invalid-records\"]').getAttribute('aria-pressed')") == "true"
        b.js("document.querySelector('button[data-finding=\"eval-leaks\"]').click()")
        assert b.js(visible) == [f"{train}:6", f"{train}:7"]
        # the clusters mark the one edited word; trained spans are marked for screen readers too
        assert b.js("Array.from(document.querySelectorAll('.cluster mark')).map(m => m.textContent)")[:2] == ["changed", "other"]
        assert b.js("document.querySelectorAll('.row .t .sr').length") > 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        b.js("window.sftdataShow('')")
        shot = b.screenshot(ARTIFACTS / "report-light.png")
        b.dark()
        assert b.js("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        b.screenshot(ARTIFACTS / "report-dark.png")
        assert shot.stat().st_size > 10_000
        # nothing but the page itself was requested, and nothing had to be blocked
        assert b.requests == [out.resolve().as_uri()]
        assert b.blocked == []


@needs_chromium
@pytest.mark.parametrize("name", ["preference.jsonl", "kto.jsonl"])
def test_preference_and_kto_pages(name: str, tmp_path: Path) -> None:
    r = check(ROOT / "fixtures" / "sharegpt" / name, details=True)
    doc = json.loads(json.dumps(r.to_dict()))
    out = tmp_path / "r.html"
    out.write_text(r.to_html(), encoding="utf-8")
    with Browser() as b:
        b.open(out)
        figures = b.js("Array.from(document.querySelectorAll('[data-key]')).map(e => [e.dataset.key, e.textContent, e.dataset.format || ''])")
        assert_figures_equal(figures, doc)
        keys = {k for k, _, _ in figures}
        if name == "kto.jsonl":
            assert {"stats.kto.desirable", "stats.kto.undesirable"} <= keys
        else:
            assert "details.histograms.chosen.0.count" in keys and "details.histograms.rejected.0.count" in keys
            assert b.js("document.querySelectorAll('.row .side').length") > 0  # chosen beside rejected
        assert b.requests == [out.resolve().as_uri()]


def test_render_report_takes_plain_data() -> None:
    page = render_report({"path": "x.jsonl", "format": None, "records": 0, "findings": [{"severity": "error", "code": "unknown-format", "message": "the format could not be detected.", "fix": "sftdata detect x.jsonl"}], "validation": {"records": {"total": 0, "valid": 0, "rejected": 0}, "issues": {"error": 0, "warning": 0}}})
    assert "Fix the errors before training." in page and "sftdata detect x.jsonl" in page


def test_several_sources_and_a_dataset_info_mixture(data: tuple[Path, Path], tmp_path: Path) -> None:
    train, evalset = data
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(_row(100 + i)) + "\n" for i in range(4)))
    r = check([train, other], cutoff_len=64, details=True)
    assert [s.path for s in r.sources] == [str(train), str(other)]
    assert (r.records, r.validation.valid, r.validation.rejected) == (20, 19, 1)
    assert r.validation.codes() == {k: r.sources[0].validation.codes().get(k, 0) + r.sources[1].validation.codes().get(k, 0) for k in r.validation.codes()}
    assert sorted(f.message for f in r.findings) == sorted(f"{s.path}: {f.message}" for s in r.sources for f in s.findings)
    order = {"error": 0, "warning": 1, "info": 2}
    assert [f.severity for f in r.findings] == sorted((f.severity for f in r.findings), key=order.__getitem__)
    assert r.findings[0].severity == "error" and r.exit_code == 1
    doc = r.to_dict()
    assert [s["path"] for s in doc["sources"]] == [str(train), str(other)]
    # a dataset_info.json: each entry read as it says; entries without a local file named
    (tmp_path / "dataset_info.json").write_text(json.dumps({"a": {"file_name": "train.jsonl"}, "b": {"file_name": "other.jsonl"}, "c": {"hf_hub_url": "x/y"}, "d": {"file_name": "gone.json"}}))
    mix = check(tmp_path / "dataset_info.json", cutoff_len=64)
    assert [s.records for s in mix.sources] == [16, 4]
    assert mix.findings[-1].code == "not-checked" and mix.findings[-1].message.endswith("2 datasets of " + str(tmp_path / "dataset_info.json") + " not checked: c (no local file_name), d (gone.json not found).")
    if available():
        out = tmp_path / "mix.html"
        out.write_text(r.to_html(), encoding="utf-8")
        with Browser() as b:
            b.open(out)
            figures = b.js("Array.from(document.querySelectorAll('[data-key]')).map(e => [e.dataset.key, e.textContent, e.dataset.format || ''])")
            assert_figures_equal(figures, json.loads(json.dumps(doc)))
            assert {"sources.0.records", "sources.1.stats.tokens", "sources.1.details.histograms.total.0.count"} <= {k for k, _, _ in figures}
            assert b.requests == [out.resolve().as_uri()]


@needs_chromium
def test_report_on_real_data(realdata: Path, tmp_path: Path) -> None:
    """LLaMA-Factory's glaive demo: every figure of the page equals --json."""
    out = tmp_path / "glaive.html"
    done = run_cli("check", str(realdata / "glaive_toolcall_en_demo.json"), "--cutoff-len", "1024", "--html", str(out), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    curve = {p["cutoff_len"]: p for p in doc["details"]["cutoff_curve"]}
    assert (curve[1024]["rows_cut"], curve[1024]["trainable_lost"]) == (doc["stats"]["over_cutoff"], doc["stats"]["cut_trainable"])
    assert sum(b["count"] for b in doc["details"]["histograms"]["total"]) == doc["stats"]["records"]
    assert doc["details"]["histograms"]["total"] == doc["stats"]["histogram"]
    with Browser() as b:
        b.open(out)
        figures = b.js("Array.from(document.querySelectorAll('[data-key]')).map(e => [e.dataset.key, e.textContent, e.dataset.format || ''])")
        assert len(figures) > 50
        assert_figures_equal(figures, doc)
        b.js("document.querySelector('button[data-finding=\"over-cutoff\"]').click()")
        shown = b.js("Array.from(document.querySelectorAll('#rows .row')).filter(r => !r.hidden).map(r => r.dataset.where)")
        assert shown == doc["details"]["finding_rows"]["over-cutoff"] and len(shown) == 20
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        b.screenshot(ARTIFACTS / "report-glaive.png", full_page=False)
        assert b.requests == [out.resolve().as_uri()]
