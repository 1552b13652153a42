"""``python -m lineworks_salesforce.talklog.doctor FILE``: how a real Monitoring CSV export parses (DESIGN
§4).

The format assumptions (header names, date format, person cells, recipient separator) are
UNCONFIRMED for real tenants; the doctor reads one export and reports, in Japanese and English,
what it found, so the first real tenant validates them in minutes:

- the file's SHA-256 and size (its provenance id: ``lineworks-salesforce archive forget --source
  <sha256>`` names the file by it; :func:`lineworks_salesforce.talklog.provenance.file_sha256`);
- the header line and layout detected: each column by position with the role and the known name it
  matched, unknown (ignored) columns by position;
- record, message, quarantine and blank-line counts;
- date formats seen (count per format), sender kinds, content kinds;
- quarantine reasons with up to three examples: the data row (the record's position after the header,
  blank lines not counted), the file line it starts on, and the reason's detail;
- recipient-separator hints: cells naming several e-mail addresses and what stands between them.

It prints no cell, header or line of the file (the parser's rule, see
:mod:`lineworks_salesforce.talklog.csvparse`):
messages are personal data, and a file that is not an export at all may be anything (a worker's
environment, a key). Positions, lengths, encodings and reasons instead; to look at a row, open the
file at that line yourself (the report says how).

Run with ``PYTHONPATH=plugins`` (Airflow puts ``plugins/`` on the path itself). Exit status: 0 when
the file parsed (even with quarantined rows), 2 when it cannot be parsed at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lineworks_salesforce.talklog.csvparse import (
    DownloadTrailerError,
    MessageCsvParser,
    ParseSettings,
    TalkLogInternalError,
    UnknownHeaderError,
    _failure,
    encoding_guess,
)
from lineworks_salesforce.talklog.people import split_recipients
from lineworks_salesforce.talklog.provenance import file_digest

__all__ = ["doctor", "main", "render"]

REASONS_JA_EN = {
    "bad_quoting": ("CSVの引用符が壊れている", "broken CSV quoting"),
    "bad_columns": ("列数がヘッダーと違う", "cell count differs from the header"),
    "bad_encoding": ("UTF-8でない文字 / NUL", "invalid UTF-8 or NUL"),
    "too_long": ("セルが長すぎる", "a cell is too long"),
    "bad_date": ("日時が読めない", "unreadable date"),
    "missing_sender": ("送信者が空", "empty sender"),
    "empty_message": ("トークが空", "empty message"),
}
_EMAIL_END_SEP = re.compile(
    r"[^\s@()（）<>＜＞,，;；]+@[^\s@()（）<>＜＞,，;；]+\.[^\s@()（）<>＜＞,，;；.]+[)）>＞]?"
    r"(?P<sep>\s*[,，;；、/|]\s*|\s+)(?=\S)"
)
_EMAIL = re.compile(r"[^\s@()（）<>＜＞,，;；]+@[^\s@()（）<>＜＞,，;；]+\.[^\s@()（）<>＜＞,，;；.]+")


def doctor(path: str | os.PathLike, settings: ParseSettings | None = None) -> dict:
    """Parse ``path`` completely and return the report as a JSON-able dict (no text of the file in it)."""
    settings = settings or ParseSettings()
    sha256, size = file_digest(path)
    report: dict[str, Any] = {
        "file": os.fspath(path),
        "sha256": sha256,
        "size_bytes": size,
        "settings": {
            "timezone": settings.timezone,
            "recipient_separator": settings.recipient_separator,
            "domain_id": settings.domain_id,
        },
        "error": None,
    }
    try:
        parser = MessageCsvParser(path, settings, source=os.path.basename(os.fspath(path)))
    except (UnknownHeaderError, DownloadTrailerError, TalkLogInternalError) as exc:
        report["error"] = _error(exc)
        report["first_line"] = _first_line(path)
        return report
    layout = parser.layout
    columns = []
    for i, name in enumerate(layout.names):
        role = next((r for r, at in layout.positions.items() if at == i), None)
        columns.append({"column": i + 1, "role": role, "known_name": name or None})
    report["header"] = {
        "line": parser.stats.header_line,
        "layout": layout.name,
        "cells": layout.ncols,
        "columns": columns,
        "roles": {role: i + 1 for role, i in sorted(layout.positions.items(), key=lambda x: x[1])},
        "unknown_columns": [i + 1 for i in layout.extra_positions if not layout.names[i]],
        "duplicate_columns": [i + 1 for i in layout.extra_positions if layout.names[i]],
    }
    examples: dict[str, list[dict[str, Any]]] = {}
    recipients: Counter = Counter()
    records_before = 0  # records (messages and quarantined rows) of the chunks already read
    try:
        for chunk in parser:
            lines = np.sort(
                np.concatenate(
                    [chunk.messages["row_number"].to_numpy(), chunk.quarantined["row_number"].to_numpy()]
                )
            )
            for row in chunk.quarantined.itertuples(index=False):
                ex = examples.setdefault(row.reason, [])
                if len(ex) < 3:  # the detail names positions and lengths, never the cell
                    line = int(row.row_number)
                    data_row = records_before + int(np.searchsorted(lines, line)) + 1
                    ex.append({"line": line, "data_row": data_row, "detail": row.detail})
            records_before += len(lines)
            vc = chunk.messages["recipients_raw"].value_counts(sort=False)
            recipients.update(dict(zip(vc.index.tolist(), vc.tolist())))
    except (DownloadTrailerError, TalkLogInternalError) as exc:
        report["error"] = _error(exc)
    except Exception as exc:  # a bug of the doctor itself: its message may quote the file
        report["error"] = {"type": "TalkLogInternalError", "message": _failure(exc, "summing up the file")}
    st = parser.stats
    report["rows"] = {
        "records": st.records,
        "messages": st.messages,
        "quarantined": sum(st.quarantined.values()),
        "blank_lines": st.blank_lines,
        "duplicate_rows": st.duplicate_rows,
        "out_of_order_rows": st.out_of_order_rows,
    }
    report["date_formats"] = dict(st.date_formats.most_common())
    report["sender_kinds"] = dict(st.sender_kinds.most_common())
    report["content_kinds"] = dict(st.content_kinds.most_common())
    report["quarantine"] = {
        reason: {"count": count, "examples": examples.get(reason, [])}
        for reason, count in st.quarantined.most_common()
    }
    report["recipients"] = _recipient_hints(recipients, settings.recipient_separator)
    report["strict_reading"] = {"chunks": st.strict_chunks, "from_line": st.strict_from_line}
    return report


def _recipient_hints(cells: Counter, separator: str) -> dict[str, Any]:
    total = sum(cells.values())
    empty = sum(c for cell, c in cells.items() if not cell.strip())
    several_emails = 0
    separators: Counter = Counter()
    pieces: Counter = Counter()
    for cell, count in cells.items():
        if len(_EMAIL.findall(cell)) >= 2:
            several_emails += count
            for m in _EMAIL_END_SEP.finditer(cell):
                separators[m.group("sep")] += count
        pieces[min(len(split_recipients(cell, separator)), 10)] += count
    return {
        "cells": total,
        "empty": empty,
        "with_several_emails": several_emails,
        "separators_after_an_email": {repr(k): v for k, v in separators.most_common(5)},
        "configured_separator": repr(separator),
        "people_per_cell": {("10+" if k == 10 else str(k)): v for k, v in sorted(pieces.items())},
    }


def _error(exc: Exception) -> dict[str, Any]:
    """The parser's errors name positions, sizes and reasons only, so their text can be shown."""
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, UnknownHeaderError):
        error["reason"] = exc.reason
    if getattr(exc, "line_number", None) is not None:
        error["line"] = exc.line_number
    return error


def _first_line(path: str | os.PathLike) -> dict[str, Any]:
    """The first line's size and what its bytes look like - not its text."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    nl = head.find(b"\n")
    line = head if nl < 0 else head[:nl]
    return {
        "bytes": None if nl < 0 else len(line),
        "line_break": nl >= 0,
        "bytes_read": len(head),
        "looks": encoding_guess(line),
    }


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "なし / none"


def render(report: dict) -> str:
    """The human-readable (Japanese + English) summary of a :func:`doctor` report."""
    out = [
        f"LINE WORKS トークCSV診断 / talk CSV doctor: {report['file']} ({report['size_bytes']:,} bytes)",
        f"SHA-256 (出所ID / provenance id): {report['sha256']}",
    ]
    err = report.get("error")
    if err and "header" not in report:
        out.append(f"読めません / cannot parse: {err['type']}: {err['message']}")
        first = report.get("first_line") or {}
        if first:
            size = (
                f"{first['bytes']:,} bytes"
                if first["line_break"]
                else f"改行なし / no line break in the first {first['bytes_read']:,} bytes"
            )
            out.append(f"1行目 / first line: {size}, {first['looks']}")
        return "\n".join(out)
    h = report["header"]
    out.append(
        f"ヘッダー / header: {h['line']}行目 line {h['line']}, 形式 layout {h['layout']},"
        f" {h['cells']}列 cells"
    )
    out.append(
        "列の対応 / columns: "
        + ", ".join(
            f"{c['column']}={c['role'] or '?'}" + (f" ({c['known_name']})" if c["known_name"] else "")
            for c in h["columns"]
        )
        + ("" if "channel" in h["roles"] else '  (チャンネル列なし / no channel column: channel_id = "")')
    )
    ignored = [f"列 column {c}" for c in h["unknown_columns"]]
    ignored += [f"列 column {c} (重複 duplicate)" for c in h["duplicate_columns"]]
    out.append("未知の列(無視) / unknown columns (ignored): " + (", ".join(ignored) or "なし / none"))
    r = report["rows"]
    out.append(
        f"行 / rows: レコード records {r['records']:,}, 取込可 messages {r['messages']:,}, "
        f"隔離 quarantined {r['quarantined']:,}, 空行 blank lines {r['blank_lines']:,}, "
        f"同一行 identical rows (ordinal>0) {r['duplicate_rows']:,}"
    )
    if r["out_of_order_rows"]:
        out.append(
            f"時刻順でない行 / rows out of time order: {r['out_of_order_rows']:,} "
            "(ordinals assume time order; see lineworks_salesforce.talklog.csvparse)"
        )
    out.append(f"日時の形式 / date formats: {_counts(report['date_formats'])}")
    out.append(f"送信者の種類 / sender kinds: {_counts(report['sender_kinds'])}")
    out.append(f"内容の種類 / content kinds: {_counts(report['content_kinds'])}")
    q = report["quarantine"]
    if q:
        out.append("隔離の理由 / quarantine reasons:")
        for reason, info in q.items():
            ja, en = REASONS_JA_EN.get(reason, ("", ""))
            out.append(f"  {reason} ({ja} / {en}): {info['count']:,}")
            for e in info["examples"]:
                row, line = f"{e['data_row']:,}", f"{e['line']:,}"
                out.append(f"    データ{row}件目 data row {row}, {line}行目 file line {line}: {e['detail']}")
        first = next(iter(q.values()))["examples"][:1]
        if first:
            n = first[0]["line"]
            out.extend(
                [
                    "  データ行 / data row: ヘッダーの後の何件目のレコードか (空行を除く)",
                    "    / the record's position after the header, blank lines not counted",
                    "  ファイル行 / file line: そのレコードが始まる物理行 / the physical line it starts on",
                    "    (改行を含むセルがあると異なる / a quoted cell with line breaks makes them differ)",
                ]
            )
            out.append(
                "  行の中身を見るには / to look at a row (個人データ / personal data):"
                f" sed -n '{n}p' {shlex.quote(report['file'])}"
            )
    else:
        out.append("隔離 / quarantine: なし / none")
    rc = report["recipients"]
    out.append(
        f"受信者セル / recipient cells: {rc['cells']:,} (空 empty {rc['empty']:,}, "
        f"複数のメール several e-mails {rc['with_several_emails']:,}); "
        f"区切り設定 configured separator {rc['configured_separator']}"
    )
    if rc["separators_after_an_email"]:
        out.append(
            f"  メールの後の区切り / separators after an e-mail: {_counts(rc['separators_after_an_email'])}"
        )
    out.append(f"  1セルの人数 / people per cell: {_counts(rc['people_per_cell'])}")
    s = report["strict_reading"]
    if s["chunks"] or s["from_line"]:
        out.append(
            f"厳密読み / strict re-reading: {s['chunks']} chunk(s)"
            + (
                f", rest of the file from line {s['from_line']} (unterminated quote)"
                if s["from_line"]
                else ""
            )
        )
    if err:
        out.append(f"エラー / error: {err['type']}: {err['message']}")
    return "\n".join(out)


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The doctor's options (``python -m …talklog.doctor`` and ``lineworks-salesforce doctor``)."""
    ap.add_argument("file", help="the CSV file (message contents download or admin-console export)")
    ap.add_argument("--timezone", default="Asia/Tokyo", help="timezone of dates without an offset")
    ap.add_argument("--separator", default=", ", help="separator between recipients in one cell")
    ap.add_argument("--domain-id", default="", help="LINE WORKS domain id (only used for keys)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    return ap


def run(args: argparse.Namespace) -> int:
    """Print the report of ``args.file``; 0 when it parsed (even with quarantined rows), 2 when it cannot."""
    settings = ParseSettings(
        timezone=args.timezone, recipient_separator=args.separator, domain_id=args.domain_id
    )
    if not os.path.isfile(args.file):
        print("doctor: not a readable regular file (missing, a folder or a device)", file=sys.stderr)
        return 2
    try:
        report = doctor(args.file, settings)
    except OSError as exc:
        print(f"doctor: the file cannot be read ({type(exc).__name__})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=_json_default))
    else:
        print(render(report))
    return 2 if report["error"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m lineworks_salesforce.talklog.doctor",
        description="Report how a LINE WORKS Monitoring CSV export parses.",
    )
    return run(add_arguments(ap).parse_args(argv))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
