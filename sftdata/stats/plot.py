"""A picture of the length distribution with the cutoff marked: .png/.svg (matplotlib,
the ``plot`` extra) or .html (self-contained SVG, no dependency)."""

from __future__ import annotations

import html
import os
from pathlib import Path

from ..errors import missing
from ..io import atomic_path
from .report import StatsReport


def plot_lengths(report: StatsReport, path: str | os.PathLike[str]) -> None:
    """Write the histogram of total tokens per record to ``path`` (atomically)."""
    p = Path(path)
    if p.suffix.lower() in (".html", ".htm"):
        with atomic_path(p) as tmp:
            tmp.write_text(_html(report), encoding="utf-8")
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise missing("matplotlib", "plot", "Writing a .png plot") from None
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{b.lo}" for b in report.histogram]
    colors = ["#d62728" if report.cutoff_len and b.lo >= report.cutoff_len else "#1f77b4" for b in report.histogram]
    ax.bar(range(len(labels)), [b.count for b in report.histogram], color=colors, width=0.9)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_xlabel("total tokens per record (bin start)")
    ax.set_ylabel("records")
    title = f"{Path(report.path).name}: {report.records:,} records, {report.tokenizer} / {report.template}"
    if report.cutoff_len:
        title += f"\ncutoff_len {report.cutoff_len:,}: {report.over_cutoff:,} rows over (red), {report.cut_trainable:,} trainable tokens cut"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format=p.suffix.lstrip(".").lower() or "png", dpi=110)
    plt.close(fig)


def _html(report: StatsReport) -> str:
    bins = report.histogram
    peak = max((b.count for b in bins), default=1) or 1
    w, h, bw = 60 + 40 * len(bins), 300, 34
    bars = []
    for i, b in enumerate(bins):
        bh = int(220 * b.count / peak)
        color = "#d62728" if report.cutoff_len and b.lo >= report.cutoff_len else "#1f77b4"
        x = 50 + 40 * i
        bars.append(
            f'<rect x="{x}" y="{240 - bh}" width="{bw}" height="{bh}" fill="{color}"><title>{b.lo}-{b.hi - 1}: {b.count}</title></rect>'
            f'<text x="{x + bw / 2}" y="255" font-size="9" text-anchor="end" transform="rotate(-45 {x + bw / 2} 255)">{b.lo}</text>'
            f'<text x="{x + bw / 2}" y="{236 - bh}" font-size="9" text-anchor="middle">{b.count}</text>'
        )
    cut = f"cutoff_len {report.cutoff_len:,}: {report.over_cutoff:,} rows over (red), {report.cut_trainable:,} trainable tokens cut" if report.cutoff_len else ""
    title = html.escape(f"{Path(report.path).name}: {report.records:,} records, {report.tokenizer} / {report.template}")
    return (
        f"<!doctype html><meta charset='utf-8'><title>{title}</title><h3>{title}</h3><p>{html.escape(cut)}</p>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">{"".join(bars)}</svg>'
        "<p>x: total tokens per record (bin start); y: records</p>"
    )
