"""SalesforceActivityHook against the Salesforce sandbox: logins, errors, the budget guard, the loader."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from hooks import salesforce as sf_hook_module
from hooks import transport
from hooks.activity_loader import ActivityLoader
from hooks.exceptions import (
    SalesforceApiError,
    SalesforceApiLimitExceeded,
    SalesforceAuthError,
    SalesforceBudgetExceeded,
    SalesforceTransientError,
)
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.salesforce_model.soql import Like, soql, soql_in_chunks

JST = timezone(timedelta(hours=9))
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "bulk_poll_interval": 0.01}


def _tasks(n: int, prefix: str = "LW-40029600-c") -> list[dict]:
    start = datetime(2026, 11, 20, 9, tzinfo=JST)
    return [
        {
            "ActivityKey__c": f"{prefix}{i:06d}-2026112009",
            "Subject": "LINE WORKSログ",
            "Description": f"09:{i % 60:02d} 山田 太郎 → はなちゃん: お世話になっております。({i})",
            "Status": "Completed",
            "ActivityDate": date(2026, 11, 20),
            "MessageCount__c": 1 + i % 5,
            "FirstMessageAt__c": start,
            "LastMessageAt__c": start + timedelta(minutes=59),
        }
        for i in range(n)
    ]


def _count(hook: SalesforceActivityHook, sobject: str = "Task") -> int:
    body = hook.request(
        "GET", f"query/?q=SELECT+COUNT()+FROM+{sobject}", endpoint="query", reserve=False
    ).json()
    return body["totalSize"]


@pytest.fixture
def hook(salesforce_conn):
    salesforce_conn(**FAST)
    return SalesforceActivityHook()


class TestLogin:
    def test_should_log_in_with_the_jwt_bearer_flow_at_the_login_url(self, hook, salesforce_sandbox):
        users = list(hook.query_records("SELECT Id, Username FROM User"))
        assert [u["Username"] for u in users] == [salesforce_sandbox.creds.username]
        assert salesforce_sandbox.calls()["oauth.jwt-bearer"] == 1

    def test_should_log_in_with_client_credentials(self, salesforce_sandbox, monkeypatch):
        conn = salesforce_sandbox.connection(**FAST)
        conn["login"] = None
        del conn["extra"]["private_key"]
        conn["extra"]["consumer_secret"] = salesforce_sandbox.creds.consumer_secret
        monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", json.dumps(conn))
        assert _count(SalesforceActivityHook(), "User") == 1
        assert salesforce_sandbox.calls()["oauth.client_credentials"] == 1

    def test_should_keep_the_providers_own_flows(self, salesforce_sandbox, monkeypatch):
        """Without login_url the provider builds the client (its Direct Session flow), through our CA."""
        token = salesforce_sandbox.simple_salesforce().session_id
        monkeypatch.setenv(
            "AIRFLOW_CONN_SALESFORCE_DEFAULT",
            json.dumps(
                {
                    "conn_type": "salesforce",
                    "extra": {
                        "instance_url": salesforce_sandbox.url,
                        "version": "62.0",
                        "ca_bundle": salesforce_sandbox.ca_bundle,
                    },
                }
            ),
        )
        hook = SalesforceActivityHook(session_id=token)
        assert hook.make_query("SELECT Id FROM User")["totalSize"] == 1  # the provider's own method

    def test_should_refuse_bad_credentials_with_a_typed_error(self, salesforce_sandbox, monkeypatch):
        conn = salesforce_sandbox.connection(**FAST)
        conn["login"] = "someone.else@example.com"
        monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", json.dumps(conn))
        with pytest.raises(SalesforceAuthError) as err:
            list(SalesforceActivityHook().query_records("SELECT Id FROM User"))
        assert (err.value.status, err.value.error_code) == (400, "invalid_grant")

    def test_should_name_what_a_login_url_connection_lacks(self, salesforce_sandbox, monkeypatch):
        conn = salesforce_sandbox.connection()
        del conn["extra"]["private_key"]
        monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", json.dumps(conn))
        with pytest.raises(SalesforceAuthError, match="consumer_secret"):
            SalesforceActivityHook().conn  # noqa: B018


class TestWholeRequestErrors:
    def test_should_log_in_again_once_on_invalid_session(self, hook, salesforce_sandbox):
        salesforce_sandbox.control.fault("query", "expire_session", count=1)
        assert _count(hook, "User") == 1
        assert salesforce_sandbox.calls()["oauth.jwt-bearer"] == 2

    def test_should_not_loop_on_a_session_that_keeps_expiring(self, hook, salesforce_sandbox):
        salesforce_sandbox.control.fault("query", "expire_session", count=5)
        with pytest.raises(SalesforceApiError) as err:
            _count(hook, "User")
        assert (err.value.status, err.value.error_code) == (401, "INVALID_SESSION_ID")
        assert salesforce_sandbox.calls()["oauth.jwt-bearer"] == 2

    @pytest.mark.parametrize("kind", ["503", "reset"])
    def test_should_retry_unavailable_and_resets(self, hook, salesforce_sandbox, kind):
        salesforce_sandbox.control.fault("collections", kind, count=2)
        report = ActivityLoader(hook).upsert_activities(_tasks(3))
        assert report.count("created") == 3

    def test_should_give_up_after_bounded_attempts(self, salesforce_conn, salesforce_sandbox):
        salesforce_conn(**FAST, max_attempts=3)
        salesforce_sandbox.control.fault("collections", "503", count=10)
        with pytest.raises(SalesforceTransientError) as err:
            ActivityLoader(SalesforceActivityHook()).upsert_activities(_tasks(3))
        assert (err.value.status, err.value.error_code, err.value.retryable) == (
            503,
            "SERVER_UNAVAILABLE",
            True,
        )

    def test_should_say_the_daily_api_limit_is_exhausted(self, hook, salesforce_sandbox):
        _count(hook, "User")
        salesforce_sandbox.control.configure(daily_api_limit=1)
        with pytest.raises(SalesforceApiLimitExceeded, match="daily API request limit is exhausted") as err:
            ActivityLoader(hook).upsert_activities(_tasks(3))
        assert (err.value.status, err.value.error_code) == (403, "REQUEST_LIMIT_EXCEEDED")


class TestBudgetGuard:
    def test_should_stop_before_exceeding_its_share_of_the_remaining_calls(
        self, salesforce_conn, salesforce_sandbox
    ):
        salesforce_sandbox.control.configure(daily_api_limit=50)
        salesforce_conn(**FAST, api_budget_share=0.2)  # 10 of the ~50 remaining calls
        hook = SalesforceActivityHook()
        ActivityLoader(hook).upsert_activities(_tasks(400, "a"))  # 2 calls
        with pytest.raises(SalesforceBudgetExceeded, match="may use only 9|may use only 10"):
            ActivityLoader(hook).upsert_activities(_tasks(1999, "b"))  # 10 more calls: over the share
        assert salesforce_sandbox.calls()["collections.upsert"] == 2  # nothing of the second batch was sent

    def test_should_let_a_run_within_its_share_finish(self, salesforce_conn, salesforce_sandbox):
        salesforce_sandbox.control.configure(daily_api_limit=1000)
        salesforce_conn(**FAST, api_budget_share=0.5)
        report = ActivityLoader(SalesforceActivityHook()).upsert_activities(_tasks(1000))
        assert report.api_calls == 5 and report.count("created") == 1000


class TestQueries:
    INJECTIONS = [
        "O'Brien",
        "O\\'Brien",
        "\\",
        "\\'",
        "' OR LastName != '",
        "x' OR Id != null OR LastName = 'x",
        "%",
        "_",
        "100%",
        "a_b",
        "'; DELETE",
        '" OR "1"="1',
        "山田\u3000太郎",
        "ﾔﾏﾀﾞ",
        "🍣",
        "\n",
        "\t",
        "a\\%b",
        "LastName",
        ")",
        "(",
        "' AND (LastName LIKE '%')",
        "\\\\'",
        "null",
        "TRUE",
    ]

    @pytest.fixture
    def leads(self, salesforce_sandbox):
        records = [{"LastName": name, "Company": "テスト株式会社"} for name in self.INJECTIONS + ["Smith"]]
        salesforce_sandbox.control.seed({"records": {"Lead": records}})

    @pytest.mark.parametrize("name", INJECTIONS)
    def test_should_match_exactly_the_typed_value(self, hook, leads, name):
        rows = list(hook.query_records(soql("SELECT Id, LastName FROM Lead WHERE LastName = {n}", n=name)))
        assert [r["LastName"] for r in rows] == [name]

    @pytest.mark.parametrize("name", ["%", "_", "100%", "a_b", "O'Brien", "\\"])
    def test_should_treat_like_wildcards_in_user_text_literally(self, hook, leads, name):
        rows = list(
            hook.query_records(
                soql("SELECT LastName FROM Lead WHERE LastName LIKE {n}", n=Like(name, mode="contains"))
            )
        )
        assert rows and all(name.lower() in r["LastName"].lower() for r in rows)

    def test_should_page_through_next_records_url(self, hook, salesforce_sandbox):
        salesforce_sandbox.control.configure(query_batch_size=50)
        ActivityLoader(hook).upsert_activities(_tasks(120))
        rows = list(hook.query_records("SELECT Id, ActivityKey__c FROM Task ORDER BY ActivityKey__c"))
        assert len(rows) == 120 and salesforce_sandbox.calls()["query.more"] == 2

    def test_should_answer_each_query_of_a_batch_in_order_with_five_per_api_call(
        self, hook, salesforce_sandbox
    ):
        salesforce_sandbox.control.configure(query_batch_size=50)
        ActivityLoader(hook).upsert_activities(_tasks(120))
        spent = hook.budget.spent
        queries = [
            soql("SELECT ActivityKey__c FROM Task WHERE MessageCount__c = {n} ORDER BY ActivityKey__c", n=n)
            for n in (1, 2, 3, 4, 5, 9)
        ] + ["SELECT ActivityKey__c FROM Task ORDER BY ActivityKey__c"]

        results = hook.query_batch(queries)

        tasks = _tasks(120)
        expected = [
            sorted(t["ActivityKey__c"] for t in tasks if t["MessageCount__c"] == n)
            for n in (1, 2, 3, 4, 5, 9)
        ] + [sorted(t["ActivityKey__c"] for t in tasks)]
        assert [[r["ActivityKey__c"] for r in rows] for rows in results] == expected
        # 5 queries, then 2 (the last one's first page of 50), then its 2nd page, then its 3rd: a page's
        # locator comes with the page before it
        calls = salesforce_sandbox.calls()
        assert calls["composite"] == 4 and calls.get("query", 0) == 0
        assert hook.budget.spent - spent == 4

    def test_should_raise_the_error_of_a_failed_query_in_a_batch(self, hook):
        with pytest.raises(SalesforceApiError) as caught:
            hook.query_batch(["SELECT Id FROM User", "SELECT Nope__c FROM Task"])
        assert (caught.value.status, caught.value.error_code) == (400, "INVALID_FIELD")
        assert caught.value.endpoint == "composite.query"

    def test_should_pass_the_uri_limit_with_ids_cut_by_length(self, hook):
        template = "SELECT Id FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids}"
        ids = [f"{n:08d}-aaaa-bbbb-cccc-{n:012d}" for n in range(1_000)]
        # as one query the IN list passes the URI limit, which the sandbox applies to subrequests
        with pytest.raises(SalesforceApiError) as caught:
            hook.query_batch([soql(template, ids=ids)])
        assert caught.value.status == 414
        queries = list(soql_in_chunks(template, "ids", ids, max_values=2_000))
        assert len(queries) > 1
        assert hook.query_batch(queries) == [[] for _ in queries]

    def test_should_refuse_a_composite_answer_that_lacks_a_subrequest(self, hook, monkeypatch):
        class Answer:
            def json(self):
                return {"compositeResponse": [{"referenceId": "q0", "httpStatusCode": 200, "body": {}}]}

        monkeypatch.setattr(hook, "request", lambda *args, **kwargs: Answer())
        with pytest.raises(SalesforceApiError, match="no answer for subrequest q1"):
            hook.query_batch(["SELECT Id FROM User", "SELECT Id FROM Task"])


class TestUpsertActivities:
    def test_should_use_one_collections_call_per_200_records(self, hook, salesforce_sandbox):
        report = ActivityLoader(hook).upsert_activities(_tasks(450))
        assert report.mode == "collections"
        assert (report.count("created"), report.api_calls) == (450, 3)
        assert salesforce_sandbox.calls()["collections.upsert"] == 3
        assert list(report.results) == [t["ActivityKey__c"] for t in _tasks(450)]  # mapped to input keys
        assert all(r.id and r.id.startswith("00T") for r in report.results.values())

    def test_should_use_one_bulk_job_above_the_threshold(self, hook, salesforce_sandbox):
        report = ActivityLoader(hook).upsert_activities(_tasks(2500))
        calls = salesforce_sandbox.calls()
        assert report.mode == "bulk2" and report.count("created") == 2500
        assert calls["bulk2.create_job"] == 1 and calls["bulk2.upload"] == 1 and calls["bulk2.close"] == 1
        assert report.bulk_processing_seconds > 0  # the org's totalProcessingTime, summed over jobs
        assert 0 < report.bulk_poll_wait_seconds <= calls["bulk2.status"] * FAST["bulk_poll_interval"]
        assert report.api_calls == sum(v for k, v in calls.items() if k.startswith("bulk2.") and "!" not in k)

    def test_should_poll_soon_then_less_and_less_often(
        self, salesforce_conn, salesforce_sandbox, monkeypatch
    ):
        # a job that stays InProgress for 5 polls: waits 0.01 (from the close), 0.01, 0.02, 0.04, 0.04, 0.04
        salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 5})
        salesforce_conn(**{**FAST, "bulk_first_poll": 0.01, "bulk_poll_interval": 0.04})
        waits: list[float] = []
        monkeypatch.setattr(transport, "pause", waits.append)
        report = ActivityLoader(SalesforceActivityHook()).upsert_activities(_tasks(2500))
        assert report.count("created") == 2500
        assert salesforce_sandbox.calls()["bulk2.status"] == 6
        assert 0 <= waits[0] <= 0.01 and waits[1:] == [0.01, 0.02, 0.04, 0.04, 0.04]
        assert report.bulk_poll_wait_seconds == pytest.approx(sum(waits))

    def test_should_send_the_next_batch_before_reporting_the_current_one(
        self, salesforce_conn, salesforce_sandbox
    ):
        salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 1})
        salesforce_conn(**FAST, bulk_jobs_in_flight=2)
        batches = [_tasks(2500, f"LW-40029600-b{n}-c") for n in range(3)]
        seen: list[tuple[int, int]] = []  # (batch reported, jobs created by then)
        reports = ActivityLoader(SalesforceActivityHook()).upsert_activity_batches(iter(batches))
        for n, report in enumerate(reports):
            seen.append((n, salesforce_sandbox.calls()["bulk2.create_job"]))
            assert list(report.results) == [t["ActivityKey__c"] for t in batches[n]]
            assert report.count("created") == 2500 and len(report.bulk_jobs) == 1
        assert seen == [(0, 2), (1, 3), (2, 3)]  # one batch ahead, never more
        assert _count(SalesforceActivityHook()) == 7500
        calls = salesforce_sandbox.calls()
        assert calls["bulk2.status"] == 6  # one InProgress answer and the final one per job

    def test_should_count_each_batchs_own_calls_when_batches_overlap(
        self, salesforce_conn, salesforce_sandbox
    ):
        salesforce_conn(**FAST, bulk_jobs_in_flight=3)
        batches = [_tasks(2500, "LW-40029600-x-c"), _tasks(300, "LW-40029600-y-c")]
        reports = list(ActivityLoader(SalesforceActivityHook()).upsert_activity_batches(batches))
        assert [r.mode for r in reports] == ["bulk2", "collections"]
        assert reports[1].api_calls == 2  # its two Collections calls, none of the Bulk job's
        calls = salesforce_sandbox.calls()
        assert sum(r.api_calls for r in reports) == sum(
            v
            for k, v in calls.items()
            if (k.startswith("bulk2.") or k == "collections.upsert") and "!" not in k
        )

    def test_should_split_a_large_upload_into_several_bulk_jobs(self, salesforce_conn, salesforce_sandbox):
        # the org takes at most 100 kB per upload; one upload of these records would be ~250 kB
        salesforce_sandbox.control.configure(bulk2_max_upload_bytes=100_000)
        salesforce_conn(**FAST, bulk_max_upload_bytes=100_000)
        tasks = _tasks(2500)
        report = ActivityLoader(SalesforceActivityHook()).upsert_activities(tasks)
        calls = salesforce_sandbox.calls()
        assert report.mode == "bulk2" and len(report.bulk_jobs) == calls["bulk2.create_job"] >= 3
        assert calls["bulk2.upload"] == calls["bulk2.close"] == len(report.bulk_jobs)
        assert list(report.results) == [t["ActivityKey__c"] for t in tasks]
        assert report.count("created") == 2500 and _count(SalesforceActivityHook()) == 2500

    @pytest.mark.parametrize("n", [450, 5000])
    def test_should_create_nothing_new_when_re_upserting(self, hook, salesforce_sandbox, n):
        first = ActivityLoader(hook).upsert_activities(_tasks(n))
        second = ActivityLoader(hook).upsert_activities(_tasks(n))
        assert first.count("created") == n
        assert (second.count("created"), second.count("updated"), second.count("rejected")) == (0, n, 0)
        assert _count(hook) == n

    @pytest.mark.parametrize("n", [1000, 5000])
    def test_should_load_every_record_exactly_once_despite_lock_contention(self, hook, salesforce_sandbox, n):
        salesforce_sandbox.control.configure(lock_rows={"rate": 0.1, "seed": 5})
        report = ActivityLoader(hook).upsert_activities(_tasks(n))
        assert report.count("created") == n and not report.rejected
        assert report.resubmitted > 0
        assert salesforce_sandbox.calls()["record!UNABLE_TO_LOCK_ROW"] == report.resubmitted
        keys = [r["ActivityKey__c"] for r in hook.query_records("SELECT ActivityKey__c FROM Task")]
        assert len(keys) == n and len(set(keys)) == n

    def test_should_reject_a_transient_failure_that_persists(self, salesforce_conn, salesforce_sandbox):
        salesforce_conn(**FAST, max_resubmits=2)
        tasks = _tasks(3)
        salesforce_sandbox.control.configure(lock_rows={"keys": {tasks[1]["ActivityKey__c"]: 10}})
        report = ActivityLoader(SalesforceActivityHook()).upsert_activities(tasks)
        rejected = report.results[tasks[1]["ActivityKey__c"]]
        assert (rejected.status, rejected.error_code) == ("rejected", "UNABLE_TO_LOCK_ROW")
        assert report.count("created") == 2 and report.resubmitted == 2

    @pytest.mark.parametrize("n", [10, 2500])
    def test_should_report_a_too_long_record_while_the_others_load(self, hook, salesforce_sandbox, n):
        tasks = _tasks(n)
        tasks[3]["Description"] = "あ" * 32_001
        report = ActivityLoader(hook).upsert_activities(tasks)
        bad = report.results[tasks[3]["ActivityKey__c"]]
        assert (bad.status, bad.error_code) == ("rejected", "STRING_TOO_LONG")
        assert "Description" in bad.fields and "32000" in bad.message
        assert report.count("created") == n - 1 and _count(hook) == n - 1

    def test_should_report_permanent_errors_with_the_remote_code(self, hook):
        tasks = _tasks(4)
        tasks[0]["Status"] = "Done?"  # Task.Status only takes the org's task statuses
        tasks[1]["NoSuchField__c"] = "x"
        tasks[2]["WhoId"] = "001000000000001AAA"  # an Account id: WhoId takes a Lead or Contact
        report = ActivityLoader(hook).upsert_activities(tasks)
        codes = [report.results[t["ActivityKey__c"]].error_code for t in tasks]
        assert codes == [
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "INVALID_FIELD",
            "FIELD_INTEGRITY_EXCEPTION",
            None,
        ]

    def test_should_reject_duplicate_keys_before_sending(self, hook, salesforce_sandbox):
        tasks = _tasks(3)
        tasks[2]["ActivityKey__c"] = tasks[0]["ActivityKey__c"]
        with pytest.raises(ValueError, match="duplicate ActivityKey__c"):
            ActivityLoader(hook).upsert_activities(tasks)
        assert "collections.upsert" not in salesforce_sandbox.calls()

    def test_should_reject_records_without_a_key(self, hook):
        tasks = _tasks(2)
        del tasks[1]["ActivityKey__c"]
        with pytest.raises(ValueError, match="no ActivityKey__c"):
            ActivityLoader(hook).upsert_activities(tasks)

    def test_should_place_tasks_by_who_and_what(self, hook, salesforce_sandbox):
        created = salesforce_sandbox.control.seed(
            {
                "records": {
                    "Account": [{"Name": "株式会社テスト"}, {"LastName": "花子", "FirstName": "佐藤"}],
                    "Lead": [{"LastName": "鈴木", "Company": "鈴木商店"}],
                }
            }
        )["created"]
        business, person = created["Account"]
        lead = created["Lead"][0]
        person_contact = next(
            hook.query_records(soql("SELECT PersonContactId FROM Account WHERE Id = {i}", i=person))
        )["PersonContactId"]
        tasks = _tasks(3)
        tasks[0].update(WhoId=lead)
        tasks[1].update(WhoId=person_contact, WhatId=person)
        tasks[2].update(WhoId=lead, WhatId=business)  # a Lead WhoId takes no WhatId
        report = ActivityLoader(hook).upsert_activities(tasks)
        assert [report.results[t["ActivityKey__c"]].error_code for t in tasks] == [
            None,
            None,
            "FIELD_INTEGRITY_EXCEPTION",
        ]


class TestDeleteRecords:
    def test_should_delete_by_id_200_per_call_and_take_gone_records_as_deleted(
        self, hook, salesforce_sandbox
    ):
        ids = [r.id for r in ActivityLoader(hook).upsert_activities(_tasks(250)).results.values()]
        before = salesforce_sandbox.calls().get("collections.delete", 0)

        results = hook.delete_records(ids[:210])

        assert [(r.key, r.status) for r in results] == [(i, "deleted") for i in ids[:210]]
        assert salesforce_sandbox.calls()["collections.delete"] - before == 2
        assert _count(hook) == 40
        # deleting again (a retried load) is harmless: already gone counts as deleted
        assert {r.status for r in hook.delete_records(ids[:3])} == {"deleted"}
        # the key can be used again: a new upsert creates a new Task
        assert ActivityLoader(hook).upsert_activities(_tasks(1)).count("created") == 1

    def test_should_report_a_refused_delete_with_its_code(self, hook, salesforce_sandbox):
        task = ActivityLoader(hook).upsert_activities(_tasks(1)).results.popitem()[1].id
        user = next(hook.query_records("SELECT Id FROM User"))["Id"]
        results = hook.delete_records([task, user])
        assert results[0].status == "deleted"
        assert results[1].status == "rejected" and results[1].error_code


def test_should_mask_the_session_and_keep_it_out_of_errors(hook, salesforce_sandbox, caplog, monkeypatch):
    masked = []
    monkeypatch.setattr(sf_hook_module, "mask_secrets", lambda *values: masked.extend(values))
    _count(hook, "User")
    assert masked == [hook._session_token]
    assert hook._session_token not in caplog.text
