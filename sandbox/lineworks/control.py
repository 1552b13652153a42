"""The sandbox control plane under ``/_sandbox`` (not part of the LINE WORKS API).

``POST /_sandbox/reset`` · ``POST /_sandbox/seed`` (scenario file body) · ``GET|PATCH /_sandbox/config`` ·
``GET|POST|DELETE /_sandbox/faults`` · ``POST /_sandbox/apps`` · ``POST /_sandbox/bots`` ·
``GET /_sandbox/bots/{botId}/messages`` (what the bot said) · ``POST /_sandbox/bots/{botId}/callbacks``
(send a signed event to the bot's callback URL) · ``GET /_sandbox/stats`` (rows, calls by operation) ·
``GET /_sandbox/directory`` (members, LINE friends and bots: for seeding Salesforce and the talk page)
· ``POST /_sandbox/friends`` (a customer adds a member as a LINE friend now).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common.faults import apply_fault_request
from sandbox.common.jsonbody import read_json
from sandbox.common.validation import check_text, control_failure
from sandbox.lineworks import callbacks
from sandbox.lineworks.errors import InvalidParameter, LineWorksError, MissingParameter
from sandbox.lineworks.protocol import error_response
from sandbox.lineworks.seeding import check_app, check_bot
from sandbox.lineworks.state import LineWorksState

PREFIX = "/_sandbox"


def build_router(state: LineWorksState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    async def body(request: Request) -> dict:
        """The JSON object of a control request (size, depth and strictness: sandbox.common.jsonbody)."""
        return await read_json(request, _control_error, expect=dict, what="the control request body")

    def guarded(fn):
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except LineWorksError as exc:
                return error_response(exc)
            except Exception as exc:
                told = control_failure(exc)
                if told is None:
                    raise
                missing, message = told
                return error_response((MissingParameter if missing else InvalidParameter)(message))

        wrapper.__name__ = fn.__name__
        return wrapper

    @guarded
    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    @guarded
    async def seed(request: Request) -> Response:
        return JSONResponse(state.seed(await body(request)))

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
    async def add_app(request: Request) -> Response:
        app = check_app(await body(request), "app")
        state.register_app(*app)
        return JSONResponse({"clientId": app[0]}, status_code=201)

    @guarded
    async def add_bot(request: Request) -> Response:
        bot = check_bot(await body(request), "bot")
        state.register_bot(*bot)
        return JSONResponse({"botId": bot[0]}, status_code=201)

    @guarded
    async def bot_messages(request: Request) -> Response:
        return JSONResponse({"messages": state.bot_messages(request.path_params["bot_id"])})

    @guarded
    async def send_callback(request: Request) -> Response:
        bot = state.bot(request.path_params["bot_id"])
        event = callbacks.build_event(await body(request), state.domain_id)
        return JSONResponse(await callbacks.deliver(bot, event, state.config["callback_ca_bundle"]))

    @guarded
    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    router.add_api_route("/reset", reset, methods=["POST"])
    router.add_api_route("/seed", seed, methods=["POST"])
    router.add_api_route("/config", get_config, methods=["GET"])
    router.add_api_route("/config", patch_config, methods=["PATCH"])
    router.add_api_route("/faults", get_faults, methods=["GET"])
    router.add_api_route("/faults", add_faults, methods=["POST"])
    router.add_api_route("/faults", clear_faults, methods=["DELETE"])
    router.add_api_route("/apps", add_app, methods=["POST"])
    router.add_api_route("/bots", add_bot, methods=["POST"])
    router.add_api_route("/bots/{bot_id}/messages", bot_messages, methods=["GET"])
    router.add_api_route("/bots/{bot_id}/callbacks", send_callback, methods=["POST"])

    @guarded
    async def directory(request: Request) -> Response:
        return JSONResponse({**state.directory(), "bots": state.bots()})

    @guarded
    async def add_friend(request: Request) -> Response:
        data = await body(request)
        member = check_text(data.get("memberUserId"), "memberUserId", min_length=1, max_length=256)
        name = check_text(data.get("displayName"), "displayName", min_length=1, max_length=200)
        return JSONResponse(state.add_friend(member, name), status_code=201)

    router.add_api_route("/stats", stats, methods=["GET"])
    router.add_api_route("/directory", directory, methods=["GET"])
    router.add_api_route("/friends", add_friend, methods=["POST"])
    return router


def _control_error(message: str) -> InvalidParameter:
    return InvalidParameter(message)
