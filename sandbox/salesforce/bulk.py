"""Bulk API 2.0 ingest and Bulk API v1 (JSON) of the Salesforce sandbox.

Bulk 2.0 (``/services/data/vXX.X/jobs/ingest``) follows the sequence simple-salesforce's ``bulk2``
sends: create job → ``PUT .../batches`` (CSV, 201) → ``PATCH {"state": "UploadComplete"}`` → poll
``GET .../{jobId}`` → ``successfulResults/``, ``failedResults/``, ``unprocessedrecords/``.
Bulk v1 (``/services/async/XX.X/job``, ``X-SFDC-Session``) is the JSON flavour the Airflow provider's
``SalesforceBulkOperator`` drives through simple-salesforce's ``bulk``: create job → one batch per
≤ 10,000 records → poll each batch → ``.../result`` → close the job.

Jobs live in ``state.bulk_jobs`` (in memory, cleared by ``reset``). Every record goes through
``state.save_many``/``state.delete``, so validation, duplicates and ``UNABLE_TO_LOCK_ROW`` faults are
the same as for REST and sObject Collections. When a job or batch is processed is decided by
``state.config["bulk_transition"]`` (like moto's managed state transitions):

* ``{"mode": "background"}`` (the default): as Salesforce does it — the close answers
  ``UploadComplete`` at once and a worker thread processes the job (v1: each batch) in chunks of
  ``BACKGROUND_CHUNK`` records, the org serving other calls between chunks; polls see ``InProgress``
  until it is ``JobComplete``. Jobs are processed one after another, in the order they were closed.
* ``{"mode": "immediate"}``: processed right after ``UploadComplete`` (Bulk 2.0) or the batch upload
  (v1); the answer to that request still shows ``UploadComplete``/``Queued``, as Salesforce's does.
* ``{"mode": "polls", "polls": N}``: the job (batch) answers ``InProgress`` to N status polls, then is
  processed on the next poll, which answers ``JobComplete`` (``Completed``).

``transition_job`` forces a state from the control API (``POST /_sandbox/bulk/{jobId}/transition``).

Error codes marked UNCONFIRMED below are the sandbox's best reading of Salesforce, not verified
against a live org.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import queue
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from fastapi.responses import JSONResponse, Response

from sandbox.common.jsonbody import parse_json
from sandbox.salesforce import limits
from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.protocol import Call
from sandbox.salesforce.state import SalesforceState, id_checksum, now_iso

V2 = r"/services/data/v(?P<version>\d+\.\d)/jobs/ingest"
V1 = r"/services/async/(?P<version>\d+\.\d)/job"
JOB = r"(?P<job_id>[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)"
BATCH = r"(?P<batch_id>[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)"
AUTH, SFDC_SESSION = "authorization", "x-sfdc-session"

# (method, pattern, endpoint name, BulkApi handler, session header); routes.py appends "/?$".
ROUTES: list[tuple[str, str, str, str, str]] = [
    ("POST", V2, "bulk2.create_job", "create_job", AUTH),
    ("GET", V2, "bulk2.list", "list_jobs", AUTH),
    ("GET", rf"{V2}/{JOB}", "bulk2.status", "job_status", AUTH),
    # Close and abort share the PATCH; an abort is re-labelled "bulk2.abort" in the call stats.
    ("PATCH", rf"{V2}/{JOB}", "bulk2.close", "patch_job", AUTH),
    ("DELETE", rf"{V2}/{JOB}", "bulk2.delete", "delete_job", AUTH),
    ("PUT", rf"{V2}/{JOB}/batches", "bulk2.upload", "upload", AUTH),
    ("GET", rf"{V2}/{JOB}/(?i:successfulResults)", "bulk2.successful_results", "successful_results", AUTH),
    ("GET", rf"{V2}/{JOB}/(?i:failedResults)", "bulk2.failed_results", "failed_results", AUTH),
    ("GET", rf"{V2}/{JOB}/(?i:unprocessedRecords)", "bulk2.unprocessed", "unprocessed_records", AUTH),
    ("POST", V1, "bulk1.create_job", "v1_create_job", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}", "bulk1.job_status", "v1_job_status", SFDC_SESSION),
    ("POST", rf"{V1}/{JOB}", "bulk1.close_job", "v1_close_job", SFDC_SESSION),
    ("POST", rf"{V1}/{JOB}/batch", "bulk1.add_batch", "v1_add_batch", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch", "bulk1.batch_list", "v1_batch_list", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}", "bulk1.batch_status", "v1_batch_status", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}/result", "bulk1.batch_result", "v1_batch_result", SFDC_SESSION),
    ("GET", rf"{V1}/{JOB}/batch/{BATCH}/request", "bulk1.batch_request", "v1_batch_request", SFDC_SESSION),
]

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
V1_MAX_RECORDS = limits.BULK1_MAX_BATCH_RECORDS  # Bulk v1: records per batch
V1_MAX_BYTES = 10_000_000  # Bulk v1: bytes per batch
NULL_CELL = "#N/A"  # a CSV cell that sets the field to null (an empty cell leaves it unchanged)

OPEN, UPLOAD_COMPLETE, IN_PROGRESS = "Open", "UploadComplete", "InProgress"
JOB_COMPLETE, FAILED, ABORTED, CLOSED = "JobComplete", "Failed", "Aborted", "Closed"
TERMINAL = (JOB_COMPLETE, FAILED, ABORTED)
QUEUED, COMPLETED, NOT_PROCESSED = "Queued", "Completed", "NotProcessed"

BACKGROUND = "background"
BACKGROUND_CHUNK = 2_000  # records processed per hold of the org's request lock (mode "background")
_HAND_OVER = 0.002

_log = logging.getLogger(__name__)
_LOCK = threading.RLock()
_SEQ = itertools.count(1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# --- errors --------------------------------------------------------------------------------------
def _job_error(message: str, status: int = 400) -> SalesforceError:
    """Bulk 2.0 refuses a job definition with ``INVALIDJOB`` (e.g. "Unable to find object: X")."""
    return SalesforceError(message, error_code="INVALIDJOB", status=status)


def _state_error(message: str) -> SalesforceError:
    # UNCONFIRMED: the operation is not allowed in the job's current state. Salesforce documents
    # InvalidJobState; 409 Conflict is our reading of the HTTP status.
    return SalesforceError(message, error_code="INVALIDJOBSTATE", status=409)


def _batch_error(message: str) -> SalesforceError:
    # UNCONFIRMED: an upload Salesforce would not take (content type, size).
    return SalesforceError(message, error_code="INVALIDBATCH", status=400)


def _not_found(job_id: str) -> SalesforceError:
    return SalesforceError(
        f"The requested resource does not exist: job {job_id}", error_code="NOT_FOUND", status=404
    )


class BulkV1Error(SalesforceError):
    """Bulk v1 answers ``{"exceptionCode", "exceptionMessage"}`` (JSON jobs) instead of the REST array.

    Errors raised before the handler runs (session, daily limit) keep the REST shape of
    :mod:`sandbox.salesforce.protocol`.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message, error_code=code, status=status)

    def body(self) -> dict:  # type: ignore[override]
        return {"exceptionCode": self.error_code, "exceptionMessage": self.message}


class _JobFailure(Exception):
    """The job data cannot be processed: the job ends ``Failed`` with this ``errorMessage``."""


# --- jobs ----------------------------------------------------------------------------------------
@dataclass
class IngestJob:
    """A Bulk 2.0 ingest job."""

    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    api_version: str
    created_by: str | None
    created_date: str
    system_modstamp: str
    state: str = OPEN
    data: bytes | None = None
    polls_left: int | None = None  # status polls still answered InProgress; None = not scheduled
    pinned: bool = False  # forced InProgress by the control API: only another transition moves it
    error_message: str | None = None
    header: list[str] | None = None
    rows: list[list[str]] | None = None
    results: list[dict[str, Any]] | None = None  # per row, in input order, once processed
    processing_ms: int = 0
    kind: str = "v2"
    # Once processed: (rows processed, rows failed) and the result CSVs, zlib-compressed; the upload, rows
    # and per-row results are then dropped, so a sandbox that ran many large jobs stays small.
    counts: tuple[int, int] | None = None
    finished_csvs: dict[str, bytes] | None = None
    busy: bool = False  # being processed by the BackgroundWorker


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


@dataclass
class AsyncJob:
    """A Bulk v1 job."""

    id: str
    object: str
    operation: str
    external_id_field: str | None
    concurrency_mode: str
    api_version: str
    created_by: str | None
    created_date: str
    system_modstamp: str
    state: str = OPEN
    batches: dict[str, Batch] = field(default_factory=dict)
    kind: str = "v1"


def _new_id(prefix: str) -> str:
    n, body = next(_SEQ), ""
    for _ in range(9):
        n, r = divmod(n, 62)
        body = _BASE62[r] + body
    id15 = prefix + "000" + body
    return id15 + id_checksum(id15)


def _transition_config(state: SalesforceState) -> int | str | None:
    """Polls a new job/batch stays InProgress; None = process at once (``immediate``);
    ``"background"`` = processed by the org's :class:`BackgroundWorker`."""
    cfg = state.config.get("bulk_transition") or {}
    mode = cfg.get("mode", BACKGROUND)
    if mode == "immediate":
        return None
    if mode == BACKGROUND:
        return BACKGROUND
    return max(0, int(cfg.get("polls", 0)))


# --- record processing (shared by both APIs) -----------------------------------------------------
def _failure(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": None,
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields or []}],
        "created": False,
    }


def _get_ci(values: dict[str, Any], name: str) -> Any:
    return next((v for k, v in values.items() if k.lower() == name.lower()), None)


def _without(values: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k.lower() != name.lower()}


def _key_counts(
    state: SalesforceState, sobject: str, operation: str, ext_field: str | None, records: list[Any]
):
    """How often each external ID occurs in a whole job/batch (an upsert refuses every repeat)."""
    obj = state.object(sobject)
    fdef = obj.field(ext_field) if operation == "upsert" and ext_field else None
    if fdef is None:
        return Counter()
    keys = (_get_ci(r, fdef.name) if isinstance(r, dict) else None for r in records)
    return Counter(_norm_key(fdef, k) for k in keys if k not in (None, ""))


def _apply(
    state: SalesforceState,
    sobject: str,
    operation: str,
    ext_field: str | None,
    records: list[Any],
    running_user: str | None,
    counts: Counter[str] | None = None,
) -> list[dict[str, Any]]:
    """Write ``records`` (field → value dicts) as one job/batch; one result per record, in order.

    ``counts`` are the external IDs' occurrences in the whole job when ``records`` is a chunk of it.
    """
    obj = state.object(sobject)
    results: list[dict[str, Any] | None] = [None] * len(records)
    items: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    where: list[int] = []
    keys: list[Any] = []
    fdef = obj.field(ext_field) if operation == "upsert" and ext_field else None
    if fdef is not None:
        keys = [_get_ci(r, fdef.name) if isinstance(r, dict) else None for r in records]
        if counts is None:
            counts = _key_counts(state, sobject, operation, ext_field, records)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            results[i] = _failure("INVALID_FIELD", "a record must be an object of field values")
            continue
        if operation in ("delete", "hardDelete"):
            results[i] = _delete_one(state, obj.name, record)
            continue
        if operation == "upsert":
            key = keys[i]
            if key not in (None, "") and counts is not None and counts[_norm_key(fdef, key)] > 1:
                # Salesforce refuses every occurrence of an external ID repeated within one job/batch.
                results[i] = _failure(
                    "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", [fdef.name]
                )
                continue
            kwargs = {"upsert_field": fdef.name, "lock_key": None if key is None else str(key)}
            values = record
        elif operation == "update":
            record_id = _get_ci(record, "Id")
            if record_id in (None, ""):
                results[i] = _failure("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
                continue
            kwargs = {"record_id": str(record_id), "lock_key": str(record_id)}
            values = _without(record, "Id")
        else:  # insert
            if _get_ci(record, "Id") not in (None, ""):
                results[i] = _failure(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                )
                continue
            kwargs, values = {}, _without(record, "Id")
        items.append((obj.name, values, kwargs))
        where.append(i)
    saved = state.save_many(items, all_or_none=False, running_user=running_user) if items else []
    for i, result in zip(where, saved):
        results[i] = {**result, "created": bool(result.get("created", False))}
    return [r for r in results if r is not None]


def _norm_key(fdef: Any, key: Any) -> str:
    text = str(key)
    return text if getattr(fdef, "case_sensitive", False) else text.lower()


def _delete_one(state: SalesforceState, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
    record_id = _get_ci(record, "Id")
    if record_id in (None, ""):
        return _failure("MISSING_ARGUMENT", "Id not specified in a delete call", ["Id"])
    record_id = str(record_id)
    try:
        found = state.get(record_id) if len(record_id) in (15, 18) else None
        state.delete(sobject, record_id)
    except RecordError as exc:
        return {"id": None, "success": False, "errors": [exc.result()], "created": False}
    except SalesforceError:
        if state._deleted(record_id):  # noqa: SLF001 - the state has no public "was deleted" check
            return _failure("ENTITY_IS_DELETED", "entity is deleted")
        return _failure("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {record_id}")
    return {"id": found[1]["Id"] if found else record_id, "success": True, "errors": [], "created": False}


# --- Bulk 2.0 CSV --------------------------------------------------------------------------------
def _parse_csv(state: SalesforceState, job: IngestJob) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the uploaded CSV; raises :class:`_JobFailure` as Salesforce fails the job."""
    if not job.data:
        # UNCONFIRMED: a job closed without any upload ends Failed.
        raise _JobFailure("ClientInputError : No data was uploaded for this job")
    try:
        text = job.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _JobFailure(f"ClientInputError : the CSV is not valid UTF-8 ({exc.reason})") from None
    newline = text.find("\n")
    crlf = newline > 0 and text[newline - 1] == "\r"
    if newline >= 0 and crlf != (job.line_ending == "CRLF"):
        raise _JobFailure(
            "ClientInputError : LineEnding is invalid on user data. "
            f"Current LineEnding setting is {job.line_ending}"
        )
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter], strict=True
    )
    try:
        parsed = [row for row in reader if row]
    except csv.Error as exc:
        raise _JobFailure(f"ClientInputError : Failed to parse CSV (line {reader.line_num}): {exc}") from None
    if not parsed:
        raise _JobFailure("ClientInputError : No data was uploaded for this job")
    header, rows = parsed[0], parsed[1:]
    obj = state.object(job.object)
    seen: set[str] = set()
    for name in header:
        if obj.field(name.strip()) is None:
            raise _JobFailure(f"InvalidBatch : Field name not found : {name}")
        if name.strip().lower() in seen:
            raise _JobFailure(f"InvalidBatch : Duplicate field name : {name}")
        seen.add(name.strip().lower())
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            # UNCONFIRMED: a row whose column count differs from the header fails the job.
            raise _JobFailure(
                f"ClientInputError : Row {number} has {len(row)} columns, the header has {len(header)}"
            )
    return header, rows


def _row_values(header: list[str], row: list[str]) -> dict[str, Any]:
    """CSV cell semantics: empty = leave unchanged (omitted), ``#N/A`` = null, else the string."""
    values: dict[str, Any] = {}
    for name, cell in zip(header, row):
        if cell == "":
            continue
        values[name.strip()] = None if cell == NULL_CELL else cell
    return values


def _process_ingest(state: SalesforceState, job: IngestJob, *, forced: bool = False) -> None:
    """Process a job at once (the caller holds the locks)."""
    for _ in _ingest_steps(state, job, forced=forced):
        pass


def _ingest_steps(
    state: SalesforceState, job: IngestJob, *, forced: bool = False, chunk: int | None = None
) -> Iterator[None]:
    """Process a job, pausing (``yield``) after each ``chunk`` records; the caller holds the locks
    while a step runs and may release them between steps (background processing)."""
    spent = 0.0
    started = time.monotonic()
    job.polls_left, job.pinned = None, False
    if forced and not job.data:
        job.header, job.rows, job.results = [], [], []
    else:
        try:
            header, rows = _parse_csv(state, job)
        except _JobFailure as exc:
            job.state, job.error_message = FAILED, str(exc)
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.system_modstamp = now_iso()
            return
        records = [_row_values(header, row) for row in rows]
        job.header, job.rows, job.results = header, rows, []
        counts = _key_counts(state, job.object, job.operation, job.external_id_field, records)
        step = chunk or max(1, len(records))
        for start in range(0, len(records), step):
            job.results.extend(
                _apply(
                    state,
                    job.object,
                    job.operation,
                    job.external_id_field,
                    records[start : start + step],
                    job.created_by,
                    counts,
                )
            )
            if start + step < len(records):
                spent += time.monotonic() - started
                yield
                started = time.monotonic()
    results = job.results or []
    job.counts = (len(results), sum(1 for r in results if not r["success"]))
    job.finished_csvs = {
        kind: zlib.compress(_results_csv(job, kind).encode("utf-8"), 1)
        for kind in ("successful", "failed", "unprocessed")
    }
    job.data, job.rows, job.results = None, None, None
    job.state = JOB_COMPLETE
    job.processing_ms = int((spent + time.monotonic() - started) * 1000)
    job.system_modstamp = now_iso()


class BackgroundWorker:
    """Processes closed jobs and new v1 batches one after another in a thread (mode ``background``),
    as Salesforce does: the close answers at once and status polls see ``InProgress`` until the job is
    done. A job is processed ``BACKGROUND_CHUNK`` records at a time, each chunk under the org's
    request lock, so API calls (polls, queries, other jobs' uploads) are served in between."""

    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: IngestJob | AsyncJob, batch: Batch | None = None) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bulk-worker", daemon=True)
                self._thread.start()
        self._queue.put((job, batch))

    def _run(self) -> None:
        while True:
            job, batch = self._queue.get()
            try:
                if batch is not None:
                    self._batch(job, batch)
                else:
                    self._ingest(job)
            except Exception:  # noqa: BLE001 - a broken job must not stop the worker
                _log.exception("sandbox: background processing of bulk job %s failed", job.id)
                with _LOCK:
                    if isinstance(job, IngestJob):
                        job.busy = False
                    if job.state not in TERMINAL:
                        job.state, job.error_message = (
                            FAILED,
                            "InternalServerError : sandbox processing failed",
                        )

    def _current(self, job: Any) -> bool:
        return self.state.bulk_jobs.get(job.id) is job  # not dropped by a reset

    def _ingest(self, job: IngestJob) -> None:
        steps: Iterator[None] | None = None
        while True:
            with self.state.request_lock, _LOCK:
                if steps is None:
                    if not self._current(job) or job.pinned or job.state != UPLOAD_COMPLETE:
                        return
                    job.state, job.busy = IN_PROGRESS, True
                    job.system_modstamp = now_iso()
                    steps = _ingest_steps(self.state, job, chunk=BACKGROUND_CHUNK)
                elif not self._current(job) or job.state != IN_PROGRESS:  # aborted meanwhile
                    job.busy = False
                    return
                if next(steps, StopIteration) is StopIteration:
                    job.busy = False
                    return
            time.sleep(_HAND_OVER)  # a lock is not fair: let a waiting request take it before the next chunk

    def _batch(self, job: AsyncJob, batch: Batch) -> None:
        with self.state.request_lock, _LOCK:
            if self._current(job) and not batch.pinned and batch.state == QUEUED:
                _process_batch(self.state, job, batch)


def _poll_ingest(state: SalesforceState, job: IngestJob) -> None:
    """A status poll moves a scheduled job along ``bulk_transition``."""
    if job.state not in (UPLOAD_COMPLETE, IN_PROGRESS) or job.pinned or job.polls_left is None:
        return
    if job.polls_left > 0:
        job.polls_left -= 1
        job.state = IN_PROGRESS
        job.system_modstamp = now_iso()
    else:
        _process_ingest(state, job)


def _csv_line(cells: list[str], delimiter: str, quote_all: bool) -> str:
    buf = io.StringIO()
    csv.writer(
        buf,
        delimiter=delimiter,
        lineterminator="\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    ).writerow(cells)
    return buf.getvalue()


def _sf_error(result: dict[str, Any]) -> str:
    """``sf__Error`` as Salesforce writes it: ``STATUS_CODE:message:fields --``."""
    err = (result.get("errors") or [{}])[0]
    fields = ",".join(err.get("fields") or [])
    return f"{err.get('statusCode', 'UNKNOWN_EXCEPTION')}:{err.get('message', '')}:{fields} --"


def _results_csv(job: IngestJob, kind: str) -> str:
    """Result CSV: ``sf__`` columns and values quoted, original header names as uploaded."""
    if job.finished_csvs is not None:
        return zlib.decompress(job.finished_csvs[kind]).decode("utf-8")
    delimiter = DELIMITERS[job.column_delimiter]
    header, left = job.header or [], []
    if job.results is None and job.data:  # never processed (aborted/failed): every row is left
        try:
            header, left = _parse_csv_lenient(job)
        except _JobFailure:
            header, left = [], []
    if kind == "unprocessed":
        out = [_csv_line(header, delimiter, False) if header else ""]
        out += [_csv_line(row, delimiter, True) for row in left]
        return "".join(out)
    extra = '"sf__Created"' if kind == "successful" else '"sf__Error"'
    head = delimiter.join(['"sf__Id"', extra])
    if header:
        head += delimiter + _csv_line(header, delimiter, False).rstrip("\n")
    out = [head + "\n"]
    for row, result in zip(job.rows or [], job.results or []):
        if result["success"] != (kind == "successful"):
            continue
        second = ("true" if result.get("created") else "false") if kind == "successful" else _sf_error(result)
        out.append(_csv_line([result.get("id") or "", second, *row], delimiter, True))
    return "".join(out)


def _parse_csv_lenient(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    """Rows of an unprocessed upload (aborted/failed job), without the field checks."""
    try:
        text = (job.data or b"").decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
        parsed = [row for row in reader if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _JobFailure(str(exc)) from None
    return (parsed[0], parsed[1:]) if parsed else ([], [])


# --- Bulk v1 -------------------------------------------------------------------------------------
def _process_batch(state: SalesforceState, job: AsyncJob, batch: Batch) -> None:
    started = time.monotonic()
    batch.polls_left, batch.pinned = None, False
    batch.results = _apply(
        state, job.object, job.operation, job.external_id_field, batch.records, job.created_by
    )
    batch.state = COMPLETED
    batch.processing_ms = int((time.monotonic() - started) * 1000)
    batch.system_modstamp = now_iso()


def _poll_batch(state: SalesforceState, job: AsyncJob, batch: Batch) -> None:
    if batch.state not in (QUEUED, IN_PROGRESS) or batch.pinned or batch.polls_left is None:
        return
    if batch.polls_left > 0:
        batch.polls_left -= 1
        batch.state = IN_PROGRESS
        batch.system_modstamp = now_iso()
    else:
        _process_batch(state, job, batch)


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


# --- Bulk 2.0 job info ---------------------------------------------------------------------------
def _job_info(job: IngestJob, *, full: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": job.id,
        "operation": job.operation,
        "object": job.object,
        "createdById": job.created_by,
        "createdDate": job.created_date,
        "systemModstamp": job.system_modstamp,
        "state": job.state,
    }
    if job.external_id_field:
        info["externalIdFieldName"] = job.external_id_field
    info.update(
        {
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.api_version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{job.api_version}/jobs/ingest/{job.id}/batches",
            "lineEnding": job.line_ending,
            "columnDelimiter": job.column_delimiter,
        }
    )
    if full:
        processed, failed = job.counts or (0, 0)
        info.update(
            {
                "numberRecordsProcessed": processed,
                "numberRecordsFailed": failed,
                "retries": 0,
                "totalProcessingTime": job.processing_ms,
                "apiActiveProcessingTime": job.processing_ms,
                "apexProcessingTime": 0,
            }
        )
        if job.error_message:
            info["errorMessage"] = job.error_message
    return info


def _job(state: SalesforceState, job_id: str, kind: str) -> Any:
    job = state.bulk_jobs.get(job_id)
    if job is None and len(job_id) == 15:
        job = state.bulk_jobs.get(job_id + id_checksum(job_id))
    if job is None or job.kind != kind:
        if kind == "v1":
            raise BulkV1Error("InvalidJob", f"Invalid job id: {job_id}")
        raise _not_found(job_id)
    return job


# --- handlers ------------------------------------------------------------------------------------
class BulkApi:
    """The Bulk 2.0 and Bulk v1 handlers; :mod:`sandbox.salesforce.routes` maps URLs to them."""

    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self.worker = BackgroundWorker(state)

    # Bulk 2.0 -------------------------------------------------------------------------------------
    def create_job(self, call: Call) -> Response:
        body = call.json()
        if not isinstance(body, dict):
            raise _job_error("the job definition must be a JSON object")
        operation = body.get("operation")
        if not isinstance(operation, str) or operation not in OPERATIONS:
            raise _job_error(f"InvalidJob : Invalid operation: {str(operation)[:40]}")
        name = body.get("object")
        obj = self.state.schema.object(str(name)) if name else None
        if obj is None:
            # Bulk 2.0 answers INVALIDJOB "Unable to find object: X" (not REST's NOT_FOUND).
            raise _job_error(f"Unable to find object: {name}")
        content_type = body.get("contentType", "CSV")
        if content_type != "CSV":
            raise _job_error(f"InvalidJob : Unsupported contentType: {content_type}; only CSV is supported")
        line_ending = body.get("lineEnding", "LF")
        if not isinstance(line_ending, str) or line_ending not in LINE_ENDINGS:
            raise _job_error(f"InvalidJob : Invalid lineEnding: {line_ending}")
        delimiter = body.get("columnDelimiter", "COMMA")
        if not isinstance(delimiter, str) or delimiter not in DELIMITERS:
            raise _job_error(f"InvalidJob : Invalid columnDelimiter: {delimiter}")
        ext = self._external_id(obj, operation, body.get("externalIdFieldName"), v1=False)
        stamp = now_iso()
        job = IngestJob(
            id=_new_id("750"),
            object=obj.name,
            operation=operation,
            external_id_field=ext,
            line_ending=line_ending,
            column_delimiter=delimiter,
            api_version=call.version,
            created_by=call.user_id,
            created_date=stamp,
            system_modstamp=stamp,
        )
        with _LOCK:
            self.state.bulk_jobs[job.id] = job
        return JSONResponse(_job_info(job, full=False))

    def _external_id(self, obj: Any, operation: str, name: Any, *, v1: bool) -> str | None:
        if operation != "upsert":
            return None
        if not name:
            message = f"External ID was blank for {obj.name}. An External ID must be specified for upsert."
            raise BulkV1Error("InvalidJob", message) if v1 else _job_error(message)
        fdef = obj.field(str(name))
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            message = f"Field name provided, {name} is not an External ID or indexed field for {obj.name}"
            raise BulkV1Error("InvalidJob", message) if v1 else _job_error(message)
        return fdef.name

    def list_jobs(self, call: Call) -> Response:
        with _LOCK:
            jobs = [j for j in self.state.bulk_jobs.values() if j.kind == "v2"]
            records = [_job_info(j, full=False) for j in jobs]
        return JSONResponse({"done": True, "records": records, "nextRecordsUrl": None})

    def job_status(self, call: Call) -> Response:
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v2")
            _poll_ingest(self.state, job)
            return JSONResponse(_job_info(job, full=True))

    def upload(self, call: Call) -> Response:
        content_type = call.request.headers.get("content-type", "")
        if not content_type.lower().startswith("text/csv"):
            raise _batch_error(f"Unsupported content type {content_type!r}: upload job data as text/csv")
        max_bytes = int(self.state.config["bulk2_max_upload_bytes"])
        if len(call.body) > max_bytes:
            raise _batch_error(f"Exceeded max size limit of {max_bytes} bytes")
        if not call.body:
            raise _batch_error("the CSV data is empty")
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v2")
            if job.state != OPEN:
                raise _state_error(f"Job {job.id} is not Open (state {job.state}); it takes no more data")
            if job.data is not None:
                raise _state_error(f"Job {job.id} already has its data: Bulk 2.0 takes one upload per job")
            job.data = call.body
            job.system_modstamp = now_iso()
        return Response(status_code=201)

    def patch_job(self, call: Call) -> Response:
        body = call.json()
        target = body.get("state") if isinstance(body, dict) else None
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v2")
            if target == UPLOAD_COMPLETE:
                if job.state != OPEN:
                    raise _state_error(f"Job {job.id} is not Open (state {job.state})")
                job.state = UPLOAD_COMPLETE
                job.system_modstamp = now_iso()
                answer = _job_info(job, full=False)
                schedule = _transition_config(self.state)
                if schedule == BACKGROUND:
                    self.worker.submit(job)
                elif schedule is None:  # immediate: processed right after this answer
                    _process_ingest(self.state, job)
                else:
                    job.polls_left = schedule
                return JSONResponse(answer)
            if target == ABORTED:
                self._relabel("bulk2.close", "bulk2.abort")
                if job.state in TERMINAL:
                    raise _state_error(f"Job {job.id} is already {job.state}")
                job.state, job.polls_left, job.pinned = ABORTED, None, False
                job.system_modstamp = now_iso()
                return JSONResponse(_job_info(job, full=False))
        raise SalesforceError(
            f"Invalid state {target!r}: a job can be set to UploadComplete or Aborted",
            error_code="INVALIDJOBSTATE",
        )

    def _relabel(self, old: str, new: str) -> None:
        """Count this call under ``new`` (the PATCH route is named after its usual use, close)."""
        calls = self.state.calls
        if calls.get(old, 0) > 0:
            calls[old] -= 1
            if not calls[old]:
                del calls[old]
            calls[new] += 1

    def delete_job(self, call: Call) -> Response:
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v2")
            if job.state not in TERMINAL:
                raise _state_error(f"Job {job.id} is {job.state}: only a finished job can be deleted")
            del self.state.bulk_jobs[job.id]
        return Response(status_code=204)

    def _results(self, call: Call, kind: str) -> Response:
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v2")
            if job.state not in TERMINAL:
                raise _state_error(f"Job {job.id} is {job.state}: results are available once it has finished")
            text = _results_csv(job, kind)
        return Response(text.encode("utf-8"), media_type="text/csv; charset=UTF-8")

    def successful_results(self, call: Call) -> Response:
        return self._results(call, "successful")

    def failed_results(self, call: Call) -> Response:
        return self._results(call, "failed")

    def unprocessed_records(self, call: Call) -> Response:
        return self._results(call, "unprocessed")

    # Bulk v1 --------------------------------------------------------------------------------------
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
        ext = self._external_id(obj, operation, body.get("externalIdFieldName"), v1=True)
        stamp = now_iso()
        job = AsyncJob(
            id=_new_id("750"),
            object=obj.name,
            operation=operation,
            external_id_field=ext,
            concurrency_mode=modes[mode],
            api_version=call.version,
            created_by=call.user_id,
            created_date=stamp,
            system_modstamp=stamp,
        )
        with _LOCK:
            self.state.bulk_jobs[job.id] = job
        return JSONResponse(_v1_job_info(job), status_code=201)

    def v1_job_status(self, call: Call) -> Response:
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v1")
            for batch in job.batches.values():
                _poll_batch(self.state, job, batch)
            return JSONResponse(_v1_job_info(job))

    def v1_close_job(self, call: Call) -> Response:
        body = parse_json(call.body or b"null", _v1_error("InvalidJob"), what="the job update")
        target = body.get("state") if isinstance(body, dict) else None
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v1")
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
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v1")
            if job.state != OPEN:
                raise BulkV1Error("InvalidJobState", f"Job {job.id} is not Open (state {job.state})")
            stamp = now_iso()
            batch = Batch(
                id=_new_id("751"), job_id=job.id, records=records, created_date=stamp, system_modstamp=stamp
            )
            job.batches[batch.id] = batch
            answer = _batch_info(batch)
            schedule = _transition_config(self.state)
            if schedule == BACKGROUND:
                self.worker.submit(job, batch)
            elif schedule is None:  # immediate: processed right after this answer
                _process_batch(self.state, job, batch)
            else:
                batch.polls_left = schedule
        return JSONResponse(answer, status_code=201)

    def v1_batch_list(self, call: Call) -> Response:
        with _LOCK:
            job = _job(self.state, call.params["job_id"], "v1")
            for batch in job.batches.values():
                _poll_batch(self.state, job, batch)
            return JSONResponse({"batchInfo": [_batch_info(b) for b in job.batches.values()]})

    def _batch(self, call: Call) -> tuple[AsyncJob, Batch]:
        job = _job(self.state, call.params["job_id"], "v1")
        batch = job.batches.get(call.params["batch_id"])
        if batch is None:
            raise BulkV1Error("InvalidBatch", f"Invalid batch id: {call.params['batch_id']}")
        return job, batch

    def v1_batch_status(self, call: Call) -> Response:
        with _LOCK:
            job, batch = self._batch(call)
            _poll_batch(self.state, job, batch)
            return JSONResponse(_batch_info(batch))

    def v1_batch_result(self, call: Call) -> Response:
        with _LOCK:
            _, batch = self._batch(call)
            if batch.state != COMPLETED or batch.results is None:
                raise BulkV1Error("InvalidBatch", f"Batch not completed (state {batch.state})")
            results = [
                {"success": r["success"], "created": r["created"], "id": r["id"], "errors": r["errors"]}
                for r in batch.results
            ]
        return JSONResponse(results)

    def v1_batch_request(self, call: Call) -> Response:
        with _LOCK:
            _, batch = self._batch(call)
            return JSONResponse(batch.records)


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


# --- control API ---------------------------------------------------------------------------------
def transition_job(state: SalesforceState, job_id: str, new_state: str) -> dict:
    """Force a job to ``JobComplete`` (processing its data first), ``Failed``, ``InProgress`` or
    ``Aborted``; returns the job info. A v1 job's batches follow (``JobComplete`` closes the job)."""
    if new_state not in (JOB_COMPLETE, FAILED, IN_PROGRESS, ABORTED):
        raise SalesforceError(
            f"unknown target state {new_state!r}: use JobComplete, Failed, InProgress or Aborted",
            error_code="INVALIDJOBSTATE",
        )
    with _LOCK:
        job = state.bulk_jobs.get(job_id)
        if job is None:
            raise _not_found(job_id)
        if job.kind == "v1":
            return _transition_v1(state, job, new_state)
        if job.state in TERMINAL:
            raise _state_error(f"Job {job.id} is already {job.state}")
        if job.busy:
            raise _state_error(f"Job {job.id} is being processed; wait for it to finish")
        if new_state == JOB_COMPLETE:
            _process_ingest(state, job, forced=True)
        elif new_state == IN_PROGRESS:
            job.state, job.pinned = IN_PROGRESS, True
        else:
            job.state, job.polls_left, job.pinned = new_state, None, False
            if new_state == FAILED:
                job.error_message = "InternalServerError : the job was failed by the sandbox control API"
        job.system_modstamp = now_iso()
        return _job_info(job, full=True)


def _transition_v1(state: SalesforceState, job: AsyncJob, new_state: str) -> dict:
    if job.state in (FAILED, ABORTED):
        raise _state_error(f"Job {job.id} is already {job.state}")
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
