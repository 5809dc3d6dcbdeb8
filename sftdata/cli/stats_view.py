"""Terminal rendering of stats reports and rendered records (rich on a terminal, plain
text otherwise)."""

from __future__ import annotations

import sys

import click

from ..stats.report import StatsReport
from ..templates import Rendered, Span

_LISTED = 20


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if isinstance(x, float) and not x.is_integer() else f"{int(x):,}"


def print_report(report: StatsReport, rejects: str | None = None, plot: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(report.kinds.items()))
    console.print(f"[bold]{report.path}[/bold] ({report.format}): {report.records:,} records ({kinds or 'none'}), {report.rejected:,} rejected")
    console.print(f"tokenizer {report.tokenizer}, template {report.template}, trainer {report.trainer}, train on {report.train_on}" + (f", cutoff_len {report.cutoff_len:,}" if report.cutoff_len else ""))
    table = Table(title="tokens per record, after the template")
    table.add_column("")
    for col in ("mean", "min", "p50", "p90", "p95", "p99", "max"):
        table.add_column(col, justify="right")
    for name, s in report.fields.items():
        table.add_row(name, *(_fmt(getattr(s, c)) for c in ("mean", "min", "p50", "p90", "p95", "p99", "max")))
    if report.preference:
        for name, s in report.preference.items():
            table.add_row(f"pref {name}", *(_fmt(s[c]) for c in ("mean", "min", "p50", "p90", "p95", "p99", "max")))
    console.print(table)
    if report.kto:
        d, u = report.kto["desirable"], report.kto["undesirable"]
        console.print(f"KTO labels: {d:,} desirable, {u:,} undesirable ({d / max(1, d + u):.1%} desirable)")
    for line in media_lines(report):
        console.print(line, markup=False)
    _histogram(console, report)
    if report.cutoff_len:
        console.print(
            f"over cutoff_len {report.cutoff_len:,}: [bold]{report.over_cutoff:,}[/bold] rows; {report.cut_tokens:,} tokens cut, "
            f"of which [bold]{report.cut_trainable:,}[/bold] trainable"
        )
    if report.zero_trainable:
        shown = ", ".join(str(x) for x in report.zero_trainable_lines[:_LISTED])
        more = f" and {report.zero_trainable - _LISTED:,} more (--json lists up to 1000)" if report.zero_trainable > _LISTED else ""
        dropped = " (trl drops them)" if report.trainer == "trl" and report.cutoff_len else ""
        console.print(f"[yellow]rows with zero trainable tokens{' after the cutoff' if report.cutoff_len else ''}: {report.zero_trainable:,}[/yellow]{dropped} (lines {shown}{more})")
    console.print(f"training tokens: {report.trainable_tokens:,} trainable x {_fmt(report.epochs)} epochs = [bold]{_fmt(report.training_tokens)}[/bold]; tokens processed {_fmt(report.tokens_seen)}")
    if report.rejected:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(report.reject_codes.items()))
        console.print(f"rejected by reason: {codes}; see {rejects}")
    if report.buckets is not None:
        b = report.buckets
        per = ", ".join(f"{n:,} <= {edge}" for n, edge in zip(b["rows"], b["buckets"]))
        over = f", {b['over_largest']:,} longer (own shapes)" if b["over_largest"] else ""
        console.print(f"shape buckets: {per}{over}; padding {b['padding_tokens']:,} tokens ({b['padding_share']:.1%} of padded tokens); {b['distinct_shapes']} distinct shapes per epoch (unbucketed: {b['dynamic_shapes']})", markup=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")
    if plot:
        console.print(f"plot written to {plot}")
    console.print(f"[dim]{report.tokens:,} tokens in {report.seconds:.2f} s ({report.tokens_per_second:,.0f} tokens/s)[/dim]")


def media_lines(report: StatsReport) -> list[str]:
    """What the media cost: image tokens and their share, and what was not modelled.

    >>> from sftdata.stats.report import StatsReport
    >>> r = StatsReport(*["x"] * 6, 1.0, *[0] * 3, {}, {}, {}, [], *[0] * 4, [], 0, 0.0, 0.0, media_total=3, media_model="qwen2-vl", images=2, image_tokens=132, tokens=205)
    >>> media_lines(r)
    ['images: 2 (132 tokens, 64.4% of all tokens; expanded as qwen2-vl)', 'videos/audios: 1 (counted as their placeholder tokens only: not modelled)']
    """
    lines: list[str] = []
    if report.images:
        if report.media_model:
            lines.append(f"images: {report.images:,} ({report.image_tokens:,} tokens, {report.image_share:.1%} of all tokens; expanded as {report.media_model})")
        else:
            lines.append(f"images: {report.images:,} (counted as their template placeholder only; a real run expands each one)")
    if report.media_unknown:
        shown = ", ".join(str(x) for x in report.media_unknown_lines[:_LISTED])
        more = f" and more (--json lists up to 1000)" if len(report.media_unknown_lines) > _LISTED else ""
        lines.append(f"images of unknown size: {report.media_unknown:,} (missing, undecodable or remote; counted as placeholders) on lines {shown}{more}")
    others = report.media_total - report.images
    if others:
        lines.append(f"videos/audios: {others:,} (counted as their placeholder tokens only: not modelled)")
    return lines


def _histogram(console: object, report: StatsReport) -> None:
    bins = [b for b in report.histogram]
    if not bins:
        return
    peak = max(b.count for b in bins) or 1
    lines = ["length histogram (total tokens per record):"]
    for b in bins:
        bar = "#" * max(1 if b.count else 0, round(30 * b.count / peak))
        mark = "  <- over cutoff" if report.cutoff_len and b.lo >= report.cutoff_len else ""
        lines.append(f"  {b.lo:>7,}-{b.hi - 1:<7,} {b.count:>9,} {bar}{mark}")
    console.print("\n".join(lines), markup=False)  # type: ignore[attr-defined]


def shown_pieces(rendered: Rendered, pads: tuple[str, list[int]] | None = None) -> list[tuple[str, Span]]:
    """``rendered.pieces()`` with each image pad shown with its count, in order.

    >>> from sftdata.templates import Rendered, Span
    >>> r = Rendered("a<P>b<P>", (Span(0, 8, False, "user"),))
    >>> shown_pieces(r, ("<P>", [66, 77]))[0][0]
    'a<P>x66b<P>x77'
    """
    pieces = rendered.pieces()
    if not pads:
        return pieces
    pad, counts = pads
    todo = iter(counts)
    out = []
    for text, span in pieces:
        if pad in text:
            parts = text.split(pad)
            text = parts[0] + "".join(f"{pad}x{next(todo, 1)}{rest}" for rest in parts[1:])
        out.append((text, span))
    return out


def print_rendered(label: str, rendered: Rendered, tokens: int, trainable: int, pads: tuple[str, list[int]] | None = None) -> None:
    header = f"── {label}: {tokens:,} tokens, {trainable:,} trained"
    if pads:
        header += f" ({sum(pads[1]):,} of them for {len(pads[1])} image{'s' if len(pads[1]) != 1 else ''})"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False)
        console.print(header, style="bold")
        text = Text()
        for piece, span in shown_pieces(rendered, pads):
            style = "black on green" if span.trainable else ("dim" if span.template else "")
            text.append(piece, style=style)
        console.print(text)
        return
    out = [header]
    # plain output: [[ ]] around each run of trained text
    text: list[str] = []
    prev = False
    for piece, span in shown_pieces(rendered, pads):
        if span.trainable and not prev:
            text.append("[[")
        if not span.trainable and prev:
            text.append("]]")
        text.append(piece)
        prev = span.trainable
    if prev:
        text.append("]]")
    out.append("".join(text))
    click.echo("\n".join(out))
