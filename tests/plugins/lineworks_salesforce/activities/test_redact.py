"""lineworks_salesforce.activities.redact: pattern checks and replacement."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from lineworks_salesforce.activities.redact import (
    CARD_NUMBER_PATTERN,
    MAX_MATCHES,
    REDACTED,
    compile_patterns,
    redact_list,
    redact_series,
    redact_text,
)


def test_should_replace_every_match_of_every_pattern_in_order():
    patterns = compile_patterns([CARD_NUMBER_PATTERN, r"[\w.+-]+@[\w-]+\.[\w.]+"])
    text = "カード4111111111111111、連絡は hana@example.jp まで。4111 1111 1111 1111 も"
    assert redact_text(text, patterns) == f"カード{REDACTED}、連絡は {REDACTED} まで。{REDACTED} も"


@pytest.mark.parametrize(
    "text",
    ["4111111111111", "4111-1111-1111-1111", "4111 1111 1111 1111", "３７８２８２２４６３１０００５"],
)
def test_should_redact_card_numbers(text):
    assert redact_text(f"番号:{text}。", compile_patterns([CARD_NUMBER_PATTERN])) == f"番号:{REDACTED}。"


@pytest.mark.parametrize("text", ["03-1234-5678", "412345678901", "12345678901234567", "2025/05/30 09:05"])
def test_should_leave_other_numbers_alone(text):
    assert redact_text(text, compile_patterns([CARD_NUMBER_PATTERN])) == text


def test_should_redact_a_series_and_keep_missing_values():
    series = pd.Series(["a 4111111111111111", None, "b"])
    out = redact_series(series, compile_patterns([CARD_NUMBER_PATTERN]))
    assert out.iloc[0] == f"a {REDACTED}" and pd.isna(out.iloc[1]) and out.iloc[2] == "b"


@pytest.mark.parametrize(
    ("patterns", "message"), [(["("], "not a valid"), ([""], "non-empty"), (["a?"], "empty string")]
)
def test_should_refuse_unusable_patterns(patterns, message):
    with pytest.raises(ValueError, match=re.escape("redact_patterns[0]") + ".*" + message):
        compile_patterns(patterns)


# --- RE2: catastrophic patterns, unsupported constructs, limits --------------------------------

# Patterns known for catastrophic backtracking in Python's re (OWASP ReDoS examples, Russ Cox's
# a?{n}a{n}, ...). RE2 runs them in linear time: each is compiled and run on its attack string (a
# long run with a tail that makes it fail, on which re would hang) and on a short input that matches,
# and the result is checked. No timing here: benchmarks/bench_redact.py measures.
CATASTROPHIC = [
    (r"(a+)+$", "a" * 5_000 + "!", None),
    (r"(a+)+$", "xaaaa", f"x{REDACTED}"),
    (r"(a|aa)+$", "a" * 5_000 + "!", None),
    (r"(a|aa)+$", "baaa", f"b{REDACTED}"),
    (r"(a|a)+$", "a" * 5_000 + "!", None),
    (r"(a*)*b", "a" * 5_000, None),
    (r"(a*)*b", "aaab!", f"{REDACTED}!"),
    (r"(.*a){20}", "a" * 19, None),
    (r"(.*a){20}", "a" * 20 + "b", f"{REDACTED}b"),
    (r"^(([a-z])+.)+[A-Z]([a-z])+$", "a" * 5_000 + "!", None),
    (r"^(([a-z])+.)+[A-Z]([a-z])+$", "ab.Cd", REDACTED),
    (r"(x+x+)+y", "x" * 5_000, None),
    (r"(x+x+)+y", "zxxy", f"z{REDACTED}"),
    (r"(\w+\s?)+$", "ab " * 2_000 + "!", None),
    (r"(\w+\s?)+$", "あ ab cd", f"あ {REDACTED}"),
    (r"(?:a?){30}a{30}", "a" * 30, REDACTED),
    (r"(?:a?){30}a{30}", "a" * 29, None),
    (
        r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}[a-z]{2,3}$",
        "a" * 5_000 + "!",
        None,
    ),
    (
        r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}[a-z]{2,3}$",
        "hana@example.jp",
        REDACTED,
    ),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), CATASTROPHIC)
def test_should_run_catastrophic_patterns_in_linear_time_with_the_right_result(pattern, text, expected):
    assert redact_text(text, compile_patterns([pattern])) == (text if expected is None else expected)


@pytest.mark.parametrize("pattern", [r"([a-zA-Z]+)*$", r"(a*)*", r"(a|)+"])
def test_should_refuse_catastrophic_patterns_that_match_the_empty_string_naming_the_index(pattern):
    with pytest.raises(ValueError, match=re.escape("redact_patterns[1]") + " matches the empty string"):
        compile_patterns(["ok", pattern])


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(?<=秘密XYZ)\d+", "look-around"),
        (r"(?<!秘密XYZ)\d+", "look-around"),
        (r"秘密XYZ(?=\d)", "look-around"),
        (r"秘密XYZ(?!\d)", "look-around"),
        (r"(秘密XYZ)\1", "backreference"),
        (r"(?P<x>秘密XYZ)(?P=x)", "backreference"),
        (r"秘密XYZ++", "possessive"),
        (r"(?>秘密XYZ)", "atomic group"),
        (r"(?x)秘密XYZ", "flag"),
        (r"秘密XYZ\Z", r"\z"),
        (r"秘密XYZ{1001}", "1,000"),
        (r"\pL{1000}\pL{1000}秘密XYZ", "memory limit"),
    ],
)
def test_should_refuse_constructs_re2_does_not_support_naming_the_index_not_the_pattern(
    pattern, reason, capfd
):
    with pytest.raises(ValueError) as raised:
        compile_patterns([CARD_NUMBER_PATTERN, r"\d{4}", pattern])
    message = str(raised.value)
    assert message.startswith("redact_patterns[2] is not a valid RE2 regular expression: ")
    assert reason in message
    assert "秘密XYZ" not in message and pattern not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "秘密XYZ" not in "".join(capfd.readouterr())  # RE2 logs nothing


def test_should_refuse_patterns_over_the_limits():
    with pytest.raises(ValueError) as raised:
        compile_patterns(["a", r"\pL{100}秘密XYZ"])
    assert str(raised.value).startswith("redact_patterns[1] is too large: ")
    assert "RE2 instructions, more than 1,100" in str(raised.value) and "秘密XYZ" not in str(raised.value)
    for too_large in (
        r"\pL",
        r"[ab]*a[ab]{999}x|[ab]*b[ab]{999}y",
        r"(?:a?){1000}a{1000}",
        r"[ab]*a[ab]{560}x|[ab]*b[ab]{560}y",
    ):
        with pytest.raises(ValueError, match="more than 1,100"):
            compile_patterns([too_large])
    fits = [r"\p{Han}{5}", r"\p{Hiragana}+様", r"(?:a?){300}a{300}", r"[ab]*a[ab]{543}x|[ab]*b[ab]{543}y"]
    assert len(compile_patterns(fits)) == 4
    with pytest.raises(ValueError, match=re.escape("redact_patterns[1]: 1,001 characters, more than 1,000")):
        compile_patterns(["a", "a" * 1_001])
    assert len(compile_patterns(["a" * 1_000])) == 1
    assert len(compile_patterns([f"a{i}" for i in range(100)])) == 100
    with pytest.raises(ValueError, match=re.escape("redact_patterns: more than 100 patterns")):
        compile_patterns([f"a{i}" for i in range(101)])


def test_should_refuse_a_pattern_that_is_not_a_string():
    with pytest.raises(ValueError, match=re.escape("redact_patterns[0]: expected a non-empty")):
        compile_patterns([4111])


# --- full-width characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"\d{4}", "暗証番号は１２３４です", f"暗証番号は{REDACTED}です"),
        (r"\d+", "ＡＢ１２３４ＣＤ", f"ＡＢ{REDACTED}ＣＤ"),  # the text around a match is kept as written
        (r"[A-Z]{2}\d+", "ＡＢ１２３４ＣＤ", f"{REDACTED}ＣＤ"),
        (r"秘\s密", "秘\u3000密と秘 密", f"{REDACTED}と{REDACTED}"),
        (r"口座番号：\d+", "口座番号：１２３４、口座番号:5678", f"{REDACTED}、{REDACTED}"),
        (r"（写真）", "(写真) と （写真）", f"{REDACTED} と {REDACTED}"),
        (r"secret", "ｓｅｃｒｅｔ と secret", f"{REDACTED} と {REDACTED}"),
        (r"(?i)ＳＥＣＲＥＴ", "Secret", REDACTED),
        (r"[０-９]+", "12と３４", f"{REDACTED}と{REDACTED}"),
        (r"[a－z]+", "b－-", f"b{REDACTED}"),  # a full-width hyphen in a class is a literal, not a range
        (r"ａ{２}", "aa a{2}", f"aa {REDACTED}"),  # and a full-width brace is a literal too
        (r"\：", "a:b", f"a{REDACTED}b"),
        (r"\Q（.）\E", "(x) (.)", f"(x) {REDACTED}"),
        (r"(?P<ｎ>\d)\d", "１２", REDACTED),
        (r"\d", "٣", "٣"),  # other scripts' digits are not \d (they are \p{Nd})
        (r"\p{Nd}", "٣", REDACTED),
        (r"\w+様", "ｈａｎａ様 と 花子様", f"{REDACTED} と 花子様"),  # \w is ASCII: kanji are \p{Han}
        (r"\p{Han}+様", "ｈａｎａ様 と 花子様", f"ｈａｎａ様 と {REDACTED}"),
    ],
)
def test_should_match_full_width_characters_as_their_ascii_counterparts(pattern, text, expected):
    assert redact_text(text, compile_patterns([pattern])) == expected


def test_should_redact_texts_with_lone_surrogates_and_keep_them_elsewhere():
    patterns = compile_patterns([r"秘.密", r"\d+"])
    assert redact_text("秘\ud800密 \udc00 １２", patterns) == f"{REDACTED} \udc00 {REDACTED}"


def test_should_apply_patterns_in_order_each_on_the_text_the_previous_one_left():
    text = "１２3４ と 5"
    assert redact_text(text, compile_patterns([r"\d+", r"非表示\] と"])) == f"[{REDACTED} {REDACTED}"
    assert redact_text(text, compile_patterns([r"非表示\] と", r"\d+"])) == f"{REDACTED} と {REDACTED}"


# --- card numbers and the redact group ---------------------------------------------------------

# What CARD_NUMBER_PATTERN was with Python's re, before RE2 (look-arounds): the RE2 version must
# find exactly the same numbers.
LOOKAROUND_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,15}(?!\d)")


@pytest.mark.parametrize(
    "text",
    [
        "カード4111111111111111です",
        "4111111111111111 4111111111111111",
        "4111111111111111-4111111111111111",
        "4111111111111111,4111111111111111",
        "41111111111111112",
        "4111 1111 1111 1111 2",
        "4111-1111-1111-1111-2222",
        "4111  1111 1111 1111",
        "1234567890123\n1234567890123",
        "１２３４５６７８９０１２３４５６７",
        "番号４１１１ １１１１ １１１１ １１１１。",
        "4111111111111111",
        "a-4111111111111111-",
    ],
)
def test_should_find_the_card_numbers_the_look_around_pattern_found(text):
    assert redact_text(text, compile_patterns([CARD_NUMBER_PATTERN])) == LOOKAROUND_CARD.sub(REDACTED, text)


def test_should_find_the_same_card_numbers_as_the_look_around_pattern_on_random_texts():
    rng = random.Random(5)
    patterns = compile_patterns([CARD_NUMBER_PATTERN])
    for _ in range(3_000):
        text = "".join(rng.choice("0123456789０１ -x") for _ in range(rng.randint(0, 60)))
        assert redact_text(text, patterns) == LOOKAROUND_CARD.sub(REDACTED, text), text


def test_should_replace_only_the_redact_group_and_resume_after_it():
    patterns = compile_patterns(
        [r"会員番号[:：](?P<redact>\d+)", r"(?:^|[^0-9])(?P<redact>\d{3})(?:[^0-9]|$)"]
    )
    assert redact_text("会員番号：１２３４５ 123 456,789 1234", patterns) == (
        f"会員番号：{REDACTED} {REDACTED} {REDACTED},{REDACTED} 1234"
    )


def test_should_not_replace_empty_matches():
    assert redact_text("ab cd", compile_patterns([r"\b"])) == "ab cd"
    assert redact_text("x1x", compile_patterns([r"x(?P<redact>\d?)"])) == f"x{REDACTED}x"


def test_should_hide_the_rest_of_a_message_after_max_matches():
    patterns = compile_patterns(["x"])
    text = "ab " + "x," * (MAX_MATCHES + 5)
    assert redact_text(text, patterns) == "ab " + f"{REDACTED}," * MAX_MATCHES + REDACTED
    assert redact_text("x," * MAX_MATCHES, patterns) == f"{REDACTED}," * MAX_MATCHES


def test_should_do_nothing_without_patterns():
    texts = ["4111111111111111"]
    assert redact_list(texts, ()) is texts and redact_text(texts[0], ()) == texts[0]
    series = pd.Series(texts)
    assert redact_series(series, ()) is series


def test_should_keep_the_dtype_and_index_of_a_series():
    series = pd.Series(["a 4111111111111111", None, "b"], index=[3, 5, 7], dtype="string", name="text")
    out = redact_series(series, compile_patterns([CARD_NUMBER_PATTERN]))
    assert out.dtype == series.dtype and list(out.index) == [3, 5, 7] and out.name == "text"
    assert out.iloc[0] == f"a {REDACTED}" and pd.isna(out.iloc[1]) and out.iloc[2] == "b"


@pytest.mark.parametrize(
    "text",
    [
        "お見積もり、見積書",
        "見積見積",
        "見\ud800積 見積",
        "ＡＢ見積１２",
        "見積," * (MAX_MATCHES + 2),
        "なし",
    ],
)
def test_should_replace_a_plain_word_as_re2_would(text):
    (word,) = compile_patterns(["見積"])
    (regex,) = compile_patterns(["(?:見積)"])
    assert (word.literal, regex.literal) == ("見積", None)
    assert redact_text(text, (word,)) == redact_text(text, (regex,))
    assert (
        compile_patterns(["秘密ＸＹ"])[0].literal is None and compile_patterns(["secret"])[0].literal is None
    )
