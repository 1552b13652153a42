"""Tests of the sandbox SOQL engine (sandbox/salesforce/soql.py) over a small in-memory record source.

Every result is checked exactly (Ids in order). Expected semantics come from the SOQL reference:
case-insensitive text, ``!=``/``NOT IN`` matching nulls, null booleans as false, LIKE-only ``\\%``/``\\_``,
date literals as day ranges, ``NULLS FIRST`` for ASC and ``NULLS LAST`` for DESC by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import pytest

from sandbox.salesforce.soql import And, Comparison, Not, Query, SoqlError, execute, parse

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)

U1, U2 = "005000000000001AAA", "005000000000002AAA"
L1, L2, L3, L4, L5 = (f"00Q00000000000{n}AAA" for n in range(1, 6))
C1, C2 = "003000000000001AAA", "003000000000002AAA"
F1 = "a01000000000001AAA"
P1, P2 = "0PS000000000001AAA", "0PS000000000002AAA"
A1, A2 = "0Pa000000000001AAA", "0Pa000000000002AAA"
T1, T2, T3, T4 = (f"00T00000000000{n}AAA" for n in range(1, 5))

SCHEMA: dict[str, dict[str, str]] = {
    "Lead": {
        "Id": "id",
        "Name": "string",
        "LastName": "string",
        "Company": "string",
        "Email": "email",
        "Status": "picklist",
        "Description": "textarea",
        "NumberOfEmployees": "int",
        "AnnualRevenue": "currency",
        "IsConverted": "boolean",
        "IsDeleted": "boolean",
        "CreatedDate": "datetime",
        "LastActivityDate": "date",
        "OwnerId": "reference",
        "Interests__c": "multipicklist",
        "External_Key__c": "string",
    },
    "Contact": {
        "Id": "id",
        "Name": "string",
        "Email": "email",
        "OwnerId": "reference",
        "Folder__c": "reference",
    },
    "PhonebookFolder__c": {"Id": "id", "Name": "string"},
    "User": {"Id": "id", "Name": "string", "Email": "email", "IsActive": "boolean"},
    "PermissionSet": {"Id": "id", "Name": "string", "Label": "string"},
    "PermissionSetAssignment": {"Id": "id", "AssigneeId": "reference", "PermissionSetId": "reference"},
    "Task": {
        "Id": "id",
        "Subject": "string",
        "WhoId": "reference",
        "OwnerId": "reference",
        "ActivityDate": "date",
    },
}
RELATIONSHIPS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Lead": {"Owner": ("OwnerId", ("User",))},
    "Contact": {"Owner": ("OwnerId", ("User",)), "Folder__r": ("Folder__c", ("PhonebookFolder__c",))},
    "PermissionSetAssignment": {
        "Assignee": ("AssigneeId", ("User",)),
        "PermissionSet": ("PermissionSetId", ("PermissionSet",)),
    },
    "Task": {"Who": ("WhoId", ("Contact", "Lead")), "Owner": ("OwnerId", ("User",))},
}
CASE_SENSITIVE = {("Lead", "External_Key__c")}


def _lead(id_: str, last_name: str, **values) -> dict:
    return {"Id": id_, "Name": last_name, "LastName": last_name, "IsDeleted": False, **values}


RECORDS: dict[str, list[dict]] = {
    "User": [
        {"Id": U1, "Name": "Alice Admin", "Email": "alice@example.com", "IsActive": True},
        {"Id": U2, "Name": "Bob Builder", "Email": "bob@example.com", "IsActive": False},
    ],
    "Lead": [
        _lead(
            L1,
            "O'Brien",
            Company="Acme",
            Email="obrien@example.com",
            Status="Open",
            Description="100% sure",
            NumberOfEmployees=10,
            AnnualRevenue=1000.5,
            IsConverted=False,
            CreatedDate="2026-11-20T00:30:00.000+0000",
            LastActivityDate="2026-11-19",
            OwnerId=U1,
            Interests__c="Golf;Tennis",
            External_Key__c="Key-A",
        ),
        _lead(
            L2,
            "Back\\slash",
            Company="acme",
            Email=None,
            Status="Working",
            Description="50_50",
            NumberOfEmployees=50,
            AnnualRevenue=None,
            IsConverted=True,
            CreatedDate="2026-11-20T09:00:00.000+0000",
            LastActivityDate=None,
            OwnerId=U2,
            Interests__c="Tennis",
            External_Key__c="key-a",
        ),
        _lead(
            L3,
            "Smith",
            Company="Globex",
            Email="smith@example.com",
            Status=None,
            Description="100 percent",
            NumberOfEmployees=None,
            AnnualRevenue=250.0,
            IsConverted=None,
            CreatedDate="2026-11-21T12:00:00.000+0000",
            LastActivityDate="2026-11-23",
            OwnerId=None,
        ),
        _lead(
            L4,
            "smithson",
            Company="Initech",
            Email="smithson@example.com",
            Status="Open",
            Description="line1\nline2\ttab é",
            NumberOfEmployees=5,
            AnnualRevenue=99.0,
            IsConverted=False,
            CreatedDate="2026-11-24T08:00:00.000+0000",
            LastActivityDate="2026-11-24",
            OwnerId=U1,
        ),
        {**_lead(L5, "Ghost", Company="Acme", Status="Open", OwnerId=U1), "IsDeleted": True},
    ],
    "PhonebookFolder__c": [{"Id": F1, "Name": "Sales"}],
    "Contact": [
        {"Id": C1, "Name": "Carol Contact", "Email": "carol@example.com", "OwnerId": U1, "Folder__c": F1},
        {"Id": C2, "Name": "Dan Doe", "Email": None, "OwnerId": U2, "Folder__c": None},
    ],
    "PermissionSet": [
        {"Id": P1, "Name": "LineWorks_Integration", "Label": "LINE WORKS integration"},
        {"Id": P2, "Name": "Other", "Label": "Other"},
    ],
    "PermissionSetAssignment": [
        {"Id": A1, "AssigneeId": U1, "PermissionSetId": P1},
        {"Id": A2, "AssigneeId": U2, "PermissionSetId": P2},
    ],
    "Task": [
        {"Id": T1, "Subject": "Call", "WhoId": L1, "OwnerId": U1, "ActivityDate": "2026-11-20"},
        {"Id": T2, "Subject": "Email", "WhoId": C1, "OwnerId": U2, "ActivityDate": None},
        {"Id": T3, "Subject": "Note", "WhoId": None, "OwnerId": U1, "ActivityDate": None},
        {"Id": T4, "Subject": "Orphan", "WhoId": L5, "OwnerId": U1, "ActivityDate": None},
    ],
}


class MemorySource:
    """A :class:`soql.RecordSource` over plain dicts, with case-insensitive names like the real schema."""

    def __init__(self, records: dict[str, list[dict]], schema: dict[str, dict[str, str]] = SCHEMA) -> None:
        self._records = records
        self._schema = schema
        self._by_id = {r["Id"]: (name, r) for name, rows in records.items() for r in rows}

    def object_exists(self, sobject: str) -> str | None:
        return next((name for name in self._schema if name.lower() == sobject.lower()), None)

    def field(self, sobject: str, name: str) -> tuple[str, str] | None:
        fields = self._schema.get(sobject, {})
        return next(((f, t) for f, t in fields.items() if f.lower() == name.lower()), None)

    def relationship(self, sobject: str, name: str) -> tuple[str, tuple[str, ...]] | None:
        rels = RELATIONSHIPS.get(sobject, {})
        return next((v for k, v in rels.items() if k.lower() == name.lower()), None)

    def records(self, sobject: str) -> Iterable[dict]:
        return self._records.get(sobject, [])

    def get(self, record_id: str) -> tuple[str, dict] | None:
        return self._by_id.get(record_id)

    def case_sensitive(self, sobject: str, name: str) -> bool:
        return (sobject, name) in CASE_SENSITIVE


SOURCE = MemorySource(RECORDS)


def run(soql: str, **kwargs) -> tuple[int, list[dict]]:
    return execute(parse(soql), SOURCE, now=NOW, **kwargs)


def ids(soql: str, **kwargs) -> list[str]:
    total, rows = run(soql, **kwargs)
    assert total == len(rows)
    return [row["Id"] for row in rows]


def lead_ids(where: str) -> list[str]:
    return ids(f"SELECT Id FROM Lead WHERE {where}")


def soql_quote(value: str) -> str:
    """Quote a value for an = / IN literal the way a careful client does."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql_like_quote(value: str) -> str:
    """Quote a value for a LIKE literal: also escape the wildcards."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("%", "\\%").replace("_", "\\_")
    return "'" + escaped + "'"


# --- parse ---------------------------------------------------------------------------------------


def test_should_parse_query_into_frozen_dataclass_with_paths_as_written():
    query = parse(
        "SELECT Id, owner.Name, PermissionSet.Name FROM lead WHERE Name = 'x' AND (NOT Status = 'Open') "
        "ORDER BY Name DESC NULLS FIRST, Id, CreatedDate ASC NULLS LAST LIMIT 10 OFFSET 5"
    )

    assert query.sobject == "lead"
    assert query.fields == ("Id", "owner.Name", "PermissionSet.Name")
    assert query.count_only is False
    assert query.order_by == (("Name", False, True), ("Id", True, None), ("CreatedDate", True, False))
    assert (query.limit, query.offset) == (10, 5)
    assert isinstance(query.where, And)
    assert isinstance(query.where.items[0], Comparison)
    assert isinstance(query.where.items[1], Not)
    with pytest.raises(AttributeError):
        query.limit = 1  # type: ignore[misc]


def test_should_parse_count_only_with_empty_fields():
    assert parse("select count() from Lead where Status = 'Open' limit 3") == Query(
        sobject="Lead",
        fields=(),
        count_only=True,
        where=parse("SELECT Id FROM Lead WHERE Status = 'Open'").where,
        order_by=(),
        limit=3,
        offset=None,
    )


def test_should_treat_keywords_case_insensitively():
    assert ids("sElEcT iD fRoM lEaD wHeRe CoMpAnY = 'acme' AnD sTaTuS != NuLl oRdEr By LaStNaMe") == [L2, L1]
    assert ids("select id from lead where company = 'ACME' order by lastname desc nulls last limit 1") == [L1]


# --- SELECT output --------------------------------------------------------------------------------


def test_should_return_rows_keyed_by_canonical_names_in_select_order():
    total, rows = run("SELECT lastname, ID, company FROM LEAD WHERE id = '" + L1 + "'")

    assert total == 1
    assert rows == [{"LastName": "O'Brien", "Id": L1, "Company": "Acme"}]
    assert list(rows[0]) == ["LastName", "Id", "Company"]


def test_should_nest_relationship_fields_with_none_for_empty_reference():
    _, rows = run("SELECT Id, owner.name, OWNER.Email, OwnerId FROM Lead ORDER BY LastName")

    assert rows == [
        {"Id": L2, "Owner": {"Name": "Bob Builder", "Email": "bob@example.com"}, "OwnerId": U2},
        {"Id": L1, "Owner": {"Name": "Alice Admin", "Email": "alice@example.com"}, "OwnerId": U1},
        {"Id": L3, "Owner": None, "OwnerId": None},
        {"Id": L4, "Owner": {"Name": "Alice Admin", "Email": "alice@example.com"}, "OwnerId": U1},
    ]
    assert list(rows[0]) == ["Id", "Owner", "OwnerId"]
    assert list(rows[0]["Owner"]) == ["Name", "Email"]


def test_should_resolve_custom_relationship_and_permission_set_paths():
    _, contacts = run("SELECT Name, folder__R.name FROM Contact")
    _, assignments = run(
        "SELECT AssigneeId, PermissionSet.Name FROM PermissionSetAssignment "
        "WHERE PermissionSet.Name = 'lineworks_integration' AND Assignee.IsActive = TRUE"
    )

    assert contacts == [
        {"Name": "Carol Contact", "Folder__r": {"Name": "Sales"}},
        {"Name": "Dan Doe", "Folder__r": None},
    ]
    assert assignments == [{"AssigneeId": U1, "PermissionSet": {"Name": "LineWorks_Integration"}}]


def test_should_follow_polymorphic_who_to_whatever_object_the_id_names():
    _, rows = run("SELECT Subject, Who.Name, Who.Company FROM Task ORDER BY Subject")

    assert rows == [
        {"Subject": "Call", "Who": {"Name": "O'Brien", "Company": "Acme"}},  # a Lead
        {"Subject": "Email", "Who": {"Name": "Carol Contact", "Company": None}},  # a Contact: no Company
        {"Subject": "Note", "Who": None},
        {"Subject": "Orphan", "Who": None},  # the Lead it names is deleted
    ]
    assert ids("SELECT Id FROM Task WHERE Who.Name = null") == [T3, T4]
    assert ids("SELECT Id FROM Task WHERE Who.Name LIKE 'carol%'") == [T2]


def test_should_add_attributes_when_a_hook_is_given():
    def attributes(sobject: str, record_id: str) -> dict:
        return {"type": sobject, "url": f"/sobjects/{sobject}/{record_id}"}

    _, rows = run(f"SELECT Subject, Who.Name FROM Task WHERE Id = '{T1}'", attributes=attributes)

    assert rows == [
        {
            "attributes": {"type": "Task", "url": f"/sobjects/Task/{T1}"},
            "Subject": "Call",
            "Who": {"attributes": {"type": "Lead", "url": f"/sobjects/Lead/{L1}"}, "Name": "O'Brien"},
        }
    ]


# --- WHERE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("NumberOfEmployees = 10", [L1]),
        ("NumberOfEmployees != 10", [L2, L3, L4]),  # null values match !=
        ("NumberOfEmployees <> 10", [L2, L3, L4]),
        ("NumberOfEmployees < 50", [L1, L4]),
        ("NumberOfEmployees <= 10", [L1, L4]),
        ("NumberOfEmployees > 5", [L1, L2]),
        ("NumberOfEmployees >= 5", [L1, L2, L4]),
        ("AnnualRevenue = 250", [L3]),
        ("AnnualRevenue > 999.99", [L1]),
        ("AnnualRevenue < -1", []),
        ("LastName > 'S'", [L3, L4]),
        ("LastName < 'c'", [L2]),
    ],
)
def test_should_filter_with_each_comparison_operator(where: str, expected: list[str]):
    assert lead_ids(where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Company = 'ACME'", [L1, L2]),
        ("Company != 'acme'", [L3, L4]),
        ("Status != 'open'", [L2, L3]),
        ("Status = null", [L3]),
        ("Status != null", [L1, L2, L4]),
        ("Email = null", [L2]),
        ("IsConverted = true", [L2]),
        ("IsConverted = FALSE", [L1, L3, L4]),  # a null boolean is false
        ("IsConverted = null", [L1, L3, L4]),
        ("IsConverted != null", [L2]),
        ("Interests__c = 'tennis;golf'", [L1]),  # multi-select: the same set of values
        ("Interests__c = 'Tennis'", [L2]),
        ("External_Key__c = 'key-a'", [L2]),  # a case-sensitive field
    ],
)
def test_should_compare_text_case_insensitively_and_nulls_like_salesforce(where: str, expected: list[str]):
    assert lead_ids(where) == expected


def test_should_compare_ids_case_sensitively_and_accept_the_15_character_form():
    assert lead_ids(f"Id = '{L1}'") == [L1]
    assert lead_ids(f"Id = '{L1.lower()}'") == []
    assert lead_ids(f"Id = '{L1[:15]}'") == [L1]
    assert lead_ids(f"OwnerId IN ('{U2[:15]}', '{U1}')") == [L1, L2, L4]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName LIKE 'smith%'", [L3, L4]),
        ("LastName LIKE 'SMITH'", [L3]),
        ("LastName LIKE '_mith'", [L3]),
        ("LastName LIKE '%I_H%'", [L3, L4]),
        ("LastName LIKE '%'", [L1, L2, L3, L4]),
        ("Description LIKE '100%'", [L1, L3]),
        ("Description LIKE '100\\%%'", [L1]),  # \% is a literal percent sign
        ("Description LIKE '_0\\_50'", [L2]),  # \_ is a literal underscore
        ("Description LIKE '%line2%'", [L4]),  # % spans newlines
        ("Email LIKE '%'", [L1, L3, L4]),  # null never matches LIKE
        ("NOT Email LIKE '%@example.com'", [L2]),
        ("Description LIKE '(.*)'", []),  # regex characters are literal
    ],
)
def test_should_match_like_wildcards_case_insensitively(where: str, expected: list[str]):
    assert lead_ids(where) == expected


def test_should_decode_string_escapes():
    assert lead_ids("LastName = 'O\\'Brien'") == [L1]
    assert lead_ids("LastName = 'o\\'brien'") == [L1]
    assert lead_ids("LastName = 'Back\\\\slash'") == [L2]
    assert lead_ids("Description = 'line1\\nline2\\ttab \\u00e9'") == [L4]
    assert lead_ids("Description = 'LINE1\\NLINE2\\TTAB É'") == [L4]
    assert lead_ids("LastName = '\\\"'") == []


INJECTION_CORPUS = [
    "' OR Name != '",
    "x' OR LastName != 'x",
    "' OR '1' = '1",
    "') OR (LastName != '",
    "\\' OR LastName != \\'",
    "\\",
    "\\\\' OR Id != null OR LastName = '",
    "%",
    "_%",
    "O'Brien' OR LastName LIKE '%",
    "'; SELECT Id FROM User --",
    "\n' OR IsConverted = false OR LastName = '",
]


@pytest.mark.parametrize("value", INJECTION_CORPUS)
def test_should_not_match_extra_rows_for_properly_escaped_injection_values(value: str):
    assert lead_ids(f"LastName = {soql_quote(value)}") == []
    assert lead_ids(f"LastName IN ({soql_quote(value)}, 'nobody')") == []
    assert lead_ids(f"LastName LIKE {soql_like_quote(value)}") == []
    assert lead_ids(f"LastName != {soql_quote(value)}") == [L1, L2, L3, L4]


def test_should_match_the_exact_value_when_escaped_values_are_real_names():
    assert lead_ids(f"LastName = {soql_quote(chr(39).join(['O', 'Brien']))}") == [L1]
    assert lead_ids(f"LastName = {soql_quote('Back' + chr(92) + 'slash')}") == [L2]
    starts_with_100_percent = soql_like_quote("100%")[:-1] + "%'"
    assert lead_ids(f"Description LIKE {starts_with_100_percent}") == [L1]


def test_should_show_the_injection_corpus_is_dangerous_without_escaping():
    assert lead_ids(f"LastName = '{INJECTION_CORPUS[0]}'") == [L1, L2, L3, L4]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status IN ('open', 'Working')", [L1, L2, L4]),
        ("Status NOT IN ('Open')", [L2, L3]),  # NOT IN matches nulls
        ("Status IN ('Open', null)", [L1, L3, L4]),
        ("Status NOT IN ('Open', null)", [L2]),
        ("NumberOfEmployees IN (5, 50)", [L2, L4]),
        ("LastActivityDate IN (2026-11-19, 2026-11-24)", [L1, L4]),
        ("CreatedDate IN (2026-11-20T09:00:00Z)", [L2]),
    ],
)
def test_should_filter_with_in_and_not_in(where: str, expected: list[str]):
    assert lead_ids(where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Company = 'Acme' AND Status = 'Open'", [L1]),
        ("Company = 'Globex' OR Status = 'Working' OR LastName = 'smithson'", [L2, L3, L4]),
        ("(Company = 'Acme' OR Company = 'Globex') AND (NOT Status = 'Working')", [L1, L3]),
        ("NOT (Company = 'Acme' AND Status = 'Open')", [L2, L3, L4]),
        ("NOT Status = 'Open'", [L2, L3]),
        ("NOT (NOT Status = 'Open')", [L1, L4]),
        ("((Company = 'Acme')) AND (Status = 'Working' OR (NumberOfEmployees < 20))", [L1, L2]),
        ("Owner.Name = 'alice admin' AND (NOT LastName LIKE 'smith%')", [L1]),
    ],
)
def test_should_combine_and_or_not_with_parentheses(where: str, expected: list[str]):
    assert lead_ids(where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = 2026-11-20T18:00:00+09:00", [L2]),  # the same instant as 09:00Z
        ("CreatedDate = 2026-11-20T09:00:00.000Z", [L2]),
        ("CreatedDate > 2026-11-20T09:00:00Z", [L3, L4]),
        ("CreatedDate >= 2026-11-20T09:00:00Z", [L2, L3, L4]),
        ("CreatedDate < 2026-11-20T10:00:00+09:00", [L1]),  # 01:00Z
        ("CreatedDate <= 2026-11-19T19:30:00-05:00", [L1]),  # 00:30Z the next day
        ("LastActivityDate = 2026-11-23", [L3]),
        ("LastActivityDate > 2026-11-19", [L3, L4]),
        ("LastActivityDate != 2026-11-19", [L2, L3, L4]),
        ("LastActivityDate = null", [L2]),
    ],
)
def test_should_compare_dates_and_datetimes_as_instants(where: str, expected: list[str]):
    assert lead_ids(where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastActivityDate = TODAY", [L4]),
        ("LastActivityDate = YESTERDAY", [L3]),
        ("LastActivityDate = LAST_N_DAYS:1", [L3, L4]),  # includes today
        ("LastActivityDate = LAST_N_DAYS:5", [L1, L3, L4]),
        ("LastActivityDate < LAST_N_DAYS:1", [L1]),
        ("LastActivityDate >= YESTERDAY", [L3, L4]),
        ("LastActivityDate > YESTERDAY", [L4]),
        ("LastActivityDate <= YESTERDAY", [L1, L3]),
        ("LastActivityDate != TODAY", [L1, L2, L3]),
        ("LastActivityDate = TOMORROW", []),
        ("LastActivityDate = N_DAYS_AGO:5", [L1]),
        ("LastActivityDate = THIS_MONTH", [L1, L3, L4]),
        ("LastActivityDate = LAST_MONTH", []),
        ("CreatedDate = TODAY", [L4]),
        ("CreatedDate < LAST_N_DAYS:3", [L1, L2]),
        ("CreatedDate = last_n_days:4", [L1, L2, L3, L4]),
        ("CreatedDate = THIS_YEAR", [L1, L2, L3, L4]),
        ("CreatedDate < today", [L1, L2, L3]),
    ],
)
def test_should_evaluate_relative_date_literals_in_utc(where: str, expected: list[str]):
    assert lead_ids(where) == expected


# --- ORDER BY, LIMIT, OFFSET, COUNT() --------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("NumberOfEmployees", [L3, L4, L1, L2]),  # ASC: nulls first
        ("NumberOfEmployees ASC", [L3, L4, L1, L2]),
        ("NumberOfEmployees DESC", [L2, L1, L4, L3]),  # DESC: nulls last
        ("NumberOfEmployees ASC NULLS LAST", [L4, L1, L2, L3]),
        ("NumberOfEmployees DESC NULLS FIRST", [L3, L2, L1, L4]),
        ("LastName", [L2, L1, L3, L4]),
        ("LastName DESC", [L4, L3, L1, L2]),
        ("Company", [L1, L2, L3, L4]),  # "Acme" and "acme" tie: source order stays
        ("Company DESC", [L4, L3, L1, L2]),
        ("Company, LastName", [L2, L1, L3, L4]),
        ("Company, LastName DESC", [L1, L2, L3, L4]),
        ("IsConverted DESC, CreatedDate DESC", [L2, L4, L3, L1]),  # a null boolean sorts as false
        ("LastActivityDate DESC", [L4, L3, L1, L2]),
        ("Owner.Name, LastName DESC", [L3, L4, L1, L2]),
    ],
)
def test_should_order_by_with_salesforce_null_defaults_and_stable_ties(order_by: str, expected: list[str]):
    assert ids(f"SELECT Id FROM Lead ORDER BY {order_by}") == expected


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("LIMIT 2", [L2, L1]),
        ("LIMIT 0", []),
        ("LIMIT 2 OFFSET 1", [L1, L3]),
        ("OFFSET 3", [L4]),
        ("LIMIT 10 OFFSET 4", []),
        ("LIMIT 100", [L2, L1, L3, L4]),
    ],
)
def test_should_apply_limit_and_offset_after_ordering(tail: str, expected: list[str]):
    total, rows = run(f"SELECT Id FROM Lead ORDER BY LastName {tail}")

    assert [r["Id"] for r in rows] == expected
    assert total == len(expected)


def test_should_accept_offset_2000_and_refuse_more():
    assert ids("SELECT Id FROM Lead OFFSET 2000") == []
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id FROM Lead OFFSET 2001")
    assert caught.value.error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_should_count_only():
    assert run("SELECT COUNT() FROM Lead") == (4, [])
    assert run("SELECT count() FROM Lead WHERE Company = 'acme'") == (2, [])
    assert run("SELECT COUNT() FROM Lead LIMIT 3") == (3, [])
    assert run("SELECT COUNT() FROM Lead", include_deleted=True) == (5, [])
    assert run("SELECT COUNT() FROM PermissionSetAssignment WHERE PermissionSet.Name = 'Nope'") == (0, [])


def test_should_skip_deleted_records_unless_include_deleted():
    assert ids("SELECT Id FROM Lead WHERE Company = 'Acme'") == [L1, L2]
    assert ids("SELECT Id FROM Lead WHERE Company = 'Acme'", include_deleted=True) == [L1, L2, L5]
    _, rows = run("SELECT Id, IsDeleted FROM Lead WHERE LastName = 'Ghost'", include_deleted=True)
    assert rows == [{"Id": L5, "IsDeleted": True}]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soql", "error_code"),
    [
        ("", "MALFORMED_QUERY"),
        ("   ", "MALFORMED_QUERY"),
        ("SELECT FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELECT Id Lead", "MALFORMED_QUERY"),
        ("SELECT * FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id, (SELECT Id FROM Tasks) FROM Lead", "MALFORMED_QUERY"),
        ("SELECT COUNT(Id) FROM Lead", "MALFORMED_QUERY"),
        ("SELECT COUNT(), Id FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id, COUNT() FROM Lead", "MALFORMED_QUERY"),
        ("SELECT MAX(NumberOfEmployees) FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Status FROM Lead GROUP BY Status", "MALFORMED_QUERY"),
        ("SELECT Status FROM Lead GROUP BY Status HAVING Status = 'Open'", "MALFORMED_QUERY"),
        ("SELECT FIELDS(ALL) FROM Lead LIMIT 200", "MALFORMED_QUERY"),
        ("SELECT TYPEOF Who WHEN Lead THEN Name END FROM Task", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WITH SECURITY_ENFORCED", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead FOR UPDATE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead ALL ROWS", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead USING SCOPE Mine", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead l", "MALFORMED_QUERY"),
        ("SELECT Id FROM Task WHERE WhoId IN (SELECT Id FROM Lead)", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Interests__c INCLUDES ('Golf')", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Interests__c EXCLUDES ('Golf')", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = :name", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT :n", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT 1 garbage", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead;", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'a\\'", "MALFORMED_QUERY"),
        ('SELECT Id FROM Lead WHERE LastName = "double"', "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'a\\qb'", "MALFORMED_QUERY"),  # illegal escape
        ("SELECT Id FROM Lead WHERE LastName = 'a\\%b'", "MALFORMED_QUERY"),  # \% outside LIKE
        ("SELECT Id FROM Lead WHERE LastName IN ('a\\_b')", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'x' AND Company = 'y' OR Status = 'z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'x' OR Company = 'y' AND Status = 'z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE NOT LastName = 'x' AND Company = 'y'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'x' AND NOT Company = 'y'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE (LastName = 'x'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName IN ()", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName == 'x'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName NOT LIKE 'x%'", "MALFORMED_QUERY"),
        ("SELECT Owner.Manager.Name FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Owner.Manager.Name = 'x'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead ORDER BY Owner.Manager.Name", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead OFFSET 5 LIMIT 10", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT -1", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT 1.5", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead ORDER BY Id ASC DESC", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead ORDER BY Id NULLS", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Lead ORDER BY LastName", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Lead OFFSET 1", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2026-13-01T00:00:00Z", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = 2026-02-30", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = LAST_N_DAYS", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = LAST_N_DAYS:x", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = NEXT_FISCAL_QUARTER", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees > null", "MALFORMED_QUERY"),
        ("SELECT Id, id FROM Lead", "MALFORMED_QUERY"),  # duplicate field
        ("SELECT Owner.Name, owner.NAME FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Id != null" + " AND Id != null" * 7000, "MALFORMED_QUERY"),  # > 100,000
        ("SELECT Id FROM Lead OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
        ("SELECT Id FROM Leads", "INVALID_TYPE"),
        ("SELECT COUNT() FROM Nothing__c", "INVALID_TYPE"),
        ("SELECT Foo FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Foo = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead ORDER BY Foo", "INVALID_FIELD"),
        ("SELECT Owner FROM Lead", "INVALID_FIELD"),
        ("SELECT Manager.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Owner.Foo FROM Lead", "INVALID_FIELD"),
        ("SELECT Lead.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE IsConverted = 1", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees = '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees IN (5, '6')", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE AnnualRevenue > TRUE", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-20", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE CreatedDate > '2026-11-20T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = 2026-11-20T00:00:00Z", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastActivityDate = '2026-11-20'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = 2026-11-20", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = TODAY", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = true", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName LIKE 5", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Owner.IsActive = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Id LIKE '00Q%'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees LIKE '5%'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE IsConverted > false", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE IsConverted IN (true)", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE Interests__c > 'a'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_should_reject_unsupported_or_malformed_query(soql: str, error_code: str):
    with pytest.raises(SoqlError) as caught:
        run(soql)

    assert caught.value.error_code == error_code
    assert caught.value.message


def test_should_describe_errors_like_salesforce():
    with pytest.raises(SoqlError) as syntax:
        parse("SELECT Id FROM Lead WHERE")
    with pytest.raises(SoqlError) as unknown_object:
        run("SELECT Id FROM Leads")
    with pytest.raises(SoqlError) as wrong_type:
        run("SELECT Id FROM Lead WHERE IsConverted = 'true'")
    with pytest.raises(SoqlError) as unknown_field:
        run("SELECT Foo__c FROM Lead")

    assert "ERROR at Row:1:Column:26" in syntax.value.message
    assert "unexpected token: '<EOF>'" in syntax.value.message
    assert unknown_object.value.message.startswith("sObject type 'Leads' is not supported.")
    assert wrong_type.value.message == (
        "value of filter criterion for field 'IsConverted' must be of type boolean and should not be "
        "enclosed in quotes"
    )
    assert unknown_field.value.message.startswith("No such column 'Foo__c' on entity 'Lead'.")


def test_should_allow_keywords_as_names_where_the_grammar_expects_a_name():
    schema = {"Order": {"Id": "id", "Limit": "int", "Count__c": "int", "Order": "string"}}
    order = {"Id": "801000000000001AAA", "Limit": 3, "Count__c": 1, "Order": "a"}
    source = MemorySource({"Order": [order]}, schema)

    total, rows = execute(parse("SELECT Limit, Count__c, Order FROM Order ORDER BY Limit LIMIT 5"), source)

    assert (total, rows) == (1, [{"Limit": 3, "Count__c": 1, "Order": "a"}])


# --- performance ----------------------------------------------------------------------------------


def test_should_parse_and_execute_over_50000_records_quickly():
    leads = [
        _lead(
            f"00Q{n:012d}AAA",
            f"Name{n:05d}",
            Company="Acme" if n % 3 else "Globex",
            NumberOfEmployees=n,
            CreatedDate=f"2026-11-{1 + n % 28:02d}T09:00:00.000+0000",
            OwnerId=U1,
        )
        for n in range(50_000)
    ]
    source = MemorySource({**RECORDS, "Lead": leads})

    total, rows = execute(
        parse(
            "SELECT Id, LastName, Owner.Name FROM Lead WHERE Company = 'globex' "
            "AND NumberOfEmployees >= 25000 AND CreatedDate > 2026-11-14T00:00:00Z "
            "ORDER BY LastName DESC LIMIT 5"
        ),
        source,
    )
    assert total == 5
    assert [r["LastName"] for r in rows] == ["Name49998", "Name49995", "Name49977", "Name49974", "Name49971"]
    assert rows[0]["Owner"] == {"Name": "Alice Admin"}
