"""sftdata: validate, convert, clean and measure fine-tuning datasets.

>>> import sftdata
>>> records = list(sftdata.read("fixtures/sharegpt/sft.jsonl"))  # doctest: +SKIP

The public names below are imported lazily so that ``import sftdata`` stays fast and
never imports pandas, pyarrow, datasets, transformers or torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AudioPart": "record",
    "ConvertResult": "api",
    "DataError": "errors",
    "DedupConfig": "clean.dedup",
    "DedupReport": "clean.dedup",
    "DetectResult": "detect",
    "Encoded": "tokens",
    "FilterReport": "clean.filters",
    "ImagePart": "record",
    "Issue": "errors",
    "KTORecord": "record",
    "MediaOptions": "mediatokens",
    "Message": "record",
    "PreferenceRecord": "record",
    "PretrainRecord": "record",
    "ReasoningPart": "record",
    "Record": "record",
    "RecordError": "errors",
    "RejectSink": "api",
    "Rewrite": "rewrite",
    "Rendered": "templates",
    "SFTRecord": "record",
    "SftdataError": "errors",
    "Source": "record",
    "Span": "templates",
    "SplitConfig": "clean.split",
    "SplitReport": "clean.split",
    "Template": "templates",
    "TextPart": "record",
    "TokenCounts": "tokens",
    "Tokenizer": "tokenizers",
    "ToolCall": "record",
    "ToolSpec": "record",
    "TrainConfig": "train",
    "ValidationReport": "validate",
    "VideoPart": "record",
    "check": "check",
    "CheckReport": "check",
    "convert": "api",
    "count_record": "tokens",
    "dedup": "clean.dedup",
    "detect": "detect",
    "encode_record": "tokens",
    "filter": "clean.filters",
    "get_format": "formats",
    "get_template": "templates",
    "get_tokenizer": "tokenizers",
    "media_tokens": "mediatokens",
    "read": "api",
    "split": "clean.split",
    "train": "train",
    "validate": "validate",
    "write": "api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sftdata' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


class _Package(types.ModuleType):
    """Keeps public functions bound over same-named submodules.

    Importing ``sftdata.detect`` (the module) would otherwise rebind the package
    attribute ``detect`` from the function to the module, so ``sftdata.detect(path)``
    would depend on import order. Internal code imports names from submodules
    (``from .detect import detect``), which does not need that attribute.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # pragma: no cover
    from .api import ConvertResult, RejectSink, convert, read, write
    from .clean.dedup import DedupConfig, DedupReport, dedup
    from .clean.filters import FilterReport, filter
    from .clean.split import SplitConfig, SplitReport, split
    from .detect import DetectResult, detect
    from .rewrite import Rewrite
    from .errors import DataError, Issue, RecordError, SftdataError
    from .formats import get_format
    from .mediatokens import MediaOptions, media_tokens
    from .templates import Rendered, Span, Template, get_template
    from .tokenizers import Tokenizer, get_tokenizer
    from .tokens import Encoded, TokenCounts, count_record, encode_record
    from .validate import ValidationReport, validate
    from .train import TrainConfig, train
    from .record import (
        AudioPart,
        ImagePart,
        KTORecord,
        Message,
        PreferenceRecord,
        PretrainRecord,
        ReasoningPart,
        Record,
        SFTRecord,
        Source,
        TextPart,
        ToolCall,
        ToolSpec,
        VideoPart,
    )
