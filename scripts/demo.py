"""``make demo``: the LINE WORKS side end to end against the local sandbox.

Starts the LINE WORKS sandbox (a real HTTPS server, in its own process) with the seeded demo company,
points the ``lineworks_default`` connection at it, and uses :class:`hooks.lineworks.LineWorksHook`
exactly as the DAGs do: lists members and LINE friends, has the bot greet a rep, and downloads one
hour of talk through the Monitoring API (302 to another host, streamed, BOM stripped).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from sandbox.__main__ import scenario_spec  # noqa: E402
from sandbox.credentials import ensure_credentials  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402

STATE_DIR = ROOT / ".sandbox" / "demo"
JST = timezone(timedelta(hours=9))
HOUR = datetime(2026, 11, 20, 9, 0, tzinfo=JST)  # the demo scenario's first hour


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", "⏎")
    out = ""
    for c in text:
        if _width(out + c) > width - 2:
            return out + "… " + " " * (width - 2 - _width(out))
        out += c
    return out + " " * (width - _width(out))


def main() -> int:
    creds = ensure_credentials(STATE_DIR)
    with SandboxProcess(STATE_DIR) as sandbox:
        url, control, ca_bundle = sandbox.url, sandbox.control, sandbox.ca_bundle
        control.reset()
        rows = control.seed(scenario_spec("demo", 42, creds))["rows"]
        print(f"LINE WORKS sandbox: {url}  (TLS from a local CA: {Path(ca_bundle).relative_to(ROOT)})")
        print(
            f"seeded demo company: {rows['users']} members, {rows['contacts']} LINE friends, "
            f"{rows['rooms']} rooms, {rows['messages']} messages\n"
        )

        # The only thing that differs from production: the connection.
        os.environ["AIRFLOW_CONN_LINEWORKS_DEFAULT"] = json.dumps(creds.connection(url, ca_bundle))
        from hooks.lineworks import LineWorksHook

        hook = LineWorksHook("lineworks_default")
        ok, message = hook.test_connection()
        print(f"test_connection: {ok} — {message}\n")

        members = {u["userId"]: u for u in hook.list_users()}
        print("members (GET /users):")
        for user in members.values():
            name = f"{user['userName']['lastName']} {user['userName']['firstName']}"
            kana = f"{user['userName']['phoneticLastName']} {user['userName']['phoneticFirstName']}"
            print(f"  {_cut(name, 12)} {_cut(kana, 16)} {user['email']}")

        print("\nLINE friends (GET /contacts?searchFilterType=LINKED_EXTERNAL_USER):")
        for friend in hook.list_friends():
            owner = members[friend["linkedExternalUser"]["buddyUserIds"][0]]
            display = friend["contactName"]["lastName"] + friend["contactName"]["firstName"]
            owner_name = f"{owner['userName']['lastName']} {owner['userName']['firstName']}"
            print(f"  {_cut(display, 22)} friend of {owner_name}  (contactId {friend['contactId'][:8]}…)")

        rep = next(iter(members.values()))
        hook.send_message_to_user(
            rep["email"], {"type": "text", "text": "社外連絡先の登録をお手伝いします。"}
        )
        said = control.bot_messages(creds.bot_id)
        print(f"\nbot said to {rep['email']}: {said[-1]['content']['text']}")

        dest = ROOT / ".staging" / "demo" / f"message-contents-{HOUR:%Y%m%d%H}.csv"
        result = hook.download_message_contents(HOUR, HOUR + timedelta(hours=1), dest)
        with open(result.path, encoding="utf-8", newline="") as fh:
            rows_ = list(csv.DictReader(fh))
        print(
            f"\nmessage contents {HOUR:%Y-%m-%d %H:%M}–{HOUR + timedelta(hours=1):%H:%M} JST "
            f"(Monitoring API, 302 → other host): {len(rows_)} rows, {result.bytes:,} bytes → "
            f"{Path(result.path).relative_to(ROOT)}"
        )
        print(f"  {_cut('日時', 10)}{_cut('送信者', 24)}{_cut('受信者', 24)}トーク")
        for row in rows_[:12]:
            print(
                f"  {_cut(row['日時'][11:19], 10)}{_cut(row['送信者'], 24)}{_cut(row['受信者'], 24)}"
                f"{_cut(row['トーク'], 40)}"
            )
        if len(rows_) > 12:
            print(f"  … {len(rows_) - 12} more")
        kinds = Counter(
            "bot"
            if r["送信者"].startswith("[Bot]")
            else "photo"
            if r["トーク"].startswith("(写真)")
            else "stamp"
            if r["トーク"].startswith("https://stickershop")
            else "location"
            if r["トーク"].startswith("(位置情報)")
            else "multi-line"
            if "\n" in r["トーク"]
            else "text"
            for r in rows_
        )
        print(f"  kinds: {dict(kinds)}")
        calls = control.stats()["calls"]
        print(f"\nAPI calls seen by the sandbox: {json.dumps(calls)}")
        print("\nNext steps of the pipeline (archive → activities → Salesforce) come with later issues.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
