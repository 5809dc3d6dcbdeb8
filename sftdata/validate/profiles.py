"""Profiles: which rules apply, and how, so that "valid" means "this trainer uses every row".

=============  ==========================================================================
profile        what it reproduces
=============  ==========================================================================
sftdata        every rule (the default): the strictest reading of a dataset
trl            TRL's dataset rules: roles system/user/assistant only, system only first,
               user and assistant alternating in pairs (at least one), or one ``text``
llamafactory   LLaMA-Factory's converter: user/observation at even positions and
               assistant/function_call at odd ones, message-count parity, boolean
               ``kto_tag``, media counts, ``tools`` as a JSON string
openai         the OpenAI fine-tuning checks: known keys only, known roles, content
               present, an assistant message per example, weights 0 or 1
=============  ==========================================================================

>>> sorted(get_profile("trl").roles)
['assistant', 'system', 'user']
>>> get_profile("llamafactry")
Traceback (most recent call last):
...
sftdata.errors.UsageError: [usage] unknown profile 'llamafactry'. Did you mean 'llamafactory'? Known profiles: llamafactory, openai, sftdata, trl.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from ..errors import Severity, UsageError
from ..record import ROLES, Role
from .rules import RuleCode, rule

#: How turn order is checked (see :mod:`sftdata.validate.checks`).
OrderPolicy = Literal["conversation", "pairs", "positions"]
#: Extra checks on the raw row that only some trainers need.
RowCheck = Literal["tools-string"]


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    order: OrderPolicy = "conversation"
    roles: frozenset[Role] = frozenset(ROLES)
    disabled: frozenset[RuleCode] = frozenset()
    severity: tuple[tuple[RuleCode, Severity], ...] = ()
    row_checks: tuple[RowCheck, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def enabled(self, code: str) -> bool:
        return code not in self.disabled

    def severity_of(self, code: str, default: Severity, strict: bool = False) -> Severity:
        if strict and rule(code).strict_error:
            return "error"
        return dict(self.severity).get(code, default)  # type: ignore[call-overload, no-any-return]


_TOOL_SEMANTICS: frozenset[RuleCode] = frozenset({"undeclared-tool", "tool-arguments-schema", "orphan-tool-result"})

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        # Fractional weights are a feature of sftdata's own trainer, so only OpenAI rejects them.
        Profile("sftdata", "Every rule (except the OpenAI-only weight rule): the strictest reading of the dataset.", disabled=frozenset({"invalid-weight"})),
        Profile(
            "trl",
            "TRL: messages of system/user/assistant, system only first, user/assistant pairs; or one non-empty text. Prompt-only rows (GRPO, RLOO) are a warning.",
            order="pairs",
            roles=frozenset({"system", "user", "assistant"}),
            disabled=frozenset({"invalid-weight"}),
            # prompt-only rows are GRPO/RLOO datasets: worth a word, not a rejection
            severity=(("prompt-only", "warning"), ("duplicate-key", "error")),
        ),
        Profile(
            "llamafactory",
            "LLaMA-Factory: role positions, message-count parity, boolean kto_tag, media counts, tools as a JSON string.",
            order="positions",
            # LLaMA-Factory does not look inside tool calls beyond parsing them as JSON.
            disabled=_TOOL_SEMANTICS | {"invalid-weight"},
            row_checks=("tools-string",),
            severity=(("duplicate-key", "error"),),
        ),
        Profile(
            "openai",
            "OpenAI fine-tuning: known keys only, known roles, content present, an assistant message per example.",
            severity=(("unknown-field", "error"), ("duplicate-key", "error")),
        ),
    )
}


def get_profile(name: str | Profile) -> Profile:
    """A profile by name, with a "did you mean" on a miss."""
    if isinstance(name, Profile):
        return name
    found = PROFILES.get(name.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(name, list(PROFILES), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(f"unknown profile '{name}'.{hint} Known profiles: {', '.join(sorted(PROFILES))}.")


__all__ = ["PROFILES", "OrderPolicy", "Profile", "get_profile"]
