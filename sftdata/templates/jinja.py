"""The ``hf`` template: a local tokenizer folder's jinja ``chat_template``, sandboxed.

Spans come from rendering prefixes: the text up to an assistant turn rendered with
``add_generation_prompt=True`` ends where the answer starts, and the conversation up to
and including that turn ends (after trailing whitespace is dropped) where its trained
part ends. When a template renders earlier turns differently once later ones follow
(Qwen3's reasoning blocks do), the answer is located by its text instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import DataError, UsageError
from ..formats._common import tool_spec_dict
from ..record import Message, Role, ToolSpec
from ..tokenizers import Tokenizer
from .base import Conversation, Rendered, Span, TrainOn, _unpack


def message_dict(m: Message) -> dict[str, Any]:
    """A message as the OpenAI-style dict chat templates expect."""
    if m.media():
        content: Any = [{"type": p.type, "text": p.text} if p.type in ("text", "reasoning") else {"type": p.type, p.type: p.url} for p in m.parts]  # type: ignore[union-attr]
    else:
        content = "".join(f"<think>\n{p.text}\n</think>\n\n" if p.type == "reasoning" else p.text for p in m.parts)  # type: ignore[union-attr]
    out: dict[str, Any] = {"role": m.role, "content": content}
    if m.tool_calls:
        out["tool_calls"] = [{"type": "function", "function": {"name": c.name, "arguments": c.arguments}, **({"id": c.id} if c.id else {})} for c in m.tool_calls]
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    if m.name:
        out["name"] = m.name
    return out


def _environment() -> Any:
    try:
        from jinja2 import nodes
        from jinja2.ext import Extension, loopcontrols

        from .sandbox import LimitedEnvironment, TemplateRaised
    except ImportError:
        from ..errors import missing

        raise missing("jinja2", "jinja", "Rendering a tokenizer folder's chat_template") from None

    class Generation(Extension):
        """``{% generation %}...{% endgeneration %}`` (HF's assistant mask markers): rendered as is."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            next(parser.stream)
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body)

    def raise_exception(message: Any) -> None:
        raise TemplateRaised(str(message)[:2000])

    env = LimitedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, Generation])
    env.add_filter("tojson", lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    ))
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: __import__("datetime").datetime.now().strftime(str(fmt)[:200])
    return env


@dataclass(frozen=True)
class HFTemplate:
    """A jinja chat template rendered in a sandbox (see the module docstring)."""

    source: str
    name: str = "hf"
    stop: str = ""
    bos_token: str = ""
    origin: str = "chat_template"
    limits: Any = None

    @classmethod
    def load(cls, tokenizer: Tokenizer | None = None, model_dir: Path | None = None) -> "HFTemplate":
        """From ``model_dir`` (``chat_template.jinja`` or ``tokenizer_config.json``) or from
        a Hugging Face tokenizer loaded from a folder."""
        folder = model_dir or getattr(tokenizer, "path", None)
        if folder is not None:
            folder = Path(folder)
            cfg: dict[str, Any] = {}
            if (folder / "tokenizer_config.json").exists():
                cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            source = (folder / "chat_template.jinja").read_text(encoding="utf-8") if (folder / "chat_template.jinja").exists() else cfg.get("chat_template")
            if isinstance(source, list):  # named templates: take "default"
                source = next((t["template"] for t in source if t.get("name") == "default"), None)
            origin = str(folder / "chat_template.jinja") if (folder / "chat_template.jinja").exists() else str(folder / "tokenizer_config.json")
            if isinstance(source, str):
                return cls(source, stop=_token_text(cfg.get("eos_token")) or (tokenizer.eos_token if tokenizer else ""), bos_token=_token_text(cfg.get("bos_token")), origin=origin)
        if tokenizer is not None and isinstance(getattr(tokenizer, "chat_template", None), str):
            return cls(tokenizer.chat_template, stop=tokenizer.eos_token, origin=f"{getattr(tokenizer, 'name', 'the tokenizer')}'s chat_template")  # type: ignore[attr-defined]
        raise UsageError(
            "template 'hf' needs a local tokenizer folder with a chat_template.",
            field="--template",
            remedy="Pass --tokenizer PATH_TO_MODEL_FOLDER (with tokenizer_config.json or chat_template.jinja), or pick a built-in template.",
        )

    @property
    def media_model(self) -> str | None:
        """The media model whose image pad token this template writes (a Qwen2-VL
        template writes ``<|image_pad|>``), so that ``--media-model auto`` expands it."""
        from ..media.tokens import media_model_for

        return media_model_for(self.source)

    def _compiled(self) -> Any:
        cached = _COMPILED.get(self.source)
        if cached is None:
            from jinja2.exceptions import TemplateSyntaxError

            try:
                cached = _COMPILED[self.source] = _environment().from_string(self.source)
            except TemplateSyntaxError as exc:
                raise DataError(
                    f"the chat template does not compile: {exc.message} (template line {exc.lineno}).",
                    path=self.origin,
                    code="template-error",
                    remedy="Fix the template, or pick a built-in --template (qwen, llama3, chatml, ...).",
                ) from None
        return cached

    def text(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None, add_generation_prompt: bool = False, budget: Any = None) -> str:
        """Render OpenAI-style message dicts with the jinja template, in the limited
        sandbox of :mod:`sftdata.templates.sandbox` (``budget``: what is left of the
        record's limits; a fresh one by default).

        Raises:
            DataError: ``template-refused`` (the template called ``raise_exception``),
                ``template-limit`` (it went past a limit) or ``template-error`` (it failed).
        """
        from .sandbox import Budget, Limits, render

        template = self._compiled()
        if budget is None:
            budget = Budget(self.limits or Limits(), _chars(messages, tools))
        variables = {"messages": list(messages), "tools": list(tools) if tools else None, "add_generation_prompt": add_generation_prompt, "bos_token": self.bos_token, "eos_token": self.stop}
        try:
            return render(template, variables, budget)
        except Exception as exc:  # a template can fail in any way; each is reported, never a traceback
            raise self._error(exc, template) from None

    def _error(self, exc: Exception, template: Any) -> DataError:
        from .sandbox import TemplateLimit, TemplateRaised, template_line

        line = template_line(exc, template)
        where = f"{self.origin}" + (f" line {line}" if line else "")
        if isinstance(exc, TemplateRaised):
            return DataError(f"the chat template refuses this record: {exc} ({where}).", code="template-refused",
                             remedy="The message is the template's own check: fix the record so that it passes, or pick another --template.")
        if isinstance(exc, TemplateLimit):
            return DataError(f"the chat template went past a limit on this record: {exc} ({where}).", code="template-limit",
                             remedy="No real chat template needs this much: check the chat_template, or pick a built-in --template.")
        detail = str(exc)[:500] or type(exc).__name__
        return DataError(f"the chat template failed on this record: {type(exc).__name__}: {detail} ({where}).", code="template-error",
                         remedy="Fix the chat_template (or the record it cannot render), or pick a built-in --template.")

    def render(self, record_or_messages: Conversation, train_on: TrainOn = "all", tools: Sequence[ToolSpec] | None = None, branch: Literal["chosen", "rejected"] = "chosen") -> Rendered:
        """Render a record: text plus trained spans (see the module docstring).

        Raises:
            DataError: the template refused, failed on or went past a limit on the
                record (located at the record's file and line).
        """
        try:
            return self._render(record_or_messages, train_on, tools, branch)
        except DataError as err:
            source = getattr(record_or_messages, "source", None)
            if source is not None and err.path is None:
                err.path, err.line = str(source.path), source.line
            raise

    def _render(self, record_or_messages: Conversation, train_on: TrainOn, tools: Sequence[ToolSpec] | None, branch: Literal["chosen", "rejected"]) -> Rendered:
        from .sandbox import Budget, Limits

        messages, specs = _unpack(record_or_messages, branch)
        specs = tuple(tools) if tools is not None else specs
        dicts = [message_dict(m) for m in messages]
        tdicts = [tool_spec_dict(s, wrap=True) for s in specs] or None
        budget = Budget(self.limits or Limits(), _chars(dicts, tdicts))
        full = self.text(dicts, tdicts, budget=budget)
        last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
        trained: list[tuple[int, int]] = []
        content: list[tuple[int, int, Role]] = []
        cursor = 0
        for i, m in enumerate(messages):
            body = dicts[i]["content"] if isinstance(dicts[i]["content"], str) else ""
            at = full.find(body, cursor) if body else -1
            if at >= 0:
                content.append((at, at + len(body), m.role))
            if m.role != "assistant" or not (m.train if m.train is not None else (train_on != "last" or i == last)):
                if at >= 0:
                    cursor = at + len(body)
                continue
            start, end = self._answer(dicts, tdicts, i, full, at, body, cursor, budget)
            trained.append((start, end))
            cursor = end
        if train_on == "everything":
            trained = [(0, len(full))]
        return Rendered(full, _spans(full, trained, content, messages))

    def _answer(self, dicts: list[dict[str, Any]], tools: Any, i: int, full: str, at: int, body: str, cursor: int, budget: Any) -> tuple[int, int]:
        try:
            head = self.text(dicts[:i], tools, add_generation_prompt=True, budget=budget)
            upto = self.text(dicts[: i + 1], tools, budget=budget).rstrip()
        except DataError as err:  # a template that cannot render a prefix (e.g. needs a user turn)
            if err.code == "template-limit":
                raise
            head, upto = "", ""
        if head and full.startswith(head) and full.startswith(upto) and len(upto) > len(head):
            return len(head), len(upto)
        start = at if at >= 0 else cursor
        end = start + len(body)
        if self.stop:
            stop_at = full.find(self.stop, end)
            if stop_at >= 0:
                end = stop_at + len(self.stop)
        return start, end


_COMPILED: dict[str, Any] = {}


def _chars(messages: Any, tools: Any) -> int:
    """Characters of a conversation's text (the output cap grows with it)."""
    total = 0
    stack = [messages, tools]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return total


def _token_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value or "")


def _spans(full: str, trained: list[tuple[int, int]], content: list[tuple[int, int, Role]], messages: Sequence[Message]) -> tuple[Span, ...]:
    """Cut ``full`` at every boundary and label each piece."""
    points = {0, len(full)}
    for a, b in trained:
        points.update((a, b))
    for a, b, _ in content:
        points.update((a, b))
    cuts = sorted(p for p in points if 0 <= p <= len(full))
    spans: list[Span] = []
    role: Role = messages[0].role if messages else "system"
    for a, b in zip(cuts, cuts[1:]):
        if a == b:
            continue
        owner = next((r for s, e, r in content if s <= a < e), None)
        if owner is not None:
            role = owner
        trainable = any(s <= a < e for s, e in trained)
        own = owner is None
        if spans and (p := spans[-1]).trainable == trainable and p.role == role and p.template == own:
            spans[-1] = Span(p.start, b, trainable, role, own)
        else:
            spans.append(Span(a, b, trainable, role, own))
    return tuple(spans)
