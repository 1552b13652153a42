"""Participant resolution: members by e-mail, LINE users by display name among the talk's members' friends."""

from __future__ import annotations

import pandas as pd
import pytest

from lineworks_salesforce.directory import (
    Friend,
    Member,
    friend_from_contact,
    match_name,
    member_from_user,
    resolve_messages,
)
from lineworks_salesforce.talklog.keys import hour_bucket

TARO = Member("u-taro", "taro@example.com", "山田 太郎")
HANAKO = Member("u-hanako", "hanako@example.com", "鈴木 花子")
FRIENDS = [
    Friend("c-1", "はなちゃん", "u-taro"),
    Friend("c-2", "Ken🍣", "u-taro"),
    Friend("c-3", "はなちゃん", "u-hanako"),  # same name, another member's friend
    Friend("c-4", "ｻﾄｳ ﾕｳｷ", "u-taro"),
    Friend("c-5", "佐藤　花子", "u-taro"),
    Friend("c-6", "佐藤　花子", "u-taro"),  # two friends of one member with one name
]


def _messages(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "message_key": f"k{i}",
                "channel_id": "ch",
                "sent_at": "2026-11-20T00:30:00Z",
                "sender_raw": sender,
                "sender_kind": kind,
                "sender_name": "",
                "sender_email": "",
                "recipients_raw": recipients,
            }
            for i, (sender, kind, recipients) in enumerate(rows)
        ]
    )


def _resolve(frame: pd.DataFrame, **kwargs):
    return resolve_messages(
        frame,
        [TARO, HANAKO],
        FRIENDS,
        separator=", ",
        hour_bucket=lambda ts: hour_bucket(ts, "Asia/Tokyo").dt.strftime("%Y%m%d%H"),
        **kwargs,
    )


def test_should_link_a_friend_of_the_member_in_the_talk():
    result = _resolve(
        _messages(
            ("山田 太郎 (taro@example.com)", "member", "はなちゃん"),
            ("はなちゃん", "external", "鈴木 花子 (hanako@example.com)"),
        )
    )
    assert [(link["message_key"], link["contact_id"]) for link in result.links] == [
        ("k0", "c-1"),
        ("k1", "c-3"),
    ]
    assert result.links[0]["hour_bucket"] == "2026112009"  # 00:30 UTC = 09:30 JST
    assert result.count("resolved") == 2 and not result.issues


def test_should_match_names_across_width_and_space_variants():
    # The CSV and the Contacts API may differ in width and spaces: NFKC + space folding matches them.
    assert match_name("ｻﾄｳ ﾕｳｷ") == match_name("サトウ　ユウキ") == match_name(" サトウ  ユウキ ")
    result = _resolve(
        _messages(
            ("サトウ　ユウキ", "external", "山田 太郎 (taro@example.com)"),
            ("佐藤 花子x", "external", "山田 太郎 (taro@example.com)"),
        )
    )
    assert [link["contact_id"] for link in result.links] == ["c-4"]
    assert [i["reason"] for i in result.issues] == ["unknown_external"]


def test_should_quarantine_ambiguous_and_unknown_people_instead_of_guessing():
    result = _resolve(
        _messages(
            ("佐藤　花子", "external", "山田 太郎 (taro@example.com)"),
            ("知らない人", "external", "山田 太郎 (taro@example.com)"),
            ("はなちゃん", "external", ""),
        )
    )
    assert not result.links
    assert [(i["message_key"], i["reason"]) for i in result.issues] == [
        ("k0", "ambiguous_external"),
        ("k1", "unknown_external"),
        ("k2", "no_member_in_talk"),
    ]
    assert result.count("unresolved") == 3


def test_should_link_every_friend_of_a_group_talk():
    result = _resolve(
        _messages(
            ("山田 太郎 (taro@example.com)", "member", "はなちゃん, Ken🍣, 鈴木 花子 (hanako@example.com)")
        )
    )
    # はなちゃん is a friend of both members in the room: ambiguous, not guessed.
    assert [link["contact_id"] for link in result.links] == ["c-2"]
    assert [i["reason"] for i in result.issues] == ["ambiguous_external"]


def test_should_resolve_each_message_by_its_own_participants_when_combinations_repeat():
    # Each distinct (sender kind, sender, recipients) is worked out once and spread to its messages;
    # interleaved repeats, an empty recipients cell and a cell differing only in the kind must each
    # keep their own outcome.
    frame = _messages(
        ("山田 太郎 (taro@example.com)", "member", "はなちゃん"),
        ("Ken🍣", "external", "山田 太郎 (taro@example.com)"),
        ("山田 太郎 (taro@example.com)", "member", "はなちゃん"),
        ("山田 太郎 (taro@example.com)", "member", "鈴木 花子 (hanako@example.com)"),
        ("Ken🍣", "external", "山田 太郎 (taro@example.com)"),
        ("はなちゃん", "external", ""),
        ("はなちゃん", "bot", "山田 太郎 (taro@example.com)"),
    )
    result = _resolve(frame)
    assert [s["resolution"] for s in result.statuses] == [
        "resolved",
        "resolved",
        "resolved",
        "internal",
        "resolved",
        "unresolved",
        "bot",
    ]
    assert [(link["message_key"], link["contact_id"]) for link in result.links] == [
        ("k0", "c-1"),
        ("k1", "c-2"),
        ("k2", "c-1"),
        ("k4", "c-2"),
    ]
    assert [(i["message_key"], i["reason"]) for i in result.issues] == [("k5", "no_member_in_talk")]


@pytest.mark.parametrize(("exclude", "status"), [(True, "bot"), (False, "resolved")])
def test_should_exclude_bot_messages_by_setting(exclude, status):
    result = _resolve(
        _messages(("[Bot]社外連絡先Bot", "bot", "はなちゃん, 山田 太郎 (taro@example.com)")),
        exclude_bots=exclude,
    )
    assert result.statuses[0]["resolution"] == status


def test_should_mark_talks_without_line_users_internal():
    result = _resolve(_messages(("山田 太郎 (taro@example.com)", "member", "鈴木 花子 (hanako@example.com)")))
    assert result.statuses == [{"message_key": "k0", "resolution": "internal"}]


def test_should_read_friends_and_members_from_api_documents():
    friend = friend_from_contact(
        {
            "contactId": "c",
            "contactName": {"lastName": "はな", "firstName": "ちゃん"},
            "linkedExternalUser": {"id": "x", "type": "LINE", "buddyUserIds": ["u"]},
        }
    )
    assert friend == Friend("c", "はなちゃん", "u", "x", ("u",))
    assert (
        friend_from_contact(
            {"contactId": "c", "contactName": {"lastName": "顧客"}, "linkedExternalUser": None}
        )
        is None
    )
    member = member_from_user(
        {"userId": "u", "email": "Taro@Example.com", "userName": {"lastName": "山田", "firstName": "太郎"}}
    )
    assert member == Member("u", "taro@example.com", "山田 太郎")


def _resolve_with(friends, *rows):
    return resolve_messages(
        _messages(*rows),
        [TARO, HANAKO],
        friends,
        separator=", ",
        hour_bucket=lambda ts: hour_bucket(ts, "Asia/Tokyo").dt.strftime("%Y%m%d%H"),
    )


# One LINE user (U-yuki) befriended by both members: one contact each, sharing linkedExternalUser.id
SHARED = [
    Friend("c-yuki-taro", "ゆき", "u-taro", "U-yuki", ("u-taro",)),
    Friend("c-yuki-hanako", "ゆき", "u-hanako", "U-yuki", ("u-hanako",)),
]


def test_should_land_a_group_talk_on_each_member_s_contact_of_one_line_user():
    result = _resolve_with(
        SHARED, ("ゆき", "external", "山田 太郎 (taro@example.com), 鈴木 花子 (hanako@example.com)")
    )
    assert sorted(link["contact_id"] for link in result.links) == ["c-yuki-hanako", "c-yuki-taro"]
    assert not result.issues and result.count("resolved") == 1


def test_should_land_a_one_to_one_talk_only_on_that_member_s_contact():
    result = _resolve_with(SHARED, ("鈴木 花子 (hanako@example.com)", "member", "ゆき"))
    assert [link["contact_id"] for link in result.links] == ["c-yuki-hanako"]


def test_should_use_one_contact_listing_several_members_once():
    both = [Friend("c-yuki", "ゆき", "u-hanako", "U-yuki", ("u-taro", "u-hanako"))]
    result = _resolve_with(
        both,
        ("ゆき", "external", "山田 太郎 (taro@example.com), 鈴木 花子 (hanako@example.com)"),
        ("山田 太郎 (taro@example.com)", "member", "ゆき"),  # a buddy who is not the master
    )
    assert [link["contact_id"] for link in result.links] == ["c-yuki", "c-yuki"]
    assert [link["message_key"] for link in result.links] == ["k0", "k1"]


def test_should_still_refuse_to_guess_between_two_line_users_of_one_name():
    different = [
        Friend("c-a", "ゆき", "u-taro", "U-yuki-1", ("u-taro",)),
        Friend("c-b", "ゆき", "u-hanako", "U-yuki-2", ("u-hanako",)),
    ]
    result = _resolve_with(
        different, ("ゆき", "external", "山田 太郎 (taro@example.com), 鈴木 花子 (hanako@example.com)")
    )
    assert not result.links and [i["reason"] for i in result.issues] == ["ambiguous_external"]


def test_should_read_the_master_and_every_buddy_from_the_contact():
    friend = friend_from_contact(
        {
            "contactId": "c",
            "contactName": {"lastName": "ゆき", "firstName": ""},
            "linkedExternalUser": {"id": "U-yuki", "type": "LINE", "buddyUserIds": ["u-taro", "u-hanako"]},
            "permission": {"masterUserId": "u-hanako", "accessibleRange": "MEMBER"},
        }
    )
    assert friend == Friend("c", "ゆき", "u-hanako", "U-yuki", ("u-taro", "u-hanako"))
    assert friend.members == {"u-taro", "u-hanako"}
