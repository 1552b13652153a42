"""The registration conversation against both sandboxes: 新規登録, 既存の社外連絡先に紐づけ → search → tap,
対象外, and every tap the bot must not honour."""

from __future__ import annotations

import pytest

from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.bot.callback import BotEvent
from lineworks_salesforce.bot.conversation import ASK_WORD, HELP_TEXT, STALE, TAKEN, Conversation
from tests.plugins.lineworks_salesforce.pipelines.test_friends import MATSUYAMA, TANAKA, _run, tenant  # noqa: F401


@pytest.fixture
def bot(tenant, salesforce_sandbox):  # noqa: F811 - the fixture imported above
    _run(tenant)  # the first-install prompts
    sf = salesforce_sandbox.simple_salesforce()
    tanaka = sf.query("SELECT Id FROM User WHERE Email = 'tanaka@example.com'")["records"][0]["Id"]
    folder = salesforce_sandbox.control.seed(
        {"records": {"PhonebookFolder__c": [{"Name": "営業1課", "Type__c": "Team", "OwnerId": tanaka}]}}
    )["created"]["PhonebookFolder__c"][0]
    salesforce_sandbox.control.seed(
        {
            "records": {
                "ExternalContact__c": [
                    {
                        "Name": "山本 由紀",
                        "LastName__c": "山本",
                        "FirstName__c": "由紀",
                        "LastNameKana__c": "ヤマモト",
                        "FirstNameKana__c": "ユキ",
                        "CompanyName__c": "株式会社ユキ",
                        "Folder__c": folder,
                    },
                    {
                        "Name": "雪村 一",
                        "LastNameKana__c": "ユキムラ",
                        "Folder__c": folder,
                        "LineWorksContactId__c": "c-someone-else",
                    },
                ]
            }
        }
    )
    conversation = Conversation(tenant.archive, LineWorksHook(), SalesforceActivityHook())
    return conversation, sf, tanaka


def _holding(sf, contact_id: str) -> int:
    """How many 社外連絡先 hold the LINE WORKS contact id."""
    soql = f"SELECT COUNT() FROM ExternalContact__c WHERE LineWorksContactId__c = '{contact_id}'"
    return sf.query(soql)["totalSize"]


def _tap(conversation, member, postback, kind="message"):
    if kind == "message":
        return conversation.handle(BotEvent("message", member, None, text="x", postback=postback))
    return conversation.handle(BotEvent("postback", member, None, postback=postback))


def _type(conversation, member, text):
    return conversation.handle(BotEvent("message", member, None, text=text))


def _last(lineworks_sandbox, member, n=1):
    said = [
        m["content"]
        for m in lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)
        if m["targetId"] == member
    ]
    return said[-n:]


def test_should_register_a_new_friend_with_its_exchange_task_once(bot, lineworks_sandbox):
    conversation, sf, tanaka = bot
    assert _tap(conversation, TANAKA, "lwsf:new:c-hana") == "new"
    (reply,) = _last(lineworks_sandbox, TANAKA)
    assert (
        reply["text"].startswith("社外連絡先「はなちゃん」を登録しました。")
        and "本名とフリガナ" in reply["text"]
    )
    records = sf.query(
        "SELECT Id, Name, LineDisplayName__c, MasterUserId__c, Folder__r.Name, Folder__r.OwnerId "
        "FROM ExternalContact__c WHERE LineWorksContactId__c = 'c-hana'"
    )["records"]
    assert [(r["Name"], r["MasterUserId__c"], r["Folder__r"]["OwnerId"]) for r in records] == [
        ("はなちゃん", TANAKA, tanaka)
    ]
    assert f"/lightning/r/{records[0]['Id']}/view" in reply["text"]
    tasks = sf.query("SELECT Subject, WhatId, OwnerId FROM Task")["records"]
    assert [(t["Subject"], t["WhatId"], t["OwnerId"]) for t in tasks] == [
        ("はなちゃんさんがLINE WORKS交換", records[0]["Id"], tanaka)
    ]

    assert _tap(conversation, TANAKA, "lwsf:new:c-hana") == "stale tap"  # twice: nothing more
    assert _tap(conversation, MATSUYAMA, "lwsf:new:c-hana") == "stale tap"  # not asked about this friend
    assert _last(lineworks_sandbox, MATSUYAMA)[0]["text"] == STALE
    assert (
        sf.query("SELECT COUNT() FROM ExternalContact__c WHERE LineWorksContactId__c = 'c-hana'")["totalSize"]
        == 1
    )
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == 1


def test_should_link_an_existing_contact_found_by_name(bot, lineworks_sandbox):
    conversation, sf, tanaka = bot
    assert _tap(conversation, TANAKA, "lwsf:link:c-both") == "asked for a search word"
    assert _last(lineworks_sandbox, TANAKA)[0]["text"] == ASK_WORD
    assert _type(conversation, TANAKA, "ゆき") == "2 candidates"
    intro, carousel = _last(lineworks_sandbox, TANAKA, 2)
    assert intro["text"] == "以下の候補からゆきと紐づけるユーザーを選択して下さい。(検索上位7件を表示します)"
    titles = [c["title"] for c in carousel["columns"]]
    assert titles == ["山本 由紀", "雪村 一", "新規登録", "もう一度検索"]
    assert {len(c["actions"]) for c in carousel["columns"]} == {1}
    yamamoto = carousel["columns"][0]["actions"][0]["data"]
    taken = carousel["columns"][1]["actions"][0]["data"]

    assert _tap(conversation, TANAKA, taken, kind="postback") == "taken"  # holds another friend's id
    assert _last(lineworks_sandbox, TANAKA)[0]["text"] == TAKEN
    assert _tap(conversation, TANAKA, yamamoto, kind="postback") == "pick"
    linked = sf.query(
        "SELECT Name, LineDisplayName__c FROM ExternalContact__c WHERE LineWorksContactId__c = 'c-both'"
    )
    assert [(r["Name"], r["LineDisplayName__c"]) for r in linked["records"]] == [("山本 由紀", "ゆき")]
    assert [t["Subject"] for t in sf.query("SELECT Subject FROM Task")["records"]] == [
        "ゆきさんがLINE WORKS交換"
    ]
    assert _tap(conversation, TANAKA, yamamoto, kind="postback") == "stale tap"
    assert _type(conversation, TANAKA, "ゆき") == "help"  # the search is over


def test_should_offer_new_or_search_again_when_nothing_matches(bot, lineworks_sandbox):
    conversation, _, _ = bot
    _tap(conversation, TANAKA, "lwsf:link:c-hana")
    assert _type(conversation, TANAKA, "存在しない名前") == "no candidates"
    (offer,) = _last(lineworks_sandbox, TANAKA)
    assert offer["contentText"] == "該当する社外連絡先が見つかりませんでした。"
    assert [a["label"] for a in offer["actions"]] == ["新規登録", "もう一度検索"]


def test_should_remember_an_ignored_friend_and_refuse_junk(bot, lineworks_sandbox):
    conversation, sf, _ = bot
    assert _tap(conversation, MATSUYAMA, "lwsf:ignore:c-both") == "ignored"
    assert _tap(conversation, MATSUYAMA, "lwsf:new:c-both") == "stale tap"
    for junk in ("lwsf:new:", "lwsf:drop:c-both", "lwsf:pick:c-both", "x" * 400, "' OR 1=1"):
        assert _tap(conversation, MATSUYAMA, junk) == "unknown tap"
    assert _type(conversation, MATSUYAMA, "こんにちは") == "help"
    assert _last(lineworks_sandbox, MATSUYAMA)[0]["text"] == HELP_TEXT
    assert (
        sf.query("SELECT COUNT() FROM ExternalContact__c WHERE LineWorksContactId__c = 'c-both'")["totalSize"]
        == 0
    )
