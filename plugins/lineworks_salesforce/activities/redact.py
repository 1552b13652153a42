"""Redaction of talk text before it is rendered into a Salesforce activity.

Patterns are `RE2 <https://github.com/google/re2/wiki/Syntax>`_ regular expressions (the
``google-re2`` binding): matching takes time linear in the length of the text whatever the pattern,
so a setting such as ``(a+)+$`` cannot hang the build step as it would with Python's :mod:`re`.
Each match is replaced by :data:`REDACTED`. Patterns are applied one after another, in the order
given, on the message text only (sender and recipient labels are never touched), and before
anything else: a pattern sees the talk cell as parsed, before content markers such as ``(写真)`` are
rewritten.

.. code-block:: python

    from lineworks_salesforce.activities.redact import CARD_NUMBER_PATTERN, compile_patterns, redact_text

    patterns = compile_patterns([CARD_NUMBER_PATTERN])
    redact_text("カード 4111 1111 1111 1111 です", patterns)  # "カード [非表示] です"

**Full-width characters.** Japanese users type full-width digits and letters (``１２３４``,
``ＡＢＣ``, ``：``). Patterns are matched against a copy of the text in which every full-width ASCII
character (U+FF01–U+FF5E) is replaced by its ASCII counterpart and the ideographic space U+3000 by a
space; a full-width character written in a pattern stands for its ASCII counterpart in the same way.
Each replacement is one character for one, so a match in the copy covers the same characters of the
original text, and those are what is replaced: ``\\d`` matches ``１２３４``, ``\\s`` the ideographic
space, ``：`` and ``:`` both match either colon, and the text outside the matches is kept as written.
(Lone surrogates, which cannot be encoded, are seen as U+FFFD by the patterns.)

**Replacing part of a match.** RE2 has no look-around. A pattern with a group named ``redact``
replaces only what that group matched: the rest of the match is context that is kept, and matching
resumes right after the group, so the context after one match can be the context before the next.
:data:`CARD_NUMBER_PATTERN` uses that in place of ``(?<!\\d)…(?!\\d)``.

**Differences from Python's re** that matter when writing a pattern: look-around, backreferences
(``\\1``, ``(?P=name)``), possessive quantifiers and atomic groups are not supported, and neither are
the flags ``(?x)``, ``(?a)``, ``(?L)`` (``(?i)``, ``(?m)``, ``(?s)`` are); repetition counts are at
most 1,000; ``\\Z`` is written ``\\z``; ``$`` (without ``(?m)``) matches only at the very end, not
before a final line break; ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only (after the full-width
folding above): kana and kanji are ``\\p{Hiragana}``, ``\\p{Katakana}``, ``\\p{Han}`` (``\\pL``
compiles to more than :data:`MAX_PROGRAM_SIZE`), other scripts' digits ``\\p{Nd}``. A pattern RE2
refuses fails with an error naming its index in ``redact_patterns`` and the reason; the pattern
itself is never echoed (it may hold a fragment of what it is meant to hide).

**Limits**: at most :data:`MAX_PATTERNS` patterns of at most :data:`MAX_PATTERN_LENGTH` characters,
each within RE2's memory budget :data:`MAX_MEM` and :data:`MAX_PROGRAM_SIZE` instructions; at most
:data:`MAX_MATCHES` replacements per pattern per message, after which the rest of the message from
the next match on is one :data:`REDACTED`. ``benchmarks/bench_redact.py`` measures the worst cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import re2

REDACTED = "[非表示]"
# The group that, when a pattern has it, is the part of a match that is replaced.
REDACT_GROUP = "redact"
MAX_PATTERNS = 100
MAX_PATTERN_LENGTH = 1_000
# RE2's memory budget per pattern: its compiled programs and its DFA caches. A search whose DFA
# cache runs out falls back to RE2's NFA, still linear and correct but much slower; the caches grow
# only as searches need them (well under 1 MiB for usual patterns, 7-22 MiB for the worst cases of
# benchmarks/bench_redact.py). RE2's default, 8 MiB, is too little for its own textbook case
# ``(?:a?){1000}a{1000}`` (2.2 s per 100 KB message instead of 0.06 s). MAX_PATTERNS x MAX_MEM
# bounds what the patterns can hold in a worker; MAX_PROGRAM_SIZE keeps the programs small in it.
MAX_MEM = 32 << 20
# RE2 instructions per pattern (forward or reverse program). A search whose DFA gives up falls back to
# RE2's NFA, whose cost per character is bounded by the program's size: this cap is what bounds the
# worst case (``[ab]*a[ab]{999}x|[ab]*b[ab]{999}y``, 2,010 instructions: 1.2-1.4 s per 100 KB message on
# this machine; near the cap, 1,098 instructions: measured by benchmarks/bench_redact.py). Usual
# patterns are far below it (the card pattern 88, ``\p{Han}+`` 85, ``\d{4}-\d{4}`` 12); a large Unicode class
# is what reaches it (``\pL`` alone is 1,200: use ``\p{Han}``, ``\p{Hiragana}``, ``\p{Katakana}``).
MAX_PROGRAM_SIZE = 1_100
# Replacements per pattern per message. Each search is linear, but finding the next match can scan
# up to the end of the text (``x.*y|x`` on ``xxxx…``), so finding every one of n matches can take
# n x the text's length: past this many, the rest of the message, from the next match on, is
# replaced by a single REDACTED (more is hidden, never less, and the cost is bounded).
MAX_MATCHES = 1_000
# A card number: 13 to 16 digits, optionally separated by single spaces or hyphens, not inside a
# longer run of digits. The character before and after (or the start and end of the text) is
# matched as context and only the ``redact`` group is replaced, because RE2 has no look-around.
# A non-digit rather than ``\b``: in Japanese text a number is often written right after kana or
# kanji (``カード4111111111111111``), and it must be found there too.
CARD_NUMBER_PATTERN = r"(?:^|\D)(?P<redact>\d(?:[ -]?\d){12,15})(?:\D|$)"

_FULLWIDTH = {0x3000: 0x20, **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}}
# Text as matched: full-width ASCII folded, lone surrogates (not encodable as UTF-8) as U+FFFD.
_TEXT_FOLD = {**_FULLWIDTH, **dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)}
_NEEDS_FOLD = re.compile("[\u3000\uff01-\uff5e\ud800-\udfff]")

_TOO_LARGE = f"is too large for RE2's memory limit ({MAX_MEM >> 20} MiB): use smaller repetition counts"
# RE2's error codes (the part of its message before ": "; what follows is a piece of the pattern,
# never shown), with what they mean for someone coming from Python's re.
_REASONS = {
    "invalid perl operator": (
        "uses a construct RE2 does not support (look-around such as (?=...) or (?<!...), a named "
        "backreference (?P=name), an atomic group, a conditional, or a flag other than i, m, s, U)"
    ),
    "invalid escape sequence": (
        "uses an escape RE2 does not support (a backreference such as \\1, \\Z (write \\z), \\G, ...)"
    ),
    "bad repetition operator": "uses a possessive or doubled quantifier (such as a++ or a**)",
    "invalid repetition size": "repeats more than 1,000 times (nested repetitions count multiplied)",
    "pattern too large - compile failed": _TOO_LARGE,
    "pattern too large - reverse compile failed": _TOO_LARGE,
    "missing ]": "has an unclosed character class (missing ])",
    "missing )": "has an unclosed group (missing ))",
    "unexpected )": "has an unmatched )",
    "trailing \\": "ends with a backslash",
    "invalid character class": "has an invalid character class",
    "invalid character class range": "has an invalid character class range or an unknown \\p{...} name",
    "no argument for repetition operator": "has a repetition operator with nothing to repeat",
    "invalid named capture group": "has an invalid or repeated group name",
    "invalid UTF-8": "is not valid UTF-8",
}


@dataclass(frozen=True, slots=True)
class RedactPattern:
    """One compiled redaction pattern: the RE2 regex and the group whose matches are replaced."""

    regex: Any  # re2's compiled regex (the binding does not export its type)
    group: int  # 0 (the whole match) or the number of the group named ``redact``
    # The pattern itself when it is a plain word that folding cannot touch (no ASCII, full-width
    # or U+FFFD character, so no metacharacter either: ``見積``, ``社外秘``): replaced with
    # str.replace, which finds exactly what RE2 would, without a call into RE2 per message.
    literal: str | None = None


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_MEM
    options.log_errors = False  # RE2 would log the pattern it refuses to stderr
    return options


_OPTIONS = _options()


def _reason(exc: re2.error) -> str:
    """Why RE2 refused a pattern, from its error code alone (the rest of its message quotes the pattern)."""
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    code = str(message).split(": ", 1)[0]
    return _REASONS.get(code, "is refused by RE2")


def compile_patterns(patterns: Iterable[str]) -> tuple[RedactPattern, ...]:
    """Compile redaction patterns; a ``ValueError`` names the index of a pattern that is unusable.

    Refused: a pattern RE2 cannot compile (the reason is given, not the pattern), one longer than
    :data:`MAX_PATTERN_LENGTH` characters or compiled to more than :data:`MAX_PROGRAM_SIZE` RE2
    instructions, more than :data:`MAX_PATTERNS` patterns, and a pattern that matches the empty
    string (it would put :data:`REDACTED` between every two characters of every message).
    """
    compiled = []
    for index, pattern in enumerate(patterns):
        name = f"redact_patterns[{index}]"
        if index >= MAX_PATTERNS:
            raise ValueError(f"redact_patterns: more than {MAX_PATTERNS} patterns")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{name}: expected a non-empty regular expression string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(f"{name}: {len(pattern):,} characters, more than {MAX_PATTERN_LENGTH:,}")
        try:
            regex = re2.compile(_fold_pattern(pattern), _OPTIONS)
        except re2.error as exc:
            raise ValueError(f"{name} is not a valid RE2 regular expression: it {_reason(exc)}") from None
        except UnicodeEncodeError:
            raise ValueError(
                f"{name} is not a valid RE2 regular expression: it has a lone surrogate"
            ) from None
        size = max(regex.programsize, regex.reverseprogramsize)
        if size > MAX_PROGRAM_SIZE:
            re2.purge()  # drop the big program from re2's cache of compiled patterns
            raise ValueError(
                f"{name} is too large: {size:,} RE2 instructions, more than {MAX_PROGRAM_SIZE:,} "
                "(use smaller repetition counts, or a narrower class than \\pL where one is repeated)"
            )
        if regex.fullmatch("") is not None:
            raise ValueError(f"{name} matches the empty string")
        literal = (
            pattern
            if all(c > "\x7f" and ord(c) not in _FULLWIDTH and c != "\ufffd" for c in pattern)
            else None
        )
        compiled.append(RedactPattern(regex, regex.groupindex.get(REDACT_GROUP, 0), literal))
    return tuple(compiled)


def redact_text(text: str, patterns: Sequence[RedactPattern]) -> str:
    """``text`` with every match of every pattern replaced by :data:`REDACTED`."""
    return _redact(text, patterns) if patterns else text


def redact_list(texts: list[str], patterns: Sequence[RedactPattern]) -> list[str]:
    """:func:`redact_text` of each string of ``texts`` (the list itself when there are no patterns)."""
    if not patterns:
        return texts
    return [_redact(text, patterns) for text in texts]


def redact_series(texts: pd.Series, patterns: Sequence[RedactPattern]) -> pd.Series:
    """:func:`redact_text` over a Series of strings (missing values stay missing)."""
    if not patterns:
        return texts
    values = [_redact(text, patterns) if isinstance(text, str) else text for text in texts.tolist()]
    return pd.Series(values, index=texts.index, dtype=texts.dtype, name=texts.name)


def _redact(text: str, patterns: Sequence[RedactPattern]) -> str:
    data = None  # the text as matched, UTF-8; computed again after each replacement
    for pattern in patterns:
        literal = pattern.literal
        if literal is not None:
            if literal not in text:
                continue
            if text.count(literal) <= MAX_MATCHES:
                text = text.replace(literal, REDACTED)
                data = None
                continue
        if data is None:
            data = (text.translate(_TEXT_FOLD) if _NEEDS_FOLD.search(text) else text).encode()
        match = pattern.regex.search(data)
        if match is None:
            continue
        spans = _spans(pattern, data, match)
        if spans:
            text = _replace(text, data, spans)
            data = None
    return text


def _spans(pattern: RedactPattern, data: bytes, match: Any) -> list[tuple[int, int]]:
    """Byte spans to replace: the whole match or its ``redact`` group, for every match from ``match`` on.

    Matching resumes where the replaced span ends (a ``redact`` group's trailing context is not
    consumed); an empty span is not replaced, and matching then moves on by one character. After
    :data:`MAX_MATCHES` spans, the next one runs to the end of the text.
    """
    search, group, size = pattern.regex.search, pattern.group, len(data)
    spans = []
    pos = 0
    while match is not None:
        start, end = match.span(group)
        if end > start >= 0:
            if len(spans) == MAX_MATCHES:
                spans.append((start, size))
                break
            spans.append((start, end))
            resume = end
        else:
            resume = match.end()
        if resume <= pos:
            if pos >= size:
                break
            lead = data[pos]
            resume = pos + (1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4)
        if resume > size:
            break
        pos = resume
        match = search(data, pos)
    return spans


def _replace(text: str, data: bytes, spans: list[tuple[int, int]]) -> str:
    """``text`` with the characters at the byte ``spans`` of ``data`` (its matched form) replaced."""
    pieces = []
    byte = char = kept = 0
    for start, end in spans:
        first = char + len(data[byte:start].decode())
        char = first + len(data[start:end].decode())
        byte = end
        pieces.append(text[kept:first])
        pieces.append(REDACTED)
        kept = char
    pieces.append(text[kept:])
    return "".join(pieces)


def _fold_pattern(pattern: str) -> str:
    """``pattern`` with each full-width ASCII character (and U+3000) written as its ASCII counterpart.

    The counterpart is written as a ``\\xHH`` escape, a literal wherever it stands (inside a
    character class, after ``{``), as the full-width character was for Python's re. ``\\Q…\\E``
    quoting is expanded the same way; group names are left alone.
    """
    if not _NEEDS_FOLD.search(pattern):
        return pattern
    out = []
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        if char == "\\" and i + 1 < size:
            escaped = pattern[i + 1]
            if escaped == "Q":
                end = pattern.find("\\E", i + 2)
                end = size if end < 0 else end
                out.extend(_literal(c) for c in pattern[i + 2 : end])
                i = end + 2
            elif ord(escaped) in _FULLWIDTH:
                out.append(_literal(escaped))  # "\：" is a literal "：" in Python's re
                i += 2
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if pattern.startswith("(?P<", i) or (
            pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in "=!"
        ):
            end = pattern.find(">", i)
            end = size - 1 if end < 0 else end
            out.append(pattern[i : end + 1])
            i = end + 1
            continue
        out.append(_literal(char) if ord(char) in _FULLWIDTH else char)
        i += 1
    return "".join(out)


def _literal(char: str) -> str:
    """``char`` (full-width folded to ASCII) as a literal in an RE2 pattern."""
    code = _FULLWIDTH.get(ord(char), ord(char))
    return f"\\x{code:02x}" if code < 0x80 else char
