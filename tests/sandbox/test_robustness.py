"""Malformed requests against both running sandboxes: always a 4xx in the sandbox's own error shape.

A corpus of bad requests (wrong JSON types, non-object bodies, JSON nested 100,000 deep, NaN and
huge numbers, lone surrogates, bad config values, missing ``Bearer``, SOQL numbers that overflow dates
and integers, ...) is sent to the real HTTPS servers of ``tests/conftest.py``. For each one:

* the answer is a 4xx (the exact status and error code where it matters), never a 5xx;
* the body is the sandbox's documented error shape, and does not echo a value that could be a secret;
* afterwards the server is healthy: a token request and a normal API call succeed, and the config is
  still the default one (a refused change did not take effect).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from hooks.transport import make_session
from sandbox.common.jsonbody import MAX_DEPTH, parse_json
from sandbox.lineworks.state import DEFAULT_CONFIG as LW_DEFAULT_CONFIG
from sandbox.salesforce.state import DEFAULT_CONFIG as SF_DEFAULT_CONFIG

TIMEOUT = 15
SECRET = "S3CRET-7f3a9c"  # planted in bad values; no error answer may contain it
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
V = "/services/data/v62.0"
V1_JOB = "/services/async/62.0/job/750000000000001AAA"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
HUGE_INT = "9" * 5000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# A JWT whose header is nested 5,000 levels deep (small enough to pass the length cap): PyJWT's JSON
# decoding raises RecursionError before any signature check.
DEEP_JWT = _b64(b'{"alg":"RS256","x":' + b"[" * 5000 + b"]" * 5000 + b"}") + "." + _b64(b"{}") + ".c2ln"


@dataclass
class Ctx:
    """What a request of the corpus may need: the sandbox, a valid token, the credentials."""

    sandbox: Any
    token: str


@dataclass(frozen=True)
class Case:
    """One malformed request and what the sandbox must answer."""

    name: str
    method: str
    path: str
    body: Any = None  # bytes: sent as they are; str/dict/list...: JSON; callable: (ctx) -> either
    content_type: str | None = JSON
    auth: str = "none"  # none | bearer | bare | basic | scheme-only | two-spaces | sfdc
    status: int | None = 400  # None: any 4xx
    code: str | None = None  # expected errorCode / code / error
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


def _request(http: requests.Session, ctx: Ctx, case: Case) -> requests.Response:
    body = case.body(ctx) if callable(case.body) else case.body
    headers = dict(case.headers)
    if case.content_type:
        headers["Content-Type"] = case.content_type
    if isinstance(body, dict) and case.content_type == FORM:
        data: Any = body
    elif body is None or isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
    token = ctx.token
    auth = {
        "none": {},
        "bearer": {"Authorization": f"Bearer {token}"},
        "bare": {"Authorization": token},
        "basic": {"Authorization": f"Basic {token}"},
        "scheme-only": {"Authorization": "Bearer"},
        "two-spaces": {"Authorization": f"Bearer  {token}"},
        "sfdc": {"X-SFDC-Session": token},
    }[case.auth]
    return http.request(
        case.method,
        ctx.sandbox.url + case.path,
        data=data,
        headers={**headers, **auth},
        timeout=TIMEOUT,
        allow_redirects=False,
    )


def _error_code(body: Any) -> str | None:
    """The error code of any of the sandboxes' error shapes, after checking the shape."""
    if isinstance(body, list):  # Salesforce REST: [{"message", "errorCode", "fields"}]
        assert body and all(set(e) == {"message", "errorCode", "fields"} for e in body), body
        return body[0]["errorCode"]
    assert isinstance(body, dict), body
    if set(body) == {"code", "description"}:  # LINE WORKS
        return body["code"]
    if set(body) == {"error", "error_description"}:  # OAuth (both)
        return body["error"]
    if set(body) == {"exceptionCode", "exceptionMessage"}:  # Salesforce Bulk v1
        return body["exceptionCode"]
    raise AssertionError(f"not an error shape of the sandboxes: {body}")


def _assert_refused(response: requests.Response, case: Case) -> None:
    assert response.status_code < 500, f"{case.name}: {response.status_code} {response.text[:300]}"
    assert 400 <= response.status_code < 500, f"{case.name}: {response.status_code} {response.text[:300]}"
    if case.status is not None:
        assert response.status_code == case.status, f"{case.name}: {response.text[:300]}"
    assert response.headers["Content-Type"].startswith(JSON), response.headers
    code = _error_code(response.json())
    if case.code is not None:
        assert code == case.code, f"{case.name}: {response.text[:300]}"
    assert SECRET not in response.text, f"{case.name} echoes the value: {response.text[:300]}"


@pytest.fixture
def http() -> Iterator[Callable[[str], requests.Session]]:
    """Plain HTTPS (no hook), closed after the test so no keep-alive connection delays the server's stop."""
    sessions: list[requests.Session] = []

    def new(ca_bundle: str) -> requests.Session:
        sessions.append(make_session(ca_bundle))
        return sessions[-1]

    yield new
    for session in sessions:
        session.close()


# ---------------------------------------------------------------------------------------------------
# LINE WORKS
# ---------------------------------------------------------------------------------------------------


@functools.cache
def _private_key(pem: str):
    """The loaded key (PyJWT would parse the PEM, ~25 ms, on every signature)."""
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _lw_assertion(creds, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": creds.client_id, "sub": creds.service_account, "iat": now, "exp": now + 3600, **claims}
    return jwt.encode(payload, _private_key(creds.private_key), algorithm="RS256")


def _lw_form(creds, **fields: str) -> dict[str, str]:
    return {
        "assertion": _lw_assertion(creds),
        "grant_type": JWT_BEARER,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "scope": " ".join(creds.scopes),
        **fields,
    }


def _lw_token(http: requests.Session, sandbox) -> requests.Response:
    return http.post(sandbox.url + "/oauth2/v2.0/token", data=_lw_form(sandbox.creds), timeout=TIMEOUT)


def _lw_cursor(offset: Any) -> str:
    raw = b"\xfb\xff" + json.dumps({"o": offset, "q": "00000000"}).encode()
    return base64.b64encode(raw).decode()


def _config(key: str, value: Any) -> Case:
    return Case(f"config {key}={json.dumps(value)[:30]}", "PATCH", "/_sandbox/config", {key: value})


LW_BOT = "/v1.0/bots/{bot}/users/nobody/messages"
LW_DOWNLOAD = "/v1.0/monitoring/message-contents/download?startTime=2025-05-30T00:00:00%2B09:00"
LW_DOWNLOAD += "&endTime=2025-05-31T00:00:00%2B09:00"
LW_CASES = [
    # --- config: type and range of every value, unknown keys, never an echo ---
    _config("token_lifetime", "abc"),
    _config("token_lifetime", SECRET),
    _config("token_lifetime", True),
    _config("token_lifetime", -1),
    _config("token_lifetime", 0),
    _config("token_lifetime", 10**12),
    _config("token_lifetime", 1.5),
    Case("config token_lifetime NaN", "PATCH", "/_sandbox/config", b'{"token_lifetime": NaN}'),
    Case("config token_lifetime 1e400", "PATCH", "/_sandbox/config", b'{"token_lifetime": 1e400}'),
    _config("refresh_token_rotation", "yes"),
    _config("rate_limits", {"users": SECRET}),
    _config("rate_limits", {"users": -1}),
    _config("rate_limits", [1]),
    _config("rate_window_seconds", 0),
    _config("contacts_max_results", 10**10),
    _config("download_host", "evil.example\r\nX-Injected: 1"),
    _config("download_url_ttl", None),
    _config("concurrent_download_status", 200),
    _config("csv_date_format", SECRET),
    _config("csv_timezone", "../../etc/passwd"),
    _config("csv_member_format", "{name.__class__}"),
    _config("csv_member_format", "{email:>999999999}"),
    _config("csv_recipient_separator", 5),
    _config("callback_ca_bundle", "/nonexistent/" + SECRET),
    _config("token_lifetme", 1),  # unknown key (a typo): named in the answer, which lists the known ones
    Case("config body is a list", "PATCH", "/_sandbox/config", [1, 2]),
    Case("config body is a string", "PATCH", "/_sandbox/config", "token_lifetime"),
    Case("config body is not JSON", "PATCH", "/_sandbox/config", b"token_lifetime=5"),
    Case("config nested 100,000 deep", "PATCH", "/_sandbox/config", DEEP_OBJECT),
    Case("seed config invalid", "POST", "/_sandbox/seed", {"config": {"token_lifetime": SECRET}}),
    # --- seed / apps / bots / faults / callbacks ---
    Case("seed body is a list", "POST", "/_sandbox/seed", [{"users": []}]),
    Case("seed body is null", "POST", "/_sandbox/seed", b"null"),
    Case("seed nested 100,000 deep (list)", "POST", "/_sandbox/seed", DEEP_LIST),
    Case("seed nested 100,000 deep (object)", "POST", "/_sandbox/seed", DEEP_OBJECT),
    Case("seed lone surrogate", "POST", "/_sandbox/seed", b'{"companyName": "\\ud800"}'),
    Case("seed users not a list", "POST", "/_sandbox/seed", {"users": 5}),
    Case("seed user email a number", "POST", "/_sandbox/seed", {"users": [{"userId": "u", "email": 5}]}),
    Case(
        "seed contact time a number",
        "POST",
        "/_sandbox/seed",
        {"contacts": [{"contact": {"contactId": "c"}, "createdTime": 5}]},
    ),
    Case(
        "seed message time not a date",
        "POST",
        "/_sandbox/seed",
        {"messages": [{"time": "tomorrow", "channelId": "c", "sender": "m:u", "text": "t"}]},
    ),
    Case("seed domainId infinite", "POST", "/_sandbox/seed", b'{"domainId": 1e400}'),
    Case("seed generator size a list", "POST", "/_sandbox/seed", {"generator": {"size": ["demo"]}}),
    Case(
        "seed generator absurd size",
        "POST",
        "/_sandbox/seed",
        {"generator": {"size": "demo", "overrides": {"messages": 10**12}}},
    ),
    Case(
        "seed app secret not a string",
        "POST",
        "/_sandbox/seed",
        {"apps": [{"clientId": "c", "clientSecret": [SECRET], "serviceAccount": "s", "publicKey": "k"}]},
    ),
    Case("app fields of wrong types", "POST", "/_sandbox/apps", {"clientId": [1], "clientSecret": {}}),
    Case("bot id a list", "POST", "/_sandbox/bots", {"botId": [1], "secret": SECRET}),
    Case("fault target a list", "POST", "/_sandbox/faults", {"target": ["users"], "kind": "500"}),
    Case(
        "fault count infinite",
        "POST",
        "/_sandbox/faults",
        b'{"target": "users", "kind": "500", "count": 1e400}',
    ),
    Case(
        "fault random targets numbers",
        "POST",
        "/_sandbox/faults",
        {"random": {"rate": 0.1, "kinds": ["500"], "targets": [5]}},
    ),
    Case("faults body is a list", "POST", "/_sandbox/faults", [{"target": "users"}]),
    Case("callback event not an object", "POST", "/_sandbox/bots/{bot}/callbacks", {"event": 5}),
    Case(
        "callback domainId a string",
        "POST",
        "/_sandbox/bots/{bot}/callbacks",
        {"type": "join", "domainId": SECRET},
    ),
    # --- token endpoint ---
    Case(
        "token client secret not ASCII",
        "POST",
        "/oauth2/v2.0/token",
        lambda c: _lw_form(c.sandbox.creds, client_secret="é" + SECRET),
        content_type=FORM,
        status=401,
        code="invalid_client",
    ),
    Case(
        "token assertion header nested 5,000 deep",
        "POST",
        "/oauth2/v2.0/token",
        lambda c: _lw_form(c.sandbox.creds, assertion=DEEP_JWT),
        content_type=FORM,
        code="invalid_grant",
    ),
    Case(
        "token assertion with exp beyond 2**53",
        "POST",
        "/oauth2/v2.0/token",
        lambda c: _lw_form(c.sandbox.creds, assertion=_lw_assertion(c.sandbox.creds, exp=10**30)),
        content_type=FORM,
        code="invalid_grant",
    ),
    Case("token form of 200 KB", "POST", "/oauth2/v2.0/token", b"a=" + b"b" * 200_000, content_type=FORM),
    # --- API ---
    Case(
        "bot message nested 100,000 deep", "POST", LW_BOT, DEEP_LIST, auth="bearer", code="INVALID_PARAMETER"
    ),
    Case("bot message object nested 100,000 deep", "POST", LW_BOT, DEEP_OBJECT, auth="bearer"),
    Case(
        "bot message of 1.1 MiB",
        "POST",
        LW_BOT,
        {"content": {"type": "text", "text": "a" * 1_150_000}},
        auth="bearer",
    ),
    Case(
        "bot message lone surrogate",
        "POST",
        LW_BOT,
        b'{"content": {"type": "text", "text": "\\udc00"}}',
        auth="bearer",
    ),
    Case("bot message NaN", "POST", LW_BOT, b'{"content": {"type": "text", "text": NaN}}', auth="bearer"),
    Case("bot message is a list", "POST", LW_BOT, [{"content": {}}], auth="bearer"),
    Case("bot message not UTF-8", "POST", LW_BOT, b"\xff\xfe\xfd", auth="bearer"),
    Case("bot message content a list", "POST", LW_BOT, {"content": []}, auth="bearer"),
    Case(
        "bot message items of wrong types",
        "POST",
        LW_BOT,
        {"content": {"type": "carousel", "columns": [5]}},
        auth="bearer",
    ),
    Case("users count of 5,000 digits", "GET", "/v1.0/users?count=" + HUGE_INT, auth="bearer"),
    Case("users count full-width digit", "GET", "/v1.0/users?count=%EF%BC%91", auth="bearer"),
    Case("users cursor offset 1e308", "GET", "/v1.0/users?cursor=" + _lw_cursor(1e308), auth="bearer"),
    Case("users cursor offset negative", "GET", "/v1.0/users?cursor=" + _lw_cursor(-5), auth="bearer"),
    Case("users cursor of invalid UTF-8", "GET", "/v1.0/users?cursor=%ff%fe", auth="bearer"),
    Case("download domainId of 5,000 digits", "GET", LW_DOWNLOAD + "&domainId=" + HUGE_INT, auth="bearer"),
    Case("token without Bearer", "GET", "/v1.0/users", auth="bare", status=401, code="UNAUTHORIZED"),
    Case("token with Basic", "GET", "/v1.0/users", auth="basic", status=401, code="UNAUTHORIZED"),
]


@pytest.fixture
def lw(lineworks_sandbox, http) -> Iterator[tuple[Any, requests.Session]]:
    session = http(lineworks_sandbox.ca_bundle)
    yield lineworks_sandbox, session
    lineworks_sandbox.control.session.close()


def _assert_lineworks_healthy(sandbox, http: requests.Session) -> None:
    token = _lw_token(http, sandbox)
    assert token.status_code == 200, token.text
    assert token.json()["expires_in"] == str(LW_DEFAULT_CONFIG["token_lifetime"])
    users = http.get(
        sandbox.url + "/v1.0/users",
        params={"count": 1},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=TIMEOUT,
    )
    assert users.status_code == 200, users.text
    config = http.get(sandbox.url + "/_sandbox/config", timeout=TIMEOUT)
    assert config.json() == LW_DEFAULT_CONFIG  # no refused change took effect


@pytest.mark.parametrize("case", LW_CASES, ids=str)
def test_lineworks_refuses_a_malformed_request_with_a_4xx(lw, case: Case):
    sandbox, http = lw
    token = _lw_token(http, sandbox).json()["access_token"]
    ctx = Ctx(sandbox, token)
    case = dataclasses.replace(case, path=case.path.replace("{bot}", str(sandbox.creds.bot_id)))
    _assert_refused(_request(http, ctx, case), case)
    _assert_lineworks_healthy(sandbox, http)


def test_lineworks_keeps_working_after_the_reproduced_token_lifetime_case(lw):
    """The reported case: "abc" was stored and every later token request answered 500 until a reset."""
    sandbox, http = lw
    refused = http.patch(sandbox.url + "/_sandbox/config", json={"token_lifetime": "abc"}, timeout=TIMEOUT)
    assert refused.status_code == 400
    assert "token_lifetime" in refused.json()["description"] and "abc" not in refused.json()["description"]
    for _ in range(3):
        assert _lw_token(http, sandbox).status_code == 200


def test_lineworks_still_takes_valid_config_values(lw):
    sandbox, http = lw
    changes = {
        "token_lifetime": 60,
        "rate_limits": {"users": 5},
        "rate_window_seconds": 2,
        "csv_member_format": "{name}({email})",
        "csv_timezone": "UTC",
        "download_host": "127.0.0.1",
        "download_url_ttl": 0.5,
    }
    answer = http.patch(sandbox.url + "/_sandbox/config", json=changes, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    config = answer.json()
    assert config["rate_limits"] == {**LW_DEFAULT_CONFIG["rate_limits"], "users": 5}
    assert {k: config[k] for k in changes if k != "rate_limits"} == {
        k: v for k, v in changes.items() if k != "rate_limits"
    }
    assert _lw_token(http, sandbox).json()["expires_in"] == "60"


# ---------------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------------


def _sf_token(http: requests.Session, sandbox) -> requests.Response:
    return http.post(
        sandbox.url + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.creds.consumer_key,
            "client_secret": sandbox.creds.consumer_secret,
        },
        timeout=TIMEOUT,
    )


def _q(soql: str) -> str:
    return V + "/query?q=" + quote(soql, safe="")


def _sf_config(key: str, value: Any) -> Case:
    return Case(f"config {key}={json.dumps(value)[:30]}", "PATCH", "/_sandbox/config", {key: value})


def _task(**fields: Any) -> dict[str, Any]:
    return {"Subject": "robustness", **fields}


COLLECTIONS = V + "/composite/sobjects"
SF_CASES = [
    # --- config ---
    _sf_config("query_batch_size", "abc"),
    _sf_config("query_batch_size", SECRET),
    _sf_config("query_batch_size", True),
    _sf_config("query_batch_size", 0),
    _sf_config("query_batch_size", -5),
    _sf_config("query_batch_size", 10**9),
    _sf_config("query_batch_size", 2.5),
    Case("config daily_api_limit NaN", "PATCH", "/_sandbox/config", b'{"daily_api_limit": NaN}'),
    Case("config session_lifetime Infinity", "PATCH", "/_sandbox/config", b'{"session_lifetime": Infinity}'),
    _sf_config("session_lifetime", -1),
    _sf_config("bulk2_max_upload_bytes", 10**12),
    _sf_config("bulk_transition", {"mode": "warp"}),
    _sf_config("bulk_transition", {"mode": "polls", "polls": -1}),
    _sf_config("bulk_transition", "immediate"),
    _sf_config("lock_rows", {"rate": 2}),
    _sf_config("lock_rows", {"keys": {"k": SECRET}}),
    _sf_config("lock_rows", {"seed": "x"}),
    _sf_config("locale", SECRET + " x"),
    _sf_config("locale", ["ja_JP"]),
    _sf_config("query_batchsize", 1),  # unknown key (a typo)
    Case("config body is a list", "PATCH", "/_sandbox/config", [["query_batch_size", 5]]),
    Case("config nested 100,000 deep", "PATCH", "/_sandbox/config", DEEP_LIST),
    # --- seed / faults / bulk transition ---
    Case("seed body is a list", "POST", "/_sandbox/seed", [{"records": {}}]),
    Case("seed body is a number", "POST", "/_sandbox/seed", 5),
    Case("seed nested 100,000 deep", "POST", "/_sandbox/seed", DEEP_OBJECT),
    Case("seed password not a string", "POST", "/_sandbox/seed", {"passwords": {"u": [SECRET]}}),
    Case("seed passwords a list", "POST", "/_sandbox/seed", {"passwords": [SECRET]}),
    Case(
        "seed app secret a number", "POST", "/_sandbox/seed", {"apps": [{"clientId": "c", "clientSecret": 5}]}
    ),
    Case("seed records not objects", "POST", "/_sandbox/seed", {"records": {"Lead": [5, "x"]}}),
    Case("seed config invalid", "POST", "/_sandbox/seed", {"config": {"query_batch_size": SECRET}}),
    Case("faults body is a list", "POST", "/_sandbox/faults", [1]),
    Case("fault kind a list", "POST", "/_sandbox/faults", {"target": "query", "kind": ["500"]}),
    Case("fault target an object", "POST", "/_sandbox/faults", {"target": {"a": 1}, "kind": "500"}),
    Case("transition state a list", "POST", "/_sandbox/bulk/750000000000001AAA/transition", {"state": [1]}),
    Case("transition nested 100,000 deep", "POST", "/_sandbox/bulk/750000000000001AAA/transition", DEEP_LIST),
    # --- session header ---
    Case("token without Bearer", "GET", V + "/limits", auth="bare", status=401, code="INVALID_SESSION_ID"),
    Case("token with Basic", "GET", V + "/limits", auth="basic", status=401, code="INVALID_SESSION_ID"),
    Case(
        "Bearer without token",
        "GET",
        V + "/limits",
        auth="scheme-only",
        status=401,
        code="INVALID_SESSION_ID",
    ),
    Case(
        "Bearer and two spaces",
        "GET",
        V + "/limits",
        auth="two-spaces",
        status=401,
        code="INVALID_SESSION_ID",
    ),
    Case("no Authorization", "GET", V + "/limits", status=401, code="INVALID_SESSION_ID"),
    # --- token endpoint ---
    Case(
        "token client secret not ASCII",
        "POST",
        "/services/oauth2/token",
        lambda c: {
            "grant_type": "client_credentials",
            "client_id": c.sandbox.creds.consumer_key,
            "client_secret": "é" + SECRET,
        },
        content_type=FORM,
        code="invalid_client",
    ),
    Case(
        "token password not ASCII",
        "POST",
        "/services/oauth2/token",
        lambda c: {
            "grant_type": "password",
            "client_id": c.sandbox.creds.consumer_key,
            "client_secret": c.sandbox.creds.consumer_secret,
            "username": c.sandbox.creds.username,
            "password": "ü" + SECRET,
        },
        content_type=FORM,
        code="invalid_grant",
    ),
    Case(
        "token assertion nested 5,000 deep",
        "POST",
        "/services/oauth2/token",
        {"grant_type": JWT_BEARER, "assertion": DEEP_JWT},
        content_type=FORM,
        code="invalid_grant",
    ),
    Case(
        "token assertion iss a list",
        "POST",
        "/services/oauth2/token",
        {
            "grant_type": JWT_BEARER,
            "assertion": _b64(b'{"alg":"RS256"}') + "." + _b64(b'{"iss":["x"]}') + ".c2ln",
        },
        content_type=FORM,
        code="invalid_grant",
    ),
    Case("token form of 200 KB", "POST", "/services/oauth2/token", b"a=" + b"b" * 200_000, content_type=FORM),
    # --- sObject Collections ---
    Case(
        "collection records of every JSON type",
        "POST",
        COLLECTIONS,
        {"records": [1, "x", None, []]},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection record null",
        "PATCH",
        COLLECTIONS + "/Task/ActivityKey__c",
        {"records": [None]},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection record a list",
        "PATCH",
        COLLECTIONS,
        {"records": [[{"Id": "x"}]]},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection records a string",
        "POST",
        COLLECTIONS,
        {"records": "x"},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection records missing",
        "POST",
        COLLECTIONS,
        {"allOrNone": True},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection body a list",
        "POST",
        COLLECTIONS,
        [{"attributes": {"type": "Task"}}],
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection attributes a string",
        "POST",
        COLLECTIONS,
        {"records": [{"attributes": "Task"}]},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection type a list",
        "POST",
        COLLECTIONS,
        {"records": [{"attributes": {"type": ["Task"]}}]},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection allOrNone a string",
        "POST",
        COLLECTIONS,
        {"allOrNone": "false", "records": []},
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "collection nested 100,000 deep",
        "POST",
        COLLECTIONS,
        DEEP_OBJECT,
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    # --- JSON bodies of the other endpoints ---
    Case(
        "sobject create nested 100,000 deep",
        "POST",
        V + "/sobjects/Task",
        DEEP_LIST,
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "sobject create lone surrogate",
        "POST",
        V + "/sobjects/Task",
        b'{"Subject": "\\ud800"}',
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "sobject create NaN",
        "POST",
        V + "/sobjects/Task",
        b'{"MessageCount__c": NaN}',
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "sobject create not UTF-8",
        "POST",
        V + "/sobjects/Task",
        b"\xff\xfe",
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "upsert nested 100,000 deep",
        "PATCH",
        V + "/sobjects/Task/ActivityKey__c/k1",
        DEEP_OBJECT,
        auth="bearer",
    ),
    Case(
        "composite nested 100,000 deep",
        "POST",
        V + "/composite",
        DEEP_LIST,
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case("bulk2 job nested 100,000 deep", "POST", V + "/jobs/ingest", DEEP_LIST, auth="bearer"),
    Case(
        "bulk2 job lineEnding a list",
        "POST",
        V + "/jobs/ingest",
        {"object": "Task", "operation": "insert", "lineEnding": ["LF"]},
        auth="bearer",
        code="INVALIDJOB",
    ),
    Case(
        "bulk2 job columnDelimiter an object",
        "POST",
        V + "/jobs/ingest",
        {"object": "Task", "operation": "insert", "columnDelimiter": {}},
        auth="bearer",
        code="INVALIDJOB",
    ),
    Case(
        "bulk v1 job nested 100,000 deep",
        "POST",
        "/services/async/62.0/job",
        DEEP_LIST,
        auth="sfdc",
        code="InvalidJob",
    ),
    Case(
        "bulk v1 job concurrencyMode a list",
        "POST",
        "/services/async/62.0/job",
        {"object": "Task", "operation": "insert", "concurrencyMode": ["Serial"]},
        auth="sfdc",
        code="InvalidJob",
    ),
    Case("bulk v1 close nested 100,000 deep", "POST", V1_JOB, DEEP_OBJECT, auth="sfdc", code="InvalidJob"),
    Case(
        "bulk v1 batch nested 100,000 deep",
        "POST",
        V1_JOB + "/batch",
        DEEP_LIST,
        auth="sfdc",
        code="InvalidBatch",
    ),
    # --- record values that overflow ---
    Case(
        "number field NaN as text",
        "POST",
        V + "/sobjects/Task",
        _task(MessageCount__c="NaN"),
        auth="bearer",
        code="INVALID_TYPE_ON_FIELD_IN_RECORD",
    ),
    Case(
        "number of 400 digits",
        "POST",
        V + "/sobjects/Task",
        _task(MessageCount__c=10**400),
        auth="bearer",
        code="JSON_PARSER_ERROR",
    ),
    Case(
        "number text beyond a double",
        "POST",
        V + "/sobjects/Task",
        _task(MessageCount__c="1" + "0" * 400),
        auth="bearer",
        code="INVALID_TYPE_ON_FIELD_IN_RECORD",
    ),
    Case(
        "dateTime field past year 9999 in UTC",
        "POST",
        V + "/sobjects/Task",
        _task(FirstMessageAt__c="9999-12-31T23:59:59-23:59"),
        auth="bearer",
        code="INVALID_TYPE_ON_FIELD_IN_RECORD",
    ),
    Case(
        "dateTime field before year 1 in UTC",
        "POST",
        V + "/sobjects/Task",
        _task(LastMessageAt__c="0001-01-01T00:00:00+01:00"),
        auth="bearer",
        code="INVALID_TYPE_ON_FIELD_IN_RECORD",
    ),
    # --- SOQL numbers ---
    Case(
        "LAST_N_DAYS:99999999999",
        "GET",
        _q("SELECT Id FROM Task WHERE CreatedDate = LAST_N_DAYS:99999999999"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "NEXT_N_DAYS of 5,000 digits",
        "GET",
        _q("SELECT Id FROM Task WHERE ActivityDate = NEXT_N_DAYS:" + HUGE_INT),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "N_DAYS_AGO:100001",
        "GET",
        _q("SELECT Id FROM Task WHERE ActivityDate = N_DAYS_AGO:100001"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "LIMIT 99999999999",
        "GET",
        _q("SELECT Id FROM Task LIMIT 99999999999"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "LIMIT of 5,000 digits",
        "GET",
        _q("SELECT Id FROM Task LIMIT " + HUGE_INT),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "OFFSET of 5,000 digits",
        "GET",
        _q("SELECT Id FROM Task OFFSET " + HUGE_INT),
        auth="bearer",
        code="NUMBER_OUTSIDE_VALID_RANGE",
    ),
    Case(
        "number literal of 5,000 digits",
        "GET",
        _q("SELECT Id FROM Task WHERE MessageCount__c > 1" + "0" * 5000),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "decimal literal beyond a double",
        "GET",
        _q("SELECT Id FROM Task WHERE MessageCount__c > " + "9" * 400 + ".5"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "dateTime literal before year 1 in UTC",
        "GET",
        _q("SELECT Id FROM Task WHERE CreatedDate > 0001-01-01T00:00:00+01:00"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case(
        "dateTime literal past year 9999 in UTC",
        "GET",
        _q("SELECT Id FROM Task WHERE CreatedDate < 9999-12-31T23:59:59-23:59"),
        auth="bearer",
        code="MALFORMED_QUERY",
    ),
    Case("query locator unknown", "GET", V + "/query/01gNOPE-1", auth="bearer", code="INVALID_QUERY_LOCATOR"),
]


@pytest.fixture
def sf(salesforce_sandbox, http) -> Iterator[tuple[Any, requests.Session]]:
    session = http(salesforce_sandbox.ca_bundle)
    yield salesforce_sandbox, session
    salesforce_sandbox.control.session.close()


def _assert_salesforce_healthy(sandbox, http: requests.Session) -> None:
    token = _sf_token(http, sandbox)
    assert token.status_code == 200, token.text
    answer = http.get(
        sandbox.url + _q("SELECT Id, Username FROM User"),
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["totalSize"] == 1
    config = http.get(sandbox.url + "/_sandbox/config", timeout=TIMEOUT)
    assert config.json() == SF_DEFAULT_CONFIG  # no refused change took effect


@pytest.mark.parametrize("case", SF_CASES, ids=str)
def test_salesforce_refuses_a_malformed_request_with_a_4xx(sf, case: Case):
    sandbox, http = sf
    ctx = Ctx(sandbox, _sf_token(http, sandbox).json()["access_token"])
    _assert_refused(_request(http, ctx, case), case)
    _assert_salesforce_healthy(sandbox, http)


def test_salesforce_keeps_working_after_the_reproduced_query_batch_size_case(sf):
    sandbox, http = sf
    refused = http.patch(sandbox.url + "/_sandbox/config", json={"query_batch_size": "abc"}, timeout=TIMEOUT)
    assert refused.status_code == 400
    message = refused.json()[0]["message"]
    assert "query_batch_size" in message and "abc" not in message
    for _ in range(3):
        _assert_salesforce_healthy(sandbox, http)


def test_salesforce_takes_the_session_with_bearer_or_oauth(sf):
    """The scheme is required; ``Bearer`` (what simple-salesforce and the hook send) and ``OAuth`` work."""
    sandbox, http = sf
    token = _sf_token(http, sandbox).json()["access_token"]
    for header in (f"Bearer {token}", f"OAuth {token}", f"bearer {token}"):
        answer = http.get(sandbox.url + V + "/limits", headers={"Authorization": header}, timeout=TIMEOUT)
        assert answer.status_code == 200, (header[:7], answer.text)
    assert (
        http.get(sandbox.url + V + "/limits", headers={"Authorization": token}, timeout=TIMEOUT).status_code
        == 401
    )


def test_salesforce_answers_bad_subrequests_and_record_ids_inside_a_200(sf):
    """Composite and Collections report per-subrequest / per-record errors in a 200, never a 500."""
    sandbox, http = sf
    auth = {"Authorization": f"Bearer {_sf_token(http, sandbox).json()['access_token']}"}
    composite = http.post(
        sandbox.url + V + "/composite",
        json={
            "compositeRequest": [
                {"method": "GET", "url": "http://[", "referenceId": "notAUrl"},
                {
                    "method": "GET",
                    "url": V + "/query?q=SELECT+Id+FROM+Task+LIMIT+99999999999",
                    "referenceId": "big",
                },
            ]
        },
        headers=auth,
        timeout=TIMEOUT,
    )
    assert composite.status_code == 200, composite.text
    statuses = {
        r["referenceId"]: (r["httpStatusCode"], r["body"][0]["errorCode"])
        for r in composite.json()["compositeResponse"]
    }
    assert statuses == {"notAUrl": (404, "NOT_FOUND"), "big": (400, "MALFORMED_QUERY")}
    update = http.patch(
        sandbox.url + COLLECTIONS,
        json={"records": [{"attributes": {"type": "Task"}, "Id": 123456789012345}]},
        headers=auth,
        timeout=TIMEOUT,
    )
    assert update.status_code == 200, update.text
    assert update.json()[0]["errors"][0]["statusCode"] == "MALFORMED_ID"
    _assert_salesforce_healthy(sandbox, http)


def test_salesforce_still_takes_valid_config_values(sf):
    sandbox, http = sf
    changes = {
        "query_batch_size": 50,
        "daily_api_limit": 10_000_000,
        "bulk_transition": {"mode": "polls", "polls": 100_000},
        "lock_rows": {"keys": {"LW-k-1": 1}},
        "locale": "en_US",
    }
    answer = http.patch(sandbox.url + "/_sandbox/config", json=changes, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["query_batch_size"] == 50
    assert answer.json()["lock_rows"] == {"rate": 0.0, "seed": 0, "keys": {"LW-k-1": 1}}


# ---------------------------------------------------------------------------------------------------
# The shared JSON body reader (sandbox/common/jsonbody.py)
# ---------------------------------------------------------------------------------------------------


class _Refused(Exception):
    pass


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_nested(MAX_DEPTH + 1), "nested more than"),
        (_nested(100_000), "nested more than"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[Infinity]", "not valid JSON"),
        (b"[1e400]", "not valid JSON"),
        (b"[" + b"9" * 101 + b"]", "digits"),
        (b'["\\ud800"]', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b'["\xed\xa0\x80"]', "surrogate"),
        (b"\xff", "UTF-8"),
        (b"", "not valid JSON"),
        (b"x" * 11, "larger than"),
    ],
)
def test_the_json_reader_refuses_with_the_callers_error(raw: bytes, message: str):
    with pytest.raises(_Refused, match=message):
        parse_json(raw, _Refused, max_bytes=10 if raw == b"x" * 11 else 10**6)


def test_the_json_reader_takes_ordinary_json():
    assert parse_json(_nested(MAX_DEPTH), _Refused) == parse_json(_nested(MAX_DEPTH), _Refused)
    assert parse_json('["\\ud83d\\ude00", 1.5, -3]'.encode(), _Refused) == ["😀", 1.5, -3]
    assert parse_json(b'{"a": [1, {"b": null}]}', _Refused, expect=dict) == {"a": [1, {"b": None}]}
    with pytest.raises(_Refused, match="must be a JSON object"):
        parse_json(b"[1]", _Refused, expect=dict)
