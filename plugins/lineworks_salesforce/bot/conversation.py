"""The registration conversation: what the bot does with a rep's tap or typed text (DESIGN §1–3).

A tap carries ``lwsf:<action>:<contact id>[:<record id>]`` (the prompts of :mod:`~lineworks_salesforce.
pipelines.friends`, the search carousel). A tap is honoured only from the member the bot asked about that
contact (``lw_friend_prompts``) while the question is open; anything else — a stale, foreign or repeated
tap — gets a clear answer and changes nothing. State lives in the archive, never in process memory.

- 新規登録 (``new``): a 社外連絡先 (Name = the LINE display name, the contact id, the display name, the master
  member) in the rep's personal folder, an exchange Task 「〇〇さんがLINE WORKS交換」 on it, and a reply with
  the record's link and a reminder to fill in the real name and kana.
- 既存の社外連絡先に紐づけ (``link``): 「既存社外連絡先検索ワードを入力してください」; the rep's next text is
  searched (:func:`lineworks_salesforce.names.search`, the rep's folders only) and answered with a carousel
  of up to 7 candidates plus 新規登録 and もう一度検索; a tap on a candidate (``pick``) writes the contact id
  onto it (never over another friend's) and adds the exchange Task.
- 対象外 (``ignore``): remembered; the bot does not ask again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.bot.callback import BotEvent
from lineworks_salesforce.names import Candidate, NameQueryError, search
from lineworks_salesforce.pipelines.friends import POSTBACK, served_members
from lineworks_salesforce.salesforce_model.soql import soql

OPEN = frozenset({"prompted", "searching"})  # a question the rep may still answer
SEARCH_EXPIRES = timedelta(minutes=30)
PERSONAL_FOLDER = "LINE WORKS"  # created for a rep who owns no personal folder yet

HELP_TEXT = (
    "社外連絡先Botです。お客様がLINEで友だちになると、約10分後にこちらから社外連絡先への登録方法を"
    "お尋ねします。表示されたボタンから選んでください。"
)
STALE = "この操作は受け付けられませんでした（処理済みか、あなた宛ての確認ではありません）。"
NOT_SERVED = (
    "このBotを使うには、Salesforceで「LINE WORKS ユーザー」権限セットが必要です。"
    "管理者にお問い合わせください。"
)
TAKEN = "この社外連絡先は既に別のLINEの友だちと紐づいています。別の候補を選んでください。"
ASK_WORD = "既存社外連絡先検索ワードを入力してください"


class Messenger(Protocol):
    def get_user(self, user_id: str) -> dict[str, Any]: ...
    def list_users(self) -> Iterable[dict[str, Any]]: ...
    def send_message_to_user(self, user_id: str, content: dict[str, Any]) -> None: ...


class Salesforce(Protocol):
    def query_records(self, soql: str) -> Iterable[dict[str, Any]]: ...
    def create_record(self, sobject: str, values: dict[str, Any]) -> str: ...
    def update_record(self, sobject: str, record_id: str, values: dict[str, Any]) -> None: ...
    def record_url(self, record_id: str) -> str: ...


@dataclass(frozen=True)
class Tap:
    action: str
    contact_id: str
    record_id: str | None = None


def parse_tap(postback: str | None) -> Tap | None:
    """``lwsf:<action>:<contact id>[:<record id>]`` → :class:`Tap` (``None`` for anything else)."""
    if not postback or not postback.startswith("lwsf:") or len(postback) > 300:
        return None
    parts = postback.split(":")
    if len(parts) == 3 and parts[1] in ("new", "link", "ignore") and parts[2]:
        return Tap(parts[1], parts[2])
    if len(parts) == 4 and parts[1] == "pick" and parts[2] and parts[3]:
        return Tap("pick", parts[2], parts[3])
    return None


class Conversation:
    """Handles one accepted callback event (the callback app's background task)."""

    def __init__(self, archive: Archive, lineworks: Messenger, salesforce: Salesforce, run_id: str = "bot"):
        self.archive, self.lineworks, self.salesforce, self.run_id = archive, lineworks, salesforce, run_id

    def handle(self, event: BotEvent) -> str:
        """Answer the rep; returns what happened (for the log: never a name or a text)."""
        member = event.user_id
        if not member or event.type not in ("message", "postback"):
            return "ignored"
        if event.postback is not None:
            tap = parse_tap(event.postback)
            if tap is None:
                return self._say(member, STALE, "unknown tap")
            return self._tap(member, tap)
        return self._text(member, event.text or "")

    # --- taps ------------------------------------------------------------------------------------
    def _tap(self, member: str, tap: Tap) -> str:
        prompt = self._prompt(tap.contact_id, member)
        if prompt is None or prompt["status"] not in OPEN:
            return self._say(member, STALE, "stale tap")
        rep = self._rep(member)
        if rep is None:
            return self._say(member, NOT_SERVED, "not served")
        name = prompt["display_name"]
        if tap.action == "ignore":
            self._set(tap.contact_id, member, name, "ignored")
            return self._say(member, f"「{name}」さんは対象外にしました。", "ignored")
        if tap.action == "link":
            self._set(tap.contact_id, member, name, "searching")
            return self._say(member, ASK_WORD, "asked for a search word")
        if self._registered(tap.contact_id):
            self._set(tap.contact_id, member, name, "registered")
            return self._say(member, f"既に{name}さんは社外連絡先に作成済です", "already registered")
        if tap.action == "new":
            record_id = self.salesforce.create_record(
                "ExternalContact__c",
                {
                    "Name": name[:80] or tap.contact_id,
                    "LineWorksContactId__c": tap.contact_id,
                    "LineDisplayName__c": name[:255],
                    "MasterUserId__c": member,
                    "Folder__c": self._personal_folder(rep),
                },
            )
            done = f"社外連絡先「{name}」を登録しました。"
        else:  # pick
            record = self._candidate(tap.record_id or "", rep)
            if record is None:
                return self._say(member, STALE, "pick outside the rep's folders")
            if record.get("LineWorksContactId__c") not in (None, "", tap.contact_id):
                return self._say(
                    member,
                    "この社外連絡先は既に別のLINEの友だちと紐づいています。別の候補を選んでください。",
                    "taken",
                )
            record_id = record["Id"]
            self.salesforce.update_record(
                "ExternalContact__c",
                record_id,
                {"LineWorksContactId__c": tap.contact_id, "LineDisplayName__c": name},
            )
            done = f"社外連絡先「{record.get('Name') or name}」と「{name}」さんを紐づけました。"
        self.salesforce.create_record(
            "Task",
            {
                "Subject": f"{name}さんがLINE WORKS交換"[:255],
                "WhatId": record_id,
                "OwnerId": rep,
                "ActivityDate": date.today().isoformat(),
                "Status": "Completed",
            },
        )
        self._set(tap.contact_id, member, name, "registered")
        url = self.salesforce.record_url(record_id)
        return self._say(member, f"{done}\n{url}\n本名とフリガナの入力をお願いします。", tap.action)

    # --- typed text --------------------------------------------------------------------------------
    def _text(self, member: str, text: str) -> str:
        waiting = self._searching(member)
        if waiting is None:
            return self._say(member, HELP_TEXT, "help")
        rep = self._rep(member)
        if rep is None:
            return self._say(member, NOT_SERVED, "not served")
        contact_id, name = waiting["contact_id"], waiting["display_name"]
        try:
            found = search(text, rep, self.salesforce)
        except NameQueryError as exc:
            return self._say(member, str(exc), "bad search word")
        if not found:
            self.lineworks.send_message_to_user(member, _no_hit(contact_id))
            return "no candidates"
        self.lineworks.send_message_to_user(
            member,
            {
                "type": "text",
                "text": f"以下の候補から{name}と紐づけるユーザーを選択して下さい。(検索上位7件を表示します)",
            },
        )
        self.lineworks.send_message_to_user(member, _carousel(found, contact_id))
        return f"{len(found)} candidates"

    # --- state and look-ups ------------------------------------------------------------------------
    def _prompt(self, contact_id: str, member: str) -> dict[str, Any] | None:
        rows = self.archive.query("friend_prompt", {"contact_id": contact_id, "member_user_id": member})
        return rows[0] if rows else None

    def _searching(self, member: str) -> dict[str, Any] | None:
        """The member's most recent open search (an older one is answered no more)."""
        since = (datetime.now(timezone.utc) - SEARCH_EXPIRES).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = self.archive.query("member_searching", {"member_user_id": member, "since": since})
        return rows[0] if rows else None

    def _set(self, contact_id: str, member: str, name: str, status: str) -> None:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.archive.execute(
            "set_friend_prompt",
            {
                "contact_id": contact_id,
                "member_user_id": member,
                "display_name": name,
                "status": status,
                "updated_at": now,
                "run_id": self.run_id,
            },
        )

    def _rep(self, member: str) -> str | None:
        """The member's Salesforce User Id when the member is served."""
        return served_members([self.lineworks.get_user(member)], self.salesforce).get(member)

    def _registered(self, contact_id: str) -> bool:
        found = self.salesforce.query_records(
            soql("SELECT Id FROM ExternalContact__c WHERE LineWorksContactId__c = {c} LIMIT 1", c=contact_id)
        )
        return any(True for _ in found)

    def _candidate(self, record_id: str, rep: str) -> dict[str, Any] | None:
        rows = list(
            self.salesforce.query_records(
                soql(
                    "SELECT Id, Name, LineWorksContactId__c FROM ExternalContact__c "
                    "WHERE Id = {r} AND Folder__r.OwnerId = {o} LIMIT 1",
                    r=record_id,
                    o=rep,
                )
            )
        )
        return rows[0] if rows else None

    def _personal_folder(self, rep: str) -> str:
        rows = list(
            self.salesforce.query_records(
                soql(
                    "SELECT Id FROM PhonebookFolder__c WHERE OwnerId = {o} AND Type__c = 'Personal' "
                    "ORDER BY Name LIMIT 1",
                    o=rep,
                )
            )
        )
        if rows:
            return rows[0]["Id"]
        return self.salesforce.create_record(
            "PhonebookFolder__c", {"Name": PERSONAL_FOLDER, "Type__c": "Personal", "OwnerId": rep}
        )

    def _say(self, member: str, text: str, outcome: str) -> str:
        self.lineworks.send_message_to_user(member, {"type": "text", "text": text})
        return outcome


def _data(action: str, contact_id: str) -> str:
    return POSTBACK.format(action=action, contact_id=contact_id)


def _no_hit(contact_id: str) -> dict[str, Any]:
    return {
        "type": "button_template",
        "contentText": "該当する社外連絡先が見つかりませんでした。",
        "actions": [
            {"type": "message", "label": "新規登録", "postback": _data("new", contact_id)},
            {"type": "message", "label": "もう一度検索", "postback": _data("link", contact_id)},
        ],
    }


def _column(title: str, text: str, label: str, data: str) -> dict[str, Any]:
    """A carousel column with one postback action (every column must have as many)."""
    return {
        "title": title[:40],
        "text": text[:120] or "—",
        "actions": [{"type": "postback", "label": label, "data": data}],
    }


def _carousel(found: list[Candidate], contact_id: str) -> dict[str, Any]:
    """Up to 7 candidates, then 新規登録 and もう一度検索."""
    columns = [
        _column(
            c.name or "（名前なし）",
            " / ".join(x for x in (c.kana, c.company, c.folder) if x),
            "この連絡先に紐づけ",
            f"lwsf:pick:{contact_id}:{c.id}",
        )
        for c in found[:7]
    ]
    columns.append(
        _column("新規登録", "候補にない場合は新しく登録します", "新規登録", _data("new", contact_id))
    )
    columns.append(
        _column("もう一度検索", "別の検索ワードで探します", "もう一度検索", _data("link", contact_id))
    )
    return {"type": "carousel", "columns": columns}
