"""The Salesforce sandbox control plane under ``/_sandbox`` (not part of the Salesforce API).

``POST /reset`` · ``POST /seed`` (records, apps, users) · ``GET|PATCH /config`` · ``GET|POST|DELETE /faults``
· ``GET /stats`` (API calls by endpoint — the benchmarks read it) · ``POST /bulk/{jobId}/transition``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common.faults import apply_fault_request
from sandbox.common.jsonbody import read_json
from sandbox.common.validation import BadRequest, check_list, check_object, check_text, control_failure
from sandbox.salesforce.errors import JsonParserError, RecordError, SalesforceError
from sandbox.salesforce.protocol import error_response
from sandbox.salesforce.state import SalesforceState

PREFIX = "/_sandbox"


def build_router(state: SalesforceState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    async def body(request: Request) -> dict:
        """The JSON object of a control request (size, depth and strictness: sandbox.common.jsonbody)."""
        return await read_json(request, JsonParserError, expect=dict, what="the control request body")

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
            except Exception as exc:
                told = control_failure(exc)
                if told is None:
                    raise
                return error_response(SalesforceError(told[1]))

        wrapper.__name__ = fn.__name__
        return wrapper

    @guarded
    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    @guarded
    async def seed(request: Request) -> Response:
        """``{"apps": [{"clientId", "clientSecret", "publicKey"}], "passwords": {"user": "pw"},
        "records": {"User": [{...}], "Lead": [...]}, "config": {...}}`` → ids of the created records.

        The whole spec is type-checked first; records are then saved with Salesforce's own validation."""
        spec = await body(request)
        apps, passwords, records_by_object = _check_seed(spec)
        if "config" in spec:
            state.update_config(spec["config"])
        for app in apps:
            state.register_app(*app)
        for username, password in passwords.items():
            state.set_password(username, password)
        created: dict[str, list[str]] = {}
        for sobject, records in records_by_object.items():
            for values in records:
                record_id, _ = state.save(sobject, values, running_user=None)
                created.setdefault(sobject, []).append(record_id)
        return JSONResponse({"created": created, "records": state.stats()["records"]})

    @guarded
    async def get_config(request: Request) -> Response:
        return JSONResponse(state.config)

    @guarded
    async def patch_config(request: Request) -> Response:
        return JSONResponse(state.update_config(await body(request)))

    @guarded
    async def get_faults(request: Request) -> Response:
        return JSONResponse(state.faults.describe())

    @guarded
    async def add_faults(request: Request) -> Response:
        return JSONResponse(apply_fault_request(state.faults, await body(request)))

    @guarded
    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse(state.faults.describe())

    @guarded
    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    @guarded
    async def transition(request: Request) -> Response:
        from sandbox.salesforce.bulk_jobs import transition_job

        data = await body(request)
        target = check_text(data.get("state"), "state", max_length=64)
        return JSONResponse(transition_job(state, request.path_params["job_id"], target))

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


_SEED_KEYS = frozenset({"apps", "passwords", "records", "config"})
MAX_SEED_RECORDS = 1_000_000


def _check_seed(
    spec: dict[str, Any],
) -> tuple[list[tuple[str, str | None, str | None]], dict[str, str], dict[str, list[dict]]]:
    """Types of a seed spec (names the bad field, never echoes a value): apps, passwords, records."""
    unknown = sorted(set(spec) - _SEED_KEYS)
    if unknown:
        raise BadRequest(f"unknown seed keys: {', '.join(repr(k)[:40] for k in unknown[:5])}")
    apps = []
    for i, app in enumerate(check_list(spec.get("apps", []), "apps", max_items=1000)):
        where = f"apps[{i}]"
        check_object(app, where)
        apps.append(
            (
                check_text(app.get("clientId"), f"{where}.clientId", min_length=1, max_length=256),
                check_text(app.get("clientSecret"), f"{where}.clientSecret", max_length=1024, nullable=True),
                check_text(app.get("publicKey"), f"{where}.publicKey", max_length=16_384, nullable=True),
            )
        )
    passwords = check_object(spec.get("passwords", {}), "passwords")
    for username, password in passwords.items():
        check_text(username, "passwords key", min_length=1, max_length=256)
        check_text(password, "passwords value", max_length=1024)
    records = check_object(spec.get("records", {}), "records")
    total = 0
    for sobject, rows in records.items():
        where = f"records.{sobject}"[:80]
        check_list(rows, where, max_items=MAX_SEED_RECORDS)
        total += len(rows)
        for j, values in enumerate(rows):
            check_object(values, f"{where}[{j}]")
    if total > MAX_SEED_RECORDS:
        raise BadRequest(f"a seed takes at most {MAX_SEED_RECORDS:,} records")
    return apps, passwords, records  # type: ignore[return-value]
