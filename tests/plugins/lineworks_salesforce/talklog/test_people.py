"""Person cells: members, bots, LINE users; recipients split by a separator."""

from __future__ import annotations

import pytest

from lineworks_salesforce.talklog.people import Person, parse_person, parse_recipients, split_recipients


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("山田 太郎 (Taro.Yamada@Example.com)", Person("member", "山田 太郎", "taro.yamada@example.com")),
        ("太郎(taro@xxx.co.jp)", Person("member", "太郎", "taro@xxx.co.jp")),
        ("山田太郎（Taro@Example.com）", Person("member", "山田太郎", "taro@example.com")),
        ("Taro <taro@example.com>", Person("member", "Taro", "taro@example.com")),
        ("田中 (営業) (tanaka@example.com)", Person("member", "田中 (営業)", "tanaka@example.com")),
        (" USER@EXAMPLE.COM ", Person("member", "", "user@example.com")),
        ("(a@example.com)", Person("member", "", "a@example.com")),
        ("[Bot]社外連絡先Bot", Person("bot", "社外連絡先Bot")),
        ("[bot] test", Person("bot", "test")),
        ("[Bot]", Person("bot", "")),
        ("ﾀﾞｲｷ", Person("external", "ﾀﾞｲｷ")),
        ("山田\u3000花子", Person("external", "山田\u3000花子")),
        ('Yamada, "Ken"', Person("external", 'Yamada, "Ken"')),
        ("ken@home", Person("external", "ken@home")),  # no dot in the domain: a display name
        ("👨‍👩‍👧山田花子🌸", Person("external", "👨‍👩‍👧山田花子🌸")),
        ("田中 (営業)", Person("external", "田中 (営業)")),
    ],
)
def test_should_classify_person_cells(cell: str, expected: Person):
    assert parse_person(cell) == expected


@pytest.mark.parametrize("cell", ["", "   ", "\u3000"])
def test_should_refuse_an_empty_person_cell(cell: str):
    with pytest.raises(ValueError):
        parse_person(cell)


def test_should_split_recipients_and_keep_empty_cells_empty():
    assert split_recipients("a (a@x.com), ﾀﾞｲｷ, [Bot]b", ", ") == ["a (a@x.com)", "ﾀﾞｲｷ", "[Bot]b"]
    assert split_recipients("", ", ") == [] and split_recipients(None) == [] and split_recipients(" ") == []
    assert split_recipients("a@x.com;b@x.com", ";") == ["a@x.com", "b@x.com"]
    assert split_recipients("a, b", "") == ["a, b"]


def test_should_rejoin_display_names_that_contain_the_separator_when_known():
    cell = '山田 太郎 (t@x.com), Yamada, "Ken", けんちゃん'
    assert split_recipients(cell, ", ") == ["山田 太郎 (t@x.com)", "Yamada", '"Ken"', "けんちゃん"]
    known = {'Yamada, "Ken"', "けんちゃん"}
    assert split_recipients(cell, ", ", known) == ["山田 太郎 (t@x.com)", 'Yamada, "Ken"', "けんちゃん"]
    assert [p.kind for p in parse_recipients(cell, ", ", known)] == ["member", "external", "external"]
