"""The 社外連絡先 name search: what the bot runs when a rep types a name, and what admins run to diagnose it
(``lineworks-salesforce names search "<query>" --rep <e-mail or LINE WORKS user id>``).

One SOQL query per search. It is restricted **in the SOQL** to contacts in phonebook folders the rep owns
(``Folder__r.OwnerId``: their shared, personal and team folders), and asks for any searched field containing
one of a few anchors — the query's words in the forms a name may be stored in (katakana, hiragana,
half-width kana, romaji as kana, variant kanji, a full name's first two characters for a name stored with a
space) — and, for a one-word Japanese name, each way to split it into last and first name, looked up in the
name fields and as a name with a space (``林香織`` finds ``林 香織``). Every value is a SOQL literal with
(:mod:`lineworks_salesforce.salesforce_model.soql`). The candidates are then ranked in Python on the
normalised names (:mod:`lineworks_salesforce.names.normalize`): exact > prefix > partial, ties in a stable
order (field, name, Id); the top 7 are shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import jaconv

from lineworks_salesforce.names.normalize import (
    VARIANTS,
    kana_of_romaji,
    key,
    long_vowel_spellings,
    reading_romaji,
    words,
)
from lineworks_salesforce.salesforce_model.soql import QUERY_URL_MAX_BYTES, Like, query_path, soql

TOP = 7
MAX_QUERY_CHARS = 40  # a name, not a paragraph: longer input is refused before any query
MAX_ANCHORS = 16
MAX_CANDIDATES = 500  # records one search reads (ranked in Python)
MAX_SPLIT_CHARS = 10  # a one-word name up to this long is also looked up split into last + first name
# (API name, label) of the fields searched, in the order that breaks ties
FIELDS = (
    ("Name", "社外連絡先名"),
    ("LastName__c", "姓"),
    ("FirstName__c", "名"),
    ("LastNameKana__c", "姓カナ"),
    ("FirstNameKana__c", "名カナ"),
    ("RomajiName__c", "ローマ字"),
    ("LineDisplayName__c", "LINE表示名"),
)
# full name, full kana, and the kana read as romaji (whole, last name, first name)
DERIVED = ("氏名", "氏名カナ", "カナの読み", "姓カナの読み", "名カナの読み")
_LABELS = [label for _, label in FIELDS] + list(DERIVED)
HOW = {"exact": 3, "prefix": 2, "partial": 1}
SELECT = (
    "Id, Name, LastName__c, FirstName__c, LastNameKana__c, FirstNameKana__c, RomajiName__c, "
    "LineDisplayName__c, CompanyName__c, LineWorksContactId__c, Folder__r.Name"
)
_REVERSE_VARIANTS: dict[str, list[str]] = {}
for _variant, _common in VARIANTS.items():
    _REVERSE_VARIANTS.setdefault(_common, []).append(_variant)


class NameQueryError(ValueError):
    """A search word the bot cannot search for (empty, too long); the message is for the rep (Japanese)."""


class RepNotFound(ValueError):
    """No active Salesforce user (or several) for the rep's e-mail or LINE WORKS user id."""


class RecordSource(Protocol):
    def query_records(self, soql: str) -> Iterable[dict[str, Any]]: ...


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    kana: str
    company: str
    folder: str
    field: str  # the label of the field that matched best
    how: str  # "exact" | "prefix" | "partial"
    contact_id: str | None  # LineWorksContactId__c: already linked to a LINE friend when set


def checked_query(query: object) -> str:
    """The rep's search word, or :class:`NameQueryError` (in Japanese, never quoting it)."""
    if not isinstance(query, str) or not key(query):
        raise NameQueryError("検索ワードを入力してください（名前の一部で検索できます）")
    if len(query) > MAX_QUERY_CHARS:
        raise NameQueryError(f"検索ワードは{MAX_QUERY_CHARS}文字以内で入力してください（{len(query)}文字）")
    return query


def anchors(query: str) -> list[str]:
    """The substrings the SOQL looks for: each word of the query in the forms a name may be stored in."""
    ws = words(query)
    if len(ws) == 1 and not ws[0].isascii() and len(ws[0]) >= 3:
        ws.append(ws[0][:2])  # 松山優子 finds 松山 優子, stored with a space
    per_word = []
    for word in ws:
        forms = [word]
        if word.isascii() and (kana := kana_of_romaji(word)):
            forms += [kana, *long_vowel_spellings(kana)]
        for form in [f for f in forms if f and not f.isascii()]:
            forms += [jaconv.kata2hira(form), jaconv.z2h(form, kana=True, ascii=False, digit=False)]
            forms += [form.replace(c, v) for c in set(form) for v in _REVERSE_VARIANTS.get(c, ())]
        per_word.append(forms)
    found: list[str] = []
    for rank_ in range(max(map(len, per_word), default=0)):  # each word's main forms first
        for forms in per_word:
            if rank_ < len(forms) and forms[rank_] not in found:
                found.append(forms[rank_])
    return found[:MAX_ANCHORS]


def splits(query: str) -> list[tuple[str, str]]:
    """A one-word Japanese query typed without the space between last and first name, split every way
    it can be (``林香織`` → ``林`` + ``香織``, ``林香`` + ``織``): what a name stored in two fields, or with a
    space, is looked up by (its words alone are no substring of ``林 香織``)."""
    ws = words(query)
    if len(ws) != 1 or ws[0].isascii() or not 2 <= len(ws[0]) <= MAX_SPLIT_CHARS:
        return []
    return [(ws[0][:i], ws[0][i:]) for i in range(1, len(ws[0]))]


def _split_clauses(parts: list[tuple[str, str]]) -> tuple[list[str], dict[str, Any]]:
    clauses, values = [], {}
    for i, (last, first) in enumerate(parts):
        values |= {f"l{i}": last, f"f{i}": first}
        values |= {
            f"n{i}": Like(f"{last} {first}", "prefix"),
            f"w{i}": Like(f"{last}\u3000{first}", "prefix"),
        }
        clauses += [f"Name LIKE {{n{i}}}", f"Name LIKE {{w{i}}}"]
        clauses.append(f"(LastName__c = {{l{i}}} AND FirstName__c = {{f{i}}})")
        clauses.append(f"(LastNameKana__c = {{l{i}}} AND FirstNameKana__c = {{f{i}}})")
    return clauses, values


def search_soql(query: str, owner_id: str) -> str:
    """The one SOQL query of a search by the rep whose Salesforce User Id is ``owner_id`` (as many of the
    anchors as keep its URL within the REST URI limit; the splits of a one-word name first)."""
    found, parts = anchors(query), splits(query)
    while True:
        split_clauses, split_values = _split_clauses(parts)
        clauses = " OR ".join(
            [f"{field} LIKE {{a{i}}}" for i in range(len(found)) for field, _ in FIELDS] + split_clauses
        )
        text = soql(
            f"SELECT {SELECT} FROM ExternalContact__c WHERE Folder__r.OwnerId = {{owner}} AND ({clauses}) "
            "ORDER BY Name LIMIT {n}",
            owner=owner_id,
            n=MAX_CANDIDATES,
            **{f"a{i}": Like(a, mode="contains") for i, a in enumerate(found)},
            **split_values,
        )
        if (len(found) == 1 and not parts) or len(query_path(text)) <= QUERY_URL_MAX_BYTES:
            return text
        if len(found) > 1:
            found = found[:-1]
        else:
            parts = parts[:-1]


def rank(query: str, records: Iterable[dict[str, Any]], top: int = TOP) -> list[Candidate]:
    """The records matching ``query``, best first: exact > prefix > partial, then field order, name, Id."""
    wanted, wanted_words = key(query), sorted(words(query))
    scored = []
    for record in records:
        best: tuple[int, int] | None = None  # (-how, field order)
        how_of_best = ""
        for order, (label, text) in enumerate(_fields(record)):
            found = _match(wanted, wanted_words, text)
            if found and (best is None or (-HOW[found], order) < best):
                best, how_of_best = (-HOW[found], order), found
        if best is not None:
            scored.append((best, key(record.get("Name")), record.get("Id") or "", record, how_of_best))
    scored.sort(key=lambda item: item[:3])
    return [_candidate(record, _LABELS[best[1]], how) for best, _, _, record, how in scored[:top]]


def search(query: str, owner_id: str, salesforce: RecordSource, top: int = TOP) -> list[Candidate]:
    """Search the 社外連絡先 in the rep's folders: one SOQL call, ranked (the bot and the CLI call this)."""
    query = checked_query(query)
    return rank(query, salesforce.query_records(search_soql(query, owner_id)), top)


def find_rep(rep: str, salesforce: RecordSource) -> dict[str, Any]:
    """The active Salesforce user of a rep named by e-mail or LINE WORKS user id (``LineWorksUserId__c``
    wins over the e-mail, as for served members)."""
    users = list(
        salesforce.query_records(
            soql(
                "SELECT Id, Name, Email, LineWorksUserId__c FROM User WHERE IsActive = true AND "
                "(LineWorksUserId__c = {rep} OR Email = {rep}) LIMIT 5",
                rep=rep,
            )
        )
    )
    by_id = [u for u in users if u.get("LineWorksUserId__c") == rep]
    chosen = by_id or users
    if len(chosen) != 1:
        what = "no active Salesforce user" if not chosen else f"{len(chosen)} Salesforce users"
        raise RepNotFound(f"--rep: {what} with that e-mail or LineWorksUserId__c")
    return chosen[0]


def _fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    last, first = record.get("LastName__c") or "", record.get("FirstName__c") or ""
    last_kana, first_kana = record.get("LastNameKana__c") or "", record.get("FirstNameKana__c") or ""
    values = [(label, record.get(field) or "") for field, label in FIELDS]
    full_kana = f"{last_kana} {first_kana}".strip()
    derived = [
        f"{last} {first}".strip(),
        full_kana,
        reading_romaji(full_kana),
        reading_romaji(last_kana),
        reading_romaji(first_kana),
    ]
    return values + list(zip(DERIVED, derived, strict=True))


def _match(wanted: str, wanted_words: list[str], text: str) -> str | None:
    have = key(text)
    if not have or not wanted:
        return None
    if have == wanted or (len(wanted_words) > 1 and sorted(words(text)) == wanted_words):
        return "exact"
    if have.startswith(wanted):
        return "prefix"
    if wanted in have:
        return "partial"
    return None


def _candidate(record: dict[str, Any], field: str, how: str) -> Candidate:
    kana = f"{record.get('LastNameKana__c') or ''} {record.get('FirstNameKana__c') or ''}".strip()
    return Candidate(
        id=record.get("Id") or "",
        name=record.get("Name") or "",
        kana=kana,
        company=record.get("CompanyName__c") or "",
        folder=((record.get("Folder__r") or {}).get("Name")) or "",
        field=field,
        how=how,
        contact_id=record.get("LineWorksContactId__c"),
    )
