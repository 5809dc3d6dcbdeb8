"""Chat templates as data, and the one renderer that turns messages into text + spans.

A :class:`ChatTemplate` is a table: for each role a prefix and a suffix around the
content, the separator after an assistant turn, a BOS string, a default system prompt,
where the system prompt goes, and a :class:`ToolStyle`. :meth:`ChatTemplate.render`
returns a :class:`Rendered`: the text plus :class:`Span` s that cover it end to end,
each marked trainable or not, with the role it belongs to and whether it is the
template's own text (which is what "template overhead" counts).

>>> from sftdata.templates import get_template
>>> from sftdata.record import Message
>>> r = get_template("chatml").render([Message(role="user", content="Hi"), Message(role="assistant", content="Hello!")])
>>> r.text
'<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nHello!<|im_end|>\\n'
>>> r.trainable_text()
'Hello!<|im_end|>'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, Union

from ..formats._common import tool_spec_dict
from ..record import (
    KTORecord,
    Message,
    Modality,
    Part,
    PreferenceRecord,
    PretrainRecord,
    Role,
    SFTRecord,
    ToolCall,
    ToolSpec,
)

TrainOn = Literal["all", "last", "everything"]
TRAIN_ON: tuple[TrainOn, ...] = ("all", "last", "everything")
Conversation = Union[SFTRecord, PreferenceRecord, KTORecord, Sequence[Message]]


class Span(NamedTuple):
    """Characters ``text[start:end]``: trainable or not, the role they belong to, and
    whether they are the template's own text (role markers, default system prompt).

    A named tuple: immutable, and cheap to build in the per-record hot path."""

    start: int
    end: int
    trainable: bool
    role: Role
    template: bool = False


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered conversation: ``spans`` cover ``text`` in order, without gaps."""

    text: str
    spans: tuple[Span, ...]

    def trainable_text(self) -> str:
        """The trainable characters, concatenated."""
        return "".join(self.text[s.start : s.end] for s in self.spans if s.trainable)

    def pieces(self) -> list[tuple[str, Span]]:
        """``(text, span)`` for every span."""
        return [(self.text[s.start : s.end], s) for s in self.spans]


class Template(Protocol):
    """What :func:`sftdata.tokens.encode_record` needs: a name, an end-of-turn token and
    a renderer. :class:`ChatTemplate` (data) and the jinja ``hf`` template implement it."""

    name: str
    stop: str

    def render(self, record_or_messages: Conversation, train_on: TrainOn = "all", tools: Sequence[ToolSpec] | None = None) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """``prefix + content + suffix + after``. For the assistant, ``content + suffix``
    (the end-of-turn token) is trained and ``prefix``/``after`` are not."""

    prefix: str = ""
    suffix: str = ""
    after: str = ""


def _tojson(value: Any, indent: int | None = None) -> str:
    # Hugging Face's chat-template ``tojson``: json.dumps with ensure_ascii=False and the
    # default ", " / ": " separators, keys in insertion order.
    return json.dumps(value, ensure_ascii=False, indent=indent)


@dataclass(frozen=True, slots=True)
class ToolStyle:
    """How a model family expects tools: the list of specs (inside the system prompt),
    the calls an assistant makes, and the tool results.

    Results of consecutive tool messages share one ``result_group`` turn (Qwen2.5 puts
    them all in one user turn); each result is wrapped in ``result_item``.
    """

    preamble: str
    postamble: str
    spec_sep: str = "\n"
    wrap_spec: bool = True
    spec_indent: int | None = None
    call_prefix: str = "<tool_call>\n"
    call_suffix: str = "\n</tool_call>"
    call_sep: str = "\n"
    content_sep: str = "\n"
    args_key: str = "arguments"
    result_group: Turn = Turn()
    result_item: Turn = Turn("<tool_response>\n", "\n</tool_response>")

    def spec_json(self, spec: ToolSpec) -> str:
        return _tojson(tool_spec_dict(spec, wrap=self.wrap_spec), self.spec_indent)

    def call_json(self, call: ToolCall) -> str:
        # Qwen2.5's template writes the name raw and the arguments through tojson.
        return '{"name": "' + call.name + '", "' + self.args_key + '": ' + _tojson(call.arguments) + "}"


HERMES = ToolStyle(
    preamble="\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
    postamble="\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>',
)

Slot = Literal["", "head", "answer", "after"]
#: text, role, trainable, template-owned, slot, message index. ``slot`` places a piece in
#: an assistant turn: its header (``head``), what the model writes (``answer``: content,
#: tool calls and the end-of-turn token) or the separator after it (``after``); ``""``
#: elsewhere. ``message`` indexes the conversation (``-1``: template text of no message,
#: such as a default system prompt), so trainer conventions can tell prompt from answer.
Seg = tuple[str, Role, bool, bool, Slot, int]


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    """A chat template as data (see the module docstring).

    Args:
        name: registry name.
        roles: the turn of each role; ``tool`` turns are used only when ``tools`` has no group.
        stop: the end-of-turn token (also what generation stops on).
        bos: text emitted once at the start.
        default_system: used when a conversation has no system message.
        system_mode: ``"turn"`` (its own turn) or ``"in_user"`` (inside the first user turn,
            after its prefix, as Llama 2 and Mistral do).
        tools: how tools, calls and results render.
        media: placeholder text per modality.
        media_model: the :mod:`sftdata.media.tokens` model that expands its image
            placeholder in real runs (``"qwen2-vl"`` for ``qwen``), or ``None``.
        reasoning: wraps an assistant's reasoning part (``{}`` is the text).
        input_system: alpaca's default system prompt for a conversation whose user turn
            has an input (:meth:`~sftdata.record.Message.split_input`).
        input_turn: alpaca's wrapper of that input, which then replaces the ``"\\n"`` that
            joins it to the instruction in the message's content.
    """

    name: str
    roles: dict[Role, Turn]
    stop: str
    bos: str = ""
    default_system: str | None = None
    system_mode: Literal["turn", "in_user"] = "turn"
    tools: ToolStyle = HERMES
    media: dict[Modality, str] = field(default_factory=lambda: {"image": "<image>", "video": "<video>", "audio": "<audio>"})
    media_model: str | None = None
    reasoning: str = "<think>\n{}\n</think>\n\n"
    input_system: str | None = None
    input_turn: Turn | None = None
    summary: str = ""

    # -- rendering ---------------------------------------------------------------------
    def render(self, record_or_messages: Conversation, train_on: TrainOn = "all", tools: Sequence[ToolSpec] | None = None, branch: Literal["chosen", "rejected"] = "chosen") -> Rendered:
        """Render a record (or a list of messages) to text plus spans.

        Args:
            record_or_messages: an SFT/preference/KTO record or messages.
            train_on: ``"all"`` assistant turns, the ``"last"`` one only, or ``"everything"``.
            tools: tool specs; defaults to the record's ``tools``.
            branch: for a preference record, render ``prompt + chosen`` or ``+ rejected``.
        """
        return _assemble(self.segments(record_or_messages, train_on, tools, branch))

    def segments(self, record_or_messages: Conversation, train_on: TrainOn = "all", tools: Sequence[ToolSpec] | None = None, branch: Literal["chosen", "rejected"] = "chosen") -> list[Seg]:
        """The rendered pieces (:data:`Seg`: text, role, trainable, template-owned, slot,
        message index) in order: what :meth:`render` joins, and what token counting walks
        without building spans."""
        messages, specs = _unpack(record_or_messages, branch)
        if tools is not None:
            specs = tuple(tools)
        segs: list[Seg] = []
        if self.bos:
            segs.append((self.bos, "system", False, True, "", -1))
        rest = list(messages)
        system_segs = self._system(rest, specs)
        base = len(messages) - len(rest)  # 1 when a system message was taken out
        if system_segs and self.system_mode == "turn":
            segs.extend(system_segs)
            system_segs = []
        last = max((i for i, m in enumerate(rest) if m.role == "assistant"), default=-1)
        i = 0
        while i < len(rest):
            m = rest[i]
            if m.role == "tool":
                j = i
                while j < len(rest) and rest[j].role == "tool":
                    j += 1
                self._tool_results(segs, rest[i:j], base + i)
                i = j
                continue
            if m.role == "assistant":
                trained = m.train if m.train is not None else (train_on != "last" or i == last)
                self._assistant(segs, m, trained, base + i)
            else:
                self._plain_turn(segs, m, system_segs, base + i)
                system_segs = []
            i += 1
        if system_segs:  # a system prompt with no user turn to sit in
            segs.extend(system_segs)
        if train_on == "everything":
            segs = [(text, role, True, own, slot, at) for text, role, _, own, slot, at in segs]
        return segs

    def _content(self, m: Message) -> str:
        return self._parts_text(m.content)

    def _parts_text(self, content: str | tuple[Part, ...]) -> str:
        if isinstance(content, str):
            return content
        out: list[str] = []
        for p in content:
            if p.type == "text":
                out.append(p.text)
            elif p.type == "reasoning":
                out.append(self.reasoning.format(p.text))
            else:
                out.append(self.media[p.type])
        return "".join(out)

    def _system(self, rest: list[Message], specs: Sequence[ToolSpec]) -> list[Seg]:
        turn = self.roles["system"]
        own = rest.pop(0) if rest and rest[0].role == "system" else None
        at = 0 if own is not None else -1
        segs: list[Seg] = []
        if own is not None:
            text, from_template = self._content(own), False
        else:
            text, from_template = self.default_system, True
            if self.input_system is not None and any(m.role == "user" and m.split_input() is not None for m in rest):
                text = self.input_system
        if text is None and not specs:
            return segs
        segs.append((turn.prefix, "system", False, True, "", at))
        if text:
            segs.append((text, "system", own is not None and own.train is True, from_template, "", at))
        if specs:
            t = self.tools
            segs.append((t.preamble, "system", False, True, "", at))
            segs.append((t.spec_sep.join(t.spec_json(s) for s in specs), "system", False, False, "", at))
            segs.append((t.postamble, "system", False, True, "", at))
        segs.append((turn.suffix, "system", False, True, "", at))
        return segs

    def _plain_turn(self, segs: list[Seg], m: Message, system_segs: list[Seg], at: int) -> None:
        turn = self.roles[m.role]
        role = m.role
        segs.append((turn.prefix, role, False, True, "", at))
        segs.extend(system_segs)
        trained = m.train is True
        split = m.split_input() if self.input_turn is not None and role == "user" else None
        if split is not None and self.input_turn is not None:
            # alpaca's "### Input:" section replaces the "\n" that joined instruction and input
            instruction, query = (self._parts_text(half) for half in split)
            segs.append((instruction, role, trained, False, "", at))
            segs.append((self.input_turn.prefix, role, False, True, "", at))
            segs.append((query, role, trained, False, "", at))
            segs.append((self.input_turn.suffix, role, False, True, "", at))
        else:
            segs.append((self._content(m), role, trained, False, "", at))
        segs.append((turn.suffix, role, False, True, "", at))
        segs.append((turn.after, role, False, True, "", at))

    def _assistant(self, segs: list[Seg], m: Message, trained: bool, at: int) -> None:
        turn, t = self.roles["assistant"], self.tools
        segs.append((turn.prefix, "assistant", False, True, "head", at))
        content = self._content(m)
        if content:
            segs.append((content, "assistant", trained, False, "answer", at))
        for k, call in enumerate(m.tool_calls):
            sep = t.content_sep if k == 0 else t.call_sep
            if k or content:
                segs.append((sep, "assistant", trained, True, "answer", at))
            segs.append((t.call_prefix, "assistant", trained, True, "answer", at))
            segs.append((t.call_json(call), "assistant", trained, False, "answer", at))
            segs.append((t.call_suffix, "assistant", trained, True, "answer", at))
        segs.append((turn.suffix, "assistant", trained, True, "answer", at))
        segs.append((turn.after, "assistant", False, True, "after", at))

    def _tool_results(self, segs: list[Seg], results: list[Message], at: int) -> None:
        group, item = self.tools.result_group, self.tools.result_item
        if not (group.prefix or group.suffix):
            group = self.roles.get("tool", self.roles["user"])
        segs.append((group.prefix, "tool", False, True, "", at))
        for k, m in enumerate(results):
            segs.append((item.prefix, "tool", False, True, "", at + k))
            segs.append((self._content(m), "tool", m.train is True, False, "", at + k))
            segs.append((item.suffix, "tool", False, True, "", at + k))
        last = at + len(results) - 1
        segs.append((group.suffix, "tool", False, True, "", last))
        segs.append((group.after, "tool", False, True, "", last))


def _unpack(obj: Conversation, branch: Literal["chosen", "rejected"]) -> tuple[tuple[Message, ...], tuple[ToolSpec, ...]]:
    if isinstance(obj, SFTRecord):
        return obj.messages, obj.tools
    if isinstance(obj, PreferenceRecord):
        return obj.prompt + (obj.chosen if branch == "chosen" else obj.rejected), obj.tools
    if isinstance(obj, KTORecord):
        return obj.prompt + obj.completion, obj.tools
    if isinstance(obj, PretrainRecord):
        raise TypeError("a pretrain record has no conversation to render; use its text")
    return tuple(obj), ()


def _assemble(segs: list[Seg]) -> Rendered:
    """Join segments into text and merge neighbours with the same marks into spans."""
    text_parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    for text, role, trainable, own, _, _ in segs:
        if not text:
            continue
        end = pos + len(text)
        if spans and (prev := spans[-1]).role == role and prev.trainable == trainable and prev.template == own:
            spans[-1] = Span(prev.start, end, trainable, role, own)
        else:
            spans.append(Span(pos, end, trainable, role, own))
        text_parts.append(text)
        pos = end
    return Rendered("".join(text_parts), tuple(spans))
