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

The hook does one thing per remote operation, as the provider's hooks do: log in, :meth:`request` (retries,
masking, the API budget), :meth:`query_records`, :meth:`query_batch` (Composite) and :meth:`delete_records`.
Upserting activities with the fewest calls (Collections or Bulk API 2.0) is the activity loader's job:
:class:`hooks.activity_loader.ActivityLoader`, which sends every call through this hook.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import requests
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
from simple_salesforce import Salesforce, api

from hooks import transport
from hooks.exceptions import (
    SalesforceApiError,
    SalesforceApiLimitExceeded,
    SalesforceAuthError,
    SalesforceBudgetExceeded,
    SalesforceTransientError,
)
from hooks.transport import (
    CONNECTION_ERRORS,
    RetryableResponse,
    exponential_backoff,
    make_session,
    mask_secrets,
    retrying,
)
from lineworks_salesforce.salesforce_model.soql import query_path

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
COLLECTION_SIZE = 200  # sObject Collections: records per call
COMPOSITE_QUERIES = 5  # Composite: query subrequests per call (the documented maximum)
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


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

    @classmethod
    def of_collections(cls, key: str, result: dict[str, Any]) -> RecordResult:
        """The outcome of one element of an sObject Collections answer (``success``, ``id``,
        ``created``, ``errors``), for upserts and deletes alike."""
        if result.get("success"):
            return cls(key, "created" if result.get("created") else "updated", id=result.get("id"))
        error = (result.get("errors") or [None])[0] or {}
        return cls(
            key,
            "rejected",
            error_code=error.get("statusCode") or error.get("errorCode"),
            message=error.get("message"),
            fields=tuple(error.get("fields") or ()),
        )


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
    """Salesforce hook with a login URL, a CA bundle, Composite queries and an API budget.

    .. code-block:: python

        hook = SalesforceActivityHook("salesforce_default")
        users, contacts = hook.query_batch(["SELECT Id FROM User", "SELECT Id FROM ExternalContact__c"])

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

    def config(self, name: str, default: Any = None) -> Any:
        """A setting from the connection's Extra (the loader's knobs too), ``default`` when unset."""
        value = self._get_field(self.extras, name)
        return default if value is None else value

    @cached_property
    def version(self) -> str:
        return str(self.config("version", api.DEFAULT_API_VERSION))

    @cached_property
    def http(self) -> requests.Session:
        """The HTTP session of every call (trusts ``ca_bundle`` when the connection names one)."""
        return self.session or make_session(self.config("ca_bundle"))

    @cached_property
    def budget(self) -> ApiBudget:
        return ApiBudget(float(self.config("api_budget_share", 0.5)))

    # --- login ---------------------------------------------------------------------------------------
    @cached_property
    def conn(self) -> api.Salesforce:
        """A simple-salesforce client: logged in here when ``login_url`` is set, else by the provider."""
        if self.config("login_url") is None:
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
        login_url = str(self.config("login_url")).rstrip("/")
        consumer_key = self.config("consumer_key") or self.config("client_id")
        private_key = self.config("private_key")
        if private_key is None and self.config("private_key_file_path"):
            private_key = Path(self.config("private_key_file_path")).read_text()
        secret = self.config("consumer_secret")
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
        mask_secrets(self._session_token)
        self.log.info(
            "Salesforce: logged in at %s (%s flow)", login_url, form["grant_type"].rsplit(":", 1)[-1]
        )

    def _relogin(self) -> None:
        self.__dict__.pop("conn", None)
        if self.config("login_url") is None:
            self.conn  # noqa: B018 - the provider's flow logs in when the client is built
        else:
            self._login()

    # --- the request path of every call this hook makes -----------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        timeout = float(self.config("timeout", 120))
        response = self.http.request(method, url, timeout=timeout, verify=self.http.verify, **kwargs)
        if response.status_code in _RETRYABLE_STATUS:
            raise RetryableResponse(response)
        return response

    def _with_retries(self, endpoint: str, send: Callable[[], requests.Response]) -> requests.Response:
        attempts = int(self.config("max_attempts", 5))
        base, cap = float(self.config("backoff_base", 1.0)), float(self.config("backoff_max", 60.0))
        loop = retrying(
            "Salesforce",
            endpoint,
            attempts=attempts,
            wait=lambda state: exponential_backoff(state.attempt_number, base, cap),
            sleep=lambda seconds: transport.pause(seconds),
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

    # --- single records --------------------------------------------------------------------------------
    def create_record(self, sobject: str, values: dict[str, Any]) -> str:
        """Create one record (``POST sobjects/{sobject}/``); returns its Id."""
        response = self.request(
            "POST",
            f"sobjects/{quote(sobject, safe='')}/",
            json=values,
            endpoint="sobject.create",
            expected=(201,),
        )
        return response.json()["id"]

    def update_record(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        """Update fields of one record (``PATCH sobjects/{sobject}/{id}``)."""
        path = f"sobjects/{quote(sobject, safe='')}/{quote(record_id, safe='')}"
        self.request("PATCH", path, json=values, endpoint="sobject.update", expected=(204,))

    def record_url(self, record_id: str) -> str:
        """The record's page in Lightning (what a rep opens from the bot's message)."""
        self.conn  # noqa: B018 - logs in on first use (the instance URL comes with the session)
        return f"{self._base_url()}/lightning/r/{quote(record_id, safe='')}/view"

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

    # --- delete ------------------------------------------------------------------------------------
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
                refused = None if result.get("success") else RecordResult.of_collections(record_id, result)
                if refused is None or refused.error_code == "ENTITY_IS_DELETED":
                    out.append(RecordResult(record_id, "deleted", id=record_id))
                else:
                    out.append(refused)
        return out


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
