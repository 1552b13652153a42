"""Redaction (``lineworks_salesforce.activities.redact``, RE2): seconds per 100 KB message, worst-case
patterns and inputs.

Each pattern runs alone (``redact_text``) over a 100 KB message (UTF-8 bytes) built to be its worst
case, in three groups, each with its verdict and one for all:

* **literature** — the patterns known for catastrophic backtracking in Python's ``re`` (which hangs
  on some of them with a 34-character message) on their attack strings, Russ Cox's ``a?{n}a{n}`` at
  RE2's largest repetition count and the textbook exponential-DFA case ``a[ab]{999}x`` on random text;
* **card** — ``CARD_NUMBER_PATTERN`` on a chat-like text full of numbers and on runs of digits;
* **probe** — patterns built to reach the limits: the largest repetition of a Unicode class that
  fits ``MAX_PROGRAM_SIZE`` (``[ab]*a[ab]{490}x|…``), short matches whose search reads to the end of the text
  (bounded by ``MAX_MATCHES``), and two exponential DFAs in one pattern (RE2 falls back to its NFA:
  linear, but with thousands of threads per byte).

Best of three runs, each with a freshly compiled pattern (RE2's DFA cache empty, as in a new worker:
later messages in the same process reuse the cache). Target: **< 1 s per 100 KB message for every
accepted pattern**. Patterns ``compile_patterns`` refuses are listed with its message instead.
"""

from __future__ import annotations

import os
import random
import time

import re2

from lineworks_salesforce.activities.redact import (
    CARD_NUMBER_PATTERN,
    REDACTED,
    compile_patterns,
    redact_text,
)

SIZE = 100_000  # bytes of UTF-8
TARGET_S = 1.0
REPEATS = 3

clock = time.perf_counter


def _fill(unit: str, tail: str = "") -> str:
    """``unit`` repeated up to SIZE bytes of UTF-8 (``tail`` included)."""
    count = (SIZE - len(tail.encode())) // len(unit.encode())
    return unit * count + tail


def _chat() -> str:
    """Japanese chat lines with phone numbers, dates, card numbers (half- and full-width), 100 KB."""
    lines = [
        "お世話になっております。見積書をお送りします（税込 ¥１２３，４５６）。",
        "カード4111111111111111で決済お願いします！",
        "電話 03-1234-5678、注文番号 12345678、2025/05/30 09:05 に伺います。",
        "番号は ４１１１ １１１１ １１１１ １１１１ です。",
        "承知しました。\n担当に確認してご連絡します。",
        "口座 1234567 / 会員番号 123456789012 / 4111-1111-1111-1111",
    ]
    return _fill("\n".join(lines) + "\n")


def _random(alphabet: str, seed: int) -> str:
    """100 KB of the characters of ``alphabet`` (all of one UTF-8 length) at random."""
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(SIZE // len(alphabet[0].encode())))


# (kind, label, pattern, message). "literature": patterns known for catastrophic backtracking, and
# RE2's own textbook cases; "card": CARD_NUMBER_PATTERN; "probe": patterns built to reach the limits
# (MAX_PROGRAM_SIZE, MAX_MATCHES, the NFA fallback) - where RE2's linear bound stops being < 1 s.
CASES = [
    ("literature", "a…a!", r"(a+)+$", _fill("a", "!")),
    ("literature", "a…a!", r"(a|aa)+$", _fill("a", "!")),
    ("literature", "a…a!", r"(a|a)+$", _fill("a", "!")),
    ("literature", "a…a", r"(a*)*b", _fill("a")),
    ("literature", "a…a", r"(.*a){20}", _fill("a")),
    ("literature", "a…a!", r"^(([a-z])+.)+[A-Z]([a-z])+$", _fill("a", "!")),
    ("literature", "x…x", r"(x+x+)+y", _fill("x")),
    ("literature", "'ab ' … !", r"(\w+\s?)+$", _fill("ab ", "!")),
    (
        "literature",
        "a…a!",
        r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}[a-z]{2,3}$",
        _fill("a", "!"),
    ),
    ("literature", "a…a", r"([a-zA-Z]+)*$", _fill("a")),
    ("literature", "a…a", r"(?:a?){300}a{300}", _fill("a")),
    ("literature", "(a…a b)…", r"(?:a?){300}a{300}", _fill("a" * 299 + "b")),
    ("literature", "random a/b", r"a[ab]{990}x", _random("ab", 1)),
    ("literature", "a…a", r"(?:a?){1000}a{1000}", _fill("a")),  # refused: over MAX_PROGRAM_SIZE
    ("card", "chat", CARD_NUMBER_PATTERN, _chat()),
    ("card", "1…1", CARD_NUMBER_PATTERN, _fill("1")),
    ("card", "'1 '…", CARD_NUMBER_PATTERN, _fill("1 ")),
    ("card", "１…１ (full-width)", CARD_NUMBER_PATTERN, _fill("１")),
    ("card", "chat", r"(?<!\d)\d(?:[ -]?\d){12,15}(?!\d)", _chat()),  # as it was for Python's re
    ("probe", "あ…あ", r"\p{Han}{10}秘", _fill("あ")),
    ("probe", "random 漢/あ", r"\p{Han}{10}秘", _random("漢あ", 2)),
    ("probe", "あ…あ", r"\pL{80}秘", _fill("あ")),  # refused: over MAX_PROGRAM_SIZE
    ("probe", "x…x", r"x.*y|x", _fill("x")),
    # the NFA fallback at the size cap (1,098 instructions): the slowest accepted pattern found
    ("probe", "random a/b", r"[ab]*a[ab]{543}x|[ab]*b[ab]{543}y", _random("ab", 1)),
    ("probe", "random a/b", r"[ab]*a[ab]{999}x|[ab]*b[ab]{999}y", _random("ab", 1)),  # refused
]


def run() -> dict:
    load_before = os.getloadavg()[0]
    patterns: list[dict] = []
    refused: list[dict] = []
    for kind, label, pattern, text in CASES:
        try:
            compile_patterns([pattern])
        except ValueError as exc:
            refused.append({"kind": kind, "pattern": pattern, "error": str(exc)})
            print(f"refused   {pattern}: {exc}", flush=True)
            continue
        best = float("inf")
        for _ in range(REPEATS):
            re2.purge()  # a fresh RE2 object each time: its DFA cache starts empty, as in a new worker
            compiled = compile_patterns([pattern])
            started = clock()
            out = redact_text(text, compiled)
            best = min(best, clock() - started)
        met = best < TARGET_S
        patterns.append(
            {
                "kind": kind,
                "pattern": pattern,
                "message": label,
                "bytes": len(text.encode()),
                "seconds": round(best, 4),
                "replaced": out.count(REDACTED),
                "meets_target": met,
            }
        )
        print(
            f"{best:8.3f} s  [{kind}] {pattern}  on {label} ({len(text.encode()):,} B, "
            f"{out.count(REDACTED):,} replaced; target < {TARGET_S:g} s: {'met' if met else 'MISSED'})",
            flush=True,
        )
    verdicts = {}
    for kind in ("literature", "card", "probe", "all"):
        timed = [p for p in patterns if kind in ("all", p["kind"])]
        worst = max(timed, key=lambda p: p["seconds"])
        over = sum(not p["meets_target"] for p in timed)
        verdicts[kind] = {"meets_target": over == 0, "over": over, "timed": len(timed), "worst": worst}
        print(
            f"redact [{kind}]: worst {worst['seconds']:.3f} s per 100 KB message ({worst['pattern']} on "
            f"{worst['message']}); target < {TARGET_S:g} s for every accepted pattern: "
            f"{'met' if over == 0 else 'MISSED'} ({over} of {len(timed)} over)",
            flush=True,
        )
    load_after = os.getloadavg()[0]
    print(
        f"  ({len(refused)} refused; 1-minute load average: {load_before:.2f} at the start, "
        f"{load_after:.2f} at the end)",
        flush=True,
    )
    return {
        "message_bytes": SIZE,
        "repeats": REPEATS,
        "target_seconds_per_message": TARGET_S,
        "meets_target": verdicts["all"]["meets_target"],
        "verdicts": verdicts,
        "patterns": patterns,
        "refused": refused,
        "load_average_1m": {"start": round(load_before, 2), "end": round(load_after, 2)},
    }
