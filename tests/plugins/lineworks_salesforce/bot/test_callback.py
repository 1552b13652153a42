"""The bot's callback endpoint over real HTTPS: signed events from the LINE WORKS sandbox's callback sender
are accepted once; forged, unsigned, foreign, oversized, malformed and replayed requests are refused with
their status, change nothing, and are logged without their body."""

from __future__ import annotations

import json
import logging
import time

import pytest

from hooks.transport import make_session
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.bot.callback import BotCredentials, create_app, signature
from lineworks_salesforce.bot.replays import ArchiveReplayGuard
from sandbox.common.server import ThreadedServer

BOT = BotCredentials("2000042", "bot-secret-for-tests")
SECRET_TEXT = "お客様の秘密の相談内容"


@pytest.fixture
def bot_app(tmp_path, sandbox_tls):
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    handled = []
    server = ThreadedServer(
        create_app(lambda: BOT, lambda: ArchiveReplayGuard(archive), handled.append), sandbox_tls
    ).start()
    session = make_session(str(sandbox_tls.ca_cert))  # REQUESTS_CA_BUNDLE must not override it
    yield server.url + "/callback", handled, session
    server.stop()


def _event(text: str = SECRET_TEXT, **source) -> bytes:
    event = {
        "type": "message",
        "source": {"userId": "u-tanaka", "domainId": 10000001, **source},
        "issuedTime": "2026-12-02T06:00:00.000Z",
        "content": {"type": "text", "text": text},
    }
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def _post(session, url, body: bytes, *, bot=BOT.bot_id, signed: str | None = "ok"):
    headers = {"Content-Type": "application/json", "X-WORKS-BotId": bot}
    if signed == "ok":
        headers["X-WORKS-Signature"] = signature(body, BOT.secret)
    elif signed is not None:
        headers["X-WORKS-Signature"] = signed
    return session.post(url, data=body, headers=headers, timeout=10)


def _wait(handled, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(handled) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_should_accept_what_the_lineworks_sandbox_sends_once_and_ignore_a_replay(bot_app, lineworks_sandbox):
    url, handled, session = bot_app
    control = lineworks_sandbox.control
    control.configure(callback_ca_bundle=lineworks_sandbox.ca_bundle)
    control.call("POST", "/bots", {"botId": int(BOT.bot_id), "secret": BOT.secret, "callbackUrl": url})
    sent = control.send_callback(BOT.bot_id, {"type": "message", "userId": "u-tanaka", "text": "松山"})
    assert sent["delivered"] and sent["status"] == 200
    sent = control.send_callback(BOT.bot_id, {"type": "postback", "userId": "u-tanaka", "data": "pick:a01"})
    assert sent["delivered"]
    _wait(handled, 2)
    assert [(e.type, e.user_id, e.text, e.postback) for e in handled] == [
        ("message", "u-tanaka", "松山", None),
        ("postback", "u-tanaka", None, "pick:a01"),
    ]

    body = _event("同じ内容")
    assert _post(session, url, body).status_code == 200
    assert _post(session, url, body).status_code == 200  # the same signed body again: a replay
    _wait(handled, 3)
    time.sleep(0.3)  # time for a second copy to be handled, were it not refused
    assert [e.text for e in handled[2:]] == ["同じ内容"]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("unsigned", 401),
        ("forged", 401),
        ("not base64", 401),
        ("signed with another secret", 401),
        ("another bot", 401),
        ("oversized", 413),
        ("not json", 400),
        ("a json list", 400),
        ("unknown event", 400),
        ("message without a user", 400),
        ("postback without data", 400),
    ],
)
def test_should_refuse_a_bad_request_with_its_status_and_log_no_body(bot_app, caplog, case, status):
    url, handled, session = bot_app
    caplog.set_level(logging.DEBUG)
    body = _event()
    kwargs = {}
    if case == "unsigned":
        kwargs["signed"] = None
    elif case == "forged":
        kwargs["signed"] = signature(_event("別の内容"), BOT.secret)
    elif case == "not base64":
        kwargs["signed"] = "%%%not-base64%%%"
    elif case == "signed with another secret":
        kwargs["signed"] = signature(body, "another-secret")
    elif case == "another bot":
        kwargs["bot"] = "2000099"
    elif case == "oversized":
        body = _event(SECRET_TEXT * 4000)
    elif case == "not json":
        body = SECRET_TEXT.encode() + b"{"
    elif case == "a json list":
        body = json.dumps([SECRET_TEXT], ensure_ascii=False).encode()
    elif case == "unknown event":
        body = body.replace(b'"message"', b'"payment"')
    elif case == "message without a user":
        body = json.dumps(
            {"type": "message", "source": {}, "content": {"type": "text", "text": SECRET_TEXT}},
            ensure_ascii=False,
        ).encode()
    elif case == "postback without data":
        body = json.dumps(
            {"type": "postback", "source": {"userId": "u"}, "secret": SECRET_TEXT}, ensure_ascii=False
        ).encode()
    answer = _post(session, url, body, **kwargs)
    assert answer.status_code == status
    assert SECRET_TEXT not in answer.text
    time.sleep(0.1)
    assert handled == []
    assert "bot callback refused" in caplog.text and SECRET_TEXT not in caplog.text
    assert BOT.secret not in caplog.text


def test_should_mount_the_app_at_lineworks_callback_through_the_plugin_file():
    import lineworks_salesforce_plugin as plugin

    (entry,) = plugin.LineWorksSalesforcePlugin.fastapi_apps
    assert entry["url_prefix"] == "/lineworks"
    assert "/callback" in {route.path for route in entry["app"].routes}


def test_should_answer_a_rep_s_free_text_with_the_help_text(
    lineworks_sandbox, lineworks_conn, salesforce_conn, tmp_path, monkeypatch
):
    from lineworks_salesforce.bot.callback import parse_event
    from lineworks_salesforce.bot.conversation import HELP_TEXT
    from operators.bot import _guard, handle_event

    archive = {"conn_type": "sqlite", "host": str(tmp_path / "archive.db")}
    monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_ARCHIVE", json.dumps(archive))
    _guard.cache_clear()

    lineworks_sandbox.seed({"users": [{"userId": "u-tanaka", "email": "tanaka@example.com"}]})
    handle_event(parse_event(_event("こんにちは")))
    said = lineworks_sandbox.control.bot_messages(lineworks_sandbox.creds.bot_id)
    assert [(m["targetId"], m["content"]["text"]) for m in said][-1:] == [("u-tanaka", HELP_TEXT)]
