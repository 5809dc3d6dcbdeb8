"""The pieces of the HTML report (figures, charts, side-by-side text, rendered rows), each
from plain data; :mod:`.html` assembles the page."""

from __future__ import annotations

import difflib
import re
from html import escape
from typing import Any

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
VERDICTS = {
    "error": "Fix the errors before training.",
    "warning": "No errors: the warnings are worth a look.",
    "ok": "Nothing to fix: ready to train.",
}


def verdict(findings: list[dict[str, Any]]) -> tuple[str, str]:
    """``(level, sentence)``: the CLI's last line."""
    severities = {f["severity"] for f in findings}
    level = "error" if "error" in severities else "warning" if "warning" in severities else "ok"
    return level, VERDICTS[level]


def num(value: Any) -> str:
    """``12,345``; floats with at most two decimals."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _fig(key: str, value: Any, label: str, pct: bool = False) -> str:
    shown = f"{value * 100:.1f}%" if pct else num(value)
    extra = ' data-format="pct"' if pct else ""
    return f'<div><dt>{escape(label)}</dt><dd data-key="{key}"{extra}>{shown}</dd></div>'


def _td(key: str, value: Any, pct: bool = False, tag: str = "td") -> str:
    shown = f"{value * 100:.1f}%" if pct else num(value)
    extra = ' data-format="pct"' if pct else ""
    return f'<{tag} data-key="{key}"{extra}>{shown}</{tag}>'


def _bars(bins: list[dict[str, int]], key: str, title: str, cutoff: int | None = None, uid: str = "") -> str:
    """A bar chart of ``bins`` (red: at or past the cutoff) and its data table."""
    if not bins:
        return ""
    peak = max(b["count"] for b in bins) or 1
    w, h, step = 40 + 30 * len(bins), 190, 30
    parts = [f'<line class="axis" x1="34" y1="150" x2="{w}" y2="150"/>']
    for i, b in enumerate(bins):
        bh = round(130 * b["count"] / peak)
        x = 36 + step * i
        cls = "over" if cutoff and b["lo"] >= cutoff else "bar"
        parts.append(f'<rect class="{cls}" x="{x}" y="{150 - bh}" width="{step - 4}" height="{bh}"><title>{b["lo"]:,}-{b["hi"] - 1:,} tokens: {b["count"]:,} records</title></rect>')
        parts.append(f'<text x="{x + 13}" y="162" text-anchor="end" transform="rotate(-45 {x + 13} 162)">{b["lo"]:,}</text>')
        if b["count"]:
            parts.append(f'<text x="{x + 13}" y="{146 - bh}" text-anchor="middle">{b["count"]:,}</text>')
    label = f"{title}: records per token-length bin" + (f"; bins at or past cutoff_len {cutoff:,} in red" if cutoff else "")
    rows = "".join(f'<tr><td>{b["lo"]:,}-{b["hi"] - 1:,}</td>{_td(f"{key}.{i}.count", b["count"])}</tr>' for i, b in enumerate(bins))
    return (
        f'<figure><figcaption id="cap-{uid}">{escape(title)}</figcaption>'
        f'<svg role="img" aria-labelledby="cap-{uid}" aria-describedby="desc-{uid}" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><desc id="desc-{uid}">{escape(label)}</desc>{"".join(parts)}</svg>'
        f'<details><summary>Data table</summary><table><caption class="sr">{escape(title)}</caption><tr><th scope="col">tokens</th><th scope="col">records</th></tr>{rows}</table></details></figure>'
    )


def _curve(points: list[dict[str, Any]], key: str, cutoff: int | None) -> str:
    """Rows cut and trainable tokens lost (both as shares) against cutoff_len (log scale)."""
    if not points:
        return ""
    n = len(points)
    w, h = 60 + 60 * n, 210
    total_rows = max(p["rows_cut"] for p in points) or 1
    xs = [40 + 60 * i for i in range(n)]
    lost = " ".join(f"{x},{170 - 150 * p['trainable_lost_share']:.1f}" for x, p in zip(xs, points))
    cut = " ".join(f"{x},{170 - 150 * p['rows_cut'] / total_rows:.1f}" for x, p in zip(xs, points))
    parts = [f'<line class="axis" x1="36" y1="170" x2="{w - 10}" y2="170"/><line class="axis" x1="36" y1="20" x2="36" y2="170"/>']
    parts.append(f'<polyline class="line1" points="{lost}"/><polyline class="line2" points="{cut}"/>')
    for x, p in zip(xs, points):
        parts.append(f'<text x="{x}" y="184" text-anchor="middle">{p["cutoff_len"]:,}</text>')
        if cutoff and p["cutoff_len"] == cutoff:
            parts.append(f'<line class="cut" x1="{x}" y1="20" x2="{x}" y2="170"/><text x="{x + 3}" y="30">cutoff_len</text>')
    parts.append('<text x="4" y="24">100%</text><text x="12" y="172">0</text>')
    parts.append(f'<text x="{w // 2}" y="202" text-anchor="middle">cutoff_len (tokens)</text>')
    rows = "".join(
        f'<tr><td>{p["cutoff_len"]:,}</td>{_td(f"{key}.{i}.rows_cut", p["rows_cut"])}{_td(f"{key}.{i}.trainable_lost", p["trainable_lost"])}{_td(f"{key}.{i}.trainable_lost_share", p["trainable_lost_share"], pct=True)}</tr>'
        for i, p in enumerate(points)
    )
    return (
        '<figure><figcaption id="cap-curve">What cutoff_len would cut</figcaption>'
        f'<svg role="img" aria-labelledby="cap-curve" aria-describedby="desc-curve" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><desc id="desc-curve">Solid line: share of trainable tokens lost; dashed line: rows cut (relative to the most rows cut), for each cutoff_len.</desc>{"".join(parts)}</svg>'
        '<p class="legend">solid: trainable tokens lost (share); dashed: rows cut</p>'
        f'<table><caption class="sr">What cutoff_len would cut</caption><tr><th scope="col">cutoff_len</th><th scope="col">rows cut</th><th scope="col">trainable tokens lost</th><th scope="col">share of trainable</th></tr>{rows}</table></figure>'
    )


_WORD = re.compile(r"\s+|[^\s]+")


def marked(text: str, other: str) -> str:
    """``text`` escaped, with the words that ``other`` lacks marked (``<mark>``)."""
    a, b = _WORD.findall(text), _WORD.findall(other)
    out = []
    for op, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        chunk = escape("".join(a[i1:i2]))
        out.append(chunk if op == "equal" or not chunk.strip() else f"<mark>{chunk}</mark>")
    return "".join(out)


def _text_of(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    if "raw" in row:
        return str(row["raw"])
    return "".join(p[0] for p in row.get("pieces", []))


def _side_by_side(members: list[tuple[str, str, str]]) -> str:
    """Columns of ``(where, label, text)``, each with the words the first lacks marked."""
    first = members[0][2] if members else ""
    cols = []
    for k, (where, label, text) in enumerate(members):
        body = escape(text) if k == 0 else marked(text, first)
        cols.append(f'<div><div class="where">{escape(where)} {escape(label)}</div><pre>{body}</pre></div>')
    return f'<div class="side">{"".join(cols)}</div>'


def _pieces(pieces: list[list[Any]], omitted: int) -> str:
    out = []
    for text, trainable, role in pieces:
        t = escape(text)
        if trainable:
            out.append(f'<span class="t" title="trained ({escape(str(role))})"><span class="sr">[trained] </span>{t}<span class="sr"> [/trained]</span></span>')
        elif text.startswith("<|") or text in ("\n",):
            out.append(f'<span class="tpl">{t}</span>')
        else:
            out.append(t)
    more = f"\n… {omitted:,} more characters" if omitted else ""
    return "".join(out) + escape(more)


def _row(row: dict[str, Any], n: int) -> str:
    findings = " ".join(row.get("findings", []))
    tags = "".join(f'<span class="tag">{escape(c)}</span>' for c in row.get("findings", []))
    figures = []
    if row.get("tokens") is not None:
        figures.append(f'{row["tokens"]:,} tokens, {row.get("trainable", 0):,} trainable')
    if "label" in row:
        figures.append("desirable" if row["label"] else "undesirable")
    head = f'<header><h3 id="row-{n}"><span class="mono">{escape(row["where"])}</span></h3><span>{escape(row.get("kind") or "invalid")}</span><span>{escape("; ".join(figures))}</span>{tags}</header>'
    if "raw" in row:
        more = f"… {row['omitted']:,} more characters" if row.get("omitted") else ""
        body = f'<p>{escape(row.get("error", ""))}</p><pre>{escape(row["raw"])}{escape(more)}</pre>'
    elif "rejected_pieces" in row:
        body = _side_by_side_pieces(row)
    else:
        body = f'<pre>{_pieces(row["pieces"], row.get("omitted", 0))}</pre>'
    return f'<article class="row" data-findings="{escape(findings)}" data-where="{escape(row["where"])}" aria-labelledby="row-{n}">{head}{body}</article>'


def _side_by_side_pieces(row: dict[str, Any]) -> str:
    return (
        f'<div class="side"><div><div class="where">chosen</div><pre>{_pieces(row["pieces"], row.get("omitted", 0))}</pre></div>'
        f'<div><div class="where">rejected</div><pre>{_pieces(row["rejected_pieces"], row.get("rejected_omitted", 0))}</pre></div></div>'
    )

