"""The Airflow side of the registration bot's callback app: its credentials from the ``lineworks``
connection, its replay guard on the archive, and what it does with an accepted event.

What works today: every callback is verified (signature, bot id, size, shape, replays) and a rep who
writes to the bot gets a short help text. The registration conversation (新規登録 / 既存の社外連絡先に
紐づけ / 対象外 and the name search) is the rest of the bot issue.
"""

from __future__ import annotations

import functools
import logging

from lineworks_salesforce.bot.callback import BotCredentials, BotEvent

log = logging.getLogger(__name__)

HELP_TEXT = (
    "社外連絡先Botです。お客様がLINEで友だちになると、約10分後にこちらから社外連絡先への登録方法を"
    "お尋ねします。表示されたボタンから選んでください。"
)


def _lineworks():
    from hooks.lineworks import LineWorksHook
    from operators.talk_logs import settings

    return LineWorksHook(settings().lineworks_conn_id)


def bot_credentials() -> BotCredentials:
    """The Bot ID and Bot Secret of the ``lineworks`` connection (empty: every callback is refused 401)."""
    try:
        s = _lineworks().settings
    except Exception as exc:  # no connection, bad settings: refuse everything rather than fail open
        log.error(
            "bot callback: no usable LINE WORKS connection (%s): refusing callbacks", type(exc).__name__
        )
        return BotCredentials("", "")
    return BotCredentials(s.bot_id or "", s.bot_secret or "")


def replay_guard():
    from operators.talk_logs import settings

    return _guard(settings().archive_conn_id)


@functools.lru_cache(maxsize=4)
def _guard(archive_conn_id: str):
    """One archive (engine and pool) per API server process and connection id."""
    from lineworks_salesforce.bot.replays import ArchiveReplayGuard
    from operators.talk_logs import archive_for

    return ArchiveReplayGuard(archive_for(archive_conn_id, migrate=True))


def handle_event(event: BotEvent) -> None:
    """Run in the background after the 200: a rep's free text gets the help text."""
    if event.type == "message" and event.user_id and event.text is not None and event.postback is None:
        _lineworks().send_message_to_user(event.user_id, {"type": "text", "text": HELP_TEXT})


def prompt_friends(context: dict) -> dict:
    """``lineworks_friends``' task: prompt each served rep once about each LINE friend new in the run's
    data interval (every existing friend on the first run ever)."""
    from hooks.lineworks import LineWorksHook
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.pipelines.friends import prompt_new_friends
    from operators.talk_logs import configuration_error, make_run

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise configuration_error("lineworks_friends needs a data interval: trigger it with a logical date")
    run = make_run(context, migrate=True)
    cfg = run.settings
    summary = prompt_new_friends(
        run, LineWorksHook(cfg.lineworks_conn_id), SalesforceActivityHook(cfg.salesforce_conn_id), start, end
    )
    log.info("lineworks_friends summary: %s", summary)
    return summary
