"""Real token counts of images: how a multimodal run expands an image placeholder.

A chat template renders an image as a placeholder (the ``qwen`` template:
``<|vision_start|><|image_pad|><|vision_end|>``, three tokens), but a Qwen2-VL /
Qwen2.5-VL run repeats the pad token once per 28x28 patch group of the *resized*
image: hundreds of tokens. A :class:`MediaModel` (one registry entry per model family)
says how many from the image's width and height, read from the file header;
:func:`media_tokens` binds it to a tokenizer and :class:`MediaOptions`, and
:func:`sftdata.tokens.count_record` / :func:`~sftdata.tokens.encode_record` take the
result as ``media=`` and expand every pad token.

Only images are modelled. Videos (frame sampling needs the stream's duration and frame
rate) and audios count as their placeholder tokens, and reports say so.

Qwen2-VL as LLaMA-Factory runs it (``Qwen2VLPlugin`` + transformers' ``smart_resize``):

1. LLaMA-Factory regularizes the image: above ``image_max_pixels`` (768*768) both sides
   are scaled by ``sqrt(max / (w*h))`` and truncated; below ``image_min_pixels`` (32*32)
   scaled up the same way; a side under 28 becomes 28; an aspect ratio over 200 becomes 180.
2. The image processor's ``smart_resize`` rounds each side to a multiple of 28 (patch 14
   x merge 2); an area over its ``max_pixels`` (12,845,056 in the Qwen2-VL hub config)
   or under ``min_pixels`` (3,136) is rescaled by the square root, floored or ceiled to 28s.
3. The image takes ``(h / 28) * (w / 28)`` pad tokens.

>>> qwen2_vl_image_tokens(640, 480), qwen2_vl_image_tokens(8, 8), qwen2_vl_image_tokens(4000, 3000)
(391, 4, 768)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DataError, UsageError
from ..record import KTORecord, PreferenceRecord, Record, SFTRecord, Source, conversation
from .paths import is_url, resolve
from .sizes import NO_PILLOW, has_pillow, image_size, is_outside  # noqa: F401 (NO_PILLOW, has_pillow: re-exported)

Unknown = Literal["count", "error"]


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """How images are counted.

    Args:
        model: ``"auto"`` (the template's media model; the ``qwen`` template's is
            ``qwen2-vl``), ``"placeholder"`` (count the template's placeholder only, as
            before), or a media model name (:func:`list_media_models`).
        image_max_pixels: LLaMA-Factory's ``image_max_pixels`` (default 768*768).
        image_min_pixels: LLaMA-Factory's ``image_min_pixels`` (default 32*32).
        processor_max_pixels: the image processor's ``max_pixels`` (Qwen2-VL hub config).
        processor_min_pixels: the image processor's ``min_pixels`` (Qwen2-VL hub config).
        media_root: folder relative image paths resolve against (default: the dataset
            file's folder, as in ``sftdata validate --media-root``).
        unknown: an image whose size cannot be read (missing, undecodable, a URL) is
            ``"count"`` ed as its placeholder and reported, or is an ``"error"``.
        confine: never open a path that resolves outside the dataset's folder and
            ``media_root`` (``--confine-media``): its size is unknown (``media-outside``).
    """

    model: str = "auto"
    image_max_pixels: int = 768 * 768
    image_min_pixels: int = 32 * 32
    processor_max_pixels: int = 12_845_056
    processor_min_pixels: int = 56 * 56
    media_root: str | None = None
    unknown: Unknown = "count"
    confine: bool = False

    def __post_init__(self) -> None:
        for name in ("image_max_pixels", "image_min_pixels", "processor_max_pixels", "processor_min_pixels"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be a positive number of pixels.", field="--" + name.replace("_", "-"), remedy="Give a whole number above 0, e.g. 589824 (768 x 768, LLaMA-Factory's image_max_pixels).")
        if self.image_min_pixels > self.image_max_pixels:
            raise UsageError("image_min_pixels is larger than image_max_pixels.", field="--image-min-pixels", remedy="Lower --image-min-pixels or raise --image-max-pixels.")


@dataclass(frozen=True, slots=True)
class MediaModel:
    """How one model family expands an image: the pad token the template's placeholder
    holds once, and the number of pad tokens for a ``width x height`` image."""

    name: str
    image_pad: str
    image_tokens: Callable[[int, int, MediaOptions], int]
    summary: str = ""


def _regularize(width: int, height: int, max_pixels: int, min_pixels: int) -> tuple[int, int]:
    """LLaMA-Factory's ``Qwen2VLPlugin._preprocess_image`` on sizes (PIL resizes to the truncated sides)."""
    if width * height > max_pixels:
        f = math.sqrt(max_pixels / (width * height))
        width, height = int(width * f), int(height * f)
    if width * height < min_pixels:
        f = math.sqrt(min_pixels / (width * height))
        width, height = int(width * f), int(height * f)
    if min(width, height) < 28:
        width, height = max(width, 28), max(height, 28)
    if width / height > 200:
        width = height * 180
    if height / width > 200:
        height = width * 180
    return width, height


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The Qwen2-VL image processor's resize: sides multiples of ``factor``, area within bounds.

    >>> smart_resize(480, 640, 28, 3136, 12845056)
    (476, 644)
    """
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def qwen2_vl_image_tokens(width: int, height: int, options: MediaOptions = MediaOptions()) -> int:
    """``<|image_pad|>`` tokens of a ``width x height`` image in a Qwen2-VL / Qwen2.5-VL run."""
    w, h = _regularize(width, height, options.image_max_pixels, options.image_min_pixels)
    rh, rw = smart_resize(h, w, 28, options.processor_min_pixels, options.processor_max_pixels)
    return (rh // 28) * (rw // 28)


QWEN2_VL = MediaModel("qwen2-vl", "<|image_pad|>", qwen2_vl_image_tokens, "Qwen2-VL / Qwen2.5-VL: one <|image_pad|> per 28x28 patch group")
_MODELS: dict[str, MediaModel] = {QWEN2_VL.name: QWEN2_VL}
_ALIASES: dict[str, str] = {"qwen2.5-vl": "qwen2-vl", "qwen2_vl": "qwen2-vl", "qwen2_5_vl": "qwen2-vl"}
MODES = ("auto", "placeholder")


def register_media_model(model: MediaModel, *aliases: str) -> None:
    """Add a model family under its name and aliases (also a ``--media-model`` choice)."""
    _MODELS[model.name] = model
    for alias in aliases:
        _ALIASES[alias] = model.name


def list_media_models() -> list[str]:
    """Registered media model names."""
    return sorted(_MODELS)


def get_media_model(name: str) -> MediaModel:
    """A media model by name or alias ("did you mean" on a typo)."""
    key = _ALIASES.get(name.lower(), name.lower())
    model = _MODELS.get(key)
    if model is None:
        choices = [*MODES, *list_media_models()]
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"unknown media model '{name}'.{hint}", field="--media-model", remedy=f"Use one of: {', '.join(choices)}.")
    return model


def media_model_for(template_text: str) -> str | None:
    """The first registered model whose image pad token ``template_text`` holds (how the
    ``hf`` template finds its media model), or ``None``."""
    return next((m.name for m in _MODELS.values() if m.image_pad in template_text), None)


class MediaError(DataError):
    """An image whose size cannot be read, so its tokens cannot be counted."""

    code = "media-unreadable"


@dataclass(frozen=True, slots=True)
class ImageCount:
    """One image of a record: its pad tokens (1, the placeholder's, when ``problem``);
    ``outside``: the path resolves outside the dataset's folder and the media root."""

    url: str
    tokens: int
    size: tuple[int, int] | None = None
    problem: str | None = None
    outside: bool = False


@dataclass(frozen=True, slots=True)
class MediaTokens:
    """A media model bound to a tokenizer's pad id and :class:`MediaOptions`: what
    ``count_record(..., media=)`` and ``encode_record(..., media=)`` take. Build it with
    :func:`media_tokens`."""

    model: MediaModel
    pad_id: int
    options: MediaOptions

    def images(self, record: Record, branch: Literal["chosen", "rejected"] = "chosen") -> list[ImageCount]:
        """The record's images in the order the template renders them, each with its tokens.

        Raises:
            MediaError: an image's size cannot be read and ``options.unknown == "error"``.
        """
        if not isinstance(record, (SFTRecord, PreferenceRecord, KTORecord)):
            return []
        source = record.source
        base = Path(source.path).parent if source is not None else None
        root = Path(self.options.media_root) if self.options.media_root else None
        out: list[ImageCount] = []
        for i, m in enumerate(conversation(record, branch)):
            if isinstance(m.content, str):
                continue
            for part in m.content:
                if part.type != "image":
                    continue
                got = image_size(part.url, base, root, confine=self.options.confine)
                away = bool(part.url) and not is_url(part.url) and is_outside(str(resolve(part.url, base, root)), base, root)
                if isinstance(got[0], str):
                    code, why = got  # type: ignore[misc]
                    if self.options.unknown == "error":
                        raise _error(code, why, source, i)  # type: ignore[arg-type]
                    out.append(ImageCount(part.url, 1, None, why, away))  # type: ignore[arg-type]
                else:
                    w, h = got  # type: ignore[misc]
                    out.append(ImageCount(part.url, self.model.image_tokens(w, h, self.options), (w, h), None, away))  # type: ignore[arg-type]
        return out


def _error(code: str, why: str, source: Source | None, index: int) -> MediaError:
    return MediaError(
        f"{why}, so its tokens cannot be counted.",
        path=source.path if source else None,
        line=source.line if source else None,
        field=f"messages[{index}]",
        code=code,
        remedy="Fix the path or pass --media-root DIR (the folder image paths are relative to); "
        "`sftdata validate` lists every missing image; --media-model placeholder counts placeholders only.",
    )


def media_tokens(tokenizer: object, template: object, options: MediaOptions | None = None) -> MediaTokens | None:
    """The image expansion for this tokenizer and template, or ``None`` when images
    count as placeholders (``model="placeholder"``; ``"auto"`` with a template that has
    no media model, or a tokenizer without the model's pad token).

    Image sizes are read from file headers (``imagesize``, a core dependency), so the
    counts need no extra; Pillow only adds formats that ``imagesize`` does not read.

    Raises:
        UsageError: a named model whose pad token the tokenizer does not have.
    """
    options = options or MediaOptions()
    if options.model == "placeholder":
        return None
    name = getattr(template, "media_model", None) if options.model == "auto" else options.model
    if name is None:
        return None
    model = get_media_model(name)
    try:
        pad_id = tokenizer.token_id(model.image_pad)  # type: ignore[attr-defined]
    except UsageError:
        if options.model == "auto":
            return None
        raise UsageError(
            f"tokenizer '{getattr(tokenizer, 'name', tokenizer)}' has no {model.image_pad} token, which media model '{model.name}' expands.",
            field="--media-model",
            remedy="Use the model's own tokenizer, or --media-model placeholder.",
        ) from None
    return MediaTokens(model, pad_id, options)


def expand_ids(ids: list[int], pad_id: int, images: Iterator[ImageCount]) -> tuple[list[int], int]:
    """``ids`` with each pad token repeated as often as the next image needs, and the
    pad tokens written. A pad with no image left (a literal one in the text) stays one.

    >>> expand_ids([7, 5, 8], 5, iter([ImageCount("a.png", 3)]))
    ([7, 5, 5, 5, 8], 3)
    """
    out: list[int] = []
    pads = 0
    for t in ids:
        if t == pad_id:
            img = next(images, None)
            n = img.tokens if img is not None else 1
            out.extend([pad_id] * n)
            pads += n
        else:
            out.append(t)
    return out, pads


__all__ = [
    "QWEN2_VL",
    "ImageCount",
    "MediaError",
    "MediaModel",
    "MediaOptions",
    "MediaTokens",
    "expand_ids",
    "get_media_model",
    "has_pillow",
    "list_media_models",
    "media_model_for",
    "media_tokens",
    "qwen2_vl_image_tokens",
    "register_media_model",
    "smart_resize",
]
