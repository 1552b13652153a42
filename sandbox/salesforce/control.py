"""The Salesforce sandbox control plane under ``/_sandbox`` (not part of the Salesforce API).

``POST /reset`` · ``POST /seed`` (records, apps, users) · ``GET|PATCH /config`` · ``GET|POST|DELETE /faults``
· ``GET /stats`` (API calls by endpoint — the benchmarks read it) · ``POST /bulk/{jobId}/transition``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common.faults import apply_fault_request
from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.protocol import error_response
from sandbox.salesforce.state import SalesforceState

PREFIX = "/_sandbox"


def build_router(state: SalesforceState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def guarded(fn):
        async def wrapper(request: Request) -> Response:
            try:
                await asyncio.to_thread(state.request_lock.acquire)  # released below, in this thread
                try:
                    return await fn(request)
                finally:
                    state.request_lock.release()
            except RecordError as exc:
                return error_response(exc.as_request_error())
            except SalesforceError as exc:
                return error_response(exc)
            except (KeyError, ValueError, TypeError) as exc:
                return error_response(SalesforceError(f"bad control request: {exc!r}"))

        wrapper.__name__ = fn.__name__
        return wrapper

    @guarded
    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    @guarded
    async def seed(request: Request) -> Response:
        """``{"apps": [{"clientId", "clientSecret", "publicKey"}], "passwords": {"user": "pw"},
        "records": {"User": [{...}], "Lead": [...]}, "config": {...}}`` → ids of the created records."""
        spec = await request.json()
        if "config" in spec:
            state.update_config(spec["config"])
        for app in spec.get("apps", []):
            state.register_app(app["clientId"], app.get("clientSecret"), app.get("publicKey"))
        for username, password in spec.get("passwords", {}).items():
            state.set_password(username, password)
        created: dict[str, list[str]] = {}
        for sobject, records in spec.get("records", {}).items():
            for values in records:
                record_id, _ = state.save(sobject, values, running_user=None)
                created.setdefault(sobject, []).append(record_id)
        return JSONResponse({"created": created, "records": state.stats()["records"]})

    @guarded
    async def get_config(request: Request) -> Response:
        return JSONResponse(state.config)

    @guarded
    async def patch_config(request: Request) -> Response:
        return JSONResponse(state.update_config(await request.json()))

    @guarded
    async def get_faults(request: Request) -> Response:
        return JSONResponse(state.faults.describe())

    @guarded
    async def add_faults(request: Request) -> Response:
        return JSONResponse(apply_fault_request(state.faults, await request.json()))

    @guarded
    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse(state.faults.describe())

    @guarded
    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    @guarded
    async def transition(request: Request) -> Response:
        from sandbox.salesforce.bulk import transition_job

        data = await request.json()
        return JSONResponse(transition_job(state, request.path_params["job_id"], data["state"]))

    router.add_api_route("/reset", reset, methods=["POST"])
    router.add_api_route("/seed", seed, methods=["POST"])
    router.add_api_route("/config", get_config, methods=["GET"])
    router.add_api_route("/config", patch_config, methods=["PATCH"])
    router.add_api_route("/faults", get_faults, methods=["GET"])
    router.add_api_route("/faults", add_faults, methods=["POST"])
    router.add_api_route("/faults", clear_faults, methods=["DELETE"])
    router.add_api_route("/stats", stats, methods=["GET"])
    router.add_api_route("/bulk/{job_id}/transition", transition, methods=["POST"])
    return router
