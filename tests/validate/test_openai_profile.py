"""The openai profile rejects what OpenAI's fine-tuning API rejects, and only it does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sftdata
from sftdata.validate.profiles import OPENAI_ONLY, PROFILES

ROWS = [
    # 1: weight on a user turn, a tool result without tool_call_id, an image in the answer
    {"messages": [
        {"role": "user", "content": "Weather?", "weight": 1},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "content": "20"},
        {"role": "assistant", "content": [{"type": "text", "text": "Sunny."}, {"type": "image_url", "image_url": {"url": "https://x.org/sun.png"}}]},
    ], "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]},
    # 2: a local image path and a video part
    {"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "img/1.jpg"}}, {"type": "video_url", "video_url": {"url": "https://x.org/v.mp4"}}, {"type": "text", "text": "What?"}]},
        {"role": "assistant", "content": "A clip."},
    ]},
    # 3: what OpenAI accepts: an image URL, a data URI, weight on the assistant
    {"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}, {"type": "text", "text": "Same?"}]},
        {"role": "assistant", "content": "Yes.", "weight": 1},
    ]},
    # 4: a long example (4 x 3,000 words)
    {"messages": [{"role": "user", "content": "word " * 2999 + "word"}, {"role": "assistant", "content": "ok " * 2999 + "ok"}]},
]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    p = tmp_path / "oa.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return p


def _issues(report):  # type: ignore[no-untyped-def]
    """(line, code, field) of every issue (at most 10 locations per rule are kept)."""
    return sorted((loc.line, code, loc.field) for code, stat in report.rules.items() for loc in stat.first)


def test_openai_profile_rejects_what_the_api_rejects(data: Path) -> None:
    report = sftdata.validate(data, "openai", check_media=False, max_tokens=5000, locations=10)
    assert _issues(report) == [
        (1, "image-in-assistant", "messages[3].content"),
        (1, "tool-call-id-missing", "messages[2]"),
        (1, "weight-role", "messages[0]"),
        (2, "image-url-local", "messages[0].content"),
        (2, "media-type-unsupported", "messages[0].content"),
        (4, "long-example-tokens", None),
    ]
    assert (report.total, report.valid, report.rejected) == (4, 2, 2)  # the token limit is a warning


def test_token_limit_is_the_users(data: Path) -> None:
    report = sftdata.validate(data, "openai", check_media=False)  # default 65,536: row 4 fits
    assert "long-example-tokens" not in {code for _, code, _ in _issues(report)}
    small = sftdata.validate(data, "openai", check_media=False, max_tokens=10, locations=10)
    assert {line for line, code, _ in _issues(small) if code == "long-example-tokens"} == {1, 4}  # 2 and 3 hold under 10 bytes of text


@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"openai"}))
def test_other_profiles_do_not_apply_openai_rules(data: Path, profile: str) -> None:
    report = sftdata.validate(data, profile, check_media=False, max_tokens=10)
    assert {code for _, code, _ in _issues(report)} & OPENAI_ONLY == set()
