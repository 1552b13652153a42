"""Redaction of talk text before it is rendered into a Salesforce activity.

Patterns are Python :mod:`re` regular expressions (so ``\\d`` also matches full-width digits such as
``１２３４``, which Japanese users type). Each match is replaced by :data:`REDACTED`. Patterns are
applied one after another, in the order given, on the message text only (sender and recipient
labels are never touched), and before anything else: a pattern sees the talk cell as parsed, before
content markers such as ``(写真)`` are rewritten.

.. code-block:: python

    from talkrender.redact import CARD_NUMBER_PATTERN, compile_patterns, redact_text

    patterns = compile_patterns([CARD_NUMBER_PATTERN])
    redact_text("カード 4111 1111 1111 1111 です", patterns)  # "カード [非表示] です"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd

REDACTED = "[非表示]"
# A card number: 13 to 16 digits, optionally separated by single spaces or hyphens, not inside a
# longer run of digits. Digit look-arounds instead of ``\b``: in Japanese text a number is often
# written right after kana or kanji (``カード4111111111111111``), which ``\b`` (Unicode word
# boundary) does not separate from the digits.
CARD_NUMBER_PATTERN = r"(?<!\d)\d(?:[ -]?\d){12,15}(?!\d)"


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Compile redaction patterns; a ``ValueError`` names the pattern that is unusable.

    A pattern that matches the empty string is refused: it would put :data:`REDACTED` between
    every two characters of every message.
    """
    compiled = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"redact_patterns[{index}]: expected a non-empty regular expression string")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"redact_patterns[{index}] {pattern!r} is not a valid regular expression: {exc}")
        if regex.fullmatch(""):
            raise ValueError(f"redact_patterns[{index}] {pattern!r} matches the empty string")
        compiled.append(regex)
    return tuple(compiled)


def redact_text(text: str, patterns: Sequence[re.Pattern[str]]) -> str:
    """``text`` with every match of every pattern replaced by :data:`REDACTED`."""
    for regex in patterns:
        text = regex.sub(REDACTED, text)
    return text


def redact_series(texts: pd.Series, patterns: Sequence[re.Pattern[str]]) -> pd.Series:
    """:func:`redact_text` over a Series of strings (missing values stay missing)."""
    for regex in patterns:
        texts = texts.str.replace(regex, REDACTED, regex=True)
    return texts
