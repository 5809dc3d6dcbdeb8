"""File suffixes, transparent decompression and the checks every input passes: the lowest
floor of ``io``, shared by the row readers (:mod:`.files`) and the streaming ``.json``
parser (:mod:`.jsonarray`).

Every fault of the bytes themselves is a :class:`~sftdata.errors.ReadError` naming the
file, never a traceback or a silent short read:

* a truncated ``.gz`` or ``.zst`` (``[truncated]``): a zstd stream that stops inside a
  frame reads as a clean end of file, so the frames are walked before reading;
* a ``.gz`` that is not gzip, or whose CRC or deflate data are corrupt (``[corrupt-compression]``);
* UTF-16/UTF-32 text (``[utf16]``), a device or other non-regular file (``[not-a-file]``).

A UTF-8 byte-order mark is skipped (``datasets``, which LLaMA-Factory and TRL load with,
accepts it too); :func:`has_bom` tells a caller that wants to say so.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from pathlib import Path
from typing import IO, Any

from ..errors import ReadError

_COMPRESSIONS = (".gz", ".zst")
BOM = b"\xef\xbb\xbf"
_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def suffix_of(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``data.jsonl.gz`` -> ``(".jsonl", ".gz")``; a folder -> ``("<dir>", None)``."""
    p = Path(path)
    if p.is_dir():
        return "<dir>", None
    suffixes = [s.lower() for s in p.suffixes]
    compression = suffixes[-1] if suffixes and suffixes[-1] in _COMPRESSIONS else None
    if compression:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compression


def check_regular(path: Path) -> None:
    """Refuse devices, sockets and folders where a data file is expected (a ``.jsonl``
    symlink to ``/dev/zero`` would otherwise be read for ever). Pipes are allowed."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # the caller says "file not found" with its own remedy
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return
    what = "a folder" if stat.S_ISDIR(mode) else "a device or special file"
    raise ReadError(f"is {what}, not a data file.", path=str(path), code="not-a-file", remedy="Pass a regular file.")


class _Checked(io.RawIOBase):
    """A raw stream that turns decompression faults into located :class:`ReadError`."""

    def __init__(self, inner: Any, path: Path, compression: str | None) -> None:
        self._inner, self._path, self._compression = inner, path, compression

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except EOFError:
            raise truncated(self._path, self._compression) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise ReadError(f"is not a readable {self._compression} file ({exc}).", path=str(self._path), code="corrupt-compression", remedy=f"The file is damaged or not really {self._compression}: download or compress it again.") from None
        except Exception as exc:  # zstandard.ZstdError and friends
            if type(exc).__module__.startswith("zstandard") or "Zstd" in type(exc).__name__:
                raise ReadError(f"is not a readable .zst file ({exc}).", path=str(self._path), code="corrupt-compression", remedy="The file is damaged or not really zstd: download or compress it again.") from None
            raise
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def truncated(path: Path, compression: str | None) -> ReadError:
    return ReadError(
        f"is truncated: the {compression} stream ends before its end marker, so records are missing.",
        path=str(path),
        code="truncated",
        remedy="The file was cut off (an interrupted download or copy?): get the complete file again.",
    )


def _zstd_frames_complete(path: Path) -> bool:
    """Walk the zstd frames of ``path`` by their headers (no decompression): ``False``
    when the file ends inside a frame. Skippable frames are stepped over."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(14)
            if len(head) < 4:
                return False
            magic = int.from_bytes(head[:4], "little")
            if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable frame
                if len(head) < 8:
                    return False
                pos += 8 + int.from_bytes(head[4:8], "little")
                continue
            if magic != 0xFD2FB528:
                return True  # not a zstd frame: the decompressor says what is wrong
            if len(head) < 5:
                return False
            fhd = head[4]
            single, checksum, did_flag, fcs_flag = (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3, fhd >> 6
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            pos += 5 + (0 if single else 1) + (0, 1, 2, 4)[did_flag] + fcs
            while True:
                fh.seek(pos)
                block = fh.read(3)
                if len(block) < 3:
                    return False
                header = int.from_bytes(block, "little")
                last, kind, bsize = header & 1, (header >> 1) & 3, header >> 3
                pos += 3 + (1 if kind == 1 else bsize)
                if pos > size:
                    return False
                if last:
                    break
            pos += 4 if checksum else 0
            if pos > size:
                return False
    return True


def _sniff(fh: IO[bytes], path: Path) -> None:
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""  # type: ignore[attr-defined]
    if head[:2] in _UTF16 or b"\x00" in head:
        raise ReadError(
            "is UTF-16 (or UTF-32) text, or binary; sftdata reads UTF-8 text.",
            path=str(path),
            code="utf16",
            remedy="Save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 in > out`, or 'UTF-8' in your editor's save dialog).",
        )
    if head[:3] == BOM:
        fh.read(3)


def open_binary(path: Path, compression: str | None) -> IO[bytes]:
    """Open for reading, decompressing ``.gz``/``.zst`` transparently, with a 1 MiB
    buffer; a UTF-8 byte-order mark is skipped, UTF-16 text refused."""
    path = Path(path)
    check_regular(path)
    if compression == ".gz":
        inner: Any = gzip.open(path, "rb")
    elif compression == ".zst":
        try:
            import zstandard
        except ImportError:
            from ..errors import missing

            raise missing("zstandard", "zst", "Reading .zst files") from None
        if path.is_file() and not _zstd_frames_complete(path):
            raise truncated(path, compression)
        inner = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), read_across_frames=True, closefd=True)
    else:
        fh = open(path, "rb", buffering=1 << 20)
        _sniff(fh, path)
        return fh
    out = io.BufferedReader(_Checked(inner, path, compression), buffer_size=1 << 20)
    _sniff(out, path)
    return out


def has_bom(path: Path, compression: str | None = None) -> bool:
    """Whether the (decompressed) file starts with a UTF-8 byte-order mark."""
    try:
        if compression is None:
            with open(path, "rb") as fh:
                return fh.read(3) == BOM
        raw = gzip.open(path, "rb") if compression == ".gz" else None
        if raw is None:
            import zstandard

            raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
        with raw:
            return bool(raw.read(3) == BOM)
    except Exception:  # unreadable: the reader says why
        return False
