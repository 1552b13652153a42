"""Load a scenario file into the sandbox state: generator parameters and/or explicit records.

A scenario file is JSON (or YAML) such as::

    {"generator": {"size": "demo", "seed": 42},
     "apps": [{"clientId": "...", "clientSecret": "...", "serviceAccount": "...",
               "publicKey": "-----BEGIN PUBLIC KEY-----...", "scopes": ["bot", "user.read"]}],
     "bots": [{"botId": 2000001, "secret": "...", "callbackUrl": "https://..."}],
     "users": [<user JSON as GET /users/{id} returns it>],
     "contacts": [{"contact": <contact JSON>, "createdTime": "...", "modifiedTime": "..."}],
     "rooms": [{"channelId": "...", "kind": "single|group|internal", "title": "..."}],
     "messages": [{"time": "2025-05-30T18:24:53+09:00", "channelId": "...", "sender": "m:<userId>",
                   "recipients": ["f:<contactId>"], "kind": "text", "text": "..."}],
     "config": {"token_lifetime": 3600}}

Participants are written ``m:<userId>`` (member), ``f:<contactId>`` (friend) or ``b:<botId>`` (bot).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.lineworks import scenario as scenario_mod
from sandbox.lineworks.errors import InvalidParameter

if TYPE_CHECKING:
    from sandbox.lineworks.state import LineWorksState

_PREFIX = {"member": "m:", "friend": "f:", "bot": "b:"}


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read a scenario file (``.json``, ``.yaml`` or ``.yml``)."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def load(state: LineWorksState, spec: dict[str, Any]) -> None:
    if not isinstance(spec, dict):
        raise InvalidParameter("a scenario must be a JSON object")
    unknown = sorted(
        set(spec)
        - {
            "generator",
            "apps",
            "bots",
            "users",
            "contacts",
            "rooms",
            "messages",
            "config",
            "domainId",
            "companyName",
        }
    )
    if unknown:
        raise InvalidParameter(f"unknown scenario keys: {unknown}")
    if "config" in spec:
        state.update_config(spec["config"])
    for app in spec.get("apps", []):
        public_key = app.get("publicKey") or Path(app["publicKeyFile"]).read_text()
        state.register_app(
            app["clientId"], app["clientSecret"], app["serviceAccount"], public_key, app.get("scopes", [])
        )
    if "generator" in spec:
        _load_generated(state, spec["generator"])
    if "domainId" in spec:
        state.domain_id = int(spec["domainId"])
    if "companyName" in spec:
        state.company_name = spec["companyName"]
    for bot in spec.get("bots", []):
        state.register_bot(bot["botId"], bot["secret"], bot.get("callbackUrl"), bot.get("name", "Bot"))
    if spec.get("users"):
        first = state.next_ordinal("users")
        state.insert(
            "users",
            (
                (
                    first + i,
                    u["userId"],
                    u["email"].lower(),
                    u.get("userExternalKey"),
                    json.dumps(u, ensure_ascii=False),
                )
                for i, u in enumerate(spec["users"])
            ),
        )
    if spec.get("contacts"):
        first = state.next_ordinal("contacts")
        state.insert("contacts", (_contact_row(first + i, c) for i, c in enumerate(spec["contacts"])))
    if spec.get("rooms"):
        state.insert(
            "rooms",
            (
                (
                    r["channelId"],
                    r.get("kind", "group"),
                    r.get("title", ""),
                    json.dumps(r, ensure_ascii=False),
                )
                for r in spec["rooms"]
            ),
        )
    if spec.get("messages"):
        first = state.next_ordinal("messages")
        state.insert("messages", (_message_row(first + i, m) for i, m in enumerate(spec["messages"])))


def _contact_row(ordinal: int, item: dict[str, Any]) -> tuple:
    contact = item["contact"]
    name = contact.get("contactName") or {}
    display = item.get("displayName") or f"{name.get('lastName', '')}{name.get('firstName', '')}"
    created = _ts(item.get("createdTime"))
    modified = _ts(item.get("modifiedTime")) if item.get("modifiedTime") else created
    return (
        ordinal,
        contact["contactId"],
        1 if contact.get("linkedExternalUser") else 0,
        created,
        modified,
        display,
        json.dumps(contact, ensure_ascii=False),
    )


def _message_row(seq: int, m: dict[str, Any]) -> tuple:
    sender = m["sender"]
    return (
        seq,
        _ts(m["time"]),
        m["channelId"],
        sender,
        "|".join(m.get("recipients", [])),
        1 if sender.startswith("b:") else 0,
        m.get("kind", "text"),
        m["text"],
    )


def _ts(value: str | None) -> float:
    if not value:
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _load_generated(state: LineWorksState, params: dict[str, Any]) -> None:
    start = params.get("start")
    sc = scenario_mod.generate(
        params.get("size", "demo"),
        seed=int(params.get("seed", 42)),
        start=datetime.fromisoformat(start) if start else None,
        **params.get("overrides", {}),
    )
    state.domain_id, state.company_name = sc.domain_id, sc.company_name
    first = state.next_ordinal("users")
    state.insert(
        "users",
        (
            (first + i, m.user_id, m.email, None, json.dumps(user_doc(sc, m), ensure_ascii=False))
            for i, m in enumerate(sc.members)
        ),
    )
    first = state.next_ordinal("contacts")
    state.insert(
        "contacts",
        (
            (
                first + i,
                f.contact_id,
                1,
                f.created_time.timestamp(),
                f.modified_time.timestamp(),
                f.display_name,
                json.dumps(contact_doc(f), ensure_ascii=False),
            )
            for i, f in enumerate(sc.friends)
        ),
    )
    for bot in sc.bots:
        if not state.has_bot(
            bot.bot_id
        ):  # an explicit "bots" entry (secret, callback URL) wins over the generated one
            state.register_bot(bot.bot_id, secret="", name=bot.name)
    state.insert(
        "rooms",
        (
            (
                r.channel_id,
                r.kind,
                r.title,
                json.dumps(
                    {
                        "channelId": r.channel_id,
                        "kind": r.kind,
                        "title": r.title,
                        "members": list(r.member_ids),
                        "friends": list(r.friend_ids),
                    },
                    ensure_ascii=False,
                ),
            )
            for r in sc.rooms
        ),
    )
    state.insert("messages", _generated_messages(sc, state.next_ordinal("messages")))


def _generated_messages(sc: scenario_mod.Scenario, first: int) -> Iterator[tuple]:
    for i, m in enumerate(sc.messages()):
        sender = _PREFIX[m.sender.kind] + m.sender.ref
        yield (
            first + i,
            m.sent_at.timestamp(),
            m.channel_id,
            sender,
            "|".join(_PREFIX[p.kind] + p.ref for p in m.recipients),
            1 if m.sender.kind == "bot" else 0,
            m.kind,
            m.text,
        )


def user_doc(sc: scenario_mod.Scenario, m: scenario_mod.Member) -> dict[str, Any]:
    """A member as ``GET /users/{userId}`` returns it (field names per lineworks-api.md §7)."""
    return {
        "domainId": sc.domain_id,
        "userId": m.user_id,
        "userExternalKey": None,
        "email": m.email,
        "userName": {
            "lastName": m.last_name,
            "firstName": m.first_name,
            "phoneticLastName": m.last_name_kana,
            "phoneticFirstName": m.first_name_kana,
        },
        "i18nName": [
            {"language": "en_US", "firstName": m.romaji.split(" ")[0], "lastName": m.romaji.split(" ")[-1]}
        ],
        "organizations": [
            {
                "domainId": sc.domain_id,
                "primary": True,
                "userExternalKey": None,
                "email": m.email,
                "levelName": "一般社員",
                "executive": False,
                "organizationName": sc.company_name,
                "orgUnits": [
                    {
                        "orgUnitName": "営業部",
                        "primary": True,
                        "isManager": False,
                        "visible": True,
                        "useTeamFeature": True,
                    }
                ],
            }
        ],
        "isAdministrator": False,
        "isPending": False,
        "isSuspended": False,
        "isDeleted": False,
    }


def contact_doc(f: scenario_mod.Friend) -> dict[str, Any]:
    """A LINE friend as ``GET /contacts`` lists it.

    UNCONFIRMED (lineworks-api.md §6.1): ``linkedExternalUser.type`` for LINE users (``"LINE"`` assumed) and
    where the LINE display name lives (``contactName.lastName`` assumed, ``firstName`` empty).
    """
    return {
        "contactId": f.contact_id,
        "contactName": {"lastName": f.display_name, "firstName": ""},
        "linkedExternalUser": {"id": f.external_user_id, "type": "LINE", "buddyUserIds": [f.master_user_id]},
        "permission": {"masterUserId": f.master_user_id, "accessibleRange": "MEMBER"},
    }
