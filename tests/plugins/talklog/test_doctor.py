"""The doctor: a report of how a real export parses, without printing personal data by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talklog.csvparse import ParseSettings
from talklog.doctor import doctor, main
from tests.plugins.talklog.helpers import HEADER_JA

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
    assert report["header"]["layout"] == "custom" and report["header"]["unknown_columns"] == ["メモ"]
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
        "bad_date": {"count": 1, "examples": [{"row_number": 5}]},
        "missing_sender": {"count": 1, "examples": [{"row_number": 6}]},
    }
    rc = report["recipients"]
    assert rc["with_several_emails"] == 1 and rc["separators_after_an_email"] == {"', '": 1}
    json.dumps(report, ensure_ascii=False)  # JSON-able


def test_should_print_a_bilingual_summary_without_message_text(export: Path, capsys):
    assert main([str(export)]) == 0
    out = capsys.readouterr().out
    assert "ヘッダー / header" in out and "日時の形式 / date formats: iso_offset 3, slash 1" in out
    assert "bad_date" in out and "missing_sender" in out and "メモ" in out
    assert "秘密" not in out
    assert main([str(export), "--show-text"]) == 0
    assert "秘密の内容その2" in capsys.readouterr().out


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
    assert "UnknownHeaderError" in out and "audit" in out and "イベント" in out
