"""The bot's callback endpoint: ``POST /lineworks/callback`` (lineworks-api.md §3.4, §3.5).

The plugin file mounts :func:`create_app` on Airflow's API server, which gives plugin apps **no** Airflow
auth: everything a request is allowed to do rests on the checks here, in this order, each refusal logged
with its status, reason and body length — never the body:

1. a body over 64 KiB → **413** (read with a cap, whatever ``Content-Length`` says);
2. ``X-WORKS-BotId`` not our bot → **401**; ``X-WORKS-Signature`` missing or not base64 HMAC-SHA256 of the
   raw body with the bot secret → **401** (compared in constant time);
3. not a JSON object, or not a known event (``message``, ``postback``, ``join``, ``leave``, ``joined``,
   ``left``, ``begin``, ``end``) with its required fields → **400**;
4. a replay of an event already accepted (the same signature and body: LINE WORKS never re-sends, so a
   second copy is someone else's) → **200** and nothing else happens.

Accepted events are answered **200 at once** and handled in the background (LINE WORKS does not wait,
and never resends). Replay state lives in the archive database, never in process memory, so several API
server workers agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
EVENT_TYPES = frozenset({"message", "postback", "join", "leave", "joined", "left", "begin", "end"})
_WITH_USER = frozenset({"message", "postback", "begin", "end"})  # source.userId is documented for these
CALLBACK_PATH = "/callback"  # mounted at /lineworks: /lineworks/callback


@dataclass(frozen=True)
class BotCredentials:
    bot_id: str
    secret: str


@dataclass(frozen=True)
class BotEvent:
    """A verified, well-formed callback event: what the conversation needs of it."""

    type: str
    user_id: str | None
    channel_id: str | None
    text: str | None = None  # message events: content.text
    postback: str | None = None  # a button tap (message.content.postback) or a carousel tap (data)


class ReplayGuard(Protocol):
    def first_time(self, digest: str) -> bool:
        """Record ``digest``; False when it was already recorded (a replay)."""


class EventRefused(ValueError):
    """A callback body that is not a known, well-formed event (400); names the field, never a value."""


def signature(body: bytes, secret: str) -> str:
    """``X-WORKS-Signature`` of ``body``: base64(HMAC-SHA256(bot secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of ``header`` against the body's signature (False for junk or no secret)."""
    if not header or not secret:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())


def parse_event(body: bytes) -> BotEvent:
    """The event of a verified body, or :class:`EventRefused`."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EventRefused("the body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise EventRefused("the body is not a JSON object")
    etype = data.get("type")
    if not isinstance(etype, str) or etype not in EVENT_TYPES:
        raise EventRefused("type: not a LINE WORKS bot event")
    source = data.get("source")
    if not isinstance(source, dict):
        raise EventRefused("source: expected an object")
    user_id, channel_id = source.get("userId"), source.get("channelId")
    if etype in _WITH_USER and not (isinstance(user_id, str) and user_id):
        raise EventRefused("source.userId: required for this event")
    for name, value in (("source.userId", user_id), ("source.channelId", channel_id)):
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= 256):
            raise EventRefused(f"{name}: expected an id")
    text = postback = None
    if etype == "message":
        content = data.get("content")
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise EventRefused("content: expected an object with a type")
        text = content.get("text") if isinstance(content.get("text"), str) else None
        postback = content.get("postback") if isinstance(content.get("postback"), str) else None
    elif etype == "postback":
        if not isinstance(data.get("data"), str):
            raise EventRefused("data: expected text")
        postback = data["data"]
    return BotEvent(etype, user_id, channel_id, text, postback)


def create_app(
    credentials: Callable[[], BotCredentials],
    replays: Callable[[], ReplayGuard],
    handle: Callable[[BotEvent], None],
) -> FastAPI:
    """The callback app. ``credentials`` and ``replays`` are called per request (a rotated bot secret needs
    no restart); ``handle`` runs in the background after the 200."""
    app = FastAPI(title="LINE WORKS bot callback", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post(CALLBACK_PATH)
    async def callback(request: Request, background: BackgroundTasks) -> JSONResponse:
        body = await _capped_body(request)
        if body is None:
            return _refuse(413, "body over 64 KiB", None)
        bot = credentials()
        if request.headers.get("x-works-botid", "").strip() != bot.bot_id:
            return _refuse(401, "X-WORKS-BotId is not this bot", len(body))
        if not signature_ok(body, request.headers.get("x-works-signature"), bot.secret):
            return _refuse(401, "X-WORKS-Signature missing or wrong", len(body))
        try:
            event = parse_event(body)
        except EventRefused as exc:
            return _refuse(400, str(exc), len(body))
        digest = hashlib.sha256(
            request.headers["x-works-signature"].strip().encode() + b"\0" + body
        ).hexdigest()
        if not replays().first_time(digest):
            log.warning("bot callback: a replay of an event already handled (%d bytes): ignored", len(body))
            return JSONResponse({"status": "ok"})
        background.add_task(_handle_safely, handle, event)
        return JSONResponse({"status": "ok"})

    return app


async def _capped_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str, length: int | None) -> JSONResponse:
    sized = f" ({length} bytes)" if length is not None else ""
    log.warning("bot callback refused: %d %s%s", status, reason, sized)
    return JSONResponse({"status": "refused", "reason": reason}, status_code=status)


def _handle_safely(handle: Callable[[BotEvent], None], event: BotEvent) -> None:
    try:
        handle(event)
    except Exception as exc:  # the 200 is sent: log the kind of failure, not the event
        log.error("bot callback: handling a %s event failed (%s)", event.type, type(exc).__name__)
