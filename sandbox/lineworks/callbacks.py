"""The callback sender: POSTs signed bot events to a bot's callback URL as LINE WORKS does.

DOC:bot-callback: headers ``X-WORKS-BotId`` and ``X-WORKS-Signature`` = base64(HMAC-SHA256(bot secret,
raw body)); a failed callback is not re-sent. Event shapes per DOC:bot-callback-message/-postback/...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

import httpx

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
    if "event" in spec:
        return spec["event"]
    etype = spec.get("type")
    if etype not in EVENT_TYPES:
        raise InvalidParameter(f"event type must be one of {sorted(EVENT_TYPES)}")
    source: dict[str, Any] = {}
    if etype in _WITH_USER:
        if not spec.get("userId"):
            raise InvalidParameter(f"a {etype} event needs userId")
        source["userId"] = spec["userId"]
    if spec.get("channelId"):
        source["channelId"] = spec["channelId"]
    source["domainId"] = int(spec.get("domainId", domain_id))
    issued = spec.get("issuedTime") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event: dict[str, Any] = {"type": etype, "source": source, "issuedTime": issued}
    if etype == "message":
        content = spec.get("content") or {"type": "text", "text": spec.get("text", "")}
        if spec.get("postback") is not None:
            content = {**content, "postback": spec["postback"]}
        event["content"] = content
    elif etype == "postback":
        event["data"] = spec.get("data", "")
    elif etype in ("joined", "left"):
        event["members"] = list(spec.get("members", []))
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
    async with httpx.AsyncClient(verify=ca_bundle or True, timeout=30) as client:
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return {"delivered": False, "error": type(exc).__name__, "event": event}
    return {"delivered": response.status_code == 200, "status": response.status_code, "event": event}
