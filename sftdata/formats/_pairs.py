"""Fold a conversation into (system, [(user, assistant), ...]) for pair-shaped formats.

Alpaca and TRL's standard (text) columns have no roles: a conversation must be an
optional system prompt followed by user/assistant pairs. :func:`split_turns` gives that
shape for any conversation and names, in ``lost``, whatever did not fit.

>>> from sftdata.record import Message
>>> lost: list[str] = []
>>> system, pairs = split_turns((Message(role="user", content="q"), Message(role="assistant", content="a")), lost)
>>> system is None, [(u.content, a.content) for u, a in pairs], lost
(True, [('q', 'a')], [])
"""

from __future__ import annotations

from ..record import Message

EMPTY_USER = Message(role="user", content="")
EMPTY_ASSISTANT = Message(role="assistant", content="")

LOST_TOOLS = "tool calls and tool results"
LOST_ORDER = "turns that do not alternate user/assistant"
LOST_SYSTEM = "system messages after the first turn"
LOST_OPEN_END = "conversations not ending in an assistant turn"


def split_turns(messages: tuple[Message, ...], lost: list[str]) -> tuple[Message | None, list[tuple[Message, Message]]]:
    """Leading system message and the user/assistant pairs; anything else is named in ``lost``.

    Tool results are dropped, an assistant's tool calls are dropped (its text kept), a
    missing user or assistant turn becomes an empty one.
    """
    system: Message | None = None
    if messages and messages[0].role == "system":
        system, messages = messages[0], messages[1:]
    pairs: list[tuple[Message, Message]] = []
    user: Message | None = None
    for msg in messages:
        if msg.role == "system":
            lost.append(LOST_SYSTEM)
            continue
        if msg.role == "tool":
            lost.append(LOST_TOOLS)
            continue
        if msg.tool_calls:
            lost.append(LOST_TOOLS)
            if not msg.content:
                continue
            msg = msg.model_copy(update={"tool_calls": ()})
        if msg.role == "user":
            if user is not None:
                lost.append(LOST_ORDER)
                pairs.append((user, EMPTY_ASSISTANT))
            user = msg
        else:
            if user is None:
                lost.append(LOST_ORDER)
                user = EMPTY_USER
            pairs.append((user, msg))
            user = None
    if user is not None:
        lost.append(LOST_OPEN_END)
        pairs.append((user, EMPTY_ASSISTANT))
    return system, pairs


def message_losses(msg: Message, lost: list[str]) -> None:
    """Per-message features that no role-less format carries."""
    if msg.train is not None or msg.weight is not None:
        lost.append("message.train/weight")
    if msg.tool_call_id or msg.name:
        lost.append("tool result ids/names")
    if not isinstance(msg.content, str) and any(p.type == "reasoning" for p in msg.content):
        lost.append("reasoning parts")
