"""Bulk API 2.0 ingest and Bulk API v1 of the Salesforce sandbox, driven by simple-salesforce over TLS."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from simple_salesforce.exceptions import SalesforceOperationError, SalesforceRefusedRequest

KEY = "ActivityKey__c"


def _tasks(n: int, prefix: str = "k") -> list[dict[str, str]]:
    return [
        {
            "Subject": f"Talk {i}",
            "Status": "Completed",
            "ActivityDate": "2026-03-01",
            KEY: f"{prefix}-{i:05d}",
        }
        for i in range(n)
    ]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _task_count(sf) -> int:
    return sf.query("SELECT COUNT() FROM Task")["totalSize"]


class Raw:
    """Plain HTTP calls on simple-salesforce's own session, for what its helpers hide."""

    def __init__(self, sf) -> None:
        self.sf = sf
        self.ingest = sf.bulk2_url + "ingest"
        self.async_job = sf.bulk_url + "job"

    def v2(self, method: str, path: str = "", *, body=None, csv_data: str | None = None, **headers):
        content_type = "text/csv" if csv_data is not None else "application/json"
        return self.sf.session.request(
            method,
            self.ingest + path,
            headers={
                "Authorization": f"Bearer {self.sf.session_id}",
                "Content-Type": content_type,
                **headers,
            },
            data=csv_data.encode()
            if csv_data is not None
            else (json.dumps(body) if body is not None else None),
            timeout=60,
        )

    def v1(self, method: str, path: str = "", *, body=None, data: bytes | None = None, content_type=None):
        return self.sf.session.request(
            method,
            self.async_job + path,
            headers={
                "X-SFDC-Session": self.sf.session_id,
                "Content-Type": content_type or "application/json",
            },
            data=data if data is not None else (json.dumps(body) if body is not None else None),
            timeout=60,
        )

    def new_job(self, operation: str = "upsert", **extra) -> dict:
        body = {"object": "Task", "operation": operation, "contentType": "CSV", "lineEnding": "LF", **extra}
        if operation == "upsert":
            body.setdefault("externalIdFieldName", KEY)
        response = self.v2("POST", body=body)
        assert response.status_code == 200, response.text
        return response.json()


CSV_TWO = "Subject,Status,ActivityKey__c\nFirst,Completed,a-1\nSecond,Completed,a-2\n"


@pytest.fixture
def sf(salesforce_sandbox):
    return salesforce_sandbox.simple_salesforce()


@pytest.fixture
def raw(sf) -> Raw:
    return Raw(sf)


# --- Bulk 2.0 through simple-salesforce ---------------------------------------------------------
def test_should_create_then_update_2500_tasks_with_bulk2_upsert(sf) -> None:
    records = _tasks(2500)

    first = sf.bulk2.Task.upsert(records=records, external_id_field=KEY, wait=0)

    assert first[0]["numberRecordsProcessed"] == 2500
    assert first[0]["numberRecordsFailed"] == 0
    assert _task_count(sf) == 2500
    created = _rows(sf.bulk2.Task.get_successful_records(first[0]["job_id"]))
    assert [r[KEY] for r in created] == [r[KEY] for r in records]  # input order
    assert {r["sf__Created"] for r in created} == {"true"}
    assert all(r["sf__Id"].startswith("00T") and len(r["sf__Id"]) == 18 for r in created)

    second = sf.bulk2.Task.upsert(records=records, external_id_field=KEY, wait=0)

    assert second[0]["numberRecordsFailed"] == 0
    assert _task_count(sf) == 2500
    updated = _rows(sf.bulk2.Task.get_successful_records(second[0]["job_id"]))
    assert {r["sf__Created"] for r in updated} == {"false"}
    assert [r["sf__Id"] for r in updated] == [r["sf__Id"] for r in created]


def test_should_report_a_too_long_description_as_a_failed_record(sf) -> None:
    records = _tasks(20)
    records[7]["Description"] = "x" * 32_001

    result = sf.bulk2.Task.upsert(records=records, external_id_field=KEY, wait=0)

    assert result[0]["numberRecordsFailed"] == 1
    failed = _rows(sf.bulk2.Task.get_failed_records(result[0]["job_id"]))
    assert len(failed) == 1
    assert failed[0][KEY] == "k-00007"
    assert failed[0]["sf__Id"] == ""
    code, _, rest = failed[0]["sf__Error"].partition(":")
    assert code == "STRING_TOO_LONG"
    assert "Description" in rest
    assert _task_count(sf) == 19


def test_should_refuse_every_occurrence_of_a_duplicate_external_id(sf) -> None:
    records = _tasks(10) + [{**_tasks(10)[3], "Subject": "again"}]

    result = sf.bulk2.Task.upsert(records=records, external_id_field=KEY, wait=0)

    failed = _rows(sf.bulk2.Task.get_failed_records(result[0]["job_id"]))
    assert sorted(r["Subject"] for r in failed) == ["Talk 3", "again"]
    assert {r["sf__Error"].split(":")[0] for r in failed} == {"DUPLICATE_EXTERNAL_ID"}
    assert _task_count(sf) == 9


def test_should_fail_locked_rows_with_unable_to_lock_row(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(lock_rows={"rate": 0.2, "seed": 3})

    result = sf.bulk2.Task.upsert(records=_tasks(200), external_id_field=KEY, wait=0)

    job_id = result[0]["job_id"]
    failed = _rows(sf.bulk2.Task.get_failed_records(job_id))
    succeeded = _rows(sf.bulk2.Task.get_successful_records(job_id))
    assert 10 <= len(failed) <= 80
    assert {r["sf__Error"].split(":")[0] for r in failed} == {"UNABLE_TO_LOCK_ROW"}
    assert len(failed) + len(succeeded) == 200 == result[0]["numberRecordsProcessed"]
    assert result[0]["numberRecordsFailed"] == len(failed)
    assert _task_count(sf) == len(succeeded)


def test_should_count_the_api_calls_of_one_bulk2_upsert(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 1})
    result = sf.bulk2.Task.upsert(records=_tasks(2500), external_id_field=KEY, wait=0)
    sf.bulk2.Task.get_failed_records(result[0]["job_id"])

    calls = {k: v for k, v in salesforce_sandbox.calls().items() if k.startswith("bulk")}
    # one poll answers InProgress; simple-salesforce reads the job once more.
    assert calls == {
        "bulk2.create_job": 1,
        "bulk2.upload": 1,
        "bulk2.close": 1,
        "bulk2.status": 3,
        "bulk2.failed_results": 1,
    }
    assert salesforce_sandbox.control.stats()["api_usage"][0] == 7


def test_should_answer_403_request_limit_exceeded_once_the_daily_limit_is_used(
    sf, raw, salesforce_sandbox
) -> None:
    salesforce_sandbox.control.configure(daily_api_limit=1)

    with pytest.raises(SalesforceRefusedRequest) as excinfo:
        sf.bulk2.Task.upsert(records=_tasks(3), external_id_field=KEY, wait=0)

    assert excinfo.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    v1 = raw.v1("POST", body={"operation": "insert", "object": "Task", "contentType": "JSON"})
    assert v1.status_code == 403
    assert salesforce_sandbox.calls()["bulk2.upload!limit"] == 1


# --- Bulk 2.0 job state machine (raw requests) ---------------------------------------------------
def test_should_keep_a_job_in_progress_for_the_configured_polls(raw, sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 3})
    job = raw.new_job()
    assert job["id"].startswith("750") and len(job["id"]) == 18
    assert (job["state"], job["object"], job["externalIdFieldName"]) == ("Open", "Task", KEY)
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    assert job["apiVersion"] == 62.0

    assert raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO).status_code == 201
    closed = raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"

    states = [raw.v2("GET", f"/{job['id']}").json()["state"] for _ in range(3)]
    early = raw.v2("GET", f"/{job['id']}/successfulResults/")
    final = raw.v2("GET", f"/{job['id']}").json()

    assert states == ["InProgress"] * 3
    assert early.status_code == 409 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert final["state"] == "JobComplete"
    assert (final["numberRecordsProcessed"], final["numberRecordsFailed"]) == (2, 0)
    results = raw.v2("GET", f"/{job['id']}/successfulResults/")
    assert results.headers["content-type"].startswith("text/csv")
    lines = results.text.splitlines()
    assert lines[0] == '"sf__Id","sf__Created",Subject,Status,ActivityKey__c'
    assert lines[1].endswith(',"true","First","Completed","a-1"')
    assert _task_count(sf) == 2


def _csv(rows: list[tuple[str, str]]) -> str:
    return "Subject,Status,ActivityKey__c\n" + "".join(f"{s},Completed,{k}\n" for s, k in rows)


def _until_done(raw, job_id: str) -> tuple[list[str], dict]:
    states = []
    while True:
        info = raw.v2("GET", f"/{job_id}").json()
        states.append(info["state"])
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return states, info
        time.sleep(0.01)


def test_should_process_a_closed_job_in_the_background_answering_polls_meanwhile(raw, sf) -> None:
    # default mode: like Salesforce, the org works on the job after the close and answers polls meanwhile
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=_csv([(f"T{i}", f"bg-{i}") for i in range(12_000)]))

    closed = raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"}).json()
    states, final = _until_done(raw, job["id"])

    assert closed["state"] == "UploadComplete"
    assert "InProgress" in states  # several 2,000-record chunks: polls were answered between them
    assert (final["state"], final["numberRecordsProcessed"], final["numberRecordsFailed"]) == (
        "JobComplete",
        12_000,
        0,
    )
    assert final["totalProcessingTime"] > 0
    assert _task_count(sf) == 12_000


def test_should_refuse_a_key_repeated_in_different_chunks_of_a_background_job(raw, sf) -> None:
    # the repeats are 5,000 rows apart, in different processing chunks: both are still refused
    rows = [(f"T{i}", f"dup-{i}") for i in range(6_000)]
    rows[5_500] = ("again", "dup-500")
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=_csv(rows))
    raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})

    _, final = _until_done(raw, job["id"])

    failed = _rows(raw.v2("GET", f"/{job['id']}/failedResults/").text)
    assert final["numberRecordsFailed"] == 2
    assert sorted(r["Subject"] for r in failed) == ["T500", "again"]
    assert {r["sf__Error"].split(":")[0] for r in failed} == {"DUPLICATE_EXTERNAL_ID"}
    assert _task_count(sf) == 6_000 - 2


def test_should_process_at_upload_complete_in_immediate_mode(raw, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)

    closed = raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"}).json()

    assert closed["state"] == "UploadComplete"
    assert raw.v2("GET", f"/{job['id']}").json()["state"] == "JobComplete"
    assert salesforce_sandbox.calls()["bulk2.status"] == 1


def test_should_refuse_a_second_upload_and_uploads_after_close(raw) -> None:
    job = raw.new_job()
    assert raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO).status_code == 201

    second = raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)
    raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})
    after_close = raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)

    assert second.status_code == 409
    assert after_close.status_code == 409


def test_should_refuse_an_upload_above_the_size_limit(raw, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk2_max_upload_bytes=50)
    job = raw.new_job()

    response = raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDBATCH"


def test_should_abort_a_job_and_return_its_rows_as_unprocessed(raw, sf, salesforce_sandbox) -> None:
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)

    aborted = raw.v2("PATCH", f"/{job['id']}", body={"state": "Aborted"}).json()

    assert aborted["state"] == "Aborted"
    unprocessed = _rows(raw.v2("GET", f"/{job['id']}/unprocessedrecords/").text)
    assert [r[KEY] for r in unprocessed] == ["a-1", "a-2"]
    assert raw.v2("GET", f"/{job['id']}/failedResults/").text.splitlines() == [
        '"sf__Id","sf__Error",Subject,Status,ActivityKey__c'
    ]
    assert raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO).status_code == 409
    calls = salesforce_sandbox.calls()
    assert calls["bulk2.abort"] == 1 and "bulk2.close" not in calls
    assert _task_count(sf) == 0


def test_should_fail_a_job_through_the_control_api(raw, sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 1000})
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)
    raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})

    forced = salesforce_sandbox.control.call("POST", f"/bulk/{job['id']}/transition", {"state": "Failed"})

    assert forced["state"] == "Failed"
    with pytest.raises(SalesforceOperationError, match="failed by the sandbox control API"):
        sf.bulk2.Task._client.wait_for_job(job["id"], False, 0)
    assert _task_count(sf) == 0
    with pytest.raises(RuntimeError, match="409"):
        salesforce_sandbox.control.call("POST", f"/bulk/{job['id']}/transition", {"state": "JobComplete"})


def test_should_complete_a_job_through_the_control_api(raw, sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 1000})
    job = raw.new_job()
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)
    raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})
    pinned = salesforce_sandbox.control.call("POST", f"/bulk/{job['id']}/transition", {"state": "InProgress"})
    assert pinned["state"] == "InProgress"

    done = salesforce_sandbox.control.call("POST", f"/bulk/{job['id']}/transition", {"state": "JobComplete"})

    assert (done["state"], done["numberRecordsProcessed"]) == ("JobComplete", 2)
    assert _task_count(sf) == 2


def test_should_fail_a_job_whose_csv_cannot_be_parsed(raw, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    bad = raw.new_job()
    raw.v2("PUT", f"/{bad['id']}/batches", csv_data='Subject,ActivityKey__c\n"never closed,a-1\n')
    raw.v2("PATCH", f"/{bad['id']}", body={"state": "UploadComplete"})
    unknown = raw.new_job()
    raw.v2("PUT", f"/{unknown['id']}/batches", csv_data="Subject,Bogus__c,ActivityKey__c\nx,y,a-1\n")
    raw.v2("PATCH", f"/{unknown['id']}", body={"state": "UploadComplete"})
    crlf = raw.new_job()
    raw.v2("PUT", f"/{crlf['id']}/batches", csv_data=CSV_TWO.replace("\n", "\r\n"))
    raw.v2("PATCH", f"/{crlf['id']}", body={"state": "UploadComplete"})

    infos = [raw.v2("GET", f"/{j['id']}").json() for j in (bad, unknown, crlf)]

    assert [i["state"] for i in infos] == ["Failed"] * 3
    assert infos[0]["errorMessage"].startswith("ClientInputError : ")
    assert infos[1]["errorMessage"] == "InvalidBatch : Field name not found : Bogus__c"
    assert "LineEnding" in infos[2]["errorMessage"]


def test_should_apply_csv_cell_semantics_empty_unchanged_and_na_null(raw, sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    seed = "Subject,Description,ActivityKey__c\nFirst,keep me,a-1\nSecond,drop me,a-2\n"
    change = "Subject,Description,ActivityKey__c\n,,a-1\nRenamed,#N/A,a-2\n"
    for data in (seed, change):
        job = raw.new_job()
        raw.v2("PUT", f"/{job['id']}/batches", csv_data=data)
        raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})
        assert raw.v2("GET", f"/{job['id']}").json()["numberRecordsFailed"] == 0

    rows = sf.query("SELECT Subject, Description, ActivityKey__c FROM Task ORDER BY ActivityKey__c")[
        "records"
    ]

    assert [(r["Subject"], r["Description"]) for r in rows] == [("First", "keep me"), ("Renamed", None)]


def test_should_refuse_bad_job_definitions(raw) -> None:
    cases = [
        {"object": "Nope__c", "operation": "insert"},
        {"object": "Task", "operation": "upsert"},
        {"object": "Task", "operation": "upsert", "externalIdFieldName": "Subject"},
        {"object": "Task", "operation": "merge"},
    ]

    answers = [raw.v2("POST", body=body) for body in cases]

    assert [a.status_code for a in answers] == [400] * 4
    assert {a.json()[0]["errorCode"] for a in answers} == {"INVALIDJOB"}
    assert answers[0].json()[0]["message"] == "Unable to find object: Nope__c"


def test_should_list_and_delete_finished_jobs(raw, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    job = raw.new_job()
    open_job = raw.new_job("insert")
    raw.v2("PUT", f"/{job['id']}/batches", csv_data=CSV_TWO)
    raw.v2("PATCH", f"/{job['id']}", body={"state": "UploadComplete"})
    raw.v2("GET", f"/{job['id']}")

    listed = raw.v2("GET").json()
    refused = raw.v2("DELETE", f"/{open_job['id']}")
    deleted = raw.v2("DELETE", f"/{job['id']}")

    assert listed["done"] is True and listed["nextRecordsUrl"] is None
    assert {r["id"] for r in listed["records"]} == {job["id"], open_job["id"]}
    assert refused.status_code == 409
    assert deleted.status_code == 204
    assert raw.v2("GET", f"/{job['id']}").status_code == 404


def test_should_insert_update_and_delete_with_bulk2(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    inserted = sf.bulk2.Task.insert(records=_tasks(5), wait=0)
    ids = [r["sf__Id"] for r in _rows(sf.bulk2.Task.get_successful_records(inserted[0]["job_id"]))]

    sf.bulk2.Task.update(records=[{"Id": i, "Subject": "changed"} for i in ids], wait=0)
    deleted = sf.bulk2.Task.delete(records=[{"Id": i} for i in ids[:2]], wait=0)

    assert deleted[0]["numberRecordsFailed"] == 0
    rows = sf.query("SELECT Id, Subject FROM Task")["records"]
    assert {r["Subject"] for r in rows} == {"changed"}
    assert len(rows) == 3


# --- Bulk v1 ----------------------------------------------------------------------------------------
def test_should_upsert_2500_tasks_in_three_v1_batches(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    records = _tasks(2500)

    first = sf.bulk.Task.upsert(records, KEY, batch_size=1000)
    second = sf.bulk.Task.upsert(records, KEY, batch_size=1000)

    assert len(first) == 2500
    assert all(r["success"] and r["created"] and r["errors"] == [] for r in first)
    assert all(r["success"] and not r["created"] for r in second)
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert _task_count(sf) == 2500
    calls = salesforce_sandbox.calls()
    assert calls["bulk1.create_job"] == 2
    assert calls["bulk1.add_batch"] == 6
    assert calls["bulk1.batch_result"] == 6
    assert calls["bulk1.close_job"] == 2


def test_should_insert_with_v1_and_return_per_record_errors(sf, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    records = _tasks(3)
    records[1]["Description"] = "y" * 32_001

    results = sf.bulk.Task.insert(records)

    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[1]["id"] is None
    assert results[0]["id"].startswith("00T")


def test_should_follow_bulk_transition_for_v1_batches(raw, salesforce_sandbox) -> None:
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 2})
    job = raw.v1(
        "POST",
        body={"operation": "upsert", "object": "Task", "contentType": "JSON", "externalIdFieldName": KEY},
    )
    assert job.status_code == 201
    job = job.json()
    assert (job["state"], job["concurrencyMode"], job["contentType"]) == ("Open", "Parallel", "JSON")
    batch = raw.v1("POST", f"/{job['id']}/batch", body=_tasks(4)).json()
    assert batch["id"].startswith("751") and batch["state"] == "Queued"

    early = raw.v1("GET", f"/{job['id']}/batch/{batch['id']}/result")
    states = [raw.v1("GET", f"/{job['id']}/batch/{batch['id']}").json()["state"] for _ in range(3)]
    results = raw.v1("GET", f"/{job['id']}/batch/{batch['id']}/result").json()
    closed = raw.v1("POST", f"/{job['id']}", body={"state": "Closed"}).json()

    assert early.status_code == 400 and early.json()["exceptionCode"] == "InvalidBatch"
    assert states == ["InProgress", "InProgress", "Completed"]
    assert [r["created"] for r in results] == [True] * 4
    assert closed["state"] == "Closed"
    assert (closed["numberBatchesCompleted"], closed["numberRecordsProcessed"]) == (1, 4)


def test_should_refuse_xml_and_csv_v1_jobs(raw) -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        b"<operation>insert</operation><object>Task</object><contentType>XML</contentType></jobInfo>"
    )

    as_xml = raw.v1("POST", data=xml, content_type="application/xml; charset=UTF-8")
    as_csv = raw.v1("POST", body={"operation": "insert", "object": "Task", "contentType": "CSV"})

    assert (as_xml.status_code, as_csv.status_code) == (501, 501)
    assert as_xml.json()["exceptionCode"] == "NOT_IMPLEMENTED"


def test_should_refuse_a_v1_batch_above_10000_records_and_upsert_without_external_id(raw) -> None:
    job = raw.v1("POST", body={"operation": "insert", "object": "Task", "contentType": "JSON"}).json()

    too_big = raw.v1("POST", f"/{job['id']}/batch", body=[{"Subject": "x"}] * 10_001)
    no_ext = raw.v1("POST", body={"operation": "upsert", "object": "Task", "contentType": "JSON"})

    assert too_big.status_code == 400 and too_big.json()["exceptionCode"] == "InvalidBatch"
    assert no_ext.status_code == 400 and no_ext.json()["exceptionCode"] == "InvalidJob"
