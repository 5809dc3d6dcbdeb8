"""The elements of a large JSON array, read a few megabytes at a time.

LLaMA-Factory's datasets are usually one ``.json`` array. Parsed whole, a 5 GB file needs
the bytes plus every row as Python objects at once (~3x the file); streamed, memory stays
at a few chunks whatever the size. orjson has no streaming API, so each chunk is cut after
its last complete top-level element and orjson parses all the elements before the cut in
one call. Files laid out one element per line or pretty-printed (LLaMA-Factory's) are cut
at the layout's separator (checked by the parse itself, see :func:`_split_by_layout`);
any other file by a numpy pass that finds the top-level commas (brackets and commas
outside strings, a string being the bytes between two quotes not escaped by an odd run of
backslashes). Rows, values and errors
are the same as orjson's on the whole file; an error names the exact line.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "d.json"
>>> _ = p.write_text('[{"a": "x,]\\\\"}"}, {"b": [1, {"c": 2}]},\\n {"d": null}]')
>>> list(stream_elements(p, chunk=8))
[{'a': 'x,]"}'}, {'b': [1, {'c': 2}]}, {'d': None}]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ReadError
from .compression import open_binary

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

CHUNK = 8 << 20
_QUOTE, _BACKSLASH = 34, 92
_OPEN, _CLOSE, _COMMA = b"{[", b"}]", ord(",")


def _np() -> Any:
    import numpy

    return numpy


def available() -> bool:
    """Whether streaming is possible: its scan needs numpy, which a core install (no
    extras) lacks; without it, files are parsed whole as before."""
    import importlib.util

    return importlib.util.find_spec("numpy") is not None


# One byte per input byte, by bytes.translate (C speed, no index conversion): the class of
# each byte the scan cares about. Signed so that a cumulative sum of brackets is the depth.
_OPEN_B, _CLOSE_B, _COMMA_B, _QUOTE_B, _BS_B = 1, 0xFF, 2, 3, 4
_CLASSES = bytearray(256)
for _b in _OPEN:
    _CLASSES[_b] = _OPEN_B
for _b in _CLOSE:
    _CLASSES[_b] = _CLOSE_B
_CLASSES[_COMMA] = _COMMA_B
_CLASSES[_QUOTE] = _QUOTE_B
_CLASSES[_BACKSLASH] = _BS_B
_CLASSES = bytes(_CLASSES)


def top_level(buf: bytes) -> tuple[list[int], int]:
    """Offsets of the top-level commas in ``buf`` and of the array's closing bracket
    (-1 if not in ``buf``), for ``buf`` starting just inside the array, outside any string.
    A string or element cut at the end of ``buf`` is simply incomplete.

    >>> top_level(b' 1, "a,]", [2, 3] ]  ')
    ([2, 9], 18)
    """
    np = _np()
    cls = np.frombuffer(buf.translate(_CLASSES), dtype=np.int8)
    pos = np.flatnonzero(cls)  # one pass finds every byte of interest
    kind = cls.take(pos)
    quotes = pos[kind == _QUOTE_B]
    slashes = pos[kind == _BS_B]
    if len(slashes):
        quotes = _unescaped(quotes, slashes, buf)
    struct = (kind != _QUOTE_B) & (kind != _BS_B)
    pos, kind = pos[struct], kind[struct]
    pos_outside = (np.searchsorted(quotes, pos) & 1) == 0  # an even number of quotes before
    pos, kind = pos[pos_outside], kind[pos_outside]
    depth = np.cumsum(np.where(kind == _COMMA_B, 0, kind), dtype=np.int64)  # relative to inside the array
    closing = np.flatnonzero(depth < 0)
    end = int(pos[closing[0]]) if len(closing) else -1
    commas = pos[(kind == _COMMA_B) & (depth == 0)]
    if end >= 0:
        commas = commas[commas < end]
    return commas.tolist(), end


def _unescaped(quotes: np.ndarray, slashes: np.ndarray, buf: bytes) -> np.ndarray:
    """Drop the quotes escaped by an odd run of backslashes right before them."""
    np = _np()
    after = quotes[np.isin(quotes - 1, slashes, assume_unique=True)]
    if not len(after):
        return quotes
    escaped = []
    for p in after.tolist():
        j = p - 1
        while j >= 0 and buf[j] == _BACKSLASH:
            j -= 1
        if (p - 1 - j) % 2:
            escaped.append(p)
    return np.setdiff1d(quotes, np.asarray(escaped, dtype=quotes.dtype), assume_unique=True) if escaped else quotes


def starts_array(path: Path, open_binary: Callable[..., Any], compression: str | None) -> bool:
    """Whether the file's first non-blank byte opens an array."""
    with open_binary(path, compression) as fh:
        head = fh.read(4096).lstrip()
    return head[:1] == b"["


def stream_elements(path: Path, compression: str | None = None, *, chunk: int = CHUNK, position: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Every element of the JSON array in ``path``, in order (see the module docstring).

    Raises :class:`ReadError` with the file line of the first syntax error.
    """
    from .lines import max_line_bytes

    name = str(path)
    limit = max_line_bytes()
    with open_binary(path, compression) as fh:
        buf = fh.read(chunk)
        while buf and not buf.strip() and len(buf) <= limit:  # leading blank lines longer than a chunk
            more = fh.read(chunk)
            if not more:
                break
            buf += more
        lead = len(buf) - len(buf.lstrip())
        if buf[lead : lead + 1] != b"[":
            raise ReadError("a .json dataset must hold an array of objects.", path=name, line=1, code="wrong-type", remedy="Wrap the records in [ ... ].")
        line = 1 + buf.count(b"\n", 0, lead)  # file line where buf starts
        consumed = lead + 1  # file bytes before buf
        buf = buf[lead + 1 :]
        sep = _separator(buf)
        eof, yielded = False, 0
        while True:
            batch = _split_by_layout(buf, sep)
            if batch is not None:
                stop, end, values = batch
            else:
                commas, end = top_level(buf)
                stop, values = (end if end >= 0 else (commas[-1] if commas else -1)), None
            if stop < 0:
                if eof:
                    _fail(name, line + buf.count(b"\n"), "the file ends inside the array")
                if len(buf) > limit:
                    from .lines import TOO_LONG_REMEDY

                    raise ReadError(f"an element of the array is longer than the {limit:,}-byte limit; it was not parsed.", path=name, line=line, code="too-long", remedy=TOO_LONG_REMEDY)
                more = fh.read(max(chunk, len(buf)))  # an element longer than a chunk: grow
                eof = not more
                buf += more
                continue
            body = buf[:stop]
            if values is not None or body.strip():
                if values is None:
                    try:
                        values = orjson.loads(b"[" + body + b"]")
                    except orjson.JSONDecodeError as exc:
                        _fail(name, line + exc.lineno - 1, exc.msg)
                yielded += len(values)
                yield from values
            elif yielded or stop != end:  # only "[]" may hold nothing
                _fail(name, line + body.count(b"\n"), "an element is missing between two commas or before the ]")
            line += body.count(b"\n")
            consumed += stop + 1
            if position is not None:
                position(consumed)
            rest = buf[stop + 1 :]
            if end >= 0:
                while not rest.strip() and not eof:
                    line += rest.count(b"\n")
                    rest = fh.read(chunk)
                    eof = not rest
                if rest.strip():
                    _fail(name, line + rest[: len(rest) - len(rest.lstrip())].count(b"\n"), "there is more data after the array")
                return
            more = b"" if eof else fh.read(chunk)
            eof = eof or not more
            buf = rest + more


def _separator(buf: bytes) -> bytes | None:
    """The bytes between two top-level objects in a file laid out one element per line or
    pretty-printed: ``},`` + newline + the first element's indentation + ``{``."""
    ws = buf[: len(buf) - len(buf.lstrip())]
    if b"\n" not in ws or buf[len(ws) : len(ws) + 1] != b"{":
        return None
    return b"},\n" + ws[ws.rfind(b"\n") + 1 :] + b"{"


def _split_by_layout(buf: bytes, sep: bytes | None) -> tuple[int, int, list[Any]] | None:
    """The layout shortcut: cut at the last ``sep`` and parse the elements before it;
    ``(comma offset, -1, values)`` when that parses, else ``None`` (then scan).

    A raw newline is never inside a JSON string, and a cut inside a nested value leaves
    its brackets unbalanced, so a prefix that parses was cut between top-level elements;
    a cut that does not parse (a nested list of objects laid out the same way, or an
    error) just falls back to the exact scan.
    """
    if sep is None:
        return None
    cut = buf.rfind(sep)
    if cut < 0:
        return None
    try:
        values = orjson.loads(b"[" + buf[: cut + 1] + b"]")
    except orjson.JSONDecodeError:
        return None
    return cut + 1, -1, values


def _fail(name: str, line: int, why: str) -> None:
    raise ReadError(f"file is not valid JSON ({why}).", path=name, line=line, code="invalid-json", remedy="Check the file around that line (a missing comma or quote?).")
