"""The LINE WORKS wire protocol: parse a request, call the state, shape the answer (no rules here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from sandbox.common.jsonbody import parse_json, read_body
from sandbox.common.server import reset_connection
from sandbox.lineworks import limits
from sandbox.lineworks.errors import (
    InternalServerError,
    InvalidParameter,
    LineWorksError,
    NotImplementedBySandbox,
    OAuthError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from sandbox.lineworks.state import LineWorksState, TokenInfo

API_FAULTS = frozenset({"429", "500", "503", "reset", "expire_token"})
PAGED_FAULTS = frozenset({"repeat_cursor"})
FILE_FAULTS = frozenset({"500", "503", "reset", "download_error"})
USER_SCOPES = ("user", "user.read", "directory", "directory.read")
CONTACT_SCOPES = ("contact", "contact.read")
BOT_SCOPES = ("bot", "bot.message")
MONITORING_SCOPES = ("monitoring.read",)
AUDIT_SCOPES = ("audit", "audit.read")


def error_response(exc: LineWorksError | OAuthError) -> JSONResponse:
    """The single place where errors become HTTP answers."""
    headers = getattr(exc, "headers", None) or {}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _form_error(message: str) -> OAuthError:
    return OAuthError("invalid_request", message)


class _Reset(Exception):
    """The fault plan asked for a connection reset."""


class LineWorksProtocol:
    """Request handlers of the API surface; :func:`sandbox.lineworks.routes.build_app` routes to them."""

    def __init__(self, state: LineWorksState) -> None:
        self.state = state

    # --- the pipeline every API call goes through ---------------------------------------------
    async def _call(
        self,
        request: Request,
        operation: str,
        family: str,
        scopes: tuple[str, ...],
        handler: Callable[[TokenInfo], Response],
    ) -> Response:
        state = self.state
        try:
            self._inject(operation, API_FAULTS, family)
            token = state.authenticate(request.headers.get("authorization"))
            if state.faults.take(operation, frozenset({"expire_token"})):
                state.expire_token(token.token)
                raise Unauthorized("Authentication failed.")
            state.require_scope(token, scopes)
            rate_headers = state.count_call(operation, family)
            response = handler(token)
            if response.status_code != 302:  # 302 answers carry no rate headers (DOC:rate-limits)
                response.headers.update(rate_headers)
            return response
        except _Reset:
            return await _reset(request)
        except (LineWorksError, OAuthError) as exc:
            return error_response(exc)

    def _inject(self, operation: str, kinds: frozenset[str], family: str | None = None) -> None:
        fault = self.state.faults.take(operation, kinds - {"expire_token"})
        if fault is None:
            return
        self.state.calls[operation + "!fault"] += 1
        if fault == "reset":
            raise _Reset()
        if fault == "500":
            raise InternalServerError("injected fault")
        if fault == "503":
            raise ServiceUnavailable("injected fault")
        if fault == "429":
            rate_limits = self.state.config["rate_limits"]
            limit = int(rate_limits.get(family or operation.split(".")[0], rate_limits["default"]))
            reset = int(self.state.config["injected_rate_limit_reset"])
            raise TooManyRequests(headers=limits.rate_headers(limit, limit, reset))

    # --- OAuth ----------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        try:
            self._inject("token", API_FAULTS)
            content_type = request.headers.get("content-type", "")
            if not content_type.startswith("application/x-www-form-urlencoded"):
                raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            raw = await read_body(
                request, _form_error, max_bytes=limits.TOKEN_FORM_MAX_BYTES, what="the form body"
            )
            try:
                form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise OAuthError("invalid_request", "the form body is not UTF-8") from None
            return JSONResponse(self.state.issue_token(form), headers={"Cache-Control": "no-store"})
        except _Reset:
            return await _reset(request)
        except (LineWorksError, OAuthError) as exc:
            return error_response(exc)

    # --- directory ------------------------------------------------------------------------------
    async def list_users(self, request: Request) -> Response:
        q = request.query_params
        return await self._call(
            request,
            "users.list",
            "users",
            USER_SCOPES,
            lambda t: self._page(
                "users.list", q.get("cursor"), self.state.list_users(q.get("count"), q.get("cursor"))
            ),
        )

    async def get_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        return await self._call(
            request, "users.get", "users", USER_SCOPES, lambda t: JSONResponse(self.state.get_user(user_id))
        )

    async def list_contacts(self, request: Request) -> Response:
        params = dict(request.query_params)
        return await self._call(
            request,
            "contacts.list",
            "contacts",
            CONTACT_SCOPES,
            lambda t: self._page("contacts.list", params.get("cursor"), self.state.list_contacts(params)),
        )

    def _page(self, operation: str, cursor: str | None, body: dict) -> Response:
        """A page; the ``repeat_cursor`` fault answers the cursor just sent (a paging regression)."""
        if cursor and self.state.faults.take(operation, PAGED_FAULTS):
            body["responseMetaData"]["nextCursor"] = cursor
        return JSONResponse(body)

    # --- bot ------------------------------------------------------------------------------------
    async def send_to_user(self, request: Request) -> Response:
        return await self._send(request, "user", request.path_params["user_id"], "bot.send_user")

    async def send_to_channel(self, request: Request) -> Response:
        return await self._send(request, "channel", request.path_params["channel_id"], "bot.send_channel")

    async def _send(self, request: Request, kind: str, target: str, operation: str) -> Response:
        bot_id = request.path_params["bot_id"]
        raw = await request.body()

        def handler(_: TokenInfo) -> Response:
            if not request.headers.get("content-type", "").startswith("application/json"):
                raise InvalidParameter("Content-Type must be application/json")
            body = parse_json(raw, InvalidParameter, max_bytes=limits.API_JSON_MAX_BYTES)
            self.state.send_bot_message(bot_id, kind, target, body)
            return Response(status_code=201)  # "201 Created", no JSON body (DOC:bot-user-message-send)

        return await self._call(request, operation, "bot.message", BOT_SCOPES, handler)

    # --- monitoring / audit downloads (302 to another host, DOC:content-log-download) ------------
    async def download_message_contents(self, request: Request) -> Response:
        return await self._download(request, "monitoring", "monitoring.download", MONITORING_SCOPES)

    async def download_audit_logs(self, request: Request) -> Response:
        return await self._download(request, "audit", "audit.download", AUDIT_SCOPES)

    async def _download(
        self, request: Request, kind: str, operation: str, scopes: tuple[str, ...]
    ) -> Response:
        params = dict(request.query_params)

        def handler(_: TokenInfo) -> Response:
            ticket = self.state.open_download(kind, params)
            return Response(status_code=302, headers={"Location": self._download_url(request, ticket)})

        return await self._call(request, operation, kind, scopes, handler)

    def _download_url(self, request: Request, ticket: str) -> str:
        host = self.state.config["download_host"]
        if not host:
            current = urlsplit(str(request.url)).hostname
            host = "127.0.0.1" if current == "localhost" else "localhost"
        port = request.url.port
        return f"https://{host}:{port}/_download/{ticket}"

    async def download_file(self, request: Request) -> Response:
        """The redirect target: needs the Authorization header again (401 "Authentication failed.")."""
        state = self.state
        try:
            self._inject("files.download", FILE_FAULTS - {"download_error"})
            state.authenticate(request.headers.get("authorization"))
            ticket = state.claim_ticket(request.path_params["ticket"])
            state.calls["files.download"] += 1
            fail = state.faults.take("files.download", frozenset({"download_error"})) is not None
            return StreamingResponse(
                state.render_csv(ticket, fail_midway=fail),
                media_type="text/csv; charset=UTF-8",
                headers={"Content-Disposition": 'attachment; filename="log.csv"'},
            )
        except _Reset:
            state.release_download_slot()
            return await _reset(request)
        except (LineWorksError, OAuthError) as exc:
            # A failed file request ends the download in progress; the client asks for a new URL.
            state.release_download_slot()
            return error_response(exc)

    async def not_implemented(self, request: Request) -> Response:
        return error_response(
            NotImplementedBySandbox(
                f"the LINE WORKS sandbox does not implement {request.method} {request.url.path}"
            )
        )


async def _reset(request: Request) -> Response:
    reset_connection(request.scope)
    await asyncio.sleep(0.01)  # let the transport report the loss before anything is written
    return Response(status_code=500)
