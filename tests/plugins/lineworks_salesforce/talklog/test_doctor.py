"""The doctor: a report of how a real export parses, without printing any text of the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lineworks_salesforce.talklog.csvparse import ParseSettings
from lineworks_salesforce.talklog.doctor import doctor, main
from tests.plugins.lineworks_salesforce.talklog.helpers import HEADER_JA

ROWS = [
    "2026-11-20T10:00:00+09:00,山田 太郎 (taro@example.com),ﾀﾞｲｷ,ch-1,秘密の内容です",
    "2026-11-20T10:01:00+09:00,ﾀﾞｲｷ,"
    '"山田 太郎 (taro@example.com), 佐藤 花子 (hanako@example.com)",ch-1,(写真) a.jpg',
    "2026/11/20 10:02:00,[Bot]社外連絡先Bot,ﾀﾞｲｷ,ch-1,自動応答",
    "yesterday,山田 太郎 (taro@example.com),ﾀﾞｲｷ,ch-1,秘密の内容その2",
    "2026-11-20T10:03:00+09:00,,ﾀﾞｲｷ,ch-1,誰から",
]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    header = HEADER_JA + ",メモ"
    path.write_text("\ufeff" + header + "\n" + "\n".join(r + ",x" for r in ROWS) + "\n", encoding="utf-8")
    return path


def test_should_report_layout_counts_formats_kinds_and_quarantine(export: Path):
    report = doctor(export, ParseSettings())
    assert report["error"] is None
    assert report["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    assert report["size_bytes"] == export.stat().st_size
    assert report["header"]["layout"] == "custom" and report["header"]["unknown_columns"] == [6]
    assert report["header"]["roles"] == {"date": 1, "sender": 2, "recipient": 3, "channel": 4, "text": 5}
    assert report["header"]["columns"][0] == {"column": 1, "role": "date", "known_name": "日時"}
    assert report["header"]["columns"][5] == {"column": 6, "role": None, "known_name": None}
    assert report["rows"] == {
        "records": 5,
        "messages": 3,
        "quarantined": 2,
        "blank_lines": 0,
        "duplicate_rows": 0,
        "out_of_order_rows": 0,
    }
    assert report["date_formats"] == {"iso_offset": 3, "slash": 1}
    assert report["sender_kinds"] == {"member": 1, "external": 1, "bot": 1}
    assert report["content_kinds"] == {"text": 2, "photo": 1}
    assert report["quarantine"] == {
        "bad_date": {
            "count": 1,
            "examples": [
                {
                    "line": 5,
                    "data_row": 4,
                    "detail": "column 1 (date): 9 characters, not a date (letters or other characters)",
                }
            ],
        },
        "missing_sender": {
            "count": 1,
            "examples": [{"line": 6, "data_row": 5, "detail": "column 2 (sender) is empty or blank"}],
        },
    }
    rc = report["recipients"]
    assert rc["with_several_emails"] == 1 and rc["separators_after_an_email"] == {"', '": 1}
    json.dumps(report, ensure_ascii=False)  # JSON-able


def test_should_print_a_bilingual_summary_without_message_text(export: Path, capsys):
    assert main([str(export)]) == 0
    out = capsys.readouterr().out
    sha = hashlib.sha256(export.read_bytes()).hexdigest()
    assert out.splitlines()[1] == f"SHA-256 (出所ID / provenance id): {sha}"
    assert f"({export.stat().st_size:,} bytes)" in out.splitlines()[0]
    assert "ヘッダー / header" in out and "日時の形式 / date formats: iso_offset 3, slash 1" in out
    assert "1=date (日時), 2=sender (送信者)" in out and "unknown columns (ignored): 列 column 6" in out
    assert "データ4件目 data row 4, 5行目 file line 5: column 1 (date): 9 characters, not a date" in out
    assert "data row 5, 6行目 file line 6: column 2 (sender) is empty" in out
    assert f"sed -n '5p' {export}" in out
    assert (
        "秘密" not in out and "メモ" not in out and "yesterday" not in out
    )  # no cell, not even the header's
    with pytest.raises(SystemExit):  # --show-text is gone: the doctor never prints the file's text
        main([str(export), "--show-text"])


def test_should_print_json(export: Path, capsys):
    assert main([str(export), "--json", "--timezone", "UTC"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["timezone"] == "UTC"


def test_should_explain_a_file_it_cannot_read(tmp_path: Path, capsys):
    path = tmp_path / "audit.csv"
    path.write_text(
        "日時,送信者,受信者,チャンネルID,イベント\n2026/09/01 09:00:00,a,b,c,送信\n", encoding="utf-8"
    )
    assert main([str(path)]) == 2
    out = capsys.readouterr().out
    assert "UnknownHeaderError" in out and "audit" in out and "イベント" in out  # our own text
    assert "Column 5 is named like the event column" in out and "no column for text" in out
    assert "1行目 / first line: 57 bytes, looks like UTF-8" in out and "送信," not in out


@pytest.mark.parametrize("chunk_rows", [200_000, 2])  # the data row counts across chunks too
def test_should_give_the_data_row_and_the_file_line_where_they_differ(tmp_path: Path, chunk_rows: int):
    good = "2026-11-20T10:00:00+09:00,山田 太郎 (taro@example.com),ﾀﾞｲｷ,ch-1,"
    path = tmp_path / "multiline.csv"
    path.write_text(
        HEADER_JA
        + "\n"
        + good
        + '"一行目\n二行目\n三行目"\n'  # data row 1: file lines 2-4
        + "\n"  # a blank line: no data row
        + good
        + "ok\n"  # data row 2: line 6
        + "not a date,山田 太郎 (taro@example.com),ﾀﾞｲｷ,ch-1,x\n",  # data row 3: line 7
        encoding="utf-8",
    )
    report = doctor(path, ParseSettings(chunk_rows=chunk_rows))
    assert report["rows"]["records"] == 3 and report["rows"]["blank_lines"] == 1
    (example,) = report["quarantine"]["bad_date"]["examples"]
    assert (example["data_row"], example["line"]) == (3, 7)
