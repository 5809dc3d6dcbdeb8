"""Hypothesis strategies for canonical records, shared by every format's round-trip tests.

A format declares what it carries with a :class:`Carry`; :func:`records` then draws only
records that format can represent, in their canonical spelling (no two adjacent text
parts, no empty text part, text free of ``<`` so it never contains a media placeholder).

    @given(records(Carry(media=("image",)), kinds=("sft",)))
    def test_round_trip(record): assert FMT.decode(FMT.encode(record)[0]) == record
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from sftdata.record import (
    MEDIA_PARTS,
    KTORecord,
    Message,
    Modality,
    PreferenceRecord,
    PretrainRecord,
    ReasoningPart,
    SFTRecord,
    TextPart,
    ToolCall,
    ToolSpec,
)


@dataclass(frozen=True)
class Carry:
    """What a format can carry. Defaults describe the poorest (pair-shaped, text-only) format."""

    media: tuple[Modality, ...] = ()
    system: bool = True
    tools: bool = False  # record-level tool specs
    tool_calls: bool = False  # assistant tool calls + tool turns, free role order
    call_ids: bool = False  # ToolCall.id, Message.tool_call_id / name
    call_text: bool = False  # assistant text next to its tool calls
    reasoning: bool = False  # one leading reasoning part in assistant turns
    train_flags: bool = False  # Message.train / weight (never both on one message)
    multi_branch: bool = False  # several messages in chosen / rejected / completion
    extra: bool = True
    max_pairs: int = 3  # user/assistant pairs in an SFT conversation (a prompt has one fewer)


def text(min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(st.characters(blacklist_characters="<", blacklist_categories=("Cs",)), min_size=min_size, max_size=12)


_json_scalar = st.one_of(st.integers(-1000, 1000), text(), st.booleans(), st.none())
json_value = st.recursive(_json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text(1), inner, max_size=3), max_leaves=6)


def content(carry: Carry, role: str) -> st.SearchStrategy[Any]:
    # An empty system prompt reads back as no system prompt in every format.
    plain = text(1) if role == "system" else text()
    if not carry.media or role in ("system", "tool"):
        rich: st.SearchStrategy[Any] = plain
    else:
        media = st.sampled_from(carry.media).flatmap(lambda m: st.builds(MEDIA_PARTS[m], url=text(1)))
        segment = st.tuples(st.one_of(st.none(), text(1).map(lambda t: TextPart(text=t))), media)
        tail = st.one_of(st.none(), text(1).map(lambda t: TextPart(text=t)))

        def join(segments: list[tuple[Any, Any]], last: Any) -> tuple[Any, ...]:
            parts = [p for seg in segments for p in seg if p is not None]
            return tuple(parts + ([last] if last is not None else []))

        rich = st.one_of(plain, st.builds(join, st.lists(segment, min_size=1, max_size=3), tail))
    if carry.reasoning and role == "assistant":
        def think(reason: str, body: Any) -> Any:
            rest = (TextPart(text=body),) if isinstance(body, str) and body else (() if isinstance(body, str) else body)
            return (ReasoningPart(text=reason), *rest)

        rich = st.one_of(rich, st.builds(think, text(1), rich))
    return rich


def message(carry: Carry, role: str) -> st.SearchStrategy[Message]:
    flags: st.SearchStrategy[dict[str, Any]] = st.just({})
    if carry.train_flags:
        flags = st.one_of(
            st.just({}),
            st.booleans().map(lambda b: {"train": b}),
            st.floats(0.05, 5, allow_nan=False).filter(lambda w: w not in (0.0, 1.0)).map(lambda w: {"weight": w}),
        )
    return st.builds(lambda c, f: Message(role=role, content=c, **f), content(carry, role), flags)  # type: ignore[arg-type]


def tool_call(carry: Carry) -> st.SearchStrategy[ToolCall]:
    args = st.dictionaries(text(1), _json_scalar, max_size=3)
    ident = text(1) if carry.call_ids else st.none()
    return st.builds(ToolCall, name=text(1), arguments=args, id=ident)


def tool_exchange(carry: Carry) -> st.SearchStrategy[tuple[Message, ...]]:
    """An assistant turn with tool calls followed by one tool result per call."""

    def build(calls: list[ToolCall], said: str, results: list[str], name: str | None) -> tuple[Message, ...]:
        asked = Message(role="assistant", content=said if carry.call_text else "", tool_calls=tuple(calls))
        answers = tuple(
            Message(role="tool", content=r, tool_call_id=call.id, name=name if carry.call_ids else None) for call, r in zip(calls, results)
        )
        return (asked, *answers)

    return st.builds(build, st.lists(tool_call(carry), min_size=1, max_size=2), text(), st.lists(text(), min_size=2, max_size=2), st.one_of(st.none(), text(1)))


def turns(carry: Carry, open_end: bool = False) -> st.SearchStrategy[tuple[Message, ...]]:
    """Optional system, then user/assistant pairs (with tool exchanges when carried).
    ``open_end`` ends on a user turn (a prompt)."""
    pair = st.tuples(message(carry, "user"), message(carry, "assistant"))
    if carry.tool_calls:
        pair = st.one_of(pair, st.builds(lambda u, x, a: (u, *x, a), message(carry, "user"), tool_exchange(carry), message(carry, "assistant")))
    system = st.one_of(st.just(()), message(carry, "system").map(lambda m: (m,))) if carry.system else st.just(())

    def build(head: tuple[Message, ...], pairs: list[tuple[Message, ...]], last: tuple[Message, ...]) -> tuple[Message, ...]:
        return head + tuple(m for p in pairs for m in p) + last

    last = message(carry, "user").map(lambda m: (m,)) if open_end else st.just(())
    n = carry.max_pairs - 1 if open_end else carry.max_pairs
    return st.builds(build, system, st.lists(pair, min_size=0 if open_end else 1, max_size=n), last)


def tools(carry: Carry) -> st.SearchStrategy[tuple[ToolSpec, ...]]:
    if not carry.tools:
        return st.just(())
    spec = st.builds(
        ToolSpec,
        name=text(1),
        description=st.one_of(st.none(), text()),
        parameters=st.one_of(st.none(), st.just({"type": "object", "properties": {}})),
    )
    return st.lists(spec, max_size=2).map(tuple)


def extra(carry: Carry) -> st.SearchStrategy[dict[str, Any]]:
    if not carry.extra:
        return st.just({})
    return st.dictionaries(st.sampled_from(["x_id", "x_meta", "x_score"]), json_value, max_size=2)


def branch(carry: Carry) -> st.SearchStrategy[tuple[Message, ...]]:
    one = message(carry, "assistant").map(lambda m: (m,))
    if not carry.multi_branch:
        return one
    return st.one_of(one, st.lists(message(carry, "assistant"), min_size=2, max_size=2).map(tuple))


def records(carry: Carry, kinds: tuple[str, ...] = ("sft", "preference", "kto", "pretrain")) -> st.SearchStrategy[Any]:
    options: dict[str, st.SearchStrategy[Any]] = {
        "sft": st.builds(SFTRecord, messages=turns(carry), tools=tools(carry), extra=extra(carry)),
        "preference": st.builds(
            PreferenceRecord, prompt=turns(carry, open_end=True), chosen=branch(carry), rejected=branch(carry), tools=tools(carry), extra=extra(carry)
        ),
        "kto": st.builds(KTORecord, prompt=turns(carry, open_end=True), completion=branch(carry), label=st.booleans(), tools=tools(carry), extra=extra(carry)),
        "pretrain": st.builds(PretrainRecord, text=text(), extra=extra(carry)),
    }
    return st.one_of(*(options[k] for k in kinds))


# -- random raw rows for "nothing lost" properties -----------------------------------------
INNER_KEYS = ["role", "content", "from", "value", "type", "text", "image_url", "url", "input_audio", "data", "tool_calls", "function", "name", "arguments", "id", "tool_call_id", "weight", "reasoning_content", "loss_weight"]
_inner_value = st.one_of(json_value, st.sampled_from(["user", "assistant", "system", "tool", "human", "gpt", "function_call", "observation", "text", "image", "image_url", "reasoning", "tool_call", "<image>x"]))
_inner = st.dictionaries(st.sampled_from(INNER_KEYS), st.one_of(_inner_value, st.lists(st.dictionaries(st.sampled_from(INNER_KEYS), _inner_value, max_size=3), max_size=2)), max_size=4)


def raw_rows(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Rows built from a format's own column names with random JSON values (mostly invalid),
    including lists of message-like objects built from the keys formats look inside."""
    value = st.one_of(json_value, st.lists(_inner, max_size=3), _inner)
    return st.dictionaries(st.sampled_from(keys), value, max_size=len(keys))
