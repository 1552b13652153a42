"""The Salesforce REST wire protocol: parse a request, call the state, shape the answer (no rules here)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from sandbox.common.jsonbody import parse_json, read_body
from sandbox.common.server import reset_connection
from sandbox.salesforce import limits
from sandbox.salesforce.errors import (
    InvalidSession,
    JsonParserError,
    NotImplementedBySandbox,
    OAuthError,
    RecordError,
    RequestLimitExceeded,
    SalesforceError,
    ServerUnavailable,
)
from sandbox.salesforce.state import API_VERSIONS, COLLECTION_MAX, SalesforceState

Handler = Callable[..., Awaitable[Response]]


class _Reset(Exception):
    """The fault plan asked for a connection reset."""


def error_response(exc: SalesforceError | OAuthError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The single place where errors become HTTP answers."""
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers or {})


def _form_error(message: str) -> OAuthError:
    return OAuthError("invalid_request", message)


class Call:
    """What a handler gets: the request, the parsed path parameters, the running user, the state."""

    def __init__(self, request: Request, params: dict[str, str], user_id: str | None, body: bytes) -> None:
        self.request, self.params, self.user_id, self._body = request, params, user_id, body

    @property
    def version(self) -> str:
        return self.params.get("version", API_VERSIONS[-1])

    def json(self) -> Any:
        """The JSON body (``None`` when empty), within the caps of :mod:`sandbox.common.jsonbody`."""
        if not self._body:
            return None
        return parse_json(self._body, JsonParserError, max_bytes=limits.REST_JSON_MAX_BYTES)

    @property
    def body(self) -> bytes:
        return self._body


class SalesforceProtocol:
    """Handlers of the REST surface; :mod:`sandbox.salesforce.routes` maps URLs to them."""

    def __init__(self, state: SalesforceState) -> None:
        self.state = state

    # --- the pipeline every data API call goes through -------------------------------------------
    async def data_call(
        self,
        request: Request,
        endpoint: str,
        handler: Callable[[Call], Response],
        params: dict[str, str],
        *,
        session_header: str = "authorization",
    ) -> Response:
        """Faults, session check, API-call counting, then the handler.

        The work runs in a worker thread holding the org's request lock: requests are served one at a
        time, as a consistent view of the org needs, and a long one (a big Bulk job being processed)
        never blocks the event loop, so other connections are still accepted.
        """
        body = await request.body()
        headers: dict[str, str] = {}

        def work() -> Response:
            with self.state.request_lock:
                return self._data_call(request, endpoint, handler, params, session_header, body, headers)

        try:
            return await asyncio.to_thread(work)
        except _Reset:
            return await _reset(request)
        except RecordError as exc:
            return error_response(exc.as_request_error(), headers)
        except (SalesforceError, OAuthError) as exc:
            return error_response(exc, headers)

    def _data_call(
        self,
        request: Request,
        endpoint: str,
        handler: Callable[[Call], Response],
        params: dict[str, str],
        session_header: str,
        body: bytes,
        headers: dict[str, str],
    ) -> Response:
        state = self.state
        version = params.get("version")
        if version is not None:
            _check_version(version)
        self._inject(endpoint)
        auth = request.headers.get(session_header)
        if session_header != "authorization" and auth:
            auth = "Bearer " + auth
        user_id = state.authenticate(auth)
        if state.faults.take(endpoint, frozenset({"expire_session"})):
            state.expire_session(auth)
            raise InvalidSession()
        state.count_api_call(endpoint)
        used, total = state.api_usage()
        headers["Sforce-Limit-Info"] = f"api-usage={used}/{total}"
        response = handler(Call(request, params, user_id, body))
        response.headers.update(headers)
        return response

    def _inject(self, endpoint: str) -> None:
        fault = self.state.faults.take(endpoint, frozenset({"500", "503", "reset", "request_limit"}))
        if fault is None:
            return
        self.state.calls[endpoint + "!fault"] += 1
        if fault == "reset":
            raise _Reset()
        if fault == "503":
            raise ServerUnavailable("Server temporarily unavailable (injected fault)")
        if fault == "500":
            raise SalesforceError(
                "An unexpected error occurred (injected fault)", error_code="UNKNOWN_EXCEPTION", status=500
            )
        raise RequestLimitExceeded()

    # --- OAuth ----------------------------------------------------------------------------------
    async def token(self, request: Request, params: dict[str, str]) -> Response:
        try:
            self._inject("oauth.token")
            raw = await read_body(
                request, _form_error, max_bytes=limits.TOKEN_FORM_MAX_BYTES, what="the form body"
            )
            form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
            base = f"https://{urlsplit(str(request.url)).netloc}"

            def work() -> dict:
                with self.state.request_lock:
                    return self.state.issue_token(form, instance_url=base, login_url=base)

            return JSONResponse(await asyncio.to_thread(work))
        except _Reset:
            return await _reset(request)
        except (SalesforceError, OAuthError) as exc:
            return error_response(exc)

    # --- discovery ------------------------------------------------------------------------------
    async def versions(self, request: Request, params: dict[str, str]) -> Response:
        return JSONResponse(
            [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]
        )

    def resources(self, call: Call) -> Response:
        base = f"/services/data/v{call.version}"
        return JSONResponse(
            {
                name: f"{base}/{name}"
                for name in ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
            }
        )

    def limits(self, call: Call) -> Response:
        used, total = self.state.api_usage()
        return JSONResponse(
            {
                "DailyApiRequests": {"Max": total, "Remaining": max(0, total - used)},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            }
        )

    def describe_global(self, call: Call) -> Response:
        objs = [
            {
                "name": o.name,
                "label": o.label,
                "keyPrefix": o.key_prefix,
                "custom": o.custom,
                "queryable": True,
                "createable": True,
                "updateable": True,
                "urls": {"sobject": f"/services/data/v{call.version}/sobjects/{o.name}"},
            }
            for o in self.state.schema.objects.values()
        ]
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": COLLECTION_MAX, "sobjects": objs})

    def describe(self, call: Call) -> Response:
        return JSONResponse(self.state.object(call.params["sobject"]).describe())

    def sobject_info(self, call: Call) -> Response:
        obj = self.state.object(call.params["sobject"])
        recent = [
            {"attributes": {"type": obj.name}, "Id": r["Id"]} for r in list(self.state.records(obj.name))[-5:]
        ]
        return JSONResponse(
            {
                "objectDescribe": {
                    "name": obj.name,
                    "label": obj.label,
                    "keyPrefix": obj.key_prefix,
                    "custom": obj.custom,
                },
                "recentItems": recent,
            }
        )

    # --- query ----------------------------------------------------------------------------------
    def query(self, call: Call, include_deleted: bool = False) -> Response:
        text = call.request.query_params.get("q")
        if not text:
            raise SalesforceError("A query string has to be specified", error_code="MALFORMED_QUERY")
        return JSONResponse(self.state.query(text, call.version, include_deleted=include_deleted))

    def query_all(self, call: Call) -> Response:
        return self.query(call, include_deleted=True)

    def query_more(self, call: Call) -> Response:
        return JSONResponse(self.state.query_more(call.params["locator"], call.version))

    # --- composite ------------------------------------------------------------------------------
    def composite(self, call: Call) -> Response:
        """``POST /composite``: up to 25 subrequests in one API call, answered in order.

        The sandbox runs Query, QueryAll and Query More subrequests (at most 5 per call, as documented);
        any other subrequest is answered 501 ``NOT_IMPLEMENTED`` inside the response. ``@{ref}``
        references are not supported. With ``allOrNone`` true, the subrequests after a failed one are
        answered ``PROCESSING_HALTED``.
        """
        body = call.json()
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if (
            not isinstance(subrequests, list)
            or not subrequests
            or not all(isinstance(s, dict) for s in subrequests)
        ):
            raise JsonParserError('the body must be {"allOrNone": ..., "compositeRequest": [{...}, ...]}')
        if len(subrequests) > limits.COMPOSITE_MAX_SUBREQUESTS:
            raise SalesforceError(
                f"the composite request has {len(subrequests)} subrequests; "
                f"the limit is {limits.COMPOSITE_MAX_SUBREQUESTS}",
                error_code="LIMIT_EXCEEDED",
            )
        queries = sum(bool(_SUBQUERY.match(_url_path(s.get("url")))) for s in subrequests)
        if queries > limits.COMPOSITE_MAX_QUERIES:
            raise SalesforceError(
                f"the composite request has {queries} query subrequests; "
                f"the limit is {limits.COMPOSITE_MAX_QUERIES}",
                error_code="LIMIT_EXCEEDED",
            )
        references = [s.get("referenceId") for s in subrequests]
        if not all(isinstance(r, str) and r for r in references) or len(set(references)) != len(references):
            raise JsonParserError("every subrequest needs a referenceId, unique within the request")
        halt = body.get("allOrNone", False)
        if not isinstance(halt, bool):
            raise JsonParserError("allOrNone must be true or false")
        answers: list[dict[str, Any]] = []
        failed = False
        for sub, reference in zip(subrequests, references, strict=True):
            if failed and halt:
                error = SalesforceError(
                    "The transaction was rolled back since another operation in the same transaction failed.",
                    error_code="PROCESSING_HALTED",
                )
                status, payload = error.status, error.body()
            else:
                try:
                    status, payload = 200, self._subquery(str(sub.get("method", "")), str(sub.get("url", "")))
                except SalesforceError as exc:
                    status, payload = exc.status, exc.body()
            failed = failed or status >= 300
            answers.append(
                {"body": payload, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}
            )
        return JSONResponse({"compositeResponse": answers})

    def _subquery(self, method: str, url: str) -> dict[str, Any]:
        if len(url.encode("utf-8")) > limits.REST_MAX_URI_BYTES:
            raise SalesforceError(
                f"the subrequest url is {len(url.encode('utf-8')):,} bytes; the sandbox allows "
                f"{limits.REST_MAX_URI_BYTES:,} (UNCONFIRMED: the documented limit of a whole REST call)",
                error_code="URI_TOO_LONG",
                status=414,
            )
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. "http://[": not a URL at all, so no resource
            raise SalesforceError(
                "The requested resource does not exist", error_code="NOT_FOUND", status=404
            ) from None
        match = _SUBQUERY.match(parts.path)
        if method.upper() != "GET" or match is None:
            raise NotImplementedBySandbox(
                f"the Salesforce sandbox runs only query subrequests in a composite request, not {method} "
                f"{parts.path}"
            )
        version = _check_version(match["version"])
        if match["locator"]:
            return self.state.query_more(match["locator"], version)
        text = dict(parse_qsl(parts.query)).get("q")
        if not text:
            raise SalesforceError("A query string has to be specified", error_code="MALFORMED_QUERY")
        return self.state.query(text, version, include_deleted=match["kind"] == "queryAll")

    # --- sObject rows ---------------------------------------------------------------------------
    def create(self, call: Call) -> Response:
        values = _object_body(call)
        record_id, _ = self.state.save(call.params["sobject"], values, running_user=call.user_id)
        return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)

    def get(self, call: Call) -> Response:
        obj = self.state.object(call.params["sobject"])
        record = self.state.get_record(obj.name, call.params["id"])
        return JSONResponse(self._shape(obj.name, record, call))

    def update(self, call: Call) -> Response:
        values = _object_body(call)
        obj = self.state.object(call.params["sobject"])
        self.state.get_record(obj.name, call.params["id"])
        self.state.save(
            obj.name,
            values,
            running_user=call.user_id,
            record_id=call.params["id"],
            lock_key=call.params["id"],
        )
        return Response(status_code=204)

    def delete(self, call: Call) -> Response:
        try:
            self.state.delete(call.params["sobject"], call.params["id"])
        except RecordError as exc:
            raise exc.as_request_error() from None
        return Response(status_code=204)

    def get_by_external_id(self, call: Call) -> Response:
        obj = self.state.object(call.params["sobject"])
        matches = self.state.find_by_external_id(obj.name, call.params["field"], call.params["value"])
        if not matches:
            raise SalesforceError("The requested resource does not exist", error_code="NOT_FOUND", status=404)
        if len(matches) > 1:
            return JSONResponse(
                [f"/services/data/v{call.version}/sobjects/{obj.name}/{m}" for m in matches], status_code=300
            )
        return JSONResponse(self._shape(obj.name, self.state.get_record(obj.name, matches[0]), call))

    def upsert(self, call: Call) -> Response:
        """``PATCH /sobjects/X/Field/value``: 201 created, 200 updated, 300 several matches."""
        obj = self.state.object(call.params["sobject"])
        field, value = call.params["field"], call.params["value"]
        values = _object_body(call)
        matches = self.state.find_by_external_id(obj.name, field, value)
        if len(matches) > 1:
            return JSONResponse(
                [f"/services/data/v{call.version}/sobjects/{obj.name}/{m}" for m in matches], status_code=300
            )
        fdef = obj.field(field)
        body_key = next((k for k in values if fdef and k.lower() == fdef.name.lower()), None)
        if body_key is not None and str(values[body_key]) != value:
            raise SalesforceError(
                f"The external ID field {fdef.name} in the body does not match the URL",
                error_code="INVALID_FIELD",
            )
        values[fdef.name] = value
        record_id, created = self.state.save(
            obj.name, values, running_user=call.user_id, upsert_field=field, lock_key=value
        )
        return JSONResponse(
            {"id": record_id, "success": True, "errors": [], "created": created},
            status_code=201 if created else 200,
        )

    def _shape(self, sobject: str, record: dict, call: Call) -> dict:
        wanted = call.request.query_params.get("fields")
        out = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{call.version}/sobjects/{sobject}/{record['Id']}",
            }
        }
        obj = self.state.object(sobject)
        names = [f.strip() for f in wanted.split(",")] if wanted else list(obj.fields)
        for name in names:
            fdef = obj.field(name)
            if fdef is None:
                raise SalesforceError(
                    f"No such column '{name}' on sobject of type {sobject}", error_code="INVALID_FIELD"
                )
            out[fdef.name] = record.get(fdef.name)
        return out

    # --- sObject Collections (≤ 200 records, one API call) ---------------------------------------
    def collection_create(self, call: Call) -> Response:
        records, all_or_none = _collection_body(call)
        items = [(_record_type(r), r, {}) for r in records]
        return JSONResponse(self._save_collection(items, all_or_none, call))

    def collection_update(self, call: Call) -> Response:
        records, all_or_none = _collection_body(call)
        items = []
        for r in records:
            values = {k: v for k, v in r.items() if k.lower() != "id"}
            record_id = next((v for k, v in r.items() if k.lower() == "id"), None)
            kwargs: dict[str, Any] = {"record_id": record_id, "lock_key": record_id}
            if not record_id:  # never an insert: each record of an update must carry its Id
                kwargs = {"error": RecordError("MISSING_ARGUMENT", "Id not specified in an update call")}
            elif not isinstance(record_id, str):
                kwargs = {"error": RecordError("MALFORMED_ID", "Id must be a string", ["Id"])}
            items.append((_record_type(r), values, kwargs))
        return JSONResponse(self._save_collection(items, all_or_none, call))

    def collection_upsert(self, call: Call) -> Response:
        """``PATCH /composite/sobjects/X/Field`` (API 46+): upsert up to 200 records by external ID."""
        records, all_or_none = _collection_body(call)
        obj = self.state.object(call.params["sobject"])
        field = call.params["field"]
        fdef = obj.field(field)
        if fdef is None or not fdef.external_id:
            raise SalesforceError(
                f"Provided external ID field does not exist or is not accessible: {field}",
                error_code="NOT_FOUND",
                status=404,
            )
        keys = [next((str(v) for k, v in r.items() if k.lower() == fdef.name.lower()), None) for r in records]
        # keys that name the same record: compared with the field's case sensitivity
        norm = [None if k is None else (k if fdef.case_sensitive else k.lower()) for k in keys]
        seen: dict[str, int] = {}
        for key in norm:
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        items = []
        for r, key, key_norm in zip(records, keys, norm):
            if _record_type(r) != obj.name:
                raise SalesforceError("all records must be of the type in the URL", error_code="INVALID_TYPE")
            kwargs: dict[str, Any] = {"upsert_field": fdef.name, "lock_key": key}
            if key_norm is not None and seen[key_norm] > 1:  # each is refused (UNCONFIRMED code)
                kwargs = {
                    "error": RecordError(
                        "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", [fdef.name]
                    )
                }
            items.append((obj.name, r, kwargs))
        # one save_many, so that allOrNone also rolls back when a duplicate key is refused
        return JSONResponse(self._save_collection(items, all_or_none, call))

    def collection_delete(self, call: Call) -> Response:
        ids = [i for i in (call.request.query_params.get("ids") or "").split(",") if i]
        if len(ids) > COLLECTION_MAX:
            raise SalesforceError(
                f"record limit reached. cannot submit more than {COLLECTION_MAX} records into this call",
                error_code="EXCEEDED_ID_LIMIT",
            )
        results = []
        for record_id in ids:
            found = self.state.get(record_id)
            if found is None:
                results.append(
                    {
                        "id": record_id,
                        "success": False,
                        "errors": [
                            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
                        ],
                    }
                )
                continue
            try:
                self.state.delete(found[0], record_id)
            except RecordError as exc:
                results.append({"id": found[1]["Id"], "success": False, "errors": [exc.result()]})
                continue
            results.append({"id": found[1]["Id"], "success": True, "errors": []})
        return JSONResponse(results)

    def _save_collection(self, items: list, all_or_none: bool, call: Call) -> list[dict]:
        results = self.state.save_many(items, all_or_none=all_or_none, running_user=call.user_id)
        if call.request.method == "POST" or "field" not in call.params:
            for r in results:
                r.pop("created", None)  # only upsert results carry "created"
        return results

    async def not_implemented(self, request: Request, params: dict[str, str]) -> Response:
        return error_response(
            NotImplementedBySandbox(
                f"the Salesforce sandbox does not implement {request.method} {request.url.path}"
            )
        )


def _url_path(url: Any) -> str:
    try:
        return urlsplit(str(url or "")).path
    except ValueError:
        return ""


def _object_body(call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict):
        raise JsonParserError("the body must be a JSON object")
    return body


def _collection_body(call: Call) -> tuple[list[dict], bool]:
    """``{"allOrNone": bool, "records": [{...}, ...]}``; anything else is a JSON_PARSER_ERROR for the whole
    request, as Salesforce's deserializer answers it ("Can not deserialize SObject out of VALUE_NUMBER_INT
    token"), before any record is saved."""
    body = call.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise JsonParserError('the body must be {"allOrNone": ..., "records": [...]}')
    records = body["records"]
    if len(records) > COLLECTION_MAX:
        raise SalesforceError(
            f"record limit reached. cannot submit more than {COLLECTION_MAX} records into this call",
            error_code="EXCEEDED_ID_LIMIT",
        )
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise JsonParserError(
                f"Can not deserialize SObject out of {_json_token(record)} token: records[{i}]"
            )
        attributes = record.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise JsonParserError(f"records[{i}].attributes must be an object")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise JsonParserError("allOrNone must be true or false")
    return records, all_or_none


def _json_token(value: Any) -> str:
    """The Jackson token name Salesforce's message uses for a value that is not an object."""
    if value is None:
        return "VALUE_NULL"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, str):
        return "VALUE_STRING"
    return "START_ARRAY"


def _record_type(record: dict) -> str:
    rtype = (record.get("attributes") or {}).get("type")
    if not rtype:
        raise SalesforceError("Each record needs attributes.type", error_code="INVALID_TYPE")
    if not isinstance(rtype, str):
        raise JsonParserError("attributes.type must be a string")
    return rtype


def _check_version(version: str) -> str:
    if version not in API_VERSIONS:
        raise SalesforceError(
            f"API version {version} is not supported by the sandbox ({', '.join(API_VERSIONS)})",
            error_code="NOT_FOUND",
            status=404,
        )
    return version


# Path pieces shared with the URL table (sandbox.salesforce.routes).
API_PATH = r"/services/data/v(?P<version>\d+\.\d)"
# Any 01g… segment is taken as a locator, so that a bad one answers 400 INVALID_QUERY_LOCATOR (not 501).
QUERY_LOCATOR = r"(?P<locator>01g[0-9A-Za-z_-]*)"
_SUBQUERY = re.compile(rf"^{API_PATH}/(?P<kind>query|queryAll)/?{QUERY_LOCATOR}?/?$")


async def _reset(request: Request) -> Response:
    reset_connection(request.scope)
    await asyncio.sleep(0.01)
    return Response(status_code=500)
