"""Pre-tokenized datasets in the layout each trainer loads directly (``sftdata tokenize``).

``key`` (the content address) < ``layouts`` (columns per trainer and stage) < ``packing``
< ``work`` (per-batch work in worker processes) < ``store`` (atomic folder, manifest)
< ``run`` (:func:`tokenize_dataset`). See docs/tokenize.md.
"""

from .key import KeyParts, cache_key
from .run import TokenizeConfig, TokenizeReport, tokenize_dataset
from .store import MANIFEST, load_manifest

__all__ = ["MANIFEST", "KeyParts", "TokenizeConfig", "TokenizeReport", "cache_key", "load_manifest", "tokenize_dataset"]
