"""Seeded, deterministic LINE WORKS tenant data for demos, tests and benchmarks.

``generate()`` builds a Japanese company's tenant: members (employees), their LINE friends (external
LINE users linked to a member through the Contacts API), talk rooms, one bot, and - lazily, through
``Scenario.messages()`` - the talk messages as they appear in the Monitoring API message-content CSV.

Determinism: every random draw comes from a ``random.Random`` seeded with a string derived from the
seed (string seeds are hashed with SHA-512 by ``random``, not with ``hash()``), and nothing is ordered
by iterating a set or a dict built from unordered input. Same seed and parameters give byte-identical
data in any process, whatever ``PYTHONHASHSEED`` is.

Memory: ``messages()`` is a generator. Messages are produced in time order, one time bucket (an hour,
split further when very dense) at a time, so memory does not grow with the number of messages.

The data is deliberately hostile where real data is: friend display names with ideographic spaces,
half-width katakana, emoji (with variation selectors and ZWJ sequences), full-width latin and
duplicates; message texts with commas, double quotes, line breaks and a few very long ones.
"""

from __future__ import annotations

import dataclasses
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import repeat
from typing import Iterator

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        JST = ZoneInfo("Asia/Tokyo")
    except ZoneInfoNotFoundError:  # pragma: no cover - only without tz database
        JST = timezone(timedelta(hours=9), "JST")
except ImportError:  # pragma: no cover
    JST = timezone(timedelta(hours=9), "JST")

__all__ = [
    "BOT_ID",
    "BOT_NAME",
    "Bot",
    "Friend",
    "JST",
    "Member",
    "Message",
    "Participant",
    "Room",
    "SIZES",
    "Scenario",
    "ScenarioSize",
    "generate",
]

BOT_ID = 2000001
BOT_NAME = "社外連絡先Bot"

# ---------------------------------------------------------------------------------------------------
# Public data classes
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """An employee (Directory API user)."""

    user_id: str
    email: str
    last_name: str
    first_name: str
    last_name_kana: str
    first_name_kana: str
    romaji: str

    @property
    def display_name(self) -> str:
        return f"{self.last_name} {self.first_name}"


@dataclass(frozen=True)
class Friend:
    """A LINE user linked to one member (Contacts API contact with ``linkedExternalUser``)."""

    contact_id: str
    external_user_id: str
    display_name: str
    master_user_id: str
    created_time: datetime
    modified_time: datetime


@dataclass(frozen=True)
class Bot:
    bot_id: int
    name: str


@dataclass(frozen=True)
class Room:
    """A talk room. ``kind`` is "single" (member + friend), "group" (with friends) or "internal"."""

    channel_id: str
    kind: str
    title: str
    member_ids: tuple[str, ...]
    friend_ids: tuple[str, ...]


@dataclass(frozen=True)
class Participant:
    kind: str  # "member" | "friend" | "bot"
    ref: str  # Member.user_id | Friend.contact_id | str(Bot.bot_id)


@dataclass(frozen=True)
class Message:
    sent_at: datetime
    channel_id: str
    sender: Participant
    recipients: tuple[Participant, ...]
    kind: str  # "text" | "photo" | "file" | "stamp" | "location" | "video"
    text: str


@dataclass(frozen=True)
class ScenarioSize:
    name: str
    members: int
    friends_per_member: tuple[int, int]
    group_rooms: int
    internal_rooms: int
    days: int
    messages: int


SIZES: dict[str, ScenarioSize] = {
    "demo": ScenarioSize("demo", 3, (2, 3), 1, 1, 1, 60),
    "test": ScenarioSize("test", 8, (2, 5), 3, 2, 2, 2_000),
    "bench": ScenarioSize("bench", 1_000, (8, 12), 300, 100, 180, 1_800_000),
}


@dataclass
class Scenario:
    seed: int
    size: ScenarioSize
    domain_id: int
    company_name: str
    email_domain: str
    start: datetime
    members: list[Member]
    friends: list[Friend]
    bots: list[Bot]
    rooms: list[Room]
    _members_by_id: dict[str, Member] = field(default_factory=dict, init=False, repr=False, compare=False)
    _friends_by_id: dict[str, Friend] = field(default_factory=dict, init=False, repr=False, compare=False)

    def messages(self) -> Iterator[Message]:
        """Yield exactly ``size.messages`` messages sorted by ``sent_at``; lazily, same every call."""
        return _iter_messages(self)

    def member(self, user_id: str) -> Member:
        if len(self._members_by_id) != len(self.members):
            self._members_by_id.clear()
            self._members_by_id.update((m.user_id, m) for m in self.members)
        return self._members_by_id[user_id]

    def friend(self, contact_id: str) -> Friend:
        if len(self._friends_by_id) != len(self.friends):
            self._friends_by_id.clear()
            self._friends_by_id.update((f.contact_id, f) for f in self.friends)
        return self._friends_by_id[contact_id]


# ---------------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------------

# (kanji, katakana, Hepburn romaji without macrons)
SURNAMES: tuple[tuple[str, str, str], ...] = (
    ("佐藤", "サトウ", "Sato"),
    ("鈴木", "スズキ", "Suzuki"),
    ("高橋", "タカハシ", "Takahashi"),
    ("田中", "タナカ", "Tanaka"),
    ("伊藤", "イトウ", "Ito"),
    ("渡辺", "ワタナベ", "Watanabe"),
    ("山本", "ヤマモト", "Yamamoto"),
    ("中村", "ナカムラ", "Nakamura"),
    ("小林", "コバヤシ", "Kobayashi"),
    ("加藤", "カトウ", "Kato"),
    ("吉田", "ヨシダ", "Yoshida"),
    ("山田", "ヤマダ", "Yamada"),
    ("佐々木", "ササキ", "Sasaki"),
    ("山口", "ヤマグチ", "Yamaguchi"),
    ("松本", "マツモト", "Matsumoto"),
    ("井上", "イノウエ", "Inoue"),
    ("木村", "キムラ", "Kimura"),
    ("林", "ハヤシ", "Hayashi"),
    ("斎藤", "サイトウ", "Saito"),
    ("清水", "シミズ", "Shimizu"),
    ("山崎", "ヤマザキ", "Yamazaki"),
    ("森", "モリ", "Mori"),
    ("池田", "イケダ", "Ikeda"),
    ("橋本", "ハシモト", "Hashimoto"),
    ("阿部", "アベ", "Abe"),
    ("石川", "イシカワ", "Ishikawa"),
    ("山下", "ヤマシタ", "Yamashita"),
    ("中島", "ナカジマ", "Nakajima"),
    ("石井", "イシイ", "Ishii"),
    ("小川", "オガワ", "Ogawa"),
    ("前田", "マエダ", "Maeda"),
    ("岡田", "オカダ", "Okada"),
    ("長谷川", "ハセガワ", "Hasegawa"),
    ("藤田", "フジタ", "Fujita"),
    ("後藤", "ゴトウ", "Goto"),
    ("近藤", "コンドウ", "Kondo"),
    ("村上", "ムラカミ", "Murakami"),
    ("遠藤", "エンドウ", "Endo"),
    ("青木", "アオキ", "Aoki"),
    ("坂本", "サカモト", "Sakamoto"),
)

GIVEN_NAMES: tuple[tuple[str, str, str], ...] = (
    ("太郎", "タロウ", "Taro"),
    ("一郎", "イチロウ", "Ichiro"),
    ("健太", "ケンタ", "Kenta"),
    ("翔太", "ショウタ", "Shota"),
    ("大輔", "ダイスケ", "Daisuke"),
    ("拓也", "タクヤ", "Takuya"),
    ("健", "ケン", "Ken"),
    ("誠", "マコト", "Makoto"),
    ("直樹", "ナオキ", "Naoki"),
    ("浩", "ヒロシ", "Hiroshi"),
    ("隆", "タカシ", "Takashi"),
    ("亮", "リョウ", "Ryo"),
    ("大輝", "ダイキ", "Daiki"),
    ("悠斗", "ユウト", "Yuto"),
    ("蓮", "レン", "Ren"),
    ("陽太", "ヨウタ", "Yota"),
    ("和也", "カズヤ", "Kazuya"),
    ("優", "ユウ", "Yu"),
    ("雄一", "ユウイチ", "Yuichi"),
    ("修", "オサム", "Osamu"),
    ("花子", "ハナコ", "Hanako"),
    ("陽子", "ヨウコ", "Yoko"),
    ("恵子", "ケイコ", "Keiko"),
    ("美咲", "ミサキ", "Misaki"),
    ("由紀", "ユキ", "Yuki"),
    ("愛", "アイ", "Ai"),
    ("さくら", "サクラ", "Sakura"),
    ("真由美", "マユミ", "Mayumi"),
    ("明美", "アケミ", "Akemi"),
    ("直子", "ナオコ", "Naoko"),
    ("優子", "ユウコ", "Yuko"),
    ("彩", "アヤ", "Aya"),
    ("舞", "マイ", "Mai"),
    ("美紀", "ミキ", "Miki"),
    ("千尋", "チヒロ", "Chihiro"),
    ("葵", "アオイ", "Aoi"),
    ("結衣", "ユイ", "Yui"),
    ("香織", "カオリ", "Kaori"),
    ("智子", "トモコ", "Tomoko"),
    ("沙織", "サオリ", "Saori"),
)

# (tenant company name, e-mail domain label)
COMPANIES: tuple[tuple[str, str], ...] = (
    ("株式会社さくら商事", "sakura-shoji"),
    ("青葉物産株式会社", "aoba-bussan"),
    ("株式会社みなと不動産", "minato-fudosan"),
    ("株式会社ひかり工業", "hikari-kogyo"),
    ("東和システム株式会社", "towa-system"),
    ("株式会社富士見建設", "fujimi-kensetsu"),
    ("株式会社あおぞら保険サービス", "aozora-hoken"),
    ("北斗電機株式会社", "hokuto-denki"),
)

# Customer companies (friends' employers, group room titles).
CUSTOMERS: tuple[str, ...] = (
    "青葉建設",
    "富士物流",
    "みどり工務店",
    "東西フーズ",
    "大和精機",
    "北斗不動産",
    "光和電設",
    "さくら歯科",
    "ミナミ商会",
    "東京ベイ運輸",
    "なにわ食品",
    "丸山製作所",
)
COMPANY_PREFIXES: tuple[str, ...] = ("(株)", "㈱", "（株）", "(有)", "")

DEPARTMENTS: tuple[str, ...] = (
    "営業部",
    "営業一課",
    "営業二課",
    "大阪支店",
    "開発部",
    "総務部",
    "経理部",
    "カスタマーサポート部",
    "マーケティング部",
    "プロジェクトA",
)
INTERNAL_SUFFIXES: tuple[str, ...] = ("定例", "連絡", "情報共有", "雑談", "週次MTG", "案件相談")
GROUP_SUFFIXES: tuple[str, ...] = ("打合せ", "案件共有", "見積相談", "導入プロジェクト", "ご連絡", "現場")

EMOJI: tuple[str, ...] = (
    "🍣",
    "🌸",
    "🐶",
    "🐱",
    "⚽️",
    "🎵",
    "✨",
    "🌈",
    "☀️",
    "🍀",
    "💐",
    "🍺",
    "🚗",
    "👨‍👩‍👧",
    "♡",
)
NICK_SUFFIXES: tuple[str, ...] = ("ちゃん", "くん", "っち", "さん", "")

# Talk text. Some contain ASCII commas and double quotes on purpose (CSV quoting).
PHRASES: tuple[str, ...] = (
    "お世話になっております。",
    "いつもお世話になっております。",
    "見積書を送付いたします。",
    "ご確認のほど、よろしくお願いいたします。",
    "明日の10時でお願いします",
    "承知しました！",
    "ありがとうございます🙏",
    "了解です👍",
    "本日はありがとうございました。",
    "資料を共有します。ご確認ください。",
    "今から向かいます🚗",
    "10分ほど遅れます、申し訳ありません💦",
    "先日の件、社内で検討いたしました。",
    "納期は12月5日でいかがでしょうか。",
    "お見積りの件、承知いたしました。",
    "請求書を送付しましたのでご査収ください。",
    "打合せは来週火曜14時からでお願いします。",
    "はい、大丈夫です！",
    "少々お待ちください。",
    "確認して折り返しご連絡します。",
    "お疲れさまです。",
    "本日の訪問、ありがとうございました😊",
    "金額は税込で¥128,000です。",
    '件名は"【至急】見積依頼"でお願いします。',
    '"A案"と"B案"、どちらがよろしいでしょうか？',
    "在庫は1,200個あります。",
    "よろしくお願いいたします。",
    "お忙しいところ恐縮ですが、ご返信いただけますと幸いです。",
    "明後日なら、午前中空いてます",
    "ｵｯｹｰです",
    "OKです！",
    "了解しました。では、また連絡します。",
    "数量を100→150に変更できますか？",
    "担当の者に代わります。",
    "メールでもお送りしました📧",
    "駐車場はありますか？",
    "はい、2台分あります",
    "今日は雨なので気をつけてお越しください☔",
    "Thank you, see you tomorrow.",
    "よろしくです〜",
    "ｗｗｗ",
    "了解",
    "👍",
    "すみません、今電話に出られません。",
    '本件は"社外秘"扱いでお願いします。',
    "契約書の原本は郵送でお送りします。",
    "先ほどお電話いただいた件です。",
    "来月の定期点検の日程を調整させてください。",
    "写真ありがとうございます！助かります。",
    "where is the meeting room?",
    "16:00, 3F受付でお待ちしています",
    "①見積書 ②仕様書 ③工程表 を添付します",
    "＃１２３の件、対応完了しました。",
    "お手数ですが、再送をお願いできますか？",
    "（訂正）金額は98,000円でした。失礼しました🙇",
    "かしこまりました。",
    "明日は10時～12時の間に伺います。",
    "Re: 打合せ日程",
    "〒105-0011 東京都港区芝公園4-2-8 までお送りください。",
    "お待たせしました！",
)

BOT_TEXTS: tuple[str, ...] = (
    "【自動応答】お問い合わせありがとうございます。担当者より折り返しご連絡いたします。",
    "ご連絡ありがとうございます。このメッセージは自動送信です。",
    "営業時間外のため、翌営業日にご返信いたします。（営業時間: 9:00～18:00）",
    "【自動送信】担当者が変更になりました。引き続きよろしくお願いいたします。",
    "友だち追加ありがとうございます！\nこちらは社外連絡先Botです。",
)

FILE_NAMES: tuple[str, ...] = (
    "見積書_{y}.pdf",
    "請求書_{ym}.pdf",
    "議事録_{md}.docx",
    "提案資料_v{n}.pptx",
    "発注書.xlsx",
    "図面_A-{n}.pdf",
    "会社案内 {y}.pdf",
    "工程表({md}).xlsx",
    "仕様書_最終版.pdf",
    "現場写真.zip",
)

# (address, latitude, longitude)
LOCATIONS: tuple[tuple[str, float, float], ...] = (
    ("東京都千代田区丸の内1丁目9-1", 35.681236, 139.767125),
    ("東京都港区芝公園4丁目2-8", 35.658581, 139.745433),
    ("東京都新宿区西新宿2丁目8-1", 35.689634, 139.692101),
    ("東京都渋谷区道玄坂1丁目2-3", 35.658034, 139.701636),
    ("東京都中央区銀座4丁目6-16", 35.671877, 139.765148),
    ("東京都品川区北品川1丁目1-1", 35.622060, 139.738993),
    ("東京都江東区豊洲2丁目4-9", 35.654922, 139.796500),
    ("東京都台東区浅草2丁目3-1", 35.714765, 139.796655),
    ("東京都豊島区南池袋1丁目28-1", 35.728926, 139.710380),
    ("東京都墨田区押上1丁目1-2", 35.710063, 139.810700),
    ("大阪府大阪市北区梅田3丁目1-1", 34.702485, 135.495951),
    ("大阪府大阪市中央区難波5丁目1-60", 34.665441, 135.501990),
    ("大阪府大阪市天王寺区悲田院町10-39", 34.646643, 135.513402),
    ("大阪府大阪市中央区大阪城1-1", 34.687315, 135.526201),
    ("大阪府大阪市北区中之島1丁目3-20", 34.693840, 135.502230),
)

# Relative activity by JST hour of day: business hours heavy, some at night.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.30, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 1.20,  # 00-07
    3.00, 6.00, 7.00, 7.00, 5.00, 6.50, 7.00, 7.00,  # 08-15
    7.00, 6.00, 4.50, 3.00, 2.20, 1.30, 0.90, 0.60,  # 16-23
)  # fmt: skip
WEEKEND_FACTOR = 0.35

# Message mix.
P_TEXT = 0.80
P_PHOTO = 0.06
P_FILE = 0.03
P_VIDEO = 0.01
P_STAMP = 0.06
# P_LOCATION = the remaining 0.04
P_LONG = 0.001  # of all messages, taken from the text share
P_BOT = 0.03  # of single-room messages
ROOM_SHARE = {"single": 0.70, "group": 0.15, "internal": 0.15}
TEXT_POOL_BITS = 12
SPLIT_THRESHOLD = 4096

STICKER_URL = "https://stickershop.line-scdn.net/stickershop/v1/sticker"
HOSTILE_DISPLAY_NAME = 'Yamada, "Ken"'

# ---------------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------------

_FULL_KATA = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノ"
    "ハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォッャュョー・"
)
_HALF_KATA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ･"
_HALF_MAP: dict[str, str] = dict(zip(_FULL_KATA, _HALF_KATA, strict=True))
_VOICED = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
_UNVOICED = "カキクケコサシスセソタチツテトハヒフヘホ"
for _voiced, _base in zip(_VOICED, _UNVOICED, strict=True):
    _HALF_MAP[_voiced] = _HALF_MAP[_base] + "ﾞ"
for _semi, _base in zip("パピプペポ", "ハヒフヘホ", strict=True):
    _HALF_MAP[_semi] = _HALF_MAP[_base] + "ﾟ"
_HALF_MAP["ヴ"] = "ｳﾞ"
_HALF_MAP["\u3000"] = " "
_SMALL_KANA = set("ぁぃぅぇぉゃゅょゎァィゥェォャュョヮ")


def to_halfwidth_katakana(text: str) -> str:
    """Full-width katakana to half-width (ｻﾄｳ); voiced kana become two characters (ｶﾞ)."""
    return "".join(_HALF_MAP.get(ch, ch) for ch in text)


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)


def to_fullwidth_latin(text: str) -> str:
    """ASCII to full-width forms (ＹＵＫＩ); space becomes U+3000."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


def _first_morae(kana: str, morae: int = 2) -> str:
    out: list[str] = []
    count = 0
    for ch in kana:
        if ch in _SMALL_KANA:
            out.append(ch)
            continue
        if count == morae:
            break
        out.append(ch)
        count += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Generation of the tenant
# ---------------------------------------------------------------------------------------------------


def _rng(seed: int, purpose: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.Random: stable across processes and PYTHONHASHSEED.
    return random.Random(f"lineworks-scenario/{seed}/{purpose}")


class _Ids:
    """Opaque 36-character ids (hex 8-4-4-4-12) from an RNG, unique within one scenario.

    The variant nibble (first hex digit of the fourth group) is forced to 0-7, so the ids are never
    RFC 4122 UUIDs - like the ids LINE WORKS hands out, code must treat them as opaque strings.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def new(self) -> str:
        while True:
            bits = self._rng.getrandbits(128) & ~(1 << 63)
            h = f"{bits:032x}"
            value = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            if value not in self._seen:
                self._seen.add(value)
                return value


DISPLAY_NAME_STYLES = 10


def _styles(rng: random.Random) -> Iterator[int]:
    """Display-name styles in shuffled blocks: every style equally often, in a seeded order."""
    while True:
        block = list(range(DISPLAY_NAME_STYLES))
        rng.shuffle(block)
        yield from block


def _friend_display_name(rng: random.Random, style: int) -> str:
    last, last_kana, last_romaji = rng.choice(SURNAMES)
    first, first_kana, first_romaji = rng.choice(GIVEN_NAMES)
    if style == 0:  # full name with an ideographic space
        return f"{last}\u3000{first}"
    if style == 1:  # kanji without a space (sometimes the given name only)
        return f"{last}{first}" if rng.random() < 0.8 else first
    if style == 2:  # katakana
        return f"{last_kana} {first_kana}" if rng.random() < 0.5 else f"{last_kana}{first_kana}"
    if style == 3:  # half-width katakana
        return to_halfwidth_katakana(f"{last_kana} {first_kana}" if rng.random() < 0.7 else first_kana)
    if style == 4:  # romaji
        variant = rng.randrange(4)
        if variant == 0:
            return f"{first_romaji} {last_romaji}"
        if variant == 1:
            return f"{first_romaji.lower()}.{last_romaji[0].lower()}"
        if variant == 2:
            return f"{first_romaji.upper()} {last_romaji.upper()}"
        return f"{last_romaji.lower()}_{first_romaji.lower()}"
    if style == 5:  # nickname in hiragana
        if rng.random() < 0.2:
            return f"{to_hiragana(last_kana)} {to_hiragana(first_kana)}"
        return _first_morae(to_hiragana(first_kana)) + rng.choice(NICK_SUFFIXES[:4])
    if style == 6:  # with emoji
        variant = rng.randrange(3)
        if variant == 0:
            return f"{first_romaji}{rng.choice(EMOJI)}"
        if variant == 1:
            return f"{to_hiragana(first_kana)}{rng.choice(EMOJI)}"
        return f"{rng.choice(EMOJI)}{last}{first}{rng.choice(EMOJI)}"
    if style == 7:  # full-width latin
        text = first_romaji.upper() if rng.random() < 0.6 else f"{first_romaji} {last_romaji}"
        return to_fullwidth_latin(text)
    if style == 8:  # company and name
        prefix = rng.choice(COMPANY_PREFIXES)
        return f"{prefix}{rng.choice(CUSTOMERS)} {last}"
    # style 9: hiragana given name, or surname in kanji with the given name in hiragana
    if rng.random() < 0.5:
        return to_hiragana(first_kana)
    return f"{last}{to_hiragana(first_kana)}"


def _check_size(size: ScenarioSize) -> None:
    low, high = size.friends_per_member
    if size.members < 1:
        raise ValueError("members must be >= 1")
    if not 0 <= low <= high:
        raise ValueError("friends_per_member must be an inclusive range (low, high) with 0 <= low <= high")
    if size.group_rooms < 0 or size.internal_rooms < 0:
        raise ValueError("room counts must be >= 0")
    if size.days < 1:
        raise ValueError("days must be >= 1")
    if size.messages < 0:
        raise ValueError("messages must be >= 0")


def _normalize_start(start: datetime | None) -> datetime:
    if start is None:
        return datetime(2026, 11, 20, 9, 0, tzinfo=JST)
    if start.tzinfo is None or start.utcoffset() is None:
        start = start.replace(tzinfo=JST)  # naive: taken as JST wall time
    return start


def generate(
    size: str | ScenarioSize = "demo",
    seed: int = 42,
    start: datetime | None = None,
    **overrides: object,
) -> Scenario:
    """Build a scenario. ``overrides`` replace ``ScenarioSize`` fields, e.g. ``messages=1000``."""
    if isinstance(size, str):
        try:
            base = SIZES[size]
        except KeyError:
            raise ValueError(f"unknown scenario size {size!r}; known: {', '.join(SIZES)}") from None
    elif isinstance(size, ScenarioSize):
        base = size
    else:
        raise TypeError(f"size must be a name or a ScenarioSize, not {type(size).__name__}")
    if overrides:
        known = {f.name for f in dataclasses.fields(ScenarioSize)}
        unknown = sorted(k for k in overrides if k not in known)
        if unknown:
            raise ValueError(f"unknown ScenarioSize field(s): {', '.join(unknown)}")
        if "friends_per_member" in overrides:
            overrides["friends_per_member"] = tuple(overrides["friends_per_member"])  # type: ignore[arg-type]
        base = dataclasses.replace(base, **overrides)  # type: ignore[arg-type]
    _check_size(base)
    start = _normalize_start(start)
    demo = base.name == "demo"

    rng = _rng(seed, "tenant")
    ids = _Ids(_rng(seed, "ids"))
    company_name, domain_label = rng.choice(COMPANIES)
    email_domain = f"{domain_label}.example.com"
    domain_id = 40_000_000 + rng.randrange(1, 1000) * 100

    # Members -------------------------------------------------------------------------------------
    members: list[Member] = []
    emails: set[str] = set()
    for _ in range(base.members):
        last, last_kana, last_romaji = rng.choice(SURNAMES)
        first, first_kana, first_romaji = rng.choice(GIVEN_NAMES)
        local = f"{first_romaji}.{last_romaji}".lower()
        email = f"{local}@{email_domain}"
        suffix = 2
        while email in emails:
            email = f"{local}{suffix}@{email_domain}"
            suffix += 1
        emails.add(email)
        members.append(
            Member(
                user_id=ids.new(),
                email=email,
                last_name=last,
                first_name=first,
                last_name_kana=last_kana,
                first_name_kana=first_kana,
                romaji=f"{first_romaji} {last_romaji}",
            )
        )

    # Friends (as mutable names first, frozen at the end) -----------------------------------------
    frng = _rng(seed, "friends")
    low, high = base.friends_per_member
    styles = _styles(_rng(seed, "display-name-styles"))
    names_by_member: list[list[str]] = []
    for _ in members:
        names: list[str] = []
        for _ in range(frng.randint(low, high)):
            style = next(styles)
            name = _friend_display_name(frng, style)
            tries = 0
            while name in names and tries < 20:  # duplicates within a member only where forced below
                name = _friend_display_name(frng, style)
                tries += 1
            names.append(name)
        names_by_member.append(names)

    with_two = [i for i, names in enumerate(names_by_member) if len(names) >= 2]
    with_one = [i for i, names in enumerate(names_by_member) if names]
    protected: set[tuple[int, int]] = set()
    if not demo and with_two:
        # Same display name twice among one member's friends: always once, then ~1% of members.
        forced = frng.choice(with_two)
        for i in with_two:
            if i == forced or frng.random() < 0.01:
                names = names_by_member[i]
                names[-1] = names[0]
                protected.update({(i, 0), (i, len(names) - 1)})
    if len(with_one) >= 2:
        # The same display name among friends of different members.
        for _ in range(100):
            a, b = frng.sample(with_one, 2)
            ja = frng.randrange(len(names_by_member[a]))
            jb = frng.randrange(len(names_by_member[b]))
            if (b, jb) not in protected and names_by_member[a][ja] not in names_by_member[b]:
                names_by_member[b][jb] = names_by_member[a][ja]
                protected.update({(a, ja), (b, jb)})
                break
    if base.name == "test":
        # One deliberately hostile display name (comma and double quote) for CSV/escaping paths.
        candidates = [
            (i, j)
            for i, names in enumerate(names_by_member)
            for j in range(len(names))
            if (i, j) not in protected
        ]
        if candidates:
            i, j = frng.choice(candidates)
            names_by_member[i][j] = HOSTILE_DISPLAY_NAME

    friends: list[Friend] = []
    friends_by_member: list[list[Friend]] = []
    window = 60 * 86_400
    for member, names in zip(members, names_by_member, strict=True):
        own: list[Friend] = []
        for name in names:
            created = start - timedelta(seconds=frng.randint(3_600, window))
            created = created.replace(microsecond=0)
            if frng.random() < 0.4:
                modified = created
            else:
                span = max(0, int((start - created).total_seconds()) - 1)
                modified = created + timedelta(seconds=frng.randint(0, span))
            friend = Friend(
                contact_id=ids.new(),
                external_user_id=ids.new(),
                display_name=name,
                master_user_id=member.user_id,
                created_time=created,
                modified_time=modified,
            )
            own.append(friend)
            friends.append(friend)
        friends_by_member.append(own)

    # Rooms ---------------------------------------------------------------------------------------
    rrng = _rng(seed, "rooms")
    rooms: list[Room] = [
        Room(ids.new(), "single", f.display_name, (f.master_user_id,), (f.contact_id,)) for f in friends
    ]
    if with_one:
        for _ in range(base.group_rooms):
            first_member = rrng.choice(with_one)
            others = [i for i in range(len(members)) if i != first_member]
            extra = rrng.sample(others, min(len(others), rrng.randint(0, 2)))
            chosen = sorted([first_member, *extra])
            pool = [f for i in chosen for f in friends_by_member[i]]
            picked = rrng.sample(pool, min(len(pool), rrng.randint(2, 4)))
            picked.sort(key=pool.index)
            title = f"{rrng.choice(CUSTOMERS)}様 {rrng.choice(GROUP_SUFFIXES)}"
            rooms.append(
                Room(
                    ids.new(),
                    "group",
                    title,
                    tuple(members[i].user_id for i in chosen),
                    tuple(f.contact_id for f in picked),
                )
            )
    if len(members) >= 2:
        for _ in range(base.internal_rooms):
            chosen = sorted(rrng.sample(range(len(members)), rrng.randint(2, min(5, len(members)))))
            title = f"{rrng.choice(DEPARTMENTS)} {rrng.choice(INTERNAL_SUFFIXES)}"
            rooms.append(Room(ids.new(), "internal", title, tuple(members[i].user_id for i in chosen), ()))

    if not rooms and base.messages:
        raise ValueError("no rooms to put messages in: give the members friends or internal rooms")
    return Scenario(
        seed=seed,
        size=base,
        domain_id=domain_id,
        company_name=company_name,
        email_domain=email_domain,
        start=start,
        members=members,
        friends=friends,
        bots=[Bot(BOT_ID, BOT_NAME)],
        rooms=rooms,
    )


# ---------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` (cumulative rounding, exact sum)."""
    weight_sum = sum(weights)
    counts: list[int] = []
    if weight_sum <= 0:
        counts = [0] * len(weights)
        counts[0] = total
        return counts
    acc = 0.0
    prev = 0
    for w in weights:
        acc += w
        cur = min(total, int(round(total * acc / weight_sum)))
        counts.append(cur - prev)
        prev = cur
    counts[-1] += total - prev
    return counts


def _sorted_offsets(rng: random.Random, count: int, lo: int, hi: int) -> Iterator[int]:
    """``count`` random integer offsets in ``[lo, hi)``, ascending, with bounded memory."""
    span = hi - lo
    if span <= 1:
        yield from repeat(lo, count)
        return
    if count <= SPLIT_THRESHOLD:
        rand = rng.random
        yield from sorted([lo + int(rand() * span) for _ in range(count)])
        return
    parts = min(60, span)
    edges = [lo + span * j // parts for j in range(parts + 1)]
    weights = [(edges[j + 1] - edges[j]) * (0.8 + 0.4 * rng.random()) for j in range(parts)]
    for j, part in enumerate(_allocate(count, weights)):
        if part:
            yield from _sorted_offsets(rng, part, edges[j], edges[j + 1])


def _time_buckets(sc: Scenario) -> tuple[datetime, list[tuple[int, int, int]]]:
    """Return (hour zero, [(hour index, lo second, hi second)]) for the message window."""
    base = sc.start.astimezone(JST)
    if base.microsecond:
        base = base.replace(microsecond=0) + timedelta(seconds=1)
    hour0 = base.replace(minute=0, second=0, microsecond=0)
    first = int((base - hour0).total_seconds())
    if sc.size.name == "demo":
        end = 2 * 3600  # two clock hours: exactly one hour boundary is crossed
    else:
        end = first + sc.size.days * 86_400
    buckets: list[tuple[int, int, int]] = []
    hour = 0
    while hour * 3600 < end:
        lo = max(first, hour * 3600)
        hi = min(end, (hour + 1) * 3600)
        if hi > lo:
            buckets.append((hour, lo - hour * 3600, hi - hour * 3600))
        hour += 1
    return hour0, buckets


def _hour_weights(hour0: datetime, buckets: list[tuple[int, int, int]], rng: random.Random, demo: bool):
    weights: list[float] = []
    day_noise: dict[int, float] = {}
    for hour, lo, hi in buckets:
        local = hour0 + timedelta(hours=hour)
        day = hour // 24
        if day not in day_noise:
            day_noise[day] = 0.8 + 0.4 * rng.random()
        w = HOUR_WEIGHTS[local.hour] * (hi - lo) / 3600
        if not demo:
            w *= day_noise[day] * (0.85 + 0.3 * rng.random())
            if local.weekday() >= 5:
                w *= WEEKEND_FACTOR
        weights.append(w)
    return weights


def _text_pool(rng: random.Random) -> list[str]:
    pool: list[str] = []
    phrases = PHRASES
    for _ in range(1 << TEXT_POOL_BITS):
        x = rng.random()
        if x < 0.55:
            text = rng.choice(phrases)
        elif x < 0.70:
            text = rng.choice(phrases) + rng.choice(EMOJI)
        elif x < 0.90:
            text = "\n".join(rng.choice(phrases) for _ in range(rng.randint(2, 4)))
        else:
            text = rng.choice(phrases) + rng.choice(("", " ", "　")) + rng.choice(phrases)
        pool.append(text)
    return pool


def _long_text(rng: random.Random, target: int) -> str:
    parts = ["【議事録】定例打合せ\n"]
    length = len(parts[0])
    n = 1
    phrases = PHRASES
    while length < target:
        if rng.random() < 0.15:
            piece = f"\n{n}. "
            n += 1
        else:
            piece = rng.choice(phrases)
            if rng.random() < 0.2:
                piece += "\n"
        parts.append(piece)
        length += len(piece)
    return "".join(parts)


def _demo_plan(count: int) -> dict[int, str]:
    """Message indices with a forced property, so that the demo always shows every case."""
    wanted = (
        (0.05, "photo"),
        (0.13, "bot"),
        (0.20, "internal"),
        (0.28, "stamp"),
        (0.35, "dup"),
        (0.43, "long"),
        (0.55, "location"),
        (0.63, "group"),
        (0.73, "file"),
        (0.85, "video"),
    )
    plan: dict[int, str] = {}
    for frac, what in wanted:
        i = int(count * frac)
        if what == "dup" and i < 1:
            continue
        while i in plan and i < count - 1:
            i += 1
        if i < count and i not in plan:
            plan[i] = what
    return plan


class _Plan:
    """Everything ``messages()`` precomputes once; the hot loop only reads it."""

    def __init__(self, sc: Scenario) -> None:
        total = sc.size.messages
        demo = sc.size.name == "demo"
        self.total = total
        self.trng = _rng(sc.seed, "message-times")
        self.prng = prng = _rng(sc.seed, "message-picks")
        self.crng = crng = _rng(sc.seed, "message-content")

        # Participants and rooms, precomputed once (shared objects keep memory flat).
        member_part = {m.user_id: Participant("member", m.user_id) for m in sc.members}
        friend_part = {f.contact_id: Participant("friend", f.contact_id) for f in sc.friends}
        self.bot = Participant("bot", str(sc.bots[0].bot_id)) if sc.bots else None
        rooms = sc.rooms
        if not rooms:
            raise ValueError("the scenario has no rooms to put messages in")
        kind_code = {"single": 0, "group": 1, "internal": 2}
        self.kinds = [kind_code[r.kind] for r in rooms]
        self.channels = [r.channel_id for r in rooms]
        self.parts: list[tuple[Participant, ...]] = []
        self.members: list[int] = []
        self.recipients: list[tuple[tuple[Participant, ...], ...]] = []
        for room in rooms:
            parts = tuple(member_part[u] for u in room.member_ids)
            parts += tuple(friend_part[c] for c in room.friend_ids)
            self.parts.append(parts)
            self.members.append(len(room.member_ids))
            self.recipients.append(tuple(parts[:k] + parts[k + 1 :] for k in range(len(parts))))
        self.bot_recipients = [(parts[0],) for parts in self.parts]

        # Room activity: skewed within a kind, kinds weighted by ROOM_SHARE.
        raw = [prng.lognormvariate(0.0, 1.0) for _ in rooms]
        share_sum = {k: sum(w for w, r in zip(raw, rooms, strict=True) if r.kind == k) for k in ROOM_SHARE}
        present = {k: ROOM_SHARE[k] for k in ROOM_SHARE if share_sum[k] > 0}
        norm = sum(present.values())
        self.cum: list[float] = []
        acc = 0.0
        for w, room in zip(raw, rooms, strict=True):
            acc += w / share_sum[room.kind] * present[room.kind] / norm
            self.cum.append(acc)
        self.cum[-1] = 1.0 + 1e-9
        self.by_kind = {k: [i for i, r in enumerate(rooms) if r.kind == k] for k in ROOM_SHARE}
        self.last_side = [prng.randrange(2) for _ in rooms]
        self.last_sender = [0] * len(rooms)

        self.text_pool = _text_pool(crng)
        self.sticker_ids = [crng.randrange(10_000, 700_000_000) for _ in range(200)]
        self.forced = _demo_plan(total) if demo else {}
        self.long_p = 0.0 if demo else P_LONG
        self.hour0, self.buckets = _time_buckets(sc)
        self.counts = _allocate(total, _hour_weights(self.hour0, self.buckets, self.trng, demo))

    def times(self) -> Iterator[datetime]:
        """The message times, ascending; exactly ``total`` of them."""
        seconds = [timedelta(seconds=s) for s in range(3600)]
        trng = self.trng
        for (hour, lo, hi), count in zip(self.buckets, self.counts, strict=True):
            if not count:
                continue
            bucket_dt = self.hour0 + timedelta(hours=hour)
            last_off = -1
            off_dt = bucket_dt
            for off in _sorted_offsets(trng, count, lo, hi):
                if off != last_off:
                    off_dt = bucket_dt + seconds[off]
                    last_off = off
                yield off_dt

    def forced_room(self, forced: str) -> int:
        choices = self.by_kind["single" if forced == "bot" else forced]
        if not choices:
            return bisect_right(self.cum, self.prng.random())
        return choices[int(self.prng.random() * len(choices))]

    def content(self, x: float, dt: datetime, forced: str | None) -> tuple[str, str]:
        """(kind, text) for a content draw ``x`` that is not a plain pooled text."""
        crng = self.crng
        crand = crng.random
        if x < P_TEXT:
            if forced == "long":
                return "text", _long_text(crng, crng.randint(2_450, 2_550))
            if x < self.long_p:
                return "text", _long_text(crng, crng.randint(3_000, 39_900))
            return "text", self.text_pool[crng.getrandbits(TEXT_POOL_BITS)]
        if x < P_TEXT + P_PHOTO:
            return "photo", f"(写真) IMG_{dt:%Y%m%d_%H%M%S}.jpg"
        if x < P_TEXT + P_PHOTO + P_FILE:
            template = FILE_NAMES[int(crand() * len(FILE_NAMES))]
            name = template.format(y=dt.year, ym=f"{dt:%Y%m}", md=f"{dt:%m%d}", n=1 + int(crand() * 9))
            return "file", f"(ファイル) {name}"
        if x < P_TEXT + P_PHOTO + P_FILE + P_VIDEO:
            return "video", f"(動画) VID_{dt:%Y%m%d_%H%M%S}.mp4"
        if x < P_TEXT + P_PHOTO + P_FILE + P_VIDEO + P_STAMP:
            sticker = self.sticker_ids[int(crand() * len(self.sticker_ids))]
            return "stamp", f"{STICKER_URL}/{sticker}/android/sticker.png"
        address, lat, lng = LOCATIONS[int(crand() * len(LOCATIONS))]
        lat += (crand() - 0.5) * 0.002
        lng += (crand() - 0.5) * 0.002
        return "location", f"(位置情報) {address}\nhttps://maps.google.com/?q={lat:.6f},{lng:.6f}"


def _iter_messages(sc: Scenario) -> Iterator[Message]:
    if sc.size.messages <= 0:
        return
    yield from _message_loop(_Plan(sc))


def _message_loop(p: _Plan) -> Iterator[Message]:
    # Kept small on purpose: hot, and tracemalloc's cost per allocation grows with the function size.
    rand, crand, pool_bits, pool = p.prng.random, p.crng.random, p.crng.getrandbits, p.text_pool
    cum, kinds, members, parts, recipients = p.cum, p.kinds, p.members, p.parts, p.recipients
    last_side, last_sender, channels, bot = p.last_side, p.last_sender, p.channels, p.bot
    plan, content, plain_lo = p.forced, p.content, p.long_p
    index, prev_dt, prev_room, forced = 0, None, 0, None
    for dt in p.times():
        if plan:
            forced = plan.get(index)
            index += 1
        if forced is None:
            r = bisect_right(cum, rand())
        elif forced == "dup":
            dt, r = prev_dt or dt, prev_room
        else:
            r = p.forced_room(forced) if forced in ("bot", "internal", "group") else bisect_right(cum, rand())
        prev_dt, prev_room = dt, r
        kind_r = kinds[r]
        if kind_r == 0:  # single: mostly alternating member / friend; sometimes the bot
            if bot is not None and (forced == "bot" or (forced is None and rand() < P_BOT)):
                text = BOT_TEXTS[int(crand() * len(BOT_TEXTS))]
                yield Message(dt, channels[r], bot, p.bot_recipients[r], "text", text)
                continue
            s = last_side[r]
            if rand() < 0.7 or forced == "dup":
                s = last_side[r] = s ^ 1
        elif kind_r == 1:  # group: alternate sides, any participant of the side
            side = last_side[r]
            if rand() < 0.6 or forced == "dup":
                side = last_side[r] = side ^ 1
            nm = members[r]
            s = int(rand() * nm) if side == 0 else nm + int(rand() * (len(parts[r]) - nm))
        else:  # internal: members only, rarely the same one twice
            n = members[r]
            s = int(rand() * n)
            if s == last_sender[r] and n > 1 and (rand() < 0.7 or forced == "dup"):
                s = (s + 1 + int(rand() * (n - 1))) % n
            last_sender[r] = s
        x = crand() if forced is None else _FORCED_KIND_X.get(forced, crand())
        if plain_lo <= x < P_TEXT and forced != "long":
            kind, text = "text", pool[pool_bits(TEXT_POOL_BITS)]
        else:
            kind, text = content(x, dt, forced)
        yield Message(dt, channels[r], parts[r][s], recipients[r][s], kind, text)


# A content draw that lands in the wanted kind (used by the demo plan).
_FORCED_KIND_X: dict[str, float] = {
    "long": P_TEXT / 2,
    "dup": P_TEXT / 2,
    "photo": P_TEXT + P_PHOTO / 2,
    "file": P_TEXT + P_PHOTO + P_FILE / 2,
    "video": P_TEXT + P_PHOTO + P_FILE + P_VIDEO / 2,
    "stamp": P_TEXT + P_PHOTO + P_FILE + P_VIDEO + P_STAMP / 2,
    "location": 0.99,
}
