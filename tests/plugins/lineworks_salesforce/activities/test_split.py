"""Descriptions over the Task limit: parts, continuation headers, hard wraps, emoji safety."""

from __future__ import annotations

import random

import pytest

from lineworks_salesforce.activities import (
    CONTINUATION_HEADER,
    RenderSettings,
    render_activities,
    split_lines,
)
from lineworks_salesforce.salesforce_model.activity import DESCRIPTION_MAX
from tests.plugins.lineworks_salesforce.activities.helpers import FRIEND, REP, frame, msg, registered

PREFIX = f"09:05 {REP} → {FRIEND}: "
KEY = "LW-10000001-f1-2025053009"
FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # 7 code points, 11 UTF-16 units
FLAG = "🇯🇵"
THUMB = "👍🏽"
GA = "か\u3099"  # か + combining voiced mark


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render(rows, **settings):
    messages = frame(rows)
    return render_activities(messages, registered("f1"), RenderSettings(domain_id="10000001", **settings))


def one_message(text: str, **settings):
    return render([msg("k1", "2025-05-30T00:05:00Z", text)], **settings).records


def bodies(records) -> list[str]:
    """Descriptions without their continuation header line."""
    out = []
    for number, record in enumerate(records, start=1):
        text = record["Description"]
        if number > 1:
            header = CONTINUATION_HEADER.format(part=number, parts=len(records)) + "\n"
            assert text.startswith(header)
            text = text[len(header) :]
        out.append(text)
    return out


def test_should_keep_a_description_of_exactly_32000_characters_in_one_record():
    records = one_message("あ" * (DESCRIPTION_MAX - len(PREFIX)))
    assert len(records) == 1
    assert len(records[0]["Description"]) == DESCRIPTION_MAX
    assert records[0]["ActivityKey__c"] == KEY


def test_should_continue_a_description_of_32001_characters_in_a_second_part():
    text = "あ" * (DESCRIPTION_MAX + 1 - len(PREFIX))
    records = one_message(text)
    assert [r["ActivityKey__c"] for r in records] == [KEY, f"{KEY}-p2"]
    assert len(records[0]["Description"]) == DESCRIPTION_MAX
    assert records[1]["Description"] == "（続き 2/2）\nあ"
    assert "".join(bodies(records)) == PREFIX + text


def test_should_split_between_lines_when_the_lines_fit():
    first_text = "い" * 20_000
    second_text = "う" * (DESCRIPTION_MAX - 20_000 - 2 * len(PREFIX) - 1)  # joined: exactly 32,000
    rows = [msg("k1", "2025-05-30T00:05:00Z", first_text), msg("k2", "2025-05-30T00:05:30Z", second_text)]
    assert len(render(rows).records) == 1
    rows[1] = msg("k2", "2025-05-30T00:05:30Z", second_text + "う")  # 32,001
    records = render(rows).records
    assert [r["Description"] for r in records] == [
        PREFIX + first_text,
        f"（続き 2/2）\n{PREFIX}{second_text}う",
    ]
    assert [r["MessageCount__c"] for r in records] == [1, 1]
    assert [(r["FirstMessageAt__c"], r["LastMessageAt__c"]) for r in records] == [
        ("2025-05-30T00:05:00Z", "2025-05-30T00:05:00Z"),
        ("2025-05-30T00:05:30Z", "2025-05-30T00:05:30Z"),
    ]


def test_should_hard_wrap_a_100000_character_line_into_four_parts_without_losing_characters():
    text = "".join(random.Random(1).choice("あいうえおカキクケコ漢字abc123") for _ in range(100_000))
    records = one_message(text)
    assert [r["ActivityKey__c"] for r in records] == [KEY, f"{KEY}-p2", f"{KEY}-p3", f"{KEY}-p4"]
    assert all(len(r["Description"]) <= DESCRIPTION_MAX for r in records)
    assert [r["Description"].split("\n", 1)[0] for r in records[1:]] == [
        "（続き 2/4）",
        "（続き 3/4）",
        "（続き 4/4）",
    ]
    assert "".join(bodies(records)) == PREFIX + text
    assert [r["MessageCount__c"] for r in records] == [1, 0, 0, 0]
    assert {(r["FirstMessageAt__c"], r["LastMessageAt__c"]) for r in records} == {
        ("2025-05-30T00:05:00Z", "2025-05-30T00:05:00Z")
    }
    assert (
        len({(r["Subject"], r["WhatId"], r["WhoId"], r["ActivityDate"], r["Status"]) for r in records}) == 1
    )


def test_should_start_a_long_line_in_a_part_of_its_own_and_count_it_where_it_starts():
    rows = [
        msg("k1", "2025-05-30T00:01:00Z", "短い"),
        msg("k2", "2025-05-30T00:02:00Z", "長" * 50_000),
        msg("k3", "2025-05-30T00:03:00Z", "後"),
    ]
    records = render(rows).records
    assert len(records) == 3
    assert records[0]["Description"] == f"09:01 {REP} → {FRIEND}: 短い"
    assert records[1]["Description"].startswith(f"（続き 2/3）\n09:02 {REP}")
    assert records[2]["Description"].endswith(f"\n09:03 {REP} → {FRIEND}: 後")
    assert [r["MessageCount__c"] for r in records] == [1, 1, 1]
    assert [r["FirstMessageAt__c"][11:16] for r in records] == ["00:01", "00:02", "00:02"]
    assert [r["LastMessageAt__c"][11:16] for r in records] == ["00:01", "00:02", "00:03"]
    assert "\n".join(bodies(records)).replace("\n", "") == "".join(
        f"09:0{i} {REP} → {FRIEND}: {t}" for i, t in ((1, "短い"), (2, "長" * 50_000), (3, "後"))
    )


def test_should_wrap_a_long_multi_line_message_at_its_line_breaks():
    paragraphs = [f"{i:03d}" + "段落" * 490 for i in range(40)]  # 40 lines of 983 characters
    records = one_message("\n".join(paragraphs))
    assert len(records) == 2
    first, second = bodies(records)
    assert first.endswith(paragraphs[31])  # cut at a line break, not inside a paragraph
    assert second.startswith("　　" + paragraphs[32])
    assert first + "\n" + second == PREFIX + "\n　　".join(paragraphs)


@pytest.mark.parametrize(
    ("unit", "clusters"),
    [
        (FAMILY, [FAMILY]),
        (FLAG, [FLAG]),
        (THUMB, [THUMB]),
        (GA, [GA]),
        ("𠮟", ["𠮟"]),
        ("a" + FAMILY, ["a", FAMILY]),
        ("x" + FLAG + FLAG, ["x", FLAG]),
    ],
)
def test_should_never_cut_inside_an_emoji_or_a_combined_character(unit, clusters):
    text = unit * (40_000 // u16(unit))
    records = one_message(text)
    assert len(records) >= 2
    pieces = bodies(records)
    assert "".join(pieces) == PREFIX + text
    assert all(u16(r["Description"]) <= DESCRIPTION_MAX for r in records)
    for piece in [pieces[0][len(PREFIX) :], *pieces[1:]]:
        assert piece.startswith(tuple(clusters)) and piece.endswith(tuple(clusters))
        rest = piece
        while rest:  # the piece is a sequence of whole clusters
            rest = next(rest[len(c) :] for c in clusters if rest.startswith(c))


def test_should_count_surrogate_pairs_as_two_characters_like_salesforce():
    text = "𠮟" * ((DESCRIPTION_MAX - len(PREFIX)) // 2)  # exactly 32,000 UTF-16 units with the prefix
    assert len(one_message(text)) == 1
    records = one_message(text + "𠮟")  # 32,002 units, only 16,019 code points
    assert len(records) == 2
    assert all(u16(r["Description"]) <= DESCRIPTION_MAX for r in records)


def test_should_number_parts_past_nine_within_the_limit():
    lines = [f"{i:02d} " + "x" * 50 for i in range(60)]
    parts = split_lines(lines, 64)
    assert len(parts) == 60
    assert parts[9].text.startswith("（続き 10/60）\n")
    assert all(len(p.text) <= 64 for p in parts)
    assert [p.count for p in parts] == [1] * 60


@pytest.mark.parametrize("max_len", [64, 100, 333, 5_000, DESCRIPTION_MAX])
def test_should_respect_the_limit_and_keep_every_character_for_random_lines(max_len):
    rng = random.Random(max_len)
    alphabet = ["a", "あ", "漢", "𠮟", FAMILY, FLAG, THUMB, GA, "\n　　", " "]
    for _ in range(20):
        lines = [
            "".join(
                rng.choice(alphabet)
                for _ in range(rng.choice([1, 5, 40, max_len // 3, max_len, 3 * max_len]))
            )
            for _ in range(rng.randint(1, 12))
        ]
        parts = split_lines(lines, max_len)
        assert all(u16(p.text) <= max_len for p in parts)
        assert sum(p.count for p in parts) == len(lines)
        assert all(0 <= p.first <= p.last < len(lines) for p in parts)
        assert [p.first for p in parts] == sorted(p.first for p in parts)
        texts = [
            p.text
            if n == 1
            else p.text.removeprefix(CONTINUATION_HEADER.format(part=n, parts=len(parts)) + "\n")
            for n, p in enumerate(parts, start=1)
        ]
        # A part boundary either replaces a line break or falls inside a line: nothing else is lost.
        assert "".join(texts).replace("\n", "") == "".join(lines).replace("\n", "")
        assert "".join(texts).count("\n") + len(parts) - 1 >= "\n".join(lines).count("\n")


def test_should_keep_every_description_within_the_limit_with_a_smaller_setting():
    rows = [msg(f"k{i}", f"2025-05-30T00:{i:02d}:00Z", "本文" * (i * 7)) for i in range(60)]
    records = render(rows, max_description=500).records
    assert len(records) > 10
    assert all(len(r["Description"]) <= 500 for r in records)
    assert sum(r["MessageCount__c"] for r in records) == 60
    assert records[-1]["ActivityKey__c"] == f"{KEY}-p{len(records)}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{friend} {date} {hour}時 ({part})", ["f1 2025/05/30 09時 (1)", "f1 2025/05/30 09時 (2)"]),
        ("{friend} {date} {hour}時", ["f1 2025/05/30 09時", "f1 2025/05/30 09時"]),
        ("LINE WORKSログ", ["LINE WORKSログ", "LINE WORKSログ"]),
    ],
)
def test_should_give_every_part_the_hour_s_subject_numbered_only_with_part(template, expected):
    records = one_message("あ" * DESCRIPTION_MAX, subject_template=template)
    assert [r["Subject"] for r in records] == expected


def test_should_refuse_an_activity_key_longer_than_salesforce_takes():
    long_id = "f" * 100
    with pytest.raises(
        ValueError, match=rf"'LW-10000001-{long_id}-2025053009' is longer than 100 characters"
    ):
        render_activities(
            frame([msg("k1", "2025-05-30T00:05:00Z", contact=long_id)]),
            registered(long_id),
            RenderSettings(domain_id="10000001"),
        )
    # a key that fits only without its part suffix: the hour's second part is refused
    fits = "f" * (100 - len("LW-10000001--2025053009"))
    with pytest.raises(ValueError, match=r"-p2' is longer"):
        render_activities(
            frame([msg("k1", "2025-05-30T00:05:00Z", "あ" * DESCRIPTION_MAX, contact=fits)]),
            registered(fits),
            RenderSettings(domain_id="10000001"),
        )
    assert render_activities(
        frame([msg("k1", "2025-05-30T00:05:00Z", contact=fits)]),
        registered(fits),
        RenderSettings(domain_id="10000001"),
    ).payloads
