"""REST protocol of the Salesforce sandbox, driven by simple-salesforce (and the provider hook) over TLS.

Each test asserts what a real org answers (shared/reference/airflow-salesforce.md §6–8): status codes,
bodies and the exact error shapes — ``[{"message", "errorCode", "fields"}]`` for a whole request,
``{"statusCode", "message", "fields"}`` per record of sObject Collections.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from hooks.salesforce import SalesforceActivityHook
from hooks.transport import make_session
from lineworks_salesforce.salesforce_model import default_schema

KEY = "ActivityKey__c"
CONTACT_KEY = "LineWorksContactId__c"
VERSION = "62.0"
ERROR_KEYS = {"message", "errorCode", "fields"}
RECORD_ERROR_KEYS = {"statusCode", "message", "fields"}
INTEGRATION_USER_NAME = "LINE WORKS 連携ユーザー"


# --- helpers -----------------------------------------------------------------------------------------
@pytest.fixture
def sf(salesforce_sandbox) -> Salesforce:
    return salesforce_sandbox.simple_salesforce()


@pytest.fixture
def http(salesforce_sandbox) -> requests.Session:
    """A plain TLS session trusting the sandbox CA (for what simple-salesforce cannot send)."""
    return make_session(salesforce_sandbox.ca_bundle)


def only_error(exc: SalesforceError) -> dict[str, Any]:
    """The single ``{"message", "errorCode", "fields"}`` entry of a REST error body."""
    assert isinstance(exc.content, list) and len(exc.content) == 1, exc.content
    error = exc.content[0]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], list)
    return error


def id_checksum(id15: str) -> str:
    """Salesforce's 15 → 18 character suffix, written independently of the sandbox."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    out = ""
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out += alphabet[bits]
    return out


def assert_record_id(record_id: str, prefix: str) -> None:
    assert len(record_id) == 18 and record_id.isalnum(), record_id
    assert record_id.startswith(prefix), record_id
    assert record_id[15:] == id_checksum(record_id[:15])


def seed(salesforce_sandbox, records: dict[str, list[dict]]) -> dict[str, list[str]]:
    return salesforce_sandbox.control.seed({"records": records})["created"]


def user_id(sf: Salesforce, username: str) -> str:
    return sf.query(f"SELECT Id FROM User WHERE Username = '{username}'")["records"][0]["Id"]


def task_count(sf: Salesforce) -> int:
    return sf.query("SELECT COUNT() FROM Task")["totalSize"]


def new_lead(sf: Salesforce, last_name: str = "山田", **extra: Any) -> str:
    return sf.Lead.create({"LastName": last_name, "Company": "Example KK", **extra})["id"]


def new_contact_with_account(sf: Salesforce) -> tuple[str, str]:
    account = sf.Account.create({"Name": "Example KK"})["id"]
    contact = sf.Contact.create({"LastName": "佐藤", "AccountId": account})["id"]
    return contact, account


def collection(sf: Salesforce, method: str, path: str, records: list[dict], all_or_none: bool = False):
    return sf.restful(path, method=method, json={"allOrNone": all_or_none, "records": records})


def tasks(n: int, prefix: str = "LW-k") -> list[dict[str, Any]]:
    return [
        {"attributes": {"type": "Task"}, "Subject": f"Talk {i}", "Status": "Completed", KEY: f"{prefix}-{i}"}
        for i in range(n)
    ]


# --- 1. OAuth ----------------------------------------------------------------------------------------
def _assertion(salesforce_sandbox, **overrides: Any) -> str:
    creds = salesforce_sandbox.creds
    key = overrides.pop("key", creds.private_key)
    claims = {
        "iss": creds.consumer_key,
        "sub": creds.username,
        "aud": salesforce_sandbox.url,
        "exp": int(time.time()) + 180,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def _token(http: requests.Session, salesforce_sandbox, **form: str) -> requests.Response:
    return http.post(f"{salesforce_sandbox.url}/services/oauth2/token", data=form, timeout=30)


def _other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_should_issue_a_token_for_a_jwt_bearer_assertion(salesforce_sandbox, http) -> None:
    response = _token(
        http,
        salesforce_sandbox,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(salesforce_sandbox),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["instance_url"] == salesforce_sandbox.url
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    sf = Salesforce(
        session_id=body["access_token"], instance_url=body["instance_url"], session=http, version=VERSION
    )
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0


@pytest.mark.parametrize(
    "make_overrides",
    [
        pytest.param(lambda: {"key": _other_private_key()}, id="signed-with-another-key"),
        pytest.param(lambda: {"aud": "https://login.salesforce.com"}, id="wrong-audience"),
        pytest.param(lambda: {"exp": int(time.time()) + 3600}, id="exp-too-far-ahead"),
        pytest.param(lambda: {"exp": int(time.time()) - 600}, id="expired"),
        pytest.param(lambda: {"sub": "nobody@sandbox.example.com"}, id="unknown-user"),
    ],
)
def test_should_refuse_a_bad_jwt_assertion_with_invalid_grant(
    salesforce_sandbox, http, make_overrides
) -> None:
    overrides = make_overrides()

    response = _token(
        http,
        salesforce_sandbox,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(salesforce_sandbox, **overrides),
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "invalid_grant"


def test_should_refuse_client_credentials_with_a_wrong_secret(salesforce_sandbox, http) -> None:
    creds = salesforce_sandbox.creds
    good = _token(
        http,
        salesforce_sandbox,
        grant_type="client_credentials",
        client_id=creds.consumer_key,
        client_secret=creds.consumer_secret,
    )
    bad = _token(
        http,
        salesforce_sandbox,
        grant_type="client_credentials",
        client_id=creds.consumer_key,
        client_secret="not-the-secret",
    )

    assert good.status_code == 200 and good.json()["access_token"]
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_client"


def test_should_log_in_with_the_password_flow_and_refuse_a_wrong_password(salesforce_sandbox, http) -> None:
    creds = salesforce_sandbox.creds
    salesforce_sandbox.control.seed({"passwords": {creds.username: "s3cret!"}})
    form = {
        "grant_type": "password",
        "client_id": creds.consumer_key,
        "client_secret": creds.consumer_secret,
        "username": creds.username,
    }

    ok = _token(http, salesforce_sandbox, **form, password="s3cret!")
    wrong = _token(http, salesforce_sandbox, **form, password="guess")

    assert ok.status_code == 200, ok.text
    assert ok.json()["instance_url"] == salesforce_sandbox.url
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_should_refuse_an_unknown_grant_type(salesforce_sandbox, http) -> None:
    response = _token(http, salesforce_sandbox, grant_type="authorization_code", code="x")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# --- 2. Discovery -------------------------------------------------------------------------------------
def test_should_list_api_versions_without_counting_an_api_call(salesforce_sandbox, http) -> None:
    response = http.get(f"{salesforce_sandbox.url}/services/data/", timeout=30)

    assert response.status_code == 200
    versions = response.json()
    assert {"label": "v62.0", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert salesforce_sandbox.control.stats()["api_usage"][0] == 0


def test_should_report_daily_api_requests_consistent_with_sforce_limit_info(sf) -> None:
    sf.query("SELECT Id FROM Lead")
    limits = sf.restful("limits/")

    usage = sf.api_usage["api-usage"]
    assert usage.used == 2  # the query and the limits call itself
    assert limits["DailyApiRequests"] == {"Max": usage.total, "Remaining": usage.total - usage.used}
    assert usage.total == 100_000


def test_should_describe_task_with_the_activity_key_and_a_32000_character_description(sf) -> None:
    describe = sf.Task.describe()

    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["name"] == "Task" and describe["keyPrefix"] == "00T"
    key = fields[KEY]
    assert (key["externalId"], key["unique"], key["caseSensitive"], key["custom"]) == (True, True, True, True)
    assert key["length"] == 100 and key["type"] == "string"
    assert fields["Description"]["length"] == 32000
    assert fields["Description"]["type"] == "textarea"
    assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert "ExternalContact__c" in fields["WhatId"]["referenceTo"]


def test_should_list_the_custom_objects_in_describe_global(sf) -> None:
    names = {o["name"] for o in sf.describe()["sobjects"]}

    assert {"ExternalContact__c", "PhonebookFolder__c", "Task", "Lead", "Contact", "Account"} <= names


def test_should_answer_404_not_found_for_an_unknown_object(sf) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Nothing__c.describe()

    assert caught.value.status == 404
    assert only_error(caught.value)["errorCode"] == "NOT_FOUND"


def test_should_answer_404_for_an_unsupported_api_version(sf) -> None:
    old = Salesforce(
        session_id=sf.session_id, instance_url=f"https://{sf.sf_instance}", session=sf.session, version="42.0"
    )

    with pytest.raises(SalesforceResourceNotFound) as caught:
        old.query("SELECT Id FROM Lead")

    assert caught.value.status == 404
    assert only_error(caught.value)["errorCode"] == "NOT_FOUND"


# --- 3. CRUD ------------------------------------------------------------------------------------------
def test_should_create_get_update_and_delete_a_lead(sf) -> None:
    created = sf.Lead.create({"FirstName": "太郎", "LastName": "山田", "Company": "Example KK"})

    assert created["success"] is True and created["errors"] == []
    lead_id = created["id"]
    assert_record_id(lead_id, "00Q")
    lead = sf.Lead.get(lead_id)
    assert lead["attributes"] == {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{lead_id}"}
    assert (lead["Id"], lead["LastName"], lead["Company"]) == (lead_id, "山田", "Example KK")
    assert lead["Name"] == "山田 太郎"  # family name first: the org's locale is ja_JP by default
    assert lead["Status"] == "Open - Not Contacted"  # the picklist default
    assert sf.Lead.get(lead_id[:15])["Id"] == lead_id  # the 15-character form names the same record

    assert sf.Lead.update(lead_id, {"Company": "Example Holdings", "Email": "taro@example.com"}) == 204
    assert sf.Lead.get(lead_id)["Company"] == "Example Holdings"

    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get(lead_id)
    assert only_error(caught.value)["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("locale", "name"),
    [
        ("ja_JP", "山田 Taro"),
        ("ja-JP", "山田 Taro"),
        ("ja", "山田 Taro"),
        ("zh_TW", "山田 Taro"),
        ("ko_KR", "山田 Taro"),
        ("hu_HU", "山田 Taro"),
        ("en_US", "Taro 山田"),
        ("de", "Taro 山田"),
    ],
)
def test_should_order_the_derived_name_by_the_org_locale(sf, salesforce_sandbox, locale, name) -> None:
    salesforce_sandbox.control.configure(locale=locale)
    lead = sf.Lead.create({"FirstName": "Taro", "LastName": "山田", "Company": "Example KK"})["id"]
    contact = sf.Contact.create({"FirstName": "Taro", "LastName": "山田"})["id"]
    person = sf.Account.create({"FirstName": "Taro", "LastName": "山田"})["id"]
    person_contact = sf.Account.get(person)["PersonContactId"]
    user = salesforce_sandbox.control.seed(
        {
            "records": {
                "User": [
                    {
                        "Username": "taro@example.com",
                        "Email": "taro@example.com",
                        "FirstName": "Taro",
                        "LastName": "山田",
                    }
                ]
            }
        }
    )

    names = [sf.Lead.get(lead)["Name"], sf.Contact.get(contact)["Name"], sf.Account.get(person)["Name"]]
    assert names == [name] * 3
    assert sf.Contact.get(person_contact)["Name"] == name
    assert (
        sf.query(f"SELECT Name FROM User WHERE Id = '{user['created']['User'][0]}'")["records"][0]["Name"]
        == name
    )
    # Derived again on update; the person account's hidden Contact follows its account.
    sf.Lead.update(lead, {"LastName": "佐藤"})
    sf.Account.update(person, {"LastName": "佐藤", "PersonEmail": "taro@example.com"})
    renamed = name.replace("山田", "佐藤")
    assert sf.Lead.get(lead)["Name"] == renamed
    assert sf.Account.get(person)["Name"] == renamed
    hidden = sf.Contact.get(person_contact)
    assert (hidden["LastName"], hidden["Name"], hidden["Email"]) == ("佐藤", renamed, "taro@example.com")


@pytest.mark.parametrize("locale", [None, "", "日本", "ja JP", 1])
def test_should_refuse_a_locale_that_is_not_one(salesforce_sandbox, locale) -> None:
    with pytest.raises(RuntimeError, match="HTTP 400.*locale"):
        salesforce_sandbox.control.configure(locale=locale)
    assert salesforce_sandbox.control.configure()["locale"] == "ja_JP"


def test_should_create_an_external_contact_linked_to_a_folder_and_crm_records(sf) -> None:
    folder = sf.PhonebookFolder__c.create({"Name": "営業部", "Type__c": "Shared"})["id"]
    lead = new_lead(sf)
    contact, account = new_contact_with_account(sf)
    person = sf.Account.create({"FirstName": "花子", "LastName": "鈴木"})["id"]

    created = sf.ExternalContact__c.create(
        {
            "Name": "山田 太郎",
            CONTACT_KEY: "uuid-0001",
            "Folder__c": folder,
            "Lead__c": lead,
            "Contact__c": contact,
            "Account__c": person,
        }
    )

    assert_record_id(created["id"], default_schema().object("ExternalContact__c").key_prefix)
    assert_record_id(folder, default_schema().object("PhonebookFolder__c").key_prefix)
    record = sf.ExternalContact__c.get_by_custom_id(CONTACT_KEY, "uuid-0001")
    assert record["Id"] == created["id"]
    assert (record["Folder__c"], record["Lead__c"], record["Contact__c"], record["Account__c"]) == (
        folder,
        lead,
        contact,
        person,
    )
    rows = sf.query_all(
        "SELECT Name, Folder__r.Name, Folder__r.Type__c FROM ExternalContact__c "
        f"WHERE {CONTACT_KEY} = 'uuid-0001'"
    )["records"]
    assert rows[0]["Folder__r"]["Name"] == "営業部"
    assert rows[0]["Folder__r"]["Type__c"] == "Shared"
    assert account.startswith("001")


def test_should_answer_404_for_an_unknown_external_id_value(sf) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.ExternalContact__c.get_by_custom_id(CONTACT_KEY, "no-such-uuid")

    assert only_error(caught.value)["errorCode"] == "NOT_FOUND"


# --- 4. Upsert by external ID -------------------------------------------------------------------------
def test_should_create_then_update_a_task_by_external_id(sf) -> None:
    data = {"Subject": "LINE WORKS トーク", "Status": "Completed", "Description": "first"}

    first = sf.Task.upsert(f"{KEY}/LW-1-c1-2026030105", data, raw_response=True)
    second = sf.Task.upsert(f"{KEY}/LW-1-c1-2026030105", {**data, "Description": "second"}, raw_response=True)

    assert first.status_code == 201
    assert first.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": True}
    assert_record_id(first.json()["id"], "00T")
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": False}
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    task = sf.Task.get_by_custom_id(KEY, "LW-1-c1-2026030105")
    assert (task["Description"], task[KEY]) == ("second", "LW-1-c1-2026030105")
    assert task_count(sf) == 1


def test_should_refuse_a_second_task_with_the_same_activity_key_with_duplicate_value(sf) -> None:
    first = sf.Task.create({"Subject": "one", KEY: "LW-dup"})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "two", KEY: "LW-dup"})

    error = only_error(caught.value)
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert error["fields"] == [KEY]
    assert first["id"] in error["message"]
    assert task_count(sf) == 1


def test_should_match_external_ids_with_the_case_sensitivity_of_the_schema(sf) -> None:
    schema = default_schema()
    activity_key = schema.object("Task").field(KEY)
    contact_key = schema.object("ExternalContact__c").field(CONTACT_KEY)
    assert (activity_key.external_id, activity_key.unique, activity_key.case_sensitive) == (True, True, True)
    assert (contact_key.external_id, contact_key.unique, contact_key.case_sensitive) == (True, True, False)
    described = {f["name"]: f for f in sf.ExternalContact__c.describe()["fields"]}
    assert described[CONTACT_KEY]["caseSensitive"] is False

    # ActivityKey__c is case-sensitive: a key differing only in case is another record.
    lower = sf.Task.upsert(f"{KEY}/lw-abc", {"Subject": "a"}, raw_response=True)
    upper = sf.Task.upsert(f"{KEY}/LW-ABC", {"Subject": "b"}, raw_response=True)
    assert (lower.status_code, upper.status_code) == (201, 201)
    assert lower.json()["id"] != upper.json()["id"]
    assert sf.Task.create({"Subject": "c", KEY: "Lw-Abc"})["success"] is True
    assert task_count(sf) == 3

    # LineWorksContactId__c is case-insensitive: the same record, whatever the case.
    created = sf.ExternalContact__c.upsert(f"{CONTACT_KEY}/uuid-AbC", {"Name": "x"}, raw_response=True)
    again = sf.ExternalContact__c.upsert(f"{CONTACT_KEY}/UUID-abc", {"Name": "y"}, raw_response=True)
    assert (created.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == created.json()["id"]
    assert sf.ExternalContact__c.get_by_custom_id(CONTACT_KEY, "uuid-abc")["Name"] == "y"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.ExternalContact__c.create({"Name": "z", CONTACT_KEY: "UUID-ABC"})
    assert only_error(caught.value)["errorCode"] == "DUPLICATE_VALUE"


def test_should_refuse_an_upsert_on_a_field_that_is_not_an_external_id(sf) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Task.upsert("Subject/hello", {"Status": "Completed"})

    assert only_error(caught.value)["errorCode"] == "NOT_FOUND"


# --- 5. Queries ---------------------------------------------------------------------------------------
def test_should_query_relationship_fields(sf, salesforce_sandbox) -> None:
    sf.Task.create({"Subject": "owned"})
    user = user_id(sf, salesforce_sandbox.creds.username)
    permission_set = seed(
        salesforce_sandbox, {"PermissionSet": [{"Name": "LineWorks_User", "Label": "LINE WORKS User"}]}
    )["PermissionSet"][0]
    seed(
        salesforce_sandbox,
        {"PermissionSetAssignment": [{"AssigneeId": user, "PermissionSetId": permission_set}]},
    )

    owned = sf.query_all("SELECT Id, Owner.Name FROM Task")
    assignments = sf.query_all("SELECT PermissionSet.Name, Assignee.Username FROM PermissionSetAssignment")

    assert owned["totalSize"] == 1
    assert owned["records"][0]["Owner"]["Name"] == INTEGRATION_USER_NAME
    row = assignments["records"][0]
    assert row["attributes"]["type"] == "PermissionSetAssignment"
    assert row["PermissionSet"]["Name"] == "LineWorks_User"
    assert row["PermissionSet"]["attributes"]["type"] == "PermissionSet"
    assert row["Assignee"]["Username"] == salesforce_sandbox.creds.username
    assert row["Assignee"]["attributes"]["type"] == "User"


@pytest.fixture
def task_rows(salesforce_sandbox) -> list[str]:
    rows = [
        {
            "Subject": "a",
            "ActivityDate": "2026-03-01",
            "FirstMessageAt__c": "2026-03-01T05:10:00Z",
            KEY: "k1",
        },
        {
            "Subject": "b",
            "ActivityDate": "2026-03-02",
            "FirstMessageAt__c": "2026-03-02T05:10:00Z",
            KEY: "k2",
        },
        {
            "Subject": "c",
            "ActivityDate": "2026-03-03",
            "FirstMessageAt__c": "2026-03-03T23:59:00Z",
            KEY: "k3",
        },
        {"Subject": "d", "ActivityDate": None, KEY: "x4"},
        {"Subject": "e", "ActivityDate": "2026-02-28", KEY: "k5"},
    ]
    return seed(salesforce_sandbox, {"Task": rows})["Task"]


@pytest.mark.parametrize(
    ("soql", "expected"),
    [
        ("SELECT Subject FROM Task WHERE ActivityDate = 2026-03-02", ["b"]),
        ("SELECT Subject FROM Task WHERE ActivityDate >= 2026-03-01 ORDER BY ActivityDate", ["a", "b", "c"]),
        (
            "SELECT Subject FROM Task WHERE FirstMessageAt__c >= 2026-03-02T00:00:00Z ORDER BY Subject",
            ["b", "c"],
        ),
        ("SELECT Subject FROM Task WHERE FirstMessageAt__c < 2026-03-02T09:00:00+09:00", ["a"]),
        (
            "SELECT Subject FROM Task WHERE ActivityKey__c IN ('k1', 'k3', 'nope') ORDER BY Subject",
            ["a", "c"],
        ),
        (
            "SELECT Subject FROM Task WHERE ActivityKey__c LIKE 'k%' ORDER BY Subject DESC",
            ["e", "c", "b", "a"],
        ),
        ("SELECT Subject FROM Task WHERE ActivityDate = NULL", ["d"]),
        (
            "SELECT Subject FROM Task WHERE ActivityDate != NULL ORDER BY ActivityDate DESC",
            ["c", "b", "a", "e"],
        ),
        ("SELECT Subject FROM Task ORDER BY ActivityDate ASC NULLS LAST LIMIT 2", ["e", "a"]),
        ("SELECT Subject FROM Task ORDER BY Subject LIMIT 2 OFFSET 1", ["b", "c"]),
    ],
)
def test_should_filter_sort_and_page_a_query(sf, task_rows, soql, expected) -> None:
    result = sf.query_all(soql)

    assert [r["Subject"] for r in result["records"]] == expected
    assert result["totalSize"] == len(expected)
    assert result["done"] is True
    assert all(r["attributes"]["type"] == "Task" for r in result["records"])


def test_should_count_with_count_only(sf, task_rows) -> None:
    result = sf.query("SELECT COUNT() FROM Task WHERE ActivityKey__c LIKE 'k%'")

    assert (result["totalSize"], result["records"], result["done"]) == (4, [], True)


def test_should_page_a_query_with_next_records_url(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(query_batch_size=50)
    seed(salesforce_sandbox, {"Lead": [{"LastName": f"L{i:03d}", "Company": "c"} for i in range(120)]})

    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)

    assert (len(first["records"]), first["done"], first["totalSize"]) == (50, False, 120)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert (len(second["records"]), second["done"], second["totalSize"]) == (50, False, 120)
    assert (len(third["records"]), third["done"], third["totalSize"]) == (20, True, 120)
    assert "nextRecordsUrl" not in third
    names = [r["LastName"] for page in (first, second, third) for r in page["records"]]
    assert names == [f"L{i:03d}" for i in range(120)]
    assert sf.query_all("SELECT Id FROM Lead")["totalSize"] == 120
    calls = salesforce_sandbox.calls()
    assert (calls["query"], calls["query.more"]) == (2, 4)


def test_should_include_deleted_records_only_in_query_all(sf) -> None:
    keep, gone = new_lead(sf, "残す"), new_lead(sf, "消す")
    sf.Lead.delete(gone)

    live = sf.query_all("SELECT Id, IsDeleted FROM Lead")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)

    assert [r["Id"] for r in live["records"]] == [keep]
    assert {r["Id"]: r["IsDeleted"] for r in everything["records"]} == {keep: False, gone: True}


@pytest.mark.parametrize(
    ("soql", "error_code"),
    [
        ("SELECT Id, (SELECT Id FROM Tasks) FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Status FROM Lead GROUP BY Status", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing__c", "INVALID_TYPE"),
    ],
)
def test_should_refuse_unsupported_or_wrong_soql(sf, soql, error_code) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)

    assert caught.value.status == 400
    assert only_error(caught.value)["errorCode"] == error_code


def test_should_answer_the_provider_make_query_through_the_activity_hook(salesforce_conn, sf) -> None:
    new_lead(sf, "一郎")
    new_lead(sf, "二郎")

    result = SalesforceActivityHook().make_query("SELECT Id, LastName FROM Lead ORDER BY LastName")

    assert result["totalSize"] == 2 and result["done"] is True
    assert [r["LastName"] for r in result["records"]] == ["一郎", "二郎"]


# --- 5b. Composite --------------------------------------------------------------------------------------
def composite(sf: Salesforce, subrequests: list[dict], **body: Any) -> requests.Response:
    return sf.session.post(
        f"https://{sf.sf_instance}/services/data/v{VERSION}/composite",
        headers={"Authorization": f"Bearer {sf.session_id}"},
        json={"compositeRequest": subrequests, **body},
        timeout=30,
    )


def query_url(text: str, resource: str = "query") -> str:
    return f"/services/data/v{VERSION}/{resource}/?q={quote(text, safe='')}"


def test_should_answer_composite_queries_in_order_as_one_api_call(sf, salesforce_sandbox) -> None:
    new_lead(sf, "一郎")
    gone = new_lead(sf, "消す")
    sf.Lead.delete(gone)
    before = salesforce_sandbox.calls()

    response = composite(
        sf,
        [
            {"method": "GET", "url": query_url("SELECT LastName FROM Lead"), "referenceId": "live"},
            {"method": "GET", "url": query_url("SELECT Nope__c FROM Lead"), "referenceId": "bad"},
            {
                "method": "GET",
                "url": query_url("SELECT LastName FROM Lead", "queryAll"),
                "referenceId": "all",
            },
            {"method": "GET", "url": f"/services/data/v{VERSION}/sobjects/Lead/{gone}", "referenceId": "row"},
        ],
    )

    assert response.status_code == 200
    live, bad, everything, row = response.json()["compositeResponse"]
    assert [a["referenceId"] for a in (live, bad, everything, row)] == ["live", "bad", "all", "row"]
    assert (live["httpStatusCode"], [r["LastName"] for r in live["body"]["records"]]) == (200, ["一郎"])
    assert bad["httpStatusCode"] == 400 and bad["body"][0]["errorCode"] == "INVALID_FIELD"
    assert sorted(r["LastName"] for r in everything["body"]["records"]) == ["一郎", "消す"]
    assert row["httpStatusCode"] == 501 and row["body"][0]["errorCode"] == "NOT_IMPLEMENTED"
    after = salesforce_sandbox.calls()
    assert after["composite"] - before.get("composite", 0) == 1
    assert after.get("query", 0) == before.get("query", 0)


def test_should_page_a_composite_query_with_query_more_subrequests(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(query_batch_size=50)
    seed(salesforce_sandbox, {"Lead": [{"LastName": f"L{i:03d}", "Company": "c"} for i in range(70)]})
    url = query_url("SELECT LastName FROM Lead ORDER BY LastName")

    [first] = composite(sf, [{"method": "GET", "url": url, "referenceId": "p1"}]).json()["compositeResponse"]
    more = first["body"]["nextRecordsUrl"]
    [second] = composite(sf, [{"method": "GET", "url": more, "referenceId": "p2"}]).json()[
        "compositeResponse"
    ]

    assert (len(first["body"]["records"]), first["body"]["done"]) == (50, False)
    assert (len(second["body"]["records"]), second["body"]["done"]) == (20, True)
    names = [r["LastName"] for page in (first, second) for r in page["body"]["records"]]
    assert names == [f"L{i:03d}" for i in range(70)]


@pytest.mark.parametrize(("queries", "others"), [(6, 0), (0, 26)])
def test_should_refuse_a_composite_request_over_its_limits(sf, queries, others) -> None:
    subrequests = [
        {"method": "GET", "url": query_url("SELECT Id FROM Lead"), "referenceId": f"q{i}"}
        for i in range(queries)
    ] + [
        {"method": "GET", "url": f"/services/data/v{VERSION}/limits", "referenceId": f"o{i}"}
        for i in range(others)
    ]

    response = composite(sf, subrequests)

    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "LIMIT_EXCEEDED"


def test_should_answer_414_for_a_subrequest_url_over_16384_bytes(sf) -> None:
    ids = [f"00Q{i:015d}" for i in range(700)]
    text = "SELECT Id FROM Lead WHERE Id IN (" + ", ".join(f"'{i}'" for i in ids) + ")"
    short = "SELECT Id FROM Lead WHERE Id IN (" + ", ".join(f"'{i}'" for i in ids[:300]) + ")"
    assert len(query_url(text)) > 16_384 >= len(query_url(short))

    answers = composite(
        sf,
        [
            {"method": "GET", "url": query_url(text), "referenceId": "long"},
            {"method": "GET", "url": query_url(short), "referenceId": "short"},
        ],
    ).json()["compositeResponse"]

    assert [a["httpStatusCode"] for a in answers] == [414, 200]
    assert answers[0]["body"][0]["errorCode"] == "URI_TOO_LONG"


def test_should_halt_the_subrequests_after_a_failure_with_all_or_none(sf) -> None:
    subrequests = [
        {"method": "GET", "url": query_url("SELECT Nope__c FROM Lead"), "referenceId": "bad"},
        {"method": "GET", "url": query_url("SELECT Id FROM Lead"), "referenceId": "good"},
    ]

    answers = composite(sf, subrequests, allOrNone=True).json()["compositeResponse"]

    assert [a["httpStatusCode"] for a in answers] == [400, 400]
    assert answers[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"compositeRequest": []},
        {"compositeRequest": [{"method": "GET", "url": "/x"}]},
        {"compositeRequest": "x"},
        {
            "allOrNone": "false",
            "compositeRequest": [
                {"method": "GET", "url": f"/services/data/v{VERSION}/limits", "referenceId": "a"}
            ],
        },
    ],
)
def test_should_refuse_a_malformed_composite_body(sf, body) -> None:
    response = sf.session.post(
        f"https://{sf.sf_instance}/services/data/v{VERSION}/composite",
        headers={"Authorization": f"Bearer {sf.session_id}"},
        json=body,
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


# --- 6. Validation and Salesforce's own rules ---------------------------------------------------------
@pytest.mark.parametrize(
    ("sobject", "body", "error_code", "fields"),
    [
        ("Lead", {"LastName": "x", "Company": "y", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
        ("Task", {"Subject": "x", "Description": "x" * 32_001}, "STRING_TOO_LONG", ["Description"]),
        ("Task", {"Subject": "x" * 256}, "STRING_TOO_LONG", ["Subject"]),
        ("Lead", {"FirstName": "太郎"}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"]),
        ("Account", {}, "REQUIRED_FIELD_MISSING", ["Name"]),
        (
            "PhonebookFolder__c",
            {"Name": "f", "Type__c": "Other"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Type__c"],
        ),
        (
            "Lead",
            {"LastName": "x", "Company": "y", "Email": "not-an-email"},
            "INVALID_EMAIL_ADDRESS",
            ["Email"],
        ),
        ("Task", {"Subject": "x", "IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsClosed"]),
        (
            "Lead",
            {"LastName": "x", "Company": "y", "IsConverted": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsConverted"],
        ),
        ("Task", {"Subject": "x", "Status": "Done"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
        ("Task", {"Subject": "x", "WhoId": "not-an-id"}, "MALFORMED_ID", ["WhoId"]),
        ("Task", {"Subject": "x", "WhoId": "00Q00000000zzzzAAA"}, "INVALID_CROSS_REFERENCE_KEY", ["WhoId"]),
        (
            "Task",
            {"Subject": "x", "MessageCount__c": "many"},
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            ["MessageCount__c"],
        ),
        ("Account", {"Name": "KK", "LastName": "山田"}, "FIELD_INTEGRITY_EXCEPTION", ["Name"]),
    ],
)
def test_should_refuse_an_invalid_record_with_the_salesforce_error_code(
    sf, salesforce_sandbox, sobject, body, error_code, fields
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        getattr(sf, sobject).create(body)

    assert caught.value.status == 400
    error = only_error(caught.value)
    assert (error["errorCode"], error["fields"]) == (error_code, fields)
    assert salesforce_sandbox.control.stats()["records"].get(sobject, 0) == 0


def test_should_refuse_an_account_id_in_who_id(sf) -> None:
    account = sf.Account.create({"Name": "Example KK"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "WhoId": account})

    error = only_error(caught.value)
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["WhoId"])
    assert "id value of incorrect type" in error["message"]


def test_should_refuse_a_what_id_on_a_task_whose_who_is_a_lead(sf) -> None:
    lead = new_lead(sf)
    account = sf.Account.create({"Name": "Example KK"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "WhoId": lead, "WhatId": account})

    error = only_error(caught.value)
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["WhatId"])
    assert sf.Task.create({"Subject": "lead only", "WhoId": lead})["success"] is True


def test_should_refuse_a_lead_or_contact_in_what_id(sf) -> None:
    lead = new_lead(sf)

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "WhatId": lead})

    error = only_error(caught.value)
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["WhatId"])


def test_should_relate_a_contact_task_to_an_external_contact_and_derive_the_account(sf) -> None:
    contact, account = new_contact_with_account(sf)
    external = sf.ExternalContact__c.create({"Name": "佐藤", "Contact__c": contact, CONTACT_KEY: "u-1"})["id"]

    task_id = sf.Task.create({"Subject": "talk", "WhoId": contact, "WhatId": external})["id"]

    task = sf.Task.get(task_id)
    assert (task["WhoId"], task["WhatId"], task["AccountId"]) == (contact, external, account)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "AccountId": account})
    assert only_error(caught.value)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_should_create_a_person_account_with_its_person_contact(sf) -> None:
    account_id = sf.Account.create({"FirstName": "花子", "LastName": "鈴木", "PersonEmail": "h@example.com"})[
        "id"
    ]

    account = sf.Account.get(account_id)
    assert account["IsPersonAccount"] is True
    assert account["Name"] == "鈴木 花子"
    contact = sf.Contact.get(account["PersonContactId"])
    assert_record_id(contact["Id"], "003")
    assert (contact["IsPersonAccount"], contact["AccountId"], contact["LastName"]) == (
        True,
        account_id,
        "鈴木",
    )
    found = sf.query_all("SELECT Id, PersonContactId FROM Account WHERE IsPersonAccount = true")["records"]
    assert [(r["Id"], r["PersonContactId"]) for r in found] == [(account_id, contact["Id"])]

    task_id = sf.Task.create({"Subject": "talk", "WhoId": contact["Id"], "WhatId": account_id})["id"]

    task = sf.Task.get(task_id)
    assert (task["WhoId"], task["WhatId"], task["AccountId"]) == (contact["Id"], account_id, account_id)
    business = sf.Account.get(sf.Account.create({"Name": "Example KK"})["id"])
    assert (business["IsPersonAccount"], business["PersonContactId"]) == (False, None)


def test_should_fill_task_defaults_and_the_running_user_as_owner(sf, salesforce_sandbox) -> None:
    task = sf.Task.get(sf.Task.create({"Subject": "defaults"})["id"])

    assert (task["Status"], task["Priority"], task["IsClosed"]) == ("Not Started", "Normal", False)
    owner = user_id(sf, salesforce_sandbox.creds.username)
    assert task["OwnerId"] == owner == task["CreatedById"]
    assert task["IsDeleted"] is False
    closed = sf.Task.get(sf.Task.create({"Subject": "done", "Status": "Completed"})["id"])
    assert closed["IsClosed"] is True


def test_should_refuse_clearing_a_required_field_on_update(sf) -> None:
    lead = new_lead(sf)

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead, {"LastName": None})

    error = only_error(caught.value)
    assert (error["errorCode"], error["fields"]) == ("REQUIRED_FIELD_MISSING", ["LastName"])


def test_should_refuse_a_body_that_is_not_json(sf) -> None:
    response = sf.session.post(
        f"{sf.base_url}sobjects/Lead/",
        data="{not json",
        headers={"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


# --- 7. sObject Collections -----------------------------------------------------------------------------
def test_should_create_a_collection_with_per_record_results_in_order(sf, salesforce_sandbox) -> None:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": "一", "Company": "c"},
        {"attributes": {"type": "Lead"}, "Company": "c"},
        {"attributes": {"type": "Task"}, "Subject": "t", KEY: "col-1"},
    ]

    results = collection(sf, "POST", "composite/sobjects", records)

    assert [r["success"] for r in results] == [True, False, True]
    assert_record_id(results[0]["id"], "00Q")
    assert_record_id(results[2]["id"], "00T")
    assert results[0] == {"id": results[0]["id"], "success": True, "errors": []}  # no "created" on create
    assert results[1]["id"] is None
    [error] = results[1]["errors"]
    assert set(error) == RECORD_ERROR_KEYS and "errorCode" not in error
    assert (error["statusCode"], error["fields"]) == ("REQUIRED_FIELD_MISSING", ["LastName"])
    assert salesforce_sandbox.control.stats()["records"] == {"User": 1, "Lead": 1, "Task": 1}
    assert salesforce_sandbox.calls()["collections.create"] == 1


def test_should_update_a_collection(sf, salesforce_sandbox) -> None:
    one, two = new_lead(sf, "一"), new_lead(sf, "二")

    results = collection(
        sf,
        "PATCH",
        "composite/sobjects",
        [
            {"attributes": {"type": "Lead"}, "id": one, "Company": "new"},
            {"attributes": {"type": "Lead"}, "id": two, "Email": "bad"},
            {"attributes": {"type": "Lead"}, "id": "00Q00000000zzzzAAA", "Company": "new"},
        ],
    )

    assert results[0] == {"id": one, "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert results[2]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.Lead.get(one)["Company"] == "new"
    assert sf.Lead.get(two)["Email"] is None
    assert salesforce_sandbox.calls()["collections.update"] == 1


def test_should_upsert_a_collection_by_external_id(sf, salesforce_sandbox) -> None:
    collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(2))
    records = tasks(3)
    records[2]["Description"] = "x" * 32_001

    results = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", records)

    assert [(r["success"], r.get("created")) for r in results] == [
        (True, False),
        (True, False),
        (False, None),
    ]
    [error] = results[2]["errors"]
    assert set(error) == RECORD_ERROR_KEYS
    assert (error["statusCode"], error["fields"]) == ("STRING_TOO_LONG", ["Description"])
    assert sf.api_usage["api-usage"].used == 2  # one API call per collection request
    assert salesforce_sandbox.calls()["collections.upsert"] == 2
    assert task_count(sf) == 2


def test_should_roll_everything_back_with_all_or_none(sf) -> None:
    records = tasks(3)
    records[1]["Status"] = "Finished"

    results = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", records, all_or_none=True)

    assert [r["success"] for r in results] == [False, False, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    for good in (results[0], results[2]):
        assert good["id"] is None
        assert [e["statusCode"] for e in good["errors"]] == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"]
    assert task_count(sf) == 0
    created = collection(sf, "POST", "composite/sobjects", tasks(2, "again"), all_or_none=True)
    assert [r["success"] for r in created] == [True, True]
    assert task_count(sf) == 2


def test_should_refuse_more_than_200_records_in_a_collection(sf) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(201))

    assert only_error(caught.value)["errorCode"] == "EXCEEDED_ID_LIMIT"
    with pytest.raises(SalesforceMalformedRequest) as create:
        collection(sf, "POST", "composite/sobjects", tasks(201))
    assert only_error(create.value)["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert task_count(sf) == 0
    assert len(collection(sf, "POST", "composite/sobjects", tasks(200))) == 200


def test_should_refuse_each_duplicate_external_id_in_one_request(sf) -> None:
    records = tasks(4)
    records[3][KEY] = records[1][KEY]

    results = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", records)

    assert [r["success"] for r in results] == [True, False, True, False]
    for dup in (results[1], results[3]):
        [error] = dup["errors"]
        assert set(error) == RECORD_ERROR_KEYS
        assert (error["statusCode"], error["fields"]) == ("DUPLICATE_EXTERNAL_ID", [KEY])
    assert task_count(sf) == 2


def test_should_roll_back_the_other_records_when_a_duplicate_key_is_refused_with_all_or_none(sf) -> None:
    records = tasks(3)
    records[2][KEY] = records[0][KEY]

    results = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", records, all_or_none=True)

    assert [e["statusCode"] for r in results for e in r["errors"]] == [
        "DUPLICATE_EXTERNAL_ID",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "DUPLICATE_EXTERNAL_ID",
    ]
    assert all(r["success"] is False and r["id"] is None for r in results)
    assert task_count(sf) == 0


def test_should_treat_keys_differing_only_in_case_as_duplicates_of_a_case_insensitive_field(sf) -> None:
    records = [
        {"attributes": {"type": "ExternalContact__c"}, "Name": "one", CONTACT_KEY: "uuid-AbC"},
        {"attributes": {"type": "ExternalContact__c"}, "Name": "two", CONTACT_KEY: "UUID-abc"},
        {"attributes": {"type": "ExternalContact__c"}, "Name": "three", CONTACT_KEY: "uuid-other"},
    ]

    results = collection(sf, "PATCH", f"composite/sobjects/ExternalContact__c/{CONTACT_KEY}", records)

    assert [r["success"] for r in results] == [False, False, True]
    assert {e["statusCode"] for r in results[:2] for e in r["errors"]} == {"DUPLICATE_EXTERNAL_ID"}
    assert sf.query("SELECT COUNT() FROM ExternalContact__c")["totalSize"] == 1
    case_sensitive = tasks(2)
    case_sensitive[1][KEY] = case_sensitive[0][KEY].upper()
    created = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", case_sensitive)
    assert [(r["success"], r["created"]) for r in created] == [(True, True), (True, True)]


def test_should_refuse_an_update_collection_record_without_an_id(sf, salesforce_sandbox) -> None:
    lead = new_lead(sf)

    results = collection(
        sf,
        "PATCH",
        "composite/sobjects",
        [
            {"attributes": {"type": "Lead"}, "id": lead, "Company": "new"},
            {"attributes": {"type": "Lead"}, "LastName": "x", "Company": "c"},
        ],
    )

    assert results[0] == {"id": lead, "success": True, "errors": []}
    assert results[1]["success"] is False and results[1]["id"] is None
    [error] = results[1]["errors"]
    assert set(error) == RECORD_ERROR_KEYS
    assert error["statusCode"] == "MISSING_ARGUMENT"
    assert salesforce_sandbox.control.stats()["records"]["Lead"] == 1  # an update never inserts


def test_should_delete_a_collection_by_ids(sf, salesforce_sandbox) -> None:
    one, two = new_lead(sf, "一"), new_lead(sf, "二")
    sf.Lead.delete(two)

    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{one},{two}"})

    assert results[0] == {"id": one, "success": True, "errors": []}
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert salesforce_sandbox.calls()["collections.delete"] == 1


def test_should_count_exactly_one_api_call_per_collection_request(sf, salesforce_sandbox) -> None:
    collection(sf, "POST", "composite/sobjects", tasks(200, "c"))
    collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(200, "u"))
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Task LIMIT 150")["records"]]
    sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})

    stats = salesforce_sandbox.control.stats()
    assert stats["calls"] == {
        "oauth.client_credentials": 1,
        "collections.create": 1,
        "collections.upsert": 1,
        "query": 1,
        "collections.delete": 1,
    }
    assert stats["api_usage"][0] == 4
    assert stats["records"]["Task"] == 250


# --- 8. Limits and faults -------------------------------------------------------------------------------
def test_should_answer_403_request_limit_exceeded_after_the_daily_limit(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(daily_api_limit=3)
    sf.query("SELECT Id FROM Lead")
    new_lead(sf)

    limits = sf.restful("limits/")  # the third and last call of the day

    assert limits["DailyApiRequests"] == {"Max": 3, "Remaining": 0}
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.status == 403
    error = only_error(caught.value)
    assert (error["errorCode"], error["message"]) == (
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
    assert salesforce_sandbox.calls()["query!limit"] == 1
    salesforce_sandbox.control.configure(daily_api_limit=10)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_should_fail_a_query_once_with_an_injected_503(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.fault("query", "503")

    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 503
    assert only_error(caught.value)["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    calls = salesforce_sandbox.calls()
    assert (calls["query!fault"], calls["query"]) == (1, 1)


def test_should_reset_the_connection_once_for_an_injected_reset(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.fault("sobject.create", "reset")

    with pytest.raises(requests.exceptions.ConnectionError):
        new_lead(sf)

    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert new_lead(sf).startswith("00Q")


def test_should_expire_the_session_for_good(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.fault("query", "expire_session")

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 401
    assert only_error(caught.value)["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession) as again:
        sf.Lead.describe()
    assert only_error(again.value)["errorCode"] == "INVALID_SESSION_ID"
    assert salesforce_sandbox.simple_salesforce().query("SELECT Id FROM Lead")["totalSize"] == 0


def test_should_answer_request_limit_exceeded_for_an_injected_request_limit(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.fault("sobject.upsert", "request_limit")

    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Task.upsert(f"{KEY}/LW-1", {"Subject": "x"})

    assert only_error(caught.value)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.Task.upsert(f"{KEY}/LW-1", {"Subject": "x"}) == 201


def test_should_fail_only_collections_at_a_random_rate_of_one(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.random_faults(1.0, ["503"], seed=1, targets=["collections"])

    for _ in range(3):
        with pytest.raises(SalesforceGeneralError) as caught:
            collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(2))
        assert caught.value.status == 503

    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == 0
    assert new_lead(sf).startswith("00Q")
    assert salesforce_sandbox.control.stats()["faults"]["injected"] == {"503": 3}


def test_should_fail_a_locked_row_once_then_succeed(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(lock_rows={"keys": {"LW-k-1": 1}})

    first = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(3))
    second = collection(sf, "PATCH", f"composite/sobjects/Task/{KEY}", tasks(3))

    assert [r["success"] for r in first] == [True, False, True]
    [error] = first[1]["errors"]
    assert set(error) == RECORD_ERROR_KEYS
    assert error["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert [(r["success"], r["created"]) for r in second] == [(True, False), (True, True), (True, False)]
    assert salesforce_sandbox.calls()["record!UNABLE_TO_LOCK_ROW"] == 1


def test_should_count_api_calls_by_endpoint_in_stats(sf, salesforce_sandbox, http) -> None:
    lead = new_lead(sf)
    sf.Lead.get(lead)
    sf.Lead.update(lead, {"Company": "x"})
    sf.Task.upsert(f"{KEY}/LW-1", {"Subject": "x"})
    sf.query_all("SELECT Id FROM Lead")
    sf.query_all("SELECT Id FROM Lead", include_deleted=True)
    sf.Lead.describe()
    sf.describe()
    sf.restful("limits/")
    sf.Lead.delete(lead)

    stats = http.get(f"{salesforce_sandbox.url}/_sandbox/stats", timeout=30).json()

    assert stats["calls"] == {
        "oauth.client_credentials": 1,
        "sobject.create": 1,
        "sobject.get": 1,
        "sobject.update": 1,
        "sobject.upsert": 1,
        "query": 1,
        "query_all": 1,
        "describe": 1,
        "describe_global": 1,
        "limits": 1,
        "sobject.delete": 1,
    }
    assert stats["api_usage"] == [10, 100_000]
    assert stats["records"] == {"User": 1, "Task": 1}


# --- 9. Unknown endpoints and sessions ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/services/data/v62.0/tooling/query"),
        ("POST", "/services/data/v62.0/composite/batch"),
        ("POST", "/services/data/v62.0/composite/graph"),
        ("GET", "/services/apexrest/x"),
        ("PUT", "/services/data/v62.0/sobjects/Lead"),
    ],
)
def test_should_answer_501_for_endpoints_the_sandbox_does_not_implement(sf, method, path) -> None:
    response = sf.session.request(
        method,
        f"https://{sf.sf_instance}{path}",
        headers={"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"},
        json={},
        timeout=30,
    )

    assert response.status_code == 501
    [error] = response.json()
    assert set(error) == ERROR_KEYS
    assert error["errorCode"] == "NOT_IMPLEMENTED"
    assert f"{method} {path}" in error["message"]


def test_should_raise_for_unknown_endpoints_through_simple_salesforce(sf) -> None:
    with pytest.raises(SalesforceGeneralError) as tooling:
        sf.restful("tooling/query", params={"q": "SELECT Id FROM ApexClass"})
    with pytest.raises(SalesforceGeneralError) as apex:
        sf.apexecute("x", method="GET")

    assert (tooling.value.status, apex.value.status) == (501, 501)
    assert only_error(tooling.value)["errorCode"] == "NOT_IMPLEMENTED"
    assert "GET /services/apexrest/x" in only_error(apex.value)["message"]


def test_should_answer_401_invalid_session_id_without_a_valid_session(sf, salesforce_sandbox, http) -> None:
    bare = http.get(f"{salesforce_sandbox.url}/services/data/v62.0/query/?q=SELECT+Id+FROM+Lead", timeout=30)
    forged = Salesforce(
        session_id="00Dforged", instance_url=salesforce_sandbox.url, session=http, version=VERSION
    )

    assert bare.status_code == 401
    assert bare.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]
    with pytest.raises(SalesforceExpiredSession) as caught:
        forged.query("SELECT Id FROM Lead")
    assert only_error(caught.value)["errorCode"] == "INVALID_SESSION_ID"
    assert salesforce_sandbox.control.stats()["api_usage"][0] == 0
