"""Bulk API 2.0 ingest of the Salesforce sandbox (``/services/data/vXX.X/jobs/ingest``).

It follows the sequence simple-salesforce's ``bulk2`` sends: create job → ``PUT .../batches`` (CSV,
201) → ``PATCH {"state": "UploadComplete"}`` → poll ``GET .../{jobId}`` → ``successfulResults/``,
``failedResults/``, ``unprocessedrecords/``. The job data is one CSV upload; a CSV the job cannot take
fails the job (``errorMessage``) when it is processed, as in Salesforce.

What Bulk 2.0 shares with Bulk v1 (:mod:`sandbox.salesforce.bulk1`) — ``state.bulk_jobs``, writing the
records, the ``bulk_transition`` schedule and the background worker — is in
:mod:`sandbox.salesforce.bulk_jobs`.

Error codes marked UNCONFIRMED below are the sandbox's best reading of Salesforce, not verified
against a live org.
"""

from __future__ import annotations

import csv
import io
import time
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

from fastapi.responses import JSONResponse, Response

from sandbox.salesforce.bulk_jobs import (
    ABORTED,
    BACKGROUND_CHUNK,
    FAILED,
    IN_PROGRESS,
    JOB,
    JOB_COMPLETE,
    LOCK,
    OPEN,
    OPERATIONS,
    TERMINAL,
    BackgroundWorker,
    BulkJob,
    apply_records,
    external_id_field,
    find_job,
    key_counts,
    not_found,
    poll,
    schedule,
    state_error,
)
from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.protocol import Call
from sandbox.salesforce.state import SalesforceState, now_iso

V2 = r"/services/data/v(?P<version>\d+\.\d)/jobs/ingest"
AUTH = "authorization"

# (method, pattern, endpoint name, Bulk2Api handler, session header); routes.py appends "/?$".
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
]

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
NULL_CELL = "#N/A"  # a CSV cell that sets the field to null (an empty cell leaves it unchanged)

UPLOAD_COMPLETE = "UploadComplete"


# --- errors --------------------------------------------------------------------------------------
def _job_error(message: str, status: int = 400) -> SalesforceError:
    """Bulk 2.0 refuses a job definition with ``INVALIDJOB`` (e.g. "Unable to find object: X")."""
    return SalesforceError(message, error_code="INVALIDJOB", status=status)


def _batch_error(message: str) -> SalesforceError:
    # UNCONFIRMED: an upload Salesforce would not take (content type, size).
    return SalesforceError(message, error_code="INVALIDBATCH", status=400)


class _JobFailure(Exception):
    """The job data cannot be processed: the job ends ``Failed`` with this ``errorMessage``."""


# --- jobs ----------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class IngestJob(BulkJob):
    """A Bulk 2.0 ingest job."""

    kind: ClassVar[str] = "v2"
    line_ending: str
    column_delimiter: str
    data: bytes | None = None
    polls_left: int | None = None  # status polls still answered InProgress; None = not scheduled
    pinned: bool = False  # forced InProgress by the control API: only another transition moves it
    error_message: str | None = None
    header: list[str] | None = None
    rows: list[list[str]] | None = None
    results: list[dict[str, Any]] | None = None  # per row, in input order, once processed
    processing_ms: int = 0
    # Once processed: (rows processed, rows failed) and the result CSVs, zlib-compressed; the upload, rows
    # and per-row results are then dropped, so a sandbox that ran many large jobs stays small.
    counts: tuple[int, int] | None = None
    finished_csvs: dict[str, bytes] | None = None
    busy: bool = False  # being processed by the BackgroundWorker

    def transition(self, state: SalesforceState, new_state: str) -> dict:
        return _transition(state, self, new_state)


def _job(state: SalesforceState, job_id: str) -> IngestJob:
    job = find_job(state, job_id, "v2")
    if job is None:
        raise not_found(job_id)
    return job


# --- CSV -----------------------------------------------------------------------------------------
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


# --- processing ----------------------------------------------------------------------------------
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
        counts = key_counts(state, job.object, job.operation, job.external_id_field, records)
        step = chunk or max(1, len(records))
        for start in range(0, len(records), step):
            job.results.extend(
                apply_records(
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


def _background_steps(state: SalesforceState, job: IngestJob) -> Iterator[None]:
    """The :class:`~sandbox.salesforce.bulk_jobs.BackgroundWorker`'s steps for a closed job:
    ``InProgress``, then ``BACKGROUND_CHUNK`` records a step, unless it is aborted meanwhile."""
    if job.pinned or job.state != UPLOAD_COMPLETE:
        return
    job.state, job.busy = IN_PROGRESS, True
    job.system_modstamp = now_iso()
    try:
        for _ in _ingest_steps(state, job, chunk=BACKGROUND_CHUNK):
            yield
            if job.state != IN_PROGRESS:  # aborted meanwhile
                return
    finally:
        job.busy = False


def _poll_ingest(state: SalesforceState, job: IngestJob) -> None:
    """A status poll moves a scheduled job along ``bulk_transition``."""
    poll(job, (UPLOAD_COMPLETE, IN_PROGRESS), lambda: _process_ingest(state, job))


# --- job info ------------------------------------------------------------------------------------
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


# --- handlers ------------------------------------------------------------------------------------
class Bulk2Api:
    """The Bulk 2.0 handlers; :mod:`sandbox.salesforce.routes` maps :data:`ROUTES` to them."""

    def __init__(self, state: SalesforceState, worker: BackgroundWorker) -> None:
        self.state = state
        self.worker = worker

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
        ext = external_id_field(obj, operation, body.get("externalIdFieldName"), _job_error)
        job = IngestJob.new(call, obj, operation, ext, line_ending=line_ending, column_delimiter=delimiter)
        with LOCK:
            self.state.bulk_jobs[job.id] = job
        return JSONResponse(_job_info(job, full=False))

    def list_jobs(self, call: Call) -> Response:
        with LOCK:
            jobs = [j for j in self.state.bulk_jobs.values() if j.kind == "v2"]
            records = [_job_info(j, full=False) for j in jobs]
        return JSONResponse({"done": True, "records": records, "nextRecordsUrl": None})

    def job_status(self, call: Call) -> Response:
        with LOCK:
            job = _job(self.state, call.params["job_id"])
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
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if job.state != OPEN:
                raise state_error(f"Job {job.id} is not Open (state {job.state}); it takes no more data")
            if job.data is not None:
                raise state_error(f"Job {job.id} already has its data: Bulk 2.0 takes one upload per job")
            job.data = call.body
            job.system_modstamp = now_iso()
        return Response(status_code=201)

    def patch_job(self, call: Call) -> Response:
        body = call.json()
        target = body.get("state") if isinstance(body, dict) else None
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if target == UPLOAD_COMPLETE:
                if job.state != OPEN:
                    raise state_error(f"Job {job.id} is not Open (state {job.state})")
                job.state = UPLOAD_COMPLETE
                job.system_modstamp = now_iso()
                answer = _job_info(job, full=False)
                steps = _background_steps(self.state, job)
                schedule(self.worker, job, job, lambda: _process_ingest(self.state, job), steps)
                return JSONResponse(answer)
            if target == ABORTED:
                self._relabel("bulk2.close", "bulk2.abort")
                if job.state in TERMINAL:
                    raise state_error(f"Job {job.id} is already {job.state}")
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
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if job.state not in TERMINAL:
                raise state_error(f"Job {job.id} is {job.state}: only a finished job can be deleted")
            del self.state.bulk_jobs[job.id]
        return Response(status_code=204)

    def _results(self, call: Call, kind: str) -> Response:
        with LOCK:
            job = _job(self.state, call.params["job_id"])
            if job.state not in TERMINAL:
                raise state_error(f"Job {job.id} is {job.state}: results are available once it has finished")
            text = _results_csv(job, kind)
        return Response(text.encode("utf-8"), media_type="text/csv; charset=UTF-8")

    def successful_results(self, call: Call) -> Response:
        return self._results(call, "successful")

    def failed_results(self, call: Call) -> Response:
        return self._results(call, "failed")

    def unprocessed_records(self, call: Call) -> Response:
        return self._results(call, "unprocessed")


# --- control API ---------------------------------------------------------------------------------
def _transition(state: SalesforceState, job: IngestJob, new_state: str) -> dict:
    """Force ``new_state`` (checked by ``transition_job``, which holds :data:`LOCK`); the full job info."""
    if job.state in TERMINAL:
        raise state_error(f"Job {job.id} is already {job.state}")
    if job.busy:
        raise state_error(f"Job {job.id} is being processed; wait for it to finish")
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
