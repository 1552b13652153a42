"""Salesforce hook for lineworks-salesforce: the provider's ``SalesforceHook`` plus what the pipeline needs.

Users keep the ``salesforce`` connection type and its form. Added, all optional, in the connection's
Extra:

* ``login_url`` — the org's login endpoint (``https://login.salesforce.com``, ``https://test.salesforce.com``,
  a My Domain URL, or the local sandbox). With it, the hook logs in itself at
  ``<login_url>/services/oauth2/token`` with the **JWT bearer** flow (``consumer_key`` + ``private_key`` or
  ``private_key_file_path`` + the connection's login as the user) or **client credentials**
  (``consumer_key`` + ``consumer_secret``). Without it, the provider's own login flows run unchanged.
* ``ca_bundle`` — a CA file to trust (a private CA or the sandbox), kept even when
  ``REQUESTS_CA_BUNDLE`` is set.
* loader knobs: ``bulk_threshold`` (2,000), ``bulk_max_upload_bytes`` (100,000,000),
  ``bulk_jobs_in_flight`` (2), ``api_budget_share`` (0.5), ``max_attempts`` (5), ``backoff_base`` (1 s),
  ``backoff_max`` (60 s), ``max_resubmits`` (3), ``bulk_first_poll`` (0.5 s), ``bulk_poll_interval``
  (2 s, the longest wait between two status polls), ``bulk_timeout`` (3,600 s).

The activity loader :meth:`SalesforceActivityHook.upsert_activities` upserts by external ID with the fewest
API calls: sObject Collections (200 records per call) below ``bulk_threshold``, one Bulk API 2.0 job above it
(one more for every ``bulk_max_upload_bytes`` of CSV: Salesforce caps an upload at 150 MB, simple-salesforce
at 100 MB).
"""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import requests
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
from simple_salesforce import Salesforce, api

from hooks.exceptions import (
    SalesforceApiError,
    SalesforceApiLimitExceeded,
    SalesforceAuthError,
    SalesforceBudgetExceeded,
    SalesforceTransientError,
)
from hooks.retries import CONNECTION_ERRORS, RetryableResponse, exponential_backoff, retrying
from hooks.tls import make_session
from lineworks_salesforce.salesforce_model.soql import query_path

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
COLLECTION_SIZE = 200  # sObject Collections: records per call
COMPOSITE_QUERIES = 5  # Composite: query subrequests per call (the documented maximum)
DEFAULT_BULK_THRESHOLD = 2_000  # Salesforce recommends Bulk 2.0 above ~2,000 records
DEFAULT_BULK_MAX_UPLOAD_BYTES = 100_000_000  # per job; Salesforce takes 150 MB, simple-salesforce 100
DEFAULT_BULK_JOBS_IN_FLIGHT = 2  # upsert_activity_batches: batches sent ahead of the one being reported
# Per-record statusCodes that mean "try again", not "this record is wrong" (as the provider's bulk operator).
TRANSIENT_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "API_TEMPORARILY_UNAVAILABLE"})
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})

_sleep = time.sleep  # indirection so tests can observe waits


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one input record, keyed by its external ID."""

    key: str
    status: str  # "created" | "updated" | "rejected" (upserts); "deleted" | "rejected" (deletes)
    id: str | None = None
    error_code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


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


class ApiBudget:
    """Stops a run before it uses more than ``share`` of the org's daily calls remaining when it started.

    The org's usage comes from the ``Sforce-Limit-Info: api-usage=used/total`` header of every answer, so
    the budget is known from the first call on and costs no call of its own.
    """

    def __init__(self, share: float) -> None:
        if not 0 < share <= 1:
            raise ValueError("api_budget_share must be in (0, 1]")
        self.share = share
        self.remaining_at_start: int | None = None
        self.allowance: int | None = None
        self.spent = 0

    def observe(self, header: str | None) -> None:
        if not header or "api-usage=" not in header or self.allowance is not None:
            return
        used, _, total = header.split("api-usage=", 1)[1].split(",", 1)[0].partition("/")
        # the answer carrying the header already counts the calls this run has made
        self.remaining_at_start = max(0, int(total) - int(used) + self.spent)
        self.allowance = int(self.share * self.remaining_at_start)

    def check(self, planned: int, what: str) -> None:
        """Raise, sending nothing, when ``planned`` more calls would exceed the allowance."""
        if self.allowance is not None and self.spent + planned > self.allowance:
            raise SalesforceBudgetExceeded(
                None,
                "API_BUDGET_EXCEEDED",
                f"{what} needs {planned} more API call(s) but this run may use only {self.allowance} "
                f"({self.share:.0%} of the {self.remaining_at_start} calls the org had left); "
                f"{self.spent} used so far. Nothing more is sent; re-run later (upserts are idempotent) "
                "or raise api_budget_share",
            )

    def reserve(self, calls: int, what: str) -> None:
        """Count ``calls`` about to be made, or raise instead of making them."""
        self.check(calls, what)
        self.spent += calls


class SalesforceActivityHook(SalesforceHook):
    """Salesforce hook with a login URL, a CA bundle and the activity loader.

    .. code-block:: python

        hook = SalesforceActivityHook("salesforce_default")
        report = hook.upsert_activities(records, key_field="ActivityKey__c")
        print(report.summary())

    :param salesforce_conn_id: a ``salesforce`` connection.
    """

    hook_name = "Salesforce (lineworks-salesforce)"

    def __init__(self, salesforce_conn_id: str = SalesforceHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(salesforce_conn_id=salesforce_conn_id, **kwargs)
        self._session_token: str | None = None
        self._instance_url: str | None = None

    # --- configuration -----------------------------------------------------------------------------
    @cached_property
    def extras(self) -> dict[str, Any]:
        connection = self.get_connection(self.conn_id)
        self._login_name = connection.login
        return {k: (None if v == "" else v) for k, v in connection.extra_dejson.items()}

    def _extra(self, name: str, default: Any = None) -> Any:
        value = self._get_field(self.extras, name)
        return default if value is None else value

    @cached_property
    def version(self) -> str:
        return str(self._extra("version", api.DEFAULT_API_VERSION))

    @cached_property
    def http(self) -> requests.Session:
        """The HTTP session of every call (trusts ``ca_bundle`` when the connection names one)."""
        return self.session or make_session(self._extra("ca_bundle"))

    @cached_property
    def budget(self) -> ApiBudget:
        return ApiBudget(float(self._extra("api_budget_share", 0.5)))

    # --- login ---------------------------------------------------------------------------------------
    @cached_property
    def conn(self) -> api.Salesforce:
        """A simple-salesforce client: logged in here when ``login_url`` is set, else by the provider."""
        if self._extra("login_url") is None:
            self.session = self.http
            return SalesforceHook.conn.func(self)
        self._login()
        return Salesforce(
            session_id=self._session_token,
            instance_url=self._instance_url,
            session=self.http,
            version=self.version,
        )

    def _login(self) -> None:
        login_url = str(self._extra("login_url")).rstrip("/")
        consumer_key = self._extra("consumer_key") or self._extra("client_id")
        private_key = self._extra("private_key")
        if private_key is None and self._extra("private_key_file_path"):
            private_key = Path(self._extra("private_key_file_path")).read_text()
        secret = self._extra("consumer_secret")
        if consumer_key and private_key and self._login_name:
            now = int(time.time())
            assertion = jwt.encode(
                {"iss": consumer_key, "sub": self._login_name, "aud": login_url, "exp": now + 180},
                private_key,
                algorithm="RS256",
            )
            form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        elif consumer_key and secret:
            form = {"grant_type": "client_credentials", "client_id": consumer_key, "client_secret": secret}
        else:
            raise SalesforceAuthError(
                None,
                "MISSING_CREDENTIALS",
                f"connection {self.conn_id!r} with login_url "
                "needs consumer_key + private_key + login (JWT bearer) or consumer_key + "
                "consumer_secret (client credentials)",
            )
        response = self._with_retries(
            "oauth.token", lambda: self._send("POST", f"{login_url}/services/oauth2/token", data=form)
        )
        if response.status_code != 200:
            body = _json(response) or {}
            raise SalesforceAuthError(
                response.status_code,
                str(body.get("error", "LOGIN_FAILED")),
                str(body.get("error_description", response.reason)),
                endpoint="oauth.token",
            )
        body = response.json()
        self._session_token, self._instance_url = body["access_token"], body["instance_url"].rstrip("/")
        self._mask(self._session_token)
        self.log.info(
            "Salesforce: logged in at %s (%s flow)", login_url, form["grant_type"].rsplit(":", 1)[-1]
        )

    def _relogin(self) -> None:
        self.__dict__.pop("conn", None)
        if self._extra("login_url") is None:
            self.conn  # noqa: B018 - the provider's flow logs in when the client is built
        else:
            self._login()

    def _mask(self, value: str) -> None:
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:  # pragma: no cover
            return
        mask_secret(value)

    # --- the request path of every call this hook makes -----------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        timeout = float(self._extra("timeout", 120))
        response = self.http.request(method, url, timeout=timeout, verify=self.http.verify, **kwargs)
        if response.status_code in _RETRYABLE_STATUS:
            raise RetryableResponse(response)
        return response

    def _with_retries(self, endpoint: str, send: Callable[[], requests.Response]) -> requests.Response:
        attempts = int(self._extra("max_attempts", 5))
        base, cap = float(self._extra("backoff_base", 1.0)), float(self._extra("backoff_max", 60.0))
        loop = retrying(
            "Salesforce",
            endpoint,
            attempts=attempts,
            wait=lambda state: exponential_backoff(state.attempt_number, base, cap),
            sleep=lambda seconds: _sleep(seconds),
            log=self.log,
        )
        try:
            return loop(send)
        except RetryableResponse as exc:
            raise _error(exc.response, endpoint, SalesforceTransientError) from None
        except CONNECTION_ERRORS as exc:
            raise SalesforceTransientError(
                None, "CONNECTION_ERROR", f"{type(exc).__name__} after {attempts} attempts", endpoint=endpoint
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        expected: tuple[int, ...] = (200,),
        reserve: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One data API call (``path`` relative to ``/services/data/vXX.X/``, or absolute ``/services/...``).

        Retries 5xx and connection resets, re-logs in once on 401 ``INVALID_SESSION_ID``, turns 403
        ``REQUEST_LIMIT_EXCEEDED`` into :class:`SalesforceApiLimitExceeded`, counts the call against the
        run's API budget and reads the org's usage from ``Sforce-Limit-Info``.
        """
        self.conn  # noqa: B018 - logs in on first use
        if reserve:
            self.budget.reserve(1, endpoint)
        relative = path if path.startswith("/") else f"/services/data/v{self.version}/{path}"

        def send() -> requests.Response:
            headers = {"Authorization": f"Bearer {self._token()}", **kwargs.pop("headers", {})}
            return self._send(method, self._base_url() + relative, headers=headers, **kwargs)

        response = self._with_retries(endpoint, send)
        if response.status_code == 401:
            self.log.info("Salesforce %s: session expired, logging in again once", endpoint)
            self._relogin()
            response = self._with_retries(endpoint, send)
        self.budget.observe(response.headers.get("Sforce-Limit-Info"))
        if response.status_code in expected:
            return response
        error = _error(response, endpoint, SalesforceApiError)
        if error.error_code == "REQUEST_LIMIT_EXCEEDED":
            raise SalesforceApiLimitExceeded(
                403,
                error.error_code,
                "the org's daily API request limit is "
                f"exhausted ({error.message}); Salesforce answers every call with "
                "403 until its rolling 24-hour usage drops",
                endpoint=endpoint,
            )
        raise error

    def _token(self) -> str:
        return self._session_token or self.conn.session_id

    def _base_url(self) -> str:
        return self._instance_url or f"https://{self.conn.sf_instance}"

    # --- queries -------------------------------------------------------------------------------------
    def query_records(self, soql_text: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Yield every record of a SOQL query, following ``nextRecordsUrl``.

        Build ``soql_text`` with :func:`lineworks_salesforce.salesforce_model.soql.soql` so user values are
        escaped.
        """
        path = query_path(soql_text, include_deleted=include_deleted)
        while path:
            body = self.request("GET", path, endpoint="query").json()
            yield from body.get("records", [])
            path = body.get("nextRecordsUrl") if not body.get("done", True) else None

    def query_batch(
        self, queries: Sequence[str], *, include_deleted: bool = False
    ) -> list[list[dict[str, Any]]]:
        """The records of each SOQL query, in order, with up to 5 queries per API call (Composite).

        Each call is one ``POST /composite`` holding up to ``COMPOSITE_QUERIES`` Query subrequests (the
        documented maximum of query operations per Composite request); the whole request counts as one
        call toward the org's API limits. A query's further pages (``nextRecordsUrl``) are fetched as
        Query More subrequests of the following calls (a page's locator comes with the page before it).
        Keep each query's URL-encoded text under 16,384 bytes: the documented limit of a REST call's URI;
        whether a subrequest's url has the same limit is UNCONFIRMED, and the sandbox applies it
        (:func:`lineworks_salesforce.salesforce_model.soql.soql_in_chunks` cuts an IN list so that it holds).
        Answers are matched to queries by their ``referenceId``.

        :raises SalesforceApiError: a subrequest failed (its status and ``errorCode``; e.g.
            ``MALFORMED_QUERY``), or the Composite request itself did; :class:`SalesforceTransientError`
            (retryable) when the subrequest's status is 5xx.
        """
        results: list[list[dict[str, Any]]] = [[] for _ in queries]
        pending = deque(
            (i, f"/services/data/v{self.version}/{query_path(q, include_deleted=include_deleted)}")
            for i, q in enumerate(queries)
        )
        while pending:
            sent = [pending.popleft() for _ in range(min(COMPOSITE_QUERIES, len(pending)))]
            body = {
                "allOrNone": False,
                "compositeRequest": [
                    {"method": "GET", "url": url, "referenceId": f"q{i}"} for i, url in sent
                ],
            }
            answered = self.request("POST", "composite", json=body, endpoint="composite").json()
            answers = answered.get("compositeResponse") or []
            by_reference = {a.get("referenceId"): a for a in answers if isinstance(a, dict)}
            for i, _ in sent:
                answer = by_reference.get(f"q{i}")
                if answer is None:
                    raise SalesforceApiError(
                        200, "MISSING_ANSWER", f"no answer for subrequest q{i}", endpoint="composite"
                    )
                page = answer.get("body")
                status = answer.get("httpStatusCode")
                if status != 200 or not isinstance(page, dict):
                    # a 5xx inside the answer is as transient as a 5xx answer: Airflow retries the task
                    kind = (
                        SalesforceTransientError
                        if isinstance(status, int) and status >= 500
                        else SalesforceApiError
                    )
                    raise _error_of(status, page, "composite subrequest failed", "composite.query", kind)
                results[i].extend(page.get("records", []))
                if not page.get("done", True):
                    pending.append((i, page["nextRecordsUrl"]))
        return results

    # --- the activity loader ---------------------------------------------------------------------------
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
        ahead = max(1, int(self._extra("bulk_jobs_in_flight", DEFAULT_BULK_JOBS_IN_FLIGHT)))
        sent: deque[_Upsert] = deque()
        for records in batches:
            sent.append(self._send_batch(records, key_field, sobject))
            if len(sent) >= ahead:
                yield self._finish_batch(sent.popleft())
        while sent:
            yield self._finish_batch(sent.popleft())

    def delete_records(self, ids: list[str]) -> list[RecordResult]:
        """Delete records by Id with sObject Collections (⌈n/200⌉ calls, ``allOrNone`` false).

        One result per id, keyed by the id: ``deleted``, or ``rejected`` with Salesforce's code (e.g.
        ``INSUFFICIENT_ACCESS_OR_READONLY``). A record already deleted (``ENTITY_IS_DELETED``) counts as
        deleted, so deleting again after a retry is harmless.
        """
        out: list[RecordResult] = []
        for start in range(0, len(ids), COLLECTION_SIZE):
            self.budget.check(-(-(len(ids) - start) // COLLECTION_SIZE), "the rest of this delete")
            chunk = ids[start : start + COLLECTION_SIZE]
            path = f"composite/sobjects?ids={quote(','.join(chunk), safe=',')}&allOrNone=false"
            results = self.request("DELETE", path, endpoint="collections.delete").json()
            for record_id, result in zip(chunk, results, strict=True):
                error = _first_error(result)
                refused = None if result.get("success") else _result(record_id, False, None, None, error)
                if refused is None or refused.error_code == "ENTITY_IS_DELETED":
                    out.append(RecordResult(record_id, "deleted", id=record_id))
                else:
                    out.append(refused)
        return out

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
        threshold = int(self._extra("bulk_threshold", DEFAULT_BULK_THRESHOLD))
        item = _Upsert(
            records,
            keys,
            key_field,
            sobject,
            UpsertReport({}, "bulk2" if len(records) >= threshold else "collections"),
        )
        spent = self.budget.spent
        if item.report.mode == "bulk2":
            item.jobs = self._open_bulk2_jobs(records, key_field, sobject, item.report)
        else:
            item.results = self._upsert_collections(records, key_field, sobject)
        item.report.api_calls += self.budget.spent - spent
        return item

    def _finish_batch(self, item: _Upsert) -> UpsertReport:
        report = item.report
        if report.mode == "empty":
            return report
        spent = self.budget.spent
        results = item.results
        if item.jobs:
            results = self._bulk2_results(item.jobs, item.key_field, report)
        by_key = dict(zip(item.keys, item.records))
        threshold = int(self._extra("bulk_threshold", DEFAULT_BULK_THRESHOLD))
        max_resubmits = int(self._extra("max_resubmits", 3))
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
            self.log.info("Salesforce: re-submitting %d record(s) that failed transiently", len(pending))
            _sleep(min(float(self._extra("backoff_base", 1.0)) * 2**attempt, 30.0))
            batch = list(pending.values())
            if report.mode == "bulk2" and len(batch) >= threshold:
                jobs = self._open_bulk2_jobs(batch, item.key_field, item.sobject, report)
                results = self._bulk2_results(jobs, item.key_field, report)
            else:
                results = self._upsert_collections(batch, item.key_field, item.sobject)
        report.results = {k: report.results[k] for k in item.keys}  # input order
        report.api_calls += self.budget.spent - spent
        self.log.info(
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
            self.budget.check(-(-(len(records) - start) // COLLECTION_SIZE), "the rest of this upsert")
            chunk = records[start : start + COLLECTION_SIZE]
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **_json_values(r)} for r in chunk],
            }
            results = self.request(
                "PATCH", f"composite/sobjects/{sobject}/{key_field}", json=body, endpoint="collections.upsert"
            ).json()
            for record, result in zip(chunk, results):
                out.append(
                    _result(
                        str(record[key_field]),
                        result.get("success"),
                        result.get("id"),
                        result.get("created"),
                        _first_error(result),
                    )
                )
        return out

    def _open_bulk2_jobs(
        self, records: list[dict[str, Any]], key_field: str, sobject: str, report: UpsertReport
    ) -> list[tuple[list[dict[str, Any]], _Job]]:
        """Create, upload and close a job per ``bulk_max_upload_bytes`` of CSV; Salesforce processes them."""
        max_bytes = int(self._extra("bulk_max_upload_bytes", DEFAULT_BULK_MAX_UPLOAD_BYTES))
        jobs = []
        for part, data in _csv_uploads(records, max_bytes):
            # create, upload, close, a poll, results: the least a job costs
            self.budget.check(5, "a Bulk API 2.0 job")
            job = self.request(
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
            self.request(
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                endpoint="bulk2.upload",
                expected=(201,),
                data=data,
                headers={"Content-Type": "text/csv"},
            )
            self.request(
                "PATCH", f"jobs/ingest/{job_id}", endpoint="bulk2.close", json={"state": "UploadComplete"}
            )
            jobs.append((part, _Job(job_id, time.monotonic())))
        return jobs

    def _wait_for_job(self, job: _Job, report: UpsertReport) -> dict[str, Any]:
        """Poll until the job ends: the first poll ``bulk_first_poll`` (0.5 s) after the close, then
        waits doubling up to ``bulk_poll_interval`` (2 s)."""
        longest = float(self._extra("bulk_poll_interval", 2.0))
        wait = min(longest, float(self._extra("bulk_first_poll", 0.5)))
        pause = max(0.0, wait - (time.monotonic() - job.closed_at))  # sent ahead: it may be done already
        deadline = job.closed_at + float(self._extra("bulk_timeout", 3600))
        while True:
            if pause:
                _sleep(pause)
                report.bulk_poll_wait_seconds += pause
            status = self.request("GET", f"jobs/ingest/{job.id}", endpoint="bulk2.status").json()
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
            ok_csv = self.request(
                "GET", f"jobs/ingest/{job.id}/successfulResults/", endpoint="bulk2.successful_results"
            ).text
            for row in csv.DictReader(io.StringIO(ok_csv)):
                out[row[key_field]] = RecordResult(
                    row[key_field], "created" if row["sf__Created"] == "true" else "updated", id=row["sf__Id"]
                )
        if status.get("numberRecordsFailed", 0):
            failed_csv = self.request(
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
    """One batch sent by :meth:`SalesforceActivityHook.upsert_activity_batches`, not yet reported."""

    records: list[dict[str, Any]]
    keys: list[str]
    key_field: str
    sobject: str
    report: UpsertReport
    jobs: list[tuple[list[dict[str, Any]], _Job]] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)  # collections: already known


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(response: requests.Response, endpoint: str, kind: type[SalesforceApiError]) -> SalesforceApiError:
    return _error_of(response.status_code, _json(response), response.reason, endpoint, kind)


def _error_of(
    status: int | None,
    body: Any,
    fallback: str,
    endpoint: str,
    kind: type[SalesforceApiError] = SalesforceApiError,
) -> SalesforceApiError:
    """The error of a REST answer's body ``[{"errorCode", "message"}]`` (a call's, or a subrequest's)."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    return kind(
        status,
        str(first.get("errorCode", "HTTP_ERROR")),
        str(first.get("message", fallback)),
        endpoint=endpoint,
    )


def _result(
    key: str, success: bool | None, record_id: str | None, created: bool | None, error: dict | None
) -> RecordResult:
    if success:
        return RecordResult(key, "created" if created else "updated", id=record_id)
    error = error or {}
    return RecordResult(
        key,
        "rejected",
        error_code=error.get("statusCode") or error.get("errorCode"),
        message=error.get("message"),
        fields=tuple(error.get("fields") or ()),
    )


def _first_error(result: dict[str, Any]) -> dict | None:
    """The first of a Collections result's ``errors``, if any."""
    return (result.get("errors") or [None])[0]


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
