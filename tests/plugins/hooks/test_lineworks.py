"""LineWorksHook against the LINE WORKS sandbox: real HTTPS, real token grant, injected faults."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import requests

from hooks import lineworks as lw
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
from hooks.lineworks import LineWorksHook, encode_query, format_api_time, split_windows

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=JST)


def calls(sandbox, operation: str) -> int:
    return sandbox.control.stats()["calls"].get(operation, 0)


@pytest.fixture
def waits(monkeypatch):
    """Record the hook's waits instead of sleeping (retry and rate-limit tests)."""
    recorded: list[float] = []
    monkeypatch.setattr(transport, "pause", recorded.append)
    return recorded


def _user(i: int) -> dict:
    return {
        "userId": f"user{i:04d}-f82c-4284-13e7-030f3b4c756x",
        "email": f"member{i}@example.com",
        "userName": {"lastName": "ワークス", "firstName": f"太郎{i}"},
    }


def _friend(i: int, created: datetime, master: str = "user0000-f82c-4284-13e7-030f3b4c756x") -> dict:
    return {
        "contact": {
            "contactId": f"81c6c568-e090-4d9e-549f-{i:012d}",
            "contactName": {"lastName": f"友だち{i}", "firstName": ""},
            "linkedExternalUser": {
                "id": f"32deb574-f7a9-4973-44c9-{i:012d}",
                "type": "LINE",
                "buddyUserIds": [master],
            },
        },
        "createdTime": created.isoformat(),
        "modifiedTime": created.isoformat(),
    }


def _message(
    when: datetime,
    text: str,
    sender: str = "m:user0000-f82c-4284-13e7-030f3b4c756x",
    channel: str = "753449a5-7716-39e4-3de9-770a97f1a5f5",
) -> dict:
    return {
        "time": when.isoformat(),
        "channelId": channel,
        "sender": sender,
        "recipients": ["f:81c6c568-e090-4d9e-549f-000000000001"],
        "text": text,
    }


def _read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


class TestHelpers:
    def test_should_format_times_with_offset_and_encode_plus_as_2b(self):
        assert format_api_time(datetime(2025, 5, 1, tzinfo=JST)) == "2025-05-01T00:00:00+09:00"
        query = encode_query({"startTime": "2025-05-01T00:00:00+09:00", "cursor": "a+b/c=="})
        assert query == "startTime=2025-05-01T00%3A00%3A00%2B09%3A00&cursor=a%2Bb%2Fc%3D%3D"

    def test_should_refuse_naive_datetimes(self):
        with pytest.raises(ValueError, match="timezone-aware"):
            format_api_time(datetime(2025, 5, 1))

    def test_should_split_windows_without_gaps_or_overlap(self):
        windows = split_windows(T0, T0 + timedelta(days=70), timedelta(days=31))
        assert [(b - a).days for a, b in windows] == [31, 31, 8]
        assert all(windows[i][1] == windows[i + 1][0] for i in range(len(windows) - 1))


class TestAuthentication:
    def test_should_build_an_rs256_jwt_with_the_documented_claims(self, lineworks_conn, credentials):
        hook = LineWorksHook()
        assertion = hook._jwt_assertion()
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, credentials.public_key, algorithms=["RS256"])
        assert header["alg"] == "RS256"
        assert claims["iss"] == credentials.client_id
        assert claims["sub"] == credentials.service_account
        assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
        assert 0 < claims["exp"] - claims["iat"] <= 3600
        assert "=" not in assertion  # base64url without padding

    def test_should_cap_the_jwt_lifetime_at_60_minutes(self, lineworks_conn, credentials):
        lineworks_conn(jwt_lifetime=7200)
        claims = jwt.decode(LineWorksHook()._jwt_assertion(), credentials.public_key, algorithms=["RS256"])
        assert claims["exp"] - claims["iat"] == 3600

    def test_should_cache_the_token_across_calls_and_hook_instances(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(i) for i in range(3)]})
        for _ in range(3):
            list(LineWorksHook().list_users())
        assert calls(lineworks_sandbox, "token.jwt") == 1
        assert calls(lineworks_sandbox, "users.list") == 3

    def test_should_refresh_with_the_refresh_token_before_expiry(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.control.configure(token_lifetime=1)
        hook = LineWorksHook()
        list(hook.list_users())
        time.sleep(1.1)
        list(hook.list_users())
        assert calls(lineworks_sandbox, "token.jwt") == 1
        assert calls(lineworks_sandbox, "token.refresh_token") == 1

    def test_should_accept_expires_in_as_a_number(self, lineworks_sandbox, lineworks_conn, monkeypatch):
        hook = LineWorksHook()
        real_post = hook.session.post

        def numeric_expires_in(*args, **kwargs):
            response = real_post(*args, **kwargs)
            body = response.json()
            body["expires_in"] = int(body["expires_in"])
            response._content = json.dumps(body).encode()
            return response

        monkeypatch.setattr(hook.session, "post", numeric_expires_in)
        list(hook.list_users())
        token = next(iter(lw._TOKENS.values()))
        assert token.lifetime == 86400

    def test_should_reauthenticate_once_and_replay_on_401(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(0)]})
        lineworks_sandbox.control.fault("users", "expire_token", count=1)
        assert LineWorksHook().get_user("member0@example.com")["userId"] == _user(0)["userId"]
        assert calls(lineworks_sandbox, "token.jwt") + calls(lineworks_sandbox, "token.refresh_token") == 2

    def test_should_not_loop_when_the_replay_is_also_unauthorized(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(0)]})
        lineworks_sandbox.control.fault("users", "expire_token", count=10)
        with pytest.raises(LineWorksApiError) as err:
            LineWorksHook().get_user("member0@example.com")
        assert (err.value.status, err.value.code) == (401, "UNAUTHORIZED")
        assert lineworks_sandbox.control.stats()["faults"]["injected"]["expire_token"] == 2

    def test_should_raise_a_typed_error_for_refused_credentials(
        self, lineworks_sandbox, lineworks_conn, monkeypatch
    ):
        conn = lineworks_sandbox.connection()
        conn["extra"]["client_secret"] = "not-the-secret"
        monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
        with pytest.raises(LineWorksAuthError) as err:
            list(LineWorksHook().list_users())
        assert (err.value.status, err.value.code) == (401, "invalid_client")

    def test_should_name_missing_credentials(self, lineworks_sandbox, monkeypatch):
        conn = lineworks_sandbox.connection()
        del conn["extra"]["private_key"]
        monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
        with pytest.raises(LineWorksAuthError, match="Private Key"):
            list(LineWorksHook().list_users())


class TestRetries:
    def test_should_honour_rate_limit_reset_on_429(self, lineworks_sandbox, lineworks_conn, waits):
        lineworks_conn(rate_limit_wait_max=60)
        lineworks_sandbox.control.configure(injected_rate_limit_reset=7)
        lineworks_sandbox.control.fault("users", "429", count=1)
        list(LineWorksHook().list_users())
        assert waits == [7.0]
        assert calls(lineworks_sandbox, "users.list") == 1  # the 429 was answered before counting

    @pytest.mark.parametrize("kind", ["500", "503", "reset"])
    def test_should_retry_server_errors_and_connection_resets(
        self, lineworks_sandbox, lineworks_conn, waits, kind
    ):
        lineworks_sandbox.seed({"users": [_user(0)]})
        lineworks_sandbox.control.fault("users", kind, count=2)
        assert len(list(LineWorksHook().list_users())) == 1
        assert len(waits) == 2
        assert waits[1] > waits[0] * 1.2  # exponential backoff

    def test_should_raise_a_typed_error_after_bounded_attempts(
        self, lineworks_sandbox, lineworks_conn, waits
    ):
        lineworks_conn(max_attempts=3)
        lineworks_sandbox.control.fault("users", "503", count=10)
        with pytest.raises(LineWorksTransientError) as err:
            list(LineWorksHook().list_users())
        assert (err.value.status, err.value.code) == (503, "SERVICE_UNAVAILABLE")
        assert err.value.description and err.value.retryable
        assert lineworks_sandbox.control.stats()["faults"]["injected"]["503"] == 3

    def test_should_raise_rate_limited_after_persistent_429(self, lineworks_sandbox, lineworks_conn, waits):
        lineworks_conn(max_attempts=2)
        lineworks_sandbox.control.fault("users", "429", count=5)
        with pytest.raises(LineWorksRateLimited) as err:
            list(LineWorksHook().list_users())
        assert (err.value.status, err.value.code) == (429, "TOO_MANY_REQUESTS")

    def test_should_cap_backoff(self, lineworks_sandbox, lineworks_conn, waits):
        lineworks_conn(max_attempts=6, backoff_base=1, backoff_max=3)
        lineworks_sandbox.control.fault("users", "500", count=5)
        list(LineWorksHook().list_users())
        assert max(waits) <= 3

    def test_should_not_retry_other_client_errors(self, lineworks_sandbox, lineworks_conn, waits):
        with pytest.raises(LineWorksApiError) as err:
            LineWorksHook().get_user("nobody@example.com")
        assert (err.value.status, err.value.code) == (404, "USER_NOT_EXIST")
        assert not err.value.retryable and waits == []
        assert calls(lineworks_sandbox, "users.get") == 1


class TestRateLimits:
    def test_should_slow_down_instead_of_collecting_429s(self, lineworks_sandbox, lineworks_conn):
        # Both sides use a 2-second window here so that the real clock can be used.
        lineworks_sandbox.control.configure(rate_limits={"users": 5}, rate_window_seconds=2)
        lineworks_conn(rate_limits={"users": 5}, rate_limit_window=2)
        hook = LineWorksHook()
        started = time.monotonic()
        for _ in range(11):
            list(hook.list_users())
        assert time.monotonic() - started >= 3.5  # two full waits
        assert calls(lineworks_sandbox, "users.list") == 11
        assert calls(lineworks_sandbox, "users.list!429") == 0  # the API never had to refuse a call

    def test_without_client_limits_the_same_run_collects_429s(self, lineworks_sandbox, lineworks_conn):
        """The contrast that shows the test above can fail."""
        lineworks_sandbox.control.configure(rate_limits={"users": 5}, rate_window_seconds=2)
        lineworks_conn(rate_limits={"users": 1000}, rate_limit_window=2)
        hook = LineWorksHook()
        for _ in range(11):
            list(hook.list_users())
        assert calls(lineworks_sandbox, "users.list") == 11  # every call got through in the end...
        assert calls(lineworks_sandbox, "users.list!429") > 0  # ...after the API refused some

    def test_should_default_to_the_documented_limits(self, lineworks_sandbox, lineworks_conn, monkeypatch):
        conn = lineworks_sandbox.connection()
        del conn["extra"]["rate_limits"]
        monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
        limits = LineWorksHook().settings.rate_limits
        assert (limits["monitoring"], limits["audit"], limits["default"]) == (10, 10, 240)

    def test_should_wait_for_a_free_slot_in_the_window(self, monkeypatch):
        clock = [1000.0]
        waited: list[float] = []

        def fake_sleep(seconds: float) -> None:
            waited.append(seconds)
            clock[0] += seconds

        monkeypatch.setattr(transport, "pause", fake_sleep)
        monkeypatch.setattr(lw, "_monotonic", lambda: clock[0])
        limiter = lw._RateLimiter(10, 60)
        for _ in range(10):
            assert limiter.acquire() == 0
            clock[0] += 0.5
        # The 11th call waits until the first one is a (slightly widened) minute old.
        assert limiter.acquire() == pytest.approx(60 * 1.02 + 0.05 - 5.0)
        assert 60 <= clock[0] - 1000.0 <= 62


class TestPaging:
    def test_should_follow_url_encoded_cursors(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(i) for i in range(7)]})
        users = list(LineWorksHook().list_users(count=2))
        assert [u["userId"] for u in users] == [_user(i)["userId"] for i in range(7)]
        assert calls(lineworks_sandbox, "users.list") == 4

    def test_should_stop_on_a_repeated_cursor(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(i) for i in range(7)]})
        lineworks_sandbox.control.fault("users.list", "repeat_cursor", count=1)
        with pytest.raises(LineWorksPagingError, match="cursor"):
            list(LineWorksHook().list_users(count=2))


class TestFriends:
    def test_should_list_only_linked_external_users(self, lineworks_sandbox, lineworks_conn):
        customer = {
            "contact": {
                "contactId": "customer-1",
                "contactName": {"lastName": "顧客", "firstName": "連絡先"},
                "linkedExternalUser": None,
            },
            "createdTime": T0.isoformat(),
        }
        lineworks_sandbox.seed({"contacts": [_friend(1, T0), customer, _friend(2, T0)]})
        friends = list(LineWorksHook().list_friends())
        assert [f["contactId"] for f in friends] == [
            _friend(1, T0)["contact"]["contactId"],
            _friend(2, T0)["contact"]["contactId"],
        ]
        assert all(f["linkedExternalUser"]["buddyUserIds"] for f in friends)

    def test_should_split_windows_longer_than_seven_days(self, lineworks_sandbox, lineworks_conn):
        created = [T0 + timedelta(days=d, hours=1) for d in (0, 3, 8, 12, 19)]
        lineworks_sandbox.seed({"contacts": [_friend(i, c) for i, c in enumerate(created)]})
        friends = list(LineWorksHook().list_friends(T0, T0 + timedelta(days=20), date_type="CREATED_TIME"))
        assert len(friends) == 5
        assert calls(lineworks_sandbox, "contacts.list") == 3  # 7 + 7 + 6 days

    def test_should_stop_at_the_contacts_cap_with_a_clear_error(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.control.configure(contacts_max_results=5)
        lineworks_conn(friends_cap=5)
        lineworks_sandbox.seed({"contacts": [_friend(i, T0 + timedelta(days=2 * i)) for i in range(8)]})
        with pytest.raises(LineWorksLimitExceeded, match="at most 5 contacts"):
            list(LineWorksHook().list_friends(count=2))
        # 7-day windows stay under the cap (4 + 3 + 1 friends) and return everyone.
        friends = list(LineWorksHook().list_friends(T0, T0 + timedelta(days=16), date_type="CREATED_TIME"))
        assert len(friends) == 8

    def test_should_validate_arguments(self, lineworks_conn):
        with pytest.raises(ValueError, match="count"):
            LineWorksHook().list_friends(count=501)
        with pytest.raises(ValueError, match="both"):
            LineWorksHook().list_friends(T0)


class TestBot:
    def test_should_send_to_a_user_and_to_a_channel(self, lineworks_sandbox, lineworks_conn, credentials):
        lineworks_sandbox.seed({"users": [_user(0)], "rooms": [{"channelId": "room-1", "kind": "group"}]})
        hook = LineWorksHook()
        hook.send_message_to_user(
            "member0@example.com", {"type": "text", "text": "社外連絡先を登録しますか？"}
        )
        hook.send_message_to_channel("room-1", {"type": "text", "text": "こんにちは"})
        sent = lineworks_sandbox.control.bot_messages(credentials.bot_id)
        assert [(m["targetType"], m["targetId"], m["content"]["text"]) for m in sent] == [
            ("user", _user(0)["userId"], "社外連絡先を登録しますか？"),
            ("channel", "room-1", "こんにちは"),
        ]

    def test_should_surface_content_validation_errors(self, lineworks_sandbox, lineworks_conn):
        lineworks_sandbox.seed({"users": [_user(0)]})
        with pytest.raises(LineWorksApiError) as err:
            LineWorksHook().send_message_to_user("member0@example.com", {"type": "text", "text": "あ" * 2001})
        assert (err.value.status, err.value.code) == (400, "INVALID_PARAMETER")


class TestDownloads:
    def _seed_talk(self, sandbox, *messages):
        sandbox.seed({"users": [_user(0)], "contacts": [_friend(1, T0)], "messages": list(messages)})

    def test_should_follow_the_cross_host_redirect_with_authorization(
        self, lineworks_sandbox, lineworks_conn, tmp_path
    ):
        self._seed_talk(
            lineworks_sandbox,
            _message(T0 + timedelta(minutes=5), "こんにちは"),
            _message(T0 + timedelta(minutes=6), '複数行\n"引用", カンマ'),
        )
        result = LineWorksHook().download_message_contents(T0, T0 + timedelta(hours=1), tmp_path / "talk.csv")
        raw = (tmp_path / "talk.csv").read_bytes()
        assert not raw.startswith(lw.UTF8_BOM)  # BOM stripped
        rows = _read_csv(tmp_path / "talk.csv")
        assert rows[0] == ["日時", "送信者", "受信者", "チャンネルID", "トーク"]
        assert [r[4] for r in rows[1:]] == ["こんにちは", '複数行\n"引用", カンマ']
        assert rows[1][0] == "2026-11-20T09:05:00+09:00"
        assert result.bytes == len(raw) and result.windows == [
            (format_api_time(T0), format_api_time(T0 + timedelta(hours=1)))
        ]

    def test_should_retry_a_download_ending_with_the_error_trailer(
        self, lineworks_sandbox, lineworks_conn, tmp_path, waits
    ):
        self._seed_talk(
            lineworks_sandbox, *[_message(T0 + timedelta(minutes=i), f"msg {i}") for i in range(20)]
        )
        lineworks_sandbox.control.fault("files.download", "download_error", count=1)
        LineWorksHook().download_message_contents(T0, T0 + timedelta(hours=1), tmp_path / "talk.csv")
        rows = _read_csv(tmp_path / "talk.csv")
        assert len(rows) == 21 and not any("downloadLogs error" in r[0] for r in rows)
        assert calls(lineworks_sandbox, "monitoring.download") == 2

    def test_should_fail_retryably_and_leave_no_file_when_the_trailer_persists(
        self, lineworks_sandbox, lineworks_conn, tmp_path, waits
    ):
        lineworks_conn(max_attempts=2)
        self._seed_talk(
            lineworks_sandbox, *[_message(T0 + timedelta(minutes=i), f"msg {i}") for i in range(20)]
        )
        lineworks_sandbox.control.fault("files.download", "download_error", count=5)
        with pytest.raises(LineWorksDownloadError) as err:
            LineWorksHook().download_message_contents(T0, T0 + timedelta(hours=1), tmp_path / "talk.csv")
        assert err.value.retryable
        assert list(tmp_path.iterdir()) == []

    def test_should_not_mistake_a_message_for_the_error_trailer(
        self, lineworks_sandbox, lineworks_conn, tmp_path
    ):
        text = "ログを見たら\ndownloadLogs error と書いてありました"
        self._seed_talk(lineworks_sandbox, _message(T0 + timedelta(minutes=5), text))
        LineWorksHook().download_message_contents(T0, T0 + timedelta(hours=1), tmp_path / "talk.csv")
        assert _read_csv(tmp_path / "talk.csv")[1][4] == text

    def test_should_split_ranges_over_31_days_under_one_header(
        self, lineworks_sandbox, lineworks_conn, tmp_path
    ):
        days = (1, 35, 65)
        self._seed_talk(lineworks_sandbox, *[_message(T0 + timedelta(days=d), f"day {d}") for d in days])
        result = LineWorksHook().download_message_contents(T0, T0 + timedelta(days=70), tmp_path / "talk.csv")
        rows = _read_csv(tmp_path / "talk.csv")
        assert len(result.windows) == 3
        assert [r[4] for r in rows[1:]] == [f"day {d}" for d in days]
        assert rows.count(rows[0]) == 1
        assert calls(lineworks_sandbox, "monitoring.download") == 3

    def test_should_never_run_two_downloads_at_once(self, lineworks_sandbox, lineworks_conn, tmp_path):
        self._seed_talk(
            lineworks_sandbox, *[_message(T0 + timedelta(seconds=i), "x" * 200) for i in range(3000)]
        )
        errors: list[Exception] = []

        def download(name: str) -> None:
            try:
                LineWorksHook().download_message_contents(T0, T0 + timedelta(hours=2), tmp_path / name)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=download, args=(f"t{i}.csv",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert calls(lineworks_sandbox, "download.rejected_concurrent") == 0
        assert calls(lineworks_sandbox, "files.download") == 3

    def test_should_stream_large_downloads_to_disk(
        self, lineworks_sandbox, lineworks_conn, tmp_path, repo_root
    ):
        # The download runs in a child process so that only the hook's memory is traced (the sandbox
        # server lives in this one).
        lineworks_sandbox.seed({"generator": {"size": "test", "seed": 7, "overrides": {"messages": 40_000}}})
        script = (
            "import json, sys, tracemalloc\n"
            "from datetime import datetime, timedelta, timezone\n"
            "from hooks.lineworks import LineWorksHook\n"
            "hook = LineWorksHook(); hook.settings\n"
            "tracemalloc.start()\n"
            "t0 = datetime(2026, 11, 19, 9, tzinfo=timezone(timedelta(hours=9)))\n"
            "r = hook.download_message_contents(t0, t0 + timedelta(days=4), sys.argv[1])\n"
            "print(json.dumps({'bytes': r.bytes, 'peak': tracemalloc.get_traced_memory()[1]}))\n"
        )
        child = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "big.csv")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root / "plugins"), str(repo_root)])},
        )
        assert child.returncode == 0, child.stderr[-2000:]
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        assert measured["bytes"] > 4 * 1024 * 1024
        assert measured["peak"] < measured["bytes"] / 4

    def test_should_download_the_message_audit_log(self, lineworks_sandbox, lineworks_conn, tmp_path):
        self._seed_talk(lineworks_sandbox, _message(T0 + timedelta(minutes=5), "本文は含まれない"))
        LineWorksHook().download_audit_log("message", T0, T0 + timedelta(hours=1), tmp_path / "audit.csv")
        rows = _read_csv(tmp_path / "audit.csv")
        assert rows[0] == ["日時", "送信者", "受信者", "チャンネルID", "イベント"]
        assert "本文は含まれない" not in (tmp_path / "audit.csv").read_text()

    def test_should_refuse_a_non_https_redirect(self, lineworks_sandbox, lineworks_conn, tmp_path):
        lineworks_sandbox.control.configure(download_host="127.0.0.1")
        hook = LineWorksHook()
        with pytest.raises(LineWorksApiError, match="https"):
            hook._fetch_file("http://127.0.0.1/x", io.BytesIO(), "monitoring.download")


class TestSecrets:
    def test_should_keep_secrets_out_of_logs_and_errors(
        self, lineworks_sandbox, lineworks_conn, credentials, caplog, capsys, tmp_path, monkeypatch
    ):
        caplog.set_level(logging.DEBUG)
        lineworks_sandbox.seed(
            {
                "users": [_user(0)],
                "contacts": [_friend(1, T0)],
                "messages": [_message(T0 + timedelta(minutes=1), "本文")],
            }
        )
        lineworks_conn(domain_id=str(lineworks_sandbox.control.stats()["domainId"]))
        lineworks_sandbox.control.fault("users", "expire_token", count=1)
        lineworks_sandbox.control.fault("users", "503", count=1)
        errors = []
        hook = LineWorksHook()
        list(hook.list_users())
        hook.send_message_to_user("member0@example.com", {"type": "text", "text": "hi"})
        hook.download_message_contents(T0, T0 + timedelta(hours=1), tmp_path / "t.csv")
        ok, message = hook.test_connection()
        assert ok, message
        errors.append(message)
        try:
            hook.get_user("nobody@example.com")
        except LineWorksApiError as exc:
            errors.append(str(exc))
        bad = lineworks_sandbox.connection()
        bad["extra"]["client_secret"] = "wrong-secret-value"
        monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(bad))
        lw.clear_token_cache()
        ok, message = LineWorksHook().test_connection()
        assert not ok
        errors.append(message)

        issued = [row[0] for row in lineworks_sandbox.state._db.execute("SELECT token FROM tokens")]
        assert issued
        key_body = credentials.private_key.splitlines()[1]
        secrets = [credentials.client_secret, key_body, credentials.bot_secret, "wrong-secret-value", *issued]
        out = capsys.readouterr()
        haystack = "\n".join([caplog.text, out.out, out.err, *errors])
        assert "LINE WORKS" in haystack  # the hook did log
        for secret in secrets:
            assert secret not in haystack


def test_should_report_a_working_connection(lineworks_sandbox, lineworks_conn):
    domain_id = str(lineworks_sandbox.seed(size="demo", seed=1)["domainId"])
    lineworks_conn(domain_id=domain_id)
    assert LineWorksHook().test_connection() == (
        True,
        f"Connection successfully tested: token issued and users listed (Domain ID {domain_id})",
    )


def test_should_tell_which_domain_id_to_set_when_it_is_missing_or_wrong(lineworks_sandbox, lineworks_conn):
    domain_id = str(lineworks_sandbox.seed(size="demo", seed=1)["domainId"])
    lineworks_conn()
    ok, message = LineWorksHook().test_connection()
    assert not ok and message.endswith(f"Domain ID is empty: set it (this tenant's Domain ID is {domain_id})")
    lineworks_conn(domain_id="12345678")
    lw.clear_token_cache()
    ok, message = LineWorksHook().test_connection()
    assert not ok and message == (
        f"Domain ID 12345678 is set, but this tenant's Domain ID is {domain_id}: correct it"
    )


def test_should_still_read_a_connection_made_from_a_uri(lineworks_sandbox, monkeypatch):
    """``airflow connections add --conn-uri lineworks://CLIENT:SECRET@host/...`` fills Host, Login and
    Password, the fields the form hides: the hook reads them when the form's own fields are empty."""
    members = lineworks_sandbox.seed(size="demo", seed=1)["rows"]["users"]
    conn = lineworks_sandbox.connection()
    extra = conn["extra"]
    conn.update(
        host=extra.pop("api_base_url"), login=extra.pop("client_id"), password=extra.pop("client_secret")
    )
    monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
    hook = LineWorksHook()
    assert hook.settings.api_base_url == f"{lineworks_sandbox.url}/v1.0"
    assert len(list(hook.list_users())) == members > 0  # authenticated with the URI's client id/secret


@pytest.mark.parametrize(
    "pasted",
    [
        lambda pem: pem.replace("\n", "\\n"),  # an environment variable or JSON written by hand
        lambda pem: pem.replace("\n", " "),  # a one-line form field that turned line breaks into spaces
        lambda pem: pem.replace("\n", ""),  # one that dropped them
        lambda pem: "  " + pem.replace("\n", "\r\n") + "\n\n",  # Windows line ends, stray blanks
    ],
    ids=["escaped", "spaces", "removed", "crlf"],
)
def test_should_read_a_private_key_however_it_was_pasted(lineworks_sandbox, credentials, monkeypatch, pasted):
    conn = lineworks_sandbox.connection(domain_id=str(lineworks_sandbox.control.stats()["domainId"]))
    conn["extra"]["private_key"] = pasted(credentials.private_key)
    monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
    lw.clear_token_cache()
    ok, message = LineWorksHook().test_connection()
    assert ok, message


def test_requests_alone_loses_authorization_on_the_cross_host_redirect(lineworks_sandbox, lineworks_conn):
    """Why the hook fetches the Location itself: plain redirect-following gets 401."""
    hook = LineWorksHook()
    token = hook._access_token()
    url = f"{hook.settings.api_base_url}/monitoring/message-contents/download?" + encode_query(
        {"startTime": format_api_time(T0), "endTime": format_api_time(T0 + timedelta(hours=1))}
    )
    response = hook.session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=hook._verify)
    assert response.status_code == 401
    assert response.history and response.history[0].status_code == 302
    assert isinstance(response, requests.Response)
