"""A hostile corpus: every bad row sits in a file with good rows; none may crash or lose a good row.

Each case is checked three ways - the normal (numpy + pandas) reader, the strict csv-module reader
every chunk falls back to, and tiny chunks - and the three must agree exactly.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

import lineworks_salesforce.talklog.csvparse as csvparse
from lineworks_salesforce.talklog.csvparse import (
    DownloadTrailerError,
    MessageCsvParser,
    ParseSettings,
    UnknownHeaderError,
)
from lineworks_salesforce.talklog.people import split_recipients
from tests.plugins.lineworks_salesforce.talklog.helpers import HEADER_JA, parse

T = "2026-11-20T11:00:00+09:00"
UTC_11 = pd.Timestamp("2026-11-20T02:00:00Z")
PREFIX = f"{T},a@example.com,b@example.com,ch,".encode()


def row(
    date: str = T,
    sender: str = "鈴木 一郎 (ichiro@example.com)",
    recipients: str = "山田 太郎 (taro.yamada@example.com)",
    channel: str = "ch-2",
    text: str = "hello",
) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([date, sender, recipients, channel, text])
    return buf.getvalue().encode("utf-8")


def good(i: int) -> bytes:
    ts = f"2026-11-20T{10 + i // 60:02d}:{i % 60:02d}:00+09:00"
    variant = i % 3
    if variant == 0:
        line = f"{ts},山田 太郎 (Taro.Yamada@Example.com),佐藤 花子 (hanako@example.com),ch-1,good {i}\n"
    elif variant == 1:
        line = f'{ts},"Yamada, ""Ken""",山田 太郎 (taro.yamada@example.com),ch-1,"good {i}, with a comma"\n'
    else:
        line = f'{ts},山田 太郎 (taro.yamada@example.com),"A, B",ch-1,"good {i}\nsecond ""line"""\n'
    return line.encode()


@dataclass
class Case:
    id: str
    row: bytes
    quarantine: str | None = None  # expected reason
    message: dict = field(default_factory=dict)  # expected fields of the one loaded message
    skip: bool = False  # neither a message nor a quarantined row (blank lines)
    raises: type[Exception] | None = None
    at_end: bool = False  # the bad row is the last thing in the file (no newline after it)


CASES = [
    # quoting
    Case("broken_quote_after_close", PREFIX + b'"abc"def\n', quarantine="bad_quoting"),
    Case("unterminated_quote_mid_file", PREFIX + b'"never closed\n', quarantine="bad_quoting"),
    Case("unterminated_quote_at_eof", PREFIX + b'"never closed', quarantine="bad_quoting", at_end=True),
    Case("quote_inside_unquoted_cell", PREFIX + b'say "hi" ok\n', message={"text": 'say "hi" ok'}),
    Case("space_after_closing_quote", PREFIX + b'"abc" \n', quarantine="bad_quoting"),
    Case(
        "garbage_after_quoted_cell",
        f'{T},a@example.com,"b@example.com"x,ch,hi\n'.encode(),
        quarantine="bad_quoting",
    ),
    Case("lone_cr_in_unquoted_cell", PREFIX + b"abc\rdef\n", quarantine="bad_quoting"),
    Case(
        "everything_quoted",
        f'"{T}","a@example.com","b@example.com","ch","hello"\n'.encode(),
        message={"text": "hello"},
    ),
    Case(
        "csv_row_inside_a_quoted_cell",
        row(text="line one\n2026-11-20T12:00:00+09:00,evil@example.com,b@example.com,ch,injected"),
        message={"text": "line one\n2026-11-20T12:00:00+09:00,evil@example.com,b@example.com,ch,injected"},
    ),
    # dates
    Case("bad_date_month_13", row(date="2026-13-01 10:00:00"), quarantine="bad_date"),
    Case("bad_date_hour_25", row(date="2026/01/01 25:00:00"), quarantine="bad_date"),
    Case("bad_date_empty", row(date=""), quarantine="bad_date"),
    Case("bad_date_word", row(date="yesterday"), quarantine="bad_date"),
    Case("bad_date_feb_30", row(date="2026/02/30 10:00:00"), quarantine="bad_date"),
    Case("bad_date_year_9999", row(date="9999-12-31T23:59:59+09:00"), quarantine="bad_date"),
    Case("bad_date_day_only", row(date="2026-11-20"), quarantine="bad_date"),
    Case("header_repeated", (HEADER_JA + "\n").encode(), quarantine="bad_date"),
    Case("date_utc_z", row(date="2026-11-20T02:00:00Z"), message={"sent_at": UTC_11}),
    Case(
        "date_fraction",
        row(date="2026-11-20T11:00:00.250+09:00"),
        message={"sent_at": UTC_11 + pd.Timedelta("250ms")},
    ),
    Case("date_slash_local", row(date="2026/11/20 11:00:00"), message={"sent_at": UTC_11}),
    Case("date_dash_minutes", row(date="2026-11-20 11:00"), message={"sent_at": UTC_11}),
    Case("date_iso_without_offset", row(date="2026-11-20T11:00:00"), message={"sent_at": UTC_11}),
    Case("date_with_spaces_around", row(date=f" {T} "), message={"sent_at": UTC_11}),
    # cells
    Case("extra_cell", PREFIX + b"hello,extra\n", quarantine="bad_columns"),
    Case("trailing_comma", PREFIX + b"hello,\n", quarantine="bad_columns"),
    Case("missing_cell", f"{T},a@example.com,b@example.com,hello\n".encode(), quarantine="bad_columns"),
    Case("two_cells", f"{T},hello\n".encode(), quarantine="bad_columns"),
    Case("whitespace_cell_only", "\u3000\n".encode(), quarantine="bad_columns"),
    # encoding
    Case("shift_jis_bytes", PREFIX + "こんにちは".encode("shift_jis") + b"\n", quarantine="bad_encoding"),
    Case("invalid_utf8", PREFIX + b"\xff\xfe abc\n", quarantine="bad_encoding"),
    Case("truncated_utf8", PREFIX + "あ".encode()[:2] + b"\n", quarantine="bad_encoding"),
    Case("nul_byte", PREFIX + b"hel\x00lo\n", quarantine="bad_encoding"),
    Case(
        "control_characters",
        row(text="a\x01b\x07c\x1b[31md\x7fe\u0085f\tg\u200b"),
        message={"text": "abc[31mdef\tg\u200b"},
    ),
    Case("control_characters_only", row(text="\x01\x02"), quarantine="empty_message"),
    Case(
        "crlf_and_cr_inside_quoted_cell", row(text="one\r\ntwo\rthree"), message={"text": "one\ntwo\nthree"}
    ),
    # sizes
    Case("message_1_000_000_chars", row(text="あ" * 1_000_000), message={"text": "あ" * 1_000_000}),
    Case("message_1_000_001_chars", row(text="a" * 1_000_001), quarantine="too_long"),
    Case(
        "ten_thousand_recipients",
        row(
            recipients=", ".join(f"友達{i} ({i}@example.com)" if i % 2 else f"友達{i}" for i in range(10_000))
        ),
        message={"recipients_count": 10_000},
    ),
    # text kept verbatim
    Case("formula_sum", row(text="=SUM(A1)"), message={"text": "=SUM(A1)"}),
    Case("formula_plus_cmd", row(text="+cmd|' /C calc'!A0"), message={"text": "+cmd|' /C calc'!A0"}),
    Case("formula_minus", row(text="-1+2"), message={"text": "-1+2"}),
    Case("formula_at", row(text="@x"), message={"text": "@x"}),
    Case("emoji_zwj_skin_tones", row(text="👩🏽‍💻👨‍👩‍👧‍👦👍🏿"), message={"text": "👩🏽‍💻👨‍👩‍👧‍👦👍🏿"}),
    Case("variation_selectors", row(text="☀️❤︎⚽️"), message={"text": "☀️❤︎⚽️"}),
    Case("rtl_text", row(text="مرحبا \u202eabc\u202c שלום"), message={"text": "مرحبا \u202eabc\u202c שלום"}),
    Case(
        "full_width_spaces",
        row(text="\u3000全角\u3000スペース\u3000"),
        message={"text": "\u3000全角\u3000スペース\u3000"},
    ),
    Case("whitespace_only_text", row(text="   "), message={"text": "   "}),
    Case("empty_message", row(text=""), quarantine="empty_message"),
    # people
    Case(
        "half_width_kana",
        row(sender="ﾔﾏﾀﾞ ﾀﾛｳ", text="ｶﾀｶﾅﾃﾞｽ"),
        message={"sender_kind": "external", "sender_name": "ﾔﾏﾀﾞ ﾀﾛｳ", "text": "ｶﾀｶﾅﾃﾞｽ"},
    ),
    Case("bot_without_name", row(sender="[Bot]"), message={"sender_kind": "bot", "sender_name": ""}),
    Case(
        "email_only",
        row(sender="Taro.Yamada@Example.COM"),
        message={"sender_kind": "member", "sender_name": "", "sender_email": "taro.yamada@example.com"},
    ),
    Case(
        "email_in_full_width_parentheses",
        row(sender="山田太郎（Taro@Example.com）"),
        message={"sender_kind": "member", "sender_name": "山田太郎", "sender_email": "taro@example.com"},
    ),
    Case(
        "email_in_angle_brackets",
        row(sender="Taro <taro@example.com>"),
        message={"sender_kind": "member", "sender_name": "Taro", "sender_email": "taro@example.com"},
    ),
    Case(
        "name_with_comma_and_quotes",
        row(sender='Yamada, "Ken"'),
        message={"sender_kind": "external", "sender_name": 'Yamada, "Ken"', "sender_raw": 'Yamada, "Ken"'},
    ),
    Case("empty_recipients", row(recipients=""), message={"recipients_raw": "", "recipients_count": 0}),
    Case("empty_sender", row(sender=""), quarantine="missing_sender"),
    Case("blank_sender", row(sender=" \u3000 "), quarantine="missing_sender"),
    # content kinds
    Case("photo", row(text="(写真) IMG_1.jpg"), message={"content_kind": "photo"}),
    Case("photo_en", row(text="[Photo]"), message={"content_kind": "photo"}),
    Case("file_en", row(text="(File) report.pdf"), message={"content_kind": "file"}),
    Case("video", row(text="(動画) VID_1.mp4"), message={"content_kind": "video"}),
    Case(
        "sticker_url",
        row(text="https://stickershop.line-scdn.net/stickershop/v1/sticker/52002734/android/sticker.png"),
        message={"content_kind": "stamp"},
    ),
    Case(
        "location",
        row(text="(位置情報) 東京都港区芝公園4-2-8\nhttps://maps.google.com/?q=35.658581,139.745433"),
        message={"content_kind": "location"},
    ),
    Case("plain_url", row(text="https://example.com/sticker-guide"), message={"content_kind": "text"}),
    # lines
    Case("blank_lines", b"\n\n   \n\t\n\r\n", skip=True),
    Case(
        "download_error_line",
        b"downloadLogs error: an internal error occurred\n",
        raises=DownloadTrailerError,
    ),
]


def build(case: Case) -> tuple[bytes, int]:
    """The file for a case and the line number of its bad row."""
    head = b"\xef\xbb\xbf" + (HEADER_JA + "\n").encode() + b"".join(good(i) for i in range(3))
    if case.at_end:
        head += b"".join(good(i) for i in range(3, 6))
        return head + case.row, head.count(b"\n") + 1
    return head + case.row + b"".join(good(i) for i in range(3, 6)), head.count(b"\n") + 1


def _good_numbers(messages: pd.DataFrame) -> list[int]:
    found = messages["text"].str.extract(r"^good (\d+)", expand=False).dropna()
    return sorted(int(x) for x in found)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_should_quarantine_or_render_each_hostile_row_and_keep_the_good_ones(case: Case, tmp_path: Path):
    data, line = build(case)
    path = tmp_path / "hostile.csv"
    path.write_bytes(data)
    if case.raises:
        with pytest.raises(case.raises):
            parse(path)
        return
    messages, quarantined, _ = parse(path)
    assert _good_numbers(messages) == list(range(6))
    others = messages[~messages["text"].str.match(r"^good \d+")]
    if case.quarantine:
        assert others.empty, others[["row_number", "text"]].to_dict("records")
        assert quarantined["reason"].tolist() == [case.quarantine], quarantined.to_dict("records")
        assert quarantined["row_number"].tolist() == [line]
        assert quarantined["source"].tolist() == ["test.csv"]
        assert quarantined["raw"].iloc[0] != "" and "\x00" not in quarantined["raw"].iloc[0]
    elif case.skip:
        assert others.empty and quarantined.empty
    else:
        assert quarantined.empty, quarantined.to_dict("records")
        assert len(others) == 1
        got = others.iloc[0]
        assert got["row_number"] == line
        for name, value in case.message.items():
            if name == "recipients_count":
                assert len(split_recipients(got["recipients_raw"], ", ")) == value
            else:
                assert got[name] == value, name
    for name in ("message_key",):
        assert messages[name].is_unique


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c.raises], ids=[c.id for c in CASES if not c.raises]
)
def test_should_agree_with_the_strict_reader_and_tiny_chunks(case: Case, tmp_path: Path):
    path = tmp_path / "hostile.csv"
    path.write_bytes(build(case)[0])
    fast = parse(path)
    strict = parse(path, strict=True)
    tiny = parse(path, chunk_rows=2)
    for other in (strict, tiny):
        pd.testing.assert_frame_equal(fast[0], other[0])
        pd.testing.assert_frame_equal(fast[1], other[1])


def test_should_survive_all_hostile_rows_in_one_file_with_small_buffers(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(csvparse, "_BLOCK_BYTES", 4096)  # refills, carried partial records, growth
    rows = [c for c in CASES if not c.raises and not c.at_end]
    body = b"".join(good(i) + c.row for i, c in enumerate(rows))
    path = tmp_path / "all.csv"
    path.write_bytes((HEADER_JA + "\n").encode() + body)
    messages, quarantined, parser = parse(path, chunk_rows=5)
    assert _good_numbers(messages) == list(range(len(rows)))
    expected = sorted(c.quarantine for c in rows if c.quarantine)
    assert sorted(quarantined["reason"]) == expected
    assert len(messages) == len(rows) + sum(1 for c in rows if not c.quarantine and not c.skip)
    reference = parse(path, chunk_rows=1_000)
    pd.testing.assert_frame_equal(messages, reference[0])
    pd.testing.assert_frame_equal(quarantined, reference[1])


@pytest.mark.parametrize("quoted_goods", [True, False])
def test_should_recover_from_a_quote_that_never_closes_in_a_big_file(
    tmp_path: Path, monkeypatch, quoted_goods
):
    monkeypatch.setattr(csvparse, "_BLOCK_BYTES", 4096)
    pick = (lambda i: i % 10) if quoted_goods else (lambda i: 0)  # good(0) has no quote at all
    goods = b"".join(good(pick(i)).replace(b"good ", b"good %d " % i, 1) for i in range(3000))
    data = (HEADER_JA + "\n").encode() + good(0) + PREFIX + b'"never closed\n' + goods
    path = tmp_path / "stray.csv"
    path.write_bytes(data)
    parser = MessageCsvParser(path, ParseSettings(chunk_rows=100))
    parser._max_record_bytes = 10_000  # give up waiting for the closing quote after this many bytes
    chunks = list(parser)
    messages = pd.concat([c.messages for c in chunks], ignore_index=True)
    quarantined = pd.concat([c.quarantined for c in chunks], ignore_index=True)
    assert len(messages) == 3001 and messages["message_key"].is_unique
    assert quarantined[["row_number", "reason"]].values.tolist() == [[3, "bad_quoting"]]
    if quoted_goods:  # a later quote restores the parity: strict reading of one chunk, then fast again
        assert parser.stats.strict_chunks >= 1 and parser.stats.strict_from_line is None
    else:  # the parity never comes back: the rest of the file is read strictly
        assert parser.stats.strict_from_line == 3


# --- whole-file oddities ---------------------------------------------------------------------------
def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return path


def test_should_read_crlf_files(tmp_path: Path):
    data = (HEADER_JA + "\n").encode() + b"".join(good(i) for i in range(6))
    lf, _, _ = parse(_write(tmp_path, data))
    crlf, _, _ = parse(_write(tmp_path, data.replace(b"\n", b"\r\n")))
    pd.testing.assert_frame_equal(lf, crlf)  # same text (CRLF in cells becomes LF), same keys, same lines
    assert crlf["text"].iloc[2] == 'good 2\nsecond "line"'


def test_should_accept_two_boms_and_blank_lines_around(tmp_path: Path):
    data = (
        b"\xef\xbb\xbf\xef\xbb\xbf" + (HEADER_JA + "\n").encode() + good(0) + b"\n\n\r\n" + good(1) + b"\n\n"
    )
    messages, quarantined, parser = parse(_write(tmp_path, data))
    assert messages["row_number"].tolist() == [2, 6] and quarantined.empty
    assert parser.stats.blank_lines == 5


def test_should_yield_nothing_for_a_header_only_file(tmp_path: Path):
    for data in ((HEADER_JA + "\n").encode(), HEADER_JA.encode(), (HEADER_JA + "\r\n\r\n").encode()):
        messages, quarantined, parser = parse(_write(tmp_path, data))
        assert messages.empty and quarantined.empty and parser.stats.chunks == 0


def test_should_read_a_last_row_without_a_newline(tmp_path: Path):
    data = (HEADER_JA + "\n").encode() + good(0) + good(2).rstrip(b"\n")
    messages, _, _ = parse(_write(tmp_path, data))
    assert messages["text"].tolist() == ["good 0", 'good 2\nsecond "line"']


@pytest.mark.parametrize("tail", [b"downloadLogs error: boom", b"downloadLogs error: boom\n\n"])
def test_should_refuse_a_file_with_a_download_error_trailer(tmp_path: Path, tail: bytes):
    data = (HEADER_JA + "\n").encode() + good(0) + tail
    with pytest.raises(
        DownloadTrailerError, match=r"^line 3 is a 'downloadLogs error' trailer \(24 bytes\)"
    ) as exc:
        parse(_write(tmp_path, data))
    assert exc.value.line_number == 3 and exc.value.code is None
    assert "boom" not in str(exc.value)  # the trailer's text is not repeated


def test_should_not_mistake_a_message_line_for_the_download_error_trailer(tmp_path: Path):
    data = (HEADER_JA + "\n").encode() + good(0) + row(text="ログです\ndownloadLogs error: 冗談です")
    messages, _, _ = parse(_write(tmp_path, data))
    assert messages["text"].tolist() == ["good 0", "ログです\ndownloadLogs error: 冗談です"]


def test_should_refuse_unknown_settings():
    with pytest.raises(ValueError, match="timezone"):
        ParseSettings(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="chunk_rows"):
        ParseSettings(chunk_rows=0)


@pytest.mark.parametrize(
    ("header", "match", "reason"),
    [
        (
            b"foo,bar,baz\n",
            r"\(line 1; 3 cells\): no column for date, sender, recipient, text; no cell is a known column",
            "unknown_columns",
        ),
        (
            "日時,送信者,受信者,チャンネルID,イベント\n".encode(),
            r"line 1; 5 cells\): no column for text; recognised column 1 \(date\), column 2 \(sender\),"
            r" column 3 \(recipient\), column 4 \(channel\)\..* Column 5 is named like .*audit-log CSV",
            "unknown_columns",
        ),
        (
            "日時,送信者,受信者,チャンネルID,トーク\n".encode("shift_jis"),
            r"header line \(line 1, 39 bytes\) is not UTF-8 .*Shift_JIS.*convert the file to UTF-8",
            "not_utf8",
        ),
        (b"", r"empty: no header line \(0 blank line", "empty"),
        (b"\n\n", r"empty: no header line \(2 blank line", "empty"),
    ],
    ids=["unknown_names", "audit_log", "shift_jis", "empty", "blank_lines"],
)
def test_should_raise_a_clear_error_for_an_unknown_header(
    tmp_path: Path, header: bytes, match: str, reason: str
):
    with pytest.raises(UnknownHeaderError, match=match) as exc:
        parse(_write(tmp_path, header))
    assert exc.value.reason == reason
    assert "foo" not in str(exc.value) and "イベント," not in str(exc.value)  # no cell of the file


@pytest.mark.parametrize(
    ("header", "layout", "channel"),
    [
        ("日時,送信者,受信者,チャンネルID,トーク", "ja_JP", "ch-1"),
        ("日時,送信者,受信者,トークルームID,トーク", "ja_JP_legacy", "ch-1"),
        ("Date,Sender,Recipient,Channel ID,Message", "en_US", "ch-1"),
        (" date , SENDER,recipient,channel id,message", "en_US", "ch-1"),
    ],
)
def test_should_detect_header_layouts(tmp_path: Path, header: str, layout: str, channel: str):
    messages, _, parser = parse(_write(tmp_path, (header + "\n").encode() + good(0)))
    assert parser.layout.name == layout
    assert messages["channel_id"].tolist() == [channel]


def test_should_read_the_old_layout_without_a_channel(tmp_path: Path):
    data = b"Date,Sender,Recipient,Message\n2023-01-06 16:28:45,taro@example.com,[Bot]test,hi\n"
    messages, _, parser = parse(_write(tmp_path, data))
    assert parser.layout.name == "en_US_legacy"
    assert messages["channel_id"].tolist() == [""] and messages["text"].tolist() == ["hi"]


def test_should_find_columns_by_name_and_ignore_unknown_ones(tmp_path: Path):
    data = (
        "トーク,メモ,日時,受信者,送信者,チャンネルID\n"
        "hello,note,2026-11-20T11:00:00+09:00,b@example.com,a@example.com,ch\n"
    ).encode()
    messages, _, parser = parse(_write(tmp_path, data))
    assert parser.layout.name == "custom" and parser.layout.extra_positions == (1,)
    assert parser.layout.names == (
        "トーク",
        "",
        "日時",
        "受信者",
        "送信者",
        "チャンネルid",
    )  # known names only
    assert (
        parser.layout.describe(0) == "column 1 (text)" and parser.layout.describe(1) == "column 2 (ignored)"
    )
    got = messages.iloc[0]
    assert (got["text"], got["sender_email"], got["recipients_raw"], got["channel_id"]) == (
        "hello",
        "a@example.com",
        "b@example.com",
        "ch",
    )


def test_should_number_identical_rows_and_keep_counting_across_chunks(tmp_path: Path):
    same = row(text="了解です")
    other = row(text="別")
    data = (HEADER_JA + "\n").encode() + same + same + other + same + same
    one, _, _ = parse(_write(tmp_path, data), domain_id="1")
    assert one["ordinal"].tolist() == [0, 1, 0, 2, 3]
    assert one["message_key"].is_unique
    for rows in (1, 2, 3):
        chunked, _, _ = parse(_write(tmp_path, data), domain_id="1", chunk_rows=rows)
        pd.testing.assert_frame_equal(one, chunked)
    again, _, parser = parse(_write(tmp_path, data), domain_id="1")
    assert again["message_key"].tolist() == one["message_key"].tolist()
    assert parser.stats.duplicate_rows == 3


def test_should_report_rows_out_of_time_order(tmp_path: Path):
    late = row(date="2026-11-20T12:00:00+09:00")
    early = row(date="2026-11-20T08:00:00+09:00", text="early")
    data = (HEADER_JA + "\n").encode() + late + early
    _, _, parser = parse(_write(tmp_path, data), chunk_rows=1)
    assert parser.stats.out_of_order_rows == 1


def test_should_not_change_the_global_csv_field_limit(tmp_path: Path):
    before = csv.field_size_limit()
    parse(_write(tmp_path, build(CASES[0])[0]), strict=True)
    assert csv.field_size_limit() == before


def test_should_not_put_message_text_in_quarantine_details(tmp_path: Path):
    _, quarantined, _ = parse(
        _write(tmp_path, build(Case("x", row(sender=""), quarantine="missing_sender"))[0])
    )
    assert not re.search("hello", quarantined["detail"].iloc[0])
    assert quarantined["detail"].iloc[0] == "column 2 (sender) is empty or blank"


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("bad_date_word", r"^column 1 \(date\): 9 characters, not a date"),
        (
            "bad_date_month_13",
            r"^column 1 \(date\): 19 characters of digits and separators in no known format",
        ),
        ("bad_date_empty", r"^column 1 \(date\) is empty$"),
        ("header_repeated", r"^column 1 \(date\) holds the date column's name: a repeated header line\?$"),
        ("extra_cell", r"^expected 5 cells, found 6$"),
        ("two_cells", r"^expected 5 cells, found 2$"),
        ("nul_byte", r"^a NUL byte in column 5 \(text\) at byte 61 of the record \(63 bytes\)$"),
        (
            "shift_jis_bytes",
            r"^invalid UTF-8 in column 5 \(text\) at byte 58 of the record \(67 bytes\);"
            r" the record looks like Shift_JIS",
        ),
        ("broken_quote_after_close", r"^text after the closing quote of a cell"),
        ("unterminated_quote_at_eof", r"^a quoted cell is never closed"),
        ("lone_cr_in_unquoted_cell", r"^a lone CR \(no LF after it\) outside quotes"),
        ("message_1_000_001_chars", r"^column 5 \(text\) has 1,000,001 characters \(limit 1,000,000\)$"),
        ("empty_sender", r"^column 2 \(sender\) is empty or blank$"),
        ("empty_message", r"^column 5 \(text\) is empty"),
    ],
)
def test_should_say_where_and_why_in_quarantine_details(tmp_path: Path, case: str, detail: str):
    (found,) = [c for c in CASES if c.id == case]
    for strict in (False, True):
        _, quarantined, _ = parse(_write(tmp_path, build(found)[0]), strict=strict)
        assert re.search(detail, quarantined["detail"].iloc[0]), quarantined["detail"].iloc[0]
