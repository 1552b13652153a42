"""URL table of the LINE WORKS sandbox: routes to protocol handlers, nothing else.

Paths mirror the real hosts: ``/oauth2/v2.0/token`` (auth.worksmobile.com) and ``/v1.0/...``
(www.worksapis.com) on one server; ``/_download/<ticket>`` is the "other host" of download redirects.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from sandbox.lineworks import control, talk
from sandbox.lineworks.protocol import LineWorksProtocol
from sandbox.lineworks.state import LineWorksState

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def build_app(state: LineWorksState) -> FastAPI:
    """The ASGI app of one sandbox tenant."""
    p = LineWorksProtocol(state)
    app = FastAPI(title="LINE WORKS sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.lineworks = state
    app.include_router(control.build_router(state))
    routes = [
        ("POST", "/oauth2/v2.0/token", p.token),
        ("GET", "/v1.0/users", p.list_users),
        ("GET", "/v1.0/users/{user_id}", p.get_user),
        ("GET", "/v1.0/contacts", p.list_contacts),
        ("POST", "/v1.0/bots/{bot_id}/users/{user_id}/messages", p.send_to_user),
        ("POST", "/v1.0/bots/{bot_id}/channels/{channel_id}/messages", p.send_to_channel),
        ("GET", "/v1.0/monitoring/message-contents/download", p.download_message_contents),
        ("GET", "/v1.0/audits/logs/download", p.download_audit_logs),
        ("GET", "/_download/{ticket}", p.download_file),
        ("GET", "/talk", talk.talk_page),  # the page standing in for the LINE WORKS app (sandbox only)
    ]
    for method, path, handler in routes:
        app.add_api_route(path, handler, methods=[method])
    # Anything else answers 501 loudly, never a silent 200.
    app.add_api_route("/{path:path}", p.not_implemented, methods=ALL_METHODS)
    return app


def create_state(state_dir: str | Path) -> LineWorksState:
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True)
    return LineWorksState(path / "lineworks.db")
