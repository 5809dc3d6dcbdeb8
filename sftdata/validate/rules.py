"""The rule catalogue: every issue ``sftdata validate`` can report.

Each rule has a stable kebab-case code (never renamed: CI pipelines match on it), a
default severity, a category, a one-line explanation and a remedy. ``docs/rules.md`` is
generated from this table (``python -m sftdata.validate.docs --write``) and a test fails
when it is stale.

>>> RULES["role-order"].severity
'error'
>>> rule("unknown-field").category
'structure'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import Severity

Category = Literal["structure", "conversation", "tools", "multimodal", "preference", "kto", "quality"]
CATEGORIES: tuple[Category, ...] = get_args(Category)

RuleCode = Literal[
    # structure
    "invalid-json",
    "wrong-type",
    "missing-field",
    "unknown-field",
    "empty-file",
    "mixed-formats",
    "unknown-part",
    "empty-cell",
    # conversation
    "empty-conversation",
    "empty-prompt",
    "unknown-role",
    "role-not-allowed",
    "system-position",
    "first-turn",
    "role-order",
    "last-turn",
    "no-assistant",
    "prompt-only",
    "empty-content",
    "invalid-weight",
    # tools
    "invalid-tool-call",
    "tool-arguments-json",
    "undeclared-tool",
    "tool-arguments-schema",
    "orphan-tool-result",
    # multimodal
    "media-count",
    "media-missing",
    "media-unreadable",
    # preference
    "preference-empty",
    "preference-role",
    "preference-identical",
    # kto
    "kto-label",
    "duplicate-key",
    "too-long",
    "kto-single-label",
    # quality warnings
    "duplicate-record",
    "long-record",
    "surrounding-whitespace",
]
RULE_CODES: tuple[RuleCode, ...] = get_args(RuleCode)


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of the catalogue."""

    code: RuleCode
    severity: Severity
    category: Category
    summary: str
    remedy: str
    #: ``file`` rules are reported once per file, not per record.
    scope: Literal["record", "file"] = "record"
    #: a warning that ``--strict`` turns into an error
    strict_error: bool = False


def _r(code: RuleCode, severity: Severity, category: Category, summary: str, remedy: str, scope: Literal["record", "file"] = "record", strict_error: bool = False) -> Rule:
    return Rule(code, severity, category, summary, remedy, scope, strict_error)


_CATALOGUE: tuple[Rule, ...] = (
    _r("invalid-json", "error", "structure", "A line (or the whole .json file) is not valid JSON.",
       "Fix the quoting or commas on that line, or delete it; `--rejects FILE` sets such lines aside."),
    _r("wrong-type", "error", "structure", "A value has the wrong JSON type (e.g. a turn that is not an object, content that is not a string).",
       "Give the field the type the format expects; `sftdata schema FORMAT` prints it."),
    _r("missing-field", "error", "structure", "A required field is absent (e.g. no `conversations`, a preference record without `rejected`).",
       "Add the field, or pick the right format with `--from`."),
    _r("duplicate-key", "warning", "structure", "A JSON object repeats a key; readers keep the last value silently (HF `datasets` refuses a top-level repeat and turns a nested one into extra rows). An error with `--strict` and under the `openai`, `llamafactory` and `trl` profiles.",
       "Keep one of the two values and delete the other key.", strict_error=True),
    _r("too-long", "error", "structure", "A line (or .json element) above the --max-line-bytes cap (64 MiB by default); it is not parsed, so memory stays bounded.",
       "Raise --max-line-bytes if the record is real, or remove the line."),
    _r("unknown-field", "warning", "structure", "A field the format does not define; trainers ignore it. An error with `--strict` and under the `openai` profile.",
       "Remove or rename it; if it is a column mapping, describe it with a LLaMA-Factory dataset_info entry.", strict_error=True),
    _r("empty-file", "error", "structure", "The file holds no records.", "Check the path and that the file was fully written.", "file"),
    _r("mixed-formats", "error", "structure", "A record is spelled in a different format than the rest of the file.",
       "Convert the odd records (`sftdata convert`) or split the file by format."),
    _r("unknown-part", "error", "structure", "A content part of a type the format does not know (OpenAI parts: text, image_url, input_audio, ...).",
       "Use a known part type, or put the text in a text part."),
    _r("empty-cell", "error", "structure", "A spreadsheet cell that a mapped column needs is empty.", "Fill the cell or drop the row."),
    _r("empty-prompt", "error", "conversation", "A record whose question is empty (no instruction and no input).", "Fill in the question or drop the row."),
    _r("empty-conversation", "error", "conversation", "A record has no messages at all.", "Drop the record or fill in the conversation."),
    _r("unknown-role", "error", "conversation", "A turn's role is not one the format knows; the closest known role is suggested.",
       "Use one of the format's role names; `--fix` maps common aliases (human/gpt/bot/...)."),
    _r("role-not-allowed", "error", "conversation", "A known role that the chosen profile's trainer does not accept (e.g. `tool` for TRL's SFT format).",
       "Remove those turns or validate with a profile whose trainer supports them."),
    _r("system-position", "error", "conversation", "A system message that is not the first message.",
       "Move the instructions into the first (system) message or into a user turn."),
    _r("first-turn", "error", "conversation", "The first non-system turn is not a user turn.",
       "Start the conversation with the user's request; drop a leading assistant greeting or move it into the system prompt."),
    _r("role-order", "error", "conversation", "Turns do not alternate user/assistant (tool turns are allowed only right after an assistant's tool calls).",
       "Merge consecutive turns of the same role, or insert the missing turn."),
    _r("last-turn", "error", "conversation", "A conversation that does not end where its kind needs: SFT and KTO with an assistant answer, a preference prompt with a user turn.",
       "Drop the trailing unanswered turn or add the assistant's answer (for preference data, end the prompt with the user's request)."),
    _r("no-assistant", "error", "conversation", "A conversation without any assistant turn: nothing to train on.", "Add the assistant's answer or drop the record."),
    _r("prompt-only", "error", "conversation", "A TRL prompt-only row (`prompt` and no `completion`): a prompt for TRL's online trainers "
       "(GRPOTrainer, RLOOTrainer, online DPO), which generate and score the answers themselves. SFT, DPO and KTO trainers "
       "have no answer to learn from it. A warning with the `trl` profile, an error with the others.",
       "Train it with GRPO/RLOO; for SFT add the answer as `completion` (or use `messages`), for DPO add `chosen`/`rejected`."),
    _r("empty-content", "error", "conversation", "A message whose content is empty or whitespace only (and has no media or tool calls).",
       "Fill in the content or drop the turn."),
    _r("invalid-weight", "error", "conversation", "A message weight other than 0 or 1; only the `openai` profile checks it (the OpenAI fine-tuning API accepts only these).",
       "Use weight 0 (do not train on this turn) or 1."),
    _r("invalid-tool-call", "error", "tools", "A function call that is not a JSON object with a string `name`.",
       "Spell each call as {\"name\": ..., \"arguments\": {...}}."),
    _r("tool-arguments-json", "error", "tools", "Tool-call arguments that are not valid JSON, or not a JSON object.",
       "Make `arguments` a JSON object (or a string holding one)."),
    _r("undeclared-tool", "error", "tools", "A call to a function that the record's `tools` do not declare.",
       "Declare the function in `tools`, or fix the called name."),
    _r("tool-arguments-schema", "warning", "tools", "Tool-call arguments that do not match the declared JSON Schema (required, types, enums). "
       "A warning because trainers do not enforce schemas (the model still learns the wrong call); an error with `--strict`.",
       "Fix the arguments or the tool's `parameters` schema.", strict_error=True),
    _r("orphan-tool-result", "error", "tools", "A tool result that does not follow a tool call, or whose call id matches no pending call.",
       "Put each tool result right after the assistant turn that made the call, with the call's id."),
    _r("media-count", "error", "multimodal", "The number of <image>/<video>/<audio> placeholders differs from the number of media items.",
       "Add or remove placeholders so each media item has exactly one, in order."),
    _r("media-missing", "error", "multimodal", "A media file that does not exist (paths are relative to the dataset file, or to `--media-root`).",
       "Fix the path, copy the file, or pass `--media-root DIR`."),
    _r("media-unreadable", "error", "multimodal", "An image file that exists but does not decode (checked when Pillow is installed).",
       "Re-export the image, or drop the record."),
    _r("preference-empty", "error", "preference", "A chosen or rejected answer that is empty.", "Fill in both answers or drop the pair."),
    _r("preference-role", "error", "preference", "A chosen or rejected answer that is not an assistant message.",
       "Both answers must be the assistant's; the prompt holds the user turns."),
    _r("preference-identical", "error", "preference", "Chosen and rejected are the same: the pair teaches nothing.", "Drop the pair or fix one side."),
    _r("kto-label", "error", "kto", "A KTO label that is not a JSON boolean (the string \"true\" is not accepted: trainers silently treat such rows as SFT).",
       "Write true or false without quotes; `--fix` converts \"true\"/\"false\" strings."),
    _r("kto-single-label", "warning", "kto", "Every KTO record in the file has the same label; KTO needs desirable and undesirable examples.",
       "Add records with the other label.", "file"),
    _r("duplicate-record", "warning", "quality", "The same record as an earlier one (byte-identical line, or identical JSON for other files).",
       "Deduplicate with `sftdata dedup` or drop the copies."),
    _r("long-record", "warning", "quality", "A record longer than the limit (100,000 characters by default); trainers truncate it.",
       "Split the conversation, or raise the limit with `--max-chars`."),
    _r("surrounding-whitespace", "warning", "quality", "Content with leading or trailing whitespace, which becomes tokens the model learns.",
       "Trim it; `--fix` does."),
)

RULES: dict[RuleCode, Rule] = {r.code: r for r in _CATALOGUE}


def rule(code: str) -> Rule:
    """Look a rule up by code; an unknown code (from a third-party format) is an error rule."""
    found = RULES.get(code)  # type: ignore[call-overload]
    if found is not None:
        return found
    return Rule(code, "error", "structure", "Reported by the format decoder.", "See the message.")  # type: ignore[arg-type]


__all__ = ["CATEGORIES", "RULES", "RULE_CODES", "Category", "Rule", "RuleCode", "rule"]
