"""talkrender.redact: pattern checks and replacement."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from talkrender.redact import CARD_NUMBER_PATTERN, REDACTED, compile_patterns, redact_series, redact_text


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
