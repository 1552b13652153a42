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

from sandbox.common.validation import (
    BadRequest,
    check_int,
    check_list,
    check_object,
    check_text,
    kind,
)
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


_SPEC_KEYS = frozenset(
    {
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
MAX_ITEMS = 1_000_000  # explicit records per list in one scenario (larger tenants: use the generator)
_ID = 256  # longest id (userId, contactId, channelId, participant) the sandbox takes
_TEXT = 10_000_000  # longest message text (the control body cap, 64 MiB, comes first)


def load(state: LineWorksState, spec: dict[str, Any]) -> None:
    """Check the whole scenario, then load it (a refused scenario changes nothing).

    :raises InvalidParameter: naming the first bad field (``users[3].email``), never echoing its value.
    """
    try:
        plan = _checked(spec)
    except BadRequest as exc:
        raise InvalidParameter(str(exc)) from None
    if "config" in spec:
        state.update_config(spec["config"])
    for app in plan["apps"]:
        state.register_app(*app)
    if "generator" in spec:
        _load_generated(state, plan["generator"])
    if "domainId" in spec:
        state.domain_id = plan["domainId"]
    if "companyName" in spec:
        state.company_name = plan["companyName"]
    for bot in plan["bots"]:
        state.register_bot(*bot)
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


def _checked(spec: Any) -> dict[str, Any]:
    """Type and range checks of a whole scenario; returns the parts that are loaded as checked values."""
    if not isinstance(spec, dict):
        raise BadRequest("a scenario must be a JSON object")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise BadRequest(f"unknown scenario keys: {', '.join(repr(k)[:40] for k in unknown[:5])}")
    plan: dict[str, Any] = {
        "apps": [check_app(a, f"apps[{i}]") for i, a in enumerate(_items(spec, "apps"))],
        "bots": [check_bot(b, f"bots[{i}]") for i, b in enumerate(_items(spec, "bots"))],
    }
    if "generator" in spec:
        plan["generator"] = _check_generator(spec["generator"])
    if "domainId" in spec:
        plan["domainId"] = check_int(spec["domainId"], "domainId", minimum=1, maximum=2**53)
    if "companyName" in spec:
        plan["companyName"] = check_text(spec["companyName"], "companyName", max_length=200)
    for i, u in enumerate(_items(spec, "users")):
        where = f"users[{i}]"
        check_object(u, where)
        check_text(u.get("userId"), f"{where}.userId", min_length=1, max_length=_ID)
        check_text(u.get("email"), f"{where}.email", min_length=1, max_length=_ID)
        check_text(u.get("userExternalKey"), f"{where}.userExternalKey", max_length=_ID, nullable=True)
        _check_person_name(u.get("userName"), f"{where}.userName", required=False)
    for i, c in enumerate(_items(spec, "contacts")):
        where = f"contacts[{i}]"
        check_object(c, where)
        contact = check_object(c.get("contact"), f"{where}.contact")
        check_text(contact.get("contactId"), f"{where}.contact.contactId", min_length=1, max_length=_ID)
        _check_person_name(contact.get("contactName"), f"{where}.contact.contactName", required=False)
        linked = contact.get("linkedExternalUser")
        if linked is not None:
            check_object(linked, f"{where}.contact.linkedExternalUser")
        check_text(c.get("displayName"), f"{where}.displayName", max_length=10_000, nullable=True)
        for name in ("createdTime", "modifiedTime"):
            _check_time(c.get(name), f"{where}.{name}", required=False)
    for i, r in enumerate(_items(spec, "rooms")):
        where = f"rooms[{i}]"
        check_object(r, where)
        check_text(r.get("channelId"), f"{where}.channelId", min_length=1, max_length=_ID)
        check_text(r.get("kind", "group"), f"{where}.kind", max_length=32)
        check_text(r.get("title", ""), f"{where}.title", max_length=1000)
    for i, m in enumerate(_items(spec, "messages")):
        where = f"messages[{i}]"
        check_object(m, where)
        _check_time(m.get("time"), f"{where}.time", required=True)
        check_text(m.get("channelId"), f"{where}.channelId", min_length=1, max_length=_ID)
        check_text(m.get("sender"), f"{where}.sender", min_length=1, max_length=_ID)
        recipients = check_list(m.get("recipients", []), f"{where}.recipients", max_items=10_000)
        for j, r in enumerate(recipients):
            check_text(r, f"{where}.recipients[{j}]", min_length=1, max_length=_ID)
        check_text(m.get("kind", "text"), f"{where}.kind", max_length=32)
        check_text(m.get("text"), f"{where}.text", max_length=_TEXT)
    return plan


def _items(spec: dict[str, Any], key: str) -> list[Any]:
    value = spec.get(key)
    return [] if value is None else check_list(value, key, max_items=MAX_ITEMS)


def _check_person_name(value: Any, where: str, *, required: bool) -> None:
    if value is None and not required:
        return
    name = check_object(value, where)
    for part in ("lastName", "firstName"):
        check_text(name.get(part, ""), f"{where}.{part}", max_length=10_000, nullable=True)


def _check_time(value: Any, where: str, *, required: bool) -> None:
    """An ISO 8601 date-time (``2026-11-20T09:05:00+09:00``; without an offset: the server's local time)."""
    if value in (None, "") and not required:
        return
    check_text(value, where, min_length=1, max_length=64)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        raise BadRequest(f"{where} must be an ISO 8601 date-time") from None


_GENERATOR_KEYS = frozenset({"size", "seed", "start", "overrides"})
# Sandbox bounds for generated tenants (the bench size is 1,000 members and 1,800,000 messages).
_OVERRIDE_RANGES = {
    "members": (1, 100_000),
    "group_rooms": (0, 100_000),
    "internal_rooms": (0, 100_000),
    "days": (1, 3650),
    "messages": (0, 100_000_000),
}


def _check_generator(params: Any) -> dict[str, Any]:
    params = check_object(params, "generator")
    unknown = sorted(set(params) - _GENERATOR_KEYS)
    if unknown:
        raise BadRequest(f"generator: unknown keys {', '.join(repr(k)[:40] for k in unknown[:5])}")
    size = params.get("size", "demo")
    if not isinstance(size, str) or size not in scenario_mod.SIZES:
        raise BadRequest(f"generator.size must be one of {', '.join(scenario_mod.SIZES)}")
    out: dict[str, Any] = {
        "size": size,
        "seed": check_int(params.get("seed", 42), "generator.seed", minimum=-(2**63), maximum=2**63 - 1),
    }
    start = params.get("start")
    if start is not None:
        check_text(start, "generator.start", min_length=1, max_length=64)
        try:
            out["start"] = datetime.fromisoformat(start)
        except ValueError:
            raise BadRequest("generator.start must be an ISO 8601 date-time") from None
        if not 1900 <= out["start"].year <= 2999:  # the generated span must stay within datetime's range
            raise BadRequest("generator.start must be a date-time between 1900 and 2999")
    overrides = check_object(params.get("overrides", {}), "generator.overrides")
    checked: dict[str, Any] = {}
    for key, value in overrides.items():
        where = f"generator.overrides.{key}"[:80]
        if key == "friends_per_member":
            pair = check_list(value, where, max_items=2)
            if len(pair) != 2:
                raise BadRequest(f"{where} must be [low, high]")
            checked[key] = tuple(check_int(v, where, minimum=0, maximum=1000) for v in pair)
            if checked[key][0] > checked[key][1]:
                raise BadRequest(f"{where} must be [low, high] with low <= high")
        elif key in _OVERRIDE_RANGES:
            low, high = _OVERRIDE_RANGES[key]
            checked[key] = check_int(value, where, minimum=low, maximum=high)
        else:
            raise BadRequest(
                "generator.overrides: unknown key; known: "
                f"{', '.join(sorted(_OVERRIDE_RANGES))}, friends_per_member"
            )
    out["overrides"] = checked
    return out


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
    """Load a generated tenant; ``params`` as :func:`_check_generator` returns them."""
    try:
        sc = scenario_mod.generate(
            params["size"], seed=params["seed"], start=params.get("start"), **params["overrides"]
        )
    except ValueError as exc:  # the generator's own consistency checks (e.g. friends low > high)
        raise InvalidParameter(f"generator: {exc}") from None
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


_SECRET = 1024  # longest client secret / bot secret the sandbox takes
_KEY = 16_384  # longest PEM public key


def check_app(app: object, where: str) -> tuple[str, str, str, str, list[str]]:
    """``{"clientId", "clientSecret", "serviceAccount", "publicKey" (or "publicKeyFile"), "scopes"}`` →
    the arguments of ``register_app``."""
    app = check_object(app, where)
    scopes = check_list(app.get("scopes", []), f"{where}.scopes", max_items=100)
    public_key = app.get("publicKey")
    if public_key is None and "publicKeyFile" in app:
        path = check_text(app["publicKeyFile"], f"{where}.publicKeyFile", min_length=1, max_length=4096)
        try:
            public_key = Path(path).read_text(encoding="utf-8")  # type: ignore[arg-type]
        except (OSError, ValueError):
            raise BadRequest(f"{where}.publicKeyFile cannot be read") from None
    return (
        check_text(app.get("clientId"), f"{where}.clientId", min_length=1, max_length=256),
        check_text(app.get("clientSecret"), f"{where}.clientSecret", min_length=1, max_length=_SECRET),
        check_text(app.get("serviceAccount"), f"{where}.serviceAccount", min_length=1, max_length=256),
        check_text(public_key, f"{where}.publicKey", min_length=1, max_length=_KEY),
        [check_text(s, f"{where}.scopes[{i}]", min_length=1, max_length=64) for i, s in enumerate(scopes)],
    )  # type: ignore[return-value]


def check_bot(bot: object, where: str) -> tuple[str, str, str | None, str]:
    """``{"botId", "secret", "callbackUrl", "name"}`` → ``register_bot`` args (the id as a string)."""
    bot = check_object(bot, where)
    bot_id = bot.get("botId")
    if isinstance(bot_id, int) and not isinstance(bot_id, bool):
        bot_id = str(check_int(bot_id, f"{where}.botId", minimum=0, maximum=2**63 - 1))
    elif not isinstance(bot_id, str) or not 1 <= len(bot_id) <= 64 or "/" in bot_id:
        raise BadRequest(
            f"{where}.botId must be an integer or a string of 1 to 64 characters (got {kind(bot_id)})"
        )
    callback = check_text(bot.get("callbackUrl"), f"{where}.callbackUrl", max_length=2048, nullable=True)
    if callback is not None and not callback.lower().startswith(("https://", "http://")):
        raise BadRequest(f"{where}.callbackUrl must be an http(s) URL")
    return (
        bot_id,
        check_text(bot.get("secret"), f"{where}.secret", max_length=_SECRET),  # type: ignore[arg-type]
        callback,
        check_text(bot.get("name", "Bot"), f"{where}.name", max_length=100),  # type: ignore[arg-type]
    )
