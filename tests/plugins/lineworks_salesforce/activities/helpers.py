"""Builders of lineworks_salesforce.activities inputs: message rows, links, and a synthetic archive window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lineworks_salesforce.activities import MESSAGE_COLUMNS
from lineworks_salesforce.links import LINK_COLUMNS

REP = "山田 太郎"
FRIEND = "はなちゃん"


def msg(
    key: str,
    sent_at: str,
    text: str = "こんにちは",
    *,
    contact: str = "f1",
    kind: str = "text",
    sender: str = REP,
    recipients: str = FRIEND,
    channel: str = "ch-1",
    group: bool = False,
) -> dict:
    return {
        "message_key": key,
        "sent_at": sent_at,
        "channel_id": channel,
        "contact_id": contact,
        "sender_label": sender,
        "recipient_labels": recipients,
        "text": text,
        "content_kind": kind,
        "is_group": group,
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[*MESSAGE_COLUMNS, "is_group"])
    df["sent_at"] = pd.to_datetime(df["sent_at"], utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    return df


def links(**contacts: dict) -> pd.DataFrame:
    """links(f1={"external_contact_id": "a0X1", ...}) -> a frame indexed by contact_id."""
    columns = list(LINK_COLUMNS)
    extra = sorted({c for v in contacts.values() for c in v} - set(columns))
    df = pd.DataFrame(
        [{c: v.get(c) for c in [*columns, *extra]} for v in contacts.values()],
        index=pd.Index(list(contacts), name="contact_id"),
        columns=[*columns, *extra],
    )
    return df.astype(object).where(df.notna(), None)


def registered(*contact_ids: str) -> pd.DataFrame:
    return links(**{c: {"external_contact_id": f"a0X{c}", "contact_sf_id": f"003{c}"} for c in contact_ids})


# Content mix of the LINE WORKS sandbox scenario (sandbox/lineworks/scenario.py: P_TEXT, P_PHOTO, ...).
KINDS = np.array(["text", "photo", "file", "video", "stamp", "location"], dtype=object)
KIND_WEIGHTS = [0.80, 0.06, 0.03, 0.01, 0.06, 0.04]
LONG_SHARE = 0.001  # texts of 3,000 to 39,900 characters
PHRASES = [
    "お世話になっております。",
    "見積書をお送りします。ご確認ください。",
    "明日の打ち合わせは10時からでお願いします。",
    "ありがとうございます！助かります。",
    "承知しました。\n担当に確認してご連絡します。",
    "現場の写真を送ります",
    "よろしくお願いいたします🙇‍♂️",
]


def synthetic(
    n_rows: int, seed: int = 7, n_friends: int = 3000, hours: int = 72, per_talk: float = 6.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """About ``n_rows`` message rows and the links of 90 % of the friends (the rest are not registered).

    Messages come in talks: a friend and a rep exchange on average ``per_talk`` messages a few
    seconds to minutes apart. Texts are unique; a fifth of the talks are in group rooms, where each
    message appears once for a second friend too.
    """
    rng = np.random.default_rng(seed)
    n_messages = int(n_rows / 1.2)
    n_talks = max(1, int(n_messages / per_talk))
    talk_friend = rng.integers(0, n_friends, n_talks)
    talk_start = rng.integers(0, hours * 3600, n_talks)
    talk_group = rng.random(n_talks) < 0.2
    talk = np.sort(rng.integers(0, n_talks, n_messages))
    friend = talk_friend[talk]
    group = talk_group[talk]
    seconds = talk_start[talk] + np.cumsum(rng.integers(5, 120, n_messages)) % 1800
    sent = pd.Timestamp("2025-05-26T00:00:00Z") + pd.to_timedelta(seconds, unit="s")
    kinds = rng.choice(KINDS, size=n_messages, p=KIND_WEIGHTS)
    phrase = np.array(PHRASES, dtype=object)[rng.integers(0, len(PHRASES), n_messages)]
    serial = np.arange(n_messages).astype(str).astype(object)
    text = phrase + " #" + serial
    long = np.flatnonzero((kinds == "text") & (rng.random(n_messages) < LONG_SHARE))
    text[long] = [
        ("長文の説明です。" * 5 + "\n") * (int(n) // 41) for n in rng.integers(3_000, 39_900, len(long))
    ]
    text = np.where(kinds == "photo", "(写真) IMG_" + serial + ".jpg", text)
    text = np.where(kinds == "file", "(ファイル) 見積書_" + serial + ".pdf", text)
    text = np.where(kinds == "video", "(動画) VID_" + serial + ".mp4", text)
    text = np.where(
        kinds == "stamp", "https://stickershop.line-scdn.net/stickershop/v1/sticker/" + serial, text
    )
    address = "(位置情報) 東京都千代田区丸の内1-" + serial + "\nhttps://maps.google.com/?q=35.68,139.76"
    text = np.where(kinds == "location", address, text)
    from_friend = rng.random(n_messages) < 0.5
    friend_name = "友だち" + friend.astype(str).astype(object)
    rep_name = "営業 " + (friend % 50).astype(str).astype(object)
    room = np.where(
        group, "room-g" + talk.astype(str).astype(object), "room-" + friend.astype(str).astype(object)
    )
    base = pd.DataFrame(
        {
            "message_key": "m" + serial,
            "sent_at": sent,
            "channel_id": room,
            "contact_id": "c" + friend.astype(str).astype(object),
            "sender_label": np.where(from_friend, friend_name, rep_name),
            "recipient_labels": np.where(from_friend, rep_name, friend_name),
            "text": text,
            "content_kind": kinds,
            "is_group": group,
        }
    )
    # Group-room messages appear once per friend of the room: add a second friend for each.
    extra = base[group].copy()
    extra["contact_id"] = "c" + ((friend[group] + 1) % n_friends).astype(str).astype(object)
    messages = pd.concat([base, extra], ignore_index=True)
    ids = np.arange(n_friends)
    link_frame = pd.DataFrame(
        {
            "external_contact_id": ["a0X" + str(i) for i in ids],
            "lead_id": [f"00Q{i}" if i % 4 == 1 else None for i in ids],
            "contact_sf_id": [f"003{i}" if i % 4 == 2 else None for i in ids],
            "account_id": [f"001{i}" if i % 4 == 3 else None for i in ids],
            "person_contact_id": [f"003P{i}" if i % 4 == 3 else None for i in ids],
            "owner_user_id": [f"005{i % 50}" if i % 5 else None for i in ids],
        },
        index=pd.Index(["c" + str(i) for i in ids], name="contact_id"),
    )
    return messages, link_frame[ids % 10 != 0]
