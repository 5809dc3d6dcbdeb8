"""Record rules: conversation order, content, preference and KTO rules, quality warnings.

Every check takes a :class:`Context` (the record, its located turns, the profile) and
adds issues to it. Turn order is checked by one of three policies, picked by the
profile (see :data:`ORDER_POLICIES`):

- ``conversation`` (sftdata, openai): optional system first, then user -> assistant
  alternation; an assistant turn with tool calls is followed by one or more tool results,
  then the assistant again.
- ``pairs`` (TRL): optional system first, then strict user/assistant pairs.
- ``positions`` (LLaMA-Factory): after a leading system turn, user or tool results at
  even positions and the assistant at odd ones, and the count's parity fits the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Issue
from ..record import KTORecord, Message, PreferenceRecord, PretrainRecord, SFTRecord
from .profiles import OrderPolicy, Profile
from .rules import rule
from .view import Section, Turn


@dataclass
class Context:
    """What a check sees: the record, its located turns and the options in force."""

    record: Any
    turns: dict[Section, list[Turn]]
    profile: Profile
    max_chars: int = 100_000
    #: the per-example token limit of the ``openai`` profile, and the counter it uses
    max_tokens: int | None = None
    count_tokens: Callable[[str], int] | None = None
    base_dir: Path | None = None
    media_root: Path | None = None
    check_media: bool = True
    #: never open a media path outside ``base_dir`` and ``media_root`` (``--confine-media``)
    confine_media: bool = False
    #: wire path of the k-th media item of a modality (e.g. ``images[1]``), when the format has one
    media_field: Callable[[str, int], str] | None = None
    #: the row is a TRL prompt-only row (a prompt for online trainers, no answer by design)
    prompt_only: bool = False
    issues: list[Issue] = field(default_factory=list)

    def add(self, code: str, message: str, where: str | None) -> None:
        if self.profile.enabled(code):
            self.issues.append(Issue(code, message, field=where, severity=rule(code).severity))


def _short(path: str, prev: str) -> str:
    """``conversations[2]``, ``conversations[3]`` -> ``conversations[2], [3]`` (same list)."""
    head, _, _ = path.partition("[")
    if prev.startswith(head + "[") and path.startswith(head + "["):
        return f"{prev}, {path[len(head):]}"
    return f"{prev}, {path}"


def _state(m: Message) -> str:
    return "calls" if m.role == "assistant" and m.tool_calls else m.role


# -- order policies ----------------------------------------------------------------------
# state of the previous non-system turn -> roles that may come next
_NEXT: dict[str, frozenset[str]] = {
    "start": frozenset({"user"}),
    "user": frozenset({"assistant"}),
    "assistant": frozenset({"user"}),
    "calls": frozenset({"tool"}),
    "tool": frozenset({"tool", "assistant"}),
}


def _system_first(turns: list[Turn], ctx: Context) -> list[Turn]:
    rest = []
    for k, t in enumerate(turns):
        if t.message.role == "system":
            if k != 0:
                ctx.add("system-position", f"a system message at position {k}; only the first message may be a system message", t.role_path)
        else:
            rest.append(t)
    return rest


def _end(rest: list[Turn], end: str, ctx: Context, *, parity_only: bool = False) -> None:
    if not rest:
        ctx.add("empty-conversation", "no user or assistant turns", None)
        return
    last = rest[-1]
    if end == "assistant" and ctx.prompt_only and last.message.role == "user":
        ctx.add("prompt-only", "a prompt-only row: a prompt for online trainers (GRPO, RLOO), no answer for SFT/DPO/KTO to train on", last.path)
    elif end == "assistant":
        if not any(t.message.role == "assistant" for t in rest):
            ctx.add("no-assistant", "no assistant turn: nothing to train on", last.path)
        elif _state(last.message) != "assistant":
            what = "an assistant tool call with no answer" if _state(last.message) == "calls" else f"a {last.message.role} turn"
            ctx.add("last-turn", f"the conversation ends with {what}; it must end with the assistant's answer", last.role_path)
    elif last.message.role not in ("user", "tool"):
        ctx.add("last-turn", f"the prompt ends with a {last.message.role} turn; it must end with the user's request", last.role_path)


def _order_conversation(turns: list[Turn], end: str, ctx: Context) -> None:
    rest = _system_first(turns, ctx)
    state, prev = "start", None
    pending: set[str] = set()
    for t in rest:
        m = t.message
        if m.role == "tool":
            if state not in ("calls", "tool"):
                ctx.add("orphan-tool-result", "a tool result that does not follow an assistant's tool call", t.role_path)
            elif m.tool_call_id is not None and pending and m.tool_call_id not in pending:
                ctx.add("orphan-tool-result", f"tool result for call id {m.tool_call_id!r}, but the pending calls are {sorted(pending)}", t.path)
            pending.discard(m.tool_call_id or "")
        elif state == "start":
            if m.role != "user":
                ctx.add("first-turn", f"the first turn is {m.role}; the conversation must start with the user", t.role_path)
        elif m.role not in _NEXT[state]:
            assert prev is not None
            if m.role == prev.message.role:
                msg = f"two {m.role} turns in a row ({_short(t.path, prev.path)})"
            elif state == "calls":
                msg = f"an assistant tool call with no tool result before the {m.role} turn ({_short(t.path, prev.path)})"
            else:
                msg = f"a {m.role} turn right after a tool result; the assistant must answer first ({_short(t.path, prev.path)})"
            ctx.add("role-order", msg, t.role_path)
        if m.role == "assistant" and m.tool_calls:
            pending = {c.id for c in m.tool_calls if c.id}
        state, prev = _state(m), t
    _end(rest, end, ctx)


def _order_pairs(turns: list[Turn], end: str, ctx: Context) -> None:
    rest = _system_first(turns, ctx)
    for k, t in enumerate(rest):
        want = "user" if k % 2 == 0 else "assistant"
        if t.message.role in ("user", "assistant") and t.message.role != want:
            if k == 0:
                ctx.add("first-turn", f"the first turn is {t.message.role}; the conversation must start with the user", t.role_path)
            else:
                ctx.add("role-order", f"two {t.message.role} turns in a row ({_short(t.path, rest[k - 1].path)}); user and assistant must alternate", t.role_path)
            break
    _end(rest, end, ctx)


def _order_positions(turns: list[Turn], end: str, ctx: Context) -> None:
    rest = _system_first(turns, ctx)
    for k, t in enumerate(rest):
        side_user = t.message.role in ("user", "tool")
        if side_user != (k % 2 == 0):
            if k == 0:
                ctx.add("first-turn", f"the first turn is {t.message.role}; LLaMA-Factory needs a user (or observation) turn first", t.role_path)
            else:
                want = "a user or observation" if k % 2 == 0 else "an assistant or function_call"
                ctx.add("role-order", f"position {k} must be {want} turn for LLaMA-Factory, got {t.message.role} ({_short(t.path, rest[k - 1].path)})", t.role_path)
            return  # LLaMA-Factory drops the row at the first misplaced turn
    # With positions right, the parity of the count is the last turn's side.
    _end(rest, end, ctx)


ORDER_POLICIES: dict[OrderPolicy, Callable[[list[Turn], str, Context], None]] = {
    "conversation": _order_conversation,
    "pairs": _order_pairs,
    "positions": _order_positions,
}


# -- checks ------------------------------------------------------------------------------
def check_roles(ctx: Context) -> None:
    for turns in ctx.turns.values():
        for t in turns:
            if t.message.role not in ctx.profile.roles:
                ctx.add("role-not-allowed", f"role {t.message.role!r} is not accepted by the {ctx.profile.name} profile (allowed: {', '.join(sorted(ctx.profile.roles))})", t.role_path)


def check_order(ctx: Context) -> None:
    order = ORDER_POLICIES[ctx.profile.order]
    rec = ctx.record
    if isinstance(rec, SFTRecord):
        order(ctx.turns["messages"], "assistant", ctx)
    elif isinstance(rec, KTORecord):
        order(ctx.turns["prompt"] + ctx.turns["completion"], "assistant", ctx)
    elif isinstance(rec, PreferenceRecord):
        order(ctx.turns["prompt"], "user", ctx)


def _blank(m: Message) -> bool:
    return not m.text.strip() and not m.tool_calls and not m.media()


def check_content(ctx: Context) -> None:
    for section, turns in ctx.turns.items():
        for t in turns:
            m = t.message
            if section not in ("chosen", "rejected") and _blank(m):
                ctx.add("empty-content", f"empty {m.role} message" if not m.text else f"whitespace-only {m.role} message", t.content_path)
            elif m.text and m.text != m.text.strip():
                # trailing whitespace of a two-field content (instruction + input) is in the second
                end = t.where.content_end if m.text[-1].isspace() and not m.text[0].isspace() else None
                ctx.add("surrounding-whitespace", f"{m.role} content has leading or trailing whitespace", end or t.content_path)
            if m.weight is not None and m.weight not in (0, 1):
                ctx.add("invalid-weight", f"weight {m.weight} must be 0 or 1", t.path)
    if isinstance(ctx.record, PretrainRecord):
        text = ctx.record.text
        if not text.strip():
            ctx.add("empty-content", "empty text", "text")
        elif text != text.strip():
            ctx.add("surrounding-whitespace", "text has leading or trailing whitespace", "text")


def check_preference(ctx: Context) -> None:
    rec = ctx.record
    if not isinstance(rec, PreferenceRecord):
        return
    for section in ("chosen", "rejected"):
        turns = ctx.turns[section]  # type: ignore[index]
        if not turns or all(_blank(t.message) for t in turns):
            ctx.add("preference-empty", f"the {section} answer is empty", turns[0].content_path if turns else section)
        for t in turns:
            if t.message.role not in ("assistant", "tool"):
                ctx.add("preference-role", f"the {section} answer is a {t.message.role} message; it must be the assistant's", t.role_path)
    if rec.chosen == rec.rejected and rec.chosen:
        ctx.add("preference-identical", "chosen and rejected are identical", ctx.turns["chosen"][0].path)


def check_length(ctx: Context) -> None:
    rec = ctx.record
    if isinstance(rec, PretrainRecord):
        n = len(rec.text)
    else:
        n = sum(len(t.message.text) for turns in ctx.turns.values() for t in turns)
    if n > ctx.max_chars:
        ctx.add("long-record", f"{n:,} characters of text (limit {ctx.max_chars:,})", None)

