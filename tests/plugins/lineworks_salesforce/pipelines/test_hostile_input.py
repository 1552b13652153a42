"""A hostile export through the archive step: bad rows are quarantined with a reason, good rows all load."""

from __future__ import annotations

import pytest

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.pipelines import Run, archive_file
from lineworks_salesforce.settings import load_settings

HEADER = "日時,送信者,受信者,チャンネルID,トーク\n".encode()
TARO = "山田 太郎 (taro@example.com)"


def _row(
    text: str,
    when: str = "2026-11-20T09:00:00+09:00",
    sender: str = "はなちゃん",
    to: str = TARO,
    channel: str = "ch-1",
) -> bytes:
    def q(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n\r') else cell

    return (",".join(q(c) for c in (when, sender, to, channel, text)) + "\n").encode("utf-8")


# (name, raw row, expected: "ok" = archived, or the quarantine reason)
HOSTILE: list[tuple[str, bytes, str]] = [
    ("month 13", _row("x", when="2026-13-01T09:00:00+09:00"), "bad_date"),
    ("hour 25", _row("x", when="2026-11-20 25:00:00"), "bad_date"),
    ("empty date", _row("x", when=""), "bad_date"),
    ("word date", _row("x", when="yesterday"), "bad_date"),
    ("30 February", _row("x", when="2026/02/30 10:00:00"), "bad_date"),
    ("extra column", b"2026-11-20T09:00:00+09:00,a,b,ch,text,extra\n", "bad_columns"),
    ("missing column", b"2026-11-20T09:00:00+09:00,a,b,ch\n", "bad_columns"),
    ("empty sender", _row("x", sender=""), "missing_sender"),
    ("empty message", _row(""), "empty_message"),
    ("NUL byte", _row("a\x00b"), "bad_encoding"),
    ("invalid UTF-8", b"2026-11-20T09:00:00+09:00,\xff\xfe,b,ch,text\n", "bad_encoding"),
    ("Shift_JIS", "2026-11-20T09:00:00+09:00,山田,b,ch,こんにちは\n".encode("shift_jis"), "bad_encoding"),
    ("encoded surrogate", b"2026-11-20T09:00:00+09:00,a,b,ch,\xed\xa0\x80\n", "bad_encoding"),
    ("1,000,001 characters", _row("長" * 1_000_001), "too_long"),
    ("1,000,000 characters", _row("長" * 1_000_000), "ok"),
    ("control characters", _row("bell\x07 and\x1b escape"), "ok"),
    ("formula =", _row("=SUM(A1:A9)"), "ok"),
    ("formula +", _row("+cmd|' /C calc'!A0"), "ok"),
    ("formula @", _row("@SUM(1+1)*cmd|' /C calc'!A0"), "ok"),
    ("formula -", _row("-1+2"), "ok"),
    ("ZWJ family", _row("👨\u200d👩\u200d👧\u200d👦 family"), "ok"),
    ("skin tone", _row("👍🏽 了解です"), "ok"),
    ("variation selector", _row("❤️ ありがとう"), "ok"),
    ("RTL text", _row("مرحبا بكم"), "ok"),
    ("ideographic spaces", _row("よろしく\u3000お願いします"), "ok"),
    ("half-width kana sender", _row("ﾃｽﾄ", sender="ｻﾄｳ ﾕｳｷ"), "ok"),
    ("bot without a name", _row("自動送信", sender="[Bot]"), "ok"),
    ("e-mail only", _row("メールのみ", sender="taro@example.com", to="はなちゃん"), "ok"),
    ("full-width parentheses", _row("全角括弧", sender="山田（taro@example.com）", to="はなちゃん"), "ok"),
    ("comma in a quoted name", _row("カンマ", sender='Yamada, "Ken"'), "ok"),
    ("no recipients", _row("宛先なし", to=""), "ok"),
    ("10,000 recipients", _row("一斉送信", to=", ".join(f"友だち{i}" for i in range(10_000))), "ok"),
    ("multi-line", _row("1行目\n2行目\n\n4行目"), "ok"),
    ("quotes", _row("He said \"hi\" and 'bye'"), "ok"),
    ("CRLF", _row("改行コード").replace(b"\n", b"\r\n"), "ok"),
    ("UTC Z time", _row("Z時刻", when="2026-11-20T00:00:00Z"), "ok"),
    ("slash date", _row("スラッシュ", when="2026/11/20 09:00:00"), "ok"),
    ("no seconds", _row("秒なし", when="2026-11-20 09:00"), "ok"),
    ("BOM inside a cell", _row("\ufeffBOM付き"), "ok"),
    ("tabs", _row("タブ\tあり"), "ok"),
    ("HTML", _row("<script>alert('x')</script>"), "ok"),
    ("SQL", _row("'); DROP TABLE lw_messages; --"), "ok"),
    ("10,000-character sender", _row("長い名前", sender="名" * 10_000), "ok"),
    ("surrogate-pair kanji", _row("𠮷野家で𩸽を食べた"), "ok"),
]


@pytest.fixture
def run(tmp_path) -> Run:
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    return Run(archive=archive, settings=load_settings(), run_id="hostile", domain_id="40029600")


def test_should_quarantine_bad_rows_and_load_every_good_row(run, tmp_path):
    assert len(HOSTILE) >= 40
    good = [_row(f"GOOD-{i}", when=f"2026-11-20T09:{i:02d}:00+09:00") for i in range(10)]
    body = bytearray(b"\xef\xbb\xbf" + HEADER)
    for i, (_, raw, _) in enumerate(HOSTILE):
        body += good[i % len(good)] if i < len(good) else b""
        body += raw
    path = tmp_path / "hostile.csv"
    path.write_bytes(bytes(body))

    result = archive_file(run, path)

    bodies = [r["body"] for r in run.archive.query_raw("SELECT body FROM lw_messages")]
    assert sorted(b for b in bodies if b.startswith("GOOD-")) == sorted(f"GOOD-{i}" for i in range(10))
    expected_quarantine = sorted(reason for _, _, reason in HOSTILE if reason != "ok")
    quarantined = run.archive.query_raw("SELECT reason FROM lw_quarantine")
    assert sorted(q["reason"] for q in quarantined) == expected_quarantine
    assert len(bodies) == 10 + sum(1 for *_, reason in HOSTILE if reason == "ok")  # nothing lost
    assert result["rows"] == 10 + len(HOSTILE)
    assert "'); DROP TABLE lw_messages; --" in bodies  # data, not SQL
    assert any(len(b) == 1_000_000 for b in bodies)
    assert "=SUM(A1:A9)" in bodies  # formulas are kept verbatim (Salesforce is not a spreadsheet)


def test_should_quarantine_each_row_once_when_the_file_is_archived_again(run, tmp_path):
    path = tmp_path / "again.csv"
    path.write_bytes(HEADER + _row("ok") + _row("x", when="yesterday"))
    archive_file(run, path)
    again = archive_file(run, path)
    assert again["new_messages"] == 0
    assert run.archive.counts()["lw_quarantine"] == 1
