"""sftdata: validate, convert, clean and measure fine-tuning datasets.

>>> import sftdata
>>> records = list(sftdata.read("fixtures/sharegpt/sft.jsonl"))  # doctest: +SKIP

The public names below are imported lazily so that ``import sftdata`` stays fast and
never imports pandas, pyarrow, datasets, transformers or torch.
"""


import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AudioPart": "record",
    "ConvertResult": "api",
    "DataError": "errors",
    "DatasetLock": "lock",
    "DedupConfig": "clean.dedup",
    "DedupReport": "clean.dedup",
    "DetectResult": "detect",
    "Engine": "engines.base",
    "Encoded": "tokens",
    "FilterReport": "clean.filters",
    "ImagePart": "record",
    "Issue": "errors",
    "KTORecord": "record",
    "MediaOptions": "media.tokens",
    "MixConfig": "clean.mix",
    "MixReport": "clean.mix",
    "MixSource": "clean.mix",
    "Message": "record",
    "PreferenceRecord": "record",
    "PretrainRecord": "record",
    "ReasoningPart": "record",
    "Record": "record",
    "RecordError": "errors",
    "RejectSink": "api",
    "Rewrite": "formats.rewrite",
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
    "TokenizeConfig": "tokenize",
    "TokenizeReport": "tokenize",
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
    "lock": "lock",
    "media_tokens": "media.tokens",
    "mix": "clean.mix",
    "read": "api",
    "split": "clean.split",
    "tokenize_dataset": "tokenize",
    "train": "train",
    "validate": "validate",
    "write": "api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sftdata' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The curated public names (and ``__version__``), not the module's own helpers."""
    return sorted([*__all__, "__version__"])


class _Package(_types.ModuleType):
    """Keeps public functions bound over same-named submodules.

    Importing ``sftdata.detect`` (the module) would otherwise rebind the package
    attribute ``detect`` from the function to the module, so ``sftdata.detect(path)``
    would depend on import order. Internal code imports names from submodules
    (``from .detect import detect``), which does not need that attribute.
    """

    def __setattr__(self, name: str, value: _Any) -> None:
        if name in _EXPORTS and isinstance(value, _types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


if _TYPE_CHECKING:  # pragma: no cover
    from .api import ConvertResult, RejectSink, convert, read, write
    from .clean.dedup import DedupConfig, DedupReport, dedup
    from .clean.filters import FilterReport, filter
    from .clean.mix import MixConfig, MixReport, MixSource, mix
    from .clean.split import SplitConfig, SplitReport, split
    from .detect import DetectResult, detect
    from .formats.rewrite import Rewrite
    from .lock import DatasetLock, lock
    from .errors import DataError, Issue, RecordError, SftdataError
    from .formats import get_format
    from .media.tokens import MediaOptions, media_tokens
    from .templates import Rendered, Span, Template, get_template
    from .tokenizers import Tokenizer, get_tokenizer
    from .tokenize import TokenizeConfig, TokenizeReport, tokenize_dataset
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
