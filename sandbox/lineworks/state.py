"""State and domain rules of the LINE WORKS sandbox (SQLite), with no HTTP in it.

One sandbox emulates one tenant (domain). Everything a test or demo needs to set up goes through
:meth:`LineWorksState.seed` (a scenario file) or the control API; everything the API answers comes
from here. Errors are raised as :mod:`sandbox.lineworks.errors` classes carrying the wire code.
"""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import hmac
import io
import json
import math
import re
import secrets
import sqlite3
import string
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt

from sandbox.common.config import Check, boolean, choice, integer, mapping, merge_config, number, text
from sandbox.common.faults import FaultPlan
from sandbox.common.validation import BadRequest
from sandbox.lineworks import limits
from sandbox.lineworks.errors import (
    Forbidden,
    InvalidParameter,
    LineWorksError,
    MissingParameter,
    NotFound,
    NotImplementedBySandbox,
    OAuthError,
    OutOfRange,
    TooManyRequests,
    Unauthorized,
)

FAULT_KINDS = frozenset({"429", "500", "503", "reset", "expire_token", "download_error", "repeat_cursor"})
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_TOKEN_LIFETIME = 90 * 86400  # 90 days (DOC:auth-jwt)

DEFAULT_CONFIG: dict[str, Any] = {
    "token_lifetime": 86400,  # access token seconds (1 h or 24 h per app in the real service)
    "refresh_token_rotation": False,  # per-app setting since 2024-12-06, default OFF
    "rate_limits": {
        "default": limits.RATE_LIMIT_STANDARD,
        "monitoring": limits.RATE_LIMIT_MONITORING,
        "audit": limits.RATE_LIMIT_AUDIT,
    },
    "contacts_max_results": limits.CONTACTS_MAX_RESULTS,
    "download_host": None,  # None: the other loopback name (localhost <-> 127.0.0.1)
    "download_url_ttl": 300,
    "download_slot_timeout": 60,
    # How a second concurrent download is rejected is UNCONFIRMED (429 or 403); configurable.
    "concurrent_download_status": 429,
    "rate_window_seconds": limits.RATE_WINDOW_SECONDS,  # shorten only to exercise limits quickly
    "injected_rate_limit_reset": 1,  # rateLimit-reset sent with an injected 429
    "csv_bom": True,
    "csv_date_format": "iso",  # iso: 2025-05-30T18:24:53+09:00 | slash: 2026/09/01 09:00:00 | dash
    "csv_timezone": "Asia/Tokyo",
    "csv_member_format": "{name} ({email})",  # person cells (lineworks-api.md §4.3); "{email}" also seen
    "csv_recipient_separator": ", ",  # UNCONFIRMED: how several recipients share one cell
    "callback_ca_bundle": None,  # CA file the callback sender trusts (None: system CAs)
}


def _time_zone(value: str, where: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(f"{where} must be an IANA time zone name such as Asia/Tokyo") from None
    return value


def _member_format(value: str, where: str) -> str:
    """A ``str.format`` template using only ``{name}`` and ``{email}`` (no attributes, specs, widths)."""
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError:
        raise BadRequest(f"{where} is not a valid template (use {{name}} and {{email}})") from None
    for _, field_name, spec, conversion in parts:
        if field_name is not None and (field_name not in ("name", "email") or spec or conversion):
            raise BadRequest(f"{where} may only use the fields {{name}} and {{email}}")
    return value


def _existing_file(value: str, where: str) -> str:
    if "\0" in value or not Path(value).is_file():
        raise BadRequest(f"{where} must be the path of an existing CA file")
    return value


# The type and range of every config value (PATCH /_sandbox/config, the scenario file's "config"). The
# ranges are the sandbox's own sanity bounds (docs/sandbox.md), wide enough for every test and benchmark.
DAY = 86400
CONFIG_CHECKS: dict[str, Check] = {
    "token_lifetime": integer(1, 365 * DAY),
    "refresh_token_rotation": boolean(),
    "rate_limits": mapping(
        text(64, min_length=1, pattern=r"[A-Za-z0-9_.-]+"), integer(0, 1_000_000_000), max_items=64
    ),
    "contacts_max_results": integer(1, 10_000_000),
    "download_host": text(253, min_length=1, pattern=r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", nullable=True),
    "download_url_ttl": number(0, 7 * DAY),
    "download_slot_timeout": number(0, 7 * DAY),
    "concurrent_download_status": integer(400, 499),
    "rate_window_seconds": number(0.001, DAY),
    "injected_rate_limit_reset": integer(0, DAY),
    "csv_bom": boolean(),
    "csv_date_format": choice("iso", "slash", "dash"),
    "csv_timezone": text(64, min_length=1, extra=_time_zone),
    "csv_member_format": text(200, extra=_member_format),
    "csv_recipient_separator": text(16),
    "callback_ca_bundle": text(4096, min_length=1, nullable=True, extra=_existing_file),
}
assert set(CONFIG_CHECKS) == set(DEFAULT_CONFIG), "every config key needs a check"

_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (client_id TEXT PRIMARY KEY, client_secret TEXT, service_account TEXT,
    public_key TEXT, scopes TEXT);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, kind TEXT, client_id TEXT, scopes TEXT,
    expires_at REAL);
CREATE TABLE IF NOT EXISTS bots (bot_id TEXT PRIMARY KEY, name TEXT, secret TEXT, callback_url TEXT);
CREATE TABLE IF NOT EXISTS users (ordinal INTEGER PRIMARY KEY, user_id TEXT UNIQUE, email TEXT UNIQUE,
    external_key TEXT, doc TEXT);
CREATE TABLE IF NOT EXISTS contacts (ordinal INTEGER PRIMARY KEY, contact_id TEXT UNIQUE, linked INTEGER,
    created_at REAL, modified_at REAL, display_name TEXT, doc TEXT);
CREATE TABLE IF NOT EXISTS rooms (channel_id TEXT PRIMARY KEY, kind TEXT, title TEXT, doc TEXT);
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, sent_at REAL, channel_id TEXT, sender TEXT,
    recipients TEXT, is_bot INTEGER, kind TEXT, text TEXT);
CREATE INDEX IF NOT EXISTS messages_time ON messages (sent_at, seq);
CREATE TABLE IF NOT EXISTS bot_messages (seq INTEGER PRIMARY KEY, bot_id TEXT, target_kind TEXT,
    target_id TEXT, content TEXT, created_at REAL);
"""
_TABLES = ("apps", "tokens", "bots", "users", "contacts", "rooms", "messages", "bot_messages")


@dataclass(frozen=True)
class TokenInfo:
    token: str
    client_id: str
    scopes: frozenset[str]


@dataclass
class _Ticket:
    kind: str  # "monitoring" | "audit"
    params: dict[str, Any]
    expires_at: float
    used: bool = False


def parse_api_time(name: str, value: str | None, required: bool = True) -> datetime | None:
    """Parse ``YYYY-MM-DDThh:mm:ssTZD``; a ``+`` sent unencoded arrives as a space and is rejected."""
    if value is None or value == "":
        if required:
            raise MissingParameter(f"{name} is required")
        return None
    if not _TIME_RE.match(value):
        raise InvalidParameter(f"{name} must be in YYYY-MM-DDThh:mm:ssTZD format (URL-encode '+' as %2B)")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # matches the pattern but is no real date/time, e.g. month 13
        raise InvalidParameter(f"{name} is not a valid date and time: {value}") from None


class LineWorksState:
    """The tenant: apps, tokens, bots, users, contacts, rooms, messages, downloads, limits, faults."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._lock = threading.RLock()
        self.faults = FaultPlan(allowed_kinds=FAULT_KINDS)
        self.rate_limiter = limits.RateLimiter()
        self.config: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)
        self.calls: Counter[str] = Counter()
        self.domain_id = 10000001
        self.company_name = "株式会社サンドボックス"
        self._tickets: dict[str, _Ticket] = {}
        self._download_busy_until = 0.0
        self._db.executescript(_SCHEMA)
        self._load_meta()

    # --- control -------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")
            self.faults.clear()
            self.rate_limiter.reset()
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.calls.clear()
            self._tickets.clear()
            self._download_busy_until = 0.0
            self.domain_id, self.company_name = 10000001, "株式会社サンドボックス"

    def update_config(self, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            merged = merge_config(DEFAULT_CONFIG, self.config, changes, CONFIG_CHECKS)
        except BadRequest as exc:
            raise InvalidParameter(str(exc)) from None
        with self._lock:
            self.config = merged
            return copy.deepcopy(self.config)

    def _load_meta(self) -> None:
        row = self._db.execute("SELECT doc FROM rooms WHERE channel_id = '__meta__'").fetchone()
        if row:
            meta = json.loads(row[0])
            self.domain_id, self.company_name = meta["domain_id"], meta["company_name"]

    def _save_meta(self) -> None:
        doc = json.dumps({"domain_id": self.domain_id, "company_name": self.company_name})
        self._db.execute("INSERT OR REPLACE INTO rooms VALUES ('__meta__', 'meta', '', ?)", (doc,))

    def register_app(
        self, client_id: str, client_secret: str, service_account: str, public_key: str, scopes: Iterable[str]
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO apps VALUES (?, ?, ?, ?, ?)",
                (client_id, client_secret, service_account, public_key, " ".join(scopes)),
            )

    def register_bot(
        self, bot_id: int | str, secret: str, callback_url: str | None = None, name: str = "Bot"
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO bots VALUES (?, ?, ?, ?)", (str(bot_id), name, secret, callback_url)
            )

    def bots(self) -> list[dict[str, Any]]:
        """Every registered bot (id and name; no secret)."""
        rows = self._db.execute("SELECT bot_id, name FROM bots ORDER BY bot_id").fetchall()
        return [{"botId": r[0], "name": r[1]} for r in rows]

    def add_friend(self, member_user_id: str, display_name: str) -> dict[str, Any]:
        """A customer adds ``member_user_id`` as a LINE friend now: a new linked contact of that member."""
        import uuid

        self.get_user(member_user_id)  # NotFound for an unknown member
        contact = {
            "contactId": str(uuid.uuid4()),
            "contactName": {"lastName": display_name, "firstName": ""},
            "linkedExternalUser": {"id": str(uuid.uuid4()), "type": "LINE", "buddyUserIds": [member_user_id]},
            "permission": {"masterUserId": member_user_id, "accessibleRange": "MEMBER"},
        }
        now = time.time()
        with self._lock:
            self.insert(
                "contacts",
                [
                    (
                        self.next_ordinal("contacts"),
                        contact["contactId"],
                        1,
                        now,
                        now,
                        display_name,
                        json.dumps(contact, ensure_ascii=False),
                    )
                ],
            )
        return contact

    def has_bot(self, bot_id: int | str) -> bool:
        return self._db.execute("SELECT 1 FROM bots WHERE bot_id = ?", (str(bot_id),)).fetchone() is not None

    def bot(self, bot_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT bot_id, name, secret, callback_url FROM bots WHERE bot_id = ?", (str(bot_id),)
        ).fetchone()
        if row is None:
            raise NotFound(f"bot {bot_id} does not exist")
        return {"botId": row[0], "name": row[1], "secret": row[2], "callbackUrl": row[3]}

    def stats(self) -> dict[str, Any]:
        counts = {t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _TABLES}
        counts["rooms"] -= (
            1 if self._db.execute("SELECT 1 FROM rooms WHERE channel_id='__meta__'").fetchone() else 0
        )
        return {
            "domainId": self.domain_id,
            "rows": counts,
            "calls": dict(self.calls),
            "faults": self.faults.describe(),
        }

    def directory(self) -> dict[str, Any]:
        """The tenant's members (``GET /users/{id}`` documents) and LINE friends (contact id, display name,
        LINE user id, ``buddyUserIds``), in seeding order: what a seeder of the Salesforce side needs."""
        users = [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM users ORDER BY ordinal")]
        friends = []
        for contact_id, display, doc in self._db.execute(
            "SELECT contact_id, display_name, doc FROM contacts WHERE linked = 1 ORDER BY ordinal"
        ):
            linked = json.loads(doc)["linkedExternalUser"]
            friends.append(
                {
                    "contactId": contact_id,
                    "display": display,
                    "externalUserId": linked.get("id"),
                    "buddyUserIds": list(linked.get("buddyUserIds") or []),
                }
            )
        return {"domainId": self.domain_id, "users": users, "friends": friends}

    # --- OAuth ---------------------------------------------------------------------------------
    def issue_token(self, form: dict[str, str]) -> dict[str, str]:
        """The token endpoint: JWT bearer grant or refresh grant (DOC:auth-jwt)."""
        grant_type = form.get("grant_type") or ""
        if "%3A" in grant_type.upper():
            grant_type = unquote(grant_type)  # the official Python sample quotes it once (§2.3)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not client_id or not client_secret:
            raise OAuthError("invalid_request", "client_id and client_secret are required")
        app = self._db.execute(
            "SELECT client_secret, service_account, public_key, scopes FROM apps WHERE client_id = ?",
            (client_id,),
        ).fetchone()
        if app is None or not _same_secret(app[0], client_secret):
            raise OAuthError("invalid_client", "client authentication failed", status=401)
        self.calls[f"token.{'jwt' if grant_type == JWT_BEARER else grant_type}"] += 1
        if grant_type == JWT_BEARER:
            self._verify_assertion(form.get("assertion"), client_id, app[1], app[2])
            requested = (form.get("scope") or "").split()
            if not requested:
                raise OAuthError("invalid_request", "scope is required")
            unknown = sorted(set(requested) - set(app[3].split()))
            if unknown:
                raise OAuthError("invalid_scope", f"scope not granted to this app: {' '.join(unknown)}")
            return self._new_tokens(client_id, requested, with_refresh=True)
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token")
            row = self._db.execute(
                "SELECT client_id, scopes, expires_at FROM tokens WHERE token = ? AND kind = 'refresh'",
                (refresh or "",),
            ).fetchone()
            if row is None or row[0] != client_id or row[2] < time.time():
                raise OAuthError("invalid_grant", "refresh token is invalid or expired")
            rotate = bool(self.config["refresh_token_rotation"])
            if rotate:
                self._db.execute("DELETE FROM tokens WHERE token = ?", (refresh,))
            return self._new_tokens(client_id, row[1].split(), with_refresh=rotate)
        raise OAuthError("unsupported_grant_type", "grant_type must be jwt-bearer or refresh_token")

    def _verify_assertion(
        self, assertion: str | None, client_id: str, service_account: str, public_key: str
    ) -> dict[str, Any]:
        if not assertion:
            raise OAuthError("invalid_request", "assertion is required")
        if "=" in assertion:
            raise OAuthError("invalid_grant", "assertion must be base64url encoded without padding")
        if len(assertion) > limits.JWT_MAX_LENGTH:
            raise OAuthError("invalid_grant", "assertion is too long")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise OAuthError("invalid_grant", "assertion is not a valid JWT") from None
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "assertion must be signed with RS256")
        for claim in ("iat", "exp"):
            value = unverified.get(claim)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or abs(value) > 2**53
            ):
                raise OAuthError("invalid_grant", f"{claim} must be a number (Unix seconds)")
        for claim in ("iss", "sub"):
            if not isinstance(unverified.get(claim), str):
                raise OAuthError("invalid_grant", f"{claim} must be a string")
        try:
            claims = jwt.decode(
                assertion, public_key, algorithms=["RS256"], options={"require": ["iss", "sub", "iat", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "assertion has expired") from None
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            raise OAuthError("invalid_grant", "assertion signature or claims are invalid") from None
        if claims["iss"] != client_id:
            raise OAuthError("invalid_grant", "iss must be the client ID")
        if claims["sub"] != service_account:
            raise OAuthError("invalid_grant", "sub must be the service account of this app")
        if claims["exp"] - claims["iat"] > limits.JWT_MAX_LIFETIME_SECONDS:
            raise OAuthError("invalid_grant", "assertion lifetime must be at most 60 minutes")
        return claims

    def _new_tokens(self, client_id: str, scopes: list[str], with_refresh: bool) -> dict[str, str]:
        lifetime = int(self.config["token_lifetime"])
        access = "kr1" + secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, 'access', ?, ?, ?)",
                (access, client_id, " ".join(scopes), now + lifetime),
            )
            body = {
                "access_token": access,
                "scope": " ".join(scopes),
                "token_type": "Bearer",
                # a string in practice (official Java sample model, lineworks-api.md §2.4)
                "expires_in": str(lifetime),
            }
            if with_refresh:
                refresh = "kr1" + secrets.token_urlsafe(32)
                self._db.execute(
                    "INSERT INTO tokens VALUES (?, 'refresh', ?, ?, ?)",
                    (refresh, client_id, " ".join(scopes), now + REFRESH_TOKEN_LIFETIME),
                )
                body["refresh_token"] = refresh
        return body

    def authenticate(self, authorization: str | None) -> TokenInfo:
        """Check ``Authorization: Bearer <token>`` (exactly one space, DOC:api-call)."""
        if not authorization or not authorization.startswith("Bearer ") or authorization.count(" ") != 1:
            raise Unauthorized("Authentication failed.", invalid_token=bool(authorization))
        token = authorization[len("Bearer ") :]
        row = self._db.execute(
            "SELECT client_id, scopes, expires_at FROM tokens WHERE token = ? AND kind = 'access'", (token,)
        ).fetchone()
        if row is None or row[2] < time.time():
            raise Unauthorized("Authentication failed.")
        return TokenInfo(token, row[0], frozenset(row[1].split()))

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._db.execute("UPDATE tokens SET expires_at = 0 WHERE token = ?", (token,))

    @staticmethod
    def require_scope(token: TokenInfo, any_of: Iterable[str]) -> None:
        """403 FORBIDDEN unless the token holds one of ``any_of`` (``xxx`` implies ``xxx.read``)."""
        held = set(token.scopes) | {s + ".read" for s in token.scopes if not s.endswith(".read")}
        wanted = tuple(any_of)
        if not held.intersection(wanted):
            raise Forbidden(f"insufficient scope: one of {', '.join(wanted)} is required")

    def count_call(self, operation: str, family: str) -> dict[str, str]:
        """Count a call against the per-API rate limit; returns the ``rateLimit-*`` headers."""
        rate_limits = self.config["rate_limits"]
        limit = int(rate_limits.get(family, rate_limits["default"]))
        window = float(self.config["rate_window_seconds"])
        try:
            headers = self.rate_limiter.hit(self.domain_id, family, limit, window=window)
        except TooManyRequests:
            self.calls[operation + "!429"] += 1  # refused by the rate limit (not an injected fault)
            raise
        self.calls[operation] += 1
        return headers

    # --- directory -----------------------------------------------------------------------------
    def list_users(self, count: str | None, cursor: str | None) -> dict[str, Any]:
        n = _count_param(count, limits.USERS_COUNT_DEFAULT, limits.USERS_COUNT_MAX)
        query_id = "users"
        offset = _decode_cursor(cursor, query_id) if cursor else 0
        rows = self._db.execute(
            "SELECT doc FROM users ORDER BY ordinal LIMIT ? OFFSET ?", (n + 1, offset)
        ).fetchall()
        users = [json.loads(r[0]) for r in rows[:n]]
        return _page("users", users, _encode_cursor(query_id, offset + n) if len(rows) > n else None)

    def get_user(self, user_id: str) -> dict[str, Any]:
        """``{userId}`` may be the user ID, the login e-mail or ``externalKey:<key>`` (DOC:user-get)."""
        if user_id.startswith("externalKey:"):
            row = self._db.execute("SELECT doc FROM users WHERE external_key = ?", (user_id[12:],)).fetchone()
        else:
            row = self._db.execute(
                "SELECT doc FROM users WHERE user_id = ? OR email = ?", (user_id, user_id.lower())
            ).fetchone()
        if row is None:
            raise NotFound(f"user {user_id} does not exist", code="USER_NOT_EXIST")
        return json.loads(row[0])

    def list_contacts(self, params: dict[str, str]) -> dict[str, Any]:
        """``GET /contacts`` with the documented filters, 7-day window and 50,000 cap (DOC:contact-list)."""
        n = _count_param(params.get("count"), limits.CONTACTS_COUNT_DEFAULT, limits.CONTACTS_COUNT_MAX)
        where, args = ["1=1"], []
        date_type = params.get("searchDateType")
        start = parse_api_time("startDateTime", params.get("startDateTime"), required=False)
        end = parse_api_time("endDateTime", params.get("endDateTime"), required=False)
        if start or end:
            if date_type not in ("CREATED_TIME", "MODIFIED_TIME"):
                raise InvalidParameter(
                    "searchDateType (CREATED_TIME or MODIFIED_TIME) is required with a period"
                )
            if not (start and end):
                raise MissingParameter("startDateTime and endDateTime are both required")
            if end <= start:
                raise InvalidParameter("endDateTime must be after startDateTime")
            if end - start > timedelta(days=limits.CONTACTS_MAX_WINDOW_DAYS):
                raise OutOfRange(f"the period must be at most {limits.CONTACTS_MAX_WINDOW_DAYS} days")
            column = "created_at" if date_type == "CREATED_TIME" else "modified_at"
            where.append(f"{column} >= ? AND {column} < ?")
            args += [start.timestamp(), end.timestamp()]
        elif date_type is not None and date_type not in ("CREATED_TIME", "MODIFIED_TIME"):
            raise InvalidParameter("searchDateType must be CREATED_TIME or MODIFIED_TIME")
        filter_type = params.get("searchFilterType")
        if filter_type == "LINKED_EXTERNAL_USER":
            where.append("linked = 1")
        elif filter_type is not None:
            raise InvalidParameter("searchFilterType must be LINKED_EXTERNAL_USER")
        for unsupported in ("contactTagId", "orderBy"):
            if params.get(unsupported):
                raise NotImplementedBySandbox(f"the sandbox does not emulate {unsupported} on /contacts")
        query_id = "contacts|" + "|".join(
            f"{k}={params.get(k)}"
            for k in ("searchDateType", "startDateTime", "endDateTime", "searchFilterType")
        )
        offset = _decode_cursor(params["cursor"], query_id) if params.get("cursor") else 0
        cap = int(self.config["contacts_max_results"])
        limit = max(0, min(n, cap - offset))
        rows = self._db.execute(
            f"SELECT doc FROM contacts WHERE {' AND '.join(where)} ORDER BY ordinal LIMIT ? OFFSET ?",
            (*args, limit + 1, offset),
        ).fetchall()
        contacts = [json.loads(r[0]) for r in rows[:limit]]
        more = len(rows) > limit and offset + limit < cap
        return _page("contacts", contacts, _encode_cursor(query_id, offset + limit) if more else None)

    # --- bot -----------------------------------------------------------------------------------
    def send_bot_message(self, bot_id: str, target_kind: str, target_id: str, body: Any) -> None:
        self.bot(bot_id)
        if not isinstance(body, dict) or "content" not in body:
            raise InvalidParameter("content is required")
        extra = sorted(set(body) - {"content"})
        if extra:  # "undefined properties may cause errors" (DOC:bot-user-message-send)
            raise InvalidParameter(f"undefined properties: {', '.join(extra)}")
        try:
            limits.validate_content(body["content"])
        except (AttributeError, TypeError):  # a field of the wrong JSON type (e.g. an array for an object)
            raise InvalidParameter("content is malformed: a field has the wrong type") from None
        if target_kind == "user":
            target_id = self.get_user(target_id)["userId"]
        elif self._db.execute("SELECT 1 FROM rooms WHERE channel_id = ?", (target_id,)).fetchone() is None:
            raise NotFound(f"channel {target_id} does not exist", code="CHANNEL_NOT_EXIST")
        with self._lock:
            self._db.execute(
                "INSERT INTO bot_messages (bot_id, target_kind, target_id, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    str(bot_id),
                    target_kind,
                    target_id,
                    json.dumps(body["content"], ensure_ascii=False),
                    time.time(),
                ),
            )

    def bot_messages(self, bot_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT seq, target_kind, target_id, content, created_at FROM bot_messages "
            "WHERE bot_id = ? ORDER BY seq",
            (str(bot_id),),
        ).fetchall()
        return [
            {
                "seq": r[0],
                "targetType": r[1],
                "targetId": r[2],
                "content": json.loads(r[3]),
                "createdAt": r[4],
            }
            for r in rows
        ]

    # --- monitoring / audit downloads ----------------------------------------------------------
    def open_download(self, kind: str, params: dict[str, str]) -> str:
        """Validate a download request and reserve the tenant's single download slot; returns a ticket."""
        start = parse_api_time("startTime", params.get("startTime"))
        end = parse_api_time("endTime", params.get("endTime"))
        assert start is not None and end is not None
        if end <= start:
            raise InvalidParameter("endTime must be after startTime")
        if end - start > timedelta(days=limits.DOWNLOAD_MAX_DAYS):
            raise OutOfRange(f"the period must be at most {limits.DOWNLOAD_MAX_DAYS} days")
        language = params.get("language") or "en_US"
        if language not in ("ja_JP", "ko_KR", "zh_CN", "zh_TW", "en_US"):
            raise InvalidParameter("language must be one of ja_JP, ko_KR, zh_CN, zh_TW, en_US")
        bot_filter = params.get("botMessageFilterType") or "include"
        if bot_filter not in ("include", "exclude", "only"):
            raise InvalidParameter("botMessageFilterType must be include, exclude or only")
        domain = params.get("domainId")
        if domain and not (domain.isascii() and domain.isdigit() and len(domain) <= 18):
            raise InvalidParameter("domainId must be an integer")
        if params.get("domainId") and int(params["domainId"]) != self.domain_id:
            raise Forbidden("no access to that domain")
        if kind == "audit":
            service = params.get("service")
            if not service:
                raise MissingParameter("service is required")
            if service not in AUDIT_SERVICES:
                raise InvalidParameter(f"service is invalid: {service}")
            if service != "message":
                raise NotImplementedBySandbox(
                    f"the sandbox emulates the audit service 'message' only, not {service!r}"
                )
        now = time.monotonic()
        with self._lock:
            if now < self._download_busy_until:
                self.calls["download.rejected_concurrent"] += 1
                status = int(self.config["concurrent_download_status"])
                if status == 429:
                    raise TooManyRequests(
                        "another download is in progress; finish it before requesting again"
                    )
                raise LineWorksError("another download is in progress", code="LIMIT_EXCEEDED", status=status)
            self._download_busy_until = now + float(self.config["download_slot_timeout"])
            ticket = secrets.token_urlsafe(24)
            self._tickets[ticket] = _Ticket(
                kind,
                {"start": start, "end": end, "language": language, "bot_filter": bot_filter},
                now + self.config["download_url_ttl"],
            )
        return ticket

    def release_download_slot(self) -> None:
        with self._lock:
            self._download_busy_until = 0.0

    def claim_ticket(self, ticket_id: str) -> _Ticket:
        with self._lock:
            ticket = self._tickets.pop(ticket_id, None)
        if ticket is None:
            raise NotFound("unknown download URL; request a new one")
        if ticket.expires_at < time.monotonic():
            self.release_download_slot()
            raise NotFound("the download URL has expired; request a new one")
        return ticket

    def render_csv(self, ticket: _Ticket, fail_midway: bool = False) -> Iterator[bytes]:
        """Stream the CSV of a download ticket in chunks, from its own read connection."""
        cfg = self.config
        tz = ZoneInfo(cfg["csv_timezone"])
        params = ticket.params
        ja = params["language"] == "ja_JP"
        if ticket.kind == "monitoring":
            header = MONITORING_HEADERS["ja_JP" if ja else "en_US"]
        else:
            header = AUDIT_MESSAGE_HEADERS["ja_JP" if ja else "en_US"]
        names = self._person_cells()
        sep = cfg["csv_recipient_separator"]
        fmt = _DATE_FORMATS[cfg["csv_date_format"]]
        event_sent, event_bot = ("送信", "Bot送信") if ja else ("Message sent", "Bot message sent")
        where = "sent_at >= ? AND sent_at < ?"
        if params["bot_filter"] == "exclude":
            where += " AND is_bot = 0"
        elif params["bot_filter"] == "only":
            where += " AND is_bot = 1"
        reader = sqlite3.connect(self.db_path, check_same_thread=False)
        try:
            total = reader.execute(
                f"SELECT COUNT(*) FROM messages WHERE {where}",
                (params["start"].timestamp(), params["end"].timestamp()),
            ).fetchone()[0]
            fail_after = total // 2 if fail_midway else -1
            cur = reader.execute(
                f"SELECT sent_at, channel_id, sender, recipients, is_bot, text FROM messages "
                f"WHERE {where} ORDER BY sent_at, seq",
                (params["start"].timestamp(), params["end"].timestamp()),
            )
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            if cfg["csv_bom"]:
                buf.write("\ufeff")
            writer.writerow(header)
            written = 0
            while True:
                rows = cur.fetchmany(2000)
                if not rows:
                    break
                for sent_at, channel, sender, recipients, is_bot, text in rows:
                    if written == fail_after:
                        break
                    when = datetime.fromtimestamp(sent_at, tz).strftime(fmt)
                    if fmt == _ISO:
                        when = when[:-2] + ":" + when[-2:]
                    recv = sep.join(names.get(r, r) for r in recipients.split("|") if r)
                    last = text if ticket.kind == "monitoring" else (event_bot if is_bot else event_sent)
                    writer.writerow((when, names.get(sender, sender), recv, channel, last))
                    written += 1
                if written == fail_after:
                    break
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
            if fail_midway:
                buf.write("downloadLogs error: an internal error occurred while writing the log\n")
            yield buf.getvalue().encode("utf-8")
        finally:
            reader.close()
            self.release_download_slot()

    def _person_cells(self) -> dict[str, str]:
        cells: dict[str, str] = {}
        fmt = self.config["csv_member_format"]
        for user_id, doc in self._db.execute("SELECT user_id, doc FROM users"):
            user = json.loads(doc)
            name = f"{user['userName']['lastName']} {user['userName']['firstName']}".strip()
            cells["m:" + user_id] = fmt.format(name=name, email=user["email"])
        for contact_id, display in self._db.execute("SELECT contact_id, display_name FROM contacts"):
            cells["f:" + contact_id] = display
        for bot_id, name in self._db.execute("SELECT bot_id, name FROM bots"):
            cells["b:" + bot_id] = f"[Bot]{name}"
        return cells

    # --- seeding -------------------------------------------------------------------------------
    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Load a scenario file (see docs/sandbox.md): generator parameters and/or explicit records."""
        from sandbox.lineworks import seeding  # the scenario generator is only needed here

        with self._lock:
            seeding.load(self, spec)
            self._save_meta()
        return self.stats()

    def insert(self, table: str, rows: Iterable[tuple]) -> None:
        """Bulk insert used by the seeder (``table`` is one of the known tables)."""
        if table not in _TABLES:
            raise ValueError(table)
        it = iter(rows)
        with self._lock:
            while True:
                chunk = [r for _, r in zip(range(50_000), it)]
                if not chunk:
                    break
                marks = ",".join("?" * len(chunk[0]))
                self._db.execute("BEGIN")
                self._db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", chunk)
                self._db.execute("COMMIT")

    def next_ordinal(self, table: str) -> int:
        column = "seq" if table in ("messages", "bot_messages") else "ordinal"
        return (self._db.execute(f"SELECT MAX({column}) FROM {table}").fetchone()[0] or 0) + 1


AUDIT_SERVICES = frozenset(
    {
        "admin",
        "board",
        "bot",
        "drive",
        "calendar",
        "contact",
        "task",
        "form",
        "share",
        "note",
        "received-mail",
        "sent-mail",
        "deleted-mail",
        "message",
        "message-join-exit",
        "call",
        "ainote",
        "template",
        "mobile-capture",
        "developer",
        "delegated-api",
        "auth",
        "file-download",
        "aistudio-regist",
        "aistudio-talk",
        "paperon",
        "developer-console",
    }
)
# ja_JP is documented by a third-party fixture (lineworks-api.md §5); en_US is an assumption.
MONITORING_HEADERS = {
    "ja_JP": ("日時", "送信者", "受信者", "チャンネルID", "トーク"),
    "en_US": ("Date", "Sender", "Recipient", "Channel ID", "Message"),
}
AUDIT_MESSAGE_HEADERS = {
    "ja_JP": ("日時", "送信者", "受信者", "チャンネルID", "イベント"),
    "en_US": ("Date", "Sender", "Recipient", "Channel ID", "Event"),
}
_ISO = "%Y-%m-%dT%H:%M:%S%z"
_DATE_FORMATS = {"iso": _ISO, "slash": "%Y/%m/%d %H:%M:%S", "dash": "%Y-%m-%d %H:%M:%S"}


def _same_secret(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of secrets of any characters (``compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest((expected or "").encode("utf-8"), (given or "").encode("utf-8", "replace"))


def _count_param(value: str | None, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or not 1 <= int(value) <= maximum:
        raise InvalidParameter(f"count must be an integer from 1 to {maximum}")
    return int(value)


def _encode_cursor(query_id: str, offset: int) -> str:
    """Opaque cursor; the leading bytes make it contain '+', '/' and '=' like the real ones (§1.3)."""
    payload = json.dumps({"o": offset, "q": hashlib.sha1(query_id.encode()).hexdigest()[:8]}).encode()
    raw = b"\xfb\xff" + payload
    if len(raw) % 3 == 0:
        raw += b" "
    return base64.b64encode(raw).decode()


_MAX_CURSOR_OFFSET = 2**31 - 1


def _decode_cursor(cursor: str, query_id: str) -> int:
    try:
        doc = json.loads(base64.b64decode(cursor.encode(), validate=True)[2:])
        if doc["q"] != hashlib.sha1(query_id.encode()).hexdigest()[:8]:
            raise ValueError("cursor belongs to another query")
        offset = doc["o"]
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= _MAX_CURSOR_OFFSET:
            raise ValueError("offset out of range")
        return offset
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InvalidParameter("cursor is invalid (URL-encode it when sending it back)") from None


def _page(key: str, items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {key: items, "responseMetaData": {}}
    if next_cursor:
        body["responseMetaData"]["nextCursor"] = next_cursor
    return body


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
