"""No cell, header or line of an input file in any message: exceptions, log records, warnings,
quarantine details, the parser's layout and stats, and the doctor's output (text and JSON).

Each hostile file carries secret-looking markers (an AWS access key id, a PEM private key, a
``client_secret=`` pair, a Japanese phrase) in one position; the markers must not show up - not whole,
not as a fragment, not escaped (``repr`` of bytes, ``\\uXXXX``, backslash-escaped Shift_JIS) - while
the messages still say where (line, column) and why.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import random
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lineworks_salesforce.talklog.csvparse as csvparse
from lineworks_salesforce.talklog.csvparse import (
    DownloadTrailerError,
    MessageCsvParser,
    ParseSettings,
    TalkLogInternalError,
    UnknownHeaderError,
)
from lineworks_salesforce.talklog.doctor import doctor, main, render
from lineworks_salesforce.talklog.provenance import file_digest, file_sha256
from tests.plugins.lineworks_salesforce.talklog.helpers import HEADER_JA, parse

AKIA = "AKIAZZSECRET0MARKER1"


def _throwaway_pem() -> str:
    """A private key made for this run only (never committed): its PEM lines are the markers."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


_PEM_LINES = _throwaway_pem().splitlines()
PEM_BEGIN = _PEM_LINES[0]
PEM_BODY = _PEM_LINES[1]
CLIENT_SECRET = "client_secret=cs-9f2e7d1c0b"
JA_SECRET = "極秘暗証鍵束符丁"  # kanji none of our own messages use
MARKERS = (AKIA, PEM_BEGIN, PEM_BODY, CLIENT_SECRET, JA_SECRET)
SECRET = " ".join(MARKERS)  # one cell holding every marker (no comma, quote or line break)
PEM = "\n".join(_PEM_LINES) + "\n"

T = "2026-11-20T10:00:00+09:00"
HEADER = (HEADER_JA + "\n").encode()
PREFIX = f"{T},山田 太郎 (taro@example.com),ﾀﾞｲｷ,ch-1,".encode()


def _forms(marker: str) -> set[str]:
    """The ways a marker could be written into a message."""
    forms = {
        marker,
        marker.encode("unicode_escape").decode("ascii"),
        json.dumps(marker)[1:-1],
        repr(marker.encode())[2:-1],
        marker.encode().decode("latin-1"),
    }
    try:
        sjis = marker.encode("shift_jis")
        forms |= {repr(sjis)[2:-1], sjis.decode("utf-8", "backslashreplace"), sjis.decode("cp932")}
    except UnicodeEncodeError:
        pass
    return forms


def _fragments() -> set[str]:
    """Every 8-character piece of every form of every marker (so a truncated echo is caught too)."""
    out = set()
    for marker in MARKERS:
        for form in _forms(marker):
            out |= {form[i : i + 8] for i in range(max(1, len(form) - 7))}
    return out


FRAGMENTS = _fragments()


def leaks(text: str) -> list[str]:
    return sorted(f for f in FRAGMENTS if f in text)


def row(
    date=T, sender="山田 太郎 (taro@example.com)", recipient="ﾀﾞｲｷ", channel="ch-1", text="hello"
) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([date, sender, recipient, channel, text])
    return buf.getvalue().encode("utf-8")


GOOD = row(text="good one")
GOOD2 = row(date="2026-11-20T10:05:00+09:00", text="good two")


def _binary(magic: bytes = b"") -> bytes:
    rnd = random.Random(20261120)

    def noise() -> bytes:
        return rnd.randbytes(300).replace(b"\n", b"")

    return magic + noise() + SECRET.encode() + noise() + b"\n" + PEM.encode() + noise()


@dataclass
class Hostile:
    id: str
    data: bytes
    raises: type[Exception] | None = None  # else the file parses
    says: tuple[str, ...] = ()  # regexes the exception text must match
    line: int | None = None  # the error's line_number
    reason: str | None = None  # the quarantine reason of the one bad row
    detail: str = ""  # a regex its detail must match
    settings: dict = field(default_factory=dict)


ENV = [
    ("AWS_ACCESS_KEY_ID", AKIA),
    ("OAUTH", CLIENT_SECRET),
    ("KEY", PEM_BEGIN + PEM_BODY),
    ("MOTTO", JA_SECRET),
]
ENVIRON = b"\0".join(f"{k}={v}".encode() for k, v in ENV)  # like /proc/self/environ: no line break

HOSTILE = [
    # whole files that are no export at all
    Hostile(
        "environ_no_line_break",
        ENVIRON,
        UnknownHeaderError,
        (r"line 1, [\d,]+ bytes, the whole file: no line break", r"holds \d+ NUL bytes", r"binary data"),
        line=1,
    ),
    Hostile(
        "environ_with_a_multi_line_value",
        ENVIRON + b"\0PEM=" + PEM.encode(),
        UnknownHeaderError,
        (r"^the header line \(line 1, [\d,]+ bytes\) holds \d+ NUL bytes", r"binary data"),
        line=1,
    ),
    Hostile(
        "environ_over_64_kib",
        ENVIRON + b"\0PADDING=" + b"x" * 200_000,
        UnknownHeaderError,
        (r"^no line break in the first [\d,]+ bytes read \(from line 1 on\)", r"binary data"),
        line=1,
    ),
    Hostile(
        "one_text_line_no_break",
        SECRET.encode(),
        UnknownHeaderError,
        (r"line 1, the whole file: no line break; 1 cell\): no column for date, sender, recipient, text",),
        line=1,
    ),
    Hostile(
        "pem_private_key",
        PEM.encode(),
        UnknownHeaderError,
        (r"\(line 1; 1 cell\)", r"no cell is a known column name", r"Known layouts: 日時,送信者"),
        line=1,
    ),
    Hostile(
        "png_file",
        _binary(b"\x89PNG\r\n\x1a\n"),
        UnknownHeaderError,
        (r"^the header line \(line 1, 6 bytes\) is not UTF-8 \(first invalid byte at offset 0\)",),
        line=1,
    ),
    Hostile(
        "random_binary",
        _binary(),
        UnknownHeaderError,
        (r"^the header line \(line 1, [\d,]+ bytes\)", r"binary data"),
        line=1,
    ),
    Hostile(
        "utf16_file",
        (HEADER_JA + "\n" + row(text=SECRET).decode()).encode("utf-16"),
        UnknownHeaderError,
        (r"NUL bytes", r"UTF-16"),
        line=1,
    ),
    # headers
    Hostile(
        "secret_header_cells",
        f"日時,送信者,受信者,{AKIA},{CLIENT_SECRET},{JA_SECRET}\n".encode() + GOOD,
        UnknownHeaderError,
        (
            r"\(line 1; 6 cells\): no column for text",
            r"recognised column 1 \(date\), column 2 \(sender\), column 3 \(recipient\)\.",
        ),
        line=1,
    ),
    Hostile(
        "secret_header_after_blank_lines",
        b"\r\n\n" + f"{SECRET},{PEM_BEGIN}\n".encode(),
        UnknownHeaderError,
        (r"\(line 3; 2 cells\)",),
        line=3,
    ),
    Hostile(
        "shift_jis_header",
        f"日時,送信者,受信者,チャンネルID,トーク,{JA_SECRET},{AKIA}\n".encode("shift_jis") + GOOD,
        UnknownHeaderError,
        (r"^the header line \(line 1, \d+ bytes\) is not UTF-8", r"Shift_JIS", r"convert the file to UTF-8"),
        line=1,
    ),
    Hostile(
        "tab_separated_header",
        f"日時\t送信者\t受信者\tトーク\t{AKIA}\n".encode() + GOOD,
        UnknownHeaderError,
        (r"1 cell\)", r"looks tab-separated"),
        line=1,
    ),
    Hostile(
        "audit_log_header",
        f"日時,送信者,受信者,イベント,{AKIA}\n".encode() + GOOD,
        UnknownHeaderError,
        (r"Column 4 is named like the event column", r"audit-log CSV"),
        line=1,
    ),
    Hostile(
        "very_long_header_line",
        b"x" * 70_000 + SECRET.encode() + b"\n" + GOOD,
        UnknownHeaderError,
        (r"^the header line \(line 1, [\d,]+ bytes\) is too long", r"at most 65,536 bytes"),
        line=1,
    ),
    Hostile(  # a valid header with secret extra columns: parses, and the doctor names them by position
        "secret_extra_header_columns",
        f"{HEADER_JA},{AKIA},{JA_SECRET}\n".encode() + GOOD.rstrip(b"\n") + b",x,y\n",
    ),
    # download error trailers
    Hostile(
        "trailer_only",
        f"downloadLogs error: {SECRET}\n".encode(),
        DownloadTrailerError,
        (r"^line 1 is a 'downloadLogs error' trailer \([\d,]+ bytes\)", r"no header"),
        line=1,
    ),
    Hostile(
        "trailer_at_end",
        HEADER + GOOD + f"downloadLogs error: {SECRET}\n\n".encode(),
        DownloadTrailerError,
        (r"^line 3 is a 'downloadLogs error' trailer", r"failed midway; request the download again"),
        line=3,
    ),
    Hostile(
        "trailer_mid_file",
        HEADER + GOOD + f"downloadLogs error: {SECRET}\n".encode() + GOOD2,
        DownloadTrailerError,
        (r"^line 3 is a 'downloadLogs error' trailer",),
        line=3,
    ),
    Hostile(
        "trailer_mid_file_five_cells",
        HEADER + GOOD + f"downloadLogs error: {AKIA},a,b,c,{CLIENT_SECRET}\n".encode() + GOOD2,
        DownloadTrailerError,
        (r"^line 3 is a 'downloadLogs error' trailer",),
        line=3,
    ),
    # rows: quarantined, the detail says where and why
    Hostile(
        "secret_date_cell",
        HEADER + GOOD + row(date=SECRET) + GOOD2,
        reason="bad_date",
        detail=r"^column 1 \(date\): \d+ characters, not a date",
    ),
    Hostile(
        "blank_date_cell",
        HEADER + GOOD + row(date="   ", text=SECRET) + GOOD2,
        reason="bad_date",
        detail=r"^column 1 \(date\) is blank \(3 characters\)$",
    ),
    Hostile(
        "too_long_text",
        HEADER + GOOD + row(text=SECRET + "x" * 200) + GOOD2,
        reason="too_long",
        detail=r"^column 5 \(text\) has [\d,]+ characters \(limit 100\)$",
        settings={"max_cell_chars": 100},
    ),
    Hostile(
        "too_long_sender",
        HEADER + GOOD + row(sender=SECRET * 3) + GOOD2,
        reason="too_long",
        detail=r"^column 2 \(sender\) has [\d,]+ characters \(limit 100\)$",
        settings={"max_cell_chars": 100},
    ),
    Hostile(  # longer than the csv module's field limit (4 x max_cell_chars): refused by the strict reader
        "too_long_for_the_csv_reader",
        HEADER + GOOD + row(text=SECRET + "y" * 1_000) + GOOD2,
        reason="too_long",
        detail=r"^(column 5 \(text\) has [\d,]+ characters|a cell is longer than [\d,]+ characters)",
        settings={"max_cell_chars": 100},
    ),
    Hostile(
        "empty_sender_secret_text",
        HEADER + GOOD + row(sender="", text=SECRET) + GOOD2,
        reason="missing_sender",
        detail=r"^column 2 \(sender\) is empty or blank$",
    ),
    Hostile(
        "nul_in_sender",
        HEADER + GOOD + row(sender="\x00" + SECRET) + GOOD2,
        reason="bad_encoding",
        detail=r"^a NUL byte in column 2 \(sender\) at byte 27 of the record",
    ),
    Hostile(
        "shift_jis_sender",
        HEADER + GOOD + f"{T},".encode() + JA_SECRET.encode("shift_jis") + f",b,ch,{AKIA}\n".encode() + GOOD2,
        reason="bad_encoding",
        detail=r"^invalid UTF-8 in column 2 \(sender\) at byte 27 of the record .*Shift_JIS",
    ),
    Hostile(
        "empty_text_secret_recipient",
        HEADER + GOOD + row(recipient=SECRET, text="") + GOOD2,
        reason="empty_message",
        detail=r"^column 5 \(text\) is empty",
    ),
    Hostile(
        "garbage_after_closing_quote",
        HEADER + GOOD + PREFIX + f'"{SECRET}"{CLIENT_SECRET}\n'.encode() + GOOD2,
        reason="bad_quoting",
        detail=r"^text after the closing quote of a cell",
    ),
    Hostile(
        "quote_never_closed",
        HEADER + GOOD + PREFIX + f'"{SECRET} {PEM_BEGIN}'.encode(),
        reason="bad_quoting",
        detail=r"^a quoted cell is never closed",
    ),
    Hostile(
        "lone_cr",
        HEADER + GOOD + PREFIX + f"{AKIA}\r{CLIENT_SECRET}\n".encode() + GOOD2,
        reason="bad_quoting",
        detail=r"^a lone CR",
    ),
    Hostile(
        "extra_secret_cell",
        HEADER + GOOD + row(text="hi").rstrip(b"\n") + f",{SECRET}\n".encode() + GOOD2,
        reason="bad_columns",
        detail=r"^expected 5 cells, found 6$",
    ),
    Hostile(
        "repeated_header_with_secret",
        HEADER + GOOD + f"日時,送信者,受信者,{AKIA},トーク\n".encode() + GOOD2,
        reason="bad_date",
        detail=r"^column 1 \(date\) holds the date column's name: a repeated header line\?$",
    ),
    # rows that load: nothing about them in any message
    Hostile("pem_in_a_message", HEADER + GOOD + row(text=PEM) + GOOD2),
    Hostile("dotted_capital_i_tag", HEADER + GOOD + row(text=f"(İmage) {SECRET}") + GOOD2),  # was a KeyError
    Hostile("long_s_tag", HEADER + GOOD + row(text=f"[ſticker] {SECRET}") + GOOD2),
]


def _exception_texts(exc: BaseException | None) -> Iterator[str]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield str(exc)
        yield repr(exc)
        yield repr(exc.args)
        yield repr(vars(exc))  # attributes too: no raw header cells kept on the exception
        yield "".join(traceback.format_exception(exc))
        exc = exc.__cause__ or exc.__context__


def _run(path: Path, case: Hostile, strict: bool, chunk_rows: int | None) -> tuple[list[str], object, object]:
    """(texts to check, the exception or None, the quarantine frame or None)."""
    settings = dict(case.settings)
    if chunk_rows:
        settings["chunk_rows"] = chunk_rows
    texts: list[str] = []
    error = quarantined = None
    try:
        messages, quarantined, parser = parse(path, strict=strict, **settings)
        texts += [repr(parser.layout), repr(parser.stats)]
        texts += [str(v) for v in quarantined["detail"].tolist()]
        texts += [str(v) for v in quarantined["reason"].tolist()]
    except Exception as exc:  # noqa: BLE001 - every exception is checked below
        error = exc
        texts += list(_exception_texts(exc))
    return texts, error, quarantined


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_should_not_echo_the_file_in_any_message(case: Hostile, tmp_path: Path, caplog, recwarn, capsys):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "hostile.csv"
    path.write_bytes(case.data)
    texts: list[str] = []
    for strict, chunk_rows in ((False, None), (True, None), (False, 1)):
        found, error, quarantined = _run(path, case, strict, chunk_rows)
        texts += found
        if case.raises:
            assert isinstance(error, case.raises), (type(error).__name__, strict)
            message = str(error)
            for pattern in case.says:
                assert re.search(pattern, message), (pattern, message)
            assert error.line_number == case.line
            assert error.__cause__ is None and error.__context__ is None  # nothing chained to leak through
        else:
            assert error is None, (type(error).__name__, strict)
            if case.reason:
                assert quarantined["reason"].tolist() == [case.reason], strict
                assert re.search(case.detail, quarantined["detail"].iloc[0]), quarantined["detail"].iloc[0]
                assert quarantined["row_number"].tolist() == [3]
                assert quarantined["raw"].iloc[0] != ""  # the raw record is kept, in storage only
            else:
                assert quarantined.empty

    # the doctor: report, rendering, CLI text and JSON
    report = doctor(path)
    texts += [json.dumps(report, ensure_ascii=False), json.dumps(report), render(report)]
    assert report["sha256"] == hashlib.sha256(case.data).hexdigest()
    assert (report["error"] is not None) == bool(case.raises)
    for argv in ([str(path)], [str(path), "--json"]):
        main(argv)
        out = capsys.readouterr()
        texts += [out.out, out.err]
    if case.id == "secret_extra_header_columns":
        assert report["header"]["unknown_columns"] == [6, 7]
        assert "unknown columns (ignored): 列 column 6, 列 column 7" in render(report)

    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), str(record.exc_text or "")]
        if record.exc_info:
            texts += list(_exception_texts(record.exc_info[1]))
    texts += [str(w.message) for w in recwarn]

    leaked = [(i, leaks(text)) for i, text in enumerate(texts) if leaks(text)]
    # report which texts leaked which fragments only by count and fragment (the fragments are markers)
    assert not leaked, leaked[:3]


def test_should_catch_a_marker_written_in_any_form():
    """The checker itself: each way of echoing the old code used is caught."""
    header = f"日時,{AKIA}".encode("shift_jis")
    for echo in (
        f"unknown Monitoring CSV header {['日時', AKIA]!r}",
        f"not UTF-8 (Shift_JIS?): {header[:200]!r}",
        f"unrecognised date {SECRET[:60]!r}",
        f"cell {JA_SECRET!r} has 3 characters",
        json.dumps({"detail": JA_SECRET}),
        repr(JA_SECRET.encode("shift_jis")),
        f"{PEM_BODY[20:40]}",
    ):
        assert leaks(echo), echo


@pytest.mark.parametrize(
    ("tail", "code"),
    [
        ("downloadLogs error: INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR"),
        ("downloadLogs error: TOO_MANY_REQUESTS: try later", "TOO_MANY_REQUESTS"),
        (f"downloadLogs error: {AKIA}", None),  # capitals and digits, no underscore: not a code
        (f"downloadLogs error: {CLIENT_SECRET}", None),
        ("downloadLogs error: SECRET_KEY=abc", None),
        ("downloadLogs error: an internal error occurred while writing the log", None),
    ],
)
def test_should_name_a_trailer_code_only_when_it_looks_like_one(tmp_path: Path, tail: str, code):
    path = tmp_path / "trailer.csv"
    path.write_bytes(HEADER + GOOD + tail.encode() + b"\n")
    with pytest.raises(DownloadTrailerError) as exc:
        MessageCsvParser(path)
    assert exc.value.code == code and exc.value.line_number == 3
    message = str(exc.value)
    assert (f"error code {code}" in message) if code else ("error code" not in message)
    rest = tail.removeprefix("downloadLogs error: ").replace(code or "\0", "")
    assert not [rest[i : i + 8] for i in range(len(rest) - 7) if rest[i : i + 8] in message], message


@pytest.mark.parametrize("stage", ["header", "rows"])
def test_should_withhold_the_message_of_an_unexpected_exception(tmp_path: Path, monkeypatch, stage: str):
    """A bug that raises with a cell in its message surfaces as type + code location, nothing chained."""

    def boom(value, *args, **kwargs):
        raise KeyError(f"{value!r} {SECRET}")

    target: tuple[str, Callable] = ("detect_header", boom) if stage == "header" else ("content_kind", boom)
    monkeypatch.setattr(csvparse, *target)
    path = tmp_path / "bug.csv"
    path.write_bytes(HEADER + GOOD + row(text=f"(写真) {SECRET}"))
    with pytest.raises(TalkLogInternalError) as exc:
        list(MessageCsvParser(path))
    message = str(exc.value)
    assert re.search(
        r"KeyError at csvparse\.py:\d+ in [\w<>]+, test_no_input_in_messages\.py:\d+ in boom", message
    )
    assert "withheld" in message and (
        "header" in message if stage == "header" else "from line 2 on" in message
    )
    assert exc.value.__cause__ is None and exc.value.__context__ is None
    assert not any(leaks(t) for t in _exception_texts(exc.value))
    report = doctor(path)
    assert report["error"]["type"] == "TalkLogInternalError" and not leaks(json.dumps(report))


def test_should_hash_files_for_their_provenance_id(tmp_path: Path):
    path = tmp_path / "big.bin"
    data = random.Random(1).randbytes((3 << 20) + 17)  # several read blocks and a partial one
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_digest(path) == (hashlib.sha256(data).hexdigest(), len(data))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(str(empty)) == hashlib.sha256(b"").hexdigest()


def test_should_keep_the_layout_free_of_header_text(tmp_path: Path):
    path = tmp_path / "extra.csv"
    path.write_bytes(f"{HEADER_JA},{AKIA}\n".encode() + GOOD.rstrip(b"\n") + b",x\n")
    parser = MessageCsvParser(path, ParseSettings())
    assert parser.layout.names[-1] == "" and parser.layout.extra_positions == (5,)
    assert not leaks(repr(parser.layout))
