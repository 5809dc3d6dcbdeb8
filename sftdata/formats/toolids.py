"""Tool-call ids for targets that pair calls with results by id (OpenAI messages).

sharegpt (glaive-style ``function_call`` / ``observation`` turns), alpaca and
LLaMA-Factory pair a tool result with its call by position, so their calls carry no
id. OpenAI's chat format pairs them by id: an assistant's ``tool_calls[k].id`` and the
answering tool message's ``tool_call_id``. :func:`fill_record` gives every call that
has no id a deterministic one and every tool result that has none the id of its call:

* a new id is ``call_<i>_<k>``: ``i`` is the assistant message's index in the
  conversation (the output's ``messages``), ``k`` the call's index in its
  ``tool_calls``; a clash with an id already in the conversation gets ``_2``, ``_3``...
  so ids are stable across runs and unique within a conversation;
* the tool messages right after a call message answer its calls in order: parallel
  calls ``[a, b]`` followed by two results give the results ``a`` and ``b``; a result
  that already names a call keeps its id and takes that call out of the queue;
* a call without id whose in-order result already has an id adopts that id;
* ids present in the source are never changed; a tool message that follows no call
  message is left as it is (``sftdata validate`` reports it as ``orphan-tool-result``).

One algorithm (:func:`pair`) serves both the record path and the wire rows of
:mod:`sftdata.formats.fastpath`, so both write the same bytes.

>>> from sftdata.record import Message, SFTRecord, ToolCall
>>> rec = SFTRecord(messages=(
...     Message(role="user", content="Weather in Oslo and Rome?"),
...     Message(role="assistant", content="", tool_calls=(ToolCall(name="w", arguments={"c": "Oslo"}), ToolCall(name="w", arguments={"c": "Rome"}))),
...     Message(role="tool", content="3C"), Message(role="tool", content="18C"),
...     Message(role="assistant", content="Cold in Oslo, warm in Rome.")))
>>> out = fill_record(rec)
>>> [c.id for c in out.messages[1].tool_calls], [m.tool_call_id for m in out.messages[2:4]]
(['call_1_0', 'call_1_1'], ['call_1_0', 'call_1_1'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..record import KTORecord, Message, PreferenceRecord, Record, SFTRecord

#: One message as the pairing sees it: (role, ids of its calls or None, its tool_call_id).
Slot = tuple[str, "tuple[str | None, ...] | None", "str | None"]


def _fresh(i: int, k: int, used: set[str]) -> str:
    ident, n = f"call_{i}_{k}", 1
    while ident in used:
        n += 1
        ident = f"call_{i}_{k}_{n}"
    used.add(ident)
    return ident


def pair(slots: Sequence[Slot], start: int = 0) -> list[Slot] | None:
    """Filled ``slots``, or ``None`` when nothing needs an id (the common case).

    ``start`` is the conversation index of ``slots[0]`` (a preference branch
    continues its prompt). Slots that need no change are returned as the same objects.

    >>> pair([("user", None, None), ("assistant", (None,), None), ("tool", None, None)])
    [('user', None, None), ('assistant', ('call_1_0',), None), ('tool', None, 'call_1_0')]
    """
    # Plain loops, no generators: this runs once per converted row with tool turns.
    for role, calls, ident in slots:
        if (None in calls) if calls is not None else (ident is None and role == "tool"):
            break
    else:
        return None
    used: set[Any] = set()
    for _, calls, ident in slots:
        if calls is not None:
            used.update(calls)
        used.add(ident)
    out = list(slots)
    n = len(slots)
    for i, (role, calls, ident) in enumerate(slots):
        if calls is None:
            continue
        end = i + 1
        while end < n and slots[end][0] == "tool":
            end += 1
        answered = end - i - 1
        filled = calls
        if None in calls:
            own = set(calls)
            new = list(calls)
            for k, cid in enumerate(calls):
                if cid is None:
                    answer = slots[i + 1 + k][2] if k < answered else None
                    cid = answer if answer is not None and answer not in own else _fresh(start + i, k, used)
                    own.add(cid)
                    new[k] = cid
            filled = tuple(new)
            out[i] = (role, filled, ident)
        queue: list[Any] | None = None
        for j in range(i + 1, end):
            if slots[j][2] is None:
                if queue is None:
                    named = {slots[b][2] for b in range(i + 1, end)}
                    queue = [c for c in filled if c not in named]
                if queue:
                    out[j] = (slots[j][0], slots[j][1], queue.pop(0))
    return out


# -- records -----------------------------------------------------------------------------
def _slot(m: Message) -> Slot:
    return (m.role, tuple(c.id for c in m.tool_calls) if m.tool_calls else None, m.tool_call_id)


def fill_messages(messages: tuple[Message, ...], start: int = 0) -> tuple[Message, ...]:
    """``messages`` with tool-call ids filled (the same tuple when none was missing)."""
    for m in messages:
        if m.tool_calls or m.role == "tool":
            break
    else:
        return messages  # most records: no tool turn, nothing to build
    filled = pair([_slot(m) for m in messages], start)
    if filled is None:
        return messages
    out = []
    for m, (_, calls, ident) in zip(messages, filled):
        update: dict[str, Any] = {}
        if calls is not None and calls != tuple(c.id for c in m.tool_calls):
            update["tool_calls"] = tuple(c if c.id == cid else c.model_copy(update={"id": cid}) for c, cid in zip(m.tool_calls, calls))
        if ident != m.tool_call_id:
            update["tool_call_id"] = ident
        out.append(m.model_copy(update=update) if update else m)
    return tuple(out)


def fill_record(record: Record) -> Record:
    """``record`` with tool-call ids filled in every conversation it holds."""
    if isinstance(record, SFTRecord):
        messages = fill_messages(record.messages)
        return record if messages is record.messages else record.model_copy(update={"messages": messages})
    if isinstance(record, PreferenceRecord):
        prompt = fill_messages(record.prompt)
        n = len(prompt)
        # each branch continues the prompt: its results may answer the prompt's last calls
        chosen = fill_messages(prompt + record.chosen)[n:]
        rejected = fill_messages(prompt + record.rejected)[n:]
        return record.model_copy(update={"prompt": prompt, "chosen": chosen, "rejected": rejected})
    if isinstance(record, KTORecord):
        both = fill_messages(record.prompt + record.completion)
        n = len(record.prompt)
        return record.model_copy(update={"prompt": both[:n], "completion": both[n:]})
    return record


# -- OpenAI wire messages (the fast path) ------------------------------------------------
def fill_wire(messages: list[dict[str, Any]], *, shortcut: bool = True) -> None:
    """Fill ids in OpenAI wire ``messages`` in place, as :func:`fill_record` followed by
    the openai encoder would write them (``id`` first in a call, ``tool_call_id`` after
    ``content``/``tool_calls``).

    ``shortcut``: when the conversation has no id at all (every sharegpt row), the
    result of :func:`pair` is simply ``call_<i>_<k>`` answered in order, computed in one
    pass; a test checks it against the general path.
    """
    state = _scan(messages)
    if state == 0:
        return
    if state == 1 and shortcut:
        queue: list[str] = []
        for i, m in enumerate(messages):
            calls = m.get("tool_calls")
            if calls:
                queue = [f"call_{i}_{k}" for k in range(len(calls))]
                m["tool_calls"] = [{"id": cid, **c} for cid, c in zip(queue, calls)]
            elif m["role"] != "tool":
                queue = []
            elif queue:
                _set_result_id(m, queue.pop(0))
        return
    slots: list[Slot] = []
    for m in messages:
        calls = m.get("tool_calls")
        slots.append((m["role"], tuple([c.get("id") for c in calls]) if calls else None, m.get("tool_call_id")))
    filled = pair(slots)
    if filled is None:
        return
    for m, old, new in zip(messages, slots, filled):
        if new is old:
            continue
        _, calls, ident = new
        if calls is not None and calls != old[1]:
            m["tool_calls"] = [c if c.get("id") == cid else {"id": cid, **c} for c, cid in zip(m["tool_calls"], calls)]
        if ident is not None and old[2] is None:
            _set_result_id(m, ident)


def _scan(messages: list[dict[str, Any]]) -> int:
    """0: no tool turn; 1: tool turns, no id anywhere; 2: some ids present."""
    found = 0
    for m in messages:
        calls = m.get("tool_calls")
        if calls:
            found = 1
            for c in calls:
                if c.get("id") is not None:
                    return 2
        elif m["role"] == "tool":
            if m.get("tool_call_id") is not None:
                return 2
            found = 1
    return found


def _set_result_id(m: dict[str, Any], ident: str) -> None:
    if "name" in m or "weight" in m:
        # the encoder writes tool_call_id before name and weight
        rest = {k: m.pop(k) for k in ("name", "weight") if k in m}
        m["tool_call_id"] = ident
        m.update(rest)
    else:
        m["tool_call_id"] = ident


__all__ = ["fill_messages", "fill_record", "fill_wire", "pair"]
