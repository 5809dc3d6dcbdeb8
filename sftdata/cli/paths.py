"""What every command gets from the shell around it, added in one place.

:func:`guarded` gives each row command the shared options and checks, so no command can
forget one:

* two paths of one command that are the same file are refused (``-o`` = input,
  ``--rejects`` = ``-o``, symlinks and hard links included), unless ``--in-place``,
  which keeps the input as ``INPUT.bak``;
* ``--max-line-bytes`` (commands that read rows): the cap on one line;
* ``--max-rejects N|FRACTION`` (commands with ``--rejects``): the error budget;
* ``-`` as INPUT reads standard input (spooled to a temporary file, since format
  detection reads the start twice); ``-o -`` writes rows to standard output, and the
  command's own messages go to standard error.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError

_INPUTS = ("input", "against")
_OUTPUTS = {"output": "-o", "rejects": "--rejects", "report": "--report", "plot": "--plot", "register": "--register", "fixed": "--fixed"}
_IN_PLACE = ("convert", "validate", "dedup", "filter")


def _has(cmd: click.Command, name: str) -> bool:
    return any(p.name == name for p in cmd.params)


def guarded(cmd: click.Command) -> click.Command:
    """``cmd`` with the shared options and checks (once; idempotent)."""
    if getattr(cmd, "_sftdata_guarded", False):
        return cmd
    extra: list[str] = []
    if _has(cmd, "input"):
        cmd.params.append(click.Option(["--max-line-bytes"], type=click.IntRange(min=1024), default=None, help="Longest line (or .json element) read, in bytes; a longer one is reported as too-long instead of filling memory. Default: 64 MiB."))
        extra.append("max_line_bytes")
    if _has(cmd, "rejects"):
        cmd.params.append(click.Option(["--max-rejects"], default=None, metavar="N|FRACTION", help="Fail (exit 1, outputs not replaced) past N rejected records, or past this share of the records read (0.05 = 5%)."))
        extra.append("max_rejects")
    if cmd.name in _IN_PLACE and _has(cmd, "output"):
        cmd.params.append(click.Option(["--in-place"], is_flag=True, help="Allow -o to be INPUT itself; the old INPUT is kept as INPUT.bak."))
        extra.append("in_place")
    callback = cmd.callback
    assert callback is not None

    @functools.wraps(callback)
    def run(**kwargs: Any) -> Any:
        options = {name: kwargs.pop(name, None) for name in extra}
        try:
            with _shell(cmd.name or "", kwargs, options):
                return callback(**kwargs)
        except BrokenPipeError:
            # the reader closed the pipe (`| head`): not a failure. Point stdout at
            # /dev/null so the interpreter's final flush cannot fail either.
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
            raise SystemExit(0) from None

    cmd.callback = run
    cmd._sftdata_guarded = True  # type: ignore[attr-defined]
    return cmd


@contextlib.contextmanager
def _shell(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> Iterator[None]:
    from ..io.files import set_max_line_bytes
    from ..io.safety import backup, check_distinct

    if options.get("max_line_bytes"):
        set_max_line_bytes(options["max_line_bytes"])
    inputs = [(("INPUT" if key == "input" else f"--{key}"), kwargs[key]) for key in _INPUTS if kwargs.get(key)]
    outputs = [(flag, kwargs[key]) for key, flag in _OUTPUTS.items() if kwargs.get(key)]
    if kwargs.get("out_dir"):
        outputs += [("-o", Path(kwargs["out_dir"]) / "train.jsonl"), ("-o", Path(kwargs["out_dir"]) / "val.jsonl")]
    same = check_distinct(inputs, outputs, in_place=bool(options.get("in_place")))
    for path in same:
        bak = backup(path)
        click.echo(f"--in-place: the old {path.name} is kept as {bak.name}", err=True)
    with contextlib.ExitStack() as stack:
        if kwargs.get("input") == "-":
            kwargs["input"] = str(stack.enter_context(_spooled_stdin()))
        if kwargs.get("output") == "-":
            stack.enter_context(_rows_to_stdout())
        if options.get("max_rejects") is not None:
            from ..io.rejects import budget

            stack.enter_context(budget(_parse_budget(options["max_rejects"])))
        yield


def _parse_budget(spec: str) -> int | float:
    try:
        value = float(spec)
    except ValueError:
        value = -1.0
    if value < 0 or (value > 1 and not value.is_integer()) or (value == 1 and "." in spec):
        raise UsageError(f"--max-rejects {spec!r}: not a count or a share.", remedy="Pass a whole number of records (--max-rejects 10) or a share between 0 and 1 (--max-rejects 0.05).")
    return value if "." in spec else int(value)


@contextlib.contextmanager
def _spooled_stdin() -> Iterator[Path]:
    """Standard input in a temporary file named ``stdin.jsonl`` (``stdin.json`` when it
    is one JSON array), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="sftdata-stdin-"))
    try:
        src = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
        tmp = folder / "stdin.jsonl"
        with open(tmp, "wb") as fh:
            if src is None:
                fh.write(sys.stdin.read().encode())
            else:
                shutil.copyfileobj(src, fh, 1 << 20)
        with open(tmp, "rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] == b"[":
            tmp = tmp.rename(folder / "stdin.json")
        yield tmp
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _rows_to_stdout() -> Iterator[None]:
    """Rows go to the real standard output; everything the command prints, to stderr."""
    from ..io import stdio

    stdio.ROWS_OUT = sys.stdout
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
        stdio.ROWS_OUT = None
