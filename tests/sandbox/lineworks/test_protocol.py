"""Wire-protocol tests of the LINE WORKS sandbox (sandbox/lineworks/) against the documented behaviour.

Every test talks to the sandbox over real HTTPS with plain ``requests`` and builds its own JWT
assertions with PyJWT, independent of the product hook. The documented behaviour is
``shared/reference/lineworks-api.md`` (section numbers below refer to it).
"""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import hmac
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hooks.transport import make_session
from sandbox.lineworks import callbacks

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/oauth2/v2.0/token"
MONITORING = "/v1.0/monitoring/message-contents/download"
AUDIT = "/v1.0/audits/logs/download"
DOMAIN_ID = 10000001  # the tenant's domain after a reset
TIMEOUT = 15
RATE_HEADERS = ("rateLimit-limit", "rateLimit-used", "rateLimit-remaining", "rateLimit-reset")
HIGH_RATE_LIMITS = {"default": 100000, "monitoring": 100000, "audit": 100000}

# --- documented fixtures (copied from the reference) ------------------------------------------------
# §2.4 "Emulator fixture (matches samples)"
DOC_TOKEN_RESPONSE = {
    "access_token": "kr1AAAA...",
    "refresh_token": "kr1AAAB...",
    "scope": "bot bot.read",
    "token_type": "Bearer",
    "expires_in": "86400",
}
# §7 GET /users/{userId}
DOC_USER: dict[str, Any] = {
    "userId": "userf7da-f82c-4284-13e7-030f3b4c756x",
    "email": "localpart@example.com",
    "telephone": "03-1234-5678",
    "cellPhone": "090-1234-5678",
    "location": "green building",
    "userName": {
        "lastName": "ワークス",
        "firstName": "太郎",
        "phoneticLastName": None,
        "phoneticFirstName": None,
    },
    "i18nName": [],
    "organizations": [
        {
            "domainId": 10000001,
            "primary": True,
            "userExternalKey": None,
            "email": "localpart@example.com",
            "levelId": "levelaa7-b824-4937-66af-042f1f43cefa",
            "levelExternalKey": None,
            "levelName": "一般社員",
            "executive": False,
            "organizationName": "org",
            "orgUnits": [
                {
                    "orgUnitId": "orgunitf-f27f-4af8-27e1-03817a911417",
                    "orgUnitExternalKey": None,
                    "orgUnitEmail": "team01@example.com",
                    "orgUnitName": "組織",
                    "primary": True,
                    "positionId": "position-7027-4a02-b838-6f52b5e38db7",
                    "positionExternalKey": None,
                    "positionName": "社員",
                    "isManager": True,
                    "visible": True,
                    "useTeamFeature": True,
                }
            ],
        }
    ],
}
# §6.1 external contact example (the doc cuts buddyUserIds[0] short; completed with dummy hex digits)
DOC_CONTACT: dict[str, Any] = {
    "contactId": "81c6c568-e090-4d9e-549f-049dea60cbc7",
    "contactName": {"lastName": "Task", "firstName": "User"},
    "linkedExternalUser": {
        "id": "32deb574-f7a9-4973-44c9-040944411275",
        "type": "WORKS",
        "buddyUserIds": ["0c9cf0c3-83ba-48ed-1a2b-04aa00000001"],
    },
}
# §5 monitoring CSV (ja_JP) fixture
DOC_MONITORING_CSV = (
    "日時,送信者,受信者,チャンネルID,トーク\n"
    "2025-05-30T18:24:53+09:00,[Bot]test,user@example.com,channel123,Hello World\n"
    '2025-05-30T18:25:00+09:00,user@example.com,[Bot]test,channel123,"Line 1\nLine 2"\n'
)
# §3.5 callback payloads
DOC_ISSUED_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _pem_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


_SESSIONS: list[requests.Session] = []


def new_session(ca_bundle: str) -> requests.Session:
    """A session trusting the sandbox CA (REQUESTS_CA_BUNDLE would otherwise win), closed after the test."""
    session = make_session(ca_bundle)
    _SESSIONS.append(session)
    return session


@pytest.fixture
def lineworks_sandbox(lineworks_sandbox):
    """The conftest tenant, with every HTTP session of the test closed afterwards.

    An idle keep-alive TLS connection left open keeps the sandbox server's shutdown waiting until
    ``ThreadedServer.stop`` gives up (10 s) at the end of the session.
    """
    yield lineworks_sandbox
    while _SESSIONS:
        _SESSIONS.pop().close()
    lineworks_sandbox.control.session.close()


@pytest.fixture(scope="module")
def other_private_key() -> str:
    """An RSA key the sandbox does not know."""
    return _pem_private_key()


def make_assertion(creds, *, key: str | None = None, alg: str = "RS256", **claims: Any) -> str:
    """A JWT assertion as DOC:auth-jwt describes it; ``claims`` override iss/sub/iat/exp."""
    now = int(time.time())
    payload = {"iss": creds.client_id, "sub": creds.service_account, "iat": now, "exp": now + 3600}
    payload.update(claims)
    return jwt.encode(payload, key or creds.private_key, algorithm=alg, headers={"typ": "JWT"})


def token_form(creds, **fields: str) -> dict[str, str]:
    form = {
        "assertion": make_assertion(creds),
        "grant_type": JWT_BEARER,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "scope": " ".join(creds.scopes),
    }
    form.update(fields)
    return form


def post_token(sandbox, form: dict[str, str]) -> requests.Response:
    return new_session(sandbox.ca_bundle).post(sandbox.url + TOKEN_PATH, data=form, timeout=TIMEOUT)


def obtain_token(sandbox, creds=None, scope: str | None = None) -> dict[str, str]:
    """The JWT bearer grant (§2.3); returns the token response body."""
    creds = creds or sandbox.creds
    form = token_form(creds)
    if scope is not None:
        form["scope"] = scope
    response = post_token(sandbox, form)
    assert response.status_code == 200, response.text
    return response.json()


class Api:
    """Plain requests against the sandbox with ``Authorization: Bearer <token>``."""

    def __init__(self, sandbox, token: str) -> None:
        self.sandbox = sandbox
        self.base = sandbox.url
        self.token = token
        self.session = new_session(sandbox.ca_bundle)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = {**(self.auth() if auth else {}), **kwargs.pop("headers", {})}
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.base + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def send(
        self, body: Any, target: str = "users/" + DOC_USER["userId"], bot_id: Any = None
    ) -> requests.Response:
        bot_id = self.sandbox.creds.bot_id if bot_id is None else bot_id
        return self.post(f"/v1.0/bots/{bot_id}/{target}/messages", json=body)

    def fetch(self, location: str, *, auth: bool = True) -> requests.Response:
        return self.session.get(
            location, headers=self.auth() if auth else {}, timeout=TIMEOUT, allow_redirects=False
        )


@pytest.fixture
def api(lineworks_sandbox) -> Api:
    return Api(lineworks_sandbox, obtain_token(lineworks_sandbox)["access_token"])


def assert_error(response: requests.Response, status: int, code: str, contains: str | None = None) -> dict:
    """The documented error answer: status, JSON ``{code, description}`` (DOC:error-codes)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "description"}, body
    assert body["code"] == code, body
    assert isinstance(body["description"], str) and body["description"]
    if contains is not None:
        assert contains in body["description"], body
    return body


def assert_oauth_error(response: requests.Response, status: int, error: str) -> dict:
    """The token endpoint error answer, RFC 6749 ``{error, error_description}`` (§2.6)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert body["error_description"]
    return body


def assert_unauthorized(response: requests.Response) -> None:
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def has_rate_headers(response: requests.Response) -> bool:
    return any(name.lower().startswith("ratelimit-") for name in response.headers)


def make_user(i: int, last: str = "ワークス", first: str | None = None, email: str | None = None) -> dict:
    user = copy.deepcopy(DOC_USER)
    user["userId"] = f"user{i:04d}-f82c-4284-13e7-030f3b4c756x"
    user["email"] = email or f"member{i}@example.com"
    user["userName"]["lastName"] = last
    user["userName"]["firstName"] = first or f"太郎{i}"
    user["organizations"][0]["email"] = user["email"]
    return user


def friend_item(i: int, created: str = "2025-05-01T10:00:00+09:00", name: str | None = None) -> dict:
    return {
        "contact": {
            "contactId": f"frnd{i:04d}-e090-4d9e-549f-049dea60cbc7",
            "contactName": {"lastName": name or f"友達{i}", "firstName": ""},
            "linkedExternalUser": {
                "id": f"line{i:04d}-f7a9-4973-44c9-040944411275",
                "type": "LINE",
                "buddyUserIds": [DOC_USER["userId"]],
            },
            "permission": {"masterUserId": DOC_USER["userId"], "accessibleRange": "MEMBER"},
        },
        "createdTime": created,
    }


def customer_item(i: int, created: str = "2025-05-01T10:00:00+09:00") -> dict:
    """A customer contact (linkedExternalUser null, DOC:contact)."""
    return {
        "contact": {
            "contactId": f"cust{i:04d}-e090-4d9e-549f-049dea60cbc7",
            "permission": {"masterUserId": DOC_USER["userId"], "accessibleRange": "ALL"},
            "contactName": {"lastName": "顧客", "firstName": f"連絡先{i}"},
            "telephones": [{"type": "CELLPHONE", "telephone": "1234-5678", "primary": True}],
            "linkedExternalUser": None,
        },
        "createdTime": created,
    }


def parse_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def download_params(**params: str) -> dict[str, str]:
    return {"startTime": "2025-05-30T00:00:00+09:00", "endTime": "2025-05-31T00:00:00+09:00", **params}


def download(api: Api, path: str = MONITORING, **params: str) -> requests.Response:
    """Request a download URL (302) and fetch it with the Authorization header re-sent."""
    first = api.get(path, params=download_params(**params))
    assert first.status_code == 302, first.text
    response = api.fetch(first.headers["Location"])
    assert response.status_code == 200, response.text
    return response


# ---------------------------------------------------------------------------------------------------
# 1. Token endpoint (§2)
# ---------------------------------------------------------------------------------------------------


def test_should_issue_tokens_for_a_valid_jwt_grant(lineworks_sandbox):
    response = post_token(lineworks_sandbox, token_form(lineworks_sandbox.creds))

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "86400" and isinstance(body["expires_in"], str)
    assert body["scope"].split() == lineworks_sandbox.creds.scopes
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]
    assert Api(lineworks_sandbox, body["access_token"]).get("/v1.0/users").status_code == 200


def test_should_accept_a_grant_type_percent_encoded_once_like_the_official_python_sample(lineworks_sandbox):
    quoted = quote(JWT_BEARER)  # what samples/python/bot-send-message/main.py does before requests encodes
    assert quoted == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    response = post_token(lineworks_sandbox, token_form(lineworks_sandbox.creds, grant_type=quoted))

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "case, reason",
    [
        ("wrong_signature", "signature"),
        ("wrong_iss", "iss"),
        ("wrong_sub", "sub"),
        ("lifetime_over_60_minutes", "60 minutes"),
        ("string_iat_exp", "must be a number"),
        ("expired", "expired"),
        ("padded_base64", "padding"),
        ("hs256", "RS256"),
    ],
)
def test_should_reject_an_invalid_jwt_assertion(lineworks_sandbox, other_private_key, case, reason):
    creds = lineworks_sandbox.creds
    now = int(time.time())
    assertion = {
        "wrong_signature": lambda: make_assertion(creds, key=other_private_key),
        "wrong_iss": lambda: make_assertion(creds, iss="ZbsSomeOtherClient"),
        "wrong_sub": lambda: make_assertion(creds, sub="other.serviceaccount@sandbox.example.com"),
        "lifetime_over_60_minutes": lambda: make_assertion(creds, iat=now, exp=now + 3601),
        "string_iat_exp": lambda: make_assertion(creds, iat=str(now), exp=str(now + 600)),
        "expired": lambda: make_assertion(creds, iat=now - 7200, exp=now - 3600),
        "padded_base64": lambda: make_assertion(creds) + "=",
        "hs256": lambda: make_assertion(creds, key="a-shared-secret-that-is-long-enough-32b", alg="HS256"),
    }[case]()

    response = post_token(lineworks_sandbox, token_form(creds, assertion=assertion))

    body = assert_oauth_error(response, 400, "invalid_grant")
    assert reason in body["error_description"]


def test_should_accept_an_assertion_of_exactly_60_minutes(lineworks_sandbox):
    now = int(time.time())
    creds = lineworks_sandbox.creds
    response = post_token(
        lineworks_sandbox, token_form(creds, assertion=make_assertion(creds, iat=now, exp=now + 3600))
    )
    assert response.status_code == 200, response.text


def test_should_reject_a_wrong_client_secret_with_invalid_client(lineworks_sandbox):
    response = post_token(
        lineworks_sandbox, token_form(lineworks_sandbox.creds, client_secret="not-the-secret")
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_should_reject_a_scope_the_app_was_not_granted(lineworks_sandbox):
    response = post_token(lineworks_sandbox, token_form(lineworks_sandbox.creds, scope="bot calendar"))
    body = assert_oauth_error(response, 400, "invalid_scope")
    assert "calendar" in body["error_description"]


def test_should_reject_a_token_request_that_is_not_form_encoded(lineworks_sandbox):
    session = new_session(lineworks_sandbox.ca_bundle)
    response = session.post(
        lineworks_sandbox.url + TOKEN_PATH, json=token_form(lineworks_sandbox.creds), timeout=TIMEOUT
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_should_reject_an_unknown_grant_type(lineworks_sandbox):
    response = post_token(lineworks_sandbox, token_form(lineworks_sandbox.creds, grant_type="password"))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def _refresh_form(creds, refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }


def test_should_refresh_without_a_new_refresh_token_by_default(lineworks_sandbox):
    creds = lineworks_sandbox.creds
    first = obtain_token(lineworks_sandbox)

    response = post_token(lineworks_sandbox, _refresh_form(creds, first["refresh_token"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "scope", "token_type", "expires_in"}  # §2.5: no refresh_token
    assert body["access_token"] != first["access_token"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == "86400"
    assert body["scope"] == first["scope"]
    assert Api(lineworks_sandbox, body["access_token"]).get("/v1.0/users").status_code == 200
    # rotation off: the refresh token stays usable
    assert post_token(lineworks_sandbox, _refresh_form(creds, first["refresh_token"])).status_code == 200


def test_should_rotate_the_refresh_token_when_rotation_is_on(lineworks_sandbox):
    creds = lineworks_sandbox.creds
    lineworks_sandbox.control.configure(refresh_token_rotation=True)
    first = obtain_token(lineworks_sandbox)

    response = post_token(lineworks_sandbox, _refresh_form(creds, first["refresh_token"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert body["refresh_token"] != first["refresh_token"]
    assert_oauth_error(
        post_token(lineworks_sandbox, _refresh_form(creds, first["refresh_token"])), 400, "invalid_grant"
    )
    assert post_token(lineworks_sandbox, _refresh_form(creds, body["refresh_token"])).status_code == 200


def test_should_reject_an_unknown_refresh_token(lineworks_sandbox):
    creds = lineworks_sandbox.creds
    assert_oauth_error(
        post_token(lineworks_sandbox, _refresh_form(creds, "kr1unknown")), 400, "invalid_grant"
    )


def test_should_reject_a_token_request_body_that_is_not_utf8(lineworks_sandbox):
    response = new_session(lineworks_sandbox.ca_bundle).post(
        lineworks_sandbox.url + TOKEN_PATH,
        data=b"grant_type=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_should_expire_access_tokens_after_the_configured_lifetime(lineworks_sandbox):
    lineworks_sandbox.control.configure(token_lifetime=1)
    body = obtain_token(lineworks_sandbox)
    assert body["expires_in"] == "1"
    api = Api(lineworks_sandbox, body["access_token"])
    assert api.get("/v1.0/users").status_code == 200

    time.sleep(1.6)

    assert_unauthorized(api.get("/v1.0/users"))


# ---------------------------------------------------------------------------------------------------
# 2. Bearer check and scopes (§1.2, §8.2)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer  {token}", "Bearer kr1-unknown-token", "bearer {token}", "{token}"]
)
def test_should_answer_401_unauthorized_for_a_bad_bearer_header(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization.format(token=api.token)}

    response = api.get("/v1.0/users", auth=False, headers=headers)

    assert_unauthorized(response)
    assert not has_rate_headers(response)


@pytest.fixture
def bot_only_api(lineworks_sandbox) -> Api:
    """A second app, registered through the control API, that was granted the ``bot`` scope only."""
    private = _pem_private_key()

    class Creds:
        client_id = "ZbsBotOnlyApp"
        client_secret = "bot-only-secret"
        service_account = "botonly.serviceaccount@sandbox.example.com"
        private_key = private
        scopes = ["bot"]

    created = lineworks_sandbox.control.call(
        "POST",
        "/apps",
        {
            "clientId": Creds.client_id,
            "clientSecret": Creds.client_secret,
            "serviceAccount": Creds.service_account,
            "publicKey": _public_pem(private),
            "scopes": Creds.scopes,
        },
    )
    assert created == {"clientId": Creds.client_id}
    body = obtain_token(lineworks_sandbox, creds=Creds, scope="bot")
    assert body["scope"] == "bot"
    api = Api(lineworks_sandbox, body["access_token"])
    api.creds = Creds
    return api


@pytest.mark.parametrize("path", ["/v1.0/contacts", MONITORING, AUDIT + "?service=message", "/v1.0/users"])
def test_should_answer_403_forbidden_without_the_needed_scope(bot_only_api, path):
    params = download_params() if path.startswith(("/v1.0/monitoring", "/v1.0/audits")) else None

    response = bot_only_api.get(path, params=params)

    assert_error(response, 403, "FORBIDDEN")


def test_should_let_a_bot_only_token_send_bot_messages(lineworks_sandbox, bot_only_api):
    lineworks_sandbox.seed({"users": [DOC_USER]})
    response = bot_only_api.send({"content": {"type": "text", "text": "hello"}})
    assert response.status_code == 201, response.text


def test_should_reject_a_refresh_token_of_another_client(lineworks_sandbox, bot_only_api):
    other = obtain_token(lineworks_sandbox, creds=bot_only_api.creds, scope="bot")
    response = post_token(lineworks_sandbox, _refresh_form(lineworks_sandbox.creds, other["refresh_token"]))
    assert_oauth_error(response, 400, "invalid_grant")


def test_should_not_accept_a_token_from_the_refresh_token(lineworks_sandbox):
    body = obtain_token(lineworks_sandbox)
    assert_unauthorized(Api(lineworks_sandbox, body["refresh_token"]).get("/v1.0/users"))


# ---------------------------------------------------------------------------------------------------
# 3. Users (§7, §1.3)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def five_users(lineworks_sandbox) -> list[dict]:
    users = [make_user(i) for i in range(1, 6)]
    lineworks_sandbox.seed({"users": users})
    return users


def test_should_page_users_with_count_and_next_cursor(api, five_users):
    seen, cursors = [], []
    params: dict[str, Any] = {"count": 2}
    for _ in range(10):
        response = api.get("/v1.0/users", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"users", "responseMetaData"}
        assert len(body["users"]) <= 2
        seen += body["users"]
        cursor = body["responseMetaData"].get("nextCursor")
        if not cursor:
            break
        cursors.append(cursor)
        params = {"count": 2, "cursor": cursor}  # requests URL-encodes it

    assert [u["userId"] for u in seen] == [u["userId"] for u in five_users]
    assert len(cursors) == 2
    for cursor in cursors:  # real cursors are standard base64 (§1.3)
        assert {"+", "/", "="} <= set(cursor), cursor


def test_should_reject_a_cursor_sent_without_url_encoding(api, five_users):
    cursor = api.get("/v1.0/users", params={"count": 2}).json()["responseMetaData"]["nextCursor"]
    assert "+" in cursor

    raw = api.get(f"/v1.0/users?count=2&cursor={cursor}")  # '+' arrives as a space
    encoded = api.get(f"/v1.0/users?count=2&cursor={quote(cursor, safe='')}")

    assert_error(raw, 400, "INVALID_PARAMETER", contains="cursor")
    assert encoded.status_code == 200
    assert [u["userId"] for u in encoded.json()["users"]] == [u["userId"] for u in five_users[2:4]]


@pytest.mark.parametrize("count", ["0", "101", "-1", "abc", "²", "１０"])
def test_should_reject_a_users_count_out_of_range(api, five_users, count):
    assert_error(api.get("/v1.0/users", params={"count": count}), 400, "INVALID_PARAMETER", contains="count")


def test_should_get_a_user_by_id_and_by_email(api, five_users):
    target = five_users[2]

    by_id = api.get(f"/v1.0/users/{target['userId']}")
    by_email = api.get(f"/v1.0/users/{quote(target['email'], safe='')}")

    assert by_id.status_code == 200 and by_email.status_code == 200
    assert by_id.json() == by_email.json() == target
    assert all(has_rate_headers(r) for r in (by_id, by_email))


def test_should_answer_404_for_an_unknown_user(api, five_users):
    assert_error(api.get("/v1.0/users/nobody@example.com"), 404, "USER_NOT_EXIST")
    assert_error(api.get("/v1.0/users/00000000-0000-0000-0000-000000000000"), 404, "USER_NOT_EXIST")


def test_should_return_users_with_the_documented_fields_from_the_generator(lineworks_sandbox, api):
    lineworks_sandbox.seed(size="demo", seed=42)

    users = api.get("/v1.0/users").json()["users"]

    assert users
    for user in users:
        assert isinstance(user["userId"], str) and "@" in user["email"]
        assert user["userName"]["lastName"] and isinstance(user["userName"]["firstName"], str)
        assert {"phoneticLastName", "phoneticFirstName"} <= set(user["userName"])
        assert isinstance(user["i18nName"], list)
        org = user["organizations"][0]
        assert isinstance(org["domainId"], int) and not isinstance(org["domainId"], bool)  # numbers (§7)
        assert org["primary"] is True and org["email"] == user["email"]
        assert isinstance(org["orgUnits"], list) and {"orgUnitName", "primary"} <= set(org["orgUnits"][0])
        assert api.get(f"/v1.0/users/{user['userId']}").json() == user


# ---------------------------------------------------------------------------------------------------
# 4. Contacts (§6)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def contacts(lineworks_sandbox) -> dict[str, list[dict]]:
    friends = [
        friend_item(1, "2025-05-01T10:00:00+09:00"),
        friend_item(2, "2025-05-03T23:59:59+09:00"),
        friend_item(3, "2025-05-20T10:00:00+09:00"),
    ]
    customers = [customer_item(1, "2025-05-02T10:00:00+09:00")]
    lineworks_sandbox.seed({"users": [DOC_USER], "contacts": friends[:1] + customers + friends[1:]})
    return {"friends": [f["contact"] for f in friends], "customers": [c["contact"] for c in customers]}


def test_should_list_only_linked_external_users_with_the_filter(api, contacts):
    everyone = api.get("/v1.0/contacts")
    friends = api.get("/v1.0/contacts", params={"searchFilterType": "LINKED_EXTERNAL_USER"})

    assert everyone.status_code == 200 and friends.status_code == 200
    assert has_rate_headers(friends)
    assert len(everyone.json()["contacts"]) == 4
    body = friends.json()
    assert set(body) == {"contacts", "responseMetaData"}
    assert "nextCursor" not in body["responseMetaData"]
    assert body["contacts"] == contacts["friends"]
    for contact in body["contacts"]:
        linked = contact["linkedExternalUser"]
        assert set(linked) >= {"id", "type", "buddyUserIds"}
        assert linked["buddyUserIds"] == [DOC_USER["userId"]]


@pytest.mark.parametrize("count", ["0", "501", "1.5"])
def test_should_reject_a_contacts_count_out_of_range(api, contacts, count):
    assert_error(
        api.get("/v1.0/contacts", params={"count": count}), 400, "INVALID_PARAMETER", contains="count"
    )


def test_should_accept_the_maximum_contacts_count(api, contacts):
    assert api.get("/v1.0/contacts", params={"count": "500"}).status_code == 200


def test_should_reject_a_contacts_window_over_7_days(api, contacts):
    response = api.get(
        "/v1.0/contacts",
        params={
            "searchDateType": "CREATED_TIME",
            "startDateTime": "2025-05-01T00:00:00+09:00",
            "endDateTime": "2025-05-08T00:00:01+09:00",
        },
    )
    assert_error(response, 400, "OUT_OF_RANGE")


def test_should_require_search_date_type_with_a_period(api, contacts):
    response = api.get(
        "/v1.0/contacts",
        params={"startDateTime": "2025-05-01T00:00:00+09:00", "endDateTime": "2025-05-02T00:00:00+09:00"},
    )
    assert_error(response, 400, "INVALID_PARAMETER", contains="searchDateType")


def test_should_reject_a_time_with_an_unencoded_plus(api, contacts):
    period = "startDateTime=2025-05-01T00:00:00{tz}&endDateTime=2025-05-05T00:00:00{tz}"
    query = "searchDateType=CREATED_TIME&" + period

    raw = api.get("/v1.0/contacts?" + query.format(tz="+09:00"))
    encoded = api.get("/v1.0/contacts?" + query.format(tz="%2B09:00"))

    assert_error(raw, 400, "INVALID_PARAMETER", contains="%2B")
    assert encoded.status_code == 200, encoded.text


def test_should_filter_contacts_by_created_time(api, contacts):
    response = api.get(
        "/v1.0/contacts",
        params={
            "searchDateType": "CREATED_TIME",
            "startDateTime": "2025-05-01T00:00:00.000+09:00",
            "endDateTime": "2025-05-04T00:00:00.000+09:00",
            "searchFilterType": "LINKED_EXTERNAL_USER",
        },
    )

    assert response.status_code == 200, response.text
    assert [c["contactId"] for c in response.json()["contacts"]] == [
        c["contactId"] for c in contacts["friends"][:2]
    ]

    later = api.get(
        "/v1.0/contacts",
        params={
            "searchDateType": "CREATED_TIME",
            "startDateTime": "2025-05-19T00:00:00Z",
            "endDateTime": "2025-05-21T00:00:00Z",
        },
    )
    assert [c["contactId"] for c in later.json()["contacts"]] == [contacts["friends"][2]["contactId"]]


def test_should_stop_paging_contacts_at_the_max_results_cap(lineworks_sandbox, api):
    lineworks_sandbox.seed({"contacts": [friend_item(i) for i in range(1, 9)]})
    lineworks_sandbox.control.configure(contacts_max_results=5)

    seen, params = [], {"count": 2, "searchFilterType": "LINKED_EXTERNAL_USER"}
    for _ in range(10):
        response = api.get("/v1.0/contacts", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["contacts"]
        cursor = body["responseMetaData"].get("nextCursor")
        if not cursor:
            break
        params = {**params, "cursor": cursor}

    assert len(seen) == 5
    assert "nextCursor" not in body["responseMetaData"]


def test_should_reject_a_contacts_cursor_from_another_query(api, contacts):
    cursor = api.get("/v1.0/contacts", params={"count": 1}).json()["responseMetaData"]["nextCursor"]
    response = api.get(
        "/v1.0/contacts", params={"count": 1, "cursor": cursor, "searchFilterType": "LINKED_EXTERNAL_USER"}
    )
    assert_error(response, 400, "INVALID_PARAMETER", contains="cursor")


# ---------------------------------------------------------------------------------------------------
# 5. Bot sends (§3.1-§3.3)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def bot_target(lineworks_sandbox) -> dict:
    lineworks_sandbox.seed(
        {"users": [DOC_USER], "rooms": [{"channelId": "channel123", "kind": "group", "title": "room"}]}
    )
    return DOC_USER


def uri(label: str = "Home") -> dict:
    return {"type": "uri", "label": label, "uri": "https://line-works.com"}


def test_should_send_text_to_a_user_by_id_and_email_and_to_a_channel(lineworks_sandbox, api, bot_target):
    content = {"type": "text", "text": "hello"}

    responses = [
        api.send({"content": content}, target=f"users/{bot_target['userId']}"),
        api.send(
            {"content": {**content, "text": "by mail"}}, target=f"users/{quote(bot_target['email'], safe='')}"
        ),
        api.send({"content": {**content, "text": "room"}}, target="channels/channel123"),
    ]

    for response in responses:
        assert response.status_code == 201, response.text
        assert response.content == b""
        assert has_rate_headers(response)
    messages = lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)
    assert [(m["targetType"], m["targetId"], m["content"]) for m in messages] == [
        ("user", bot_target["userId"], content),
        ("user", bot_target["userId"], {**content, "text": "by mail"}),
        ("channel", "channel123", {**content, "text": "room"}),
    ]


def test_should_send_the_documented_i18n_text_and_button_examples(lineworks_sandbox, api, bot_target):
    examples = [  # DOC:bot-send-button and the text example (§3.3)
        {
            "content": {
                "type": "button_template",
                "contentText": "What do you want?",
                "actions": [
                    {"type": "uri", "label": "LINE WORKS Homepage", "uri": "https://line-works.com"},
                    {"type": "message", "label": "FAQ", "postback": "ButtonTemplate_FAQ"},
                ],
            }
        },
        {
            "content": {
                "type": "text",
                "text": "hello",
                "i18nTexts": [
                    {"language": "ja_JP", "text": "こんにちは"},
                    {"language": "ko_KR", "text": "안녕하세요"},
                ],
            }
        },
    ]
    for body in examples:
        response = api.send(body)
        assert response.status_code == 201, response.text
    assert [m["content"] for m in lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)] == [
        e["content"] for e in examples
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"content": {"type": "text", "text": "a" * 2000}}, id="text_2000"),
        pytest.param(
            {"content": {"type": "button_template", "contentText": "x", "actions": [uri()] * 10}},
            id="button_10_actions",
        ),
        pytest.param(
            {
                "content": {
                    "type": "text",
                    "text": "q",
                    "quickReply": {
                        "items": [{"action": {"type": "message", "label": "l", "text": "t"}}] * 13
                    },
                }
            },
            id="quick_reply_13",
        ),
        pytest.param(
            {
                "content": {
                    "type": "carousel",
                    "columns": [
                        {
                            "title": "t",
                            "text": "x",
                            "actions": [{"type": "postback", "label": "p", "data": "d" * 300}],
                        }
                    ]
                    * 10,
                }
            },
            id="carousel_10_postback_300",
        ),
        pytest.param(
            {
                "content": {
                    "type": "list_template",
                    "elements": [
                        {"title": "t", "action": {"type": "message", "label": "m", "postback": "pb"}}
                    ],
                    "actions": [[uri("a"), uri("b")], [uri("c")]],
                }
            },
            id="list_message_action",
        ),
    ],
)
def test_should_accept_content_at_the_documented_limits(api, bot_target, body):
    response = api.send(body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"content": {"type": "text", "text": "a" * 2001}}, id="text_over_2000"),
        pytest.param(
            {"content": {"type": "button_template", "contentText": "x", "actions": [uri()] * 11}},
            id="button_11_actions",
        ),
        pytest.param(
            {
                "content": {
                    "type": "button_template",
                    "contentText": "x",
                    "actions": [{"type": "postback", "label": "buy", "data": "action=buy"}],
                }
            },
            id="postback_in_button_template",
        ),
        pytest.param(
            {
                "content": {
                    "type": "list_template",
                    "elements": [
                        {"title": "t", "action": {"type": "postback", "label": "buy", "data": "action=buy"}}
                    ],
                }
            },
            id="postback_in_list_template_element",
        ),
        pytest.param(
            {
                "content": {
                    "type": "list_template",
                    "elements": [{"title": "t"}],
                    "actions": [[{"type": "postback", "label": "buy", "data": "action=buy"}]],
                }
            },
            id="postback_in_list_template_actions",
        ),
        pytest.param(
            {
                "content": {
                    "type": "carousel",
                    "columns": [{"title": "t", "text": "x", "actions": [uri()]}] * 11,
                }
            },
            id="carousel_11_columns",
        ),
        pytest.param(
            {
                "content": {
                    "type": "carousel",
                    "columns": [
                        {
                            "title": "t",
                            "text": "x",
                            "actions": [{"type": "postback", "label": "p", "data": "d" * 301}],
                        }
                    ],
                }
            },
            id="postback_data_over_300",
        ),
        pytest.param(
            {
                "content": {
                    "type": "text",
                    "text": "q",
                    "quickReply": {
                        "items": [{"action": {"type": "message", "label": "l", "text": "t"}}] * 14
                    },
                }
            },
            id="quick_reply_14_items",
        ),
        pytest.param(
            {"content": {"type": "text", "text": "hi"}, "notify": True}, id="undefined_top_level_property"
        ),
        pytest.param({"content": {"type": "hologram", "text": "hi"}}, id="unknown_content_type"),
        pytest.param({"message": {"type": "text", "text": "hi"}}, id="missing_content"),
        pytest.param({"content": {"type": "image"}}, id="image_without_urls"),
        pytest.param(
            {"content": {"type": "text", "text": "x", "quickReply": []}}, id="quick_reply_not_an_object"
        ),
        pytest.param({"content": {"type": ["text"], "text": "x"}}, id="type_not_a_string"),
        pytest.param({"content": {"type": "list_template", "elements": ["x"]}}, id="element_not_an_object"),
        pytest.param(
            {"content": {"type": "text", "text": "x", "i18nTexts": ["x"]}}, id="i18n_text_not_an_object"
        ),
        pytest.param([{"content": {"type": "text", "text": "x"}}], id="body_not_an_object"),
    ],
)
def test_should_reject_invalid_bot_content_with_invalid_parameter(lineworks_sandbox, api, bot_target, body):
    response = api.send(body)

    assert_error(response, 400, "INVALID_PARAMETER")
    assert lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id) == []


def test_should_accept_a_message_action_with_postback_inside_a_button_template(
    lineworks_sandbox, api, bot_target
):
    content = {
        "type": "button_template",
        "contentText": "What do you want?",
        "actions": [{"type": "message", "label": "Buy", "text": "Buy", "postback": "action=buy"}],
    }

    response = api.send({"content": content})

    assert response.status_code == 201, response.text
    assert lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)[0]["content"] == content


def test_should_answer_404_for_an_unknown_bot_user_or_channel(api, bot_target):
    body = {"content": {"type": "text", "text": "hi"}}
    assert_error(api.send(body, bot_id=9999999), 404, "NOT_FOUND")
    assert_error(api.send(body, target="users/nobody@example.com"), 404, "USER_NOT_EXIST")
    assert_error(api.send(body, target="channels/no-such-room"), 404, "CHANNEL_NOT_EXIST")


def test_should_reject_a_non_json_bot_message_body(api, bot_target):
    path = f"/v1.0/bots/{api.sandbox.creds.bot_id}/users/{bot_target['userId']}/messages"

    not_json = api.post(path, data=b"content=hello", headers={"Content-Type": "application/json"})
    form = api.post(path, data={"content": "hello"})

    assert_error(not_json, 400, "INVALID_PARAMETER")
    assert_error(form, 400, "INVALID_PARAMETER", contains="Content-Type")


# ---------------------------------------------------------------------------------------------------
# 6. Callback sender (§3.4, §3.5)
# ---------------------------------------------------------------------------------------------------


class Receiver:
    """A tiny HTTP bot server: records raw bodies and headers and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append({"path": self.path, "headers": self.headers, "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


CALLBACK_BOT_ID = 2000002
CALLBACK_BOT_SECRET = "callback-bot-secret-Zq9"


def register_callback_bot(sandbox, url: str) -> None:
    created = sandbox.control.call(
        "POST",
        "/bots",
        {"botId": CALLBACK_BOT_ID, "secret": CALLBACK_BOT_SECRET, "callbackUrl": url, "name": "CallbackBot"},
    )
    assert created == {"botId": str(CALLBACK_BOT_ID)}


def expected_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def assert_signed_delivery(received: dict[str, Any]) -> dict[str, Any]:
    headers = received["headers"]
    assert received["path"] == "/callback"
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert headers["X-WORKS-BotId"] == str(CALLBACK_BOT_ID)
    assert headers["X-WORKS-Signature"] == expected_signature(received["body"], CALLBACK_BOT_SECRET)
    return json.loads(received["body"])


def test_should_deliver_signed_message_postback_and_join_callbacks(lineworks_sandbox, receiver):
    register_callback_bot(lineworks_sandbox, receiver.url)
    user = "c72af563-0f21-4736-11e4-045237113344"
    specs = [
        {"type": "message", "userId": user, "text": "hello", "postback": "ButtonTemplate_FAQ"},
        {"type": "postback", "userId": user, "channelId": "12345", "data": "action=buy"},
        {"type": "join", "channelId": "12345"},
    ]

    results = [lineworks_sandbox.control.send_callback(CALLBACK_BOT_ID, spec) for spec in specs]

    assert [r["delivered"] for r in results] == [True, True, True]
    assert [r["status"] for r in results] == [200, 200, 200]
    assert len(receiver.received) == 3
    message, postback, join = (assert_signed_delivery(r) for r in receiver.received)
    assert [r["event"] for r in results] == [message, postback, join]

    assert set(message) == {"type", "source", "issuedTime", "content"}
    assert message["type"] == "message"
    assert message["source"] == {"userId": user, "domainId": DOMAIN_ID}  # 1:1: no channelId
    assert message["content"] == {"type": "text", "text": "hello", "postback": "ButtonTemplate_FAQ"}

    assert set(postback) == {"type", "source", "issuedTime", "data"}
    assert postback["source"] == {"userId": user, "channelId": "12345", "domainId": DOMAIN_ID}
    assert postback["data"] == "action=buy"

    assert set(join) == {"type", "source", "issuedTime"}
    assert join["type"] == "join"
    assert join["source"] == {"channelId": "12345", "domainId": DOMAIN_ID}  # no userId for join (§3.5)
    for event in (message, postback, join):
        assert DOC_ISSUED_TIME_RE.match(event["issuedTime"]), event["issuedTime"]
        assert isinstance(event["source"]["domainId"], int)


def test_should_sign_the_raw_body_with_hmac_sha256_of_the_bot_secret():
    body = (
        '{"type":"message","source":{"userId":"c72af563-0f21-4736-11e4-045237113344","channelId":"12345",'
        '"domainId":40029600},"issuedTime":"2022-01-04T05:16:05.716Z","content":{"type":"text","text":"hello"}}'
    ).encode()
    secret = "bot-secret-abc123"

    signature = callbacks.sign(body, secret)

    assert signature == expected_signature(body, secret)
    assert len(base64.b64decode(signature)) == 32 and len(signature) == 44  # like 9crxWhZ9…fHQ=
    assert callbacks.sign(body + b" ", secret) != signature  # re-serialized JSON would not match


def test_should_not_retry_a_callback_the_bot_server_refused(lineworks_sandbox):
    failing = Receiver(status=500)
    try:
        register_callback_bot(lineworks_sandbox, failing.url)

        result = lineworks_sandbox.control.send_callback(
            CALLBACK_BOT_ID, {"type": "postback", "userId": "u1", "data": "x"}
        )
        time.sleep(0.3)

        assert result["delivered"] is False and result["status"] == 500
        assert len(failing.received) == 1
        assert_signed_delivery(failing.received[0])
    finally:
        failing.close()


def test_should_reject_a_callback_for_an_unknown_event_type(lineworks_sandbox, receiver):
    register_callback_bot(lineworks_sandbox, receiver.url)
    response = lineworks_sandbox.control.session.post(
        f"{lineworks_sandbox.url}/_sandbox/bots/{CALLBACK_BOT_ID}/callbacks",
        json={"type": "poke"},
        timeout=TIMEOUT,
    )
    assert_error(response, 400, "INVALID_PARAMETER")
    assert receiver.received == []


# ---------------------------------------------------------------------------------------------------
# 7. Downloads (§4, §5)
# ---------------------------------------------------------------------------------------------------

MEMBER = make_user(1, last="山田", first="太郎", email="taro@example.com")
MEMBER_CELL = "山田 太郎 (taro@example.com)"
FRIEND_CELL = "LINE花子"
BOT_CELL = "[Bot]社外連絡先Bot"  # the fixture bot's name (sandbox.credentials)
MULTILINE = '見積もり、ありがとうございます。\n"至急"で、お願いします,\n以上'
LOG_MESSAGES = [
    ("2025-05-29T23:59:59+09:00", "m", "f", "前日のメッセージ"),  # outside the window
    ("2025-05-30T09:00:00+09:00", "m", "f", "こんにちは"),
    ("2025-05-30T09:01:00+09:00", "f", "m", MULTILINE),
    ("2025-05-30T09:02:00+09:00", "m", "f", "(写真) x.png"),
    ("2025-05-30T09:03:00+09:00", "b", "m", "[Bot] 定期連絡です"),
]


@pytest.fixture
def talk_logs(lineworks_sandbox) -> None:
    lineworks_sandbox.control.configure(rate_limits=HIGH_RATE_LIMITS)
    ids = {
        "m": "m:" + MEMBER["userId"],
        "f": "f:" + friend_item(1)["contact"]["contactId"],
        "b": f"b:{lineworks_sandbox.creds.bot_id}",
    }
    lineworks_sandbox.seed(
        {
            "users": [MEMBER],
            "contacts": [{**friend_item(1, name=FRIEND_CELL)}],
            "rooms": [{"channelId": "room-1", "kind": "single"}],
            "messages": [
                {"time": t, "channelId": "room-1", "sender": ids[s], "recipients": [ids[r]], "text": text}
                for t, s, r, text in LOG_MESSAGES
            ],
        }
    )


def test_should_redirect_downloads_to_the_other_host_without_rate_headers(api, talk_logs):
    response = api.get(MONITORING, params=download_params(language="ja_JP"))

    assert response.status_code == 302, response.text
    assert not has_rate_headers(response)
    location = urlsplit(response.headers["Location"])
    here = urlsplit(api.base)
    assert location.scheme == "https"
    assert {location.hostname, here.hostname} == {"localhost", "127.0.0.1"}
    assert location.port == here.port
    assert api.fetch(response.headers["Location"]).status_code == 200


def test_should_lose_authorization_when_requests_follows_the_redirect(api, talk_logs):
    response = api.get(MONITORING, params=download_params(language="ja_JP"), allow_redirects=True)

    assert [r.status_code for r in response.history] == [302]
    assert_error(response, 401, "UNAUTHORIZED", contains="Authentication failed.")
    assert "Authorization" not in response.request.headers

    # The documented fix: GET the Location again with the Authorization header.
    again = api.fetch(response.history[0].headers["Location"])
    assert again.status_code == 200, again.text


def test_should_serve_the_monitoring_csv_with_bom_ja_header_and_intact_cells(api, talk_logs):
    response = download(api, language="ja_JP")

    assert response.headers["Content-Type"].lower().startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf" + "日時,送信者,受信者,チャンネルID,トーク\n".encode())
    rows = parse_csv(response.content)
    assert rows == [
        ["日時", "送信者", "受信者", "チャンネルID", "トーク"],
        ["2025-05-30T09:00:00+09:00", MEMBER_CELL, FRIEND_CELL, "room-1", "こんにちは"],
        ["2025-05-30T09:01:00+09:00", FRIEND_CELL, MEMBER_CELL, "room-1", MULTILINE],
        ["2025-05-30T09:02:00+09:00", MEMBER_CELL, FRIEND_CELL, "room-1", "(写真) x.png"],
        ["2025-05-30T09:03:00+09:00", BOT_CELL, MEMBER_CELL, "room-1", "[Bot] 定期連絡です"],
    ]


def test_should_use_another_header_in_en_us(api, talk_logs):
    rows = parse_csv(download(api).content)  # language defaults to en_US

    assert rows[0] != ["日時", "送信者", "受信者", "チャンネルID", "トーク"]
    assert len(rows[0]) == 5 and all(cell.isascii() for cell in rows[0])
    assert [r[4] for r in rows[1:]] == [m[3] for m in LOG_MESSAGES[1:]]


def test_should_filter_bot_messages(api, talk_logs):
    excluded = parse_csv(download(api, language="ja_JP", botMessageFilterType="exclude").content)
    only = parse_csv(download(api, language="ja_JP", botMessageFilterType="only").content)

    assert [r[1] for r in excluded[1:]] == [MEMBER_CELL, FRIEND_CELL, MEMBER_CELL]
    assert [r[1] for r in only[1:]] == [BOT_CELL]


def test_should_reject_a_download_window_over_31_days(api, talk_logs):
    over = api.get(
        MONITORING, params={"startTime": "2025-05-01T00:00:00+09:00", "endTime": "2025-06-01T00:00:01+09:00"}
    )
    assert_error(over, 400, "OUT_OF_RANGE")

    exactly = api.get(
        MONITORING, params={"startTime": "2025-05-01T00:00:00+09:00", "endTime": "2025-06-01T00:00:00+09:00"}
    )
    assert exactly.status_code == 302
    assert api.fetch(exactly.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "params, code",
    [
        ({"startTime": "2025-05-30T00:00:00+09:00"}, "MISSING_PARAMETER"),
        ({"startTime": "2025-05-30 00:00:00", "endTime": "2025-05-31T00:00:00+09:00"}, "INVALID_PARAMETER"),
        ({**download_params(), "language": "fr_FR"}, "INVALID_PARAMETER"),
        ({**download_params(), "botMessageFilterType": "some"}, "INVALID_PARAMETER"),
        (
            {"startTime": "2025-05-31T00:00:00+09:00", "endTime": "2025-05-30T00:00:00+09:00"},
            "INVALID_PARAMETER",
        ),
        (
            {"startTime": "2025-13-30T00:00:00+09:00", "endTime": "2025-05-31T00:00:00+09:00"},
            "INVALID_PARAMETER",
        ),
        ({**download_params(), "domainId": "abc"}, "INVALID_PARAMETER"),
    ],
)
def test_should_validate_download_parameters(api, talk_logs, params, code):
    assert_error(api.get(MONITORING, params=params), 400, code)


def test_should_reject_a_download_time_with_an_unencoded_plus(api, talk_logs):
    raw = api.get(MONITORING + "?startTime=2025-05-30T00:00:00+09:00&endTime=2025-05-31T00:00:00+09:00")
    assert_error(raw, 400, "INVALID_PARAMETER", contains="%2B")


def test_should_reject_a_concurrent_download_until_the_first_file_is_fetched(api, talk_logs):
    first = api.get(MONITORING, params=download_params())
    assert first.status_code == 302

    second = api.get(MONITORING, params=download_params())
    assert_error(second, 429, "TOO_MANY_REQUESTS")

    assert api.fetch(first.headers["Location"]).status_code == 200
    third = api.get(MONITORING, params=download_params())
    assert third.status_code == 302
    assert api.fetch(third.headers["Location"]).status_code == 200


def test_should_answer_403_for_another_domain(api, talk_logs):
    assert_error(api.get(MONITORING, params=download_params(domainId="20000002")), 403, "FORBIDDEN")
    assert (
        api.fetch(
            api.get(MONITORING, params=download_params(domainId=str(DOMAIN_ID))).headers["Location"]
        ).status_code
        == 200
    )


def test_should_free_the_download_slot_when_the_file_request_fails(lineworks_sandbox, api, talk_logs):
    lineworks_sandbox.control.fault("files.download", "503")
    first = api.get(MONITORING, params=download_params())

    assert_error(api.fetch(first.headers["Location"]), 503, "SERVICE_UNAVAILABLE")
    assert download(api).status_code == 200


def test_should_answer_404_for_a_download_url_fetched_twice(api, talk_logs):
    first = api.get(MONITORING, params=download_params())
    assert api.fetch(first.headers["Location"]).status_code == 200
    assert_error(api.fetch(first.headers["Location"]), 404, "NOT_FOUND")


def test_should_end_the_file_with_download_logs_error_on_the_fault(lineworks_sandbox, api, talk_logs):
    lineworks_sandbox.control.fault("files.download", "download_error")

    response = download(api, language="ja_JP")

    lines = response.content.decode("utf-8-sig").rstrip("\n").split("\n")
    assert lines[0] == "日時,送信者,受信者,チャンネルID,トーク"
    assert lines[-1].startswith("downloadLogs error")
    assert "[Bot] 定期連絡です" not in response.content.decode("utf-8")  # cut off midway
    # the next download is complete again
    assert not download(api).content.decode("utf-8").rstrip("\n").split("\n")[-1].startswith("downloadLogs")


def test_should_serve_the_audit_message_csv_without_message_text(api, talk_logs):
    response = download(api, AUDIT, service="message", language="ja_JP")

    rows = parse_csv(response.content)
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert rows[0] == ["日時", "送信者", "受信者", "チャンネルID", "イベント"]
    assert [r[:4] for r in rows[1:]] == [
        ["2025-05-30T09:00:00+09:00", MEMBER_CELL, FRIEND_CELL, "room-1"],
        ["2025-05-30T09:01:00+09:00", FRIEND_CELL, MEMBER_CELL, "room-1"],
        ["2025-05-30T09:02:00+09:00", MEMBER_CELL, FRIEND_CELL, "room-1"],
        ["2025-05-30T09:03:00+09:00", BOT_CELL, MEMBER_CELL, "room-1"],
    ]
    text = response.content.decode("utf-8")
    for *_, message in LOG_MESSAGES:
        assert message not in text


def test_should_answer_501_for_an_audit_service_other_than_message(api, talk_logs):
    assert_error(api.get(AUDIT, params=download_params(service="admin")), 501, "NOT_IMPLEMENTED")


def test_should_require_the_audit_service(api, talk_logs):
    assert_error(api.get(AUDIT, params=download_params()), 400, "MISSING_PARAMETER", contains="service")
    assert_error(api.get(AUDIT, params=download_params(service="chat")), 400, "INVALID_PARAMETER")


def test_should_require_authorization_on_the_download_url(api, talk_logs):
    first = api.get(MONITORING, params=download_params())
    assert_unauthorized(api.fetch(first.headers["Location"], auth=False))


# ---------------------------------------------------------------------------------------------------
# 8. Rate limits (§8.1)
# ---------------------------------------------------------------------------------------------------


def test_should_answer_429_with_rate_headers_over_the_monitoring_limit(lineworks_sandbox, api, talk_logs):
    lineworks_sandbox.control.configure(rate_limits={"monitoring": 2})
    for _ in range(2):
        first = api.get(MONITORING, params=download_params())
        assert first.status_code == 302
        assert api.fetch(first.headers["Location"]).status_code == 200

    third = api.get(MONITORING, params=download_params())

    body = assert_error(third, 429, "TOO_MANY_REQUESTS")
    assert body["description"] == "API rate limit exceeded"
    assert third.headers["rateLimit-limit"] == "2"
    assert third.headers["rateLimit-used"] == "2"
    assert third.headers["rateLimit-remaining"] == "0"
    assert 1 <= int(third.headers["rateLimit-reset"]) <= 60
    # the limit is per API: other APIs still answer
    assert api.get("/v1.0/users").status_code == 200


def test_should_send_rate_headers_on_normal_answers(api):
    first = api.get("/v1.0/users")
    second = api.get("/v1.0/users")

    assert first.status_code == second.status_code == 200
    assert all(name in first.headers for name in RATE_HEADERS)
    assert first.headers["rateLimit-limit"] == "240"
    assert int(second.headers["rateLimit-used"]) == int(first.headers["rateLimit-used"]) + 1
    assert int(second.headers["rateLimit-remaining"]) == 240 - int(second.headers["rateLimit-used"])


# ---------------------------------------------------------------------------------------------------
# 9. Faults via the control API
# ---------------------------------------------------------------------------------------------------


def test_should_inject_503_for_the_next_calls_then_recover(lineworks_sandbox, api):
    lineworks_sandbox.control.fault("users", "503", count=2)

    answers = [api.get("/v1.0/users") for _ in range(3)]

    assert_error(answers[0], 503, "SERVICE_UNAVAILABLE")
    assert_error(answers[1], 503, "SERVICE_UNAVAILABLE")
    assert answers[2].status_code == 200
    faults = lineworks_sandbox.control.call("GET", "/faults")
    assert faults["queued"] == [] and faults["injected"] == {"503": 2}


def test_should_reset_the_connection_on_the_reset_fault(lineworks_sandbox, api):
    lineworks_sandbox.control.fault("users", "reset")

    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/v1.0/users")
    assert api.get("/v1.0/users").status_code == 200


def test_should_expire_the_token_on_the_expire_token_fault(lineworks_sandbox, api):
    lineworks_sandbox.control.fault("users", "expire_token")

    assert_unauthorized(api.get("/v1.0/users"))
    assert_unauthorized(api.get("/v1.0/contacts"))  # stays invalid afterwards
    fresh = Api(lineworks_sandbox, obtain_token(lineworks_sandbox)["access_token"])
    assert fresh.get("/v1.0/users").status_code == 200


def test_should_send_rate_limit_reset_with_an_injected_429(lineworks_sandbox, api):
    lineworks_sandbox.control.fault("users", "429")

    response = api.get("/v1.0/users")

    assert_error(response, 429, "TOO_MANY_REQUESTS")
    assert response.headers["rateLimit-reset"] == "1"
    assert all(name in response.headers for name in RATE_HEADERS)
    assert api.get("/v1.0/users").status_code == 200


def test_should_apply_random_faults_only_to_their_target(lineworks_sandbox, api):
    lineworks_sandbox.control.random_faults(1.0, ["500"], targets=["contacts"])

    for _ in range(3):
        assert_error(api.get("/v1.0/contacts"), 500, "INTERNAL_SERVER_ERROR")
        assert api.get("/v1.0/users").status_code == 200

    faults = lineworks_sandbox.control.call("GET", "/faults")
    assert faults["random"]["rate"] == 1.0 and faults["random"]["targets"] == ["contacts"]
    assert faults["injected"] == {"500": 3}

    cleared = lineworks_sandbox.control.call("DELETE", "/faults")
    assert cleared["queued"] == [] and cleared["random"]["rate"] == 0.0 and cleared["injected"] == {}
    assert api.get("/v1.0/contacts").status_code == 200


def test_should_list_queued_faults_and_clear_them(lineworks_sandbox, api):
    lineworks_sandbox.control.fault("contacts", "500", count=3)
    lineworks_sandbox.control.fault("bot", "503")

    faults = lineworks_sandbox.control.call("GET", "/faults")
    assert faults["queued"] == [
        {"target": "contacts", "kind": "500", "remaining": 3},
        {"target": "bot", "kind": "503", "remaining": 1},
    ]
    assert_error(api.get("/v1.0/contacts"), 500, "INTERNAL_SERVER_ERROR")
    assert lineworks_sandbox.control.call("GET", "/faults")["queued"][0]["remaining"] == 2

    lineworks_sandbox.control.call("DELETE", "/faults")

    assert lineworks_sandbox.control.call("GET", "/faults")["queued"] == []
    assert api.get("/v1.0/contacts").status_code == 200


def test_should_reject_an_unknown_fault_kind(lineworks_sandbox):
    response = lineworks_sandbox.control.session.post(
        f"{lineworks_sandbox.url}/_sandbox/faults", json={"target": "users", "kind": "418"}, timeout=TIMEOUT
    )
    assert_error(response, 400, "INVALID_PARAMETER")


# ---------------------------------------------------------------------------------------------------
# 10. Unknown endpoints
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1.0/boards"),
        ("POST", "/v1.0/users"),
        ("DELETE", f"/v1.0/users/{DOC_USER['userId']}"),
        ("GET", "/v1.0/bots/2000001/channels/channel123/members"),
        ("POST", "/oauth2/v2.0/revoke"),
    ],
)
def test_should_answer_501_for_unknown_endpoints(api, method, path):
    response = api.request(method, path, json={} if method == "POST" else None)

    body = assert_error(response, 501, "NOT_IMPLEMENTED")
    assert f"{method} {path}" in body["description"]


# ---------------------------------------------------------------------------------------------------
# 11. The documented sample payloads round-trip
# ---------------------------------------------------------------------------------------------------


def test_should_match_the_documented_token_response_fixture(lineworks_sandbox):
    body = obtain_token(lineworks_sandbox, scope="bot bot.read")

    assert set(body) == set(DOC_TOKEN_RESPONSE)
    assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in DOC_TOKEN_RESPONSE.items()}
    assert body["scope"] == DOC_TOKEN_RESPONSE["scope"]
    assert body["token_type"] == DOC_TOKEN_RESPONSE["token_type"]
    assert body["expires_in"] == DOC_TOKEN_RESPONSE["expires_in"]
    assert body["access_token"].startswith("kr1") and body["refresh_token"].startswith("kr1")


def test_should_round_trip_the_documented_user_json(lineworks_sandbox, api):
    lineworks_sandbox.seed({"users": [DOC_USER]})

    one = api.get(f"/v1.0/users/{DOC_USER['userId']}")
    listed = api.get("/v1.0/users")

    assert one.status_code == 200 and one.json() == DOC_USER
    assert listed.json() == {"users": [DOC_USER], "responseMetaData": {}}


def test_should_round_trip_the_documented_contact_example(lineworks_sandbox, api):
    lineworks_sandbox.seed(
        {"contacts": [{"contact": DOC_CONTACT, "createdTime": "2025-05-01T00:00:00Z"}, customer_item(1)]}
    )

    response = api.get("/v1.0/contacts", params={"searchFilterType": "LINKED_EXTERNAL_USER"})

    assert response.status_code == 200
    assert response.json() == {"contacts": [DOC_CONTACT], "responseMetaData": {}}


def test_should_reproduce_the_documented_monitoring_csv(lineworks_sandbox, api):
    lineworks_sandbox.control.configure(csv_member_format="{email}")
    user = make_user(7, email="user@example.com")
    lineworks_sandbox.seed(
        {
            "users": [user],
            "bots": [{"botId": 3000001, "secret": "s", "name": "test"}],
            "messages": [
                {
                    "time": "2025-05-30T18:24:53+09:00",
                    "channelId": "channel123",
                    "sender": "b:3000001",
                    "recipients": ["m:" + user["userId"]],
                    "text": "Hello World",
                },
                {
                    "time": "2025-05-30T18:25:00+09:00",
                    "channelId": "channel123",
                    "sender": "m:" + user["userId"],
                    "recipients": ["b:3000001"],
                    "text": "Line 1\nLine 2",
                },
            ],
        }
    )

    response = download(api, language="ja_JP")

    got, expected = parse_csv(response.content), parse_csv(DOC_MONITORING_CSV.encode())
    assert len(got) == len(expected) == 3
    for got_row, expected_row in zip(got, expected):
        assert len(got_row) == len(expected_row)
        for got_cell, expected_cell in zip(got_row, expected_row):
            assert got_cell == expected_cell
    assert response.content == b"\xef\xbb\xbf" + DOC_MONITORING_CSV.encode()
