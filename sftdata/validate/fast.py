"""The fast path: accept clean sharegpt rows without building records.

Decoding every row into pydantic records runs at a few percent of a bare JSON parse.
Most rows of a real file are clean, so :func:`fast_clean` checks a raw sharegpt row
with plain dict operations and *only accepts*: a row it is unsure about (media, KTO or
preference columns, system turns inside the conversation, any whitespace, unknown key or
odd order...) goes to the full engine, which alone reports issues. So the fast path
can never change a verdict, only make it cheaper; a property test asserts that every
row it accepts has no issue under any profile.

Large files are scanned in chunks of lines, in this process or in ``workers`` forked
processes (``imap`` keeps the order); line numbers, duplicate detection (hashes of the
line bytes, checked in order in the parent) and every reported location stay exact.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..io import suffix_of
from ..record import Source
from .engine import CleanBatch, Outcome, Validator
from .reader import parse_line
from .tools import compile_schema

CHUNK_BYTES = 4 << 20
# states: 0 = start or after an answer (user next), 1 = after user, 2 = after a call,
# 3 = after its result. Forbidding result -> result keeps every accepted order valid for
# the LLaMA-Factory positions too (user/observation even, assistant/function_call odd),
# and a call is accepted only where the profile allows tool turns.
_START, _USER, _CALL, _RESULT = 0, 1, 2, 3


class FastSpec:
    """What :func:`fast_clean` needs from the format spec and the options (picklable)."""

    def __init__(self, spec: Any, max_chars: int, allow_tools: bool) -> None:
        self.messages = spec.messages
        self.system = spec.system
        self.tools = spec.tools
        self.role = spec.role_tag
        self.content = spec.content_tag
        self.call = spec.function_tag
        self.user = spec.user_tag
        self.assistant = spec.assistant_tag
        self.result = spec.observation_tag
        self.keys = frozenset({spec.messages, spec.system, spec.tools})
        self.max_chars = max_chars
        self.allow_tools = allow_tools
        self._specs: dict[str, dict[str, Any] | None] = {}


def _declared(fs: FastSpec, tools: Any) -> dict[str, Any] | None:
    """name -> compiled parameters check of a tools JSON string; ``None`` when unsure."""
    if type(tools) is not str:
        return None  # objects: fine for sftdata, an error for LLaMA-Factory; let the engine say
    cached = fs._specs.get(tools, False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    out: dict[str, Any] | None = {}
    try:
        specs = orjson.loads(tools)
    except orjson.JSONDecodeError:
        specs = None
    if type(specs) is not list:
        out = None
    else:
        for spec in specs:
            if type(spec) is not dict or type(spec.get("name")) is not str or "type" in spec or "function" in spec:
                out = None
                break
            params = spec.get("parameters")
            if params is not None and type(params) is not dict:
                out = None
                break
            out[spec["name"]] = compile_schema(params) if params else None  # type: ignore[index]
    if len(fs._specs) > 4096:  # bounded: real files repeat a few tool sets
        fs._specs.clear()
    fs._specs[tools] = out
    return out


def _call_ok(value: str, declared: dict[str, Any]) -> bool:
    try:
        call = orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    if type(call) is not dict or len(call) != 2:
        return False
    name, args = call.get("name"), call.get("arguments")
    if type(args) is str:
        try:
            args = orjson.loads(args)
        except orjson.JSONDecodeError:
            return False
    if type(args) is not dict or name not in declared:
        return False
    check = declared[name]
    return check is None or check(args)


def fast_clean(row: dict[str, Any], fs: FastSpec, nbytes: int = -1) -> bool:
    """True only when the full engine would report nothing for this SFT sharegpt row.

    ``nbytes`` is the row's JSON size when known: text never takes more characters than
    its JSON takes bytes, so a short line needs no character count.
    """
    if not fs.keys.issuperset(row):
        return False
    turns = row.get(fs.messages)
    if type(turns) is not list or not turns:
        return False
    system = row.get(fs.system)
    # str.strip returns the very same object when there is nothing to strip
    if system is not None and (type(system) is not str or system.strip() is not system):
        return False
    tools = row.get(fs.tools)
    declared: dict[str, Any] | None = None
    if tools is not None and tools != "" and tools != "[]":
        declared = _declared(fs, tools) if fs.allow_tools else None
        if declared is None:
            return False
    role, content = fs.role, fs.content
    user, assistant, call, result = fs.user, fs.assistant, fs.call, fs.result
    state = _START
    for turn in turns:
        if type(turn) is not dict or len(turn) != 2:
            return False
        text = turn.get(content)
        if type(text) is not str or not text or text.strip() is not text:
            return False
        tag = turn.get(role)
        if state == _START:
            if tag != user:
                return False
            state = _USER
        elif state == _USER:
            if tag == assistant:
                state = _START
            elif tag == call and declared is not None and _call_ok(text, declared):
                state = _CALL
            else:
                return False
        elif state == _CALL:
            if tag != result:
                return False
            state = _RESULT
        elif tag == assistant:
            state = _START
        else:
            return False
    if state != _START:
        return False
    if 0 <= nbytes <= fs.max_chars:
        return True
    size = len(system) if system else 0
    return size + sum(len(t[content]) for t in turns) <= fs.max_chars


def scan_chunk(data: bytes, fs: FastSpec) -> tuple[list[int | None], list[int]]:
    """Per line: the hash of its bytes (``None`` for a blank line); and the indexes of
    lines the full engine must see."""
    from ..io.lines import max_line_bytes

    loads = orjson.loads
    limit = max_line_bytes()
    hashes: list[int | None] = []
    dirty: list[int] = []
    for i, line in enumerate(data.split(b"\n")):
        stripped = line.strip()
        if not stripped:
            hashes.append(None)
            continue
        hashes.append(hash(stripped))
        if len(stripped) > limit:  # the full engine reports it as too-long
            dirty.append(i)
            continue
        try:
            row = loads(stripped)
        except orjson.JSONDecodeError:
            dirty.append(i)
            continue
        if type(row) is not dict or not fast_clean(row, fs, len(stripped)):
            dirty.append(i)
        # a clean row has exactly its keys plus two per turn: more key ends in the
        # line means a repeated key (the full engine names it: duplicate-key)
        elif stripped.count(b'":') - stripped.count(b'\\":') != len(row) + 2 * len(row[fs.messages]) or b'" :' in stripped:
            dirty.append(i)
    return hashes, dirty


_WORKER_SPEC: FastSpec | None = None


def _init(fs: FastSpec) -> None:
    global _WORKER_SPEC
    _WORKER_SPEC = fs


def _scan(data: bytes) -> tuple[list[int | None], list[int]]:
    assert _WORKER_SPEC is not None
    return scan_chunk(data, _WORKER_SPEC)


def _chunks(path: Path) -> Iterator[bytes]:
    """Blocks of whole lines (the final newline of each block dropped). A UTF-8 BOM is
    skipped; a line above the line cap is never held: it comes as a one-line block
    holding a too-long marker (see :func:`sftdata.validate.reader.parse_line`)."""
    from ..io.compression import open_binary
    from ..io.lines import TOO_LONG_MARK, max_line_bytes

    limit = max_line_bytes()
    with open_binary(path, None) as fh:
        rest = b""
        skipping = 0
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block:
                break
            if skipping:
                cut = block.find(b"\n")
                if cut < 0:
                    skipping += len(block)
                    continue
                yield TOO_LONG_MARK + str(skipping + cut).encode()
                skipping, block = 0, block[cut + 1 :]
            block = rest + block
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
            else:
                rest = block[cut + 1 :]
                yield block[:cut]
            if len(rest) > limit:
                skipping, rest = len(rest), b""
        if skipping:
            yield TOO_LONG_MARK + str(skipping).encode()
        elif rest:
            yield rest


def fast_spec(validator: Validator) -> FastSpec | None:
    fmt = validator.fmt
    spec = getattr(fmt, "spec", None)
    opts = validator.options
    if getattr(fmt, "name", None) != "sharegpt" or spec is None or opts.fix or not opts.fast:
        return None
    profile = validator.profile
    return FastSpec(spec, opts.max_chars, allow_tools="tool" in profile.roles)


def fast_outcomes(path: str | os.PathLike[str], validator: Validator, workers: int = 1, want_rows: bool = False) -> Iterator[Outcome | CleanBatch] | None:
    """Outcomes of a sharegpt JSONL file through the fast path, or ``None`` when it does not apply.

    With ``want_rows`` the clean outcomes carry their parsed row (for ``output=``);
    otherwise their ``row`` is ``None`` and nothing is parsed twice."""
    p = Path(path)
    if not p.is_file() or suffix_of(p) != (".jsonl", None):
        return None
    fs = fast_spec(validator)
    if fs is None:
        return None
    return _run(p, validator, fs, workers, want_rows)


def _results(path: Path, fs: FastSpec, workers: int) -> Iterator[tuple[bytes, tuple[list[int | None], list[int]]]]:
    """(block, scan result) in file order; at most ``2 * workers`` blocks in flight."""
    if workers <= 1:
        for data in _chunks(path):
            yield data, scan_chunk(data, fs)
        return
    from ..engines.local import worker_pool

    pool = worker_pool(workers, _init, (fs,))
    try:
        window: deque[tuple[bytes, Any]] = deque()
        for data in _chunks(path):
            window.append((data, pool.apply_async(_scan, (data,))))
            if len(window) >= 2 * workers:
                block, pending = window.popleft()
                yield block, pending.get()
        while window:
            block, pending = window.popleft()
            yield block, pending.get()
    finally:
        pool.terminate()


def _run(path: Path, validator: Validator, fs: FastSpec, workers: int, want_rows: bool) -> Iterator[Outcome | CleanBatch]:
    name = str(path)
    setdefault = validator.seen.setdefault
    line0 = 0
    for data, (hashes, dirty) in _results(path, fs, workers):
        lines = data.split(b"\n") if dirty or want_rows else None
        special = set(dirty)
        # duplicates are found here, in file order, so "first seen" is exact
        for i, h in enumerate(hashes):
            if h is not None and setdefault(h, line0 + i + 1) != line0 + i + 1:
                special.add(i)
        start = 0
        for i in sorted(special):
            yield _batch(hashes, lines, start, i, want_rows)
            src = Source(name, line0 + i + 1, "line")
            assert lines is not None or not dirty
            if i in dirty:
                yield validator.check_raw(parse_line(lines[i], src))  # type: ignore[index]
            else:  # a clean duplicate
                lines = lines if lines is not None else data.split(b"\n")
                yield validator._finish([validator.duplicate_issue(hashes[i], src)], src, orjson.loads(lines[i]) if want_rows else None, [], "sft")  # type: ignore[list-item, arg-type]
            start = i + 1
        yield _batch(hashes, lines, start, len(hashes), want_rows)
        line0 += len(hashes)


def _batch(hashes: list[int | None], lines: list[bytes] | None, start: int, stop: int, want_rows: bool) -> CleanBatch:
    idx = [j for j in range(start, stop) if hashes[j] is not None]
    rows = [orjson.loads(lines[j]) for j in idx] if want_rows and lines is not None else None
    return CleanBatch(len(idx), "sft", rows)
