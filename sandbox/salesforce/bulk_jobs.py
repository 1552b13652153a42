"""What Bulk API 2.0 (:mod:`sandbox.salesforce.bulk2`) and Bulk API v1 (:mod:`sandbox.salesforce.bulk1`)
of the Salesforce sandbox share: job states, ids, writing records, scheduling and the background worker.

Jobs of both APIs live in ``state.bulk_jobs`` (in memory, cleared by ``reset``), guarded by one
:data:`LOCK`; their ids come from one sequence. Every record goes through ``state.save_many``/
``state.delete`` (:func:`apply_records`), so validation, duplicates and ``UNABLE_TO_LOCK_ROW`` faults are
the same as for REST and sObject Collections. When a job or batch is processed is decided by
``state.config["bulk_transition"]`` (like moto's managed state transitions, see :func:`schedule`):

* ``{"mode": "background"}`` (the default): as Salesforce does it — the close answers
  ``UploadComplete`` at once and a worker thread (:class:`BackgroundWorker`) processes a Bulk 2.0 job in
  chunks of ``BACKGROUND_CHUNK`` records (a v1 batch in one step), the org serving other calls
  between; polls see ``InProgress`` until it is ``JobComplete``. Jobs are processed one after
  another, in the order they were closed.
* ``{"mode": "immediate"}``: processed right after ``UploadComplete`` (Bulk 2.0) or the batch upload
  (v1); the answer to that request still shows ``UploadComplete``/``Queued``, as Salesforce's does.
* ``{"mode": "polls", "polls": N}``: the job (batch) answers ``InProgress`` to N status polls, then is
  processed on the next poll, which answers ``JobComplete`` (``Completed``).

:func:`transition_job` forces a state from the control API (``POST /_sandbox/bulk/{jobId}/transition``);
each job class carries its API's ``transition``.

Error codes marked UNCONFIRMED below are the sandbox's best reading of Salesforce, not verified
against a live org.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Self

from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.state import SalesforceState, id_checksum, now_iso

if TYPE_CHECKING:
    from sandbox.salesforce.protocol import Call

JOB = r"(?P<job_id>[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)"

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")

OPEN, IN_PROGRESS = "Open", "InProgress"
JOB_COMPLETE, FAILED, ABORTED = "JobComplete", "Failed", "Aborted"
TERMINAL = (JOB_COMPLETE, FAILED, ABORTED)

BACKGROUND = "background"
BACKGROUND_CHUNK = 2_000  # records processed per hold of the org's request lock (mode "background")
_HAND_OVER = 0.002

_log = logging.getLogger(__name__)
LOCK = threading.RLock()  # guards state.bulk_jobs and every job/batch in it
_SEQ = itertools.count(1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(kw_only=True)
class BulkJob:
    """A job in ``state.bulk_jobs``: what a Bulk 2.0 ``IngestJob`` (kind ``v2``) and a Bulk v1
    ``AsyncJob`` (kind ``v1``) have in common."""

    kind: ClassVar[str]
    id: str
    object: str
    operation: str
    external_id_field: str | None
    api_version: str
    created_by: str | None
    created_date: str
    system_modstamp: str
    state: str = OPEN

    @classmethod
    def new(cls, call: Call, obj: Any, operation: str, ext_field: str | None, **fields: Any) -> Self:
        """A new job of ``call``'s user and API version (not stored yet) on ``obj``."""
        stamp = now_iso()
        return cls(
            id=new_id("750"),
            object=obj.name,
            operation=operation,
            external_id_field=ext_field,
            api_version=call.version,
            created_by=call.user_id,
            created_date=stamp,
            system_modstamp=stamp,
            **fields,
        )

    def transition(self, state: SalesforceState, new_state: str) -> dict:
        """Force ``new_state`` (see :func:`transition_job`); the job info."""
        raise NotImplementedError


# --- errors --------------------------------------------------------------------------------------
def state_error(message: str) -> SalesforceError:
    # UNCONFIRMED: the operation is not allowed in the job's current state. Salesforce documents
    # InvalidJobState; 409 Conflict is our reading of the HTTP status.
    return SalesforceError(message, error_code="INVALIDJOBSTATE", status=409)


def not_found(job_id: str) -> SalesforceError:
    return SalesforceError(
        f"The requested resource does not exist: job {job_id}", error_code="NOT_FOUND", status=404
    )


# --- jobs ----------------------------------------------------------------------------------------
def new_id(prefix: str) -> str:
    n, body = next(_SEQ), ""
    for _ in range(9):
        n, r = divmod(n, 62)
        body = _BASE62[r] + body
    id15 = prefix + "000" + body
    return id15 + id_checksum(id15)


def find_job(state: SalesforceState, job_id: str, kind: str) -> Any:
    """The job of API ``kind`` (``"v1"``/``"v2"``) with this 15- or 18-character id, or None."""
    job = state.bulk_jobs.get(job_id)
    if job is None and len(job_id) == 15:
        job = state.bulk_jobs.get(job_id + id_checksum(job_id))
    return job if job is not None and job.kind == kind else None


def external_id_field(
    obj: Any, operation: str, name: Any, error: Callable[[str], SalesforceError]
) -> str | None:
    """The ``externalIdFieldName`` of a new job (upserts only); ``error`` builds the API's refusal."""
    if operation != "upsert":
        return None
    if not name:
        raise error(f"External ID was blank for {obj.name}. An External ID must be specified for upsert.")
    fdef = obj.field(str(name))
    if fdef is None or not (fdef.external_id or fdef.name == "Id"):
        raise error(f"Field name provided, {name} is not an External ID or indexed field for {obj.name}")
    return fdef.name


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


def poll(item: Any, waiting: tuple[str, ...], process: Callable[[], None]) -> None:
    """A status poll moves a scheduled job (v1: batch) in a ``waiting`` state along ``bulk_transition``:
    ``InProgress`` for the configured number of polls, then ``process`` runs."""
    if item.state not in waiting or item.pinned or item.polls_left is None:
        return
    if item.polls_left > 0:
        item.polls_left -= 1
        item.state = IN_PROGRESS
        item.system_modstamp = now_iso()
    else:
        process()


def schedule(
    worker: BackgroundWorker, job: BulkJob, item: Any, process: Callable[[], None], steps: Iterator[None]
) -> None:
    """Schedule a closed job (v1: a new batch of ``job``) ``item`` as ``bulk_transition`` says: the
    worker runs its ``steps`` (``background``), ``process`` runs now (``immediate``) or status polls
    move it along (``polls``)."""
    when = _transition_config(worker.state)
    if when == BACKGROUND:
        worker.submit(job, steps)
    elif when is None:  # immediate: processed right after this answer
        process()
    else:
        item.polls_left = when


# --- record processing ---------------------------------------------------------------------------
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


def key_counts(
    state: SalesforceState, sobject: str, operation: str, ext_field: str | None, records: list[Any]
):
    """How often each external ID occurs in a whole job/batch (an upsert refuses every repeat)."""
    obj = state.object(sobject)
    fdef = obj.field(ext_field) if operation == "upsert" and ext_field else None
    if fdef is None:
        return Counter()
    keys = (_get_ci(r, fdef.name) if isinstance(r, dict) else None for r in records)
    return Counter(_norm_key(fdef, k) for k in keys if k not in (None, ""))


def apply_records(
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
            counts = key_counts(state, sobject, operation, ext_field, records)
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


# --- background processing -----------------------------------------------------------------------
class BackgroundWorker:
    """Processes closed jobs and new v1 batches one after another in a thread (mode ``background``),
    as Salesforce does: the close answers at once and status polls see ``InProgress`` until the job is
    done. What to do is submitted per job (v1: per batch) as ``steps``, a generator that processes
    ``BACKGROUND_CHUNK`` records per step: each step runs under the org's request lock and :data:`LOCK`,
    so API calls (polls, queries, other jobs' uploads) are served in between."""

    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self._queue: queue.SimpleQueue[tuple[BulkJob, Iterator[None]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: BulkJob, steps: Iterator[None]) -> None:
        """Queue ``steps`` (not started yet) of ``job``; they are dropped if a reset removes the job."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bulk-worker", daemon=True)
                self._thread.start()
        self._queue.put((job, steps))

    def _run(self) -> None:
        while True:
            job, steps = self._queue.get()
            try:
                self._process(job, steps)
            except Exception:  # noqa: BLE001 - a broken job must not stop the worker
                _log.exception("sandbox: background processing of bulk job %s failed", job.id)
                with LOCK:
                    if job.state not in TERMINAL:
                        job.state, job.error_message = (
                            FAILED,
                            "InternalServerError : sandbox processing failed",
                        )

    def _process(self, job: BulkJob, steps: Iterator[None]) -> None:
        while True:
            with self.state.request_lock, LOCK:
                if self.state.bulk_jobs.get(job.id) is not job:  # dropped by a reset
                    steps.close()
                    return
                if next(steps, StopIteration) is StopIteration:
                    return
            time.sleep(_HAND_OVER)  # a lock is not fair: let a waiting request take it before the next step


# --- control API ---------------------------------------------------------------------------------
def transition_job(state: SalesforceState, job_id: str, new_state: str) -> dict:
    """Force a job to ``JobComplete`` (processing its data first), ``Failed``, ``InProgress`` or
    ``Aborted``; returns the job info. A v1 job's batches follow (``JobComplete`` closes the job)."""
    if new_state not in (JOB_COMPLETE, FAILED, IN_PROGRESS, ABORTED):
        raise SalesforceError(
            f"unknown target state {new_state!r}: use JobComplete, Failed, InProgress or Aborted",
            error_code="INVALIDJOBSTATE",
        )
    with LOCK:
        job: BulkJob | None = state.bulk_jobs.get(job_id)
        if job is None:
            raise not_found(job_id)
        return job.transition(state, new_state)
