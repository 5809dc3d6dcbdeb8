"""One exception tree; every error carries a stable code, a location and a remedy.

::

    SftdataError                 base; .code .message .path .line .field .remedy
    ├── UsageError               a wrong option or argument (CLI exit code 2); also a ValueError
    │   └── InputNotFoundError   an input path does not exist; also a FileNotFoundError
    ├── MissingDependencyError   an optional extra is not installed; also an ImportError
    └── DataError                the data cannot be used as asked (exit code 1); also a ValueError
        ├── ReadError            a file cannot be opened or a line is not JSON
        ├── WriteError           the output cannot be written (file type, disk full, permission)
        ├── RecordError          one record does not fit its format (.issues)
        ├── DetectionError       no format, or several formats, match a file
        ├── UnsupportedKindError the target format cannot carry a record's kind
        └── LossError            --strict and the target would drop fields

The CLI prints ``str(error)``: one paragraph naming file, line, field and a remedy.
Each class also subclasses the builtin a Python caller would catch (``except
FileNotFoundError``, ``except ValueError``), so sftdata fits code that knows nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One located problem in one record.

    >>> str(Issue("role-order", "two user turns in a row", field="messages[3].role"))
    'messages[3].role [role-order] two user turns in a row'
    """

    code: str
    message: str
    field: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.field} " if self.field else ""
        return f"{where}[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "severity": self.severity, "field": self.field, "message": self.message}


class SftdataError(Exception):
    """Base of every error sftdata raises on purpose."""

    code: str = "error"
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        remedy: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        self.remedy = remedy
        if code is not None:
            self.code = code

    @property
    def location(self) -> str:
        loc = self.path or ""
        if self.line is not None:
            loc = f"{loc}:{self.line}"
        if self.field:
            loc = f"{loc} {self.field}" if loc else self.field
        return loc

    def __str__(self) -> str:
        head = f"{self.location}: " if self.location else ""
        text = f"{head}[{self.code}] {self.message}"
        if self.remedy:
            text += f" {self.remedy}"
        return text


class UsageError(SftdataError, ValueError):
    """A wrong argument or option; the message says what to pass instead."""

    code = "usage"
    exit_code = 2


class InputNotFoundError(UsageError, FileNotFoundError):
    """An input path that does not exist.

    >>> isinstance(InputNotFoundError("file not found: x.jsonl"), FileNotFoundError)
    True
    """

    code = "not-found"

    def __init__(self, message: str, **kwargs: object) -> None:
        UsageError.__init__(self, message, **kwargs)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return SftdataError.__str__(self)


class MissingDependencyError(SftdataError, ImportError):
    code = "missing-dependency"

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional package '{package}', which is not installed.",
            remedy=f"Install it with: pip install 'sftdata[{extra}]'",
        )
        self.package = package
        self.extra = extra


class DataError(SftdataError, ValueError):
    code = "invalid-data"


class ReadError(DataError):
    code = "unreadable"


class WriteError(DataError):
    """The chosen output file type cannot hold the data (an over-long xlsx cell, ...)."""

    code = "unwritable"


class RecordError(DataError):
    """A record that cannot be decoded; ``issues`` says every reason."""

    code = "invalid-record"

    def __init__(self, issues: list[Issue] | tuple[Issue, ...], *, path: str | None = None, line: int | None = None, remedy: str | None = None) -> None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(first.message + more, path=path, line=line, field=first.field, remedy=remedy, code=first.code)
        self.issues = tuple(issues)


class DetectionError(DataError):
    code = "unknown-format"


class UnsupportedKindError(DataError):
    code = "unsupported-kind"


class LossError(DataError):
    code = "lossy-conversion"


def missing(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Shorthand used at lazy-import sites: ``raise missing("openpyxl", "xlsx", "Reading .xlsx")``."""
    return MissingDependencyError(package, extra, purpose)


__all__ = [
    "DataError",
    "DetectionError",
    "InputNotFoundError",
    "Issue",
    "LossError",
    "MissingDependencyError",
    "ReadError",
    "RecordError",
    "SftdataError",
    "UnsupportedKindError",
    "UsageError",
    "WriteError",
    "missing",
]


