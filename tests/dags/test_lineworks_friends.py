"""``lineworks_friends`` run by Airflow itself (``airflow dags test``), answered through the plugin's own
callback app, then ``lineworks_talk_logs``: the registration bot end to end against both sandboxes.

The plugin file's app (``lineworks_salesforce_plugin.callback_app``, what the API server mounts at
``/lineworks``) is served over HTTPS in this process with the demo company's connections; the reps' taps and
typed names are sent to it by the LINE WORKS sandbox's callback sender, signed as LINE WORKS signs them.
"""

from __future__ import annotations

import ast
import json
import re
import time

import pytest

from sandbox.demo_org import serve_reps
from tests.dags.org import RUN_DATE, Org

LATER = "2026-11-20T03:00:00+00:00"


@pytest.fixture
def bot(org: Org, sandbox_tls, monkeypatch):
    """The plugin's callback app on a free HTTPS port, registered as the bot's callback URL."""
    import lineworks_salesforce_plugin as plugin

    from operators import bot as bot_operators
    from sandbox.common.server import ThreadedServer

    for name, value in org.env.items():
        if name.startswith("AIRFLOW_CONN_"):
            monkeypatch.setenv(name, value)
    bot_operators._guard.cache_clear()
    bot_operators._salesforce.cache_clear()
    server = ThreadedServer(plugin.callback_app(), sandbox_tls).start()
    control = org.lineworks.control
    control.configure(callback_ca_bundle=org.lineworks.ca_bundle)
    control.call("POST", "/bots", org.lineworks.creds.bot_spec(server.url + "/callback"))
    serve_reps(org.salesforce.control, list(org.sf_user_of.values()))
    yield Talk(org)
    server.stop()
    bot_operators._guard.cache_clear()
    bot_operators._salesforce.cache_clear()


class Talk:
    """The reps' side of the bot: what it said to a member, and a tap or a text sent as a signed callback."""

    def __init__(self, org: Org) -> None:
        self.control, self.bot_id = org.lineworks.control, str(org.lineworks.creds.bot_id)

    def said(self, member: str | None = None) -> list[dict]:
        return [
            m["content"]
            for m in self.control.bot_messages(self.bot_id)
            if member is None or m["targetId"] == member
        ]

    def send(self, member: str, event: dict, replies: int = 1) -> list[dict]:
        before = len(self.said(member))
        sent = self.control.send_callback(self.bot_id, {**event, "userId": member})
        assert sent.get("delivered") and sent.get("status") == 200, sent
        deadline = time.monotonic() + 30
        while len(self.said(member)) < before + replies and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.said(member)[before:]

    def tap(self, member: str, label: str, postback: str) -> list[dict]:
        return self.send(member, {"type": "message", "text": label, "postback": postback})


def _talkers(org: Org) -> list[dict]:
    """The demo's friends who talk on the demo morning (some have no talks), in the directory's order."""
    people = "|".join(
        r for (r,) in org.lineworks.state._db.execute("SELECT sender || '|' || recipients FROM messages")
    )
    return [f for f in org.friends if f"f:{f['contactId']}" in people]


def _summary(done) -> dict:
    """The run's summary, as the task logged it."""
    found = re.findall(r"lineworks_friends summary: (\{[^\n]*?\})(?= \[|\n|$)", done.stdout + done.stderr)
    assert found, "no summary in the task log"
    return ast.literal_eval(found[-1])


def _sf(org: Org, query: str) -> list[dict]:
    return org.salesforce.simple_salesforce().query_all(query)["records"]


def test_should_register_link_and_ignore_friends_as_the_reps_answer_then_load_their_talks(org, bot):
    new, linked, ignored = _talkers(org)[:3]
    # a business card the rep of `linked` scanned before, in a folder they own: what the search finds
    folder = org.salesforce.control.seed(
        {
            "records": {
                "PhonebookFolder__c": [
                    {"Name": "名刺", "Type__c": "Personal", "OwnerId": org.sf_user_of[linked["master"]]}
                ]
            }
        }
    )["created"]["PhonebookFolder__c"][0]
    card = org.salesforce.control.seed(
        {"records": {"ExternalContact__c": [{"Name": f"{linked['display']}（名刺）", "Folder__c": folder}]}}
    )["created"]["ExternalContact__c"][0]

    first = _summary(org.dags_test("lineworks_friends", RUN_DATE))
    # first install: every friend, once, to each of its reps (a shared LINE friend is one contact per rep)
    buttons = [c for c in bot.said() if c["type"] == "button_template"]
    assert first["first_install"] and first["prompted"] == len(buttons) >= len(org.friends)
    assert (first["failed"], first["not_served"], first["left_for_next_run"]) == (0, 0, 0)
    for friend in (new, linked, ignored):
        (prompt,) = [c for c in bot.said(friend["master"]) if friend["contactId"] in json.dumps(c)]
        assert prompt["type"] == "button_template" and friend["display"] in prompt["contentText"]

    (done,) = bot.tap(new["master"], "新規登録", f"lwsf:new:{new['contactId']}")
    assert done["text"].startswith(f"社外連絡先「{new['display']}」を登録しました。")

    (ask,) = bot.tap(linked["master"], "既存の社外連絡先に紐づけ", f"lwsf:link:{linked['contactId']}")
    assert ask["text"] == "既存社外連絡先検索ワードを入力してください"
    intro, carousel = bot.send(linked["master"], {"type": "message", "text": linked["display"]}, replies=2)
    assert intro["text"].startswith("以下の候補から")
    pick = carousel["columns"][0]["actions"][0]["data"]
    assert pick == f"lwsf:pick:{linked['contactId']}:{card}"
    (done,) = bot.send(linked["master"], {"type": "postback", "data": pick})
    assert "を紐づけました" in done["text"]

    (done,) = bot.tap(ignored["master"], "対象外", f"lwsf:ignore:{ignored['contactId']}")
    assert done["text"] == f"「{ignored['display']}」さんは対象外にしました。"

    records = {
        r["LineWorksContactId__c"]: r
        for r in _sf(org, "SELECT Id, Name, LineWorksContactId__c, Folder__r.OwnerId FROM ExternalContact__c")
        if r["LineWorksContactId__c"]
    }
    assert set(records) == {new["contactId"], linked["contactId"]}
    assert records[linked["contactId"]]["Id"] == card
    exchanges = _sf(org, "SELECT Subject, WhatId, OwnerId FROM Task WHERE Subject LIKE '%LINE WORKS交換'")
    assert sorted((t["Subject"], t["WhatId"], t["OwnerId"]) for t in exchanges) == sorted(
        (f"{f['display']}さんがLINE WORKS交換", records[f["contactId"]]["Id"], org.sf_user_of[f["master"]])
        for f in (new, linked)
    )

    said = len(bot.said())
    again = _summary(org.dags_test("lineworks_friends", LATER))  # a later run: nobody is asked again
    assert (again["first_install"], again["queued"], again["prompted"], again["unlinked"]) == (False, 0, 0, 0)
    assert len(bot.said()) == said

    org.run()  # the talk logs of the morning: the two registered friends' talks land on their records
    tasks = [t for t in org.tasks() if t["ActivityKey__c"]]  # the talk-log Tasks (not the exchange Tasks)
    for friend in (new, linked):
        theirs = [t for t in tasks if friend["contactId"] in t["ActivityKey__c"]]
        assert theirs and {t["WhatId"] for t in theirs} == {records[friend["contactId"]]["Id"]}
    assert not [t for t in tasks if ignored["contactId"] in t["ActivityKey__c"]]
