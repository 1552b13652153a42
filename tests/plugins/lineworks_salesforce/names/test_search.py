"""The 社外連絡先 name search against the Salesforce sandbox: one real SOQL query per search, only the rep's
folders, every normalisation, and typed text that cannot change a query's meaning."""

from __future__ import annotations

import pytest

from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.names import NameQueryError, anchors, rank, search, search_soql

REP_A, REP_B = "tanaka@example.com", "sato.rep@example.com"
# (Name, 姓, 名, 姓カナ, 名カナ, ローマ字, LINE表示名, 会社) in rep A's folders
MINE = [
    ("松山 優子", "松山", "優子", "マツヤマ", "ユウコ", "Yuko Matsuyama", "ゆうこ🌸", "株式会社サンプル"),
    ("髙橋 健太", "髙橋", "健太", "タカハシ", "ケンタ", "Kenta Takahashi", "けんた", "髙橋工務店"),
    ("山﨑 さくら", "山﨑", "さくら", "ヤマザキ", "サクラ", None, "sakura", None),
    ("齋藤 一郎", "齋藤", "一郎", "サイトウ", "イチロウ", "Ichiro Saito", None, "齋藤商事"),
    ("佐藤 花子", "佐藤", "花子", "サトウ", "ハナコ", "Hanako Sato", "はなちゃん", None),
    ("佐藤 二郎", "佐藤", "二郎", "サトウ", "ジロウ", None, None, None),
    ("松本 潤", "松本", "潤", "マツモト", "ジュン", None, None, None),
    ("渡邉 恵", "渡邉", "恵", "ワタナベ", "メグミ", "Megumi Watanabe", None, None),
    ("ｽｽﾞｷ ｲﾁﾛｳ", None, None, "ｽｽﾞｷ", "ｲﾁﾛｳ", None, None, None),  # stored half-width
    ("オブライエン ショーン", None, None, "オブライエン", "ショーン", "Sean O'Brien", None, "O'Brien & Co."),
    ("100%_担当者", None, None, None, None, None, None, None),
    ("C:\\share 担当", None, None, None, None, None, None, None),
    ("林 香織", "林", "香織", "ハヤシ", "カオリ", None, None, None),  # a one-character last name
    ("森 優", "森", "優", "モリ", "ユウ", None, None, None),
    ("原\u3000望", None, None, None, None, None, None, None),  # only a Name, with U+3000
]
# in rep B's folder, or in no folder: never found by rep A
OTHERS = [
    ("山田 太郎", "山田", "太郎", "ヤマダ", "タロウ", "Taro Yamada", None, None),
    ("松山 優子", "松山", "優子", "マツヤマ", "ユウコ", "Yuko Matsuyama", None, "他社"),
]
NO_FOLDER = ("松山 優子（フォルダなし）", "松山", "優子", "マツヤマ", "ユウコ", None, None, None)
FIELDS = [
    "Name",
    "LastName__c",
    "FirstName__c",
    "LastNameKana__c",
    "FirstNameKana__c",
    "RomajiName__c",
    "LineDisplayName__c",
    "CompanyName__c",
]


@pytest.fixture
def org(salesforce_sandbox, salesforce_conn) -> dict:
    """Rep A owns a personal and a team folder holding MINE; rep B's folder and a folder-less contact
    hold OTHERS. Returns the reps' User Ids and the Ids of rep A's contacts."""
    control = salesforce_sandbox.control
    users = control.seed(
        {
            "records": {
                "User": [
                    {"Username": e, "Email": e, "LastName": n, "IsActive": True}
                    for e, n in ((REP_A, "田中"), (REP_B, "佐藤"))
                ]
            }
        }
    )["created"]["User"]
    folders = control.seed(
        {
            "records": {
                "PhonebookFolder__c": [
                    {"Name": "田中の個人フォルダ", "Type__c": "Personal", "OwnerId": users[0]},
                    {"Name": "営業1課", "Type__c": "Team", "OwnerId": users[0]},
                    {"Name": "佐藤の個人フォルダ", "Type__c": "Personal", "OwnerId": users[1]},
                ]
            }
        }
    )["created"]["PhonebookFolder__c"]

    def records(rows, folder=None):
        return [
            {
                **{f: v for f, v in zip(FIELDS, row) if v is not None},
                **({"Folder__c": folder} if folder else {}),
            }
            for row in rows
        ]

    mine = records(MINE[::2], folders[0]) + records(MINE[1::2], folders[1])
    ids = control.seed({"records": {"ExternalContact__c": mine}})["created"]["ExternalContact__c"]
    control.seed({"records": {"ExternalContact__c": records(OTHERS, folders[2]) + records([NO_FOLDER])}})
    return {"rep_a": users[0], "rep_b": users[1], "mine": set(ids), "hook": SalesforceActivityHook()}


def _search(org, query, rep="rep_a"):
    return search(query, org[rep], org["hook"])


CASES = [
    # (query, expected top hit's Name or None, how it matched or None)
    ("松山優子", "松山 優子", "exact"),
    ("松山 優子", "松山 優子", "exact"),
    ("松山\u3000優子", "松山 優子", "exact"),
    ("  松山   優子  ", "松山 優子", "exact"),
    ("松山", "松山 優子", "exact"),  # 姓
    ("優子", "松山 優子", "exact"),  # 名
    ("松", "松山 優子", "prefix"),
    ("つやま", "松山 優子", "partial"),
    ("まつやま", "松山 優子", "exact"),
    ("マツヤマ", "松山 優子", "exact"),
    ("ﾏﾂﾔﾏ", "松山 優子", "exact"),
    ("まつやま ゆうこ", "松山 優子", "exact"),
    ("ユウコ マツヤマ", "松山 優子", "exact"),
    ("マツヤマユウコ", "松山 優子", "exact"),
    ("Yuko Matsuyama", "松山 優子", "exact"),
    ("Matsuyama Yuko", "松山 優子", "exact"),
    ("matsuyama yuko", "松山 優子", "exact"),
    ("ＹＵＫＯ　ＭＡＴＳＵＹＡＭＡ", "松山 優子", "exact"),
    ("matsuyama", "松山 優子", "exact"),
    ("Yūko", "松山 優子", "exact"),
    ("ゆうこ🌸", "松山 優子", "exact"),  # the LINE display name
    ("高橋", "髙橋 健太", "exact"),
    ("髙橋", "髙橋 健太", "exact"),
    ("高橋健太", "髙橋 健太", "exact"),
    ("たかはし", "髙橋 健太", "exact"),
    ("ﾀｶﾊｼ ｹﾝﾀ", "髙橋 健太", "exact"),
    ("Takahashi Kenta", "髙橋 健太", "exact"),
    ("kenta", "髙橋 健太", "exact"),  # 名カナ read as romaji
    ("健太", "髙橋 健太", "exact"),
    ("山崎", "山﨑 さくら", "exact"),
    ("山﨑", "山﨑 さくら", "exact"),
    ("やまざき さくら", "山﨑 さくら", "exact"),
    ("yamazaki", "山﨑 さくら", "exact"),  # no romaji stored: found through the kana's reading
    ("斎藤", "齋藤 一郎", "exact"),
    ("斉藤", "齋藤 一郎", "exact"),
    ("齊藤", "齋藤 一郎", "exact"),
    ("齋藤一郎", "齋藤 一郎", "exact"),
    ("saito", "齋藤 一郎", "exact"),
    ("Saitou Ichirou", "齋藤 一郎", "exact"),
    ("渡辺", "渡邉 恵", "exact"),
    ("渡邊", "渡邉 恵", "exact"),
    ("わたなべ めぐみ", "渡邉 恵", "exact"),
    ("めぐみ", "渡邉 恵", "exact"),
    ("すずき", "ｽｽﾞｷ ｲﾁﾛｳ", "exact"),
    ("スズキ", "ｽｽﾞｷ ｲﾁﾛｳ", "exact"),
    ("鈴木", None, None),  # no kanji stored, and kana is not kanji
    ("suzuki", "ｽｽﾞｷ ｲﾁﾛｳ", "exact"),
    ("suzuki ichiro", "ｽｽﾞｷ ｲﾁﾛｳ", "exact"),
    ("佐藤 花子", "佐藤 花子", "exact"),
    ("はなちゃん", "佐藤 花子", "exact"),
    ("じろう", "佐藤 二郎", "exact"),
    ("松本潤", "松本 潤", "exact"),
    ("jun", "松本 潤", "exact"),
    ("O'Brien", "オブライエン ショーン", "partial"),
    ("o'brien", "オブライエン ショーン", "partial"),
    ("Sean O'Brien", "オブライエン ショーン", "exact"),
    ("オブライエン", "オブライエン ショーン", "exact"),
    ("100%", "100%_担当者", "prefix"),
    ("%_", "100%_担当者", "partial"),
    ("C:\\share", "C:\\share 担当", "prefix"),
    ("林香織", "林 香織", "exact"),  # typed without the space: looked up split, 林 + 香織
    ("森優", "森 優", "exact"),
    ("はやしかおり", "林 香織", "exact"),  # split in the kana fields
    ("ﾓﾘﾕｳ", "森 優", "exact"),
    ("原望", "原\u3000望", "exact"),  # split, as a Name with U+3000
    ("山田", None, None),  # rep B's folder
    ("山田 太郎", None, None),
    ("Taro Yamada", None, None),
    ("フォルダなし", None, None),  # a contact in no folder
    ("存在しない名前", None, None),
    ("zzz", None, None),
]


@pytest.mark.parametrize(("query", "top", "how"), CASES, ids=[c[0] for c in CASES])
def test_should_find_the_contact_as_the_rep_typed_it(org, query, top, how):
    found = _search(org, query)
    assert len(found) <= 7 and {c.id for c in found} <= org["mine"]  # only the rep's folders
    if top is None:
        assert found == []
    else:
        assert found, query
        assert (found[0].name, found[0].how) == (top, how), [(c.name, c.field, c.how) for c in found]


def test_should_show_each_rep_only_their_own_folders(org):
    a = _search(org, "松山 優子")
    b = _search(org, "松山 優子", rep="rep_b")
    assert [c.folder for c in a] == ["田中の個人フォルダ"] and [c.company for c in a] == ["株式会社サンプル"]
    assert [c.folder for c in b] == ["佐藤の個人フォルダ"] and [c.company for c in b] == ["他社"]
    assert _search(org, "山田 太郎", rep="rep_b")[0].name == "山田 太郎"


def test_should_rank_exact_before_prefix_before_partial_and_show_at_most_seven(org):
    found = _search(org, "ま")  # every マ... and ...マ...
    assert len(found) <= 7
    order = [{"exact": 0, "prefix": 1, "partial": 2}[c.how] for c in found]
    assert order == sorted(order)
    assert _search(org, "ま") == found  # stable


def test_should_search_with_one_soql_call_restricted_to_the_rep_in_the_query(org, salesforce_sandbox):
    before = salesforce_sandbox.calls().get("query", 0)
    _search(org, "Yuko Matsuyama")
    assert salesforce_sandbox.calls().get("query", 0) == before + 1
    assert f"Folder__r.OwnerId = '{org['rep_a']}'" in search_soql("Yuko Matsuyama", org["rep_a"])


INJECTIONS = [
    "'",
    "''",
    "\\",
    "\\'",
    "' OR Name LIKE '%",
    "%' OR Folder__r.OwnerId != '",
    "') OR (Name LIKE '%",
    "' AND Id != null AND Name LIKE '",
    "松山' OR '1'='1",
    "\\' OR 1=1 --",
    "%%",
    "__",
    "\\%",
    "\\_",
    "%",
    "_",
    "' LIMIT 1 --",
    "\\u0027 OR Name != null",
    "\n' OR Name != null",
    '" OR Name != null',
]


@pytest.mark.parametrize("typed", INJECTIONS)
def test_should_keep_typed_text_a_literal_whatever_it_holds(org, typed):
    records = list(org["hook"].query_records(search_soql(typed, org["rep_a"])))  # no MALFORMED_QUERY
    looked_for = [a.lower() for a in anchors(typed)]
    for record in records:  # the query meant "contains the text", nothing wider
        assert record["Id"] in org["mine"]
        assert any(a in (record.get(f) or "").lower() for a in looked_for for f in FIELDS[:7]), record
    every = [dict(zip(FIELDS, row), Id=str(i)) for i, row in enumerate(MINE)]
    assert [c.name for c in _search(org, typed)] == [c.name for c in rank(typed, every)]


@pytest.mark.parametrize("typed", ["", "   ", "\u3000", "あ" * 41, None, 42])
def test_should_refuse_what_is_not_a_search_word_in_japanese(org, typed):
    with pytest.raises(NameQueryError) as refused:
        _search(org, typed)
    assert "検索ワード" in str(refused.value) and (
        not isinstance(typed, str) or typed.strip() == "" or "あ" * 41 not in str(refused.value)
    )


def test_should_diagnose_a_search_from_the_command_line(org, salesforce_sandbox, capsys):
    import io

    from lineworks_salesforce.cli import main

    out = io.StringIO()
    assert main(["names", "search", "Matsuyama Yuko", "--rep", REP_A], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1 candidates (rep 田中, ")
    assert "松山 優子  マツヤマ ユウコ  株式会社サンプル  田中の個人フォルダ  (ローマ字: exact)" in lines[1]

    okada = {"Username": "lw@example.com", "Email": "x@example.com", "LastName": "岡田", "IsActive": True}
    salesforce_sandbox.control.seed({"records": {"User": [{**okada, "LineWorksUserId__c": "lw-okada"}]}})
    out = io.StringIO()
    assert main(["names", "search", "存在しない", "--rep", "lw-okada"], out=out) == 0
    assert out.getvalue().startswith("0 candidates (rep 岡田, ")

    assert main(["names", "search", "松山", "--rep", "nobody@example.com"], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "--rep: no active Salesforce user" in err and "nobody@example.com" not in err
    assert main(["names", "search", "あ" * 50, "--rep", REP_A], out=io.StringIO()) == 2
    assert "検索ワードは40文字以内" in capsys.readouterr().err
