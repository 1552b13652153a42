"""The callback sender: POSTs signed bot events to a bot's callback URL as LINE WORKS does.

DOC:bot-callback: headers ``X-WORKS-BotId`` and ``X-WORKS-Signature`` = base64(HMAC-SHA256(bot secret,
raw body)); a failed callback is not re-sent. Event shapes per DOC:bot-callback-message/-postback/...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from datetime import datetime, timezone
from typing import Any

import httpx

from sandbox.common.validation import BadRequest, check_int, check_list, check_object, check_text
from sandbox.lineworks.errors import InvalidParameter

EVENT_TYPES = frozenset({"message", "postback", "join", "leave", "joined", "left", "begin", "end"})
_WITH_USER = frozenset({"message", "postback", "begin", "end"})  # source.userId present (§3.5)


def sign(body: bytes, bot_secret: str) -> str:
    """``X-WORKS-Signature`` for ``body`` (the exact bytes sent)."""
    digest = hmac.new(bot_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def build_event(spec: dict[str, Any], domain_id: int) -> dict[str, Any]:
    """Build a documented event from a short spec, or pass a full ``{"event": {...}}`` through.

    Short spec: ``{"type": "message", "userId": "...", "channelId": "...", "text": "...",
    "postback": "..."}``, ``{"type": "postback", "userId": "...", "data": "..."}``, or
    ``{"type": "joined", "channelId": "...", "members": [...]}``.
    """
    try:
        return _build_event(spec, domain_id)
    except BadRequest as exc:
        raise InvalidParameter(str(exc)) from None


def _build_event(spec: dict[str, Any], domain_id: int) -> dict[str, Any]:
    if "event" in spec:
        return check_object(spec["event"], "event")
    etype = spec.get("type")
    if not isinstance(etype, str) or etype not in EVENT_TYPES:
        raise InvalidParameter(f"event type must be one of {sorted(EVENT_TYPES)}")
    source: dict[str, Any] = {}
    if etype in _WITH_USER:
        if not spec.get("userId"):
            raise InvalidParameter(f"a {etype} event needs userId")
        source["userId"] = check_text(spec["userId"], "userId", max_length=256)
    if spec.get("channelId"):
        source["channelId"] = check_text(spec["channelId"], "channelId", max_length=256)
    domain = spec.get("domainId", domain_id)
    if isinstance(domain, str) and domain.isascii() and domain.isdigit() and len(domain) <= 18:
        domain = int(domain)
    source["domainId"] = check_int(domain, "domainId", minimum=0, maximum=2**53)
    issued = check_text(spec.get("issuedTime"), "issuedTime", max_length=64, nullable=True)
    issued = issued or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event: dict[str, Any] = {"type": etype, "source": source, "issuedTime": issued}
    if etype == "message":
        content = spec.get("content") or {"type": "text", "text": spec.get("text", "")}
        check_object(content, "content")
        if spec.get("postback") is not None:
            content = {**content, "postback": spec["postback"]}
        event["content"] = content
    elif etype == "postback":
        event["data"] = spec.get("data", "")
    elif etype in ("joined", "left"):
        event["members"] = list(check_list(spec.get("members", []), "members", max_items=10_000))
    return event


async def deliver(bot: dict[str, Any], event: dict[str, Any], ca_bundle: str | None) -> dict[str, Any]:
    """POST ``event`` to the bot's callback URL once (no retry, like the real service)."""
    url = bot.get("callbackUrl")
    if not url:
        raise InvalidParameter(f"bot {bot['botId']} has no callback URL")
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "X-WORKS-BotId": str(bot["botId"]),
        "X-WORKS-Signature": sign(body, bot["secret"] or ""),
    }
    try:
        verify = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        async with httpx.AsyncClient(verify=verify, timeout=30) as client:
            response = await client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        # an unreachable or malformed callback URL, or a CA file that cannot be loaded: not delivered
        return {"delivered": False, "error": type(exc).__name__, "event": event}
    return {"delivered": response.status_code == 200, "status": response.status_code, "event": event}
