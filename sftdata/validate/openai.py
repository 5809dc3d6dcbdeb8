"""What OpenAI's fine-tuning API rejects and other trainers accept (the ``openai`` profile).

Every other profile disables these rules (:data:`~sftdata.validate.profiles.OPENAI_ONLY`):

- ``tool-call-id-missing``: a tool result without ``tool_call_id``;
- ``media-type-unsupported``: video or audio parts (OpenAI fine-tuning takes images only);
- ``image-url-local``: an image that is not an ``http(s)://`` URL or a ``data:image/`` URI;
- ``image-in-assistant``: an image in an assistant message;
- ``weight-role``: a weight (train flag or loss weight) on a non-assistant message;
- ``long-example-tokens`` (warning): more than ``max_tokens`` tokens in the example's
  texts, reasoning and tool calls, counted with the validation's tokenizer.
"""

from __future__ import annotations

import orjson

from ..record import PretrainRecord
from .checks import Context

_URL_PREFIXES = ("http://", "https://", "data:image/")


def check_openai(ctx: Context) -> None:
    if not ctx.profile.enabled("weight-role") or isinstance(ctx.record, PretrainRecord):
        return
    for turns in ctx.turns.values():
        for t in turns:
            m = t.message
            if m.role == "tool" and m.tool_call_id is None:
                ctx.add("tool-call-id-missing", "a tool result without tool_call_id", t.path)
            if m.role != "assistant" and (m.train is not None or m.weight is not None):
                ctx.add("weight-role", f"a weight on a {m.role} message (only assistant messages take one)", t.path)
            for part in m.media():
                if part.type != "image":
                    ctx.add("media-type-unsupported", f"a {part.type} part (OpenAI fine-tuning takes images only)", t.content_path)
                    continue
                if m.role == "assistant":
                    ctx.add("image-in-assistant", "an image in an assistant message", t.content_path)
                if not part.url.startswith(_URL_PREFIXES):
                    ctx.add("image-url-local", f"image {part.url[:80]!r} is a local path, not an http(s) URL or data:image URI", t.content_path)
    _check_tokens(ctx)


def _check_tokens(ctx: Context) -> None:
    limit = ctx.max_tokens
    if limit is None or not ctx.profile.enabled("long-example-tokens"):
        return
    texts = []
    for turns in ctx.turns.values():
        for t in turns:
            m = t.message
            texts.extend(p.text for p in m.parts if p.type in ("text", "reasoning"))  # type: ignore[union-attr]
            texts.extend(orjson.dumps({"name": c.name, "arguments": c.arguments}).decode() for c in m.tool_calls)
    text = "\n".join(texts)
    if len(text.encode()) <= limit:
        return  # every token is at least one byte: no need to tokenize
    if ctx.count_tokens is None:
        return
    n = ctx.count_tokens(text)
    if n > limit:
        ctx.add("long-example-tokens", f"{n:,} tokens (limit {limit:,})", None)
