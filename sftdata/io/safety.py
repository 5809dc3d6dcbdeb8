"""Output safety: atomic writes, the user's file modes, faults as located errors, and the
checks that keep one command from writing over its own input.

:func:`atomic_path` writes to ``.<name>.sftdata-<pid>-<random>.tmp`` beside the target and
renames it over the target only when everything succeeded (and every registered
:func:`commit_check` agreed), so a failure, a full disk or Ctrl-C leaves the old output
intact. The new file gets the mode a plain ``open()`` would give it (the user's umask), or
the mode of the file it replaces. A temporary file left by a killed run of the same target
is removed by the next run once the process that made it is gone; another live run's file
is never touched.

:func:`check_distinct` refuses two paths of one command that are the same file (a symlink
or a hard link included): ``-o`` equal to the input, to ``--rejects`` or to ``--report``
would lose data. :func:`backup` keeps a copy for ``--in-place``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import UsageError, WriteError

_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_COMMIT_CHECKS: list[Callable[[], None]] = []


def write_error(exc: OSError, target: Path) -> WriteError:
    """A located, one-paragraph error for an OS fault while writing ``target``."""
    if exc.errno in _FULL:
        return WriteError(f"the disk is full (or a file size limit was reached: {exc.strerror}); {target.name} was left as it was.", path=str(target), code="disk-full", remedy="Free some space (or write elsewhere with -o) and run again.")
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WriteError(f"cannot write here ({exc.strerror}): the folder {target.parent} is read-only or not yours.", path=str(target), code="permission-denied", remedy="Write to a folder you can write to (-o elsewhere), or fix its permissions.")
    return WriteError(f"cannot write ({exc.strerror or exc}).", path=str(target), code="unwritable", remedy="Check the path and the free space, then run again.")


def _prepare_folder(target: Path) -> None:
    if target.is_dir():
        raise UsageError(f"{target} is a folder, not a file.", path=str(target), remedy="Give a file name inside it, e.g. " + str(target / "out.jsonl") + ".")
    parent = target.parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise UsageError(f"cannot create {target}: {folder} is a file, not a folder.", path=str(target), remedy="Choose an output path whose folders are folders.")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, target) from None


def _tmp_name(target: Path) -> Path:
    return target.parent / f".{target.name}.sftdata-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by runs that are gone; returns them."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.sftdata-(\d+)-[0-9a-f]+\.tmp$")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            m = pattern.match(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _final_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)  # replacing a file keeps its mode
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def commit_check(check: Callable[[], None]) -> Callable[[], None]:
    """Run ``check`` before any atomic output replaces its target (an error budget:
    raising keeps every old output). Returns a function that removes it."""
    _COMMIT_CHECKS.append(check)
    return lambda: _COMMIT_CHECKS.remove(check) if check in _COMMIT_CHECKS else None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    On any exception (Ctrl-C included) the temporary file is removed and ``path`` is
    left as it was; an OS fault (disk full, permission) is a :class:`WriteError` naming
    ``path``.
    """
    target = Path(path)
    _prepare_folder(target)
    clean_stale(target)
    tmp_path = _tmp_name(target)
    try:
        tmp_path.touch(mode=0o600)
    except OSError as exc:
        raise write_error(exc, target) from None
    try:
        yield tmp_path
        for check in _COMMIT_CHECKS:
            check()
        os.chmod(tmp_path, _final_mode(target))
        os.replace(tmp_path, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if exc.errno not in _FULL and exc.filename not in (str(tmp_path), str(target), None):
            raise  # a fault of something else (an input), not of this output
        raise write_error(exc, target) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_distinct(inputs: Iterable[tuple[str, str | os.PathLike[str]]], outputs: Iterable[tuple[str, str | os.PathLike[str]]], *, in_place: bool = False) -> list[Path]:
    """Refuse two paths of one command that are the same file (symlinks, hard links and
    ``a/../a`` spellings included). ``inputs`` and ``outputs`` are ``(option, path)``
    pairs. An output equal to an input is allowed with ``in_place`` (the caller keeps a
    :func:`backup`); returns those outputs.
    """
    seen: dict[object, tuple[str, str]] = {}
    same_as_input: list[Path] = []
    ins = [(o, p) for o, p in inputs if p is not None and str(p) != "-"]
    outs = [(o, p) for o, p in outputs if p is not None and str(p) != "-"]
    for role, (option, path) in [("in", x) for x in ins] + [("out", x) for x in outs]:
        p = Path(path)
        key: object = _identity(p) or ("path", os.path.realpath(p))
        if key in seen:
            first_role, first_option = seen[key]
            if role == "in" and first_role == "in":
                continue  # reading one file twice loses nothing
            if in_place and {role, first_role} == {"in", "out"}:
                same_as_input.append(p)
                continue
            raise UsageError(
                f"{option} {path} is the same file as {first_option}; writing it would destroy what the command reads or writes there.",
                path=str(path),
                remedy="Give each output its own file" + (" (or pass --in-place to replace the input, keeping a .bak copy)." if "in" in (role, first_role) else "."),
            )
        seen[key] = (role, option)
    return same_as_input


def backup(path: Path) -> Path:
    """Keep the current ``path`` as ``path.bak`` (a hard link when possible: no copy)
    before an in-place run replaces it."""
    bak = path.with_name(path.name + ".bak")
    with contextlib.suppress(FileNotFoundError):
        bak.unlink()
    try:
        os.link(path, bak)
    except OSError:
        import shutil

        shutil.copy2(path, bak)
    return bak


class Budget:
    """An error budget (``--max-rejects``): ``limit`` rejected records (an int) or a
    share of the records read (a float). Past a count the run stops at once; a share is
    judged before any output replaces its target, and again at the end."""

    def __init__(self, limit: int | float) -> None:
        self.limit = limit
        self.rejected = 0
        self.unreadable = 0  # lines that never became rows (counted as read too)
        self.read: dict[str, int] = {}  # per input: the most rows one pass read

    def note_reject(self) -> None:
        self.rejected += 1
        if isinstance(self.limit, int) and self.rejected > self.limit:
            raise self._error(f"more than {self.limit} records were rejected")

    def note_read(self, path: str, n: int) -> None:
        self.read[path] = max(self.read.get(path, 0), n)

    def check(self) -> None:
        if isinstance(self.limit, float):
            total = max(sum(self.read.values()) + self.unreadable, self.rejected)
            if total and self.rejected / total > self.limit:
                raise self._error(f"{self.rejected} of {total} records ({self.rejected / total:.1%}) were rejected, above {self.limit:.1%}")

    def _error(self, what: str) -> Exception:
        from ..errors import DataError

        return DataError(f"--max-rejects: {what}; no output was replaced.", code="too-many-rejects", remedy="Fix the input (the rejects file lists every reason), or raise --max-rejects.")


_BUDGET: list[Budget] = []


def active_budget() -> Budget | None:
    return _BUDGET[-1] if _BUDGET else None


@contextlib.contextmanager
def budget(limit: int | float) -> Iterator[Budget]:
    """Enforce an error budget for the duration of one command."""
    b = Budget(limit)
    _BUDGET.append(b)
    remove = commit_check(b.check)
    try:
        yield b
        b.check()
    finally:
        remove()
        _BUDGET.remove(b)
