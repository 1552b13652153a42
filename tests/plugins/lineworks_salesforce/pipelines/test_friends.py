"""``lineworks_friends``' step against both sandboxes: who is served, who is asked, once, and what."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.pipelines import Run, friends
from lineworks_salesforce.pipelines.friends import prompt_new_friends
from lineworks_salesforce.settings import load_settings

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)  # 09:00 JST
TANAKA, MATSUYAMA, OKADA = "u-tanaka", "u-matsuyama", "u-okada"  # okada holds no permission set


def _contact(cid: str, name: str, buddies: list[str], created: datetime) -> dict:
    return {
        "displayName": name,
        "createdTime": created.isoformat(),
        "contact": {
            "contactId": cid,
            "contactName": {"lastName": name, "firstName": ""},
            "linkedExternalUser": {"id": f"U-{cid}", "type": "LINE", "buddyUserIds": buddies},
            "permission": {"masterUserId": buddies[0], "accessibleRange": "MEMBER"},
        },
    }


@pytest.fixture
def tenant(lineworks_sandbox, lineworks_conn, salesforce_sandbox, salesforce_conn, tmp_path):
    lineworks_sandbox.seed(
        {
            "users": [
                {"userId": TANAKA, "email": "tanaka@example.com", "userName": {"lastName": "田中"}},
                {"userId": MATSUYAMA, "email": "yuko@example.com", "userName": {"lastName": "松山"}},
                {"userId": OKADA, "email": "okada@example.com", "userName": {"lastName": "岡田"}},
            ],
            "contacts": [
                _contact("c-hana", "はなちゃん", [TANAKA], T0 - timedelta(days=30)),
                _contact("c-ken", "ケン", [MATSUYAMA], T0 - timedelta(days=20)),  # already a 社外連絡先
                _contact("c-oka", "岡田さんの友だち", [OKADA], T0 - timedelta(days=10)),
                _contact("c-both", "ゆき", [TANAKA, MATSUYAMA], T0 - timedelta(days=5)),
            ],
        }
    )
    lineworks_conn(domain_id=str(lineworks_sandbox.control.stats()["domainId"]))
    salesforce_conn(backoff_base=0.01, backoff_max=0.05)
    control = salesforce_sandbox.control
    users = control.seed(
        {
            "records": {
                "User": [
                    {"Username": "tanaka@example.com", "Email": "tanaka@example.com", "LastName": "田中"},
                    # matched by LineWorksUserId__c, whatever the e-mail says
                    {
                        "Username": "m@example.com",
                        "Email": "other@example.com",
                        "LastName": "松山",
                        "LineWorksUserId__c": MATSUYAMA,
                    },
                    {"Username": "okada@example.com", "Email": "okada@example.com", "LastName": "岡田"},
                ]
            }
        }
    )["created"]["User"]
    sets = control.seed(
        {
            "records": {
                "PermissionSet": [
                    {"Name": "LineWorks_User", "Label": "LINE WORKS User"},
                    {"Name": "Other", "Label": "Other"},
                ]
            }
        }
    )["created"]["PermissionSet"]
    control.seed(
        {
            "records": {
                "PermissionSetAssignment": [
                    {"AssigneeId": users[0], "PermissionSetId": sets[0]},
                    {"AssigneeId": users[1], "PermissionSetId": sets[0]},
                    {"AssigneeId": users[2], "PermissionSetId": sets[1]},
                ],
                "ExternalContact__c": [{"Name": "ケン（見込み客）", "LineWorksContactId__c": "c-ken"}],
            }
        }
    )
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    return Run(archive, load_settings(), "scheduled__1", domain_id="10000001")


def _with(run, **settings):
    return dataclasses.replace(run, settings=dataclasses.replace(run.settings, **settings))


def _run(run, start=T0, minutes=10):
    return prompt_new_friends(
        run, LineWorksHook(), SalesforceActivityHook(), start, start + timedelta(minutes=minutes)
    )


def _said(lineworks_sandbox) -> list[tuple[str, str, str]]:
    out = []
    for m in lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id):
        content = m["content"]
        if content["type"] == "button_template":
            out.append((m["targetId"], "buttons", content["contentText"].split("」")[0].split("「")[-1]))
        else:
            out.append((m["targetId"], "text", content["text"]))
    return sorted(out)


def test_should_ask_every_served_rep_once_about_every_friend_at_first_install(tenant, lineworks_sandbox):
    summary = _run(tenant)
    assert summary == {
        "first_install": True,
        "friends": 4,
        "queued": 5,
        "unlinked": 0,
        "prompted": 3,
        "reoffered": 0,
        "already_registered": 1,
        "not_served": 1,
        "failed": 0,
        "failed_by": {},
        "left_for_next_run": 0,
    }
    assert _said(lineworks_sandbox) == [
        (MATSUYAMA, "buttons", "ゆき"),
        (MATSUYAMA, "text", "既にケン（見込み客）さんは社外連絡先に作成済です"),
        (TANAKA, "buttons", "はなちゃん"),
        (TANAKA, "buttons", "ゆき"),
    ]
    buttons = next(
        m["content"]
        for m in lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)
        if m["content"]["type"] == "button_template"
    )
    assert [(a["type"], a["label"]) for a in buttons["actions"]] == [
        ("message", "新規登録"),
        ("message", "既存の社外連絡先に紐づけ"),
        ("message", "対象外"),
    ]
    assert all(a["postback"].startswith("lwsf:") and len(a["postback"]) <= 300 for a in buttons["actions"])

    again = _run(tenant)  # a retry, or the next run over the same friends: nobody is asked twice
    assert (again["first_install"], again["prompted"], again["already_registered"]) == (False, 0, 0)
    assert (again["queued"], again["not_served"]) == (0, 1)  # okada's friend waits for okada to be served
    assert len(_said(lineworks_sandbox)) == 4


def test_should_ask_about_friends_new_in_the_run_s_window_only(tenant, lineworks_sandbox):
    _run(tenant)
    lineworks_sandbox.seed(
        {
            "contacts": [
                _contact("c-new", "新しいお客様", [TANAKA], T0 + timedelta(hours=2, minutes=3)),
                _contact("c-late", "後のお客様", [TANAKA], T0 + timedelta(hours=5)),
            ]
        }
    )
    summary = _run(tenant, start=T0 + timedelta(hours=2))
    assert (summary["friends"], summary["prompted"]) == (1, 1)
    assert (TANAKA, "buttons", "新しいお客様") in _said(lineworks_sandbox)
    assert not any(name == "後のお客様" for *_, name in _said(lineworks_sandbox))


def test_should_try_a_failed_send_again_on_the_next_run(tenant, lineworks_sandbox):
    lineworks_sandbox.control.fault("bot.send_user", "500", count=5)  # every attempt of the first send
    first = _run(tenant)
    assert (first["prompted"] + first["already_registered"], first["failed"]) == (3, 1)
    assert sum(first["failed_by"].values()) == 1  # by the kind of error, never its text
    second = _run(tenant, start=T0 + timedelta(days=3))  # its window holds none of these friends
    assert (second["prompted"] + second["already_registered"], second["failed"]) == (1, 0)
    assert len(_said(lineworks_sandbox)) == 4


def _one(sf, query: str) -> str:
    (record,) = sf.query_records(query)
    return record["Id"]


def _answer(run, contact_id: str, member: str, status: str) -> None:
    """What the callback app records when the rep answers (the conversation's own statement)."""
    row = run.archive.query("friend_prompt", {"contact_id": contact_id, "member_user_id": member})[0]
    run.archive.execute(
        "set_friend_prompt", {**row, "status": status, "updated_at": row["updated_at"], "run_id": "bot"}
    )


def test_should_not_ask_again_about_a_friend_answered_before_the_next_run_looks_back(
    tenant, lineworks_sandbox
):
    _run(tenant)  # first install
    lineworks_sandbox.seed(
        {"contacts": [_contact("c-new", "新しいお客様", [TANAKA], T0 + timedelta(hours=2))]}
    )
    assert _run(tenant, start=T0 + timedelta(hours=2))["prompted"] == 1
    SalesforceActivityHook().create_record(
        "ExternalContact__c", {"Name": "新", "LineWorksContactId__c": "c-new"}
    )
    for status in ("searching", "ignored", "registered"):
        _answer(tenant, "c-new", TANAKA, status)
        # the next run's look-back still lists the friend; whatever the rep answered, nobody is asked again
        later = _run(tenant, start=T0 + timedelta(hours=2, minutes=10))
        assert (later["friends"], later["queued"], later["prompted"]) == (1, 0, 0)
    assert sum(name == "新しいお客様" for *_, name in _said(lineworks_sandbox)) == 1


def test_should_look_back_as_far_as_the_setting_says(tenant, lineworks_sandbox):
    _run(tenant)
    _run(tenant, start=T0 + timedelta(hours=3, minutes=20))
    # a friend LINE WORKS lists only now, added 90 minutes before the next window
    lineworks_sandbox.seed(
        {"contacts": [_contact("c-new", "新しいお客様", [TANAKA], T0 + timedelta(hours=2))]}
    )
    window = T0 + timedelta(hours=3, minutes=30)
    assert _run(tenant, start=window)["friends"] == 0  # default look-back: 1 hour
    assert _run(_with(tenant, friends_lookback_hours=2), start=window)["prompted"] == 1


def test_should_list_the_windows_of_runs_that_never_ran(tenant, lineworks_sandbox):
    _run(tenant)  # the window ending at 00:10
    lineworks_sandbox.seed(
        {"contacts": [_contact("c-new", "新しいお客様", [TANAKA], T0 + timedelta(hours=3))]}
    )
    # the scheduler skipped every run until 05:00 (catchup is off): the friend of 03:00 is still asked
    late = _run(tenant, start=T0 + timedelta(hours=5))
    assert (late["friends"], late["prompted"]) == (1, 1)


def test_should_put_a_failed_send_behind_the_rest_of_the_queue(tenant, lineworks_sandbox):
    lineworks_sandbox.control.fault("bot.send_user", "500", count=5)  # every attempt of the first send
    one = _with(tenant, prompts_per_run=1)
    assert _run(one)["failed"] == 1  # the first pair in the queue: ゆき for MATSUYAMA
    assert _run(one, start=T0 + timedelta(minutes=10))["failed"] == 0
    # the next run sent the pair queued behind it, not the failed one again
    assert _said(lineworks_sandbox) == [(TANAKA, "buttons", "ゆき")]
    assert _run(one, start=T0 + timedelta(minutes=20))["failed"] == 0
    assert _said(lineworks_sandbox) == [(TANAKA, "buttons", "はなちゃん"), (TANAKA, "buttons", "ゆき")]
    rest = _run(tenant, start=T0 + timedelta(minutes=30))
    assert (rest["prompted"] + rest["already_registered"], rest["left_for_next_run"]) == (2, 0)
    said = _said(lineworks_sandbox)
    assert len(said) == len(set(said)) == 4


def test_should_stop_and_fail_the_run_when_sends_fail_one_after_another(
    tenant, lineworks_sandbox, monkeypatch
):
    monkeypatch.setattr(friends, "MAX_FAILURES_IN_A_ROW", 2)
    lineworks_sandbox.control.fault("bot.send_user", "503", count=1000)
    with pytest.raises(
        friends.PromptsFailing, match=r"^2 sends in a row failed, the last with \w+"
    ) as raised:
        _run(tenant)
    assert "ゆき" not in str(raised.value) and TANAKA not in str(raised.value)  # no name, no member
    lineworks_sandbox.control.clear_faults()
    again = _run(tenant, start=T0 + timedelta(minutes=10))  # nothing lost: the queue kept everyone
    assert (again["prompted"] + again["already_registered"], again["failed"]) == (4, 0)


def test_should_send_no_more_than_nine_minutes_at_the_pace_in_one_run():
    assert friends.run_budget(1_000, 120) == 1_000  # about 8 minutes at 120 a minute
    assert friends.run_budget(1_000, 30) == 270  # a Free plan's half: still within the schedule
    assert friends.run_budget(100, 240) == 100
    assert friends.run_budget(1_000, None) == 1_000


def test_should_send_at_most_prompts_per_run_and_leave_the_rest_in_order_for_the_next_run(
    tenant, lineworks_sandbox
):
    run = _with(tenant, prompts_per_run=2)
    first = _run(run)
    assert (first["queued"], first["prompted"] + first["already_registered"], first["left_for_next_run"]) == (
        5,
        2,
        2,
    )
    # a friend added now is asked before the rest of the first-install queue
    lineworks_sandbox.seed(
        {"contacts": [_contact("c-new", "新しいお客様", [TANAKA], T0 + timedelta(hours=2))]}
    )
    second = _run(run, start=T0 + timedelta(hours=2))
    assert (second["queued"], second["prompted"] + second["already_registered"]) == (1, 2)
    assert second["left_for_next_run"] == 1
    assert (TANAKA, "buttons", "新しいお客様") in _said(lineworks_sandbox)
    third = _run(run, start=T0 + timedelta(hours=2, minutes=10))
    assert (third["prompted"] + third["already_registered"], third["left_for_next_run"]) == (1, 0)
    said = _said(lineworks_sandbox)
    assert len(said) == len(set(said)) == 5  # everyone asked, once


def test_should_ask_a_rep_given_the_permission_set_later_about_their_waiting_friends(
    tenant, lineworks_sandbox, salesforce_sandbox
):
    _run(tenant)
    sf = SalesforceActivityHook()
    okada = _one(sf, "SELECT Id FROM User WHERE Username = 'okada@example.com'")
    served_set = _one(sf, "SELECT Id FROM PermissionSet WHERE Name = 'LineWorks_User'")
    salesforce_sandbox.control.seed(
        {"records": {"PermissionSetAssignment": [{"AssigneeId": okada, "PermissionSetId": served_set}]}}
    )
    later = _run(tenant, start=T0 + timedelta(days=1))
    assert (later["prompted"], later["not_served"]) == (1, 0)
    assert (OKADA, "buttons", "岡田さんの友だち") in _said(lineworks_sandbox)


def test_should_offer_the_buttons_again_once_when_a_friend_s_link_is_removed(tenant, lineworks_sandbox):
    _run(tenant)  # ケン is on a 社外連絡先 already: MATSUYAMA was told so
    _answer(tenant, "c-hana", TANAKA, "registered")
    hana = SalesforceActivityHook().create_record(
        "ExternalContact__c", {"Name": "花子", "LineWorksContactId__c": "c-hana"}
    )
    assert _run(tenant, start=T0 + timedelta(days=1))["unlinked"] == 0  # both links in place

    sf = SalesforceActivityHook()
    ken = _one(sf, "SELECT Id FROM ExternalContact__c WHERE LineWorksContactId__c = 'c-ken'")
    sf.update_record("ExternalContact__c", ken, {"LineWorksContactId__c": None})  # the link cleared
    assert [r.status for r in sf.delete_records([hana])] == ["deleted"]  # the record deleted
    removed = _run(tenant, start=T0 + timedelta(days=2))
    assert (removed["unlinked"], removed["reoffered"], removed["prompted"]) == (2, 2, 0)
    offers = [
        (m["targetId"], m["content"]["contentText"])
        for m in lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)
        if m["content"]["type"] == "button_template" and "解除" in m["content"]["contentText"]
    ]
    assert sorted(offers) == [
        (
            MATSUYAMA,
            "「ケン」さんと社外連絡先の紐づけが解除されました。もう一度登録しますか？"
            "（新規登録 / 既存の社外連絡先に紐づけ / 対象外）",
        ),
        (
            TANAKA,
            "「はなちゃん」さんと社外連絡先の紐づけが解除されました。もう一度登録しますか？"
            "（新規登録 / 既存の社外連絡先に紐づけ / 対象外）",
        ),
    ]
    # the taps work again (the question is open), and the offer is made once
    row = tenant.archive.query("friend_prompt", {"contact_id": "c-ken", "member_user_id": MATSUYAMA})[0]
    assert row["status"] == "prompted"
    assert _run(tenant, start=T0 + timedelta(days=3))["reoffered"] == 0
