"""The format protocol and its registry.

A format is a codec between raw rows (``dict`` parsed from a file) and canonical
records. Each format module defines one subclass of :class:`Format` and registers an
instance with :func:`register_format`.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import UnsupportedKindError, UsageError
from ..record import Kind, Record, Source

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Detection:
    """How well one row matches a format: ``score`` in [0, 1] (0 = not this format),
    the kind the row would decode to, and the evidence in words."""

    score: float
    kind: Kind | None = None
    evidence: str = ""


@dataclass
class LossReport:
    """Fields the target format could not carry, counted by name over a conversion."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, names: list[str] | tuple[str, ...]) -> None:
        self.counts.update(names)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def to_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __str__(self) -> str:
        return ", ".join(f"{name} ({n} records)" for name, n in sorted(self.counts.items()))


class Format:
    """Base class of every format.

    Subclasses set ``name``, ``kinds``, ``summary`` and ``cannot_carry`` and implement
    :meth:`detect`, :meth:`decode` and :meth:`encode`.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[Kind, ...]]
    summary: ClassVar[str] = ""
    #: Canonical features the format has no place for (shown by ``sftdata formats``).
    cannot_carry: ClassVar[tuple[str, ...]] = ()
    #: Whether ``convert`` fills missing tool-call ids by default when writing this
    #: format (formats that pair tool results with calls by id; see formats.toolids).
    pairs_tools_by_id: ClassVar[bool] = False

    def detect(self, row: Row) -> Detection:
        """Score one raw row."""
        raise NotImplementedError

    def decode(self, row: Row, source: Source | None = None) -> Record:
        """Raw row -> record. Raises :class:`~sftdata.errors.RecordError` listing every issue."""
        raise NotImplementedError

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        """Record -> (raw row, names of the fields that were dropped).

        Raises :class:`~sftdata.errors.UnsupportedKindError` when the kind cannot be carried.
        """
        raise NotImplementedError

    #: A pydantic ``TypeAdapter`` over the format's wire models (built once, at import);
    #: the source of :meth:`json_schema` and of ``schemas/<name>.json``.
    wire: ClassVar[Any] = None

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of one wire record."""
        if self.wire is None:
            raise NotImplementedError
        return self.wire.json_schema(by_alias=True)

    def dataset_info_entry(self, file_name: str, kind: Kind = "sft", present: Iterable[str] | None = None) -> dict[str, Any]:
        """The LLaMA-Factory ``dataset_info.json`` entry that makes a file written in this
        format loadable with ``dataset: NAME``.

        ``present`` names the columns the written rows actually hold (LLaMA-Factory fails
        on a mapped column that is absent); ``None`` maps only the columns every row has.
        """
        raise UsageError(
            f"LLaMA-Factory cannot read format '{self.name}' directly.",
            remedy="Convert to alpaca or sharegpt (`--to sharegpt`) for LLaMA-Factory.",
        )

    def refuse(self, record: Record) -> UnsupportedKindError:
        src = record.source
        return UnsupportedKindError(
            f"format '{self.name}' cannot carry {record.kind} records (it carries: {', '.join(self.kinds)}).",
            path=src.path if src else None,
            line=src.line if src else None,
            remedy="Choose a target that carries this kind; `sftdata formats` lists them.",
        )


_REGISTRY: dict[str, Format] = {}
_ALIASES: dict[str, str] = {}


def register_format(fmt: Format, *aliases: str) -> Format:
    _REGISTRY[fmt.name] = fmt
    for alias in aliases:
        _ALIASES[alias] = fmt.name
    return fmt


def get_format(name: str) -> Format:
    """Look a format up by name or alias, with a "did you mean" on a miss."""
    from . import _load_builtin

    _load_builtin()
    key = _ALIASES.get(name.lower(), name.lower())
    if key in _REGISTRY:
        return _REGISTRY[key]
    names = sorted(_REGISTRY) + sorted(_ALIASES)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(
        f"unknown format '{name}'.{hint}",
        remedy=f"Known formats: {', '.join(sorted(_REGISTRY))}.",
    )


def all_formats() -> list[Format]:
    from . import _load_builtin

    _load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
