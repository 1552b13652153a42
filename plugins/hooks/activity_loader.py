"""The activity loader: upsert Task records by external ID with the fewest Salesforce API calls.

sObject Collections (200 records per call) below ``bulk_threshold`` (2,000), one Bulk API 2.0 ingest job
above it (one more for every ``bulk_max_upload_bytes`` of CSV: Salesforce caps an upload at 150 MB,
simple-salesforce at 100 MB); records failing with a transient code are re-submitted alone. Every call
goes through the hook's :meth:`~hooks.salesforce.SalesforceActivityHook.request` (login, retries, masking,
the API budget); the knobs are the connection's Extra, read through the hook.

.. code-block:: python

    loader = ActivityLoader(SalesforceActivityHook("salesforce_default"))
    report = loader.upsert_activities(records, key_field="ActivityKey__c")
    print(report.summary())
"""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from hooks import transport
from hooks.exceptions import SalesforceApiError, SalesforceTransientError
from hooks.salesforce import COLLECTION_SIZE, RecordResult, SalesforceActivityHook

DEFAULT_BULK_THRESHOLD = 2_000  # Salesforce recommends Bulk 2.0 above ~2,000 records
DEFAULT_BULK_MAX_UPLOAD_BYTES = 100_000_000  # per job; Salesforce takes 150 MB, simple-salesforce 100
DEFAULT_BULK_JOBS_IN_FLIGHT = 2  # upsert_activity_batches: batches sent ahead of the one being reported
# Per-record statusCodes that mean "try again", not "this record is wrong" (as the provider's bulk operator).
TRANSIENT_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "API_TEMPORARILY_UNAVAILABLE"})


@dataclass
class UpsertReport:
    """Per-record results mapped to the input keys, plus what it cost."""

    results: dict[str, RecordResult]
    mode: str  # "collections" | "bulk2" | "empty"
    api_calls: int = 0
    resubmitted: int = 0
    bulk_jobs: list[str] = field(default_factory=list)
    # Bulk jobs: seconds Salesforce reports it spent processing them (``totalProcessingTime``), and seconds
    # this hook waited between status polls — together, the part of the wall time that is the org's.
    bulk_processing_seconds: float = 0.0
    bulk_poll_wait_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results.values() if r.status == status)

    @property
    def rejected(self) -> list[RecordResult]:
        return [r for r in self.results.values() if r.status == "rejected"]

    def summary(self) -> dict[str, Any]:
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "rejected": self.count("rejected"),
            "api_calls": self.api_calls,
            "mode": self.mode,
            "resubmitted": self.resubmitted,
        }


class ActivityLoader:
    """Upserts activity records through a :class:`~hooks.salesforce.SalesforceActivityHook`."""

    def __init__(self, hook: SalesforceActivityHook) -> None:
        self.hook = hook

    def upsert_activities(
        self, records: list[dict[str, Any]], key_field: str = "ActivityKey__c", *, sobject: str = "Task"
    ) -> UpsertReport:
        """Upsert ``records`` by the external ID ``key_field``; one result per input key.

        Below ``bulk_threshold`` records: sObject Collections, ⌈n/200⌉ calls. From it on: one Bulk API 2.0
        ingest job (create, upload, close, polls, results) per ``bulk_max_upload_bytes`` of CSV. Records
        failing with a transient code (``UNABLE_TO_LOCK_ROW``, ``API_TEMPORARILY_UNAVAILABLE``) are
        re-submitted alone, up to ``max_resubmits`` times; other failures come back as rejected with
        Salesforce's code and message.

        :raises ValueError: a record lacks the key, or two records share one (nothing is sent).
        :raises SalesforceBudgetExceeded: the run would exceed its share of the org's daily API calls.
        """
        return next(self.upsert_activity_batches([records], key_field, sobject=sobject))

    def upsert_activity_batches(
        self,
        batches: Iterable[list[dict[str, Any]]],
        key_field: str = "ActivityKey__c",
        *,
        sobject: str = "Task",
    ) -> Iterator[UpsertReport]:
        """:meth:`upsert_activities` for each batch, yielding the reports in order, with up to
        ``bulk_jobs_in_flight`` (2) batches sent ahead: while the caller stores one batch's results,
        Salesforce is already processing the next one's Bulk job.

        A batch is read from ``batches`` only when it is sent. If the caller stops early (or a call
        fails), batches already sent still complete in Salesforce; upserting them again changes nothing.
        """
        ahead = max(1, int(self.hook.config("bulk_jobs_in_flight", DEFAULT_BULK_JOBS_IN_FLIGHT)))
        sent: deque[_Upsert] = deque()
        for records in batches:
            sent.append(self._send_batch(records, key_field, sobject))
            if len(sent) >= ahead:
                yield self._finish_batch(sent.popleft())
        while sent:
            yield self._finish_batch(sent.popleft())

    def _send_batch(self, records: list[dict[str, Any]], key_field: str, sobject: str) -> _Upsert:
        keys = [str(r.get(key_field) or "") for r in records]
        missing = [i for i, k in enumerate(keys) if not k]
        if missing:
            raise ValueError(f"{len(missing)} record(s) have no {key_field} (first at index {missing[0]})")
        seen: set[str] = set()
        duplicates = sorted({k for k in keys if k in seen or seen.add(k)})
        if duplicates:
            raise ValueError(
                f"duplicate {key_field} values in one request (nothing was sent): {duplicates[:5]}"
            )
        if not records:
            return _Upsert(records, keys, key_field, sobject, UpsertReport({}, "empty"))
        threshold = int(self.hook.config("bulk_threshold", DEFAULT_BULK_THRESHOLD))
        item = _Upsert(
            records,
            keys,
            key_field,
            sobject,
            UpsertReport({}, "bulk2" if len(records) >= threshold else "collections"),
        )
        spent = self.hook.budget.spent
        if item.report.mode == "bulk2":
            item.jobs = self._open_bulk2_jobs(records, key_field, sobject, item.report)
        else:
            item.results = self._upsert_collections(records, key_field, sobject)
        item.report.api_calls += self.hook.budget.spent - spent
        return item

    def _finish_batch(self, item: _Upsert) -> UpsertReport:
        report = item.report
        if report.mode == "empty":
            return report
        spent = self.hook.budget.spent
        results = item.results
        if item.jobs:
            results = self._bulk2_results(item.jobs, item.key_field, report)
        by_key = dict(zip(item.keys, item.records))
        threshold = int(self.hook.config("bulk_threshold", DEFAULT_BULK_THRESHOLD))
        max_resubmits = int(self.hook.config("max_resubmits", 3))
        for attempt in range(max_resubmits + 1):
            pending: dict[str, dict[str, Any]] = {}
            for result in results:
                if result.error_code in TRANSIENT_RECORD_CODES and attempt < max_resubmits:
                    pending[result.key] = by_key[result.key]
                else:
                    report.results[result.key] = result
            if not pending:
                break
            report.resubmitted += len(pending)
            self.hook.log.info("Salesforce: re-submitting %d record(s) that failed transiently", len(pending))
            transport.pause(min(float(self.hook.config("backoff_base", 1.0)) * 2**attempt, 30.0))
            batch = list(pending.values())
            if report.mode == "bulk2" and len(batch) >= threshold:
                jobs = self._open_bulk2_jobs(batch, item.key_field, item.sobject, report)
                results = self._bulk2_results(jobs, item.key_field, report)
            else:
                results = self._upsert_collections(batch, item.key_field, item.sobject)
        report.results = {k: report.results[k] for k in item.keys}  # input order
        report.api_calls += self.hook.budget.spent - spent
        self.hook.log.info(
            "Salesforce upsert of %d %s record(s) by %s: %s",
            len(item.records),
            item.sobject,
            item.key_field,
            report.summary(),
        )
        return report

    def _upsert_collections(
        self, records: list[dict[str, Any]], key_field: str, sobject: str
    ) -> list[RecordResult]:
        out: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            self.hook.budget.check(-(-(len(records) - start) // COLLECTION_SIZE), "the rest of this upsert")
            chunk = records[start : start + COLLECTION_SIZE]
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **_json_values(r)} for r in chunk],
            }
            results = self.hook.request(
                "PATCH", f"composite/sobjects/{sobject}/{key_field}", json=body, endpoint="collections.upsert"
            ).json()
            for record, result in zip(chunk, results):
                out.append(RecordResult.of_collections(str(record[key_field]), result))
        return out

    def _open_bulk2_jobs(
        self, records: list[dict[str, Any]], key_field: str, sobject: str, report: UpsertReport
    ) -> list[tuple[list[dict[str, Any]], _Job]]:
        """Create, upload and close a job per ``bulk_max_upload_bytes`` of CSV; Salesforce processes them."""
        max_bytes = int(self.hook.config("bulk_max_upload_bytes", DEFAULT_BULK_MAX_UPLOAD_BYTES))
        jobs = []
        for part, data in _csv_uploads(records, max_bytes):
            # create, upload, close, a poll, results: the least a job costs
            self.hook.budget.check(5, "a Bulk API 2.0 job")
            job = self.hook.request(
                "POST",
                "jobs/ingest",
                endpoint="bulk2.create_job",
                json={
                    "object": sobject,
                    "operation": "upsert",
                    "externalIdFieldName": key_field,
                    "contentType": "CSV",
                    "lineEnding": "LF",
                    "columnDelimiter": "COMMA",
                },
            ).json()
            job_id = job["id"]
            report.bulk_jobs.append(job_id)
            self.hook.request(
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                endpoint="bulk2.upload",
                expected=(201,),
                data=data,
                headers={"Content-Type": "text/csv"},
            )
            self.hook.request(
                "PATCH", f"jobs/ingest/{job_id}", endpoint="bulk2.close", json={"state": "UploadComplete"}
            )
            jobs.append((part, _Job(job_id, time.monotonic())))
        return jobs

    def _wait_for_job(self, job: _Job, report: UpsertReport) -> dict[str, Any]:
        """Poll until the job ends: the first poll ``bulk_first_poll`` (0.5 s) after the close, then
        waits doubling up to ``bulk_poll_interval`` (2 s)."""
        longest = float(self.hook.config("bulk_poll_interval", 2.0))
        wait = min(longest, float(self.hook.config("bulk_first_poll", 0.5)))
        pause = max(0.0, wait - (time.monotonic() - job.closed_at))  # sent ahead: it may be done already
        deadline = job.closed_at + float(self.hook.config("bulk_timeout", 3600))
        while True:
            if pause:
                transport.pause(pause)
                report.bulk_poll_wait_seconds += pause
            status = self.hook.request("GET", f"jobs/ingest/{job.id}", endpoint="bulk2.status").json()
            if status["state"] in ("JobComplete", "Failed", "Aborted"):
                return status
            if time.monotonic() > deadline:
                raise SalesforceTransientError(
                    None,
                    "BULK_TIMEOUT",
                    f"Bulk job {job.id} still {status['state']} at the timeout; "
                    "it keeps running in Salesforce",
                    endpoint="bulk2",
                )
            pause, wait = wait, min(longest, wait * 2)

    def _bulk2_results(
        self, jobs: list[tuple[list[dict[str, Any]], _Job]], key_field: str, report: UpsertReport
    ) -> list[RecordResult]:
        """Each job's per-record results once it has ended, in the order of its records."""
        return [r for records, job in jobs for r in self._job_results(records, job, key_field, report)]

    def _job_results(
        self, records: list[dict[str, Any]], job: _Job, key_field: str, report: UpsertReport
    ) -> list[RecordResult]:
        status = self._wait_for_job(job, report)
        report.bulk_processing_seconds += float(status.get("totalProcessingTime") or 0) / 1000
        if status["state"] != "JobComplete":
            raise SalesforceApiError(
                None,
                f"BULK_JOB_{status['state'].upper()}",
                f"Bulk job {job.id}: {status.get('errorMessage') or status['state']}",
                endpoint="bulk2",
            )
        out: dict[str, RecordResult] = {}
        if status.get("numberRecordsProcessed", 0) - status.get("numberRecordsFailed", 0) > 0:
            ok_csv = self.hook.request(
                "GET", f"jobs/ingest/{job.id}/successfulResults/", endpoint="bulk2.successful_results"
            ).text
            for row in csv.DictReader(io.StringIO(ok_csv)):
                out[row[key_field]] = RecordResult(
                    row[key_field], "created" if row["sf__Created"] == "true" else "updated", id=row["sf__Id"]
                )
        if status.get("numberRecordsFailed", 0):
            failed_csv = self.hook.request(
                "GET", f"jobs/ingest/{job.id}/failedResults/", endpoint="bulk2.failed_results"
            ).text
            for row in csv.DictReader(io.StringIO(failed_csv)):
                code, _, rest = row["sf__Error"].partition(":")
                message, _, fields = rest.rpartition(":")
                out[row[key_field]] = RecordResult(
                    row[key_field],
                    "rejected",
                    error_code=code,
                    message=message or rest,
                    fields=tuple(f.strip() for f in fields.removesuffix("--").split(",") if f.strip()),
                )
        keys = [str(r[key_field]) for r in records]
        return [
            out.get(k)
            or RecordResult(
                k, "rejected", error_code="UNPROCESSED", message=f"not in the results of bulk job {job.id}"
            )
            for k in keys
        ]


@dataclass
class _Job:
    id: str
    closed_at: float  # time.monotonic() of the close


@dataclass
class _Upsert:
    """One batch sent by :meth:`ActivityLoader.upsert_activity_batches`, not yet reported."""

    records: list[dict[str, Any]]
    keys: list[str]
    key_field: str
    sobject: str
    report: UpsertReport
    jobs: list[tuple[list[dict[str, Any]], _Job]] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)  # collections: already known


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime values need a timezone")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json_values(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in record.items()}


def _csv_uploads(
    records: list[dict[str, Any]], max_bytes: int
) -> Iterator[tuple[list[dict[str, Any]], bytes]]:
    """Bulk 2.0 CSV uploads of at most ``max_bytes`` each (a record larger than that goes alone), in order.

    Every column of every record; ``#N/A`` sets null, an empty cell changes nothing.
    """
    columns: list[str] = []
    for record in records:
        for name in record:
            if name not in columns:
                columns.append(name)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def line(values: list[Any]) -> bytes:
        buf.seek(0)
        buf.truncate()
        writer.writerow(values)
        return buf.getvalue().encode("utf-8")

    header = line(columns)
    lines: list[bytes] = []
    size, first = len(header), 0
    for i, record in enumerate(records):
        row = []
        for name in columns:
            value = _value(record.get(name, ""))
            if name in record and value is None:
                value = "#N/A"
            elif isinstance(value, bool):
                value = "true" if value else "false"
            row.append("" if value is None else value)
        encoded = line(row)
        if lines and size + len(encoded) > max_bytes:
            yield records[first:i], b"".join([header, *lines])
            lines, size, first = [], len(header), i
        lines.append(encoded)
        size += len(encoded)
    if lines:
        yield records[first:], b"".join([header, *lines])
