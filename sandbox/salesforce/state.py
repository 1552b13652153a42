"""State and domain rules of the Salesforce sandbox (SQLite), with no HTTP in it.

The schema comes from the project's SFDX source (``salesforce/``) plus the standard objects the
product touches (:mod:`lineworks_salesforce.salesforce_model`), so the sandbox and a real org cannot drift
apart. Every
write (REST, sObject Collections, Bulk) goes through :meth:`SalesforceState.save`, which applies
Salesforce's own rules and raises :class:`RecordError` with the real ``statusCode``.
"""

from __future__ import annotations

import copy
import hmac
import json
import math
import random
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import jwt

from lineworks_salesforce.salesforce_model import FieldDef, ObjectDef, Schema, default_schema
from sandbox.common.config import Check, choice, fields, integer, mapping, merge_config, number, text
from sandbox.common.faults import FaultPlan
from sandbox.common.validation import BadRequest
from sandbox.salesforce import limits, soql
from sandbox.salesforce.errors import (
    InvalidField,
    InvalidSession,
    InvalidType,
    MalformedQuery,
    NotFound,
    OAuthError,
    RecordError,
    RequestLimitExceeded,
    SalesforceError,
)

FAULT_KINDS = frozenset({"500", "503", "reset", "expire_session", "request_limit"})
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_MAX_EXP_SECONDS = limits.JWT_MAX_EXP_SECONDS
JWT_MAX_LENGTH = 16_384  # sandbox cap (UNCONFIRMED); an RS256 assertion is under 1 KB
QUERY_BATCH_SIZE = limits.QUERY_BATCH_SIZE
COLLECTION_MAX = limits.COLLECTION_MAX
API_VERSIONS = ("59.0", "60.0", "61.0", "62.0")

DEFAULT_CONFIG: dict[str, Any] = {
    "daily_api_limit": limits.DAILY_API_REQUESTS,
    "session_lifetime": 7200,
    "query_batch_size": QUERY_BATCH_SIZE,
    # Bulk 2.0: the largest CSV one job takes (150 MB; smaller in tests that prove a client splits uploads)
    "bulk2_max_upload_bytes": limits.BULK2_MAX_UPLOAD_BYTES,
    # Bulk job transitions (like moto's managed state): "background" (a worker thread processes closed
    # jobs, as Salesforce does), "immediate", or "polls" with the number of status polls a job stays
    # InProgress before it is processed on the next poll ("slow bulk jobs").
    "bulk_transition": {"mode": "background"},
    # Per-record transient failures: a share of saves fails with UNABLE_TO_LOCK_ROW, and/or the given
    # external-ID values fail their next N saves.
    "lock_rows": {"rate": 0.0, "seed": 0, "keys": {}},
    # The org's default locale: it sets the order of the derived Name of a Lead, Contact, User or person
    # Account ("LastName FirstName" for Japanese, Chinese, Korean and Hungarian, else "FirstName
    # LastName"; UNCONFIRMED for the API's Name, see docs/sandbox.md).
    "locale": "ja_JP",
}
# Locales whose names are written family name first (Salesforce Help, "Supported Locales").
_FAMILY_NAME_FIRST = frozenset({"ja", "ko", "zh", "hu"})
_LOCALE_PATTERN = r"[A-Za-z]{2,3}([_-][A-Za-z0-9]+)*"
# The type and range of every config value (PATCH /_sandbox/config, the seed's "config"): the sandbox's own
# sanity bounds (docs/sandbox.md). query_batch_size: Salesforce's batch size is 200..2,000
# (Sforce-Query-Options); the sandbox also takes smaller ones so that tests can page with few records.
CONFIG_CHECKS: dict[str, Check] = {
    "daily_api_limit": integer(0, 1_000_000_000),
    "session_lifetime": number(1, 365 * 86400),
    "query_batch_size": integer(1, QUERY_BATCH_SIZE),
    "bulk2_max_upload_bytes": integer(1, limits.BULK2_MAX_UPLOAD_BYTES),
    "bulk_transition": fields(
        {"mode": choice("background", "immediate", "polls"), "polls": integer(0, 1_000_000)}
    ),
    "lock_rows": fields(
        {
            "rate": number(0.0, 1.0),
            "seed": integer(-(2**63), 2**63 - 1),
            "keys": mapping(text(255, min_length=1), integer(0, 1_000_000), max_items=10_000),
        }
    ),
    "locale": text(32, pattern=_LOCALE_PATTERN),
}
assert set(CONFIG_CHECKS) == set(DEFAULT_CONFIG), "every config key needs a check"

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STRINGISH = {
    "string",
    "combobox",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multipicklist",
    "id",
    "reference",
}
_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, sobject TEXT, data TEXT, deleted INTEGER DEFAULT 0,
    seq INTEGER);
CREATE INDEX IF NOT EXISTS records_sobject ON records (sobject, seq);
CREATE TABLE IF NOT EXISTS ext_ids (sobject TEXT, field TEXT, value TEXT, id TEXT,
    PRIMARY KEY (sobject, field, value));
CREATE TABLE IF NOT EXISTS apps (client_id TEXT PRIMARY KEY, client_secret TEXT, public_key TEXT);
CREATE TABLE IF NOT EXISTS passwords (username TEXT PRIMARY KEY, password TEXT);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user_id TEXT, expires_at REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
"""
_TABLES = ("records", "ext_ids", "apps", "passwords", "tokens", "counters")


def id_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character Id case-insensitive (18 characters)."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if c.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return suffix


def _same_secret(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of secrets of any characters (``compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest((expected or "").encode("utf-8"), (given or "").encode("utf-8", "replace"))


def _session_token(authorization: str | None) -> str:
    """The session of ``Bearer <session>`` / ``OAuth <session>`` (scheme case-insensitive), else ``""``."""
    scheme, space, token = (authorization or "").partition(" ")
    if not space or scheme.lower() not in ("bearer", "oauth") or not token or " " in token:
        return ""
    return token


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SalesforceState:
    """One org: schema, records, sessions, API usage, faults."""

    def __init__(self, db_path: str | Path, schema: Schema | None = None) -> None:
        self.schema = schema or default_schema()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-131072")  # 128 MiB: large orgs (benchmarks) stay fast
        self._db.executescript(_SCHEMA_SQL)
        self._lock = threading.RLock()
        # Serialises API requests (taken by the protocol layer in a worker thread, see data_call).
        self.request_lock = threading.Lock()
        self.faults = FaultPlan(allowed_kinds=FAULT_KINDS)
        self.config: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)
        self.calls: Counter[str] = Counter()
        self._lock_rng = random.Random(0)
        self._query_cursors: dict[str, tuple[int, list[dict]]] = {}  # locator -> (totalSize, rows left)
        self.bulk_jobs: dict[str, Any] = {}  # owned by sandbox.salesforce.bulk_jobs (bulk1, bulk2)
        # Records referenced by the saves of one save_many (WhoId, WhatId, OwnerId): a Bulk job's Tasks
        # point at the same few parents again and again. Entries are dropped when their record is written.
        self._referenced: dict[str, tuple[str, dict] | None] | None = None

    # --- control -------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")
            self.faults.clear()
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.calls.clear()
            self._lock_rng = random.Random(0)
            self._query_cursors.clear()
            self.bulk_jobs.clear()

    def update_config(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply config changes, each checked first (``CONFIG_CHECKS``); a refused change applies nothing."""
        try:
            merged = merge_config(DEFAULT_CONFIG, self.config, changes, CONFIG_CHECKS)
        except BadRequest as exc:
            raise SalesforceError(str(exc)) from None
        with self._lock:
            self.config = merged
            if "lock_rows" in changes:
                self._lock_rng = random.Random(int(self.config["lock_rows"].get("seed", 0)))
        return copy.deepcopy(self.config)

    def register_app(self, client_id: str, client_secret: str | None, public_key: str | None) -> None:
        """A connected app: consumer key/secret and the certificate's public key (JWT bearer)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO apps VALUES (?, ?, ?)", (client_id, client_secret, public_key)
            )

    def set_password(self, username: str, password: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO passwords VALUES (?, ?)", (username, password))

    def stats(self) -> dict[str, Any]:
        rows = dict(
            self._db.execute("SELECT sobject, COUNT(*) FROM records WHERE deleted = 0 GROUP BY sobject")
        )
        return {
            "records": rows,
            "calls": dict(self.calls),
            "api_usage": self.api_usage(),
            "faults": self.faults.describe(),
        }

    # --- API usage (Sforce-Limit-Info, /limits/) -------------------------------------------------
    def api_usage(self) -> tuple[int, int]:
        row = self._db.execute("SELECT value FROM counters WHERE name = 'api_calls'").fetchone()
        return (row[0] if row else 0), int(self.config["daily_api_limit"])

    def count_api_call(self, endpoint: str) -> None:
        """Count one call toward the daily allocation; 403 REQUEST_LIMIT_EXCEEDED once it is used up."""
        used, total = self.api_usage()
        if used >= total:
            self.calls[endpoint + "!limit"] += 1
            raise RequestLimitExceeded()
        with self._lock:
            self._db.execute(
                "INSERT INTO counters VALUES ('api_calls', 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
        self.calls[endpoint] += 1

    # --- OAuth ---------------------------------------------------------------------------------
    def issue_token(self, form: dict[str, str], instance_url: str, login_url: str) -> dict[str, Any]:
        """``POST /services/oauth2/token``: JWT bearer, client credentials or username-password."""
        grant = form.get("grant_type", "")
        self.calls[f"oauth.{grant.rsplit(':', 1)[-1]}"] += 1
        client_id = form.get("client_id")
        if grant == JWT_BEARER:
            username = self._verify_assertion(form.get("assertion"), login_url)
        elif grant == "client_credentials":
            app = self._app(client_id)
            if not app[0] or not _same_secret(app[0], form.get("client_secret")):
                raise OAuthError("invalid_client", "invalid client credentials")
            username = self._integration_user()
        elif grant == "password":
            app = self._app(client_id)
            if app[0] and not _same_secret(app[0], form.get("client_secret")):
                raise OAuthError("invalid_client", "invalid client credentials")
            username = form.get("username") or ""
            row = self._db.execute(
                "SELECT password FROM passwords WHERE username = ?", (username,)
            ).fetchone()
            if row is None or not _same_secret(row[0], form.get("password")):
                raise OAuthError("invalid_grant", "authentication failure")
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        user = self._user_by_username(username)
        if user is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        token = "00D" + secrets.token_urlsafe(40)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?)",
                (token, user["Id"], time.time() + float(self.config["session_lifetime"])),
            )
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": f"{login_url}/id/00D000000000001AAA/{user['Id']}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "scope": "api",
            "signature": secrets.token_urlsafe(32),
        }

    def _app(self, client_id: str | None) -> tuple[str | None, str | None]:
        row = self._db.execute(
            "SELECT client_secret, public_key FROM apps WHERE client_id = ?", (client_id or "",)
        ).fetchone()
        if row is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return row

    def _verify_assertion(self, assertion: str | None, login_url: str) -> str:
        if not assertion:
            raise OAuthError("invalid_request", "assertion is required")
        if len(assertion) > JWT_MAX_LENGTH:
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if not isinstance(unverified.get("iss"), str):
            raise OAuthError("invalid_grant", "invalid assertion")
        _, public_key = self._app(unverified.get("iss"))
        if not public_key:
            raise OAuthError("invalid_client", "no certificate is registered for this connected app")
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256"],
                audience=login_url,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", f"audience is invalid (expected {login_url})") from None
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if not isinstance(claims["sub"], str) or claims["exp"] - time.time() > JWT_MAX_EXP_SECONDS:
            raise OAuthError("invalid_grant", "the assertion's exp is too far in the future")
        return claims["sub"]

    def _integration_user(self) -> str:
        users = [r for r in self.records("User") if r.get("IsActive", True)]
        if not users:
            raise OAuthError("invalid_grant", "no run-as user for client credentials")
        return users[0]["Username"]

    def _user_by_username(self, username: str) -> dict | None:
        return next((u for u in self.records("User") if u.get("Username") == username), None)

    def authenticate(self, authorization: str | None) -> str:
        """``Authorization: Bearer <session>`` (or ``OAuth <session>``); returns the running user's Id.

        A bare token without the scheme is refused with 401 ``INVALID_SESSION_ID``, as Salesforce does.
        """
        token = _session_token(authorization)
        row = self._db.execute("SELECT user_id, expires_at FROM tokens WHERE token = ?", (token,)).fetchone()
        if row is None or row[1] < time.time():
            raise InvalidSession()
        return row[0]

    def expire_session(self, authorization: str | None) -> None:
        token = _session_token(authorization)
        with self._lock:
            self._db.execute("UPDATE tokens SET expires_at = 0 WHERE token = ?", (token,))

    # --- records -------------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef:
        obj = self.schema.object(name)
        if obj is None:
            raise NotFound(
                f"The requested resource does not exist: sObject type '{name}' is not supported.",
                error_code="NOT_FOUND",
            )
        return obj

    def records(self, sobject: str, include_deleted: bool = False) -> Iterator[dict]:
        sql = "SELECT data, deleted FROM records WHERE sobject = ? ORDER BY seq"
        for data, deleted in self._db.execute(sql, (sobject,)).fetchall():
            if deleted and not include_deleted:
                continue
            yield json.loads(data)

    def get(self, record_id: str) -> tuple[str, dict] | None:
        row = self._db.execute(
            "SELECT sobject, data FROM records WHERE id = ? AND deleted = 0", (self._id18(record_id),)
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def _get_referenced(self, record_id: str) -> tuple[str, dict] | None:
        cache = self._referenced
        if cache is None:
            return self.get(record_id)
        if record_id not in cache:
            cache[record_id] = self.get(record_id)
        return cache[record_id]

    def _forget(self, record_id: str) -> None:
        if self._referenced:
            self._referenced.pop(record_id, None)
            self._referenced.pop(record_id[:15], None)

    def get_record(self, sobject: str, record_id: str) -> dict:
        found = self.get(record_id) if _ID_RE.match(record_id) else None
        obj = self.object(sobject)
        if found is None or found[0] != obj.name:
            raise NotFound("The requested resource does not exist", error_code="NOT_FOUND")
        return found[1]

    def find_by_external_id(self, sobject: str, field: str, value: str) -> list[str]:
        obj = self.object(sobject)
        fdef = obj.field(field)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise NotFound(f"Provided external ID field does not exist or is not accessible: {field}")
        if fdef.name == "Id":
            found = self.get(value) if _ID_RE.match(value) else None
            return [found[1]["Id"]] if found and found[0] == obj.name else []
        if fdef.unique:
            row = self._db.execute(
                "SELECT id FROM ext_ids WHERE sobject = ? AND field = ? AND value = ?",
                (obj.name, fdef.name, _norm(fdef, value)),
            ).fetchone()
            return [row[0]] if row else []
        return [r["Id"] for r in self.records(obj.name) if _eq(fdef, r.get(fdef.name), value)]

    def delete(self, sobject: str, record_id: str) -> None:
        """Delete a record.

        :raises RecordError: the object is not deletable (``deletable`` false in its describe, e.g.
            User: Salesforce deactivates users instead). The code is UNCONFIRMED for this case.
        """
        record = self.get_record(sobject, record_id)
        if not self.object(sobject).deletable:
            raise RecordError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted")
        self._forget(record["Id"])
        with self._lock:
            self._db.execute(
                "UPDATE records SET deleted = 1, data = ? WHERE id = ?",
                (json.dumps({**record, "IsDeleted": True}), record["Id"]),
            )
            self._db.execute("DELETE FROM ext_ids WHERE id = ?", (record["Id"],))

    def save(
        self,
        sobject: str,
        values: dict[str, Any],
        *,
        running_user: str | None,
        record_id: str | None = None,
        upsert_field: str | None = None,
        lock_key: str | None = None,
    ) -> tuple[str, bool]:
        """Insert (no ``record_id``) or update a record after Salesforce's validation.

        :param upsert_field: the external-ID field whose value selects insert or update.
        :param lock_key: the value checked against the ``lock_rows`` fault (the external ID or Id).
        :returns: (record Id, created)
        :raises RecordError: with the real ``statusCode``.
        """
        obj = self.object(sobject)
        values = dict(values)
        values.pop("attributes", None)
        existing: dict | None = None
        if upsert_field is not None:
            fdef = obj.field(upsert_field)
            if fdef is None or not (fdef.external_id or fdef.name == "Id"):
                raise RecordError(
                    "INVALID_FIELD",
                    f"Provided external ID field does not exist or is not accessible: {upsert_field}",
                )
            key = _pop_field(values, fdef.name)
            if key in (None, ""):
                raise RecordError("MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
            matches = self.find_by_external_id(obj.name, fdef.name, str(key))
            if len(matches) > 1:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{fdef.name}: more than one record found for external id field: {matches}",
                    [fdef.name],
                )
            if matches:
                record_id = matches[0]
            elif fdef.name != "Id":
                values[fdef.name] = key
            else:
                raise RecordError(
                    "NOT_FOUND", "Provided external ID field does not exist or is not accessible: Id"
                )
        if record_id is not None:
            found = self.get(record_id) if _ID_RE.match(str(record_id)) else None
            if found is None or found[0] != obj.name:
                raise RecordError(
                    "ENTITY_IS_DELETED"
                    if found is None and self._deleted(record_id)
                    else "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {record_id}",
                )
            existing = found[1]
        self._maybe_lock_fault(lock_key)
        with self._lock:
            return self._write(obj, values, existing, running_user)

    def _write(
        self, obj: ObjectDef, values: dict[str, Any], existing: dict | None, running_user: str | None
    ) -> tuple[str, bool]:
        creating = existing is None
        clean: dict[str, Any] = {}
        for name, value in values.items():
            fdef = obj.field(name)
            if fdef is None:
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name]
                )
            if fdef.name == "Id":
                continue
            if not (fdef.createable if creating else fdef.updateable):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fdef.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    [fdef.name],
                )
            clean[fdef.name] = self._check_value(obj, fdef, value)
        record = dict(existing or {})
        if creating:
            for fdef in obj.fields.values():
                if fdef.default_value is not None and fdef.name not in clean:
                    clean[fdef.name] = fdef.default_value
            if obj.field("OwnerId") is not None and "OwnerId" not in clean and running_user:
                clean["OwnerId"] = running_user
        record.update(clean)
        self._object_rules(obj, record, creating)
        if creating:
            missing = [
                f.name
                for f in obj.fields.values()
                if f.required_on_create and record.get(f.name) in (None, "")
            ]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        else:
            for name, value in clean.items():
                fdef = obj.field(name)
                if fdef is not None and not fdef.nillable and value is None:
                    raise RecordError(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                    )
        stamp = now_iso()
        if creating:
            seq = self._next("seq:records")
            record["Id"] = self._new_id(obj)
            record.update({"CreatedDate": stamp, "CreatedById": running_user, "IsDeleted": False})
        record.update({"LastModifiedDate": stamp, "SystemModstamp": stamp, "LastModifiedById": running_user})
        for fdef in obj.fields.values():
            if fdef.unique and fdef.name in clean:
                self._claim_unique(obj, fdef, record)
        self._forget(record["Id"])
        self._db.execute("SAVEPOINT write_record")
        try:
            if not creating:
                self._db.execute("DELETE FROM ext_ids WHERE id = ?", (record["Id"],))
            for fdef in obj.fields.values():
                if fdef.unique and record.get(fdef.name) not in (None, ""):
                    self._db.execute(
                        "INSERT INTO ext_ids VALUES (?, ?, ?, ?)",
                        (obj.name, fdef.name, _norm(fdef, record[fdef.name]), record["Id"]),
                    )
            if creating:
                self._db.execute(
                    "INSERT INTO records (id, sobject, data, seq) VALUES (?, ?, ?, ?)",
                    (record["Id"], obj.name, json.dumps(record, ensure_ascii=False), seq),
                )
            else:
                self._db.execute(
                    "UPDATE records SET data = ? WHERE id = ?",
                    (json.dumps(record, ensure_ascii=False), record["Id"]),
                )
            self._after_write(obj, record, creating, running_user)
            self._db.execute("RELEASE write_record")
        except BaseException:
            self._db.execute("ROLLBACK TO write_record")
            self._db.execute("RELEASE write_record")
            raise
        return record["Id"], creating

    def _claim_unique(self, obj: ObjectDef, fdef: FieldDef, record: dict) -> None:
        value = record.get(fdef.name)
        if value in (None, ""):
            return
        row = self._db.execute(
            "SELECT id FROM ext_ids WHERE sobject = ? AND field = ? AND value = ?",
            (obj.name, fdef.name, _norm(fdef, value)),
        ).fetchone()
        if row and row[0] != record.get("Id"):
            raise RecordError(
                "DUPLICATE_VALUE",
                f"duplicate value found: {fdef.name} duplicates value on record with id: {row[0]}",
                [fdef.name],
            )

    def _check_value(self, obj: ObjectDef, fdef: FieldDef, value: Any) -> Any:
        """Type, length, picklist and reference checks, as the API applies them."""
        if value is None or (value == "" and fdef.type not in ("string", "textarea")):
            return None
        t = fdef.type
        if t in _STRINGISH:
            if not isinstance(value, str):
                value = str(value).lower() if isinstance(value, bool) else str(value)
            if fdef.length and len(value) > fdef.length and t not in ("reference", "id"):
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{fdef.label}: data value too large: {value[:40]!r}... (max length={fdef.length})",
                    [fdef.name],
                )
            if t == "email" and not _EMAIL_RE.match(value):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{fdef.label}: invalid email address: {value}", [fdef.name]
                )
            if t == "picklist" and fdef.restricted_picklist and value not in fdef.picklist_values:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{fdef.label}: bad value for restricted picklist field: {value}",
                    [fdef.name],
                )
            if t == "reference":
                return self._check_reference(obj, fdef, value)
            return value
        if t == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if not isinstance(value, bool):
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{fdef.label}: value not of required type: {value}",
                    [fdef.name],
                )
            return value
        if t in ("int", "double", "currency", "percent"):
            try:
                number = float(value) if not isinstance(value, (bool, dict, list)) else None
            except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a double
                number = None
            if number is None or not math.isfinite(number):  # "NaN", "Infinity", "1e999"
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{fdef.label}: value not of required type: {value}",
                    [fdef.name],
                )
            if fdef.precision and abs(number) >= 10 ** (fdef.precision - fdef.scale):
                raise RecordError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{fdef.label}: number outside valid range: {value}",
                    [fdef.name],
                )
            return int(number) if t == "int" or (fdef.scale == 0 and number.is_integer()) else number
        if t == "date":
            text = str(value)[:10] if isinstance(value, str) and "T" in str(value) else str(value)
            try:
                date.fromisoformat(text)
            except ValueError:
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{fdef.label}: value not of required type: {value}",
                    [fdef.name],
                ) from None
            if not _DATE_RE.match(text):
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{fdef.label}: invalid date: {value}", [fdef.name]
                )
            return text
        if t == "datetime":
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=timezone.utc)
                parsed = parsed.astimezone(timezone.utc)  # OverflowError: 9999-12-31T23:00:00-05:00
            except (ValueError, OverflowError):
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{fdef.label}: value not of required type: {value}",
                    [fdef.name],
                ) from None
            return parsed.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return value

    def _check_reference(self, obj: ObjectDef, fdef: FieldDef, value: str) -> str:
        if not _ID_RE.match(value):
            raise RecordError(
                "MALFORMED_ID", f"{fdef.label}: id value of incorrect type: {value}", [fdef.name]
            )
        target = self.schema.by_prefix(value[:3])
        if target is None or target.name not in fdef.reference_to:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION", f"{fdef.label}: id value of incorrect type: {value}", [fdef.name]
            )
        found = self._get_referenced(value)
        if found is None:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [fdef.name]
            )
        return found[1]["Id"]

    def _object_rules(self, obj: ObjectDef, record: dict, creating: bool) -> None:
        """Salesforce's own cross-field rules for the objects the product writes."""
        if obj.name == "Task":
            who, what = record.get("WhoId"), record.get("WhatId")
            if who and self.schema.by_prefix(who[:3]).name == "Lead" and what:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Related To ID: a task whose Name is a lead cannot be related to another record",
                    ["WhatId"],
                )
            account = None
            if what and self.schema.by_prefix(what[:3]).name == "Account":
                account = what
            elif who and self.schema.by_prefix(who[:3]).name == "Contact":
                contact = self._get_referenced(who)
                account = contact[1].get("AccountId") if contact else None
            if obj.field("AccountId") is not None:
                record["AccountId"] = account
            if obj.field("IsClosed") is not None:
                record["IsClosed"] = record.get("Status") == "Completed"
        elif obj.name == "Account" and creating:
            if record.get("LastName"):
                if record.get("Name"):
                    raise RecordError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "Account Name: a person account takes FirstName/LastName, not Name",
                        ["Name"],
                    )
                record["IsPersonAccount"] = True
                record["Name"] = self._full_name(record)
            else:
                record["IsPersonAccount"] = False
                if not record.get("Name"):
                    raise RecordError(
                        "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]
                    )
        elif obj.name == "Account" and record.get("IsPersonAccount"):
            record["Name"] = self._full_name(record)  # an update of a person account
        elif obj.name in ("Lead", "Contact", "User") and obj.field("Name") is not None:
            record["Name"] = self._full_name(record)

    def _full_name(self, record: dict) -> str:
        """The derived Name: FirstName and LastName in the order of the org's locale."""
        parts = (record.get("FirstName"), record.get("LastName"))
        language = self.config["locale"].replace("-", "_").split("_", 1)[0].lower()
        if language in _FAMILY_NAME_FIRST:
            parts = parts[::-1]
        return " ".join(p for p in parts if p)

    def _after_write(self, obj: ObjectDef, record: dict, creating: bool, running_user: str | None) -> None:
        """A new person account gets its hidden Contact (``PersonContactId``); an update keeps its names."""
        if obj.name == "Account" and not creating and record.get("PersonContactId"):
            contact_id = record["PersonContactId"]
            row = self._db.execute("SELECT data FROM records WHERE id = ?", (contact_id,)).fetchone()
            if row is not None:
                contact = json.loads(row[0])
                contact.update(
                    FirstName=record.get("FirstName"),
                    LastName=record.get("LastName"),
                    Name=record["Name"],
                    Email=record.get("PersonEmail"),
                )
                self._forget(contact_id)
                self._db.execute(
                    "UPDATE records SET data = ? WHERE id = ?",
                    (json.dumps(contact, ensure_ascii=False), contact_id),
                )
        if obj.name == "Account" and creating and record.get("IsPersonAccount"):
            contact_obj = self.object("Contact")
            contact = {
                "Id": self._new_id(contact_obj),
                "FirstName": record.get("FirstName"),
                "LastName": record["LastName"],
                "Name": record["Name"],
                "AccountId": record["Id"],
                "Email": record.get("PersonEmail"),
                "IsPersonAccount": True,
                "OwnerId": record.get("OwnerId"),
                "IsDeleted": False,
                "CreatedDate": record["CreatedDate"],
            }
            self._db.execute(
                "INSERT INTO records (id, sobject, data, seq) VALUES (?, 'Contact', ?, ?)",
                (contact["Id"], json.dumps(contact, ensure_ascii=False), self._next("seq:records")),
            )
            record["PersonContactId"] = contact["Id"]
            self._db.execute(
                "UPDATE records SET data = ? WHERE id = ?",
                (json.dumps(record, ensure_ascii=False), record["Id"]),
            )

    def _maybe_lock_fault(self, key: str | None) -> None:
        cfg = self.config["lock_rows"]
        keys = cfg.get("keys") or {}
        if key is not None and keys.get(key, 0) > 0:
            keys[key] -= 1
            self.calls["record!UNABLE_TO_LOCK_ROW"] += 1
            raise RecordError(
                "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            )
        if cfg.get("rate") and self._lock_rng.random() < float(cfg["rate"]):
            self.calls["record!UNABLE_TO_LOCK_ROW"] += 1
            raise RecordError(
                "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            )

    def _deleted(self, record_id: str) -> bool:
        row = self._db.execute(
            "SELECT deleted FROM records WHERE id = ?", (self._id18(record_id),)
        ).fetchone()
        return bool(row and row[0])

    def _next(self, name: str) -> int:
        return self._db.execute(
            "INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 "
            "RETURNING value",
            (name,),
        ).fetchone()[0]

    def _new_id(self, obj: ObjectDef) -> str:
        n = self._next("id:" + obj.key_prefix)
        body = ""
        for _ in range(9):
            n, r = divmod(n, 62)
            body = _ID_CHARS[r] + body
        id15 = obj.key_prefix + "000" + body
        return id15 + id_checksum(id15)

    @staticmethod
    def _id18(record_id: str) -> str:
        return record_id + id_checksum(record_id) if len(record_id) == 15 else record_id

    def save_many(
        self,
        items: list[tuple[str, dict[str, Any], dict[str, Any]]],
        *,
        all_or_none: bool,
        running_user: str | None,
    ) -> list[dict[str, Any]]:
        """Save several records (sObject Collections, Bulk); one result per item, in order.

        ``items`` are ``(sobject, values, save_kwargs)``; ``save_kwargs["error"]`` (a :class:`RecordError`)
        marks an item the caller already refused, e.g. a duplicate key within the request. With
        ``all_or_none`` a single failure rolls every record back, as the ``allOrNone`` flag does.
        """
        results: list[dict[str, Any]] = []
        with self._lock:
            self._referenced = {}
            try:
                self._db.execute("SAVEPOINT save_many")
                for sobject, values, kwargs in items:
                    try:
                        if kwargs.get("error") is not None:
                            raise kwargs["error"]
                        record_id, created = self.save(sobject, values, running_user=running_user, **kwargs)
                        results.append({"id": record_id, "success": True, "errors": [], "created": created})
                    except RecordError as exc:
                        results.append({"id": None, "success": False, "errors": [exc.result()]})
                failed = any(not r["success"] for r in results)
                if all_or_none and failed:
                    self._db.execute("ROLLBACK TO save_many")
                    rolled_back = {
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all records were valid and the "
                        "request was using AllOrNone header",
                        "fields": [],
                    }
                    results = [
                        r if not r["success"] else {"id": None, "success": False, "errors": [rolled_back]}
                        for r in results
                    ]
                self._db.execute("RELEASE save_many")
            finally:
                self._referenced = None
        return results

    # --- queries -------------------------------------------------------------------------------
    def query(self, text: str, version: str, include_deleted: bool = False) -> dict[str, Any]:
        try:
            parsed = soql.parse(text)
            total, rows = soql.execute(
                parsed, _Source(self, include_deleted), include_deleted=include_deleted
            )
        except soql.SoqlError as exc:
            kind = {
                "MALFORMED_QUERY": MalformedQuery,
                "INVALID_FIELD": InvalidField,
                "INVALID_TYPE": InvalidType,
            }
            raise kind.get(exc.error_code, SalesforceError)(
                str(exc.message), error_code=exc.error_code
            ) from None
        obj = self.object(parsed.sobject)
        rows = [self._with_attributes(obj, row, version) for row in rows]
        return self._page(rows, total, version)

    def query_more(self, locator: str, version: str) -> dict[str, Any]:
        with self._lock:
            cursor = self._query_cursors.pop(locator, None)
        if cursor is None:
            raise SalesforceError("invalid query locator", error_code="INVALID_QUERY_LOCATOR")
        total, rows = cursor
        return self._page(rows, total, version)  # every page reports the whole query's totalSize

    def _page(self, rows: list[dict], total: int | None, version: str) -> dict[str, Any]:
        size = int(self.config["query_batch_size"])
        head, rest = rows[:size], rows[size:]
        body: dict[str, Any] = {
            "totalSize": total if total is not None else len(rows),
            "done": not rest,
            "records": head,
        }
        if rest:
            locator = "01g" + secrets.token_hex(6) + f"-{size}"
            with self._lock:
                self._query_cursors[locator] = (body["totalSize"], rest)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}"
        return body

    def _with_attributes(self, obj: ObjectDef, row: dict, version: str) -> dict:
        out: dict[str, Any] = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{row.get('Id', '')}",
            }
        }
        for key, value in row.items():
            if isinstance(value, dict):
                rel = obj.relationship(key)
                targets = rel.reference_to if rel else ()
                rtype = targets[0] if len(targets) == 1 else "Name"  # polymorphic: Who/What answer "Name"
                value = {"attributes": {"type": rtype}, **value}
            out[key] = value
        return out


class _Source:
    """The :class:`soql.RecordSource` view of the state."""

    def __init__(self, state: SalesforceState, include_deleted: bool) -> None:
        self.state, self.include_deleted = state, include_deleted

    def object_exists(self, sobject: str) -> str | None:
        obj = self.state.schema.object(sobject)
        return obj.name if obj else None

    def field(self, sobject: str, name: str) -> tuple[str, str] | None:
        obj = self.state.schema.object(sobject)
        fdef = obj.field(name) if obj else None
        return (fdef.name, fdef.type) if fdef else None

    def relationship(self, sobject: str, name: str) -> tuple[str, tuple[str, ...]] | None:
        obj = self.state.schema.object(sobject)
        fdef = obj.relationship(name) if obj else None
        return (fdef.name, fdef.reference_to) if fdef else None

    def records(self, sobject: str) -> Iterable[dict]:
        return self.state.records(sobject, include_deleted=self.include_deleted)

    def get(self, record_id: str) -> tuple[str, dict] | None:
        return self.state.get(record_id)


def _pop_field(values: dict[str, Any], name: str) -> Any:
    for key in list(values):
        if key.lower() == name.lower():
            return values.pop(key)
    return None


def _norm(fdef: FieldDef, value: Any) -> str:
    text = str(value)
    return text if fdef.case_sensitive else text.lower()


def _eq(fdef: FieldDef, a: Any, b: Any) -> bool:
    return a is not None and _norm(fdef, a) == _norm(fdef, b)
