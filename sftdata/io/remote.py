"""Remote files: ``s3://``, ``gs://``, ``hf://`` and any other fsspec URI, chosen by scheme.

Two ways in, both streamed (1 MiB at a time, whatever the file size), with credentials
from the usual environment of each filesystem (``AWS_*`` / ``AWS_ENDPOINT_URL`` for S3,
``GOOGLE_APPLICATION_CREDENTIALS`` for GCS, ``HF_TOKEN`` for the Hub):

* :class:`Staging` (every command, local engine): inputs are copied to a private
  temporary folder before the step runs, outputs are written there and uploaded only when
  the step succeeded (so a failed run leaves no half-written object), and the temporary
  paths are replaced by the URIs in errors, rejects files and reports, so provenance reads
  ``s3://bucket/train.jsonl:42``.
* :func:`read_range` / :func:`spans` (the Ray engine): workers read their own byte range
  of the object, nothing is staged.

>>> is_uri("s3://bucket/train.jsonl"), is_uri("data/train.jsonl"), is_uri("C:/data.jsonl")
(True, False, False)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError, missing
from ..record import Source
from .compression import suffix_of

BUFFER = 1 << 20


def is_uri(path: Any) -> bool:
    """A ``scheme://...`` location other than a local path (``file://`` counts as local)."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(text, str) or "://" not in text:
        return False
    scheme = text.split("://", 1)[0]
    return len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum() and scheme != "file"


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``uri`` and the path inside it."""
    try:
        import fsspec
    except ImportError:
        raise missing("fsspec", "remote", f"Reading {uri}") from None
    try:
        return fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        scheme = uri.split("://", 1)[0]
        package = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub", "az": "adlfs", "abfs": "adlfs"}.get(scheme, f"the fsspec driver of {scheme}://")
        raise UsageError(f"cannot open {uri}: {exc}", remedy=f"Install {package} (pip install 'sftdata[remote]' covers s3:// and gs://).") from None


def _not_found(uri: str) -> UsageError:
    return UsageError(f"file not found: {uri}", remedy="Check the URI and that the credentials in your environment can list it.")


def size(uri: str) -> int:
    fs, path = filesystem(uri)
    try:
        return int(fs.info(path)["size"])
    except FileNotFoundError:
        raise _not_found(uri) from None


def open_range(uri: str, size: int) -> Any:
    """A remote file opened for reading a range of ``size`` bytes (one ranged request
    when the range fits the buffer)."""
    fs, path = filesystem(uri)
    try:
        return fs.open(path, "rb", block_size=max(BUFFER, min(size, 64 * BUFFER)))
    except FileNotFoundError:
        raise _not_found(uri) from None


def read_span(uri: str, span: tuple[int, int]) -> bytes:
    """:func:`sftdata.io.files.read_span` of a remote file: the same bytes (byte-order
    mark dropped, a line above the cap replaced by its marker), read by the worker itself."""
    from .files import read_span as read_local_span

    return read_local_span(uri, span, opener=lambda: open_range(uri, span[1] - span[0]))


def read_range(uri: str, start: int, end: int) -> bytes:
    """The bytes ``[start, end)`` of a remote file (one ranged request)."""
    fs, path = filesystem(uri)
    with fs.open(path, "rb", block_size=max(BUFFER, end - start)) as fh:
        fh.seek(start)
        return fh.read(end - start)


def spans(uri: str, chunk: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``chunk`` bytes of a remote JSONL file, each ending just after
    a newline (or at the end), as :func:`sftdata.io.files.spans` cuts a local file."""
    fs, path = filesystem(uri)
    total = size(uri)
    with fs.open(path, "rb", block_size=BUFFER) as fh:
        start = 0
        while start < total:
            fh.seek(min(start + chunk, total))
            fh.readline()
            end = min(fh.tell(), total)
            yield start, end
            start = end


def expand(pattern: str) -> list[str]:
    """The files of a URI: itself, the files of a folder (sorted), or a glob's matches (sorted)."""
    fs, path = filesystem(pattern)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    fs.invalidate_cache()  # listings cached by an earlier call may predate new objects
    if any(c in path for c in "*?["):
        found = sorted(fs.glob(path))
    elif fs.isdir(path):
        found = sorted(p for p in fs.find(path) if not Path(p).name.startswith((".", "_")))
    elif fs.exists(path):
        found = [path]
    else:
        raise _not_found(pattern)
    if not found:
        raise UsageError(f"no file matches {pattern}.", remedy="Check the pattern; folders are read recursively, hidden files skipped.")
    return [p if "://" in p else f"{protocol}://{p}" for p in found]


def download(uri: str, local: Path) -> None:
    fs, path = filesystem(uri)
    try:
        with fs.open(path, "rb", block_size=BUFFER) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, BUFFER)
    except FileNotFoundError:
        raise _not_found(uri) from None


def upload(local: Path, uri: str, replace: dict[str, str] | None = None) -> None:
    """Copy ``local`` (a file or a folder) to ``uri``; ``replace`` rewrites text in it
    line by line (staged paths -> URIs) on the way."""
    if local.is_dir():
        for child in sorted(local.rglob("*")):
            if child.is_file():
                upload(child, uri.rstrip("/") + "/" + child.relative_to(local).as_posix(), replace)
        return
    fs, path = filesystem(uri)
    with open(local, "rb") as src, fs.open(path, "wb", block_size=5 * BUFFER) as dst:
        if not replace:
            shutil.copyfileobj(src, dst, BUFFER)
            return
        pairs = [(k.encode(), v.encode()) for k, v in replace.items()]
        for line in src:
            for old, new in pairs:
                line = line.replace(old, new)
            dst.write(line)


def open_binary(uri: str, compression: str | None) -> Any:
    """A remote file for reading (``.gz`` decompressed on the fly)."""
    fs, path = filesystem(uri)
    try:
        raw = fs.open(path, "rb", block_size=BUFFER)
    except FileNotFoundError:
        raise _not_found(uri) from None
    if compression == ".gz":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def read_rows(uri: str, *, json_cells: bool = True, position: Any = None, bad: Any = None) -> Iterator[tuple[dict[str, Any], Source]]:
    """Rows of a remote file with the URI as their provenance. JSON Lines (plain or
    ``.gz``) are streamed (the line cap, a byte-order mark and ``bad`` as for a local
    file); other file types (``.zst``, a ``.json`` array, Parquet, spreadsheets) are
    copied to a temporary file first (streamed), removed once read."""
    suffix, compression = suffix_of(uri)
    size(uri)  # a missing object fails here, before the first row is asked for
    if suffix in (".jsonl", ".ndjson") and compression in (None, ".gz"):
        return _streamed_rows(uri, compression, position, bad)
    return _staged_rows(uri, json_cells, position, bad)


def open_jsonl(uri: str, compression: str | None) -> Any:
    """A remote JSON Lines file for reading, as :func:`sftdata.io.compression.open_binary`
    opens a local one: buffered, ``.gz`` decompressed, a UTF-8 byte-order mark skipped."""
    import io

    from .compression import BOM

    fh = io.BufferedReader(open_binary(uri, compression), buffer_size=BUFFER)
    if fh.peek(3)[:3] == BOM:
        fh.read(3)
    return fh


def _streamed_rows(uri: str, compression: str | None, position: Any, bad: Any) -> Iterator[tuple[dict[str, Any], Source]]:
    from .lines import jsonl_rows

    with open_jsonl(uri, compression) as fh:
        yield from jsonl_rows(fh, uri, position, bad)


def _staged_rows(uri: str, json_cells: bool, position: Any, bad: Any) -> Iterator[tuple[dict[str, Any], Source]]:
    from . import files

    def relocated(text: Any, source: Source, *rest: Any) -> None:
        bad(text, Source(uri, source.line, source.unit), *rest)

    with Staging() as stage:
        local = stage.input(uri)
        for row, source in files.read_rows(local, json_cells=json_cells, position=position, bad=None if bad is None else relocated):
            yield row, Source(uri, source.line, source.unit)


def write_rows(rows: Any, uri: str) -> int:
    """Write rows to a temporary file by the URI's suffix, then upload it (only when
    every row was written: a failed run leaves no object behind)."""
    from . import files

    with Staging() as stage:
        local = stage.output(uri)
        n = files.write_rows(rows, local)
        stage.commit()
    return n


class Staging:
    """Local stand-ins for remote inputs and outputs of one run (see the module docstring).

    >>> with Staging() as stage:
    ...     stage.input("data/train.jsonl")  # local paths pass through
    'data/train.jsonl'
    """

    def __init__(self) -> None:
        self.root: Path | None = None
        self.outputs: list[tuple[Path, str, bool]] = []
        self.names: dict[str, str] = {}  # staged local path -> URI

    def __enter__(self) -> "Staging":  # noqa: PYI034
        return self

    def _place(self, uri: str) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="sftdata-stage-"))
        folder = self.root / str(len(self.names))
        folder.mkdir()
        local = folder / (uri.rstrip("/").rsplit("/", 1)[-1] or "data")
        self.names[str(local)] = uri
        return local

    def input(self, path: str) -> str:
        """A local path holding the same bytes as ``path`` (a folder is copied whole)."""
        if not is_uri(path):
            return path
        local = self._place(path)
        fs, inner = filesystem(path)
        fs.invalidate_cache()
        if fs.isdir(inner):
            local.mkdir()
            for uri in expand(path):
                rel = uri.split("://", 1)[1][len(inner.rstrip("/")) + 1 :]
                (local / rel).parent.mkdir(parents=True, exist_ok=True)
                download(uri, local / rel)
        else:
            download(path, local)
        return str(local)

    def output(self, path: str, *, names: bool = False) -> str:
        """A local path to write instead of ``path``; uploaded by :meth:`commit`.
        ``names``: the file cites sources (rejects, reports): staged paths in it become URIs."""
        if not is_uri(path):
            return path
        local = self._place(path)
        self.outputs.append((local, path, names))
        return str(local)

    def rename(self, text: str) -> str:
        """``text`` with staged local paths replaced by their URIs."""
        for local, uri in self.names.items():
            text = text.replace(local, uri)
        return text

    def commit(self) -> None:
        """Upload every output that was written (an output a run did not write is skipped)."""
        for local, uri, names in self.outputs:
            if local.exists():
                upload(local, uri, self.names if names else None)

    def __exit__(self, *exc: object) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
