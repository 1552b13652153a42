"""URL table of the Salesforce sandbox (like moto's ``url_paths``): patterns → protocol handlers.

Salesforce paths are matched with and without a trailing slash (simple-salesforce uses both).
Anything else answers 501 ``NOT_IMPLEMENTED`` loudly, never a silent 200.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.salesforce import bulk1, bulk2, control
from sandbox.salesforce.bulk_jobs import BackgroundWorker
from sandbox.salesforce.protocol import API_PATH, QUERY_LOCATOR, SalesforceProtocol
from sandbox.salesforce.state import SalesforceState

V = API_PATH
OBJ = r"(?P<sobject>[A-Za-z][A-Za-z0-9_]*)"
RECORD_ID = r"(?P<id>[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)"
LOCATOR = QUERY_LOCATOR

# (method, pattern, endpoint name, handler name). The endpoint name is what the API-call counter
# and the fault plan use ("collections.upsert", "query", "bulk2.upload", ...).
DATA_ROUTES = [
    ("GET", V, "resources", "resources"),
    ("GET", V + r"/limits", "limits", "limits"),
    ("GET", V + r"/sobjects", "describe_global", "describe_global"),
    ("GET", V + rf"/sobjects/{OBJ}/describe", "describe", "describe"),
    ("GET", V + rf"/sobjects/{OBJ}", "sobject.info", "sobject_info"),
    ("POST", V + rf"/sobjects/{OBJ}", "sobject.create", "create"),
    ("GET", V + rf"/sobjects/{OBJ}/{RECORD_ID}", "sobject.get", "get"),
    ("PATCH", V + rf"/sobjects/{OBJ}/{RECORD_ID}", "sobject.update", "update"),
    ("DELETE", V + rf"/sobjects/{OBJ}/{RECORD_ID}", "sobject.delete", "delete"),
    (
        "GET",
        V + rf"/sobjects/{OBJ}/(?P<field>\w+)/(?P<value>[^/]+)",
        "sobject.get_by_external_id",
        "get_by_external_id",
    ),
    ("PATCH", V + rf"/sobjects/{OBJ}/(?P<field>\w+)/(?P<value>[^/]+)", "sobject.upsert", "upsert"),
    ("GET", V + r"/query", "query", "query"),
    ("GET", V + rf"/query/{LOCATOR}", "query.more", "query_more"),
    ("GET", V + r"/queryAll", "query_all", "query_all"),
    ("GET", V + rf"/queryAll/{LOCATOR}", "query.more", "query_more"),
    ("POST", V + r"/composite", "composite", "composite"),
    ("POST", V + r"/composite/sobjects", "collections.create", "collection_create"),
    ("PATCH", V + r"/composite/sobjects", "collections.update", "collection_update"),
    ("DELETE", V + r"/composite/sobjects", "collections.delete", "collection_delete"),
    ("PATCH", V + rf"/composite/sobjects/{OBJ}/(?P<field>\w+)", "collections.upsert", "collection_upsert"),
]


def build_app(state: SalesforceState) -> FastAPI:
    """The ASGI app of one sandbox org."""
    protocol = SalesforceProtocol(state)
    worker = BackgroundWorker(state)  # one per org: Bulk 2.0 jobs and v1 batches, in close order
    bulk_apis = [(bulk2.Bulk2Api(state, worker), bulk2.ROUTES), (bulk1.Bulk1Api(state, worker), bulk1.ROUTES)]
    app = FastAPI(title="Salesforce sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.salesforce = state
    app.include_router(control.build_router(state))
    table = [
        (m, re.compile(p + "/?$"), name, getattr(protocol, h), "authorization")
        for m, p, name, h in DATA_ROUTES
    ]
    table += [
        (m, re.compile(p + "/?$"), name, getattr(api, h), header)
        for api, routes in bulk_apis
        for m, p, name, h, header in routes
    ]

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if path.rstrip("/") == "/services/oauth2/token" and request.method == "POST":
            return await protocol.token(request, {})
        if path.rstrip("/") == "/services/data" and request.method == "GET":
            return await protocol.versions(request, {})
        for method, pattern, name, handler, header in table:
            match = pattern.match(path)
            if match and method == request.method:
                return await protocol.data_call(
                    request, name, handler, match.groupdict(), session_header=header
                )
        return await protocol.not_implemented(request, {})

    app.add_api_route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    return app


def create_state(state_dir: str | Path) -> SalesforceState:
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True)
    return SalesforceState(path / "salesforce.db")
