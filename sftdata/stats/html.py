"""The check report as one self-contained HTML page: inline CSS, JS and SVG, no request
to anywhere, readable from disk, in light and dark mode, by keyboard and screen reader.

It takes plain data only (the dict of :meth:`sftdata.check.CheckReport.to_dict`), so it
imports nothing of sftdata above it. Every figure shown carries ``data-key``, its path in
that dict (``stats.fields.total.p50``), so a test can compare the page with ``--json``.

>>> page = render_report({"path": "t.jsonl", "format": "sharegpt", "records": 2, "findings": [],
...     "validation": {"records": {"total": 2, "valid": 2, "rejected": 0}, "issues": {"error": 0, "warning": 0}}})
>>> '<dd data-key="records">2</dd>' in page, "ready to train" in page, "http" in page.split("<body")[1]
(True, True, False)
"""

from __future__ import annotations

from html import escape
from typing import Any

from ._html_assets import CSS, JS
from ._html_parts import _bars, _curve, _fig, _row, _side_by_side, _td, _text_of, num, verdict

FIX_WORDS = {"error": "fix", "warning": "fix", "info": "try"}


def _figures(d: dict[str, Any], p: str) -> str:
    v = d["validation"]
    out = [
        _fig(f"{p}records", d["records"], "records"),
        _fig(f"{p}validation.records.valid", v["records"]["valid"], "valid"),
        _fig(f"{p}validation.records.rejected", v["records"]["rejected"], "rejected"),
        _fig(f"{p}validation.issues.error", v["issues"]["error"], "errors"),
        _fig(f"{p}validation.issues.warning", v["issues"]["warning"], "warnings"),
    ]
    dup = d.get("duplicates")
    if dup:
        out += [_fig(f"{p}duplicates.duplicates", dup["duplicates"], f"near-duplicates (Jaccard ≥ {dup['threshold']})"), _fig(f"{p}duplicates.clusters", dup["clusters"], "clusters")]
        if dup.get("eval_leaks") is not None:
            out.append(_fig(f"{p}duplicates.eval_leaks", dup["eval_leaks"], "eval leaks"))
    s = d.get("stats")
    if s:
        t = s["fields"]["total"]
        out += [_fig(f"{p}stats.fields.total.{q}", t[q], f"tokens {q}") for q in ("p50", "p95", "p99", "max")]
        out += [_fig(f"{p}stats.tokens", s["tokens"], "tokens in all"), _fig(f"{p}stats.trainable_tokens", s["trainable_tokens"], "trainable tokens")]
        if s.get("cutoff_len"):
            out += [_fig(f"{p}stats.over_cutoff", s["over_cutoff"], f"rows over cutoff_len {s['cutoff_len']:,}"), _fig(f"{p}stats.cut_trainable", s["cut_trainable"], "trainable tokens cut")]
        if s.get("zero_trainable"):
            out.append(_fig(f"{p}stats.zero_trainable", s["zero_trainable"], "rows with nothing to train"))
        if s.get("images"):
            out += [_fig(f"{p}stats.images", s["images"], "images"), _fig(f"{p}stats.image_tokens", s["image_tokens"], "image tokens"), _fig(f"{p}stats.image_share", s["image_share"], "image share of tokens", pct=True)]
    return f'<dl class="figures">{"".join(out)}</dl>'


def _findings(findings: list[dict[str, Any]], rows_by_code: dict[str, int]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    items = []
    for i, f in enumerate(findings):
        sev = f["severity"]
        n = rows_by_code.get(f["code"], 0)
        button = f' <button type="button" data-finding="{escape(f["code"])}" aria-pressed="false" aria-controls="rows">Show {n} row{"s" if n != 1 else ""}</button>' if n else ""
        fix = f'<code class="fix" aria-label="command that {"may help" if sev == "info" else "fixes it"}">{escape(f["fix"])}</code>' if f.get("fix") else ""
        items.append(
            f'<li class="{sev}" data-code="{escape(f["code"])}"><span class="sev {sev}">{sev}</span> <strong>{escape(f["code"])}</strong>{button}'
            f'<p data-key="findings.{i}.message">{escape(f["message"])}</p>{f"<span class=sr>{FIX_WORDS[sev]}: </span>" if fix else ""}{fix}</li>'
        )
    return f'<ol class="findings">{"".join(items)}</ol>'


def _lengths(d: dict[str, Any], p: str, uid: str) -> str:
    det, s = d.get("details") or {}, d.get("stats")
    hist = det.get("histograms") or {}
    cutoff = s.get("cutoff_len") if s else None
    charts = []
    if hist.get("total"):
        charts.append(_bars(hist["total"], f"{p}details.histograms.total", "Total tokens per record", cutoff, f"{uid}total"))
    if hist.get("trainable"):
        charts.append(_bars(hist["trainable"], f"{p}details.histograms.trainable", "Trainable tokens per record", None, f"{uid}trainable"))
    if hist.get("chosen"):
        charts.append(_bars(hist["chosen"], f"{p}details.histograms.chosen", "Chosen: trainable tokens", None, f"{uid}chosen"))
        charts.append(_bars(hist["rejected"], f"{p}details.histograms.rejected", "Rejected: trainable tokens", None, f"{uid}rejected"))
    extra = []
    if s and s.get("kto"):
        k = s["kto"]
        total = (k["desirable"] + k["undesirable"]) or 1
        extra.append(
            f'<figure><figcaption>KTO label balance</figcaption><div class="balance" role="img" aria-label="{k["desirable"]:,} desirable, {k["undesirable"]:,} undesirable">'
            f'<span class="a" style="width:{100 * k["desirable"] / total:.1f}%"></span><span class="b" style="width:{100 * k["undesirable"] / total:.1f}%"></span></div>'
            f'<table><tr><th scope="col">label</th><th scope="col">records</th></tr><tr><td>desirable</td>{_td(f"{p}stats.kto.desirable", k["desirable"])}</tr><tr><td>undesirable</td>{_td(f"{p}stats.kto.undesirable", k["undesirable"])}</tr></table></figure>'
        )
    if s and s.get("images"):
        share = s["image_share"]
        extra.append(
            f'<figure><figcaption>Image share of tokens</figcaption><div class="balance" role="img" aria-label="{share * 100:.1f}% of tokens stand for images">'
            f'<span class="b" style="width:{share * 100:.1f}%"></span><span class="a" style="width:{100 - share * 100:.1f}%"></span></div>'
            f'<p>images: {_td(f"{p}stats.images", s["images"], tag="span")}; image tokens: {_td(f"{p}stats.image_tokens", s["image_tokens"], tag="span")} ({escape(s.get("media_model") or "placeholders only")})</p></figure>'
        )
    if not charts and not extra:
        return ""
    curve = _curve(det.get("cutoff_curve") or [], f"{p}details.cutoff_curve", cutoff)
    return f'<h2 id="{uid}lengths">Token lengths</h2><div class="charts">{"".join(charts + extra)}</div>' + (f'<h2 id="{uid}cutoff">What cutoff_len would cut</h2>{curve}' if curve else "")


def _clusters(d: dict[str, Any], uid: str) -> str:
    det = d.get("details") or {}
    rows = {r["where"]: r for r in det.get("rows", [])}
    out = []
    for i, cluster in enumerate(det.get("clusters") or []):
        members = [(m["where"], f"(similarity {m['similarity']:g})" if k else "(first)", _text_of(rows.get(m["where"]))) for k, m in enumerate(cluster)]
        out.append(f'<div class="cluster" role="group" aria-label="cluster {i + 1}">{_side_by_side(members)}</div>')
    evals = {r["where"]: r for r in det.get("eval_rows", [])}
    leaks = []
    for leak in det.get("leaks") or []:
        members = [(leak["eval"], "(eval)", _text_of(evals.get(leak["eval"]))), (leak["train"], f"(training, similarity {leak['similarity']:g})", _text_of(rows.get(leak["train"])))]
        leaks.append(f'<div class="cluster" role="group" aria-label="leak {leak["train"]}">{_side_by_side(members)}</div>')
    html = ""
    if out:
        html += f'<h2 id="{uid}dups">Near-duplicate clusters</h2><p class="legend">Words that differ from the first record are <mark>marked</mark>.</p>{"".join(out)}'
    if leaks:
        html += f'<h2 id="{uid}leaks">Eval leaks</h2><p class="legend">Each training record beside the eval record it repeats; differing words <mark>marked</mark>.</p>{"".join(leaks)}'
    return html


def _rows(rows: list[dict[str, Any]], codes: list[str]) -> str:
    options = "".join(f'<option value="{escape(c)}">{escape(c)}</option>' for c in codes)
    body = "".join(_row(r, n) for n, r in enumerate(rows))
    return (
        '<section id="rows" aria-labelledby="rows-title"><h2 id="rows-title" tabindex="-1">Rows as the model sees them</h2>'
        '<p class="legend">Trained spans are <span class="t">highlighted and underlined</span>; the template\'s own tokens are dimmed.</p>'
        f'<div class="filter"><label for="row-filter">Show rows of</label><select id="row-filter"><option value="">all findings</option>{options}</select>'
        f'<span id="row-status" role="status" aria-live="polite">Showing all {len(rows)} rows.</span></div>{body}</section>'
    )


def _sources(sources: list[dict[str, Any]]) -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in ("source", "format", "records", "valid", "rejected", "errors", "warnings", "duplicates", "tokens", "trainable", "over cutoff"))
    rows = []
    for i, s in enumerate(sources):
        v, dup, st = s["validation"], s.get("duplicates") or {}, s.get("stats") or {}
        cells = [
            f'<td class="mono">{escape(s["path"])}</td><td>{escape(s.get("format") or "?")}</td>',
            _td(f"sources.{i}.records", s["records"]),
            _td(f"sources.{i}.validation.records.valid", v["records"]["valid"]),
            _td(f"sources.{i}.validation.records.rejected", v["records"]["rejected"]),
            _td(f"sources.{i}.validation.issues.error", v["issues"]["error"]),
            _td(f"sources.{i}.validation.issues.warning", v["issues"]["warning"]),
            _td(f"sources.{i}.duplicates.duplicates", dup["duplicates"]) if dup else "<td>-</td>",
            _td(f"sources.{i}.stats.tokens", st["tokens"]) if st else "<td>-</td>",
            _td(f"sources.{i}.stats.trainable_tokens", st["trainable_tokens"]) if st else "<td>-</td>",
            _td(f"sources.{i}.stats.over_cutoff", st["over_cutoff"]) if st and st.get("cutoff_len") else "<td>-</td>",
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<h2 id="sources">Per source</h2><table><caption class="sr">Per-source breakdown</caption><tr>{head}</tr>{"".join(rows)}</table>'


def render_report(data: dict[str, Any]) -> str:
    """The whole page for a check report's dict (one file, or ``sources`` of a mixture)."""
    sources = data.get("sources") or []
    parts = sources or [data]
    level, sentence = verdict(data["findings"])
    all_rows = [r for d in parts for r in (d.get("details") or {}).get("rows", [])]
    codes = sorted({c for r in all_rows for c in r.get("findings", [])})
    rows_by_code = {c: sum(1 for r in all_rows if c in r.get("findings", [])) for c in codes}
    title = f"sftdata check: {data['path']}"
    body = [
        '<a class="skip" href="#findings-title">Skip to findings</a><main>',
        f'<h1>{escape(title)}</h1><p>{escape(data.get("format") or "unknown format")}, <span data-key="records">{num(data["records"])}</span> records</p>',
        f'<p class="verdict {level}" role="status">{escape(sentence)}</p>',
        _figures(data, "") if not sources else _sources(sources),
        f'<h2 id="findings-title" tabindex="-1">Findings, most serious first</h2>{_findings(data["findings"], rows_by_code)}',
    ]
    for i, d in enumerate(parts):
        p, uid = (f"sources.{i}.", f"s{i}-") if sources else ("", "")
        if sources:
            body.append(f'<h2 id="{uid}title">{escape(d["path"])}</h2>{_figures(d, p)}')
        body.append(_lengths(d, p, uid))
        body.append(_clusters(d, uid))
    if all_rows:
        body.append(_rows(all_rows, codes))
    body.append('<footer>Written by sftdata check; the figures are those of <code>sftdata check --json</code> (schema sftdata.check/1). This page loads nothing from the network.</footer></main>')
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{''.join(body)}<script>{JS}</script></body></html>"
    )
