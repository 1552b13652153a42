"""Bulk API v1 (JSON) of the Salesforce sandbox (``/services/async/XX.X/job``, ``X-SFDC-Session``).

This is the JSON flavour the Airflow provider's ``SalesforceBulkOperator`` drives through
simple-salesforce's ``bulk``: create job → one batch per ≤ 10,000 records → poll each batch →
``.../result`` → close the job. Each batch is processed on its own (the ``bulk_transition`` schedule
applies per batch); XML and CSV jobs and query jobs answer 501 ``NOT_IMPLEMENTED``. Errors have the
Bulk v1 shape (:class:`BulkV1Error`).

What Bulk v1 shares with Bulk 2.0 (:mod:`sandbox.salesforce.bulk2`) — ``state.bulk_jobs``, writing the
records, the ``bulk_transition`` schedule and the background worker — is in
:mod:`sandbox.salesforce.bulk_jobs`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

from fastapi.responses import JSONResponse, Response

from sandbox.common.jsonbody import parse_json
from sandbox.salesforce import limits
from sandbox.salesforce.bulk_jobs import (
    ABORTED,
    FAILED,
    IN_PROGRESS,
    JOB,
    JOB_COMPLETE,
    LOCK,
    OPEN,
    OPERATIONS,
    BackgroundWorker,
    BulkJob,
    apply_records,
    external_id_field,
    find_job,
    new_id,
    poll,
    schedule,
    state_error,
)
from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.protocol import Call
from sandbox.salesforce.state import SalesforceState, now_iso

V1 = r"/services/async/(?P<version>\d+\.\d)/job"
BATCH = r"(?P<batch_id>[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)"
SFDC_SESSION = "x-sfdc-session"

# (method, pattern, endpoint name, Bulk1Api handler, session header); routes.py appends "/?$".
ROUTES: list[tuple[str, str, str, str, str]] = [
    ("POST", V1, "bulk1.create_job", "v1_create_job", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}", "bulk1.job_status", "v1_job_status", SFDC_SESSION),
    ("POST", rf"{V1}/{JOB}", "bulk1.close_job", "v1_close_job", SFDC_SESSION),
    ("POST", rf"{V1}/{JOB}/batch", "bulk1.add_batch", "v1_add_batch", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch", "bulk1.batch_list", "v1_batch_list", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}", "bulk1.batch_status", "v1_batch_status", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}/result", "bulk1.batch_result", "v1_batch_result", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}/request", "bulk1.batch_request", "v1_batch_request", SFDC_SESSION),
]

V1_MAX_RECORDS = limits.BULK1_MAX_BATCH_RECORDS  # Bulk v1: records per batch
V1_MAX_BYTES = 10_000_000  # Bulk v1: bytes per batch

CLOSED = "Closed"  # job
QUEUED, COMPLETED, NOT_PROCESSED = "Queued", "Completed", "NotProcessed"  # batch


# --- errors --------------------------------------------------------------------------------------
class BulkV1Error(SalesforceError):
    """Bulk v1 answers ``{"exceptionCode", "exceptionMessage"}`` (JSON jobs) instead of the REST array.

    Errors raised before the handler runs (session, daily limit) keep the REST shape of
    :mod:`sandbox.salesforce.protocol`.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message, error_code=code, status=status)

    def body(self) -> dict:  # type: ignore[override]
        return {"exceptionCode": self.error_code, "exceptionMessage": self.message}


def _v1_error(code: str):
    """A :func:`sandbox.common.jsonbody.parse_json` error factory in the Bulk v1 shape."""
    return lambda message: BulkV1Error(code, message)


def _refuse_non_json(call: Call) -> None:
    content_type = call.request.headers.get("content-type", "").lower()
    if "xml" in content_type or "csv" in content_type or call.body.lstrip()[:1] == b"<":
        raise BulkV1Error(
            "NOT_IMPLEMENTED",
            "the Salesforce sandbox emulates Bulk API v1 with JSON requests only "
            f"(Content-Type {content_type or 'missing'})",
            status=501,
        )


# --- jobs and batches ----------------------------------------------------------------------------
@dataclass
class Batch:
    """A Bulk v1 batch (JSON records)."""

    id: str
    job_id: str
    records: list[Any]
    created_date: str
    system_modstamp: str
    state: str = QUEUED
    state_message: str | None = None
    polls_left: int | None = None
    pinned: bool = False
    results: list[dict[str, Any]] | None = None
    processing_ms: int = 0


@dataclass(kw_only=True)
class AsyncJob(BulkJob):
    """A Bulk v1 job."""

    kind: ClassVar[str] = "v1"
    concurrency_mode: str
    batches: dict[str, Batch] = field(default_factory=dict)

    def transition(self, state: SalesforceState, new_state: str) -> dict:
        return _transition(state, self, new_state)


def _job(state: SalesforceState, job_id: str) -> AsyncJob:
    job = find_job(state, job_id, "v1")
    if job is None:
        raise BulkV1Error("InvalidJob", f"Invalid job id: {job_id}")
    return job


# --- processing ----------------------------------------------------------------------------------
def _process_batch(state: SalesforceState, job: AsyncJob, batch: Batch) -> None:
    started = time.monotonic()
    batch.polls_left, batch.pinned = None, False
    batch.results = apply_records(
        state, job.object, job.operation, job.external_id_field, batch.records, job.created_by
    )
    batch.state = COMPLETED
    batch.processing_ms = int((time.monotonic() - started) * 1000)
    batch.system_modstamp = now_iso()


def _background_steps(state: SalesforceState, job: AsyncJob, batch: Batch) -> Iterator[None]:
    """The :class:`~sandbox.salesforce.bulk_jobs.BackgroundWorker`'s one step for a new batch."""
    if not batch.pinned and batch.state == QUEUED:
        _process_batch(state, job, batch)
    yield from ()


def _poll_batch(state: SalesforceState, job: AsyncJob, batch: Batch) -> None:
    poll(batch, (QUEUED, IN_PROGRESS), lambda: _process_batch(state, job, batch))


# --- job and batch info --------------------------------------------------------------------------
def _batch_info(batch: Batch) -> dict[str, Any]:
    results = batch.results or []
    return {
        "apexProcessingTime": 0,
        "apiActiveProcessingTime": batch.processing_ms,
        "createdDate": batch.created_date,
        "id": batch.id,
        "jobId": batch.job_id,
        "numberRecordsFailed": sum(1 for r in results if not r["success"]),
        "numberRecordsProcessed": len(results),
        "state": batch.state,
        "stateMessage": batch.state_message,
        "systemModstamp": batch.system_modstamp,
        "totalProcessingTime": batch.processing_ms,
    }


def _v1_job_info(job: AsyncJob) -> dict[str, Any]:
    batches = list(job.batches.values())
    states = Counter(b.state for b in batches)
    infos = [_batch_info(b) for b in batches]
    return {
        "apexProcessingTime": 0,
        "apiActiveProcessingTime": sum(b.processing_ms for b in batches),
        "apiVersion": float(job.api_version),
        "assignmentRuleId": None,
        "concurrencyMode": job.concurrency_mode,
        "contentType": "JSON",
        "createdById": job.created_by,
        "createdDate": job.created_date,
        "externalIdFieldName": job.external_id_field,
        "fastPathEnabled": False,
        "id": job.id,
        "numberBatchesCompleted": states[COMPLETED],
        "numberBatchesFailed": states[FAILED],
        "numberBatchesInProgress": states[IN_PROGRESS],
        "numberBatchesQueued": states[QUEUED],
        "numberBatchesTotal": len(batches),
        "numberRecordsFailed": sum(i["numberRecordsFailed"] for i in infos),
        "numberRecordsProcessed": sum(i["numberRecordsProcessed"] for i in infos),
        "numberRetries": 0,
        "object": job.object,
        "operation": job.operation,
        "state": job.state,
        "systemModstamp": job.system_modstamp,
        "totalProcessingTime": sum(b.processing_ms for b in batches),
    }


# --- handlers ------------------------------------------------------------------------------------
class Bulk1Api:
    """The Bulk v1 handlers; :mod:`sandbox.salesforce.routes` maps :data:`ROUTES` to them."""

    def __init__(self, state: SalesforceState, worker: BackgroundWorker) -> None:
        self.state = state
        self.worker = worker

    def v1_create_job(self, call: Call) -> Response:
        _refuse_non_json(call)
        body = parse_json(call.body or b"null", _v1_error("InvalidJob"), what="the jobInfo", expect=dict)
        content_type = body.get("contentType", "JSON")
        if content_type in ("XML", "CSV", "ZIP_XML", "ZIP_CSV", "ZIP_JSON"):
            raise BulkV1Error(
                "NOT_IMPLEMENTED",
                f"the Salesforce sandbox emulates Bulk API v1 with contentType JSON only, not {content_type}",
                status=501,
            )
        if content_type != "JSON":
            raise BulkV1Error("InvalidJob", f"Invalid contentType: {content_type}")
        operation = body.get("operation")
        if operation in ("query", "queryAll"):
            raise BulkV1Error(
                "NOT_IMPLEMENTED",
                "the Salesforce sandbox does not emulate Bulk API v1 query jobs",
                status=501,
            )
        if not isinstance(operation, str) or operation not in OPERATIONS:
            raise BulkV1Error("InvalidJob", f"Invalid operation: {str(operation)[:40]}")
        name = body.get("object")
        obj = self.state.schema.object(str(name)) if name else None
        if obj is None:
            raise BulkV1Error("InvalidJob", f"Unable to find object: {name}")
        mode = body.get("concurrencyMode", "Parallel")
        # simple-salesforce sends 0/1 for Parallel/Serial.
        modes = {0: "Parallel", 1: "Serial", "Parallel": "Parallel", "Serial": "Serial"}
        if isinstance(mode, (bool, list, dict)) or mode not in modes:
            raise BulkV1Error("InvalidJob", f"Invalid concurrencyMode: {mode}")
        ext = external_id_field(obj, operation, body.get("externalIdFieldName"), _v1_error("InvalidJob"))
        job = AsyncJob.new(call, obj, operation, ext, concurrency_mode=modes[mode])
        with LOCK:
            self.state.bulk_jobs[job.id] = job
        return JSONResponse(_v1_job_info(job), status_code=201)

    def v1_job_status(self, call: Call) -> Response:
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            for batch in job.batches.values():
                _poll_batch(self.state, job, batch)
            return JSONResponse(_v1_job_info(job))

    def v1_close_job(self, call: Call) -> Response:
        body = parse_json(call.body or b"null", _v1_error("InvalidJob"), what="the job update")
        target = body.get("state") if isinstance(body, dict) else None
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if target not in (CLOSED, ABORTED):
                raise BulkV1Error("InvalidJobState", f"Invalid state {target!r}: use Closed or Aborted")
            if job.state != OPEN:
                raise BulkV1Error("InvalidJobState", f"Job {job.id} is not Open (state {job.state})")
            if target == ABORTED:
                for batch in job.batches.values():
                    if batch.state in (QUEUED, IN_PROGRESS):
                        batch.state, batch.polls_left, batch.pinned = NOT_PROCESSED, None, False
                        batch.state_message = "The job was aborted before this batch was processed"
            job.state = target
            job.system_modstamp = now_iso()
            return JSONResponse(_v1_job_info(job))

    def v1_add_batch(self, call: Call) -> Response:
        _refuse_non_json(call)
        if len(call.body) > V1_MAX_BYTES:
            raise BulkV1Error("InvalidBatch", f"Exceeded max size limit of {V1_MAX_BYTES}")
        records = parse_json(
            call.body or b"null", _v1_error("InvalidBatch"), max_bytes=V1_MAX_BYTES, what="the batch"
        )
        if not isinstance(records, list) or not records:
            raise BulkV1Error("InvalidBatch", "Records not found: a batch is a non-empty JSON array")
        if len(records) > V1_MAX_RECORDS:
            raise BulkV1Error(
                "InvalidBatch", f"Exceeded max records limit of {V1_MAX_RECORDS} per batch: {len(records)}"
            )
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if job.state != OPEN:
                raise BulkV1Error("InvalidJobState", f"Job {job.id} is not Open (state {job.state})")
            stamp = now_iso()
            batch = Batch(
                id=new_id("751"), job_id=job.id, records=records, created_date=stamp, system_modstamp=stamp
            )
            job.batches[batch.id] = batch
            answer = _batch_info(batch)
            steps = _background_steps(self.state, job, batch)
            schedule(self.worker, job, batch, lambda: _process_batch(self.state, job, batch), steps)
        return JSONResponse(answer, status_code=201)

    def v1_batch_list(self, call: Call) -> Response:
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            for batch in job.batches.values():
                _poll_batch(self.state, job, batch)
            return JSONResponse({"batchInfo": [_batch_info(b) for b in job.batches.values()]})

    def _batch(self, call: Call) -> tuple[AsyncJob, Batch]:
        job = _job(self.state, call.params["job_id"])
        batch = job.batches.get(call.params["batch_id"])
        if batch is None:
            raise BulkV1Error("InvalidBatch", f"Invalid batch id: {call.params['batch_id']}")
        return job, batch

    def v1_batch_status(self, call: Call) -> Response:
        with LOCK:
            job, batch = self._batch(call)
            _poll_batch(self.state, job, batch)
            return JSONResponse(_batch_info(batch))

    def v1_batch_result(self, call: Call) -> Response:
        with LOCK:
            _, batch = self._batch(call)
            if batch.state != COMPLETED or batch.results is None:
                raise BulkV1Error("InvalidBatch", f"Batch not completed (state {batch.state})")
            results = [
                {"success": r["success"], "created": r["created"], "id": r["id"], "errors": r["errors"]}
                for r in batch.results
            ]
        return JSONResponse(results)

    def v1_batch_request(self, call: Call) -> Response:
        with LOCK:
            _, batch = self._batch(call)
            return JSONResponse(batch.records)


# --- control API ---------------------------------------------------------------------------------
def _transition(state: SalesforceState, job: AsyncJob, new_state: str) -> dict:
    """Force ``new_state`` on the job's pending batches (checked by ``transition_job``, which holds
    :data:`LOCK`); ``JobComplete`` processes them and closes the job. The job info."""
    if job.state in (FAILED, ABORTED):
        raise state_error(f"Job {job.id} is already {job.state}")
    pending = [b for b in job.batches.values() if b.state in (QUEUED, IN_PROGRESS)]
    for batch in pending:
        if new_state == JOB_COMPLETE:
            _process_batch(state, job, batch)
        elif new_state == IN_PROGRESS:
            batch.state, batch.pinned = IN_PROGRESS, True
        elif new_state == FAILED:
            batch.state, batch.polls_left, batch.pinned = FAILED, None, False
            batch.state_message = "InternalServerError : the batch was failed by the sandbox control API"
        else:
            batch.state, batch.polls_left, batch.pinned = NOT_PROCESSED, None, False
    if new_state == JOB_COMPLETE:
        job.state = CLOSED
    elif new_state in (FAILED, ABORTED):
        job.state = new_state
    job.system_modstamp = now_iso()
    return _v1_job_info(job)
