"""lineworks_salesforce.activities.render_activities: placement, grouping, line formats, redaction,
determinism, hashes."""

from __future__ import annotations

import hashlib
import json
import random
import re

import pandas as pd
import pytest

from lineworks_salesforce.activities import (
    CARD_NUMBER_PATTERN,
    RenderSettings,
    record_hash,
    render_activities,
    render_body,
)
from lineworks_salesforce.salesforce_model.activity import DESCRIPTION_MAX, TASK_FIELDS_WRITTEN
from tests.plugins.lineworks_salesforce.activities.helpers import (
    FRIEND,
    REP,
    frame,
    links,
    msg,
    registered,
    synthetic,
)

SETTINGS = RenderSettings(domain_id="10000001")


def render(rows, link_frame=None, **settings):
    messages = frame(rows)
    if link_frame is None:
        link_frame = registered(*sorted(set(messages["contact_id"])))
    return render_activities(messages, link_frame, RenderSettings(**{"domain_id": "10000001", **settings}))


def only(result):
    assert len(result.records) == 1, result.records
    return result.records[0]


# --- placement (DESIGN §3.5) -------------------------------------------------------------------


def test_should_place_a_contact_link_on_the_contact_and_the_external_contact():
    record = only(
        render(
            [msg("k1", "2025-05-30T00:05:00Z")],
            links(f1={"external_contact_id": "a0X1", "contact_sf_id": "0031"}),
        )
    )
    assert record["WhoId"] == "0031"
    assert record["WhatId"] == "a0X1"


def test_should_place_a_lead_link_on_the_lead_without_what_id():
    record = only(
        render(
            [msg("k1", "2025-05-30T00:05:00Z")], links(f1={"external_contact_id": "a0X1", "lead_id": "00Q1"})
        )
    )
    assert record["WhoId"] == "00Q1"
    assert "WhatId" not in record


def test_should_place_a_person_account_link_on_the_person_contact_and_the_account():
    link = links(f1={"external_contact_id": "a0X1", "account_id": "0011", "person_contact_id": "003P1"})
    record = only(render([msg("k1", "2025-05-30T00:05:00Z")], link))
    assert record["WhoId"] == "003P1"
    assert record["WhatId"] == "0011"


def test_should_place_an_unlinked_external_contact_on_what_id_only():
    record = only(render([msg("k1", "2025-05-30T00:05:00Z")], links(f1={"external_contact_id": "a0X1"})))
    assert record["WhatId"] == "a0X1"
    assert "WhoId" not in record


def test_should_set_owner_when_known_and_omit_it_otherwise():
    link = links(
        f1={"external_contact_id": "a0X1", "owner_user_id": "0051"},
        f2={"external_contact_id": "a0X2", "owner_user_id": None},
        f3={"external_contact_id": "a0X3", "owner_user_id": ""},
    )
    result = render([msg("k1", "2025-05-30T00:05:00Z", contact=c) for c in ("f1", "f2", "f3")], link)
    owners = {r["ActivityKey__c"].split("-")[2]: r.get("OwnerId") for r in result.records}
    assert owners == {"f1": "0051", "f2": None, "f3": None}
    assert ["OwnerId" in r for r in result.records] == [True, False, False]


# --- registration ------------------------------------------------------------------------------


def test_should_return_rows_of_unregistered_friends_and_not_render_them():
    rows = [
        msg("k1", "2025-05-30T00:05:00Z", contact="f1"),
        msg("k2", "2025-05-30T00:06:00Z", contact="f2"),  # not in links
        msg("k3", "2025-05-30T00:07:00Z", contact="f3"),  # in links without an ExternalContact__c
        msg("k4", "2025-05-30T00:08:00Z", contact="f2"),
    ]
    result = render(rows, links(f1={"external_contact_id": "a0X1"}, f3={"external_contact_id": None}))
    assert [r["ActivityKey__c"] for r in result.records] == ["LW-10000001-f1-2025053009"]
    assert result.unlinked["message_key"].tolist() == ["k2", "k3", "k4"]
    assert list(result.unlinked.columns) == list(frame(rows).columns)
    assert result.unlinked.index.tolist() == [1, 2, 3]


def test_should_return_everything_as_unlinked_when_nobody_is_registered():
    result = render([msg("k1", "2025-05-30T00:05:00Z")], links(f9={"external_contact_id": "a0X9"}))
    assert result.records == [] and result.hashes == {}
    assert len(result.unlinked) == 1


# --- group talks (DESIGN §3.9) -----------------------------------------------------------------


def test_should_render_one_record_per_friend_of_a_group_room_with_the_same_lines():
    talk = [
        ("k1", "2025-05-30T00:05:00Z", REP, "はなちゃん、たろうくん", "皆さんこんにちは"),
        ("k2", "2025-05-30T00:06:00Z", "はなちゃん", "山田 太郎、たろうくん", "こんにちは！"),
        ("k3", "2025-05-30T00:07:00Z", "たろうくん", "山田 太郎、はなちゃん", "よろしくお願いします"),
    ]
    rows = [
        msg(k, t, text, contact=c, sender=s, recipients=r, channel="room-g", group=True)
        for c in ("f1", "f2")
        for k, t, s, r, text in talk
    ]
    result = render(rows)
    assert [r["ActivityKey__c"] for r in result.records] == [
        "LW-10000001-f1-2025053009",
        "LW-10000001-f2-2025053009",
    ]
    first, second = result.records
    assert (
        first["Description"]
        == second["Description"]
        == (
            "09:05 山田 太郎 → はなちゃん、たろうくん: 皆さんこんにちは\n"
            "09:06 はなちゃん → 山田 太郎、たろうくん: こんにちは！\n"
            "09:07 たろうくん → 山田 太郎、はなちゃん: よろしくお願いします"
        )
    )
    assert first["MessageCount__c"] == second["MessageCount__c"] == 3
    assert first["WhatId"] == "a0Xf1" and second["WhatId"] == "a0Xf2"


def test_should_interleave_rooms_of_one_friend_within_an_hour_into_one_record():
    rows = [
        msg("k1", "2025-05-30T00:10:00Z", "1:1 first", channel="room-1"),
        msg("k2", "2025-05-30T00:05:00Z", "group first", channel="room-g", group=True),
        msg("k3", "2025-05-30T00:20:00Z", "1:1 again", channel="room-1"),
    ]
    record = only(render(rows))
    assert [line.split(": ", 1)[1] for line in record["Description"].split("\n")] == [
        "group first",
        "1:1 first",
        "1:1 again",
    ]
    assert record["LineWorksChannelId__c"] == "room-g"
    assert record["FirstMessageAt__c"] == "2025-05-30T00:05:00Z"
    assert record["LastMessageAt__c"] == "2025-05-30T00:20:00Z"


# --- hours and dates ---------------------------------------------------------------------------


def test_should_bucket_hours_in_the_org_timezone():
    rows = [msg("k1", "2025-05-29T23:30:00Z", "朝です")]
    record = only(render(rows))
    assert record["ActivityKey__c"] == "LW-10000001-f1-2025053008"
    assert record["ActivityDate"] == "2025-05-30"
    assert record["Description"] == f"08:30 {REP} → {FRIEND}: 朝です"
    assert record["FirstMessageAt__c"] == record["LastMessageAt__c"] == "2025-05-29T23:30:00Z"

    utc = only(render(rows, timezone="UTC"))
    assert utc["ActivityKey__c"] == "LW-10000001-f1-2025052923"
    assert utc["ActivityDate"] == "2025-05-29"
    assert utc["Description"].startswith("23:30 ")


def test_should_start_a_new_record_at_each_local_hour():
    rows = [
        msg("k1", "2025-05-30T00:59:59.900Z"),
        msg("k2", "2025-05-30T01:00:00Z"),
        msg("k3", "2025-05-30T14:59:00Z"),
        msg("k4", "2025-05-30T15:00:00Z"),
    ]
    result = render(rows)
    assert [(r["ActivityKey__c"][-10:], r["ActivityDate"]) for r in result.records] == [
        ("2025053009", "2025-05-30"),
        ("2025053010", "2025-05-30"),
        ("2025053023", "2025-05-30"),
        ("2025053100", "2025-05-31"),
    ]
    assert result.records[0]["FirstMessageAt__c"] == "2025-05-30T00:59:59Z"


def test_should_put_an_hour_repeated_by_daylight_saving_into_one_record_in_time_order():
    rows = [
        msg("k1", "2025-11-02T05:30:00Z", "01:30 EDT"),
        msg("k2", "2025-11-02T06:10:00Z", "01:10 EST"),
        msg("k3", "2025-11-02T07:05:00Z", "02:05 EST"),
    ]
    result = render(rows, timezone="America/New_York")
    assert [(r["ActivityKey__c"][-10:], r["MessageCount__c"]) for r in result.records] == [
        ("2025110201", 2),
        ("2025110202", 1),
    ]
    assert [line[:5] for line in result.records[0]["Description"].split("\n")] == ["01:30", "01:10"]


def test_should_accept_any_timezone_aware_sent_at():
    messages = frame([msg("k1", "2025-05-29T23:30:00Z")])
    messages["sent_at"] = (
        messages["sent_at"].dt.tz_convert("America/New_York").astype("datetime64[us, America/New_York]")
    )
    record = only(render_activities(messages, registered("f1"), SETTINGS))
    assert record["ActivityKey__c"].endswith("2025053008")


def test_should_refuse_naive_sent_at():
    messages = frame([msg("k1", "2025-05-29T23:30:00Z")])
    messages["sent_at"] = messages["sent_at"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="sent_at"):
        render_activities(messages, registered("f1"), SETTINGS)


# --- line formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "body"),
    [
        ("text", "見積書を送ります", "見積書を送ります"),
        ("photo", "(写真) IMG_1.jpg", "[画像] IMG_1.jpg"),
        ("photo", "（写真）IMG_2.jpg", "[画像] IMG_2.jpg"),
        ("photo", "(Photo) IMG_3.jpg", "[画像] IMG_3.jpg"),
        ("photo", "", "[画像]"),
        ("file", "(ファイル) 見積書_202505.pdf", "[ファイル] 見積書_202505.pdf"),
        ("video", "(動画) VID_20250530_090500.mp4", "[動画] VID_20250530_090500.mp4"),
        (
            "stamp",
            "https://stickershop.line-scdn.net/stickershop/v1/sticker/52002734/android/sticker.png",
            "[スタンプ] https://stickershop.line-scdn.net/stickershop/v1/sticker/52002734/android/sticker.png",
        ),
        (
            "location",
            "(位置情報) 東京都千代田区丸の内1-9-1\nhttps://maps.google.com/?q=35.681236,139.767125",
            "[位置情報] 東京都千代田区丸の内1-9-1 https://maps.google.com/?q=35.681236,139.767125",
        ),
        (
            "location",
            "(位置情報) 大阪駅\r\n\r\nhttps://maps.google.com/?q=1,2\n",
            "[位置情報] 大阪駅 https://maps.google.com/?q=1,2",
        ),
        ("voice", "(ボイス) 0:12", "(ボイス) 0:12"),
    ],
)
def test_should_render_each_content_kind(kind, text, body):
    record = only(render([msg("k1", "2025-05-30T00:05:00Z", text, kind=kind)]))
    assert record["Description"] == f"09:05 {REP} → {FRIEND}: {body}"
    assert render_body(kind, text) == body


def test_should_show_from_and_to_in_one_to_one_rooms_and_leave_out_empty_recipients():
    rows = [
        msg("k1", "2025-05-30T00:05:00Z", "おはようございます", sender=FRIEND, recipients=REP),
        msg("k2", "2025-05-30T00:06:00Z", "了解です", sender=FRIEND, recipients=""),
        msg("k3", "2025-05-30T00:07:00Z", "ボットです", sender="[Bot]案内", recipients=None),
    ]
    assert only(render(rows))["Description"].split("\n") == [
        f"09:05 {FRIEND} → {REP}: おはようございます",
        f"09:06 {FRIEND}: 了解です",
        "09:07 [Bot]案内: ボットです",
    ]


def test_should_use_the_configured_arrow():
    record = only(render([msg("k1", "2025-05-30T00:05:00Z", "x")], arrow=" -> "))
    assert record["Description"] == f"09:05 {REP} -> {FRIEND}: x"


def test_should_indent_the_following_lines_of_a_multi_line_text():
    text = "お世話になっております。\r\n見積書を送ります。\n\nご確認ください。\n"
    record = only(render([msg("k1", "2025-05-30T00:05:00Z", text), msg("k2", "2025-05-30T00:06:00Z", "次")]))
    assert record["Description"].split("\n") == [
        f"09:05 {REP} → {FRIEND}: お世話になっております。",
        "　　見積書を送ります。",
        "　　",
        "　　ご確認ください。",
        f"09:06 {REP} → {FRIEND}: 次",
    ]
    assert record["MessageCount__c"] == 2


def test_should_order_lines_by_time_then_message_key():
    rows = [
        msg("k2", "2025-05-30T00:05:00Z", "b"),
        msg("k1", "2025-05-30T00:05:00Z", "a"),
        msg("k0", "2025-05-30T00:05:01Z", "c"),
    ]
    assert [line[-1] for line in only(render(rows))["Description"].split("\n")] == ["a", "b", "c"]


def test_should_render_a_repeated_message_once():
    rows = [msg("k1", "2025-05-30T00:05:00Z", "a"), msg("k1", "2025-05-30T00:05:00Z", "a")]
    record = only(render(rows))
    assert record["MessageCount__c"] == 1
    assert record["Description"] == f"09:05 {REP} → {FRIEND}: a"


# --- redaction ---------------------------------------------------------------------------------


def test_should_redact_the_text_before_rendering():
    rows = [
        msg("k1", "2025-05-30T00:05:00Z", "カードは 4111 1111 1111 1111 です"),
        msg("k2", "2025-05-30T00:06:00Z", "番号4111-1111-1111-1111で"),
        msg("k3", "2025-05-30T00:07:00Z", "全角 ４１１１１１１１１１１１１１１１"),
        msg("k4", "2025-05-30T00:08:00Z", "電話 03-1234-5678 と 注文番号 12345678"),
        msg("k5", "2025-05-30T00:09:00Z", "(写真) 4111111111111111.jpg", kind="photo"),
    ]
    lines = only(render(rows, redact_patterns=[CARD_NUMBER_PATTERN]))["Description"].split("\n")
    assert [line.split(": ", 1)[1] for line in lines] == [
        "カードは [非表示] です",
        "番号[非表示]で",
        "全角 [非表示]",
        "電話 03-1234-5678 と 注文番号 12345678",
        "[画像] [非表示].jpg",
    ]


def test_should_apply_the_briefs_word_boundary_card_pattern_too():
    record = only(
        render(
            [msg("k1", "2025-05-30T00:05:00Z", "番号 4111 1111 1111 1111")],
            redact_patterns=[r"\b(?:\d[ -]?){13,16}\b"],
        )
    )
    assert record["Description"].endswith(": 番号 [非表示]")


def test_should_redact_before_content_markers_and_never_labels():
    rows = [msg("k1", "2025-05-30T00:05:00Z", "(写真) secret.jpg", kind="photo", sender="secret 太郎")]
    record = only(render(rows, redact_patterns=[r"secret", r"\(写真\)"]))
    assert record["Description"] == f"09:05 secret 太郎 → {FRIEND}: [画像] [非表示] [非表示].jpg"


# --- records, keys, subjects -------------------------------------------------------------------


def test_should_write_only_task_fields_the_loader_knows():
    messages, link_frame = synthetic(3_000, seed=3)
    result = render_activities(messages, link_frame, SETTINGS)
    assert result.records
    for record in result.records:
        assert set(record) <= set(TASK_FIELDS_WRITTEN)
        assert len(record["Description"]) <= DESCRIPTION_MAX
        assert isinstance(record["MessageCount__c"], int)
    json.dumps(result.records)  # JSON-able


def test_should_describe_each_record_with_its_own_messages():
    messages, link_frame = synthetic(20_000, seed=4)
    result = render_activities(messages, link_frame, SETTINGS)
    registered_rows = messages[~messages.index.isin(result.unlinked.index)]
    assert sum(r["MessageCount__c"] for r in result.records) == len(registered_rows)
    by_key = registered_rows.assign(
        key=lambda df: (
            "LW-10000001-"
            + df["contact_id"]
            + "-"
            + df["sent_at"].dt.tz_convert("Asia/Tokyo").dt.strftime("%Y%m%d%H")
        )
    ).groupby("key")
    for record in result.records:
        if record["ActivityKey__c"] not in by_key.groups:
            continue  # a continuation part
        rows = by_key.get_group(record["ActivityKey__c"]).sort_values(["sent_at", "message_key"])
        description = record["Description"]
        if f"{record['ActivityKey__c']}-p2" not in result.hashes:  # not split
            starts = [line for line in description.split("\n") if re.match(r"\d\d:\d\d ", line)]
            assert len(starts) == record["MessageCount__c"] == len(rows)
            local = rows["sent_at"].dt.tz_convert("Asia/Tokyo").dt.strftime("%H:%M ")
            assert [line[:6] for line in starts] == local.tolist()
            assert [line.split(": ", 1)[0].split(" ", 1)[1].split(" → ")[0] for line in starts] == rows[
                "sender_label"
            ].tolist()
        assert record["FirstMessageAt__c"] == rows["sent_at"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert record["LineWorksChannelId__c"] == rows["channel_id"].iloc[0]


def test_should_fill_the_subject_template():
    link = links(
        f1={"external_contact_id": "a0X1", "friend_label": "はなちゃん"}, f2={"external_contact_id": "a0X2"}
    )
    rows = [msg("k1", "2025-05-29T23:30:00Z", contact="f1"), msg("k2", "2025-05-29T23:31:00Z", contact="f2")]
    result = render(rows, link, subject_template="{friend}さんとのLINE WORKSログ {date} {hour}時 ({part})")
    assert [r["Subject"] for r in result.records] == [
        "はなちゃんさんとのLINE WORKSログ 2025/05/30 08時 (1)",
        "f2さんとのLINE WORKSログ 2025/05/30 08時 (1)",
    ]
    assert [r["Status"] for r in result.records] == ["Completed", "Completed"]


def test_should_keep_subjects_within_255_characters():
    link = links(f1={"external_contact_id": "a0X1", "friend_label": "😀" * 300})
    record = only(render([msg("k1", "2025-05-30T00:05:00Z")], link, subject_template="{friend}"))
    assert len(record["Subject"].encode("utf-16-le")) // 2 <= 255


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain_id", ""),
        ("domain_id", "a b"),
        ("timezone", "Asia/Nowhere"),
        ("subject_template", "{name}"),
        ("subject_template", "{date"),
        ("status", " "),
        ("max_description", 32001),
        ("max_description", 10),
        ("redact_patterns", ["("]),
        ("redact_patterns", ["x*"]),
        ("redact_patterns", "4111"),
    ],
)
def test_should_refuse_invalid_settings_naming_the_field(field, value):
    arguments = {"domain_id": "10000001", field: value}
    with pytest.raises(ValueError, match=field):
        RenderSettings(**arguments)


def test_should_accept_a_numeric_domain_id():
    assert RenderSettings(domain_id=10000001).domain_id == "10000001"


def test_should_refuse_missing_columns():
    with pytest.raises(ValueError, match="content_kind"):
        render_activities(
            frame([msg("k1", "2025-05-30T00:05:00Z")]).drop(columns="content_kind"),
            registered("f1"),
            SETTINGS,
        )
    with pytest.raises(ValueError, match="external_contact_id"):
        render_activities(frame([msg("k1", "2025-05-30T00:05:00Z")]), pd.DataFrame(index=["f1"]), SETTINGS)


def test_should_refuse_a_friend_linked_twice():
    link = pd.concat([registered("f1"), registered("f1")])
    with pytest.raises(ValueError, match="more than once"):
        render_activities(frame([msg("k1", "2025-05-30T00:05:00Z")]), link, SETTINGS)


# --- determinism and hashes --------------------------------------------------------------------


def test_should_render_identically_whatever_the_row_order():
    messages, link_frame = synthetic(5_000, seed=11)
    # Ties on time and repeated rows make the order matter if anything depends on it.
    messages = pd.concat([messages, messages.iloc[::7]], ignore_index=True)
    messages.loc[messages.index[::5], "sent_at"] = messages["sent_at"].iloc[0]
    expected = render_activities(messages, link_frame, SETTINGS)
    rng = random.Random(5)
    for _ in range(3):
        positions = list(range(len(messages)))
        rng.shuffle(positions)
        shuffled = messages.iloc[positions]
        shuffled.index = range(len(shuffled))[::-1]
        got = render_activities(shuffled, link_frame.iloc[::-1], SETTINGS)
        assert json.dumps(got.records, ensure_ascii=False) == json.dumps(expected.records, ensure_ascii=False)
        assert got.hashes == expected.hashes
        assert sorted(got.unlinked["message_key"]) == sorted(expected.unlinked["message_key"])


def test_should_hash_the_canonical_json_of_each_record():
    messages, link_frame = synthetic(3_000, seed=5)
    link_frame = link_frame.assign(friend_label='友だち "引用" \\ 😀')
    for template in ("LINE WORKSログ", "{friend} {date} {hour} {part}"):
        result = render_activities(
            messages, link_frame, RenderSettings(domain_id="1", subject_template=template)
        )
        assert result.hashes == {r["ActivityKey__c"]: record_hash(r) for r in result.records}
        # the payload stored in the outbox is exactly that canonical JSON (the records are read from it)
        assert list(result.payloads) == [r["ActivityKey__c"] for r in result.records]
        assert list(result.payloads.values()) == [
            json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for r in result.records
        ]
        assert all(
            hashlib.sha256(v.encode()).hexdigest() == result.hashes[k] for k, v in result.payloads.items()
        )
    # The canonical form is part of the archive's contract: stored hashes must stay comparable.
    canonical = '{"a":1,"b":"é\\n😀","c":null}'
    assert record_hash({"b": "é\n😀", "a": 1, "c": None}) == hashlib.sha256(canonical.encode()).hexdigest()


def test_should_change_only_the_hour_that_gets_a_new_message():
    rows = [
        msg("k1", "2025-05-30T00:05:00Z", "9時"),
        msg("k2", "2025-05-30T01:05:00Z", "10時"),
        msg("k3", "2025-05-30T01:05:00Z", "10時 f2", contact="f2"),
        msg("k4", "2025-05-30T02:05:00Z", "11時"),
    ]
    before = render(rows)
    again = render(list(reversed(rows)))
    assert again.hashes == before.hashes
    after = render([*rows, msg("k5", "2025-05-30T01:30:00Z", "追加")])
    changed = {k for k in after.hashes if after.hashes[k] != before.hashes.get(k)}
    assert changed == {"LW-10000001-f1-2025053010"}
    assert after.hashes.keys() == before.hashes.keys()


def test_should_change_the_hash_when_a_field_changes():
    base = render([msg("k1", "2025-05-30T00:05:00Z", "a")])
    variants = [
        render([msg("k1", "2025-05-30T00:05:00Z", "b")]),
        render(
            [msg("k1", "2025-05-30T00:05:00Z", "a")],
            links(f1={"external_contact_id": "a0X1", "lead_id": "00Q1"}),
        ),
        render([msg("k1", "2025-05-30T00:05:00Z", "a")], status="Not Started"),
        render([msg("k1", "2025-05-30T00:05:00Z", "a", channel="ch-2")]),
    ]
    key = "LW-10000001-f1-2025053009"
    assert len({base.hashes[key], *(v.hashes[key] for v in variants)}) == 5


@pytest.mark.parametrize(
    "template", ["{friend.__class__}", "{friend[0]}", "{friend!r}", "{0}", "{date.__init__.__globals__}"]
)
def test_should_refuse_a_subject_template_that_reaches_beyond_its_fields(template):
    with pytest.raises(ValueError, match="^render settings: subject_template: ") as refused:
        RenderSettings(domain_id="10000001", subject_template=template)
    assert template not in str(refused.value)
