"""Japanese name normalisation for the 社外連絡先 search (the bot and ``lineworks-salesforce names search``).

A query and a stored name compare equal when they differ only in:

- width and compatibility forms (NFKC: ``ﾏﾂﾔﾏ`` = ``マツヤマ``, ``Ｙｕｋｏ`` = ``Yuko``, U+3000 = space);
- hiragana / katakana (``まつやま`` = ``マツヤマ``);
- common variant kanji of names (``髙`` = ``高``, ``﨑`` = ``崎``, ``齋``/``齊``/``斉`` = ``斎``, …:
  :data:`VARIANTS`);
- letter case and, for romaji, long vowels (``Yūko`` = ``Yuuko`` = ``Yuko``, ``Satou`` = ``Sato``);
- spaces, and the order of the words of a name (``Yuko Matsuyama`` = ``Matsuyama Yuko``).

Kana is also read as romaji (``マツヤマ ユウコ`` → ``matsuyama yuko``) so a romaji query finds a name whose
reading was stored in kana only.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

# Variant (異体字) → the common form, for characters people write both ways in names. NFKC already folds
# the compatibility ideographs (﨑 U+FA11 is not one of them: it is a unified CJK compatibility character
# that NFKC keeps, so it is listed).
VARIANTS = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "碕": "崎",
    "齋": "斎",
    "齊": "斎",
    "斉": "斎",
    "邊": "辺",
    "邉": "辺",
    "澤": "沢",
    "濱": "浜",
    "濵": "浜",
    "廣": "広",
    "德": "徳",
    "國": "国",
    "櫻": "桜",
    "瀨": "瀬",
    "眞": "真",
    "冨": "富",
    "槇": "槙",
    "籠": "篭",
    "藪": "薮",
    "嶋": "島",
    "嶌": "島",
    "舘": "館",
    "峯": "峰",
    "淵": "渕",
    "渊": "渕",
    "龍": "竜",
    "惠": "恵",
    "條": "条",
    "萬": "万",
    "實": "実",
    "與": "与",
}
_VARIANTS = str.maketrans(VARIANTS)
_SPACES = re.compile(r"[\s\u3000・･.,，、]+")
_LONG_VOWELS = (("ou", "o"), ("oo", "o"), ("uu", "u"))
_MACRONS = str.maketrans({"ā": "a", "ī": "i", "ū": "u", "ē": "e", "ō": "o", "â": "a", "û": "u", "ô": "o"})


def words(text: str | None) -> list[str]:
    """The normalised words of ``text`` (see the module docstring); ``[]`` for nothing."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text).translate(_MACRONS).lower()
    folded = jaconv.hira2kata(folded).translate(_VARIANTS)
    return [romaji_fold(w) if w.isascii() else w for w in _SPACES.split(folded) if w]


def romaji_fold(word: str) -> str:
    """Long vowels written any way as one vowel: ``satou``/``satoo`` → ``sato``, ``yuuko`` → ``yuko``."""
    for long, short in _LONG_VOWELS:
        word = word.replace(long, short)
    return word


def key(text: str | None) -> str:
    """The space-free comparison key of a name."""
    return "".join(words(text))


def reading_romaji(kana: str | None) -> str:
    """A kana reading as romaji words (``マツヤマ ユウコ`` → ``matsuyama yuko``); ``""`` when not kana."""
    ws = words(kana)
    if not ws or not all(_is_kana(w) for w in ws):
        return ""
    return " ".join(romaji_fold(jaconv.kana2alphabet(jaconv.kata2hira(w))) for w in ws)


def kana_of_romaji(word: str) -> str:
    """A romaji word as katakana (``matsuyama`` → ``マツヤマ``), or ``""`` when it does not spell kana."""
    kana = jaconv.hira2kata(jaconv.alphabet2kana(word.lower()))
    return kana if kana and all(_is_kana(c) for c in kana) else ""


def long_vowel_spellings(kana: str) -> list[str]:
    """``kana`` with an ウ added after one o/u-sound kana (``ユコ`` → ``ユウコ``, ``ユコウ``): how the reading
    of a romaji word typed without its long vowel (``yuko`` for ユウコ, ``sato`` for サトウ) is stored."""
    out = []
    for i, c in enumerate(kana):
        sound = jaconv.kana2alphabet(jaconv.kata2hira(c))
        if sound[-1:] in ("o", "u") and kana[i + 1 : i + 2] != "ウ":
            out.append(kana[: i + 1] + "ウ" + kana[i + 1 :])
    return out


def _is_kana(text: str) -> bool:
    return all("\u30a0" <= c <= "\u30ff" for c in text)
