"""Properties every format must hold.

- round trip: ``decode(encode(r)) == r`` for every record the format can carry, with an
  empty loss list (what a format cannot carry is kept out of its strategy and listed in
  its ``cannot_carry``);
- nothing lost: on random rows spelled with the format's own column names, ``decode``
  either returns a record or raises :class:`RecordError` (counted as a reject), so
  ``rows in == records out + rejected``.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Carry, raw_rows, records

from sftdata.errors import RecordError
from sftdata.formats import get_format

ALL = ("sft", "preference", "kto", "pretrain")
MEDIA = ("image", "video", "audio")

# format -> (what it carries, kinds, column names for random rows)
CASES: dict[str, tuple[Carry, tuple[str, ...], list[str]]] = {
    "alpaca": (
        Carry(media=MEDIA, tools=True),
        ALL,
        ["instruction", "input", "output", "history", "system", "chosen", "rejected", "kto_tag", "label", "text", "images", "tools"],
    ),
    "llamafactory-v1": (
        # loss_weight round trips are in test_llamafactory_v1.py (0.0 on a user turn is the default)
        Carry(media=MEDIA, tools=True, tool_calls=True, call_text=True, reasoning=True, multi_branch=True),
        ("sft", "preference"),
        ["messages", "chosen_messages", "rejected_messages", "tools", "extra_info"],
    ),
    "openai": (
        Carry(media=MEDIA, tools=True, tool_calls=True, call_ids=True, call_text=True, reasoning=True, train_flags=True),
        ("sft", "preference", "kto"),
        ["messages", "tools", "chosen", "rejected", "label", "kto_tag", "images"],
    ),
    "openai-preference": (
        Carry(media=MEDIA, tools=True, tool_calls=True, call_ids=True, call_text=True, reasoning=True, train_flags=True, multi_branch=True),
        ("preference",),
        ["input", "preferred_output", "non_preferred_output", "images"],
    ),
    "sharegpt": (
        Carry(media=MEDIA, tools=True, tool_calls=True),
        ("sft", "preference", "kto"),
        ["conversations", "system", "tools", "chosen", "rejected", "kto_tag", "images", "videos"],
    ),
    "trl": (
        Carry(media=MEDIA, tools=True, tool_calls=True, call_ids=True, call_text=True, reasoning=True, multi_branch=True),
        ALL,
        ["text", "messages", "prompt", "completion", "chosen", "rejected", "label", "tools", "images"],
    ),
    "trl-standard": (
        Carry(system=False, max_pairs=1),
        ALL,
        ["text", "prompt", "completion", "chosen", "rejected", "label"],
    ),
}

SETTINGS = settings(max_examples=int(__import__("os").environ.get("SFTDATA_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name: str) -> None:
    fmt = get_format(name)
    carry, kinds, _ = CASES[name]

    @SETTINGS
    @given(records(carry, kinds))
    def check(record) -> None:  # type: ignore[no-untyped-def]
        before = copy.deepcopy(record)
        row, lost = fmt.encode(record)
        assert lost == []
        assert record == before  # encoding never mutates its input
        snapshot = copy.deepcopy(row)
        back = fmt.decode(row)
        assert back == record
        assert row == snapshot  # decoding never mutates its input
        # parts built without re-validation (model_construct) equal validated ones
        assert type(back).model_validate(back.model_dump()) == back

    check()


@pytest.mark.parametrize("name", sorted(CASES))
def test_random_rows_decode_or_reject(name: str) -> None:
    fmt = get_format(name)
    keys = CASES[name][2]

    @SETTINGS
    @given(st.lists(raw_rows(keys), max_size=5))
    def check(rows) -> None:  # type: ignore[no-untyped-def]
        out = rejected = 0
        for row in rows:
            try:
                fmt.decode(row)
                out += 1
            except RecordError as err:
                assert err.issues
                rejected += 1
        assert out + rejected == len(rows)

    check()


RICH = Carry(media=MEDIA, tools=True, tool_calls=True, call_ids=True, call_text=True, reasoning=True, train_flags=True, multi_branch=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_loss_is_declared_in_cannot_carry(name: str) -> None:
    """The loss report speaks the same names as `sftdata formats`."""
    fmt = get_format(name)

    @SETTINGS
    @given(records(RICH, fmt.kinds))
    def check(record) -> None:  # type: ignore[no-untyped-def]
        _, lost = fmt.encode(record)
        assert set(lost) <= set(fmt.cannot_carry)

    check()
