"""LINE WORKS API 2.0 hook: service-account auth, retries, rate limits, paging and log downloads.

The hook is the only way product code talks to LINE WORKS. Whether it talks to the real tenant or to
the local sandbox depends only on the Airflow connection (API base URL, token URL, CA bundle).

Behaviour, with the source of each rule (``shared/reference/lineworks-api.md``):

* JWT bearer grant (RS256, ``iss`` = client id, ``sub`` = service account, numeric ``iat``/``exp``,
  at most 60 minutes); the token is cached per connection in the process and refreshed with the
  refresh token before it expires; ``expires_in`` may be a string or a number (§2).
* A 401 ``UNAUTHORIZED`` re-authenticates once and replays the call once (§8.2).
* 429 (waiting ``rateLimit-reset`` seconds), 5xx and connection resets are retried with capped
  exponential backoff and a bounded number of attempts, then raise a typed error (§8.1).
* Client-side rate limits per API family (monitoring/audit 10/min, others 240/min) (§8.1).
* Cursor paging through ``responseMetaData.nextCursor``, URL-encoded when sent back (§1.3).
* Time parameters ``YYYY-MM-DDThh:mm:ssTZD`` with ``+`` sent as ``%2B`` (§1.2).
* Downloads: 302 to another host, fetched with the Authorization header re-sent; streamed to disk;
  BOM stripped; a ``downloadLogs error`` trailer fails the attempt and leaves no file; windows over
  31 days are split; one download at a time (§4, §5).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import requests
import tenacity
from airflow.sdk import BaseHook

from hooks import transport
from hooks.exceptions import (
    LineWorksApiError,
    LineWorksAuthError,
    LineWorksDownloadError,
    LineWorksLimitExceeded,
    LineWorksPagingError,
    LineWorksRateLimited,
    LineWorksTransientError,
)
from hooks.transport import (
    CONNECTION_ERRORS,
    RetryableResponse,
    exponential_backoff,
    make_session,
    mask_secrets,
    retrying,
)
from lineworks_salesforce.provider import DEFAULT_API_BASE_URL, DEFAULT_SCOPES, DEFAULT_TOKEN_URL
from lineworks_salesforce.timewindows import split_windows

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_MAX_LIFETIME = 3600  # "最長 60 分有効"
CONTACTS_MAX_WINDOW = timedelta(days=7)  # DOC:contact-list
CONTACTS_CAP = 50_000  # DOC:contact-list: at most 50,000 contacts per operation
DOWNLOAD_MAX_WINDOW = timedelta(days=31)  # DOC:content-log-download, DOC:audit-log-download
DOWNLOAD_ERROR_MARKER = b"downloadLogs error"
UTF8_BOM = b"\xef\xbb\xbf"
# Requests per minute per API family (DOC:rate-limits, Standard/Advanced plans).
DEFAULT_RATE_LIMITS = {"default": 240, "monitoring": 10, "audit": 10}
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

# Indirections so tests can observe waits without sleeping.
_monotonic = time.monotonic


@dataclass(frozen=True)
class DownloadResult:
    """What a log download wrote: the file, its size, and the API windows it was fetched in."""

    path: str
    bytes: int
    windows: list[tuple[str, str]]


@dataclass
class _Token:
    access_token: str
    refresh_token: str | None
    expires_at: float  # time.time()
    lifetime: float


@dataclass
class _Settings:
    conn_id: str
    api_base_url: str
    token_url: str
    client_id: str | None
    client_secret: str | None
    service_account: str | None
    private_key: str | None
    bot_id: str | None
    bot_secret: str | None
    domain_id: str | None
    scopes: str
    ca_bundle: str | None
    rate_limits: dict[str, float]
    rate_limit_window: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    rate_limit_wait_max: float = 65.0
    timeout: float = 60.0
    refresh_margin: float = 300.0
    jwt_lifetime: int = JWT_MAX_LIFETIME
    friends_cap: int = CONTACTS_CAP
    secrets: list[str] = field(default_factory=list)

    @property
    def cache_key(self) -> tuple[str, ...]:
        return (self.conn_id, self.token_url, self.client_id or "", self.service_account or "", self.scopes)


class _RateLimiter:
    """At most ``limit`` calls in any ``window`` seconds (a sliding log); blocks until a slot frees.

    A sliding window never exceeds the limit inside any fixed window either, so a busy run slows
    down instead of collecting 429s from the API's per-minute counters. The window is widened by
    2 % + 50 ms because the API counts a call when it arrives and we count it when it leaves.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = max(1, int(limit)), window * 1.02 + 0.05
        self.calls: deque[float] = deque()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Take one call slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self.lock:
                now = _monotonic()
                while self.calls and now - self.calls[0] >= self.window:
                    self.calls.popleft()
                if len(self.calls) < self.limit:
                    self.calls.append(now)
                    return waited
                wait = self.calls[0] + self.window - now
            transport.pause(wait)
            waited += wait


# Process-wide state shared by all hook instances of a connection: cached tokens, rate limiters and
# the one-download-at-a-time lock (the API rejects concurrent downloads).
_TOKENS: dict[tuple[str, ...], _Token] = {}
_TOKEN_LOCKS: dict[tuple[str, ...], threading.Lock] = {}
_LIMITERS: dict[tuple[Any, ...], _RateLimiter] = {}
_DOWNLOAD_LOCKS: dict[tuple[str, ...], threading.Lock] = {}
_REGISTRY_LOCK = threading.Lock()


def _shared(registry: dict, key: Any, factory: Callable[[], Any]) -> Any:
    with _REGISTRY_LOCK:
        if key not in registry:
            registry[key] = factory()
        return registry[key]


_PEM_RE = re.compile(r"\s*-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----\s*", re.S)


def normalize_pem(text: str) -> str:
    """A PEM block as a PEM parser wants it, whether its line breaks survived the paste, became spaces,
    were written ``\\n`` (a one-line field, an environment variable) or were removed altogether."""
    found = _PEM_RE.fullmatch(text.replace("\\n", "\n"))
    if not found:
        return text
    label, body = found.group(1), re.sub(r"\s+", "", found.group(2))
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def format_api_time(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssTZD`` (e.g. ``2025-05-01T00:00:00+09:00``); the value must be aware."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"LINE WORKS time parameters need a timezone-aware datetime, got {value!r}")
    return value.isoformat(timespec="seconds")


def encode_query(params: dict[str, Any]) -> str:
    """Percent-encode every value (``+`` → ``%2B``, cursor ``=``/``/`` too), dropping None values."""
    return "&".join(
        f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items() if v is not None
    )


class LineWorksHook(BaseHook):
    """Talk to the LINE WORKS API 2.0 as a service account.

    .. code-block:: python

        hook = LineWorksHook("lineworks_default")
        for friend in hook.list_friends():
            print(friend["contactId"])
        hook.download_message_contents(start, end, "/tmp/talk.csv")

    :param lineworks_conn_id: a connection of type ``lineworks``.
    :param rate_limits: overrides of the per-minute limits per API family
        (``{"monitoring": 10, "audit": 10, "default": 240}``); the connection's extra may set them too.
    """

    conn_name_attr = "lineworks_conn_id"
    default_conn_name = "lineworks_default"
    conn_type = "lineworks"
    hook_name = "LINE WORKS"

    def __init__(
        self,
        lineworks_conn_id: str = default_conn_name,
        *,
        rate_limits: dict[str, float] | None = None,
        max_attempts: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lineworks_conn_id = lineworks_conn_id
        self._rate_limit_overrides = rate_limits or {}
        self._max_attempts_override = max_attempts

    # --- configuration ---------------------------------------------------------------------------
    @cached_property
    def settings(self) -> _Settings:
        """Connection fields and extras, parsed once (empty strings count as absent)."""
        conn = self.get_connection(self.lineworks_conn_id)
        extra = conn.extra_dejson

        def get(name: str, default: Any = None) -> Any:
            value = extra.get(name, extra.get(f"extra__lineworks__{name}"))
            return default if value in (None, "") else value

        private_key = get("private_key")
        if private_key is None and get("private_key_path"):
            private_key = Path(get("private_key_path")).read_text()
        if private_key:
            private_key = normalize_pem(private_key)  # pasted into a one-line field or an env var
        host = get("api_base_url") or conn.host or DEFAULT_API_BASE_URL  # the form's field, or a URI's host
        if "://" not in host:
            host = "https://" + host
        settings = _Settings(
            conn_id=self.lineworks_conn_id,
            api_base_url=host.rstrip("/"),
            token_url=get("auth_url", DEFAULT_TOKEN_URL),
            client_id=get("client_id") or conn.login,  # the form's fields, or a URI's login/password
            client_secret=get("client_secret") or conn.password,
            service_account=get("service_account"),
            private_key=private_key,
            bot_id=str(get("bot_id")) if get("bot_id") is not None else None,
            bot_secret=get("bot_secret"),
            domain_id=str(get("domain_id")) if get("domain_id") is not None else None,
            scopes=get("scopes", DEFAULT_SCOPES),
            ca_bundle=get("ca_bundle"),
            rate_limits={**DEFAULT_RATE_LIMITS, **get("rate_limits", {}), **self._rate_limit_overrides},
        )
        for name in ("max_attempts", "friends_cap", "jwt_lifetime"):
            if get(name) is not None:
                setattr(settings, name, int(get(name)))
        for name in (
            "backoff_base",
            "backoff_max",
            "rate_limit_wait_max",
            "timeout",
            "refresh_margin",
            "rate_limit_window",
        ):
            if get(name) is not None:
                setattr(settings, name, float(get(name)))
        if self._max_attempts_override is not None:
            settings.max_attempts = self._max_attempts_override
        settings.jwt_lifetime = min(settings.jwt_lifetime, JWT_MAX_LIFETIME)
        settings.secrets = [
            s for s in (settings.client_secret, settings.private_key, settings.bot_secret) if s
        ]
        return settings

    @cached_property
    def session(self) -> requests.Session:
        return make_session(self.settings.ca_bundle)

    def get_conn(self) -> requests.Session:
        """The HTTP session (authentication is added per request)."""
        return self.session

    # --- authentication --------------------------------------------------------------------------
    def _jwt_assertion(self) -> str:
        s = self.settings
        missing = [
            n
            for n, v in (
                ("Client ID", s.client_id),
                ("Client Secret", s.client_secret),
                ("Service Account", s.service_account),
                ("Private Key", s.private_key),
            )
            if not v
        ]
        if missing:
            raise LineWorksAuthError(
                None, "MISSING_CREDENTIALS", f"connection {s.conn_id!r} lacks: {', '.join(missing)}"
            )
        now = int(time.time())
        claims = {"iss": s.client_id, "sub": s.service_account, "iat": now, "exp": now + s.jwt_lifetime}
        try:
            return jwt.encode(claims, s.private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise LineWorksAuthError(
                None,
                "INVALID_PRIVATE_KEY",
                f"the Private Key of connection {s.conn_id!r} is not a PEM RSA key",
            ) from None

    def _token_request(self, form: dict[str, str]) -> _Token:
        s = self.settings
        response = self._with_retries("token", lambda: self._send_token_form(form))
        if response.status_code != 200:
            raise self._error(response, "token", LineWorksAuthError)
        body = response.json()
        lifetime = float(body.get("expires_in", 3600))  # a string in practice ("86400")
        token = _Token(
            body["access_token"],
            body.get("refresh_token") or form.get("refresh_token"),
            time.time() + lifetime,
            lifetime,
        )
        mask_secrets(token.access_token, token.refresh_token)
        self.log.debug("LINE WORKS token issued for %s (expires in %ss)", s.conn_id, int(lifetime))
        return token

    def _send_token_form(self, form: dict[str, str]) -> requests.Response:
        s = self.settings
        response = self.session.post(
            s.token_url,
            data=form,
            timeout=s.timeout,
            verify=self._verify,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code in _RETRYABLE_STATUS:
            raise RetryableResponse(response)
        return response

    def _access_token(self, *, force_new: bool = False) -> str:
        """A valid access token: cached, refreshed before expiry, or newly issued."""
        s = self.settings
        key = s.cache_key
        with _shared(_TOKEN_LOCKS, key, threading.Lock):
            token = _TOKENS.get(key)
            margin = min(s.refresh_margin, token.lifetime / 10) if token else 0
            if token and not force_new and token.expires_at - margin > time.time():
                return token.access_token
            new = None
            if token and token.refresh_token:
                try:
                    new = self._token_request(
                        {
                            "grant_type": "refresh_token",
                            "refresh_token": token.refresh_token,
                            "client_id": s.client_id or "",
                            "client_secret": s.client_secret or "",
                        }
                    )
                except LineWorksAuthError:
                    self.log.info("LINE WORKS refresh token was refused; requesting a new token with the JWT")
            if new is None:
                new = self._token_request(
                    {
                        "assertion": self._jwt_assertion(),
                        "grant_type": JWT_BEARER_GRANT,
                        "client_id": s.client_id or "",
                        "client_secret": s.client_secret or "",
                        "scope": s.scopes,
                    }
                )
            _TOKENS[key] = new
            return new.access_token

    # --- the request path every API call takes ---------------------------------------------------
    @property
    def _verify(self) -> str | bool:
        return self.settings.ca_bundle or True

    def _limiter(self, family: str) -> _RateLimiter:
        limits = self.settings.rate_limits
        limit, window = int(limits.get(family, limits["default"])), self.settings.rate_limit_window
        return _shared(
            _LIMITERS, (self.settings.conn_id, family, limit, window), lambda: _RateLimiter(limit, window)
        )

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        s = self.settings
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.response.status_code == 429:
            reset = exc.response.headers.get("rateLimit-reset")
            if reset and reset.isdigit():
                return min(float(reset), s.rate_limit_wait_max)
        return exponential_backoff(retry_state.attempt_number, s.backoff_base, s.backoff_max)

    def _with_retries(self, operation: str, send: Callable[[], requests.Response]) -> requests.Response:
        """Run ``send`` with bounded retries on 429/5xx/connection errors; typed error at the end."""
        s = self.settings
        loop = retrying(
            "LINE WORKS",
            operation,
            attempts=s.max_attempts,
            wait=self._wait,
            sleep=lambda seconds: transport.pause(seconds),
            log=self.log,
            retry_on=(LineWorksDownloadError,),
        )
        try:
            return loop(send)
        except RetryableResponse as exc:
            kind = LineWorksRateLimited if exc.response.status_code == 429 else LineWorksTransientError
            raise self._error(exc.response, operation, kind) from None
        except CONNECTION_ERRORS as exc:
            raise LineWorksTransientError(
                None,
                "CONNECTION_ERROR",
                f"{type(exc).__name__} after {s.max_attempts} attempts",
                operation=operation,
            ) from None

    def _api(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        family: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expected: tuple[int, ...] = (200,),
        allow_redirects: bool = True,
    ) -> requests.Response:
        """One API call: rate limit, bearer token, retries, one re-auth + replay on 401, typed errors."""
        s = self.settings
        url = f"{s.api_base_url}{path}"
        if params:
            url += "?" + encode_query(params)

        def send(token: str) -> requests.Response:
            self._limiter(family).acquire()
            response = self.session.request(
                method,
                url,
                json=json,
                timeout=s.timeout,
                verify=self._verify,
                allow_redirects=allow_redirects,
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code in _RETRYABLE_STATUS:
                raise RetryableResponse(response)
            return response

        response = self._with_retries(operation, lambda: send(self._access_token()))
        if response.status_code == 401:
            # Expired or revoked token: re-authenticate once and replay once, never loop.
            self.log.info("LINE WORKS %s: 401, re-authenticating once", operation)
            token = self._access_token(force_new=True)
            response = self._with_retries(operation, lambda: send(token))
        if response.status_code not in expected:
            raise self._error(response, operation, LineWorksApiError)
        return response

    def _error(
        self, response: requests.Response, operation: str, kind: type[LineWorksApiError]
    ) -> LineWorksApiError:
        code, description = "HTTP_ERROR", response.reason or ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("code") or body.get("error") or code)
            description = str(body.get("description") or body.get("error_description") or description)
        return kind(response.status_code, code, self._redact(description), operation=operation)

    def _redact(self, text: str) -> str:
        for secret in self.settings.secrets + [t.access_token for t in _TOKENS.values()]:
            if secret and secret in text:
                text = text.replace(secret, "***")
        return text

    def _paginate(
        self, path: str, key: str, params: dict[str, Any], *, operation: str, family: str
    ) -> Iterator[dict[str, Any]]:
        """Yield items page by page; stop on an absent cursor, fail on a repeated one."""
        seen: set[str] = set()
        cursor = None
        while True:
            body = self._api(
                "GET", path, params={**params, "cursor": cursor}, operation=operation, family=family
            ).json()
            yield from body.get(key) or []
            cursor = (body.get("responseMetaData") or {}).get("nextCursor")
            if not cursor:
                return
            if cursor in seen:
                raise LineWorksPagingError(
                    None,
                    "REPEATED_CURSOR",
                    "the API returned a cursor it had already returned",
                    operation=operation,
                )
            seen.add(cursor)

    # --- directory -------------------------------------------------------------------------------
    def list_users(self, count: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every member of the tenant.

        .. seealso:: https://developers.worksmobile.com/jp/docs/user-list
        """
        params = {"count": count, "domainId": self.settings.domain_id}
        return self._paginate("/users", "users", params, operation="users.list", family="users")

    def get_user(self, user_id: str) -> dict[str, Any]:
        """One member by user ID, login e-mail or ``externalKey:<key>``.

        .. seealso:: https://developers.worksmobile.com/jp/docs/user-get
        """
        return self._api(
            "GET", f"/users/{quote(user_id, safe='')}", operation="users.get", family="users"
        ).json()

    def list_friends(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        date_type: str = "MODIFIED_TIME",
        count: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Yield the LINE friends (contacts with ``linkedExternalUser``), optionally only those created or
        modified in ``[start, end)``.

        ``GET /contacts?searchFilterType=LINKED_EXTERNAL_USER``. A window longer than 7 days is split
        into 7-day requests. The API returns at most 50,000 contacts per operation: reaching that cap
        raises :class:`LineWorksLimitExceeded` instead of silently returning a truncated list.

        .. seealso:: https://developers.worksmobile.com/jp/docs/contact-list

        :param date_type: ``CREATED_TIME`` or ``MODIFIED_TIME``.
        :param count: page size, 1..500.
        """
        if not 1 <= count <= 500:
            raise ValueError("count must be between 1 and 500")
        if date_type not in ("CREATED_TIME", "MODIFIED_TIME"):
            raise ValueError("date_type must be CREATED_TIME or MODIFIED_TIME")
        if (start is None) != (end is None):
            raise ValueError("give both start and end, or neither")
        windows = split_windows(start, end, CONTACTS_MAX_WINDOW) if start and end else [(None, None)]
        return self._list_friends(windows, date_type, count)

    def _list_friends(self, windows: list, date_type: str, count: int) -> Iterator[dict[str, Any]]:
        cap = self.settings.friends_cap
        seen: set[str] = set()
        for lower, upper in windows:
            params: dict[str, Any] = {"searchFilterType": "LINKED_EXTERNAL_USER", "count": count}
            if lower is not None:
                params.update(
                    searchDateType=date_type,
                    startDateTime=format_api_time(lower),
                    endDateTime=format_api_time(upper),
                )
            returned = 0
            for contact in self._paginate(
                "/contacts", "contacts", params, operation="contacts.list", family="contacts"
            ):
                returned += 1
                if returned >= cap:
                    raise LineWorksLimitExceeded(
                        None,
                        "CONTACTS_CAP_REACHED",
                        f"the Contacts API returns at most {cap:,} contacts per listing and this one reached "
                        "it; list with a CREATED_TIME/MODIFIED_TIME window (start, end) so that each window "
                        "stays below it",
                        operation="contacts.list",
                    )
                if contact.get("contactId") not in seen:
                    seen.add(contact.get("contactId"))
                    yield contact

    # --- bot -------------------------------------------------------------------------------------
    def send_message_to_user(
        self, user_id: str, content: dict[str, Any], *, bot_id: str | None = None
    ) -> None:
        """Send a bot message to one member (user ID or login e-mail).

        .. seealso:: https://developers.worksmobile.com/jp/docs/bot-user-message-send
        """
        self._send_bot_message("users", user_id, content, bot_id, operation="bot.send_user")

    def send_message_to_channel(
        self, channel_id: str, content: dict[str, Any], *, bot_id: str | None = None
    ) -> None:
        """Send a bot message to a message room the bot is in.

        .. seealso:: https://developers.worksmobile.com/jp/docs/bot-channel-message-send
        """
        self._send_bot_message("channels", channel_id, content, bot_id, operation="bot.send_channel")

    def _send_bot_message(
        self, target_kind: str, target: str, content: dict[str, Any], bot_id: str | None, *, operation: str
    ) -> None:
        bot = bot_id or self.settings.bot_id
        if not bot:
            raise ValueError(f"connection {self.settings.conn_id!r} has no Bot ID and none was given")
        path = f"/bots/{quote(str(bot), safe='')}/{target_kind}/{quote(target, safe='')}/messages"
        self._api(
            "POST",
            path,
            json={"content": content},
            operation=operation,
            family="bot.message",
            expected=(200, 201),
        )

    # --- log downloads -----------------------------------------------------------------------------
    def download_message_contents(
        self,
        start: datetime,
        end: datetime,
        dest: str | os.PathLike[str],
        *,
        language: str = "ja_JP",
        bot_filter: str = "include",
    ) -> DownloadResult:
        """Download the message contents of ``[start, end)`` (Monitoring API) to the CSV file ``dest``.

        Windows over 31 days are fetched one after another and joined under one header.

        .. seealso:: https://developers.worksmobile.com/jp/docs/content-log-download

        :param bot_filter: ``include``, ``exclude`` or ``only`` (``botMessageFilterType``).
        """
        params = {
            "language": language,
            "botMessageFilterType": bot_filter,
            "domainId": self.settings.domain_id,
        }
        return self._download(
            "/monitoring/message-contents/download",
            params,
            start,
            end,
            dest,
            operation="monitoring.download",
            family="monitoring",
        )

    def download_audit_log(
        self,
        service: str,
        start: datetime,
        end: datetime,
        dest: str | os.PathLike[str],
        *,
        language: str = "ja_JP",
    ) -> DownloadResult:
        """Download the audit log of ``service`` (e.g. ``message``: events, no content) to ``dest``.

        .. seealso:: https://developers.worksmobile.com/jp/docs/audit-log-download
        """
        params = {"service": service, "language": language, "domainId": self.settings.domain_id}
        return self._download(
            "/audits/logs/download", params, start, end, dest, operation="audit.download", family="audit"
        )

    def _download(
        self,
        path: str,
        params: dict[str, Any],
        start: datetime,
        end: datetime,
        dest: str | os.PathLike[str],
        *,
        operation: str,
        family: str,
    ) -> DownloadResult:
        windows = split_windows(start, end, DOWNLOAD_MAX_WINDOW)
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(prefix=dest_path.name + ".", suffix=".part", dir=dest_path.parent)
        os.close(fd)
        done: list[tuple[str, str]] = []
        lock = _shared(_DOWNLOAD_LOCKS, self.settings.cache_key[1:3], threading.Lock)
        try:
            with lock, open(part, "wb") as out:
                for i, (lower, upper) in enumerate(windows):
                    window = (format_api_time(lower), format_api_time(upper))
                    query = {"startTime": window[0], "endTime": window[1], **params}
                    self._download_window(
                        path, query, out, keep_header=(i == 0), operation=operation, family=family
                    )
                    done.append(window)
            os.replace(part, dest_path)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
        size = dest_path.stat().st_size
        self.log.info(
            "LINE WORKS %s: %d window(s) written to %s (%d bytes)", operation, len(done), dest_path, size
        )
        return DownloadResult(str(dest_path), size, done)

    def _download_window(
        self, path: str, query: dict[str, Any], out: Any, *, keep_header: bool, operation: str, family: str
    ) -> None:
        """Fetch one window into a scratch file (retrying the whole 302 + GET), then append it to ``out``."""
        scratch = tempfile.TemporaryFile()
        try:

            def attempt() -> requests.Response:
                scratch.seek(0)
                scratch.truncate()
                redirect = self._api(
                    "GET",
                    path,
                    params=query,
                    operation=operation,
                    family=family,
                    expected=(302,),
                    allow_redirects=False,
                )
                self._fetch_file(redirect.headers.get("Location", ""), scratch, operation)
                return redirect

            self._with_retries(operation, attempt)
            scratch.seek(0)
            if not keep_header:
                scratch.readline()
            shutil.copyfileobj(scratch, out, 1 << 20)
        finally:
            scratch.close()

    def _fetch_file(self, location: str, scratch: Any, operation: str) -> None:
        """GET the redirect target with the Authorization header re-sent (redirect-following drops it)."""
        if urlsplit(location).scheme != "https":
            raise LineWorksApiError(
                302, "BAD_REDIRECT", "the download location is not an https:// URL", operation=operation
            )
        token = self._access_token()
        with self.session.get(
            location,
            stream=True,
            timeout=self.settings.timeout,
            verify=self._verify,
            allow_redirects=False,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            if response.status_code in _RETRYABLE_STATUS:
                raise RetryableResponse(response)
            if response.status_code != 200:
                raise self._error(response, operation + ".file", LineWorksApiError)
            first = True
            for chunk in response.iter_content(chunk_size=1 << 16):
                if first and chunk:
                    chunk, first = chunk.removeprefix(UTF8_BOM), False
                scratch.write(chunk)
        if _has_error_trailer(scratch):
            raise LineWorksDownloadError(
                200,
                "DOWNLOAD_LOGS_ERROR",
                "the download ended with a 'downloadLogs error' trailer",
                operation=operation,
            )

    # --- connection test -------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Issue a token and make one cheap authenticated call (``GET /users?count=1``)."""
        try:
            self._access_token(force_new=True)
            answer = self._api("GET", "/users", params={"count": 1}, operation="users.list", family="users")
        except Exception as exc:  # the UI shows the message; secrets are redacted in our errors
            return False, self._redact(str(exc))
        users = answer.json().get("users") or [{}]
        seen = str(users[0].get("domainId") or "")
        configured = self.settings.domain_id
        if configured and seen and configured != seen:
            return False, f"Domain ID {configured} is set, but this tenant's Domain ID is {seen}: correct it"
        if not configured:
            found = f" (this tenant's Domain ID is {seen})" if seen else ""
            return False, f"token issued and users listed, but Domain ID is empty: set it{found}"
        return True, f"Connection successfully tested: token issued and users listed (Domain ID {configured})"


def _has_error_trailer(fh: Any) -> bool:
    """True when the last non-empty line of the file starts with ``downloadLogs error``."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - 4096))
    tail = fh.read().rstrip(b"\r\n")
    last_line = tail.rsplit(b"\n", 1)[-1]
    fh.seek(0, os.SEEK_END)
    # A quoted multi-line message may itself end with such a line: its last line then ends with '"'.
    return last_line.startswith(DOWNLOAD_ERROR_MARKER) and not last_line.rstrip().endswith(b'"')


def clear_token_cache() -> None:
    """Forget cached tokens and rate-limit history (e.g. after rotating a connection's key)."""
    with _REGISTRY_LOCK:
        _TOKENS.clear()
        _LIMITERS.clear()
