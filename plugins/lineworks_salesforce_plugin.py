"""The one file Airflow's plugin manager loads from plugins/ (``.airflowignore`` keeps it to this file).

Today it carries one fix for the connection form: on Airflow 3.3.2 the **Test** button of a saved
connection that has no port (every ``lineworks`` connection: the form has no Port field) answers
``400 "The host or port to test differs from the stored connection"`` — the UI sends ``port: 0`` for
an empty port and the API does not take 0 for "no port". Upstream fixed it in the API
(apache/airflow#73298, merged 2026-09-17); until a release has it, this backports that one change
(``0`` means "no port" when comparing the tested destination with the stored one). It applies only in
the API server, only while Airflow's own function still refuses ``0``, so it switches itself off on a
fixed release.

It also mounts the registration bot's callback app at ``/lineworks`` (``POST /lineworks/callback``, the
URL to enter as the bot's Callback URL in the Developer Console): :mod:`lineworks_salesforce.bot.callback`
checks every request itself, since Airflow gives plugin apps no auth.
"""

from __future__ import annotations

import logging
import sys

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

_ROUTES = "airflow.api_fastapi.core_api.routes.public.connections"


def backport_portless_connection_test() -> bool:
    """Apply apache/airflow#73298 to a running API server that lacks it; True when it was applied."""
    if "airflow.api_fastapi.app" not in sys.modules:  # not the API server: nothing to fix
        return False
    import importlib

    routes = importlib.import_module(_ROUTES)
    original = getattr(routes, "_same_endpoint", None)
    if original is None or original(0, None) or getattr(original, "_lineworks_backport", False):
        return False  # a release with the fix (or a different Airflow): leave it alone

    def same_endpoint(requested, stored):  # noqa: ANN001, ANN202 - Airflow's own signature
        return original(None if requested == 0 else requested, stored)

    same_endpoint._lineworks_backport = True  # type: ignore[attr-defined]
    routes._same_endpoint = same_endpoint
    log.info("lineworks-salesforce: connection Test of port-less connections fixed (apache/airflow#73298)")
    return True


backport_portless_connection_test()


def callback_app():
    """The bot's callback app, wired to the ``lineworks`` connection and the archive (operators.bot)."""
    from lineworks_salesforce.bot.callback import create_app
    from operators.bot import bot_credentials, handle_event, replay_guard

    return create_app(bot_credentials, replay_guard, handle_event)


class LineWorksSalesforcePlugin(AirflowPlugin):
    name = "lineworks_salesforce"
    fastapi_apps = [{"app": callback_app(), "url_prefix": "/lineworks", "name": "LINE WORKS bot callback"}]
